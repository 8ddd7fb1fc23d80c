// What IDLE sessions sharing a mailbox's watches rest on: every subscriber of the mailbox is
// called after a delivery into new/, a flag change (a rename in cur/) and a uidlist renamed into
// the mailbox's directory, and no subscriber of another mailbox is; one that stopped is no longer
// called and the others go on; a mailbox deleted and created again is watched again (no polling
// left behind); of the subscribers called for one change, only the first finds no snapshot.
#include "imap/mailbox-watch.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h> // mkdtemp (macOS declares it here)
#include <vector>

using namespace maild;

namespace {

struct Counter final : MailboxWatcher {
	int calls = 0;
	void mailbox_changed(MailboxSnapshot &) override { calls++; }
};

struct TempMailbox {
	std::string root;
	TempMailbox()
	{
		const char *base = std::getenv("TMPDIR");
		std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/maild-unit.XXXXXX";
		REQUIRE(mkdtemp(tmpl.data()) != nullptr);
		root = tmpl;
	}
	~TempMailbox() { std::filesystem::remove_all(root); }
	std::string make(const std::string &name)
	{
		std::string dir = root + "/" + name;
		for (const char *sub : {"/cur", "/new", "/tmp"})
			std::filesystem::create_directories(dir + sub);
		return dir;
	}
	// As a delivery agent does it: written in tmp/, renamed into `to`.
	static void drop(const std::string &dir, const std::string &name, const std::string &to)
	{
		std::ofstream(dir + "/tmp/" + name) << "Subject: x\n\nbody\n";
		std::filesystem::rename(dir + "/tmp/" + name, to);
	}
};

// Runs the loop until pred() holds or `seconds` pass; whether it held.
template <class P> bool run_until(iol::IoLoop &loop, P pred, double seconds)
{
	auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
	auto tick = loop.add_timeout(std::chrono::milliseconds(20), [] {});
	while (!pred() && std::chrono::steady_clock::now() < end)
		loop.run_once();
	return pred();
}

void run_for(iol::IoLoop &loop, double seconds)
{
	run_until(loop, [] { return false; }, seconds);
}

} // namespace

TEST_CASE("MailboxWatch: shared by the subscribers of one mailbox, each called after each kind of change", "[imap][idle]")
{
	iol::IoLoop loop;
	TempMailbox t;
	std::string a = t.make("a"), b = t.make("b");
	Counter a1, a2, b1;
	MailboxWatch w1, w2, w3;
	w1.start(loop, a, a1);
	w2.start(loop, a, a2);
	w3.start(loop, b, b1);

	TempMailbox::drop(a, "m1", a + "/new/m1");
	REQUIRE(run_until(loop, [&] { return a1.calls > 0 && a2.calls > 0; }, 5));
	run_for(loop, 0.1);
	CHECK(b1.calls == 0);

	// A flag change by another session; only the subscriber still there is called.
	w1.stop();
	int before1 = a1.calls, before2 = a2.calls;
	std::filesystem::rename(a + "/new/m1", a + "/cur/m1:2,S");
	CHECK(run_until(loop, [&] { return a2.calls > before2; }, 5));
	run_for(loop, 0.1);
	CHECK(a1.calls == before1);

	// A COPY or APPEND elsewhere: the new uidlist is renamed into the directory.
	before2 = a2.calls;
	TempMailbox::drop(a, "list", a + "/maild-uidlist");
	CHECK(run_until(loop, [&] { return a2.calls > before2; }, 5));
	CHECK(b1.calls == 0);
}

TEST_CASE("MailboxWatch: a mailbox deleted and created again is pushed again, not polled", "[imap][idle]")
{
	iol::IoLoop loop;
	TempMailbox t;
	std::string a = t.make("a");
	Counter c;
	MailboxWatch w;
	w.start(loop, a, c);

	std::filesystem::remove_all(a);
	REQUIRE(run_until(loop, [&] { return c.calls > 0; }, 5));
	t.make("a");
	// While it was gone it was polled (every poll_interval); the first poll after it is back
	// watches it again.
	run_for(loop, 3.0 * static_cast<double>(MailboxWatch::poll_interval.count()) / 1000.0);
	int settled = c.calls;
	run_for(loop, 1.5);
	CHECK(c.calls == settled); // no polling left: nothing changed, nobody called
	TempMailbox::drop(a, "m1", a + "/new/m1");
	CHECK(run_until(loop, [&] { return c.calls > settled; }, 5));
}

TEST_CASE("MailboxWatch: subscribers of one change share one snapshot", "[imap][idle]")
{
	iol::IoLoop loop;
	TempMailbox t;
	std::string a = t.make("a");
	struct Seer final : MailboxWatcher {
		std::vector<bool> seen;
		void mailbox_changed(MailboxSnapshot &s) override
		{
			seen.push_back(s.valid);
			s.valid = true;
		}
	} s1, s2, s3;
	MailboxWatch w1, w2, w3;
	w1.start(loop, a, s1);
	w2.start(loop, a, s2);
	w3.start(loop, a, s3);
	TempMailbox::drop(a, "m1", a + "/new/m1");
	REQUIRE(run_until(loop, [&] { return !s3.seen.empty(); }, 5));
	// Called in the order they came: the first reads, the others find its snapshot.
	CHECK(s1.seen.front() == false);
	CHECK(s2.seen.front() == true);
	CHECK(s3.seen.front() == true);
}
