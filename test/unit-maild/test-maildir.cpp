#include "auth/sasl-plain.hpp"
#include "storage/maildir.hpp"
#include "storage/message-bytes.hpp"
#include "storage/uidlist.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace maild;

TEST_CASE("Maildir file names carry the flags", "[maildir]")
{
	CHECK(maildir_base_name("123.M1.host:2,S") == "123.M1.host");
	CHECK(maildir_base_name("123.M1.host") == "123.M1.host");
	CHECK(maildir_flags("123.M1.host:2,TSF") == "FST");
	CHECK(maildir_flags("123.M1.host:2,SS") == "S");
	CHECK(maildir_flags("123.M1.host") == "");
	CHECK(maildir_file_name("b", "SRS") == "b:2,RS");
	CHECK(maildir_file_name("b", "") == "b:2,");
	CHECK(maildir_name_vsize("123.M1.host,S=10,W=12") == 12u);
	CHECK(maildir_name_size("123.M1.host,S=10,W=12") == 10u);
	CHECK_FALSE(maildir_name_size("123.M1.host,W=12"));
	CHECK_FALSE(maildir_name_vsize("123.M1.host,S=10"));
}

TEST_CASE("Maildir++ mailbox names stay under the user's root", "[maildir]")
{
	CHECK(mailbox_directory("/m/u", "INBOX") == "/m/u");
	CHECK(mailbox_directory("/m/u", "inbox") == "/m/u");
	CHECK(mailbox_directory("/m/u", "Sent") == "/m/u/.Sent");
	CHECK(mailbox_directory("/m/u", "a.b") == "/m/u/.a.b");
	CHECK_FALSE(mailbox_directory("/m/u", ""));
	CHECK_FALSE(mailbox_directory("/m/u", "../x"));
	CHECK_FALSE(mailbox_directory("/m/u", "a/b"));
	CHECK_FALSE(mailbox_directory("/m/u", ".x"));
	CHECK_FALSE(mailbox_directory("/m/u", "a..b"));
}

TEST_CASE("uidlist round trip and damage", "[uidlist]")
{
	Uidlist l;
	l.uidvalidity = 1700000000;
	l.next_uid = 8;
	l.first_recent_uid = 7;
	l.entries = {{3, 120, "1.M1.h"}, {7, 9, "2.M2.h"}};
	std::string text = l.format();
	CHECK(text == "V1700000000 N8 R7 M1\n3 W120 :1.M1.h\n7 W9 :2.M2.h\n");
	Uidlist back;
	REQUIRE(Uidlist::parse(text, back));
	CHECK(back.uidvalidity == 1700000000);
	CHECK(back.next_uid == 8);
	CHECK(back.first_recent_uid == 7);
	REQUIRE(back.entries.size() == 2);
	CHECK(back.entries[1].base == "2.M2.h");
	CHECK(back.entries[0].vsize == 120);
	// A list written before IMAP (no R): nothing in it is recent.
	Uidlist old;
	REQUIRE(Uidlist::parse("V5 N4\n3 W1 :a\n", old));
	CHECK(old.first_recent_uid == 4);

	Uidlist bad;
	CHECK_FALSE(Uidlist::parse("", bad));
	CHECK_FALSE(Uidlist::parse("V1 N2\n1 W3 :a", bad));            // torn: no final LF
	CHECK_FALSE(Uidlist::parse("V1 N2\n2 W3 :a\n", bad));          // uid >= next
	CHECK_FALSE(Uidlist::parse("V1 N9\n3 W3 :a\n2 W3 :b\n", bad)); // not ascending
	CHECK_FALSE(Uidlist::parse("V1 N9\n3 W3 :a/b\n", bad));
	CHECK_FALSE(Uidlist::parse("V0 N9\n", bad));
	CHECK_FALSE(Uidlist::parse("V1 N9 R10\n", bad)); // recent beyond next
	CHECK_FALSE(Uidlist::parse("V1 N9 X3\n", bad));
	CHECK(Uidlist::parse("V5 N1\n", bad));
}

