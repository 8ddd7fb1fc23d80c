#include "imap/imap-session.hpp"

#include "imap/imap-fetch-job.hpp"
#include "imap/imap-flags.hpp"
#include "base/log.hpp"
#include "storage/mail-folders.hpp"
#include "auth/passwd-file.hpp"
#include "auth/sasl-plain.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <unistd.h>

namespace maild {

namespace {

bool equal_nocase(std::string_view a, std::string_view b)
{
	if (a.size() != b.size())
		return false;
	for (std::size_t i = 0; i < a.size(); i++) {
		if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i])))
			return false;
	}
	return true;
}

} // namespace

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
	return "IMAP4rev1 LITERAL+ SASL-IR UIDPLUS IDLE NAMESPACE UNSELECT CHILDREN APPENDLIMIT=" +
	       std::to_string(limits.append_limit) + " AUTH=PLAIN";
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

void ImapSession::done_ok(const ImapCommand &cmd, std::string_view text, bool allow_expunge)
{
	sync(allow_expunge);
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
		// disk is read again by the poll only: this runs at every drain of the socket.
		sync(true, false);
	if (!fetch_ && !sliced_ && !(input_ == Input::idle && sync_pending_))
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
	if (append_fd_ >= 0) {
		// The rest of an APPEND line after its message literal: MULTIAPPEND is not offered.
		if (!line.empty()) {
			std::string tag = current_tag();
			append_discard();
			reset_command();
			tagged(tag, "BAD", "Unexpected text after the message literal");
			return;
		}
		ImapCommand cmd = parse_imap_command(cmd_);
		reset_command();
		if (cmd.error != nullptr) {
			append_discard();
			tagged(cmd.tag.empty() ? "*" : cmd.tag, "BAD", cmd.error);
			return;
		}
		append_finish(cmd);
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
	case Input::append_literal: {
		for (char c : chunk) {
			// The stored message keeps its bytes; its size as IMAP counts it (CRLF) is computed here.
			append_vsize_ += (c == '\n' && !append_last_cr_) ? 2 : 1;
			append_last_cr_ = c == '\r';
		}
		while (!append_write_failed_ && !chunk.empty()) {
			ssize_t n = write(append_fd_, chunk.data(), chunk.size());
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				log_line(LogLevel::error, conn_.peer(), append_path_ + ": " + std::strerror(errno));
				append_write_failed_ = true;
				break;
			}
			chunk.remove_prefix(static_cast<std::size_t>(n));
		}
		break;
	}
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
	if (cmd.verb == ImapVerb::unknown) {
		tagged(cmd.tag, "BAD", "Unknown command");
		return;
	}
	if (cmd.error != nullptr) {
		tagged(cmd.tag, "BAD", cmd.error);
		return;
	}
	using V = ImapVerb;
	// Any state.
	switch (cmd.verb) {
	case V::capability:
		untagged("CAPABILITY " + capabilities(limits_));
		done_ok(cmd, "Capability completed");
		return;
	case V::noop:
		done_ok(cmd, "NOOP completed");
		return;
	case V::logout:
		untagged("BYE Logging out");
		tagged(cmd.tag, "OK", "Logout completed");
		state_ = State::logout;
		conn_.close_after_output();
		return;
	case V::starttls:
		tagged(cmd.tag, "BAD", "STARTTLS is not available");
		return;
	default:
		break;
	}
	if (state_ == State::not_authenticated) {
		switch (cmd.verb) {
		case V::login:
			login(cmd.tag, cmd.args[0], cmd.args[1]);
			return;
		case V::authenticate:
			authenticate(cmd);
			return;
		default:
			tagged(cmd.tag, "BAD", "Log in first");
			return;
		}
	}
	if (state_ == State::logout)
		return;
	switch (cmd.verb) {
	case V::login:
	case V::authenticate:
		tagged(cmd.tag, "BAD", "Already logged in");
		return;
	case V::namespace_:
		untagged("NAMESPACE ((\"\" \".\")) NIL NIL");
		done_ok(cmd, "Namespace completed");
		return;
	case V::select:
	case V::examine:
		select(cmd, cmd.verb == V::examine);
		return;
	case V::list:
	case V::lsub:
		list(cmd, cmd.verb == V::lsub);
		return;
	case V::status:
		status(cmd);
		return;
	case V::create:
	case V::delete_:
	case V::rename:
		create_delete_rename(cmd);
		return;
	case V::subscribe:
	case V::unsubscribe:
		subscribe(cmd, cmd.verb == V::subscribe);
		return;
	case V::append:
		// Only reached with the message literal missing: APPEND's literal always starts a stream.
		tagged(cmd.tag, "BAD", "APPEND needs a message literal");
		return;
	case V::idle:
		idle_start(cmd);
		return;
	default:
		break;
	}
	if (state_ != State::selected) {
		tagged(cmd.tag, "BAD", "No mailbox selected");
		return;
	}
	switch (cmd.verb) {
	case V::check:
		done_ok(cmd, "Check completed");
		return;
	case V::close:
	case V::unselect:
		if (cmd.verb == V::close && !read_only_)
			expunge_deleted(nullptr);
		close_mailbox();
		tagged(cmd.tag, "OK", cmd.verb == V::close ? "Close completed" : "Unselect completed");
		return;
	case V::expunge:
		if (read_only_) {
			tagged(cmd.tag, "NO", "[READ-ONLY] Mailbox is read-only");
			return;
		}
		expunge(cmd);
		return;
	case V::search:
		search(cmd);
		return;
	case V::fetch:
		fetch(cmd);
		return;
	case V::store:
		store(cmd);
		return;
	case V::copy:
		copy(cmd);
		return;
	default:
		tagged(cmd.tag, "BAD", "Command not valid in this state");
		return;
	}
}

