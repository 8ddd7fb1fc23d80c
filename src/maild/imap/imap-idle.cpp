// IDLE (RFC 2177): the mailbox is polled, and changes are sent as they come, until DONE.
#include "imap/imap-session.hpp"

namespace maild {

void ImapSession::idle_start(const ImapCommand &cmd)
{
	sync(true);
	idle_tag_ = cmd.tag;
	input_ = Input::idle;
	conn_.send("+ idling\r\n");
	// Maildir changes show within a second: directory times are cheap to compare.
	idle_poll_ = conn_.loop().add_timeout(std::chrono::milliseconds(500), [this] {
		sync(true);
		conn_.pump();
	});
}

void ImapSession::idle_done(bool ok)
{
	idle_poll_.remove();
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
