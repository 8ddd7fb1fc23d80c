#include "pop3/pop3-session.hpp"

#include "auth/sasl-plain.hpp"
#include "base/ascii.hpp"
#include "base/fd.hpp"
#include "base/log.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <utility>

namespace maild {

namespace {
constexpr std::size_t stream_chunk = 32 * 1024;
// How long a login waits for a user's lock, and how often it looks.
constexpr std::chrono::milliseconds lock_wait{500};
constexpr std::chrono::milliseconds lock_retry{10};
} // namespace

Pop3Session::Pop3Session(Connection &conn, SessionHost &host) : conn_(conn), host_(host) {}

Pop3Session::~Pop3Session()
{
	release_lock();
}

void Pop3Session::release_lock()
{
	if (!locked_user_.empty()) {
		host_.unlock_user(locked_user_);
		locked_user_.clear();
	}
}

void Pop3Session::start()
{
	ok("maild POP3 ready");
}

void Pop3Session::ok(std::string_view text)
{
	std::string line = "+OK";
	if (!text.empty()) {
		line += ' ';
		line += text;
	}
	line += "\r\n";
	conn_.send(line);
}

void Pop3Session::err(std::string_view text)
{
	std::string line = "-ERR ";
	line += text;
	line += "\r\n";
	conn_.send(line);
}

void Pop3Session::on_line_too_long()
{
	log_line(LogLevel::info, conn_.peer(), "line too long, skipped");
	if (state_ == State::sasl_response)
		state_ = State::authorization;
	err("line too long");
}

void Pop3Session::on_idle_timeout()
{
	log_line(LogLevel::info, conn_.peer(),
		 "idle timeout" + (locked_user_.empty() ? std::string() : " user=" + locked_user_));
	err("Disconnected for inactivity");
	state_ = State::done;
}

void Pop3Session::on_line(std::string_view line)
{
	if (state_ == State::sasl_response) {
		sasl_response(line);
		return;
	}
	Pop3Command cmd = parse_pop3_command(line);
	if (log_enabled(LogLevel::debug)) {
		// Never log a password: only the keyword.
		log_line(LogLevel::debug, conn_.peer(), "command " + printable(line.substr(0, line.find(' ')), 16));
	}
	switch (cmd.verb) {
	case Pop3Verb::unknown:
		err("unknown command");
		return;
	case Pop3Verb::capa:
		capa();
		return;
	case Pop3Verb::noop:
		if (state_ == State::transaction)
			ok("");
		else
			err("not logged in");
		return;
	case Pop3Verb::quit:
		quit();
		return;
	case Pop3Verb::last:
		err("LAST is not supported (RFC 1939 dropped it)");
		return;
	case Pop3Verb::stls:
		err("STLS is not supported");
		return;
	case Pop3Verb::apop:
		err("APOP is not supported");
		return;
	default:
		break;
	}
	if (cmd.error != nullptr) {
		err(cmd.error);
		return;
	}
	if (state_ == State::authorization)
		command_authorization(cmd);
	else if (state_ == State::transaction)
		command_transaction(cmd);
}

void Pop3Session::capa()
{
	ok("Capability list follows");
	conn_.send("USER\r\n"
		   "UIDL\r\n"
		   "TOP\r\n"
		   "PIPELINING\r\n"
		   "RESP-CODES\r\n"
		   "AUTH-RESP-CODE\r\n"
		   "SASL PLAIN\r\n"
		   "IMPLEMENTATION maild\r\n"
		   ".\r\n");
}

void Pop3Session::command_authorization(const Pop3Command &cmd)
{
	switch (cmd.verb) {
	case Pop3Verb::user:
		// Any name is accepted here; PASS says no without telling whether it exists.
		user_ = std::string(cmd.args[0]);
		ok("");
		return;
	case Pop3Verb::pass:
		if (user_.empty()) {
			err("USER first");
			return;
		}
		login(std::exchange(user_, std::string()), cmd.args[0]);
		return;
	case Pop3Verb::auth: {
		if (cmd.arg_count == 0) {
			ok("Mechanisms follow");
			conn_.send("PLAIN\r\n.\r\n");
			return;
		}
		if (!equal_nocase(cmd.args[0], "PLAIN")) {
			err("[AUTH] unsupported mechanism (only PLAIN)");
			return;
		}
		if (cmd.arg_count == 1) {
			state_ = State::sasl_response;
			conn_.send("+ \r\n");
			return;
		}
		state_ = State::sasl_response;
		sasl_response(cmd.args[1]);
		return;
	}
	default:
		err("not logged in");
		return;
	}
}

void Pop3Session::sasl_response(std::string_view line)
{
	state_ = State::authorization;
	if (line == "*") {
		err("authentication cancelled");
		return;
	}
	// RFC 5034: "=" is an empty initial response.
	auto decoded = line == "=" ? std::optional<std::string>("") : base64_decode(line);
	// Undecodable or malformed, it is still a login attempt: the same delay and reply as a
	// wrong password, or malformed attempts would be a way around the delay.
	if (!decoded) {
		fail_login("invalid base64 in AUTH PLAIN");
		return;
	}
	auto creds = parse_sasl_plain(*decoded);
	if (!creds) {
		fail_login("malformed PLAIN message");
		return;
	}
	login(creds->user, creds->password);
}

void Pop3Session::login(const std::string &user, std::string_view password)
{
	bool valid = valid_user_name(user);
	if (!host_.passwd().verify(valid ? user : std::string(), password)) {
		fail_login("bad credentials for user=" + printable(user));
		return;
	}
	if (!host_.lock_user(user)) {
		wait_for_lock(user, std::chrono::steady_clock::now() + lock_wait);
		return;
	}
	open_mailbox(user);
}

// The lock may belong to a connection that has just closed in another worker, whose loop has not
// read the EOF yet: the login waits a little for it, reading nothing meanwhile, before [IN-USE].
void Pop3Session::wait_for_lock(const std::string &user, std::chrono::steady_clock::time_point until)
{
	delaying_ = true;
	delay_ = conn_.loop().add_oneshot(lock_retry, [this, user, until] {
		std::string name = user; // the captures go with the timer
		auto deadline = until;
		delay_.remove();
		if (host_.lock_user(name)) {
			delaying_ = false;
			open_mailbox(name);
		} else if (std::chrono::steady_clock::now() < deadline) {
			wait_for_lock(name, deadline);
			return;
		} else {
			delaying_ = false;
			log_line(LogLevel::info, conn_.peer(), "login refused, mailbox in use: user=" + name);
			err("[IN-USE] mailbox is locked by another session");
		}
		conn_.pump();
	});
}

void Pop3Session::open_mailbox(const std::string &user)
{
	locked_user_ = user;
	auto dir = mailbox_directory(host_.mail_root() + "/" + user, "INBOX");
	std::string error;
	if (!dir || !Mailbox::open(*dir, mailbox_, error)) {
		log_line(LogLevel::error, conn_.peer(), "user=" + user + ": cannot open mailbox: " + error);
		release_lock();
		err("[SYS/TEMP] mailbox unavailable, try later");
		return;
	}
	deleted_.assign(mailbox_.messages().size(), false);
	retrieved_.assign(mailbox_.messages().size(), false);
	state_ = State::transaction;
	log_line(LogLevel::info, conn_.peer(),
		 "login user=" + user + " messages=" + std::to_string(mailbox_.messages().size()));
	ok("Logged in, " + std::to_string(mailbox_.messages().size()) + " messages");
}

void Pop3Session::fail_login(std::string_view why)
{
	log_line(LogLevel::info, conn_.peer(), "login failed: " + std::string(why));
	// The reply waits, so guessing is slow; the connection reads nothing meanwhile.
	delaying_ = true;
	delay_ = conn_.loop().add_oneshot(host_.auth_fail_delay(), [this] {
		delaying_ = false;
		err("[AUTH] Authentication failed");
		delay_.remove();
		conn_.pump();
	});
}

std::optional<std::size_t> Pop3Session::message_arg(std::string_view arg)
{
	auto n = parse_pop3_number(arg, UINT32_MAX);
	if (!n) {
		err("invalid message number");
		return std::nullopt;
	}
	if (*n == 0 || *n > mailbox_.messages().size()) {
		err("no such message");
		return std::nullopt;
	}
	std::size_t index = static_cast<std::size_t>(*n - 1);
	if (deleted_[index]) {
		err("message is deleted");
		return std::nullopt;
	}
	return index;
}

// Long: one short case per TRANSACTION-state verb of RFC 1939, each its reply; split up, the
// cases would only hand msgs and uidl_of around.
void Pop3Session::command_transaction(const Pop3Command &cmd)
{
	const auto &msgs = mailbox_.messages();
	auto uidl_of = [&](std::size_t i) {
		return std::to_string(mailbox_.uidvalidity()) + "." + std::to_string(msgs[i].uid);
	};
	switch (cmd.verb) {
	case Pop3Verb::stat: {
		std::uint64_t count = 0, size = 0;
		for (std::size_t i = 0; i < msgs.size(); i++) {
			if (!deleted_[i]) {
				count++;
				size += msgs[i].vsize;
			}
		}
		ok(std::to_string(count) + " " + std::to_string(size));
		return;
	}
	case Pop3Verb::list:
	case Pop3Verb::uidl: {
		bool list = cmd.verb == Pop3Verb::list;
		auto value = [&](std::size_t i) { return list ? std::to_string(msgs[i].vsize) : uidl_of(i); };
		if (cmd.arg_count == 1) {
			if (auto i = message_arg(cmd.args[0]))
				ok(std::to_string(*i + 1) + " " + value(*i));
			return;
		}
		ok(list ? "scan listing follows" : "unique-id listing follows");
		std::string out;
		for (std::size_t i = 0; i < msgs.size(); i++) {
			if (!deleted_[i])
				out += std::to_string(i + 1) + " " + value(i) + "\r\n";
			if (out.size() >= 16384) {
				conn_.send(out);
				out.clear();
			}
		}
		out += ".\r\n";
		conn_.send(out);
		return;
	}
	case Pop3Verb::retr:
		if (auto i = message_arg(cmd.args[0]))
			start_stream(*i, Pop3MessageEncoder::all_lines);
		return;
	case Pop3Verb::top: {
		auto i = message_arg(cmd.args[0]);
		if (!i)
			return;
		auto lines = parse_pop3_number(cmd.args[1], Pop3MessageEncoder::all_lines);
		if (!lines) {
			err("invalid line count");
			return;
		}
		start_stream(*i, *lines);
		return;
	}
	case Pop3Verb::dele:
		if (auto i = message_arg(cmd.args[0])) {
			deleted_[*i] = true;
			ok("message " + std::to_string(*i + 1) + " deleted");
		}
		return;
	case Pop3Verb::rset:
		deleted_.assign(deleted_.size(), false);
		ok("");
		return;
	case Pop3Verb::user:
	case Pop3Verb::pass:
	case Pop3Verb::auth:
		err("already logged in");
		return;
	default:
		err("unknown command");
		return;
	}
}

void Pop3Session::start_stream(std::size_t index, std::uint64_t body_lines)
{
	const MessageFile &m = mailbox_.messages()[index];
	Fd fd(open(mailbox_.path_of(m).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
	if (!fd) {
		log_line(LogLevel::warn, conn_.peer(),
			 "user=" + locked_user_ + ": cannot open " + mailbox_.path_of(m) + ": " + std::strerror(errno));
		err("[SYS/TEMP] message unavailable");
		return;
	}
	file_fd_ = std::move(fd);
	stream_index_ = index;
	stream_is_retr_ = body_lines == Pop3MessageEncoder::all_lines;
	encoder_.emplace(body_lines);
	ok(std::to_string(m.vsize) + " octets");
	// The connection calls produce() as the socket drains.
}

void Pop3Session::produce()
{
	char buf[stream_chunk];
	while (file_fd_ && !conn_.output_full()) {
		ssize_t n = read_full(file_fd_.get(), buf, sizeof buf);
		if (n < 0) {
			// The +OK is out already; no -ERR can follow mid-message.
			log_line(LogLevel::error, conn_.peer(), std::string("message read failed: ") + std::strerror(errno));
			end_stream();
			conn_.close("message read failed");
			return;
		}
		// Encoded straight into the output queue: no copy in between.
		auto got = static_cast<std::size_t>(n);
		char *out = conn_.send_reserve(Pop3MessageEncoder::feed_room(got) + Pop3MessageEncoder::finish_room);
		char *end = got > 0 ? encoder_->feed({buf, got}, out) : out;
		if (n == 0 || encoder_->done()) {
			end = encoder_->finish(end);
			conn_.send_commit(static_cast<std::size_t>(end - out));
			if (stream_is_retr_)
				retrieved_[stream_index_] = true;
			end_stream();
			return;
		}
		conn_.send_commit(static_cast<std::size_t>(end - out));
	}
}

void Pop3Session::end_stream()
{
	file_fd_.reset();
	encoder_.reset();
}

void Pop3Session::quit()
{
	if (state_ != State::transaction) {
		state_ = State::done;
		ok("Bye");
		conn_.close_after_output();
		return;
	}
	// UPDATE state.
	state_ = State::done;
	std::vector<std::uint32_t> doomed;
	for (std::size_t i = 0; i < deleted_.size(); i++) {
		if (deleted_[i])
			doomed.push_back(mailbox_.messages()[i].uid);
	}
	std::string error;
	// Retrieved messages become \Seen (flag S), for IMAP clients later.
	for (std::size_t i = 0; i < retrieved_.size(); i++) {
		const auto &m = mailbox_.messages()[i];
		if (retrieved_[i] && !deleted_[i] && m.flags.find('S') == std::string::npos &&
		    !mailbox_.set_flags(i, m.flags + "S", error))
			log_line(LogLevel::warn, conn_.peer(), "user=" + locked_user_ + ": " + error);
	}
	error.clear();
	std::size_t failed = doomed.empty() ? 0 : mailbox_.expunge(doomed, error);
	if (!error.empty())
		log_line(LogLevel::error, conn_.peer(), "user=" + locked_user_ + ": " + error);
	log_line(LogLevel::info, conn_.peer(),
		 "logout user=" + locked_user_ + " deleted=" + std::to_string(doomed.size() - failed));
	release_lock();
	if (failed > 0)
		err("[SYS/TEMP] some deleted messages were not removed");
	else
		ok("Bye, " + std::to_string(doomed.size()) + " messages deleted");
	conn_.close_after_output();
}

} // namespace maild
