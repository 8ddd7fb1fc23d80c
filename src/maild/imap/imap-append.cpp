// APPEND, also with several messages (MULTIAPPEND, RFC 3502): each message literal streams into
// the target mailbox's tmp/ (never into memory) and is fsynced as it ends; once the command line
// ends, the messages become part of the mailbox all at once, as one MailboxBatch (consecutive
// UIDs, one uidlist write), or none of them does (RFC 3502 requires the command to be atomic).
// Any failure before that removes every file the command made.
#include "imap/imap-session.hpp"

#include "base/log.hpp"
#include "imap/imap-flags.hpp"
#include "storage/mail-folders.hpp"

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace maild {

void ImapSession::append_literal_begin(const LiteralSpec &lit)
{
	// The caller checked that cmd_ is an APPEND ending in this message's literal spec.
	ImapCommand cmd = parse_imap_command(cmd_);
	std::string tag = current_tag();
	if (!append_active_) {
		const std::string &name = cmd.args[0];
		auto dir = valid_mailbox_name(name) ? mailbox_directory(user_root_, name) : std::nullopt;
		// RFC 3502 lets the server refuse before the first literal: a synchronizing one is then
		// never sent.
		if (!dir) {
			reject_literal(lit, tag + " NO [CANNOT] Invalid mailbox name\r\n");
			return;
		}
		if (!mailbox_exists(user_root_, name)) {
			reject_literal(lit, tag + " NO [TRYCREATE] No such mailbox\r\n");
			return;
		}
		append_active_ = true;
		append_dir_ = *dir;
		append_bytes_ = 0;
		append_files_.clear();
	}
	const char *refusal = nullptr;
	if (lit.size > limits_.append_limit)
		refusal = " NO [TOOBIG] Message larger than APPENDLIMIT\r\n";
	else if (append_files_.size() >= limits_.append_max_messages)
		refusal = " NO [LIMIT] Too many messages in one APPEND\r\n";
	else if (lit.size > limits_.append_total_limit() - append_bytes_)
		refusal = " NO [LIMIT] Messages of one APPEND too large together\r\n";
	if (refusal != nullptr) {
		append_discard();
		reject_literal(lit, tag + refusal);
		return;
	}
	append_bytes_ += lit.size;
	const ImapCommand::AppendMessage &m = cmd.append_messages.back();
	append_date_ = m.internal_date ? *m.internal_date : static_cast<std::int64_t>(std::time(nullptr));
	append_path_ = append_dir_ + "/tmp/" + Mailbox::unique_base(0);
	append_fd_.reset(::open(append_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
	if (!append_fd_) {
		int e = errno;
		append_path_.clear();
		append_discard();
		// The mailbox may have been deleted since the first message.
		if (e == ENOENT && !mailbox_exists(user_root_, cmd.args[0])) {
			reject_literal(lit, tag + " NO [TRYCREATE] No such mailbox\r\n");
			return;
		}
		log_line(LogLevel::error, conn_.peer(), append_dir_ + "/tmp: " + std::strerror(e));
		reject_literal(lit, tag + " NO [SERVERBUG] Cannot store the message\r\n");
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
	} else {
		append_literal_end();
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

void ImapSession::append_literal_end()
{
	// The internal date is the file's mtime; what the client sent must be on disk before it
	// hears OK, and a full disk shows here, before the next message is read.
	const struct timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(append_date_), 0}};
	if (append_write_failed_ || futimens(append_fd_.get(), times) < 0 || fsync(append_fd_.get()) < 0) {
		if (!append_write_failed_)
			log_line(LogLevel::error, conn_.peer(), append_path_ + ": " + std::strerror(errno));
		std::string tag = current_tag();
		append_discard();
		// The rest of the command (more messages, its final CRLF) is passed over, then this
		// is the reply.
		cmd_.clear();
		rejected_reply_ = tag + " NO [SERVERBUG] Cannot store the message\r\n";
		return;
	}
	append_fd_.reset();
	append_files_.push_back({std::move(append_path_), append_vsize_});
	append_path_.clear();
}

void ImapSession::append_continue(std::string_view line)
{
	std::string tag = current_tag();
	if (line.empty()) {
		ImapCommand cmd = parse_imap_command(cmd_);
		reset_command();
		if (cmd.error != nullptr || cmd.append_messages.size() != append_files_.size()) {
			append_discard();
			tagged(tag, "BAD", cmd.error != nullptr ? cmd.error : "Invalid APPEND");
			return;
		}
		append_finish(cmd);
		return;
	}
	// Another message (MULTIAPPEND): " [flags] [date] {n}" after the last literal's bytes.
	auto lit = literal_at_end(line);
	const char *error = nullptr;
	if (cmd_.size() + line.size() > limits_.max_command) {
		error = "Command too long";
	} else {
		cmd_.append(line);
		ImapCommand cmd = parse_imap_command(cmd_);
		error = cmd.error;
		if (error == nullptr && !lit)
			error = "Unexpected text after the message literal";
	}
	if (error != nullptr) {
		append_discard();
		std::string reply = tag + " BAD " + error + "\r\n";
		if (lit) {
			reject_literal(*lit, reply);
		} else {
			reset_command();
			conn_.send(reply);
		}
		return;
	}
	append_literal_begin(*lit);
}

void ImapSession::append_discard()
{
	if (append_fd_) {
		append_fd_.reset();
		unlink(append_path_.c_str());
	}
	append_path_.clear();
	for (const AppendFile &f : append_files_) {
		if (!f.path.empty())
			unlink(f.path.c_str());
	}
	append_files_.clear();
	append_active_ = false;
	append_bytes_ = 0;
}

void ImapSession::append_finish(const ImapCommand &cmd)
{
	const std::string dir = append_dir_;
	std::string error;
	Keywords keywords = Keywords::load(dir);
	std::vector<std::string> letters;
	for (const ImapCommand::AppendMessage &m : cmd.append_messages) {
		auto l = letters_for_flags(m.flags, keywords, dir, true, error);
		if (!l) {
			append_discard();
			tagged(cmd.tag, error.starts_with('[') ? "NO" : "BAD", error);
			return;
		}
		letters.push_back(std::move(*l));
	}

	// The files get the batch's names (which hide them from readers once in cur/); a batch that
	// is not committed removes what it was given, append_discard() the rest.
	MailboxBatch batch(dir);
	bool ok = true;
	for (std::size_t i = 0; ok && i < append_files_.size(); i++) {
		AppendFile &f = append_files_[i];
		std::string to = dir + "/tmp/" + batch.next_base(f.vsize);
		if (rename(f.path.c_str(), to.c_str()) < 0) {
			error = f.path + ": " + std::strerror(errno);
			ok = false;
			break;
		}
		f.path.clear();
		batch.add(f.vsize, letters[i]);
	}
	Mailbox target(dir);
	std::vector<std::uint32_t> uids;
	if (ok)
		ok = batch.commit(target, uids, error);
	else
		batch.abort();
	append_discard();
	if (!ok) {
		if (!mailbox_exists(user_root_, cmd.args[0])) {
			tagged(cmd.tag, "NO", "[TRYCREATE] No such mailbox");
			return;
		}
		log_line(LogLevel::error, conn_.peer(), "user=" + user_ + ": APPEND: " + error);
		tagged(cmd.tag, "NO", "[SERVERBUG] Cannot store the message");
		return;
	}
	std::string set = sequence_set_text(uids);
	log_line(LogLevel::debug, conn_.peer(), "appended uid " + set + " to " + printable(cmd.args[0]));
	done_ok(cmd, "[APPENDUID " + std::to_string(target.uidvalidity()) + " " + set + "] Append completed");
}

} // namespace maild
