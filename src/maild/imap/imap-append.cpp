// APPEND, also with several messages (MULTIAPPEND, RFC 3502) and messages built from parts
// (CATENATE, RFC 4469): each message streams into the target mailbox's tmp/ (never into
// memory) and is fsynced as it ends; once the command line ends, the messages become part of
// the mailbox all at once, as one MailboxBatch (consecutive UIDs, one uidlist write), or none
// of them does (RFC 3502 requires the command to be atomic, and RFC 4469 a failed URL to fail
// the whole command). Any failure before that removes every file the command made.
//
// The command arrives in pieces: the text up to each message or TEXT literal, then the text
// after its bytes. Each piece is parsed with what came before (the literals streamed to files
// cut out), and append_advance() catches the files up with what the parse shows: it opens a
// message's file, copies the URL parts (CRLF line ends, as FETCH gives them) and starts the
// next literal, closes a message whose CATENATE list ended, and commits when the command did.
#include "imap/imap-session.hpp"

#include "base/log.hpp"
#include "imap/imap-fetch-job.hpp"
#include "imap/imap-flags.hpp"
#include "imap/imap-message.hpp"
#include "imap/imap-url.hpp"
#include "mail/crlf.hpp"
#include "storage/mail-folders.hpp"
#include "storage/message-bytes.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace maild {

namespace {

// A CATENATE message may have this many parts: a bound on the work one APPEND makes the
// server do by URLs (each opens a mailbox and a message), far above what a client assembling a
// forward or a draft uses.
constexpr std::size_t max_catenate_parts = 256;

} // namespace

void ImapSession::append_literal_begin(const LiteralSpec &lit)
{
	// The caller checked that cmd_ is an APPEND ending in a message's or a TEXT part's literal spec.
	ImapCommand cmd = parse_imap_command(cmd_);
	if (!append_active_ && !append_start(cmd, &lit))
		return;
	append_advance(cmd, &lit);
}

void ImapSession::append_without_literal(const ImapCommand &cmd)
{
	// A whole APPEND in one line: CATENATE of URLs only. Any other APPEND has a message literal,
	// which starts a stream.
	if (cmd.append_messages.empty() || !cmd.append_messages.front().catenate) {
		tagged(cmd.tag, "BAD", "APPEND needs a message literal");
		return;
	}
	if (append_start(cmd, nullptr))
		append_advance(cmd, nullptr);
}

bool ImapSession::append_start(const ImapCommand &cmd, const LiteralSpec *lit)
{
	const std::string &name = cmd.args[0];
	auto dir = valid_mailbox_name(name) ? mailbox_directory(user_root_, name) : std::nullopt;
	// RFC 3502 lets the server refuse before the first literal: a synchronizing one is then
	// never sent.
	if (!dir) {
		append_fail(cmd.tag, lit, " NO [CANNOT] Invalid mailbox name\r\n");
		return false;
	}
	if (!mailbox_exists(user_root_, name)) {
		append_fail(cmd.tag, lit, " NO [TRYCREATE] No such mailbox\r\n");
		return false;
	}
	append_active_ = true;
	append_dir_ = *dir;
	append_bytes_ = 0;
	append_files_.clear();
	append_open_ = false;
	return true;
}

void ImapSession::append_fail(const std::string &tag, const LiteralSpec *lit, const std::string &reply)
{
	append_discard();
	if (lit) {
		reject_literal(*lit, tag + reply);
	} else {
		reset_command();
		conn_.send(tag + reply);
	}
}

// Room for `size` more bytes in the current message and in the command; else the reply.
const char *ImapSession::append_room(std::uint64_t size) const
{
	if (size > limits_.append_limit - std::min(append_msg_bytes_, limits_.append_limit))
		return " NO [TOOBIG] Message larger than APPENDLIMIT\r\n";
	if (size > limits_.append_total_limit() - append_bytes_)
		return " NO [LIMIT] Messages of one APPEND too large together\r\n";
	return nullptr;
}

