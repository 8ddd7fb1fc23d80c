// CONDSTORE's storage (RFC 7162): the uidlist's modseq fields, and a Mailbox that gives every
// change a new, higher modseq, also a change made behind its back or cut off by a crash.
#include "storage/maildir.hpp"
#include "storage/uidlist.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

using namespace maild;
namespace fs = std::filesystem;

namespace {

struct Box {
	fs::path dir;
	explicit Box(const char *tag)
		: dir(fs::temp_directory_path() / ("maild-unit-modseq-" + std::string(tag) + "-" + std::to_string(getpid())))
	{
		fs::remove_all(dir);
		for (const char *sub : {"cur", "new", "tmp"})
			fs::create_directories(dir / sub);
	}
	~Box() { fs::remove_all(dir); }
	void put(const std::string &name) const { std::ofstream(dir / "cur" / name, std::ios::binary) << "A: 1\r\n\r\n"; }
	std::string list() const
	{
		std::ifstream in(dir / Uidlist::file_name, std::ios::binary);
		std::stringstream s;
		s << in.rdbuf();
		return s.str();
	}
	Mailbox open() const
	{
		Mailbox mb;
		std::string error;
		INFO(error);
		REQUIRE(Mailbox::open(dir.string(), mb, error));
		return mb;
	}
};

std::uint64_t modseq_of(const Mailbox &mb, std::uint32_t uid)
{
	auto i = mb.find(uid);
	REQUIRE(i);
	return mb.messages()[*i].modseq;
}

} // namespace

TEST_CASE("uidlist modseq fields: round trip, old lists, damage", "[uidlist][modseq]")
{
	Uidlist l;
	l.uidvalidity = 7;
	l.next_uid = 9;
	l.first_recent_uid = 9;
	l.highest_modseq = 42;
	l.entries = {{3, 10, 40, "FS", "a.b"}, {8, 11, 42, "", "c.d"}};
	std::string text = l.format();
	CHECK(text == "V7 N9 R9 M42\n3 W10 M40 FFS :a.b\n8 W11 M42 F :c.d\n");
	Uidlist back;
	REQUIRE(Uidlist::parse(text, back));
	CHECK(back.highest_modseq == 42);
	REQUIRE(back.entries.size() == 2);
	CHECK(back.entries[0].modseq == 40);
	CHECK(back.entries[0].has_flags);
	CHECK(back.entries[0].flags == "FS");
	CHECK(back.entries[1].flags.empty());
	CHECK(back.entries[1].base == "c.d");

	Uidlist old;
	REQUIRE(Uidlist::parse("V7 N4 R4\n1 W5 :x\n3 W6 :y\n", old));
	CHECK(old.highest_modseq == 1);
	CHECK(old.entries[0].modseq == 1);
	CHECK_FALSE(old.entries[0].has_flags);

	Uidlist raised; // an entry above the header: the header never says less
	REQUIRE(Uidlist::parse("V7 N4 R4 M3\n1 W5 M9 F :x\n", raised));
	CHECK(raised.highest_modseq == 9);
	CHECK(Uidlist::parse("V7 N4 R4 M9223372036854775807\n", raised));

	for (const char *bad : {"V7 N4 R4 M0\n", "V7 N4 R4 M9223372036854775808\n", "V7 N4 R4 X1\n", "V7 N4 R4 M1 M2\n",
				"V7 N4 R4 M\n", "V7 N4 R4 M1\n1 W5 M0 F :x\n", "V7 N4 R4 M1\n1 W5 M1 :x\n",
				"V7 N4 R4 M1\n1 W5 F :x\n", "V7 N4 R4 M1\n1 W5 M1 F: :x\n", "V7 N4 R4 M1\n1 W5 M1 FS T :x\n",
				"V7 N4 R4 M1\n1 W5 M-1 F :x\n"}) {
		Uidlist out;
		INFO(bad);
		CHECK_FALSE(Uidlist::parse(bad, out));
	}
	CHECK(uidlist_flags("FS a,:") == "FSa");
}

