// A POP3 session (RFC 1939, CAPA and response codes RFC 2449, AUTH PLAIN RFC 5034) over one
// Connection: AUTHORIZATION -> TRANSACTION -> UPDATE at QUIT. Deletions happen only in UPDATE;
// a session that ends any other way (drop, idle timeout, server shutdown) changes nothing.
#pragma once

#include "auth/session-host.hpp"
#include "base/fd.hpp"
#include "net/connection.hpp"
#include "pop3/pop3-encoder.hpp"
#include "pop3/pop3-parser.hpp"
#include "storage/maildir.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace maild {

class Pop3Session final : public ConnectionHandler {
public:
	Pop3Session(Connection &conn, SessionHost &host);
	~Pop3Session() override;
	Pop3Session(const Pop3Session &) = delete;
	Pop3Session &operator=(const Pop3Session &) = delete;

	// Sends the greeting.
	void start();

	void on_line(std::string_view line) override;
	void on_line_too_long() override;
	bool busy() const override { return delaying_ || streaming(); }
	bool streaming() const override { return static_cast<bool>(file_fd_); }
	void produce() override;
	void on_idle_timeout() override;
	void on_closed() override { release_lock(); }

private:
	enum class State { authorization, sasl_response, transaction, done };

	void ok(std::string_view text);
	void err(std::string_view text);
	void command_authorization(const Pop3Command &cmd);
	void command_transaction(const Pop3Command &cmd);
	void sasl_response(std::string_view line);
	void login(const std::string &user, std::string_view password);
	void fail_login(std::string_view why);
	void wait_for_lock(const std::string &user, std::chrono::steady_clock::time_point until);
	void open_mailbox(const std::string &user);
	void quit();
	void capa();
	// The index of message number `arg` (1-based, not deleted), or nothing after an -ERR reply.
	std::optional<std::size_t> message_arg(std::string_view arg);
	void start_stream(std::size_t index, std::uint64_t body_lines);
	void end_stream();
	void release_lock();

	Connection &conn_;
	SessionHost &host_;
	State state_ = State::authorization;
	std::string user_;        // from USER, until PASS
	std::string locked_user_; // set while this session holds the user's lock
	bool delaying_ = false;
	iol::Timeout delay_;

	Mailbox mailbox_;
	std::vector<bool> deleted_;
	std::vector<bool> retrieved_;

	Fd file_fd_; // the message RETR or TOP is sending
	std::size_t stream_index_ = 0;
	bool stream_is_retr_ = false;
	std::optional<Pop3MessageEncoder> encoder_;
};

} // namespace maild
