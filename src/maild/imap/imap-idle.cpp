// IDLE (RFC 2177): changes are sent as they come, until DONE. The selected mailbox is watched
// (mailbox-watch.hpp), so an idle session costs nothing until something changes.
#include "imap/imap-session.hpp"

namespace maild {

void ImapSession::idle_start(const ImapCommand &cmd)
{
	// Watching first: a change between the sync and the watch would otherwise wait for the next.
	if (state_ == State::selected)
		idle_watch_.start(conn_.loop(), mailbox_.dir(), *this);
	sync(true);
	idle_tag_ = cmd.tag;
	input_ = Input::idle;
	conn_.send("+ idling\r\n");
}

// Of the sessions told of one change, the first reads the mailbox and the rest take what it
// read. That is what each would have read itself: the change that made the call is on disk,
// the first session's own changes (new/ moved into cur/, \Recent claimed) are in its copy, and
// anything changed later gives every session another call.
void ImapSession::mailbox_changed(MailboxSnapshot &snapshot)
{
	if (input_ != Input::idle)
		return;
	if (snapshot.valid && state_ == State::selected && !conn_.output_full()) {
		// Where the mailbox is polled, most calls find nothing new: nothing to copy or compare.
		if (!sync_pending_ && mailbox_.same_read_as(snapshot.mailbox))
			return;
		sync_adopt(snapshot.mailbox, snapshot.keywords);
		std::uint32_t recent_mark = mailbox_.first_recent_uid();
		sync(true, false);
		// Only an EXAMINE session came first, and this one took the \Recent mark.
		if (mailbox_.first_recent_uid() != recent_mark)
			snapshot.mailbox = mailbox_;
	} else {
		defer_claim_ = true;
		bool fresh = sync(true);
		defer_claim_ = false;
		if (claim_due_) {
			// The news goes out first: claiming \Recent is another synced write of the uidlist,
			// as long again as the one that gave the new message its UID.
			claim_due_ = false;
			conn_.write_queued();
			claim_recent();
		}
		if (fresh) {
			snapshot.mailbox = mailbox_;
			snapshot.keywords = keywords_;
			snapshot.valid = true;
		}
	}
	conn_.pump();
}

void ImapSession::idle_done(bool ok)
{
	idle_watch_.stop();
	input_ = Input::command;
	std::string tag = std::move(idle_tag_);
	if (!ok) {
		tagged(tag, "BAD", "Expected DONE");
		return;
	}
	sync(true);
	tagged(tag, "OK", "Idle completed");
}

void ImapSession::on_idle_timeout()
{
	untagged("BYE Autologout; idle for too long");
}

} // namespace maild
