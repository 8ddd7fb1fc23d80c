#include "imap/imap-session.hpp"

#include "base/ascii.hpp"
#include "imap/imap-fetch-job.hpp"
#include "imap/imap-notify.hpp"

#include <cstring>

namespace maild {

ImapSession::ImapSession(Connection &conn, SessionHost &host, const ImapLimits &limits)
	: conn_(conn), host_(host), limits_(limits)
{
}

ImapSession::~ImapSession()
{
	append_discard();
}

std::string ImapSession::capabilities(const ImapLimits &limits)
{
	return "IMAP4rev1 LITERAL+ MULTIAPPEND CATENATE SASL-IR UIDPLUS IDLE NAMESPACE UNSELECT CHILDREN MOVE ID ENABLE BINARY ESEARCH "
	       "SEARCHRES LIST-EXTENDED LIST-STATUS SPECIAL-USE CONDSTORE QRESYNC SORT SORT=DISPLAY THREAD=ORDEREDSUBJECT "
	       "THREAD=REFERENCES THREAD=REFS ESORT CONTEXT=SEARCH CONTEXT=SORT NOTIFY APPENDLIMIT=" +
	       std::to_string(limits.append_limit) + " AUTH=PLAIN" +
	       (Connection::compression_available() ? " COMPRESS=DEFLATE" : "");
}

void ImapSession::start()
{
	untagged("OK [CAPABILITY " + capabilities(limits_) + "] maild IMAP ready");
}

void ImapSession::untagged(std::string_view text)
{
	std::string line = "* ";
	line += text;
	line += "\r\n";
	conn_.send(line);
}

void ImapSession::tagged(const std::string &tag, std::string_view status, std::string_view text)
{
	conn_.send(tag + " " + std::string(status) + " " + std::string(text) + "\r\n");
}

void ImapSession::done_ok(const ImapCommand &cmd, std::string_view text)
{
	sync(expunge_allowed(cmd));
	tagged(cmd.tag, "OK", text);
}

std::string ImapSession::current_tag() const
{
	std::string_view t(cmd_);
	t = t.substr(0, t.find(' '));
	bool ok = !t.empty();
	for (char c : t) {
		auto u = static_cast<unsigned char>(c);
		if (u <= 0x20 || u >= 0x7f || std::strchr("(){%*\"\\+", c) != nullptr)
			ok = false;
	}
	return ok ? std::string(t) : std::string("*");
}

void ImapSession::reset_command()
{
	cmd_.clear();
	input_ = Input::command;
}

void ImapSession::produce()
{
	auto now = std::chrono::steady_clock::now();
	if (slice_end_ == std::chrono::steady_clock::time_point{}) {
		slice_end_ = now + slice_time;
	} else if (now >= slice_end_) {
		// The slice ran out between two calls (a send in between): no more work before the
		// loop has gone round.
		yield();
		return;
	}
	if (fetch_)
		produce_fetch(slice_end_);
	else if (sliced_ && sliced_->step(slice_end_))
		sliced_.reset();
	else if (!sliced_ && input_ == Input::idle && sync_pending_)
		// An IDLE client reads again: what did not fit goes out as the socket drains. The
		// disk is read again only after a change was reported: this runs at every drain.
		sync(true, false);
	else if (!fetch_ && !sliced_ && notify_wait_output_)
		notify_flush(); // NOTIFY: what waited for the client to read
	if (!fetch_ && !sliced_ && !(input_ == Input::idle && sync_pending_) && !notify_wait_output_)
		slice_end_ = {}; // done: the next command starts a slice of its own
	else if (std::chrono::steady_clock::now() >= slice_end_)
		yield();
}

void ImapSession::yield()
{
	slice_end_ = {};
	yielded_ = true;
	yield_ = conn_.loop().add_oneshot(std::chrono::microseconds(0), [this] {
		yielded_ = false;
		yield_.remove();
		conn_.pump();
	});
}

// --- input -------------------------------------------------------------------------------

void ImapSession::on_line(std::string_view line)
{
	switch (input_) {
	case Input::sasl:
		sasl_line(line);
		return;
	case Input::idle:
		idle_done(equal_nocase(line, "DONE"));
		return;
	default:
		command_line(line);
	}
}

void ImapSession::on_line_too_long()
{
	if (input_ == Input::idle) {
		idle_done(false);
		return;
	}
	std::string tag = input_ == Input::sasl ? sasl_tag_ : current_tag();
	append_discard();
	reset_command();
	tagged(tag, "BAD", "Line too long");
}

void ImapSession::command_line(std::string_view line)
{
	if (append_active_) {
		append_continue(line);
		return;
	}
	if (!rejected_reply_.empty()) {
		// A refused LITERAL+ literal has been skipped; the rest of its command goes with it,
		// including any further literal: a non-synchronizing one is skipped too, while a
		// synchronizing one is never sent, as the client waits for "+" and gets the reply.
		std::string reply = std::move(rejected_reply_);
		rejected_reply_.clear();
		auto lit = literal_at_end(line);
		if (lit && lit->non_sync && lit->size > 0) {
			reject_literal(*lit, std::move(reply));
			return;
		}
		conn_.send(reply);
		reset_command();
		return;
	}
	if (cmd_.size() + line.size() > limits_.max_command) {
		auto lit = literal_at_end(line);
		std::string reply = current_tag() + " BAD Command too long\r\n";
		if (lit)
			reject_literal(*lit, reply);
		else {
			reset_command();
			conn_.send(reply);
		}
		return;
	}
	cmd_.append(line);
	auto lit = literal_at_end(line);
	if (!lit) {
		finish_command();
		return;
	}
	literal_start(*lit);
}

void ImapSession::literal_start(const LiteralSpec &lit)
{
	if (state_ != State::not_authenticated && state_ != State::logout && is_append_message_literal(cmd_)) {
		append_literal_begin(lit);
		return;
	}
	if (lit.binary) {
		reject_literal(lit, current_tag() + " BAD A literal8 is only allowed for an APPEND message\r\n");
		return;
	}
	// cmd_ is within max_command here; the size is compared against what is left, so a size
	// near 2^64 cannot wrap the sum into something small.
	if (cmd_.size() + 2 > limits_.max_command || lit.size > limits_.max_command - cmd_.size() - 2) {
		reject_literal(lit, current_tag() + " BAD Literal too large for this command\r\n");
		return;
	}
	cmd_ += "\r\n";
	if (!lit.non_sync)
		conn_.send("+ Ready for literal data\r\n");
	if (lit.size > 0) {
		input_ = Input::literal;
		conn_.read_raw(lit.size);
	}
}

// A literal the server will not take. Without LITERAL+ the client waits for "+", so a tagged
// reply ends the command at once; a non-synchronizing literal is on its way and is skipped.
void ImapSession::reject_literal(const LiteralSpec &lit, std::string reply)
{
	if (!lit.non_sync || lit.size == 0) {
		reset_command();
		conn_.send(reply);
		return;
	}
	if (lit.size / 2 > limits_.append_limit) {
		// A client a little over APPENDLIMIT is skipped and goes on; skipping any size would
		// keep the connection reading for as long as the client cares to send (RFC 7888 lets
		// the server answer and close instead).
		reset_command();
		conn_.send(reply);
		untagged("BYE [TOOBIG] Literal too large");
		state_ = State::logout;
		conn_.close_after_output();
		return;
	}
	rejected_reply_ = std::move(reply);
	cmd_.clear();
	input_ = Input::discard_literal;
	conn_.read_raw(lit.size);
}

void ImapSession::on_raw(std::string_view chunk, bool last)
{
	switch (input_) {
	case Input::literal:
		cmd_.append(chunk);
		break;
	case Input::append_literal:
		append_write(chunk);
		if (last) {
			input_ = Input::command;
			append_literal_end();
		}
		return;
	default:
		break;
	}
	if (last)
		input_ = Input::command;
}

void ImapSession::finish_command()
{
	std::string text = std::move(cmd_);
	reset_command();
	execute(text);
}

// --- dispatch ----------------------------------------------------------------------------

void ImapSession::execute(std::string_view text)
{
	ImapCommand cmd = parse_imap_command(text);
	if (cmd.tag.empty()) {
		untagged("BAD Missing or invalid tag");
		return;
	}
	const CommandSpec *spec = find_command(cmd.verb);
	if (spec == nullptr || (cmd.uid && !(spec->flags & uid_form))) {
		tagged(cmd.tag, "BAD", "Unknown command");
		return;
	}
	if (cmd.error != nullptr) {
		tagged(cmd.tag, "BAD", cmd.error);
		return;
	}
	if (!(spec->states & state_bit(state_))) {
		refuse_in_state(cmd, *spec);
		return;
	}
	if ((spec->flags & read_write) && read_only_) {
		tagged(cmd.tag, "NO", "[READ-ONLY] Mailbox is read-only");
		return;
	}
	(this->*spec->handler)(cmd);
}

} // namespace maild
