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
		{V::compress, &ImapSession::compress, authenticated, 0}, // RFC 4978 3
		{V::notify, &ImapSession::notify, authenticated, 0}, // RFC 5465
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
		{V::cancelupdate, &ImapSession::cancelupdate, selected, 0},		// RFC 5267 4.3.5
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
	// RFC 5161 3.1: names the server does not know are ignored, and ENABLED lists only what
	// this command enabled. QRESYNC enables CONDSTORE too (RFC 7162 3.2.3).
	std::string enabled;
	bool had_condstore = condstore_, had_qresync = qresync_;
	for (const auto &name : cmd.args) {
		bool &listed = name == "CONDSTORE" ? had_condstore : had_qresync;
		if ((name != "CONDSTORE" && name != "QRESYNC") || listed)
			continue;
		listed = true;
		condstore_ = true;
		qresync_ = qresync_ || name == "QRESYNC";
		enabled += " " + name;
	}
	untagged("ENABLED" + enabled);
	done_ok(cmd, "Enable completed");
}

std::string ImapSession::modseq_item(std::uint64_t modseq)
{
	return "MODSEQ (" + std::to_string(modseq) + ")";
}

// Without a record of when each message was expunged, every UID of `uids` the mailbox does not
// hold is reported, also those expunged before the client's mod-sequence. The QRESYNC authors
// call such a server compliant but discouraged (RFC 5162 4.1, carried into RFC 7162): the answer
// can be longer than it needs to be, never wrong, since a client ignores UIDs it does not have. Ranges are walked against the mailbox's
// messages, so "1:*" over a mailbox that once held millions costs its messages, not its UIDs.
std::string ImapSession::vanished_uids(const SequenceSet &uids) const
{
	const auto &messages = mailbox_.messages();
	std::uint32_t star = mailbox_.next_uid() - 1;
	std::vector<std::pair<std::uint32_t, std::uint32_t>> ranges;
	for (const auto &r : uids.ranges) {
		std::uint32_t a = r.first == 0 ? star : r.first, b = r.last == 0 ? star : r.last;
		if (a > b)
			std::swap(a, b);
		b = std::min(b, star); // a UID never given cannot have been expunged
		if (a <= b && a > 0)
			ranges.emplace_back(a, b);
	}
	std::sort(ranges.begin(), ranges.end());
	std::string out;
	auto emit = [&out](std::uint32_t a, std::uint32_t b) {
		if (!out.empty())
			out += ',';
		out += std::to_string(a);
		if (b > a)
			out += ":" + std::to_string(b);
	};
	std::uint32_t done = 0; // every UID up to this one is handled
	for (auto [a, b] : ranges) {
		a = std::max(a, done + 1);
		if (a > b)
			continue;
		auto it = std::lower_bound(messages.begin(), messages.end(), a,
					   [](const MessageFile &m, std::uint32_t u) { return m.uid < u; });
		std::uint32_t from = a;
		for (; it != messages.end() && it->uid <= b; ++it) {
			if (it->uid > from)
				emit(from, it->uid - 1);
			from = it->uid + 1;
		}
		if (from <= b && from != 0)
			emit(from, b);
		done = b;
	}
	return out;
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

} // namespace maild
