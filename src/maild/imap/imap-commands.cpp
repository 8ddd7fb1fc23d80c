// The IMAP command table: for each verb its handler, the states it is valid in and what the
// session must know about it. execute() looks commands up here and applies the checks the table
// states, so a handler runs only where RFC 3501 section 6 allows it.
#include "imap/imap-session.hpp"

#include "base/log.hpp"

#include <algorithm>
#include <iterator>

namespace maild {

namespace {

using V = ImapVerb;

} // namespace

const ImapSession::CommandSpec *ImapSession::find_command(ImapVerb verb)
{
	constexpr unsigned any = state_bit(State::not_authenticated) | state_bit(State::authenticated) |
				 state_bit(State::selected) | state_bit(State::logout);
	constexpr unsigned not_authenticated = state_bit(State::not_authenticated);
	constexpr unsigned authenticated = state_bit(State::authenticated) | state_bit(State::selected);
	constexpr unsigned selected = state_bit(State::selected);
	static constexpr CommandSpec table[] = {
		// Any state (RFC 3501 6.1).
		{V::capability, &ImapSession::capability, any, 0},
		{V::noop, &ImapSession::noop, any, 0},
		{V::logout, &ImapSession::logout, any, 0},
		{V::starttls, &ImapSession::starttls, any, 0},
		{V::id, &ImapSession::id, any, 0}, // RFC 2971 3.1
		// Not authenticated (6.2).
		{V::login, &ImapSession::login_command, not_authenticated, 0},
		{V::authenticate, &ImapSession::authenticate, not_authenticated, 0},
		// Authenticated (6.3), selected or not.
		{V::namespace_, &ImapSession::namespace_, authenticated, 0},
		{V::select, &ImapSession::select, authenticated, 0},
		{V::examine, &ImapSession::select, authenticated, 0},
		{V::list, &ImapSession::list, authenticated, 0},
		{V::lsub, &ImapSession::list, authenticated, 0},
		{V::status, &ImapSession::status, authenticated, 0},
		{V::create, &ImapSession::create_delete_rename, authenticated, 0},
		{V::delete_, &ImapSession::create_delete_rename, authenticated, 0},
		{V::rename, &ImapSession::create_delete_rename, authenticated, 0},
		{V::subscribe, &ImapSession::subscribe, authenticated, 0},
		{V::unsubscribe, &ImapSession::subscribe, authenticated, 0},
		{V::append, &ImapSession::append_without_literal, authenticated, 0},
		{V::idle, &ImapSession::idle_start, authenticated, 0},
		// RFC 5161 3.1: before a mailbox is selected.
		{V::enable, &ImapSession::enable, state_bit(State::authenticated), 0},
		// Selected (6.4).
		{V::check, &ImapSession::check, selected, 0},
		{V::close, &ImapSession::close_or_unselect, selected, 0},
		{V::unselect, &ImapSession::close_or_unselect, selected, 0},
		{V::expunge, &ImapSession::expunge, selected, uid_form | read_write},
		{V::search, &ImapSession::search, selected, uid_form | sequence_numbers},
		{V::sort, &ImapSession::sort, selected, uid_form | sequence_numbers},	// RFC 5256
		{V::thread, &ImapSession::sort, selected, uid_form | sequence_numbers}, // RFC 5256
		{V::fetch, &ImapSession::fetch, selected, uid_form | sequence_numbers},
		{V::store, &ImapSession::store, selected, uid_form | sequence_numbers | read_write},
		{V::copy, &ImapSession::copy, selected, uid_form | sequence_numbers},
		// Not sequence_numbers: RFC 6851 3.3 has MOVE report its own EXPUNGEs before its reply.
		{V::move, &ImapSession::copy, selected, uid_form | read_write},
	};
	auto it = std::find_if(std::begin(table), std::end(table), [verb](const CommandSpec &c) { return c.verb == verb; });
	return it == std::end(table) ? nullptr : it;
}

void ImapSession::refuse_in_state(const ImapCommand &cmd, const CommandSpec &spec)
{
	if (state_ == State::not_authenticated)
		tagged(cmd.tag, "BAD", "Log in first");
	else if (state_ == State::logout)
		return; // the connection closes once BYE is out
	else if (spec.states & state_bit(State::not_authenticated))
		tagged(cmd.tag, "BAD", "Already logged in");
	else if (state_ != State::selected)
		tagged(cmd.tag, "BAD", "No mailbox selected");
	else
		tagged(cmd.tag, "BAD", "Command not valid in this state");
}

bool ImapSession::expunge_allowed(const ImapCommand &cmd)
{
	const CommandSpec *spec = find_command(cmd.verb);
	return spec == nullptr || !(spec->flags & sequence_numbers) || cmd.uid;
}

void ImapSession::capability(const ImapCommand &cmd)
{
	untagged("CAPABILITY " + capabilities(limits_));
	done_ok(cmd, "Capability completed");
}

void ImapSession::noop(const ImapCommand &cmd)
{
	done_ok(cmd, "NOOP completed");
}

void ImapSession::logout(const ImapCommand &cmd)
{
	untagged("BYE Logging out");
	tagged(cmd.tag, "OK", "Logout completed");
	state_ = State::logout;
	conn_.close_after_output();
}

void ImapSession::starttls(const ImapCommand &cmd)
{
	tagged(cmd.tag, "BAD", "STARTTLS is not available");
}

void ImapSession::id(const ImapCommand &cmd)
{
	// What the client says of itself helps reading a log; every field but a bounded few goes.
	std::string said;
	for (std::size_t i = 0; i + 1 < cmd.args.size() && said.size() < 200; i += 2)
		said += " " + printable(cmd.args[i], 30) + "=" + printable(cmd.args[i + 1], 60);
	if (!said.empty())
		log_line(LogLevel::info, conn_.peer(), "client id:" + said);
	untagged("ID (\"name\" \"maild\")");
	done_ok(cmd, "ID completed");
}

void ImapSession::enable(const ImapCommand &cmd)
{
	// None of the extensions maild has needs enabling, and RFC 5161 3.1 has a server ignore the
	// names it does not know: ENABLED lists nothing.
	untagged("ENABLED");
	done_ok(cmd, "Enable completed");
}

void ImapSession::namespace_(const ImapCommand &cmd)
{
	untagged("NAMESPACE ((\"\" \".\")) NIL NIL");
	done_ok(cmd, "Namespace completed");
}

void ImapSession::check(const ImapCommand &cmd)
{
	done_ok(cmd, "Check completed");
}

void ImapSession::close_or_unselect(const ImapCommand &cmd)
{
	bool close = cmd.verb == ImapVerb::close;
	// CLOSE expunges silently (RFC 3501 6.4.2), UNSELECT does not (RFC 3691).
	if (close && !read_only_)
		expunge_deleted(nullptr);
	close_mailbox();
	tagged(cmd.tag, "OK", close ? "Close completed" : "Unselect completed");
}

void ImapSession::append_without_literal(const ImapCommand &cmd)
{
	// Only reached with the message literal missing: APPEND's literal always starts a stream.
	tagged(cmd.tag, "BAD", "APPEND needs a message literal");
}

} // namespace maild
