// The store under IMAP: flag letters and keywords, UIDs of appended messages, \Recent handed
// out once, change detection between sessions, and folders that never leave the user's root.
#include "imap/imap-flags.hpp"
#include "storage/mail-folders.hpp"
#include "storage/maildir.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace maild;
namespace fs = std::filesystem;

namespace {

struct TempDir {
	fs::path path;
	explicit TempDir(const char *name)
		: path(fs::temp_directory_path() / (std::string(name) + "-" + std::to_string(getpid())))
	{
		fs::remove_all(path);
		fs::create_directories(path);
	}
	~TempDir() { fs::remove_all(path); }
	std::string str() const { return path.string(); }
};

void put(const fs::path &file, const char *text)
{
	std::ofstream(file, std::ios::binary) << text;
}

} // namespace

TEST_CASE("IMAP flags map to Maildir letters and keywords persist by name", "[imap-store]")
{
	TempDir dir("maild-flags");
	Keywords k;
	std::string error;
	auto letters = letters_for_flags({"\\Seen", "\\deleted", "$Junk", "\\Recent", "work"}, k, dir.str(), true, error);
	REQUIRE(letters);
	CHECK(*letters == "STab"); // sorted: system letters, then keyword letters
	CHECK(imap_flag_list(*letters, k, true) == "\\Deleted \\Seen $Junk work \\Recent");
	// Another session loads the same names: letters keep their meaning.
	Keywords again = Keywords::load(dir.str());
	REQUIRE(again.names == std::vector<std::string>{"$Junk", "work"});
	CHECK(again.find("WORK") == 'b');
	// Removing an unknown keyword creates nothing.
	auto none = letters_for_flags({"never-seen"}, again, dir.str(), false, error);
	REQUIRE(none);
	CHECK(none->empty());
	CHECK(Keywords::load(dir.str()).names.size() == 2);

	CHECK_FALSE(letters_for_flags({"\\Bogus"}, k, dir.str(), true, error));
	CHECK_FALSE(letters_for_flags({"bad(keyword"}, k, dir.str(), true, error));
	for (int i = 0; i < 24; i++)
		REQUIRE(letters_for_flags({"k" + std::to_string(i)}, k, dir.str(), true, error));
	CHECK_FALSE(letters_for_flags({"one-too-many"}, k, dir.str(), true, error)); // 26 letters only
	CHECK(error.find("LIMIT") != std::string::npos);
}

TEST_CASE("Mailbox::add, \\Recent once, and changes seen by another session", "[imap-store]")
{
	TempDir dir("maild-store");
	std::string error;
	Mailbox a, b;
	REQUIRE(Mailbox::open(dir.str(), a, error));
	REQUIRE(Mailbox::open(dir.str(), b, error));

	put(dir.path / "tmp" / "incoming", "Subject: x\n\nbody\n");
	std::uint32_t uid = 0;
	REQUIRE(a.add((dir.path / "tmp" / "incoming").string(), 20, "SF", 1000000000, uid, error));
	CHECK(uid == 1);
	REQUIRE(a.messages().size() == 1);
	std::string path = a.path_of(a.messages()[0]);
	CHECK(path.substr(path.size() - 5) == ":2,FS");
	struct stat st {};
	REQUIRE(stat(path.c_str(), &st) == 0);
	CHECK(st.st_mtime == 1000000000); // the internal date APPEND asked for
	CHECK(fs::is_empty(dir.path / "tmp"));

	// b opened before the append: it must notice and see the same UID.
	CHECK(b.stale());
	REQUIRE(b.refresh(error));
	REQUIRE(b.messages().size() == 1);
	CHECK(b.messages()[0].uid == 1);

	// \Recent: the first claim takes it; the list remembers.
	CHECK(b.first_recent_uid() == 1);
	REQUIRE(b.claim_recent(error));
	Mailbox c;
	REQUIRE(Mailbox::open(dir.str(), c, error));
	CHECK(c.first_recent_uid() == 2);

	// A delivery after a's snapshot: a's expunge must not lose its UID entry.
	put(dir.path / "new" / "1700000000.late.h", "Subject: late\n\n");
	REQUIRE(c.refresh(error));
	REQUIRE(c.messages().size() == 2);
	CHECK(a.expunge({1}, error) == 0);
	Mailbox d;
	REQUIRE(Mailbox::open(dir.str(), d, error));
	REQUIRE(d.messages().size() == 1);
	CHECK(d.messages()[0].uid == 2);
	CHECK(d.next_uid() == 3);
}

TEST_CASE("Folders: create with parents, list, rename with children, delete, subscribe", "[imap-store]")
{
	TempDir root("maild-folders");
	std::string r = root.str(), error;
	REQUIRE(create_mailbox(r, "Work.2024.Q1", error));
	CHECK(fs::is_directory(root.path / ".Work" / "cur"));
	CHECK(fs::is_directory(root.path / ".Work.2024" / "new"));
	CHECK(list_mailboxes(r) == std::vector<std::string>{"INBOX", "Work", "Work.2024", "Work.2024.Q1"});
	CHECK_FALSE(create_mailbox(r, "Work", error));
	CHECK(error.find("ALREADYEXISTS") != std::string::npos);
	CHECK_FALSE(create_mailbox(r, "inbox", error));

	for (const char *bad : {"../escape", "a/b", "/abs", ".hidden", "a..b", "x\ty", ""}) {
		CHECK_FALSE(create_mailbox(r, bad, error));
		CHECK_FALSE(rename_mailbox(r, "Work", bad, error));
	}
	CHECK(std::distance(fs::directory_iterator(root.path.parent_path()), fs::directory_iterator()) > 0);
	CHECK_FALSE(fs::exists(root.path.parent_path() / "escape"));

	REQUIRE(rename_mailbox(r, "Work", "Old", error));
	CHECK(list_mailboxes(r) == std::vector<std::string>{"INBOX", "Old", "Old.2024", "Old.2024.Q1"});
	CHECK_FALSE(rename_mailbox(r, "INBOX", "X", error));
	CHECK_FALSE(rename_mailbox(r, "Old", "Old.2024.Q1.sub", error)); // into itself

	CHECK_FALSE(delete_mailbox(r, "Old", error)); // has children
	CHECK_FALSE(delete_mailbox(r, "INBOX", error));
	put(root.path / ".Old.2024.Q1" / "cur" / "1.m.h:2,", "x");
	REQUIRE(delete_mailbox(r, "Old.2024.Q1", error));
	CHECK_FALSE(fs::exists(root.path / ".Old.2024.Q1"));

	REQUIRE(set_subscribed(r, "Old", true, error));
	REQUIRE(set_subscribed(r, "Old", true, error));
	REQUIRE(set_subscribed(r, "INBOX", true, error));
	CHECK(load_subscriptions(r) == std::vector<std::string>{"Old", "INBOX"});
	REQUIRE(set_subscribed(r, "Old", false, error));
	CHECK(load_subscriptions(r) == std::vector<std::string>{"INBOX"});
}