TEST_CASE("Mailbox: new/ to cur/, UIDs in delivery order, stable, never reused", "[maildir]")
{
	namespace fs = std::filesystem;
	fs::path dir = fs::temp_directory_path() / ("maild-unit-" + std::to_string(getpid()));
	fs::remove_all(dir);
	fs::create_directories(dir / "new");
	auto put = [&](const char *sub, const char *name, const char *text) {
		std::ofstream(dir / sub / name, std::ios::binary) << text;
	};
	put("new", "1000000010.b.h", "B: 1\n\nlf\n"); // 9 bytes, 12 with CRLF
	put("new", "999999999.a.h", "A: 1\r\n\r\n");  // fewer digits, but earlier
	put("new", ".hidden", "x");

	std::string error;
	Mailbox mb;
	REQUIRE(Mailbox::open(dir.string(), mb, error));
	REQUIRE(mb.messages().size() == 2);
	CHECK(mb.messages()[0].base == "999999999.a.h");
	CHECK(mb.messages()[0].uid == 1);
	CHECK(mb.messages()[1].uid == 2);
	CHECK(mb.messages()[1].vsize == 12);
	CHECK(fs::exists(dir / "cur" / "1000000010.b.h:2,"));
	CHECK(fs::is_empty(dir / "tmp"));
	auto validity = mb.uidvalidity();

	REQUIRE(mb.set_flags(1, "SF", error));
	CHECK(fs::exists(dir / "cur" / "1000000010.b.h:2,FS"));
	CHECK(mb.expunge({1}, error) == 0);
	CHECK_FALSE(fs::exists(dir / "cur" / "999999999.a.h:2,"));

	put("new", "1000000020.c.h", "C: 1\n\n");
	Mailbox again;
	REQUIRE(Mailbox::open(dir.string(), again, error));
	CHECK(again.uidvalidity() == validity);
	REQUIRE(again.messages().size() == 2);
	CHECK(again.messages()[0].uid == 2);
	CHECK(again.messages()[0].flags == "FS");
	CHECK(again.messages()[1].uid == 3); // 1 is never reused
	fs::remove_all(dir);
}

TEST_CASE("Mailbox: a clean read is reused only while cur/, new/ and the uidlist keep their times", "[maildir]")
{
	namespace fs = std::filesystem;
	fs::path dir = fs::temp_directory_path() / ("maild-unit-cache-" + std::to_string(getpid()));
	fs::remove_all(dir);
	fs::create_directories(dir / "new");
	auto put = [&](const char *sub, const char *name, const char *text) {
		std::ofstream(dir / sub / name, std::ios::binary) << text;
	};
	// Times an hour old, as a mailbox nobody touched has: a read then is clean (stale() is
	// false for it), and the next open() of this thread may reuse it.
	auto age = [&] {
		for (const char *p : {"cur", "new", "maild-uidlist"})
			fs::last_write_time(dir / p, fs::file_time_type::clock::now() - std::chrono::hours(1));
	};
	put("new", "1000000001.a.h", "A: 1\n\n");
	std::string error;
	Mailbox first;
	REQUIRE(Mailbox::open(dir.string(), first, error)); // moves new/ to cur/, writes the list
	age();
	Mailbox clean;
	REQUIRE(Mailbox::open(dir.string(), clean, error));
	REQUIRE_FALSE(clean.stale());
	REQUIRE(clean.messages().size() == 1);

	// What the reuse rests on: a change that left every time as it was (as one inside the same
	// clock tick as the read could) is not seen, so the second open() did not read the disk.
	auto cur_time = fs::last_write_time(dir / "cur");
	fs::rename(dir / "cur" / "1000000001.a.h:2,", dir / "cur" / "1000000001.a.h:2,S");
	fs::last_write_time(dir / "cur", cur_time);
	Mailbox reused;
	REQUIRE(Mailbox::open(dir.string(), reused, error));
	CHECK(reused.messages()[0].flags == "");

	// Any change that moves a time is seen: a flag rename, a delivery, a removal.
	fs::rename(dir / "cur" / "1000000001.a.h:2,S", dir / "cur" / "1000000001.a.h:2,F");
	Mailbox renamed;
	REQUIRE(Mailbox::open(dir.string(), renamed, error));
	CHECK(renamed.messages()[0].flags == "F");
	age();
	REQUIRE(Mailbox::open(dir.string(), renamed, error)); // clean again, remembered again
	put("new", "1000000002.b.h", "B: 1\n\n");
	Mailbox delivered;
	REQUIRE(Mailbox::open(dir.string(), delivered, error));
	REQUIRE(delivered.messages().size() == 2);
	CHECK(delivered.messages()[1].uid == 2);
	age();
	REQUIRE(Mailbox::open(dir.string(), delivered, error));
	fs::remove(dir / "cur" / "1000000002.b.h:2,");
	Mailbox removed;
	REQUIRE(Mailbox::open(dir.string(), removed, error));
	CHECK(removed.messages().size() == 1);

	// A mailbox deleted and made again under the same name is another mailbox.
	age();
	REQUIRE(Mailbox::open(dir.string(), removed, error));
	fs::remove_all(dir);
	fs::create_directories(dir / "new");
	Mailbox remade;
	REQUIRE(Mailbox::open(dir.string(), remade, error));
	CHECK(remade.messages().empty());
	fs::remove_all(dir);
}

