// Mailbox::add_many and MailboxBatch (what COPY runs on): all or nothing, invisible until
// committed; unique file names across threads; size hints in names only when plausible.
#include "storage/maildir.hpp"
#include "storage/uidlist.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <unistd.h>

using namespace maild;
namespace fs = std::filesystem;

namespace {

struct TempMaildir {
	fs::path dir;
	explicit TempMaildir(const char *tag)
		: dir(fs::temp_directory_path() / ("maild-unit-" + std::string(tag) + "-" + std::to_string(getpid())))
	{
		fs::remove_all(dir);
		for (const char *sub : {"cur", "new", "tmp"})
			fs::create_directories(dir / sub);
	}
	~TempMaildir() { fs::remove_all(dir); }
	void put(const char *sub, const std::string &name, const std::string &text) const
	{
		std::ofstream(dir / sub / name, std::ios::binary) << text;
	}
	std::string read(const std::string &name) const
	{
		std::ifstream in(dir / name, std::ios::binary);
		std::stringstream s;
		s << in.rdbuf();
		return s.str();
	}
	std::size_t count(const char *sub) const
	{
		std::size_t n = 0;
		for ([[maybe_unused]] const auto &e : fs::directory_iterator(dir / sub))
			n++;
		return n;
	}
};

// Puts `n` messages into the batch's tmp/ files, as COPY links them there; their base names.
std::vector<std::string> fill(const TempMaildir &box, MailboxBatch &batch, int n, std::string_view flags = "")
{
	std::vector<std::string> bases;
	for (int i = 0; i < n; i++) {
		std::string text = "Subject: " + std::to_string(i) + "\r\n\r\nbody\r\n";
		bases.push_back(batch.next_base(text.size()));
		box.put("tmp", bases.back(), text);
		batch.add(text.size(), flags);
	}
	return bases;
}

} // namespace

TEST_CASE("MailboxBatch: hidden from readers until committed, then one change with consecutive UIDs",
	  "[maildir][batch]")
{
	TempMaildir box("batch");
	box.put("cur", "1000000001.M1P1.h:2,S", "A: 1\r\n\r\n");
	std::string error;
	Mailbox mb;
	REQUIRE(Mailbox::open(box.dir.string(), mb, error));
	REQUIRE(mb.messages().size() == 1);

	MailboxBatch batch(box.dir.string());
	fill(box, batch, 50, "FS");
	// One slice at a time: a deadline already past still moves one file per call.
	REQUIRE(batch.stage(std::chrono::steady_clock::now(), error) == MailboxBatch::Stage::more);
	while (batch.stage(std::chrono::steady_clock::now() + std::chrono::seconds(1), error) ==
	       MailboxBatch::Stage::more) {
	}
	CHECK(box.count("cur") == 51);
	CHECK(box.count("tmp") == 1); // the batch's lock

	// Another reader meanwhile: the staged files are not messages, and stay out of its list.
	std::string list_before = box.read(Uidlist::file_name);
	Mailbox other;
	REQUIRE(Mailbox::open(box.dir.string(), other, error));
	CHECK(other.messages().size() == 1);
	CHECK(box.read(Uidlist::file_name) == list_before);

	std::vector<std::uint32_t> uids;
	REQUIRE(batch.commit(mb, uids, error));
	REQUIRE(uids.size() == 50);
	for (std::size_t i = 0; i < uids.size(); i++)
		CHECK(uids[i] == 2 + i);
	CHECK(box.count("tmp") == 0);
	Mailbox after;
	REQUIRE(Mailbox::open(box.dir.string(), after, error));
	REQUIRE(after.messages().size() == 51);
	CHECK(after.messages()[50].uid == 51);
	CHECK(after.messages()[50].flags == "FS");
	CHECK(after.next_uid() == 52);
}

TEST_CASE("MailboxBatch: a failure part way leaves the mailbox as it was", "[maildir][batch]")
{
	TempMaildir box("batch-fail");
	box.put("cur", "1000000001.M1P1.h:2,", "A: 1\r\n\r\n");
	std::string error;
	Mailbox mb;
	REQUIRE(Mailbox::open(box.dir.string(), mb, error));
	std::string list_before = box.read(Uidlist::file_name);

	SECTION("a file of the batch is missing when it is moved into cur/")
	{
		MailboxBatch batch(box.dir.string());
		fs::remove(box.dir / "tmp" / fill(box, batch, 20)[12]);
		CHECK(batch.stage(std::chrono::steady_clock::time_point::max(), error) == MailboxBatch::Stage::failed);
		CHECK(box.count("cur") == 13); // 12 moved, and the old message
		batch.abort();
	}
	SECTION("the uidlist write is refused (UIDs exhausted)")
	{
		std::ofstream(box.dir / Uidlist::file_name, std::ios::binary)
			<< "V7 N4294967290 R4294967290 M1\n4294967280 W8 M1 F :1000000001.M1P1.h\n";
		list_before = box.read(Uidlist::file_name);
		REQUIRE(mb.reload(error));
		MailboxBatch batch(box.dir.string());
		fill(box, batch, 10);
		std::vector<std::uint32_t> uids;
		CHECK_FALSE(batch.commit(mb, uids, error));
		CHECK(error.find("UIDs exhausted") != std::string::npos);
		CHECK(uids.empty());
	}
	SECTION("the batch ends without commit (the session went away)")
	{
		MailboxBatch batch(box.dir.string());
		fill(box, batch, 10);
		REQUIRE(batch.stage(std::chrono::steady_clock::now(), error) == MailboxBatch::Stage::more);
	}
	CHECK(box.count("cur") == 1);
	CHECK(box.count("tmp") == 0);
	CHECK(box.read(Uidlist::file_name) == list_before);
	Mailbox again;
	REQUIRE(Mailbox::open(box.dir.string(), again, error));
	CHECK(again.messages().size() == 1);
	CHECK(box.read(Uidlist::file_name) == list_before);
}

