// Messages expunged while other sessions of the process still show them: held in tmp/ for those
// viewers, readable by them only, removed when the last lets go; left-overs of dead processes
// swept by the first viewer of a mailbox.
#include "storage/expunge-hold.hpp"
#include "storage/maildir.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace maild;
namespace fs = std::filesystem;

namespace {

struct Box {
	fs::path dir;
	explicit Box(const char *name) : dir(fs::temp_directory_path() / (std::string(name) + "-" + std::to_string(getpid())))
	{
		fs::remove_all(dir);
		for (const char *sub : {"cur", "new", "tmp"})
			fs::create_directories(dir / sub);
	}
	~Box() { fs::remove_all(dir); }
	std::string str() const { return dir.string(); }
	void deliver(int n)
	{
		for (int i = 0; i < n; i++)
			std::ofstream(dir / "new" / ("100000" + std::to_string(1000 + i) + ".m" + std::to_string(i) + ".h"),
				      std::ios::binary)
				<< "Subject: " << i << "\n\nbody\n";
	}
	std::vector<std::string> tmp_files() const
	{
		std::vector<std::string> out;
		for (const auto &e : fs::directory_iterator(dir / "tmp"))
			out.push_back(e.path().filename().string());
		std::sort(out.begin(), out.end());
		return out;
	}
};

std::int64_t mtime_of(const std::string &path)
{
	struct stat st {};
	REQUIRE(stat(path.c_str(), &st) == 0);
	return st.st_mtime;
}

} // namespace

TEST_CASE("an expunge another viewer may still show is held in tmp/ for that viewer only", "[expunge-hold]")
{
	Box box("maild-hold");
	box.deliver(3);
	std::string error;
	Mailbox mb;
	REQUIRE(Mailbox::open(box.str(), mb, error));
	MailboxViewer a(box.str()), b(box.str());
	const MessageFile m = mb.messages()[1];
	auto mtime = mtime_of(mb.path_of(m));

	REQUIRE(mb.expunge({m.uid}, error, &a) == 0);
	CHECK(error.empty());
	CHECK_FALSE(fs::exists(mb.path_of(m)));
	std::string name = "maild-held." + std::to_string(getpid()) + "." + std::to_string(mb.uidvalidity()) + "." +
			   std::to_string(m.uid);
	CHECK(box.tmp_files() == std::vector<std::string>{name});
	CHECK(mtime_of(box.str() + "/tmp/" + name) == mtime); // the internal date
	CHECK(expunge_hold::holds() == 1);

	CHECK_FALSE(a.held(mb.uidvalidity(), m.uid)); // the expunging session tells its client at once
	auto held = b.held(mb.uidvalidity(), m.uid);
	REQUIRE(held);
	CHECK(held->path == box.str() + "/tmp/" + name);
	CHECK(held->vsize == m.vsize);
	CHECK_FALSE(b.held(mb.uidvalidity() + 1, m.uid));
	CHECK_FALSE(b.held(mb.uidvalidity(), m.uid + 1));

	// Nobody else reads it as a message.
	Mailbox other;
	REQUIRE(Mailbox::open(box.str(), other, error));
	CHECK(other.messages().size() == 2);
	CHECK_FALSE(other.find(m.uid));

	b.release_unless([&](std::uint32_t uid) { return uid == m.uid; }); // still shown
	CHECK(fs::exists(held->path));
	b.release_unless([](std::uint32_t) { return false; });
	CHECK_FALSE(fs::exists(held->path));
	CHECK_FALSE(b.held(mb.uidvalidity(), m.uid));
	CHECK(expunge_hold::holds() == 0);
	CHECK(box.tmp_files().empty());
}