// --- authentication ----------------------------------------------------------------------

void ImapSession::login(const std::string &tag, const std::string &user, std::string_view password)
{
	bool valid = valid_user_name(user);
	if (!host_.passwd().verify(valid ? user : std::string(), password)) {
		log_line(LogLevel::info, conn_.peer(), "login failed: bad credentials for user=" + printable(user));
		fail_login(tag);
		return;
	}
	std::string root = host_.mail_root() + "/" + user;
	std::string error;
	// Only made sure of: reading INBOX is SELECT's work, and a mailbox kept from here for it
	// would cost every idle logged-in connection some 7 KiB (measured at 9,000 connections).
	if (!Mailbox::prepare(root, error)) {
		log_line(LogLevel::error, conn_.peer(), "user=" + user + ": cannot open INBOX: " + error);
		tagged(tag, "NO", "[UNAVAILABLE] Mailbox unavailable, try later");
		return;
	}
	user_ = user;
	user_root_ = root;
	state_ = State::authenticated;
	log_line(LogLevel::info, conn_.peer(), "imap login user=" + user);
	tagged(tag, "OK", "[CAPABILITY " + capabilities(limits_) + "] Logged in");
}

void ImapSession::fail_login(const std::string &tag)
{
	// The reply waits, so guessing is slow; the connection reads nothing meanwhile.
	delaying_ = true;
	delay_ = conn_.loop().add_oneshot(host_.auth_fail_delay(), [this, tag] {
		delaying_ = false;
		tagged(tag, "NO", "[AUTHENTICATIONFAILED] Authentication failed");
		delay_.remove();
		conn_.pump();
	});
}

void ImapSession::authenticate(const ImapCommand &cmd)
{
	if (!equal_nocase(cmd.args[0], "PLAIN")) {
		tagged(cmd.tag, "NO", "Unsupported authentication mechanism");
		return;
	}
	if (cmd.args.size() > 1) { // SASL-IR (RFC 4959)
		sasl_tag_ = cmd.tag;
		sasl_line(cmd.args[1]);
		return;
	}
	sasl_tag_ = cmd.tag;
	input_ = Input::sasl;
	conn_.send("+ \r\n");
}

void ImapSession::sasl_line(std::string_view line)
{
	input_ = Input::command;
	std::string tag = std::move(sasl_tag_);
	if (line == "*") {
		tagged(tag, "BAD", "Authentication cancelled");
		return;
	}
	std::optional<std::string> decoded = line == "=" ? std::string() : base64_decode(line);
	std::optional<SaslPlain> creds;
	if (decoded)
		creds = parse_sasl_plain(*decoded);
	if (!creds) {
		log_line(LogLevel::info, conn_.peer(), "login failed: malformed PLAIN message");
		fail_login(tag);
		return;
	}
	login(tag, creds->user, creds->password);
}

// --- mailboxes -----------------------------------------------------------------------------

std::optional<std::string> ImapSession::mailbox_dir(const ImapCommand &cmd, const std::string &name)
{
	auto dir = valid_mailbox_name(name) ? mailbox_directory(user_root_, name) : std::nullopt;
	if (!dir)
		tagged(cmd.tag, "NO", "[CANNOT] Invalid mailbox name");
	return dir;
}