bool ImapSession::append_open_file(const ImapCommand &cmd, const ImapCommand::AppendMessage &m,
				   const LiteralSpec *lit)
{
	if (append_files_.size() >= limits_.append_max_messages) {
		append_fail(cmd.tag, lit, " NO [LIMIT] Too many messages in one APPEND\r\n");
		return false;
	}
	append_date_ = m.internal_date ? *m.internal_date : static_cast<std::int64_t>(std::time(nullptr));
	append_path_ = append_dir_ + "/tmp/" + Mailbox::unique_base(0);
	append_fd_.reset(::open(append_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
	if (!append_fd_) {
		int e = errno;
		append_path_.clear();
		// The mailbox may have been deleted since the first message.
		if (e == ENOENT && !mailbox_exists(user_root_, cmd.args[0])) {
			append_fail(cmd.tag, lit, " NO [TRYCREATE] No such mailbox\r\n");
			return false;
		}
		log_line(LogLevel::error, conn_.peer(), append_dir_ + "/tmp: " + std::strerror(e));
		append_fail(cmd.tag, lit, " NO [SERVERBUG] Cannot store the message\r\n");
		return false;
	}
	append_vsize_ = 0;
	append_msg_bytes_ = 0;
	append_last_cr_ = false;
	append_write_failed_ = false;
	append_part_ = 0;
	return true;
}

void ImapSession::append_stream(const LiteralSpec &lit)
{
	append_bytes_ += lit.size;
	append_msg_bytes_ += lit.size;
	if (!lit.non_sync)
		conn_.send("+ Ready for literal data\r\n");
	if (lit.size > 0) {
		input_ = Input::append_literal;
		conn_.read_raw(lit.size);
	} else {
		append_literal_end();
	}
}

void ImapSession::append_advance(const ImapCommand &cmd, const LiteralSpec *lit)
{
	const std::size_t n = cmd.append_messages.size();
	for (std::size_t i = append_files_.size(); i < n; i++) {
		const ImapCommand::AppendMessage &m = cmd.append_messages[i];
		if (!m.catenate) {
			// A plain message's literal is the one starting now: the parse of a text that goes
			// on after it would have found the message done.
			if (!lit || i + 1 != n) {
				append_fail(cmd.tag, lit, " BAD Invalid APPEND\r\n");
				return;
			}
			append_msg_bytes_ = 0;
			if (const char *refusal = append_room(lit->size)) {
				append_fail(cmd.tag, lit, refusal);
				return;
			}
			if (!append_open_file(cmd, m, lit))
				return;
			append_stream(*lit);
			return;
		}
		if (m.parts.size() > max_catenate_parts) {
			append_fail(cmd.tag, lit, " NO [LIMIT] Too many CATENATE parts\r\n");
			return;
		}
		if (!append_open_) {
			if (!append_open_file(cmd, m, lit))
				return;
			append_open_ = true;
		}
		while (append_part_ < m.parts.size()) {
			const ImapCommand::AppendMessage::CatPart &p = m.parts[append_part_];
			if (!p.url) {
				// Only the TEXT literal starting now can be ahead of the file.
				if (!lit || i + 1 != n || !m.open || append_part_ + 1 != m.parts.size()) {
					append_fail(cmd.tag, lit, " BAD Invalid CATENATE\r\n");
					return;
				}
				if (const char *refusal = append_room(lit->size)) {
					append_fail(cmd.tag, lit, refusal);
					return;
				}
				append_stream(*lit);
				return;
			}
			std::string reply;
			if (!append_url(p.text, reply)) {
				append_fail(cmd.tag, lit, reply);
				return;
			}
			append_part_++;
		}
		if (m.open) {
			append_fail(cmd.tag, lit, " BAD Unterminated CATENATE\r\n");
			return;
		}
		if (!append_close_file()) {
			append_fail(cmd.tag, lit, " NO [SERVERBUG] Cannot store the message\r\n");
			return;
		}
	}
	if (lit) {
		append_fail(cmd.tag, lit, " BAD Invalid APPEND\r\n");
		return;
	}
	append_finish(cmd);
}

// Copies what a CATENATE URL names into the message. False with the reply: BADURL for a URL
// that does not name a message, or a part of one, this user can read now.
bool ImapSession::append_url(const std::string &text, std::string &reply)
{
	const std::string bad = " NO [BADURL " + url_resp_text(text) + "] ";
	auto url = parse_imap_url(text);
	if (!url) {
		reply = bad + "Invalid or unsupported URL\r\n";
		return false;
	}
	if (url->absolute && (!url->has_user || url->user != user_)) {
		reply = bad + "Only this user's mailboxes\r\n";
		return false;
	}
	std::string dir;
	if (url->selected) {
		if (state_ != State::selected) {
			reply = bad + "No mailbox selected\r\n";
			return false;
		}
		dir = mailbox_.dir();
	} else {
		auto d = valid_mailbox_name(url->mailbox) ? mailbox_directory(user_root_, url->mailbox) : std::nullopt;
		if (!d || !mailbox_exists(user_root_, url->mailbox)) {
			reply = bad + "No such mailbox\r\n";
			return false;
		}
		dir = *d;
	}
	Mailbox mb;
	std::string error;
	if (!Mailbox::open(dir, mb, error)) {
		log_line(LogLevel::error, conn_.peer(), "user=" + user_ + ": CATENATE: " + error);
		reply = bad + "Cannot read the mailbox\r\n";
		return false;
	}
	if (url->uidvalidity && *url->uidvalidity != mb.uidvalidity()) {
		reply = bad + "UIDVALIDITY differs\r\n";
		return false;
	}
	// A message expunged meanwhile (also one still held for a session that shows it) is gone
	// from the mailbox as read here.
	auto at = mb.find(url->uid);
	MessageBytes bytes;
	if (!at || !bytes.open(AT_FDCWD, mb.path_of(mb.messages()[*at]))) {
		reply = bad + "No such message\r\n";
		return false;
	}
	std::optional<SectionData> data;
	if (url->part.empty() && url->text == SectionText::none) {
		data.emplace();
		data->range = bytes.data();
	} else {
		ImapMessage msg(bytes.data());
		data = msg.section(url->part, section_part(url->text), url->fields);
	}
	if (!data) {
		reply = bad + "No such section\r\n";
		return false;
	}
	std::uint64_t total = data->is_range ? crlf_size(data->range) : data->text.size();
	std::uint64_t from = 0, size = total;
	if (url->partial) {
		from = std::min(url->origin, total);
		size = std::min(url->length.value_or(total), total - from);
	}
	if (const char *refusal = append_room(size)) {
		reply = refusal;
		return false;
	}
	append_bytes_ += size;
	append_msg_bytes_ += size;
	if (!data->is_range) {
		append_write(std::string_view(data->text).substr(static_cast<std::size_t>(from), static_cast<std::size_t>(size)));
		return true;
	}
	// CRLF-converted a chunk at a time, the part of each chunk within [from, from + size) kept.
	constexpr std::size_t chunk = 32 * 1024;
	std::string converted;
	bool last_cr = false;
	std::uint64_t pos = 0;
	const std::uint64_t end = from + size;
	for (std::size_t off = 0; off < data->range.size() && pos < end; off += chunk) {
		converted.clear();
		append_crlf(data->range.substr(off, chunk), converted, last_cr);
		std::uint64_t lo = std::max(pos, from), hi = std::min(pos + converted.size(), end);
		if (lo < hi)
			append_write(std::string_view(converted).substr(static_cast<std::size_t>(lo - pos),
									 static_cast<std::size_t>(hi - lo)));
		pos += converted.size();
	}
	return true;
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
	if (append_open_) {
		// A TEXT part: the message goes on with what the rest of the command names.
		append_part_++;
		if (!append_write_failed_)
			return;
	} else if (append_close_file()) {
		return;
	}
	std::string tag = current_tag();
	append_discard();
	// The rest of the command (more messages, its final CRLF) is passed over, then this
	// is the reply.
	cmd_.clear();
	rejected_reply_ = tag + " NO [SERVERBUG] Cannot store the message\r\n";
}

bool ImapSession::append_close_file()
{
	// The internal date is the file's mtime; what the client sent must be on disk before it
	// hears OK, and a full disk shows here, before the next message is read.
	const struct timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(append_date_), 0}};
	if (append_write_failed_ || futimens(append_fd_.get(), times) < 0 || fsync(append_fd_.get()) < 0) {
		if (!append_write_failed_)
			log_line(LogLevel::error, conn_.peer(), append_path_ + ": " + std::strerror(errno));
		return false;
	}
	append_fd_.reset();
	append_files_.push_back({std::move(append_path_), append_vsize_});
	append_path_.clear();
	append_open_ = false;
	return true;
}