TEST_CASE("without another viewer the file goes at once; POP3's expunge holds for every viewer", "[expunge-hold]")
{
	Box box("maild-hold-alone");
	box.deliver(3);
	std::string error;
	Mailbox mb;
	REQUIRE(Mailbox::open(box.str(), mb, error));
	{
		MailboxViewer a(box.str());
		REQUIRE(mb.expunge({1}, error, &a) == 0);
		CHECK(box.tmp_files().empty());
		CHECK(expunge_hold::holds() == 0);
	}
	CHECK(expunge_hold::mailboxes() == 0);

	MailboxViewer a(box.str()), b(box.str());
	REQUIRE(mb.expunge({2}, error) == 0); // nobody's: POP3
	REQUIRE(box.tmp_files().size() == 1);
	CHECK(a.held(mb.uidvalidity(), 2));
	CHECK(b.held(mb.uidvalidity(), 2));
	b.reset();
	CHECK(box.tmp_files().size() == 1); // a still holds it
	MailboxViewer moved = std::move(a);
	CHECK_FALSE(a.active());
	CHECK(moved.held(mb.uidvalidity(), 2));
	moved = MailboxViewer();
	CHECK(box.tmp_files().empty());
	CHECK(expunge_hold::holds() == 0);
	CHECK(expunge_hold::mailboxes() == 0);
}

TEST_CASE("a hold whose last holder leaves before the rename is removed once the file is in place", "[expunge-hold]")
{
	Box box("maild-hold-race");
	auto viewer = std::make_unique<MailboxViewer>(box.str());
	auto path = expunge_hold::begin(box.str(), 7, 9, 10, nullptr);
	REQUIRE(path);
	CHECK_FALSE(viewer->held(7, 9)); // not in place yet
	viewer.reset();
	std::ofstream(*path) << "x";
	expunge_hold::placed(box.str(), 7, 9);
	CHECK_FALSE(fs::exists(*path));
	CHECK(expunge_hold::holds() == 0);
	CHECK(expunge_hold::mailboxes() == 0);

	MailboxViewer v(box.str());
	REQUIRE(expunge_hold::begin(box.str(), 7, 10, 10, nullptr));
	expunge_hold::cancel(box.str(), 7, 10); // the rename failed
	CHECK_FALSE(v.held(7, 10));
	CHECK(expunge_hold::holds() == 0);
	CHECK_FALSE(expunge_hold::begin(box.str(), 7, 11, 10, &v)); // nobody else views it
}

TEST_CASE("the first viewer of a mailbox removes held files of dead processes and unknown ones of its pid", "[expunge-hold]")
{
	Box box("maild-hold-sweep");
	pid_t child = fork();
	REQUIRE(child >= 0);
	if (child == 0)
		_exit(0);
	int status = 0;
	REQUIRE(waitpid(child, &status, 0) == child);
	auto put = [&](const std::string &name) { std::ofstream(box.dir / "tmp" / name) << "x"; };
	std::string dead = "maild-held." + std::to_string(child) + ".1.1";
	std::string own = "maild-held." + std::to_string(getpid()) + ".1.2";
	std::string alive = "maild-held.1.1.3"; // init always runs
	put(dead);
	put(own);
	put(alive);
	put("maild-held.x.1.4");
	put("1700000000.M1P1.host");
	MailboxViewer v(box.str());
	CHECK(box.tmp_files() == std::vector<std::string>{"1700000000.M1P1.host", alive, "maild-held.x.1.4"});

	// A second viewer of a mailbox this process already views sweeps nothing: the holds there
	// are known.
	put(own);
	MailboxViewer w(box.str());
	CHECK(fs::exists(box.dir / "tmp" / own));
}

TEST_CASE("viewers coming and going in another thread never leave a held file behind", "[expunge-hold]")
{
	Box box("maild-hold-threads");
	box.deliver(60);
	std::string error;
	Mailbox mb;
	REQUIRE(Mailbox::open(box.str(), mb, error));
	MailboxViewer self(box.str());
	std::atomic<bool> stop{false};
	std::thread churn([&] {
		while (!stop.load()) {
			MailboxViewer v(box.str());
			std::this_thread::yield();
		}
	});
	std::vector<std::uint32_t> uids;
	for (const auto &m : mb.messages())
		uids.push_back(m.uid);
	for (std::uint32_t uid : uids)
		REQUIRE(mb.expunge({uid}, error, &self) == 0);
	stop = true;
	churn.join();
	self.reset();
	CHECK(mb.messages().empty());
	CHECK(box.tmp_files().empty());
	CHECK(expunge_hold::holds() == 0);
	CHECK(expunge_hold::mailboxes() == 0);
}
