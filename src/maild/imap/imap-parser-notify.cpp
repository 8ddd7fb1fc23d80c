// NOTIFY (RFC 5465 section 8, with the verified erratum that puts every event list in
// parentheses): "NOTIFY" SP ("NONE" / "SET" [SP "STATUS"] 1*(SP event-group)).
#include "imap/imap-grammar.hpp"

#include <algorithm>
#include <iterator>

namespace maild {

namespace {

using namespace imap_grammar;
using Group = NotifyGroup;

// A command line is bounded (max_command), but a list of tiny names is many small strings: these
// keep what one NOTIFY may ask for in proportion to what a session watches anyway.
constexpr std::size_t max_groups = 64;
constexpr std::size_t max_names = 1024;

// one-or-more-mailbox = mailbox / "(" mailbox *(SP mailbox) ")"
bool mailboxes(Cursor &c, std::vector<std::string> &out, std::size_t &names)
{
	bool list = c.accept('(');
	do {
		if (++names > max_names)
			return c.fail("too many mailboxes in NOTIFY");
		if (!c.mailbox(out.emplace_back()))
			return false;
	} while (list && c.accept(' '));
	return !list || c.close_paren();
}

bool filter(Cursor &c, Group &g, std::size_t &names)
{
	static constexpr std::pair<const char *, Group::Filter> filters[] = {
		{"SELECTED", Group::Filter::selected}, {"SELECTED-DELAYED", Group::Filter::selected_delayed},
		{"INBOXES", Group::Filter::inboxes}, {"PERSONAL", Group::Filter::personal},
		{"SUBSCRIBED", Group::Filter::subscribed}, {"SUBTREE", Group::Filter::subtree},
		{"MAILBOXES", Group::Filter::mailboxes}};
	std::string_view name;
	if (!c.atom(name))
		return false;
	auto it = std::find_if(std::begin(filters), std::end(filters),
			       [&](const auto &f) { return equal_nocase(name, f.first); });
	if (it == std::end(filters))
		return c.fail("unknown NOTIFY mailbox filter");
	g.filter = it->second;
	if (g.filter == Group::Filter::subtree || g.filter == Group::Filter::mailboxes)
		return c.sp() && mailboxes(c, g.mailboxes, names);
	return true;
}

// events = "(" event *(SP event) ")" / "NONE"; event-ext is any other atom, kept for BADEVENT.
bool events(Cursor &c, Group &g)
{
	static constexpr std::pair<const char *, unsigned> known[] = {
		{"MessageNew", Group::message_new}, {"MessageExpunge", Group::message_expunge},
		{"FlagChange", Group::flag_change}, {"AnnotationChange", Group::annotation_change},
		{"MailboxName", Group::mailbox_name}, {"SubscriptionChange", Group::subscription_change},
		{"MailboxMetadataChange", Group::mailbox_metadata_change},
		{"ServerMetadataChange", Group::server_metadata_change}};
	std::string_view name;
	if (!c.accept('(')) {
		if (!c.atom(name))
			return false;
		return equal_nocase(name, "NONE") || c.fail("NOTIFY events expected");
	}
	do {
		if (!c.atom(name))
			return false;
		auto it = std::find_if(std::begin(known), std::end(known),
				       [&](const auto &k) { return equal_nocase(name, k.first); });
		if (it == std::end(known)) {
			if (g.unknown_events.size() < 16)
				g.unknown_events.emplace_back(name);
			continue;
		}
		if (g.events & it->second)
			return c.fail("NOTIFY event given twice");
		g.events |= it->second;
		// MessageNew SP "(" fetch-att *(SP fetch-att) ")"
		if (it->second == Group::message_new && c.peek() == ' ') {
			std::size_t at = c.pos();
			c.accept(' ');
			if (c.peek() != '(') {
				c.rewind(at);
				continue;
			}
			g.new_fetch_given = true;
			if (!fetch_spec(c, g.new_fetch))
				return false;
		}
	} while (c.accept(' '));
	return c.close_paren();
}

} // namespace

bool imap_grammar::notify_command(Cursor &c, ImapCommand &cmd)
{
	std::string_view word;
	if (!c.sp() || !c.atom(word))
		return false;
	if (equal_nocase(word, "NONE")) {
		cmd.notify.none = true;
		return true;
	}
	if (!equal_nocase(word, "SET"))
		return c.fail("NOTIFY takes SET or NONE");
	if (!c.sp())
		return false;
	if (c.peek() != '(') {
		if (!c.atom(word) || !equal_nocase(word, "STATUS"))
			return c.fail("NOTIFY SET takes STATUS or event groups");
		cmd.notify.status = true;
		if (!c.sp())
			return false;
	}
	std::size_t names = 0;
	do {
		if (cmd.notify.groups.size() >= max_groups)
			return c.fail("too many NOTIFY event groups");
		Group &g = cmd.notify.groups.emplace_back();
		if (!c.expect('(', "NOTIFY event group expected") || !filter(c, g, names) || !c.sp() || !events(c, g))
			return false;
		if (!c.close_paren())
			return false;
	} while (c.accept(' '));
	return true;
}

} // namespace maild
