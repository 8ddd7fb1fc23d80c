// The Maildir store. A user's INBOX is DIR/USER (cur/, new/, tmp/); other mailboxes are
// Maildir++ folders DIR/USER/.Name. Each mailbox keeps UIDs, UIDVALIDITY and CRLF sizes in its
// maild-uidlist (uidlist.hpp); flags live in the file names ("<base>:2,<letters>").
#pragma once

#include "uidlist.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace maild {

// "<base>:2,FS" -> "<base>"; a name without info is its own base.
std::string_view maildir_base_name(std::string_view file_name);
// "<base>:2,SF" -> "FS" (sorted, each letter once); "" when the name has no ":2," info.
std::string maildir_flags(std::string_view file_name);
// base + ":2," + flags sorted and without duplicates.
std::string maildir_file_name(std::string_view base, std::string_view flags);
// Dovecot's ",W=<n>" in a base name: the CRLF size a delivery agent already computed.
std::optional<std::uint64_t> maildir_name_vsize(std::string_view base);

// The directory of mailbox `name` under a user's root: INBOX (any case) is the root itself,
// other names become "<root>/.<name>". Nothing for names that could leave the user's root.
std::optional<std::string> mailbox_directory(const std::string &user_root, std::string_view name);

struct MessageFile {
	std::uint32_t uid = 0;
	std::uint64_t vsize = 0; // with CRLF line ends
	std::string base;
	std::string flags;
	std::string file_name() const { return maildir_file_name(base, flags); }
};

class Mailbox {
public:
	// Opens the Maildir at `dir`, creating it (and cur/ new/ tmp/) when missing: moves new/
	// into cur/ with ":2," info, gives files without a UID the next ones in name order,
	// computes missing sizes once, and rewrites the uidlist when any of that changed.
	static bool open(const std::string &dir, Mailbox &out, std::string &error);

	std::uint32_t uidvalidity() const { return list_.uidvalidity; }
	std::uint32_t next_uid() const { return list_.next_uid; }
	const std::vector<MessageFile> &messages() const { return messages_; }
	std::string path_of(const MessageFile &m) const { return dir_ + "/cur/" + m.file_name(); }

	// Renames message `index` to carry `flags`. False with `error` on failure.
	bool set_flags(std::size_t index, std::string_view flags, std::string &error);
	// Removes the files of the messages at `indexes` (a file already gone counts as removed)
	// and rewrites the uidlist. Returns how many could not be removed.
	std::size_t expunge(const std::vector<std::size_t> &indexes, std::string &error);

private:
	bool save(std::string &error);

	std::string dir_;
	Uidlist list_;
	std::vector<MessageFile> messages_; // ascending uid
};

} // namespace maild