void ImapSession::select(const ImapCommand &cmd, bool read_only)
{
	if (state_ == State::selected)
		close_mailbox();
	std::string name = cmd.args[0];
	auto dir = mailbox_dir(cmd, name);
	if (!dir)
		return;
	if (!mailbox_exists(user_root_, name)) {
		tagged(cmd.tag, "NO", "[NONEXISTENT] No such mailbox");
		return;
	}
	std::string error;
	Mailbox mb;
	if (!Mailbox::open(*dir, mb, error)) {
		log_line(LogLevel::error, conn_.peer(), "user=" + user_ + ": " + error);
		tagged(cmd.tag, "NO", "[SERVERBUG] Cannot open the mailbox");
		return;
	}
	std::uint32_t first_recent = mb.first_recent_uid();
	if (!read_only && !mb.claim_recent(error))
		log_line(LogLevel::warn, conn_.peer(), "user=" + user_ + ": " + error);
	mailbox_ = std::move(mb);
	keywords_ = Keywords::load(*dir);
	mailbox_name_ = name;
	read_only_ = read_only;
	view_.clear();
	std::size_t recent = 0, first_unseen = 0;
	for (const auto &m : mailbox_.messages()) {
		ViewMessage v{m.uid, m.flags, m.uid >= first_recent, false};
		recent += v.recent ? 1 : 0;
		view_.push_back(std::move(v));
		if (first_unseen == 0 && m.flags.find('S') == std::string::npos)
			first_unseen = view_.size();
	}
	view_max_uid_ = mailbox_.next_uid() - 1;
	state_ = State::selected;

	std::string keywords;
	for (const auto &k : keywords_.names)
		keywords += " " + k;
	untagged("FLAGS (" + imap_system_flags() + keywords + ")");
	untagged(std::to_string(view_.size()) + " EXISTS");
	untagged(std::to_string(recent) + " RECENT");
	if (first_unseen != 0)
		untagged("OK [UNSEEN " + std::to_string(first_unseen) + "] First unseen");
	untagged("OK [UIDVALIDITY " + std::to_string(mailbox_.uidvalidity()) + "] UIDs valid");
	untagged("OK [UIDNEXT " + std::to_string(mailbox_.next_uid()) + "] Predicted next UID");
	untagged("OK [PERMANENTFLAGS (" + (read_only ? std::string() : imap_system_flags() + keywords + " \\*") +
		 ")] Flags permitted");
	tagged(cmd.tag, "OK", read_only ? "[READ-ONLY] Examine completed" : "[READ-WRITE] Select completed");
}

void ImapSession::close_mailbox()
{
	state_ = State::authenticated;
	view_.clear();
	mailbox_ = Mailbox();
	mailbox_name_.clear();
	view_max_uid_ = 0;
}

// LIST and LSUB answer one line per mailbox, queued while the output is under its bound, in
// slices: a user with many thousands of folders neither fills memory nor holds the loop.
class ImapSession::ListJob final : public SlicedCommand {
public:
	ListJob(ImapSession &s, const ImapCommand &cmd, bool lsub) : s_(s), cmd_(cmd), lsub_(lsub)
	{
		full_ = cmd_.args[0] + cmd_.args[1];
		all_ = list_mailboxes(s_.user_root_);
		names_ = lsub_ ? load_subscriptions(s_.user_root_) : all_;
		// Sorted, the children of a name are the run of names after it that start with it
		// and the delimiter: one binary search each instead of a pass over every name.
		std::sort(all_.begin(), all_.end());
	}
	bool step(std::chrono::steady_clock::time_point until) override;

private:
	bool has_children(const std::string &name) const
	{
		std::string prefix = name + mailbox_delimiter;
		auto it = std::lower_bound(all_.begin(), all_.end(), prefix);
		return it != all_.end() && it->compare(0, prefix.size(), prefix) == 0 && it->size() > prefix.size();
	}

	ImapSession &s_;
	ImapCommand cmd_;
	bool lsub_;
	std::string full_;
	std::vector<std::string> all_, names_;
	std::size_t next_ = 0;
};

bool ImapSession::ListJob::step(std::chrono::steady_clock::time_point until)
{
	const char *kind = lsub_ ? "LSUB" : "LIST";
	while (next_ < names_.size()) {
		if (s_.conn_.output_full() || std::chrono::steady_clock::now() >= until)
			return false;
		const std::string &name = names_[next_++];
		bool match = list_pattern_matches(full_, name, mailbox_delimiter);
		if (!match && name == "INBOX") {
			std::string upper = full_;
			for (std::size_t i = 0; i < upper.size() && i < 5; i++)
				upper[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper[i])));
			match = list_pattern_matches(upper, name, mailbox_delimiter);
		}
		if (!match)
			continue;
		std::string attrs;
		if (!lsub_)
			attrs = has_children(name) ? "\\HasChildren" : "\\HasNoChildren";
		s_.untagged(std::string(kind) + " (" + attrs + ") \".\" " + imap_quote(name));
	}
	s_.done_ok(cmd_, lsub_ ? "Lsub completed" : "List completed");
	return true;
}

void ImapSession::list(const ImapCommand &cmd, bool lsub)
{
	if (cmd.args[1].empty() && !lsub) {
		// The hierarchy delimiter and root (RFC 3501 6.3.8).
		untagged("LIST (\\Noselect) \".\" \"\"");
		done_ok(cmd, "List completed");
		return;
	}
	sliced_ = std::make_unique<ListJob>(*this, cmd, lsub);
}

