// ImapSession before login: LOGIN and AUTHENTICATE PLAIN (with SASL-IR), failures answered late.
#include "imap/imap-session.hpp"

#include "auth/passwd-file.hpp"
#include "auth/sasl-plain.hpp"
#include "base/ascii.hpp"
#include "base/log.hpp"

namespace maild {

void ImapSession::login_command(const ImapCommand &cmd)
{
	login(cmd.tag, cmd.args[0], cmd.args[1]);
}

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
	if (!Mailbox::prepare_once(root, error)) {
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

} // namespace maild