TEST_CASE("MessageBytes: a bounded open gives the whole file, also one grown past its bound", "[maildir]")
{
	namespace fs = std::filesystem;
	fs::path dir = fs::temp_directory_path() / ("maild-unit-bytes-" + std::to_string(getpid()));
	fs::remove_all(dir);
	fs::create_directories(dir);
	std::string text(5000, 'x');
	std::ofstream(dir / "m", std::ios::binary) << text;
	MessageBytes b;
	REQUIRE(b.open_bounded(AT_FDCWD, (dir / "m").string(), 5000)); // exactly the bound
	CHECK(b.data() == text);
	REQUIRE(b.open_bounded(AT_FDCWD, (dir / "m").string(), 9000));
	CHECK(b.data() == text);
	// The size a name gives only ends the reading where the file ends: a wrong one is no harm.
	for (std::uint64_t hint : {5000, 4000, 6000, 0}) {
		REQUIRE(b.open_bounded(AT_FDCWD, (dir / "m").string(), 9000, hint));
		CHECK(b.data() == text);
	}
	// Rewritten larger than the size it was recorded with: read whole, as open() would.
	REQUIRE(b.open_bounded(AT_FDCWD, (dir / "m").string(), 100));
	CHECK(b.data() == text);
	CHECK(b.mtime() > 0);
	// Past read_limit the file is mapped.
	std::string big(MessageBytes::read_limit + 10, 'y');
	std::ofstream(dir / "big", std::ios::binary) << big;
	REQUIRE(b.open_bounded(AT_FDCWD, (dir / "big").string(), 10));
	CHECK(b.data() == big);
	// Not a message: no hang on a FIFO nobody writes, an error for a directory or a missing file.
	REQUIRE(mkfifo((dir / "fifo").c_str(), 0600) == 0);
	bool fifo_read = b.open_bounded(AT_FDCWD, (dir / "fifo").string(), 100);
	CHECK((!fifo_read || b.data().empty()));
	CHECK_FALSE(b.open(AT_FDCWD, (dir / "fifo").string()));
	CHECK_FALSE(b.open_bounded(AT_FDCWD, dir.string(), 100));
	CHECK_FALSE(b.open_bounded(AT_FDCWD, (dir / "gone").string(), 100));
	CHECK(errno == ENOENT);
	fs::remove_all(dir);
}

TEST_CASE("Mailbox::prepare_once makes a maildir once per thread; a read makes it again", "[maildir]")
{
	namespace fs = std::filesystem;
	fs::path dir = fs::temp_directory_path() / ("maild-unit-prepare-" + std::to_string(getpid()));
	fs::remove_all(dir);
	std::string error;
	REQUIRE(Mailbox::prepare_once(dir.string(), error));
	CHECK(fs::is_directory(dir / "cur"));
	CHECK(fs::is_directory(dir / "tmp"));
	fs::remove_all(dir);
	REQUIRE(Mailbox::prepare_once(dir.string(), error)); // remembered: no lstat, nothing made
	CHECK_FALSE(fs::exists(dir));
	Mailbox mb;
	REQUIRE(Mailbox::open(dir.string(), mb, error));
	CHECK(fs::is_directory(dir / "new"));
	CHECK(mb.messages().empty());
	fs::remove_all(dir);
}

TEST_CASE("SASL PLAIN", "[sasl]")
{
	CHECK(base64_decode(base64_encode(std::string("\0bob\0hunter2", 12))) == std::string("\0bob\0hunter2", 12));
	CHECK(base64_encode("a") == "YQ==");
	CHECK(base64_decode("YQ==") == "a");
	CHECK_FALSE(base64_decode("YQ="));
	CHECK_FALSE(base64_decode("Y=Q="));
	CHECK_FALSE(base64_decode("YQ==YQ=="));
	CHECK_FALSE(base64_decode("!!!!"));
	auto p = parse_sasl_plain(std::string("\0bob\0pw", 7));
	REQUIRE(p);
	CHECK(p->user == "bob");
	CHECK(p->password == "pw");
	CHECK(parse_sasl_plain(std::string("bob\0bob\0pw", 10)));
	CHECK_FALSE(parse_sasl_plain(std::string("eve\0bob\0pw", 10)));
	CHECK_FALSE(parse_sasl_plain(std::string("\0bob", 4)));
	CHECK_FALSE(parse_sasl_plain(std::string("\0\0pw", 4)));
	CHECK_FALSE(parse_sasl_plain(std::string("\0bob\0", 5)));
}