void ImapSession::status(const ImapCommand &cmd)
{
	std::string name = cmd.args[0];
	auto dir = mailbox_dir(cmd, name);
	if (!dir)
		return;
	if (!mailbox_exists(user_root_, name)) {
		tagged(cmd.tag, "NO", "[NONEXISTENT] No such mailbox");
		return;
	}
	Mailbox mb;
	std::string error;
	if (!Mailbox::open(*dir, mb, error)) {
		log_line(LogLevel::error, conn_.peer(), "user=" + user_ + ": " + error);
		tagged(cmd.tag, "NO", "[SERVERBUG] Cannot open the mailbox");
		return;
	}
	std::size_t recent = 0, unseen = 0;
	for (const auto &m : mb.messages()) {
		recent += m.uid >= mb.first_recent_uid() ? 1 : 0;
		unseen += m.flags.find('S') == std::string::npos ? 1 : 0;
	}
	std::string items;
	for (const auto &item : cmd.status_items) {
		std::uint64_t value = 0;
		if (item == "MESSAGES")
			value = mb.messages().size();
		else if (item == "RECENT")
			value = recent;
		else if (item == "UIDNEXT")
			value = mb.next_uid();
		else if (item == "UIDVALIDITY")
			value = mb.uidvalidity();
		else if (item == "UNSEEN")
			value = unseen;
		else
			continue;
		items += (items.empty() ? "" : " ") + item + " " + std::to_string(value);
	}
	untagged("STATUS " + imap_quote(name) + " (" + items + ")");
	done_ok(cmd, "Status completed");
}

void ImapSession::create_delete_rename(const ImapCommand &cmd)
{
	for (const auto &name : cmd.args) {
		std::string n = name;
		if (cmd.verb == ImapVerb::create && !n.empty() && n.back() == mailbox_delimiter)
			n.pop_back();
		if (!mailbox_dir(cmd, n))
			return;
	}
	std::string error;
	bool ok = false;
	const char *done = "";
	switch (cmd.verb) {
	case ImapVerb::create:
		ok = create_mailbox(user_root_, cmd.args[0], error);
		done = "Create completed";
		break;
	case ImapVerb::delete_:
		if (state_ == State::selected && cmd.args[0] == mailbox_name_) {
			error = "[INUSE] Mailbox is selected";
			break;
		}
		ok = delete_mailbox(user_root_, cmd.args[0], error);
		done = "Delete completed";
		break;
	default:
		if (state_ == State::selected && cmd.args[0] == mailbox_name_) {
			error = "[INUSE] Mailbox is selected";
			break;
		}
		ok = rename_mailbox(user_root_, cmd.args[0], cmd.args[1], error);
		done = "Rename completed";
		break;
	}
	if (!ok) {
		if (error.empty() || error[0] != '[') {
			log_line(LogLevel::error, conn_.peer(), "user=" + user_ + ": " + error);
			error = "[SERVERBUG] Operation failed";
		}
		tagged(cmd.tag, "NO", error);
		return;
	}
	done_ok(cmd, done);
}

void ImapSession::subscribe(const ImapCommand &cmd, bool on)
{
	std::string name = cmd.args[0];
	if (!mailbox_dir(cmd, name))
		return;
	std::string error;
	if (!set_subscribed(user_root_, name, on, error)) {
		if (error.rfind("[LIMIT]", 0) == 0) {
			tagged(cmd.tag, "NO", error);
			return;
		}
		log_line(LogLevel::error, conn_.peer(), "user=" + user_ + ": " + error);
		tagged(cmd.tag, "NO", "[SERVERBUG] Cannot save subscriptions");
		return;
	}
	done_ok(cmd, on ? "Subscribe completed" : "Unsubscribe completed");
}

// --- APPEND --------------------------------------------------------------------------------

void ImapSession::append_literal_begin(const LiteralSpec &lit)
{
	if (lit.size > limits_.append_limit) {
		reject_literal(lit, current_tag() + " NO [TOOBIG] Message larger than APPENDLIMIT\r\n");
		return;
	}
	append_path_ = user_root_ + "/tmp/" + Mailbox::unique_base(0);
	append_fd_ = ::open(append_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (append_fd_ < 0) {
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

void ImapSession::append_discard()
{
	if (append_fd_ >= 0) {
		::close(append_fd_);
		unlink(append_path_.c_str());
		append_fd_ = -1;
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
	if (!refusal && (append_write_failed_ || fsync(append_fd_) < 0))
		refusal = "[SERVERBUG] Cannot store the message";
	if (refusal) {
		append_discard();
		tagged(cmd.tag, "NO", refusal);
		return;
	}
	::close(append_fd_);
	append_fd_ = -1;

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

// --- IDLE ----------------------------------------------------------------------------------

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