TEST_CASE("Mailbox: every change gets a new, higher modseq", "[maildir][modseq]")
{
	Box box("changes");
	box.put("1000000001.M1P1.h:2,");
	box.put("1000000002.M2P2.h:2,S");
	Mailbox mb = box.open();
	REQUIRE(mb.messages().size() == 2);
	std::uint64_t h = mb.highest_modseq();
	CHECK(modseq_of(mb, 1) <= h);
	CHECK(modseq_of(mb, 2) <= h);

	SECTION("set_flags + commit_flags: one new modseq each, on disk before it is known")
	{
		std::string error;
		REQUIRE(mb.set_flags(0, "F", error));
		REQUIRE(mb.set_flags(1, "FS", error));
		CHECK(mb.flags_pending());
		CHECK(modseq_of(mb, 1) <= h); // not yet
		REQUIRE(mb.commit_flags(error));
		CHECK_FALSE(mb.flags_pending());
		CHECK(modseq_of(mb, 1) > h);
		CHECK(modseq_of(mb, 2) > modseq_of(mb, 1));
		CHECK(mb.highest_modseq() == modseq_of(mb, 2));
		Mailbox again = box.open();
		CHECK(again.highest_modseq() == mb.highest_modseq());
		CHECK(modseq_of(again, 1) == modseq_of(mb, 1));
		CHECK(box.list().find(" FF :1000000001") != std::string::npos);
		// Flags that do not change give no new modseq.
		REQUIRE(again.set_flags(0, "F", error));
		REQUIRE(again.commit_flags(error));
		CHECK(again.highest_modseq() == mb.highest_modseq());
	}
	SECTION("a crash between the rename and the uidlist write: the next open() gives the modseq")
	{
		std::string error;
		REQUIRE(mb.set_flags(0, "D", error));
		// No commit_flags(): as if the process died here.
		Mailbox after = box.open();
		CHECK(modseq_of(after, 1) > h);
		CHECK(after.highest_modseq() == modseq_of(after, 1));
		CHECK(modseq_of(after, 2) <= h);
	}
	SECTION("a rename behind maild's back is noticed")
	{
		fs::rename(box.dir / "cur" / "1000000002.M2P2.h:2,S", box.dir / "cur" / "1000000002.M2P2.h:2,RS");
		Mailbox after = box.open();
		CHECK(modseq_of(after, 2) == h + 1);
		CHECK(modseq_of(after, 1) <= h);
	}
	SECTION("another session's open() between the rename and the commit: one modseq, kept")
	{
		std::string error;
		REQUIRE(mb.set_flags(0, "T", error));
		Mailbox other = box.open();
		std::uint64_t given = modseq_of(other, 1);
		CHECK(given > h);
		REQUIRE(mb.commit_flags(error));
		CHECK(modseq_of(mb, 1) == given);
		CHECK(mb.highest_modseq() == given);
	}
	SECTION("new messages and expunges raise HIGHESTMODSEQ")
	{
		std::string error;
		std::ofstream(box.dir / "tmp" / "new", std::ios::binary) << "B: 2\r\n\r\n";
		std::uint32_t uid = 0;
		REQUIRE(mb.add((box.dir / "tmp" / "new").string(), 9, "", 1700000000, uid, error));
		CHECK(uid == 3);
		CHECK(modseq_of(mb, 3) == h + 1);
		CHECK(mb.highest_modseq() == h + 1);
		CHECK(mb.expunge({1}, error) == 0);
		CHECK(mb.highest_modseq() == h + 2);
		box.put("1000000009.M9P9.h:2,"); // delivered
		fs::remove(box.dir / "cur" / "1000000002.M2P2.h:2,S"); // expunged by someone else
		Mailbox after = box.open();
		CHECK(after.highest_modseq() == h + 4);
		CHECK(modseq_of(after, 4) == h + 4);
	}
}

TEST_CASE("Mailbox: an old uidlist reads as modseq 1 and is upgraded at once", "[maildir][modseq]")
{
	Box box("old");
	box.put("1000000001.M1P1.h:2,S");
	std::ofstream(box.dir / Uidlist::file_name, std::ios::binary) << "V7 N2 R2\n1 W9 :1000000001.M1P1.h\n";
	Mailbox mb = box.open();
	CHECK(mb.highest_modseq() == 1);
	CHECK(modseq_of(mb, 1) == 1);
	CHECK(box.list() == "V7 N2 R2 M1\n1 W9 M1 FS :1000000001.M1P1.h\n");
	fs::rename(box.dir / "cur" / "1000000001.M1P1.h:2,S", box.dir / "cur" / "1000000001.M1P1.h:2,");
	CHECK(modseq_of(box.open(), 1) == 2);
}
