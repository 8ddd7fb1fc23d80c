// APPEND: the message literal streams into the user's tmp/ (never into memory) and becomes a
// message of the target mailbox once the command line ends.
#include "imap/imap-session.hpp"

#include "base/log.hpp"
#include "imap/imap-flags.hpp"
#include "storage/mail-folders.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <unistd.h>

namespace maild {

void ImapSession::append_literal_begin(const LiteralSpec &lit)
{
	if (lit.size > limits_.append_limit) {
		reject_literal(lit, current_tag() + " NO [TOOBIG] Message larger than APPENDLIMIT\r\n");
		return;
	}
	append_path_ = user_root_ + "/tmp/" + Mailbox::unique_base(0);
	append_fd_.reset(::open(append_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
	if (!append_fd_) {
		log_line(LogLevel::error, conn_.peer(), append_path_ + ": " + std::strerror(errno));
		reject_literal(lit, current_tag() + " NO [SERVERBUG] Cannot store the message\r\n");
		return;
	}
	append_vsize_ = 0;
	append_last_cr_ = false;
	append_write_failed_ = false;
	if (!lit.non_sync)
		conn_.send("+ Ready for literal data\r\n");
	if (lit.size > 0) {
		input_ = Input::append_literal;
		conn_.read_raw(lit.size);
	}
}

void ImapSession::append_write(std::string_view chunk)
{
	for (char c : chunk) {
		// The stored message keeps its bytes; its size as IMAP counts it (CRLF) is computed here.
		append_vsize_ += (c == '\n' && !append_last_cr_) ? 2 : 1;
		append_last_cr_ = c == '\r';
	}
	if (!append_write_failed_ && !write_full(append_fd_.get(), chunk)) {
		log_line(LogLevel::error, conn_.peer(), append_path_ + ": " + std::strerror(errno));
		append_write_failed_ = true;
	}
}

void ImapSession::append_discard()
{
	if (append_fd_) {
		append_fd_.reset();
		unlink(append_path_.c_str());
	}
}

void ImapSession::append_finish(const ImapCommand &cmd)
{
	std::string name = cmd.args[0];
	auto dir = valid_mailbox_name(name) ? mailbox_directory(user_root_, name) : std::nullopt;
	const char *refusal = nullptr;
	if (!dir)
		refusal = "[CANNOT] Invalid mailbox name";
	else if (!mailbox_exists(user_root_, name))
		refusal = "[TRYCREATE] No such mailbox";
	// What the client sent must be on disk before it hears OK.
	if (!refusal && (append_write_failed_ || fsync(append_fd_.get()) < 0))
		refusal = "[SERVERBUG] Cannot store the message";
	if (refusal) {
		append_discard();
		tagged(cmd.tag, "NO", refusal);
		return;
	}
	append_fd_.reset();

	Mailbox target;
	std::string error;
	std::uint32_t uid = 0;
	Keywords keywords = Keywords::load(*dir);
	auto letters = letters_for_flags(cmd.flags, keywords, *dir, true, error);
	if (!letters) {
		unlink(append_path_.c_str());
		tagged(cmd.tag, error.starts_with('[') ? "NO" : "BAD", error);
		return;
	}
	std::int64_t date = cmd.internal_date ? *cmd.internal_date : static_cast<std::int64_t>(std::time(nullptr));
	if (!Mailbox::open(*dir, target, error) || !target.add(append_path_, append_vsize_, *letters, date, uid, error)) {
		unlink(append_path_.c_str());
		log_line(LogLevel::error, conn_.peer(), "user=" + user_ + ": APPEND: " + error);
		tagged(cmd.tag, "NO", "[SERVERBUG] Cannot store the message");
		return;
	}
	log_line(LogLevel::debug, conn_.peer(), "appended uid " + std::to_string(uid) + " to " + printable(name));
	done_ok(cmd, "[APPENDUID " + std::to_string(target.uidvalidity()) + " " + std::to_string(uid) +
			     "] Append completed");
}

} // namespace maild
