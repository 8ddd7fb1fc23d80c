// Messages expunged while another session of this process still shows them (RFC 2180 4.1.1,
// 4.1.2). A session may be told of an expunge only between commands (never during FETCH, STORE
// or SEARCH, RFC 3501 7.4.1), so until it has sent "* n EXPUNGE" its client still names the
// message, and FETCH, STORE and COPY of it should work as if it were there.
//
// Each session with a mailbox selected is a MailboxViewer of its directory. Mailbox::expunge,
// told who is expunging, renames a message that other viewers may still show into the
// mailbox's tmp/ as "maild-held.<pid>.<uidvalidity>.<uid>" instead of removing it (the rename
// keeps the file's mtime, its internal date), and records those viewers as its holders. A
// holder lets go once the message has left its view (EXPUNGE was sent) or when it deselects
// or ends; the last one to let go removes the file. With no other viewer the file is removed
// at once, as before. Files in tmp/ are never messages (Mailbox::open reads cur/ and new/), so
// a held file is invisible to every other reader and to sessions that select later.
//
// Only sessions of this process count (--workers share it): a message expunged by another
// process or a tool is gone for readers here, who answer NO [EXPUNGEISSUED] as RFC 2180 allows.
// A crash leaves held files behind; the first viewer of a mailbox in a process removes those of
// processes no longer running (and old ones of its own pid, after a restart under the same
// pid), and sweep_tmp()'s 36-hour rule catches any other.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace maild {

struct HeldMessage {
	std::string path;        // in the mailbox's tmp/
	std::uint64_t vsize = 0; // its CRLF size, as the uidlist had it
};

class MailboxViewer {
public:
	// Not viewing anything.
	MailboxViewer() = default;
	// Views the mailbox at `dir` from now on. Registered before the mailbox is read, a viewer
	// misses no expunge of what it is about to show.
	explicit MailboxViewer(const std::string &dir);
	~MailboxViewer() { reset(); }
	MailboxViewer(MailboxViewer &&other) noexcept : state_(other.state_) { other.state_ = nullptr; }
	MailboxViewer &operator=(MailboxViewer &&other) noexcept;
	MailboxViewer(const MailboxViewer &) = delete;
	MailboxViewer &operator=(const MailboxViewer &) = delete;

	bool active() const { return state_ != nullptr; }
	// The held copy of message `uid` (of UIDVALIDITY `uidvalidity`) this viewer may still read.
	std::optional<HeldMessage> held(std::uint32_t uidvalidity, std::uint32_t uid) const;
	// Lets go of every held message for which shown(uid) is false. Without any hold (the usual
	// case) this costs one atomic load.
	void release_unless(const std::function<bool(std::uint32_t uid)> &shown);
	// Lets go of everything and stops viewing.
	void reset();

	struct State; // the registry's record of this viewer
	const State *state() const { return state_; }

private:
	State *state_ = nullptr;
};

// Mailbox::expunge's side. Messages are named by (dir, uidvalidity, uid).
namespace expunge_hold {

// Where the file of a message being expunged from `dir` is to be renamed when some viewer other
// than `by` (none for POP3) views that mailbox: a name in dir/tmp/, already registered, so a
// reader who finds the file gone from cur/ finds the hold. Nothing when nobody else views it:
// the file is then simply removed.
std::optional<std::string> begin(const std::string &dir, std::uint32_t uidvalidity, std::uint32_t uid,
				 std::uint64_t vsize, const MailboxViewer *by);
// The file is now at the path begin() gave. It is removed here if every holder let go meanwhile.
void placed(const std::string &dir, std::uint32_t uidvalidity, std::uint32_t uid);
// The rename did not happen: the hold is dropped.
void cancel(const std::string &dir, std::uint32_t uidvalidity, std::uint32_t uid);

// Held messages in this process, and mailboxes with a viewer or a hold (for tests).
std::size_t holds();
std::size_t mailboxes();

} // namespace expunge_hold

} // namespace maild
