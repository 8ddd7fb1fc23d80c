// The NOTIFY grammar (RFC 5465 section 8, event lists in parentheses as its erratum has them):
// what parse_imap_command() makes of NOTIFY SET / NONE, and what it refuses.
#include "imap/imap-parser.hpp"

#include <catch2/catch.hpp>

using namespace maild;

namespace {

using Filter = NotifyGroup::Filter;

ImapCommand notify_ok(std::string_view text)
{
	ImapCommand c = parse_imap_command(text);
	INFO(std::string(text) + " -> " + (c.error != nullptr ? c.error : "ok"));
	CHECK(c.error == nullptr);
	CHECK(c.verb == ImapVerb::notify);
	return c;
}

} // namespace

TEST_CASE("IMAP NOTIFY (RFC 5465)", "[imap-parser]")
{
	auto none = notify_ok("a NOTIFY NONE");
	CHECK(none.notify.none);
	CHECK(none.notify.groups.empty());

	auto s = notify_ok("a notify set status (selected (MessageNew (uid body.peek[header.fields (from to subject)]) "
			   "MessageExpunge)) (subtree Lists (MessageNew)) (mailboxes (misc inbox) (MessageNew MessageExpunge "
			   "FlagChange)) (personal (MailboxName SubscriptionChange)) (inboxes NONE)");
	CHECK_FALSE(s.notify.none);
	CHECK(s.notify.status);
	REQUIRE(s.notify.groups.size() == 5);
	const auto &sel = s.notify.groups[0];
	CHECK(sel.filter == Filter::selected);
	CHECK(sel.events == (NotifyGroup::message_new | NotifyGroup::message_expunge));
	CHECK(sel.new_fetch_given);
	REQUIRE(sel.new_fetch.size() == 2);
	CHECK(sel.new_fetch[0].kind == FetchAtt::Kind::uid);
	CHECK(sel.new_fetch[1].response_name() == "BODY[HEADER.FIELDS (FROM TO SUBJECT)]");
	CHECK(s.notify.groups[1].filter == Filter::subtree);
	CHECK(s.notify.groups[1].mailboxes == std::vector<std::string>{"Lists"});
	CHECK(s.notify.groups[1].events == NotifyGroup::message_new);
	CHECK(s.notify.groups[2].filter == Filter::mailboxes);
	CHECK(s.notify.groups[2].mailboxes == std::vector<std::string>{"misc", "INBOX"}); // INBOX in any case
	CHECK(s.notify.groups[2].events == (NotifyGroup::message_new | NotifyGroup::message_expunge | NotifyGroup::flag_change));
	CHECK(s.notify.groups[3].filter == Filter::personal);
	CHECK(s.notify.groups[3].events == (NotifyGroup::mailbox_name | NotifyGroup::subscription_change));
	CHECK(s.notify.groups[4].filter == Filter::inboxes);
	CHECK(s.notify.groups[4].events == 0);

	auto d = notify_ok("a NOTIFY SET (SELECTED-DELAYED (MessageNew MessageExpunge)) (SUBSCRIBED (MessageNew MessageExpunge))");
	CHECK_FALSE(d.notify.status);
	CHECK(d.notify.groups[0].filter == Filter::selected_delayed);
	CHECK_FALSE(d.notify.groups[0].new_fetch_given);
	CHECK(d.notify.groups[1].filter == Filter::subscribed);

	// Events this server does not send parse: the session answers NO [BADEVENT].
	auto ext = notify_ok("a NOTIFY SET (PERSONAL (AnnotationChange X-Vendor MailboxMetadataChange ServerMetadataChange))");
	CHECK(ext.notify.groups[0].events ==
	      (NotifyGroup::annotation_change | NotifyGroup::mailbox_metadata_change | NotifyGroup::server_metadata_change));
	CHECK(ext.notify.groups[0].unknown_events == std::vector<std::string>{"X-Vendor"});
	CHECK(notify_ok("a NOTIFY SET (MAILBOXES {3}\r\nfoo (MessageNew MessageExpunge))").notify.groups[0].mailboxes ==
	      std::vector<std::string>{"foo"});

	for (const char *b :
	     {"a NOTIFY", "a NOTIFY SET", "a NOTIFY SET STATUS", "a NOTIFY GET (PERSONAL (MessageNew))",
	      "a NOTIFY NONE (PERSONAL (MessageNew))", "a NOTIFY SET ()", "a NOTIFY SET (PERSONAL)",
	      "a NOTIFY SET (PERSONAL ())", "a NOTIFY SET (PERSONAL (MessageNew)", "a NOTIFY SET (PERSONAL MessageNew)",
	      "a NOTIFY SET (EVERYWHERE (MessageNew))", "a NOTIFY SET (SUBTREE (MessageNew))",
	      "a NOTIFY SET (MAILBOXES () (MessageNew))", "a NOTIFY SET (MAILBOXES (a b (MessageNew))",
	      "a NOTIFY SET (PERSONAL (MessageNew MessageNew MessageExpunge))",
	      "a NOTIFY SET (SELECTED (MessageNew (NOSUCHATT) MessageExpunge))",
	      "a NOTIFY SET (SELECTED (MessageNew () MessageExpunge))", "a NOTIFY SET  (PERSONAL (MessageNew))",
	      "a NOTIFY SET (PERSONAL (MessageNew)) ", "a NOTIFY SET (PERSONAL (MessageNew))(INBOXES NONE)",
	      "a NOTIFY SET STATUS STATUS (PERSONAL (MessageNew))", "a NOTIFY SET (PERSONAL NONE NONE)",
	      "a UID NOTIFY NONE"})
		CHECK(parse_imap_command(b).error != nullptr);

	// Bounded: at most 64 groups and 1024 names, whatever the line holds.
	std::string many = "a NOTIFY SET";
	for (int i = 0; i < 65; i++)
		many += " (INBOXES NONE)";
	CHECK(parse_imap_command(many).error != nullptr);
	std::string names = "a NOTIFY SET (MAILBOXES (";
	for (int i = 0; i < 1025; i++)
		names += (i ? " m" : "m") + std::to_string(i);
	CHECK(parse_imap_command(names + ") NONE)").error != nullptr);
}
