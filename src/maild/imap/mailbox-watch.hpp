// Change watches on Maildir mailboxes for IDLE: the loop's file-change watches (inotify, kqueue)
// on a mailbox's directory, cur/ and new/, shared by all the sessions of one loop that watch that
// mailbox. A delivery (a rename into new/), another session's flag change or expunge (renames
// and unlinks in cur/) and a COPY or APPEND committed elsewhere (the uidlist renamed into the
// directory) each end up in one of the three.
//
// Where the loop cannot watch (no notify backend; inotify's watch limit reached; no
// permission) or while the mailbox does not exist, one timer per mailbox polls instead, as often
// as IDLE did before there were watches. Subscribers cannot tell the two apart, except by delay.
#pragma once

#include "storage/maildir.hpp"

#include <ioloop/ioloop.hpp>

#include <chrono>
#include <string>

namespace maild {

// What the subscribers called for one change share: the first one that reads the mailbox from
// disk leaves what it read here, and the others take it instead of each reading the directory
// again (10,000 sessions on one mailbox: one read, not 10,000). It is valid only while the
// subscribers of one change are called: a change made later gives another call to each.
struct MailboxSnapshot {
	bool valid = false;
	Mailbox mailbox;
	Keywords keywords;
};

class MailboxWatcher {
public:
	// In loop context, some time after a change to the mailbox (several changes may give one
	// call; a call may also come without a change the subscriber can see).
	virtual void mailbox_changed(MailboxSnapshot &snapshot) = 0;

protected:
	~MailboxWatcher() = default;
};

// One subscription: RAII, movable only by being stopped.
class MailboxWatch {
public:
	MailboxWatch() = default;
	~MailboxWatch() { stop(); }
	MailboxWatch(const MailboxWatch &) = delete;
	MailboxWatch &operator=(const MailboxWatch &) = delete;

	// Calls w.mailbox_changed() after changes to the Maildir at `dir` until stop(). The watch
	// is in place when this returns: a change made after it is reported.
	void start(iol::IoLoop &loop, const std::string &dir, MailboxWatcher &w);
	void stop();
	bool active() const { return entry_ != nullptr; }

	// How often a mailbox that cannot be watched is looked at.
	static constexpr std::chrono::milliseconds poll_interval{500};
	// How IDLE learns of changes in this loop, for the startup log line: the loop's notify
	// backend ("inotify", "kqueue": pushed by the kernel; "stat": the loop polls) and whether
	// it can watch `probe` (an existing directory, e.g. the mail root) at all.
	static std::string describe(iol::IoLoop &loop, const std::string &probe);

	struct Entry;

private:
	Entry *entry_ = nullptr;
	MailboxWatcher *watcher_ = nullptr;
};

} // namespace maild