TEST_CASE("Mailbox::add_many refuses files the list already names", "[maildir][batch]")
{
	TempMaildir box("add-many");
	box.put("cur", "1000000001.M1P1.h:2,", "A: 1\r\n\r\n");
	std::string error;
	Mailbox mb;
	REQUIRE(Mailbox::open(box.dir.string(), mb, error));
	std::string list_before = box.read(Uidlist::file_name);
	std::vector<std::uint32_t> uids;
	box.put("cur", "1000000002.M2P2.h:2,", "B: 1\r\n\r\n");
	CHECK_FALSE(mb.add_many({{0, 8, "1000000002.M2P2.h", ""}, {0, 8, "1000000001.M1P1.h", ""}}, uids, error));
	CHECK(uids.empty());
	CHECK(box.read(Uidlist::file_name) == list_before);
}

TEST_CASE("Files of a batch that died without ending are taken in, never lost", "[maildir][batch]")
{
	// What a crash leaves: files in cur/ with a batch's names and nobody holding its lock.
	TempMaildir box("batch-crash");
	box.put("cur", "1000000001.M1P1Q3_0.h,W=8:2,", "A: 1\r\n\r\n");
	box.put("cur", "1000000001.M1P1Q3_1.h,W=8:2,", "B: 1\r\n\r\n");
	box.put("tmp", "1000000001.M1P1Q3_lock", "");
	std::string error;
	Mailbox mb;
	REQUIRE(Mailbox::open(box.dir.string(), mb, error));
	CHECK(mb.messages().size() == 2);
	CHECK(MailboxBatch::prefix_of("1000000001.M1P1Q3_1.h,W=8") == "1000000001.M1P1Q3_");
	CHECK(MailboxBatch::prefix_of("1000000001.M1P1Q3.h,W=8") == "");
	CHECK(MailboxBatch::prefix_of("1000000001.M1P1Q3_x.h") == "");
}

TEST_CASE("Mailbox::unique_base gives distinct names from several threads", "[maildir][threads]")
{
	constexpr int threads = 4, each = 20000;
	std::vector<std::vector<std::string>> names(threads);
	std::vector<std::thread> pool;
	for (int t = 0; t < threads; t++) {
		pool.emplace_back([&names, t] {
			names[t].reserve(each);
			for (int i = 0; i < each; i++)
				names[t].push_back(Mailbox::unique_base(10));
		});
	}
	for (auto &th : pool)
		th.join();
	std::set<std::string> all;
	for (const auto &v : names)
		all.insert(v.begin(), v.end());
	CHECK(all.size() == static_cast<std::size_t>(threads) * each);
}

TEST_CASE("A size in a file's name is used only when the file could have it", "[maildir]")
{
	TempMaildir box("vsize");
	const std::string lf = "Subject: x\n\nline\n"; // 17 bytes, 20 with CRLF
	box.put("cur", "1000000001.M1P1.h,W=99999999999:2,", lf);
	box.put("cur", "1000000002.M2P2.h,W=5:2,", lf);  // below the byte size
	box.put("cur", "1000000003.M3P3.h,W=35:2,", lf); // more than twice it
	box.put("cur", "1000000004.M4P4.h,W=34:2,", lf); // at most doubled: plausible, taken as it is
	box.put("cur", "1000000005.M5P5.h,W=17:2,", lf); // as if nothing needed converting: plausible
	std::string error;
	Mailbox mb;
	REQUIRE(Mailbox::open(box.dir.string(), mb, error));
	REQUIRE(mb.messages().size() == 5);
	CHECK(mb.messages()[0].vsize == 20);
	CHECK(mb.messages()[1].vsize == 20);
	CHECK(mb.messages()[2].vsize == 20);
	CHECK(mb.messages()[3].vsize == 34);
	CHECK(mb.messages()[4].vsize == 17);
}