void ImapSession::append_continue(std::string_view line)
{
	// The text after a literal of the APPEND: more of a CATENATE list, another message
	// (MULTIAPPEND) or the end of the command; or, ending in a literal, the next message or
	// TEXT part, or a URL's astring as a literal (read into the command like any small one).
	std::string tag = current_tag();
	auto lit = literal_at_end(line);
	const char *error = nullptr;
	if (cmd_.size() + line.size() > limits_.max_command)
		error = "Command too long";
	else
		cmd_.append(line);
	if (error == nullptr && !lit) {
		ImapCommand cmd = parse_imap_command(cmd_);
		reset_command();
		if (cmd.error != nullptr || cmd.append_messages.empty() || cmd.append_messages.back().open) {
			append_discard();
			tagged(tag, "BAD", cmd.error != nullptr ? cmd.error : "Invalid APPEND");
			return;
		}
		append_advance(cmd, nullptr);
		return;
	}
	if (error == nullptr && is_append_message_literal(cmd_)) {
		append_literal_begin(*lit);
		return;
	}
	if (error == nullptr) {
		ImapCommand cmd = parse_imap_command(cmd_);
		// Only an astring of a CATENATE list can be a literal here: what comes before it must parse.
		if (lit->binary)
			error = "A literal8 is only allowed for an APPEND message";
		else if (cmd.error == nullptr || std::strcmp(cmd.error, "literal without CRLF") != 0)
			error = cmd.error != nullptr ? cmd.error : "Invalid APPEND";
		else if (cmd_.size() + 2 > limits_.max_command || lit->size > limits_.max_command - cmd_.size() - 2)
			error = "Literal too large for this command";
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
	cmd_ += "\r\n";
	if (!lit->non_sync)
		conn_.send("+ Ready for literal data\r\n");
	if (lit->size > 0) {
		input_ = Input::literal;
		conn_.read_raw(lit->size);
	}
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
	append_open_ = false;
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
