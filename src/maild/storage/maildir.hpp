// The Maildir store. A user's INBOX is DIR/USER (cur/, new/, tmp/); other mailboxes are
// Maildir++ folders DIR/USER/.Name. Each mailbox keeps UIDs, UIDVALIDITY and CRLF sizes in its
// maild-uidlist (uidlist.hpp); flags live in the file names ("<base>:2,<letters>").
#pragma once

#include "base/fd.hpp"
#include "storage/expunge-hold.hpp"
#include "storage/uidlist.hpp"

#include <chrono>
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
// The file size its ",S=" field gives (what Dovecot's deliveries write), if any.
std::optional<std::uint64_t> maildir_name_size(std::string_view base);

// The directory of mailbox `name` under a user's root: INBOX (any case) is the root itself,
// other names become "<root>/.<name>". Nothing for names that could leave the user's root.
std::optional<std::string> mailbox_directory(const std::string &user_root, std::string_view name);

struct MessageFile {
	MessageFile() = default;
	MessageFile(std::uint32_t u, std::uint64_t size, std::string b, std::string f)
		: uid(u), vsize(size), base(std::move(b)), flags(std::move(f))
	{
	}

	std::uint32_t uid = 0;
	std::uint64_t vsize = 0; // with CRLF line ends
	std::string base;
	std::string flags;
	// CONDSTORE: the message's modseq, and its flags as the uidlist records them for it (they
	// differ from `flags` while a flag change awaits commit_flags() or the next open()).
	std::uint64_t modseq = 1;
	std::string modseq_flags;
	std::string file_name() const { return maildir_file_name(base, flags); }
};

// Keywords ($Junk, work...) are stored as the letters a-z in file names; the mailbox's
// maild-keywords file names them, one per line, line 1 being 'a'. At most 26 per mailbox.
struct Keywords {
	std::vector<std::string> names;
	static Keywords load(const std::string &dir);
	// The letter of `name` (matched without regard to case), if the mailbox has one for it.
	std::optional<char> find(std::string_view name) const;
	bool full() const { return names.size() >= 26; }
	// Gives the new `name` the next letter and saves the list. False when the list could not be
	// saved (errno from the write: ENOSPC, EDQUOT...; the name is then not added) or when it is
	// full (errno EMLINK: check full() first where that is a separate reply).
	bool add(std::string_view name, const std::string &dir, char &letter);
	static constexpr const char file_name[] = "maild-keywords";
};

class Mailbox {
public:
	Mailbox() = default;
	// The mailbox at `dir`, not read yet: add_many() works on it as it is, refresh() reads it.
	explicit Mailbox(std::string dir) : dir_(std::move(dir)) {}
	// Opens the Maildir at `dir`, creating it (and cur/ new/ tmp/) when missing: moves new/
	// into cur/ with ":2," info, gives files without a UID the next ones in name order,
	// computes missing sizes once, and rewrites the uidlist when any of that changed.
	static bool open(const std::string &dir, Mailbox &out, std::string &error);
	// Makes sure dir and its cur/, new/ and tmp/ are there (creating what is missing), without
	// reading the mailbox: what IMAP's LOGIN checks. False with `error`.
	static bool prepare(const std::string &dir, std::string &error);
	// prepare(), unless this thread prepared `dir` before (up to 4096 of them are remembered):
	// for a login, where the four lstats of every reconnect would find the same directories.
	// Whatever reads the mailbox later prepares it again when it reads it from the disk.
	static bool prepare_once(const std::string &dir, std::string &error);
	// open() again when stale(); false with `error` only when that fails.
	bool refresh(std::string &error);
	// The same without asking stale() first, for a caller that just did.
	bool reload(std::string &error);

	// True when cur/, new/ or the uidlist may have changed since open(): a file was delivered,
	// renamed or removed by someone else. Directory times have coarse ticks, so a snapshot
	// taken within a second of a change always counts as stale.
	bool stale() const;
	// True when both were read from the same state of the same mailbox, as far as the times
	// show it (neither within a clock tick of a change): they hold the same messages.
	bool same_read_as(const Mailbox &other) const;

	const std::string &dir() const { return dir_; }
	std::uint32_t uidvalidity() const { return list_.uidvalidity; }
	std::uint32_t next_uid() const { return list_.next_uid; }
	std::uint32_t first_recent_uid() const { return list_.first_recent_uid; }
	// RFC 7162's HIGHESTMODSEQ: never below any message's modseq, and never lower than
	// before, also across a crash (the uidlist is written before a modseq is reported).
	std::uint64_t highest_modseq() const { return list_.highest_modseq; }
	const std::vector<MessageFile> &messages() const { return messages_; }
	std::string path_of(const MessageFile &m) const { return dir_ + "/cur/" + m.file_name(); }
	// The index of `uid` in messages(), or nothing.
	std::optional<std::size_t> find(std::uint32_t uid) const;

