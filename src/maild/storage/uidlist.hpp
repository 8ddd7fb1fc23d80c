// The per-mailbox list of UIDs: DIR/USER[/.Name]/maild-uidlist.
//
//     V<uidvalidity> N<next uid> R<first recent uid> M<highest modseq>
//     <uid> W<size with CRLF line ends> M<modseq> F<flag letters> :<base file name>
//
// CONDSTORE (RFC 7162): every change to a message (its arrival, a flag change) gives it the
// next modseq, an expunge moves the highest one up. F is the message's flag letters as of its
// modseq: a file renamed to other flags behind maild's back differs from it, and the next
// open() gives it a new modseq. Lists written before modseqs parse with M1 for the mailbox and
// every message, and are written again at once with F taken from the files. Older maild
// versions refuse the new fields (and would start a new UIDVALIDITY): no way back.
// Messages with uid >= R are \Recent to the next IMAP session that selects the mailbox, which
// then moves R up (RFC 3501: one session sees a message as recent). R is optional on reading.
// The base name is the Maildir file name without its ":2,<flags>" info. Rewritten atomically
// (write maild-uidlist.tmp, fsync, rename), so a crash leaves the old or the new list.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace maild {

struct UidlistEntry {
	UidlistEntry() = default;
	UidlistEntry(std::uint32_t u, std::uint64_t size, std::string b) : uid(u), vsize(size), base(std::move(b)) {}
	UidlistEntry(std::uint32_t u, std::uint64_t size, std::uint64_t m, std::string f, std::string b)
		: uid(u), vsize(size), modseq(m), has_flags(true), flags(std::move(f)), base(std::move(b))
	{
	}

	std::uint32_t uid = 0;
	std::uint64_t vsize = 0;
	std::uint64_t modseq = 1;
	// The flag letters (A-Z, a-z only: what else a name may hold is not recorded) as of modseq;
	// unset in a list written before modseqs.
	bool has_flags = false;
	std::string flags;
	std::string base;
};

// The part of a file's flags the uidlist records.
std::string uidlist_flags(std::string_view maildir_flags);

struct Uidlist {
	std::uint32_t uidvalidity = 0;
	std::uint32_t next_uid = 1;
	std::uint32_t first_recent_uid = 1;
	std::uint64_t highest_modseq = 1; // never below any entry's modseq
	std::vector<UidlistEntry> entries; // ascending uid

	// False when the text is not a valid list (then the caller starts a new UIDVALIDITY).
	static bool parse(std::string_view text, Uidlist &out);
	std::string format() const;

	static constexpr const char file_name[] = "maild-uidlist";
};

// A UIDVALIDITY for a new list of the mailbox at `dir` (INBOX is the user's root, a folder
// root/.Name): the current time, but always above every value given before in the user's store,
// which root/maild-uidvalidity keeps (under flock, for the other workers). A mailbox deleted and
// created again within a second, or after the clock went back, so never repeats one (RFC 3501
// 2.3.1.1). False with errno when the file cannot be read or written.
bool next_uidvalidity(const std::string &dir, std::uint32_t &out);
constexpr const char uidvalidity_file_name[] = "maild-uidvalidity";

// Writes `data` to dir/name through a temporary file (in dir/tmp/ when it exists, else
// dir/name.tmp) + fsync + rename. False with errno on failure.
bool write_file_atomically(const std::string &dir, const std::string &name, std::string_view data);

} // namespace maild