	// Renames message `index` to carry `flags`. False with `error` on failure. The message's
	// modseq stays as it is until commit_flags() (or the next open(), which sees the new flags
	// differ from those the uidlist recorded for its modseq, also after a crash).
	bool set_flags(std::size_t index, std::string_view flags, std::string &error);
	// Gives each message set_flags() changed since the last call a new modseq, with one
	// uidlist write under the lock (the list on disk, read again, is what is updated, so
	// others' changes stay). STORE calls it once per 1024 messages it reports (once in all
	// when it reports nothing): a STORE 1:* on a mailbox of n messages costs its n renames plus
	// ceil(n / 1024) reads and rewrites (with fsync) of the O(n)-byte uidlist. The caller
	// reports the modseqs only after this returned true.
	bool commit_flags(std::string &error);
	bool flags_pending() const { return !pending_.empty(); }
	// Removes the files of the messages with `uids` (a file already gone counts as removed) and
	// rewrites the uidlist (after a refresh, so nobody else's new messages are lost from it).
	// Returns how many could not be removed. A message that viewers other than `by` (the
	// expunging session's; none for POP3) may still show is moved into tmp/ and held for them
	// instead (expunge-hold.hpp).
	std::size_t expunge(const std::vector<std::uint32_t> &uids, std::string &error,
			    const MailboxViewer *by = nullptr);
	// Moves `file` (a complete message written elsewhere on this file system, usually tmp/)
	// into cur/ with `flags` and `mtime` as its internal date, under the next UID. On failure
	// the file is removed and the mailbox is as it was.
	bool add(const std::string &file, std::uint64_t vsize, std::string_view flags, std::int64_t mtime,
		 std::uint32_t &uid, std::string &error);
	// Gives `files` (already in cur/ under the names file_name() gives, hidden from readers as a
	// MailboxBatch hides them) consecutive new UIDs, in order, in one change: under the lock,
	// the uidlist is read and written once. All or nothing: on failure the uidlist stays as it
	// was (the caller removes the files). The uid fields of `files` are ignored. Afterwards
	// uidvalidity() and next_uid() are current; messages() lags until the next refresh().
	bool add_many(const std::vector<MessageFile> &files, std::vector<std::uint32_t> &uids, std::string &error);
	// Moves the recent mark past every message: this session is the one that sees them as
	// \Recent (RFC 3501 2.3.2).
	bool claim_recent(std::string &error);

	// A name for a new file in tmp/ or cur/: unique within this host, also between threads.
	static std::string unique_base(std::uint64_t vsize);

private:
	static bool open_locked(const std::string &dir, Mailbox &out, std::string &error);
	// This thread's last clean read of `dir` when nothing changed since (maildir.cpp, ReadCache).
	static bool open_cached(const std::string &dir, Mailbox &out);
	static void remember_read(const Mailbox &read);
	bool refresh_locked(std::string &error);
	bool save(std::string &error);
	void save_entries(); // list_.entries from messages_
	bool write_list(const Uidlist &list, std::string &error);
	void remember_times();

	std::string dir_;
	Uidlist list_;
	std::vector<MessageFile> messages_; // ascending uid
	std::vector<std::uint32_t> pending_; // UIDs set_flags() renamed, for commit_flags()
	struct Stamp {
		std::int64_t sec = 0, nsec = 0, ino = 0;
	};
	Stamp stamps_[3]; // cur/, new/, uidlist
	bool dirty_ = true;
};

// Messages added to one mailbox all at once, all or nothing (COPY). Each message is made
// complete (linked or written) as dir/tmp/<next_base()> and add()ed; stage() then renames them
// into cur/ a slice at a time, without the mailbox lock, and commit() gives them UIDs with one
// uidlist write under the lock. A batch that is not committed removes every file it made
// (abort(), also run by the destructor), so a failure leaves the mailbox as it was.
//
// Meanwhile nobody sees the batch: its files are named "<prefix><n>.<host>,W=<size>" with a
// prefix of its own, and from the first stage() to its end the batch holds an flock on
// tmp/<prefix>lock; open() passes over files in cur/ that the uidlist does not name while their
// batch's lock is held. Nobody waits on that lock (readers only test it), so a batch may stay
// open across loop iterations. After a crash the lock is free, and open() takes the files in
// like any unknown file: a partial copy, never lost mail.
class MailboxBatch {
public:
	explicit MailboxBatch(std::string dir);
	~MailboxBatch();
	MailboxBatch(const MailboxBatch &) = delete;
	MailboxBatch &operator=(const MailboxBatch &) = delete;

	// The base name for the next message, to be created as dir/tmp/<base>; add() it (with the
	// same vsize) once the file is complete there.
	std::string next_base(std::uint64_t vsize) const;
	void add(std::uint64_t vsize, std::string_view flags);
	std::size_t size() const { return files_.size(); }
	const std::string &dir() const { return dir_; }

	enum class Stage { more, done, failed };
	// Renames added files from tmp/ into cur/ until `until` has passed (at least one each call);
	// `done` once all are there, `failed` with `error` (nothing is removed yet: abort()).
	Stage stage(std::chrono::steady_clock::time_point until, std::string &error);
	// stage() to the end, then Mailbox::add_many() on `target` (the mailbox at dir()). On
	// failure the batch is aborted.
	bool commit(Mailbox &target, std::vector<std::uint32_t> &uids, std::string &error);
	// Removes every file the batch made or was given, in tmp/ and in cur/, then stops hiding.
	void abort();

	// "<prefix>" of a batch's file base name; empty for any other name.
	static std::string_view prefix_of(std::string_view base);

private:
	void release();

	std::string dir_;
	std::string prefix_; // "<sec>.M<usec>P<pid>Q<n>_"
	std::string host_;
	std::vector<MessageFile> files_;
	std::size_t staged_ = 0; // files_[0, staged_) are in cur/
	Fd lock_fd_;
	bool finished_ = false; // committed or aborted
};

} // namespace maild
