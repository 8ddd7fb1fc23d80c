// Unit tests for the IMAP command parser: the commands real clients send (mbsync, fetchmail,
// curl, python imaplib), each grammar rule's edges, and malformed input that must give BAD
// rather than a half-parsed command.
#include "imap/imap-parser.hpp"

#include <catch2/catch.hpp>

using namespace maild;

namespace {

using Op = SearchKey::Op;
using Kind = FetchAtt::Kind;

// A command that must parse: fails the test with the parser's reason otherwise.
ImapCommand ok(std::string_view text)
{
	ImapCommand c = parse_imap_command(text);
	INFO(std::string(text) + " -> " + (c.error != nullptr ? c.error : "ok"));
	CHECK(c.error == nullptr);
	return c;
}

bool bad(std::string_view text)
{
	return parse_imap_command(text).error != nullptr;
}

std::vector<std::string> names(const ImapCommand &c)
{
	std::vector<std::string> out;
	for (const auto &a : c.fetch)
		out.push_back(a.response_name());
	return out;
}

using Strings = std::vector<std::string>;

} // namespace

TEST_CASE("IMAP sequence sets", "[imap-parser]")
{
	auto s = parse_sequence_set("1:3,5,7:*");
	REQUIRE(s);
	REQUIRE(s->ranges.size() == 3);
	CHECK(s->ranges[0].first == 1);
	CHECK(s->ranges[0].last == 3);
	CHECK(s->ranges[1].first == 5);
	CHECK(s->ranges[1].last == 5);
	CHECK(s->ranges[2].first == 7);
	CHECK(s->ranges[2].last == 0);
	CHECK(s->contains(2, 10));
	CHECK_FALSE(s->contains(4, 10));
	CHECK(s->contains(5, 10));
	CHECK_FALSE(s->contains(6, 10));
	CHECK(s->contains(10, 10));
	CHECK_FALSE(s->contains(11, 10));

	// Reversed ranges mean the same as in order; "5:*" with * = 3 is 3:5 (RFC 3501 6.4.8).
	auto r = parse_sequence_set("9:4");
	REQUIRE(r);
	CHECK(r->ranges[0].first == 9);
	CHECK(r->ranges[0].last == 4);
	CHECK(r->contains(4, 100));
	CHECK(r->contains(9, 100));
	CHECK_FALSE(r->contains(10, 100));
	CHECK_FALSE(r->contains(3, 100));
	auto tail = parse_sequence_set("5:*");
	REQUIRE(tail);
	CHECK(tail->contains(3, 3));
	CHECK_FALSE(tail->contains(2, 3));
	auto star = parse_sequence_set("*");
	REQUIRE(star);
	CHECK(star->contains(7, 7));
	CHECK_FALSE(star->contains(6, 7));
	auto star_first = parse_sequence_set("*:4");
	REQUIRE(star_first);
	CHECK(star_first->contains(6, 8));
	CHECK_FALSE(star_first->contains(3, 8));
	CHECK(parse_sequence_set("4294967295"));
	CHECK(parse_sequence_set("4294967295")->contains(4294967295u, 1));

	for (const char *b : {"", "0", "0:3", "3:0", "05", "1,", ",1", "1,,2", "1::2", "1:2:3", "a",
	                      "1 ", "-1", "4294967296", "99999999999999999999", "**", "1:"})
		CHECK_FALSE(parse_sequence_set(b));
}

TEST_CASE("IMAP tags and verbs", "[imap-parser]")
{
	auto c = ok("a1 CAPABILITY");
	CHECK(c.tag == "a1");
	CHECK(c.verb == ImapVerb::capability);
	CHECK(ok("A.0]x noop").verb == ImapVerb::noop);
	CHECK(ok("A.0]x noop").tag == "A.0]x");
	CHECK(ok("t LoGoUt").verb == ImapVerb::logout);
	CHECK(ok("t STARTTLS").verb == ImapVerb::starttls);
	CHECK(ok("t NAMESPACE").verb == ImapVerb::namespace_);
	CHECK(ok("t CHECK").verb == ImapVerb::check);
	CHECK(ok("t CLOSE").verb == ImapVerb::close);
	CHECK(ok("t UNSELECT").verb == ImapVerb::unselect);
	CHECK(ok("t EXPUNGE").verb == ImapVerb::expunge);
	CHECK_FALSE(ok("t EXPUNGE").uid);
	CHECK(ok("t idle").verb == ImapVerb::idle);

	// Unknown verbs: verb unknown, tag kept, no error needed.
	auto u = parse_imap_command("x7 FROBNICATE 1 2");
	CHECK(u.verb == ImapVerb::unknown);
	CHECK(u.tag == "x7");

	// No tag, or not a tag: tag empty and an error.
	for (const char *t : {"", " NOOP", "+ NOOP", "a+b NOOP", "a(b NOOP", "a*b NOOP", "\"a\" NOOP",
	                      "a{1} NOOP", "a%b NOOP", "\xc3\xa4 NOOP"}) {
		auto e = parse_imap_command(t);
		INFO(t);
		CHECK(e.tag.empty());
		CHECK(e.error != nullptr);
	}
	// A tag but no command.
	auto n = parse_imap_command("a1");
	CHECK(n.tag == "a1");
	CHECK(n.error != nullptr);
	CHECK(bad("a1 "));
	CHECK(bad("a1  NOOP"));

	// Arguments where none belong, trailing spaces.
	CHECK(bad("a NOOP x"));
	CHECK(bad("a NOOP "));
	CHECK(bad("a CAPABILITY\r"));
	CHECK(bad("a IDLE now"));
	CHECK(bad("a EXPUNGE 1"));
}

TEST_CASE("IMAP UID prefix", "[imap-parser]")
{
	auto f = ok("a UID FETCH 1:* (UID FLAGS)");
	CHECK(f.uid);
	CHECK(f.verb == ImapVerb::fetch);
	CHECK(ok("a uid store 3 FLAGS ()").verb == ImapVerb::store);
	CHECK(ok("a Uid Copy 3 Trash").verb == ImapVerb::copy);
	CHECK(ok("a UID SEARCH ALL").uid);

	auto e = ok("a UID EXPUNGE 3:5,9");
	CHECK(e.uid);
	CHECK(e.verb == ImapVerb::expunge);
	REQUIRE(e.set.ranges.size() == 2);
	CHECK(e.set.ranges[1].first == 9);
	CHECK(bad("a UID EXPUNGE"));
	CHECK(bad("a UID EXPUNGE 0"));

	for (const char *b : {"a UID", "a UID ", "a UID LOGIN x y", "a UID NOOP", "a UID UID FETCH 1 UID"}) {
		auto c = parse_imap_command(b);
		INFO(b);
		CHECK(c.error != nullptr);
		CHECK(c.verb == ImapVerb::unknown);
	}
}

TEST_CASE("IMAP MOVE, ID and ENABLE", "[imap-parser]")
{
	auto m = ok("a UID MOVE 1:3 \"Sent Items\"");
	CHECK((m.uid && m.verb == ImapVerb::move));
	CHECK(m.args == std::vector<std::string>{"Sent Items"});
	CHECK(ok("a move 2 inbox").args == std::vector<std::string>{"INBOX"});
	CHECK(bad("a MOVE 1"));

	auto id = ok("a ID (\"name\" \"x\" \"version\" NIL)");
	CHECK(id.verb == ImapVerb::id);
	CHECK(id.args == std::vector<std::string>{"name", "x", "version", ""});
	CHECK(ok("a ID NIL").args.empty());
	for (const char *b : {"a ID", "a ID ()", "a ID (\"name\")", "a ID (name \"x\")", "a ID (\"a\" \"b\" )", "a ID x"}) {
		INFO(b);
		CHECK(bad(b));
	}

	auto e = ok("a ENABLE condstore X-Y");
	CHECK((e.verb == ImapVerb::enable && e.args == std::vector<std::string>{"CONDSTORE", "X-Y"}));
	CHECK(bad("a ENABLE"));
	CHECK(bad("a ENABLE x  y"));
}

TEST_CASE("IMAP SEARCH RETURN (ESEARCH, SAVE) and the saved set $", "[imap-parser]")
{
	auto s = ok("a SEARCH RETURN (MIN count Save) CHARSET UTF-8 ALL");
	CHECK(s.search_return_given);
	CHECK(s.search_return == (ImapCommand::ret_min | ImapCommand::ret_count | ImapCommand::ret_save));
	CHECK(s.charset == "UTF-8");
	auto empty = ok("a UID SEARCH RETURN () 1:*");
	CHECK((empty.search_return_given && empty.search_return == 0 && empty.uid));
	CHECK_FALSE(ok("a SEARCH ALL").search_return_given);
	for (const char *b : {"a SEARCH RETURN (FOO) ALL", "a SEARCH RETURN (MIN)", "a SEARCH RETURN MIN ALL", "a SEARCH RETURN (MIN ALL"}) {
		INFO(b);
		CHECK(bad(b));
	}
	CHECK(ok("a FETCH $ (UID)").set.saved);
	CHECK(ok("a UID STORE $ +FLAGS (x)").set.saved);
	auto key = ok("a SEARCH UID $ $");
	REQUIRE(key.search.children.size() == 2);
	CHECK(key.search.children[0].set.saved);
	CHECK((key.search.children[1].op == SearchKey::Op::sequence && key.search.children[1].set.saved));
	CHECK(bad("a FETCH $1 (UID)"));
	CHECK(sequence_set_text({1, 2, 3, 5, 7, 8}) == "1:3,5,7:8");
}

TEST_CASE("IMAP LIST-EXTENDED: selection and return options, several patterns", "[imap-parser]")
{
	auto l = ok("a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"INBOX\" W%) RETURN (CHILDREN STATUS (MESSAGES unseen))");
	CHECK(l.list_select == (ImapCommand::list_subscribed | ImapCommand::list_recursivematch));
	CHECK(l.list_return == (ImapCommand::list_children | ImapCommand::list_status));
	CHECK(l.list_patterns == std::vector<std::string>{"INBOX", "W%"});
	CHECK(l.args[1] == "INBOX");
	CHECK(l.status_items == std::vector<std::string>{"MESSAGES", "UNSEEN"});
	auto plain = ok("a LIST \"\" *");
	CHECK((plain.list_select == 0 && plain.list_return == 0 && plain.list_patterns.size() == 1));
	CHECK(ok("a LIST () \"\" * RETURN ()").list_patterns.size() == 1);
	for (const char *b : {"a LIST (RECURSIVEMATCH) \"\" *", "a LIST (FOO) \"\" *", "a LIST \"\" * RETURN (FOO)",
			      "a LIST \"\" * RETURN", "a LIST \"\" ()", "a LSUB (SUBSCRIBED) \"\" *",
			      "a LSUB \"\" (a b)", "a LIST \"\" * RETURN (STATUS (BOGUS))"}) {
		INFO(b);
		CHECK(bad(b));
	}
}

TEST_CASE("IMAP strings: atoms, quoted with escapes, literals", "[imap-parser]")
{
	// python imaplib quotes a password with a space.
	auto l = ok("a LOGIN alice \"open sesame\"");
	CHECK(l.verb == ImapVerb::login);
	CHECK(l.args == Strings{"alice", "open sesame"});
	CHECK(ok("a login \"a\\\"b\" \"c\\\\d\"").args == Strings{"a\"b", "c\\d"});
	CHECK(ok("a LOGIN \"\" \"\"").args == Strings{"", ""});
	CHECK(ok("a LOGIN us]er p]").args == Strings{"us]er", "p]"}); // ']' is an ASTRING-CHAR
	CHECK(ok("a LOGIN \"b\xc3\xa4r\" x").args[0] == "b\xc3\xa4r");

	// Literals inline, synchronizing or not, holding anything but NUL.
	auto lit = ok("a1 LOGIN {5}\r\nalice {4+}\r\npass");
	CHECK(lit.args == Strings{"alice", "pass"});
	auto odd = ok(std::string_view("a LOGIN {3}\r\n\"\r\n {0}\r\n", 22));
	CHECK(odd.args == Strings{"\"\r\n", ""});

	CHECK(bad("a LOGIN \"x y"));          // unterminated
	CHECK(bad("a LOGIN \"x\\y\" z"));     // only \" and \\ escape
	CHECK(bad("a LOGIN \"x\\"));
	CHECK(bad("a LOGIN \"x\ry\" z"));
	CHECK(bad(std::string_view("a LOGIN \"x\0y\" z", 15)));
	CHECK(bad("a LOGIN {5}\r\nalic"));    // literal truncated
	CHECK(bad("a LOGIN {5}\r\nalice"));   // password missing
	CHECK(bad("a LOGIN {5}alice x"));     // no CRLF after the spec
	CHECK(bad("a LOGIN {5}\nalice x"));
	CHECK(bad("a LOGIN {}\r\n x"));
	CHECK(bad("a LOGIN {5x}\r\nalice x"));
	CHECK(bad("a LOGIN {99999999999999999999999}\r\nalice x"));
	CHECK(bad(std::string_view("a LOGIN {3}\r\na\0b x", 18)));
	CHECK(bad("a LOGIN alice"));
	CHECK(bad("a LOGIN"));
	CHECK(bad("a LOGIN alice pass extra"));
	CHECK(bad("a LOGIN al(ice pass"));
	CHECK(bad("a LOGIN al*ce pass"));
	CHECK(bad("a LOGIN al%ce pass"));
	CHECK(bad("a LOGIN \xc3\xa4 pass")); // 8-bit only inside strings
}

TEST_CASE("IMAP AUTHENTICATE with and without an initial response", "[imap-parser]")
{
	auto a = ok("a AUTHENTICATE plain AGFsaWNlAHBhc3M=");
	CHECK(a.verb == ImapVerb::authenticate);
	CHECK(a.args == Strings{"PLAIN", "AGFsaWNlAHBhc3M="});
	CHECK(ok("a AUTHENTICATE PLAIN").args == Strings{"PLAIN"});
	CHECK(ok("a AUTHENTICATE PLAIN =").args == Strings{"PLAIN", "="});
	CHECK(ok("a AUTHENTICATE X AB+/").args[1] == "AB+/");
	CHECK(bad("a AUTHENTICATE"));
	CHECK(bad("a AUTHENTICATE PLAIN "));
	CHECK(bad("a AUTHENTICATE PLAIN abc"));   // not whole groups of four
	CHECK(bad("a AUTHENTICATE PLAIN ab=c"));  // '=' only at the end
	CHECK(bad("a AUTHENTICATE PLAIN a==="));
	CHECK(bad("a AUTHENTICATE PLAIN ab*d"));
	CHECK(bad("a AUTHENTICATE PLAIN AGFs x"));
	CHECK(bad("a AUTHENTICATE \"PLAIN\""));
}

TEST_CASE("IMAP mailbox commands", "[imap-parser]")
{
	auto l = ok("a LIST \"\" \"*\"");
	CHECK(l.verb == ImapVerb::list);
	CHECK(l.args == Strings{"", "*"});
	CHECK(ok("a LIST \"\" *").args == Strings{"", "*"});
	CHECK(ok("a lsub Work %.a*]").args == Strings{"Work", "%.a*]"});
	CHECK(ok("a LSUB \"\" %").verb == ImapVerb::lsub);
	CHECK(ok("a LIST inbox {1}\r\n%").args == Strings{"inbox", "%"}); // reference as sent
	CHECK(bad("a LIST \"\""));
	CHECK(bad("a LIST \"\" "));
	CHECK(bad("a LIST \"\" a(b"));

	CHECK(ok("a SELECT INBOX").verb == ImapVerb::select);
	CHECK(ok("a select inbox").args == Strings{"INBOX"}); // INBOX is case-insensitive
	CHECK(ok("a EXAMINE \"InBoX\"").args == Strings{"INBOX"});
	CHECK(ok("a SELECT INBOX.sub").args == Strings{"INBOX.sub"});
	CHECK(ok("a CREATE Foo").verb == ImapVerb::create);
	CHECK(ok("a DELETE {3}\r\nFoo").args == Strings{"Foo"});
	CHECK(ok("a DELETE Foo").verb == ImapVerb::delete_);
	CHECK(ok("a SUBSCRIBE Foo").verb == ImapVerb::subscribe);
	CHECK(ok("a UNSUBSCRIBE Foo").verb == ImapVerb::unsubscribe);
	auto r = ok("a RENAME \"Old Name\" new");
	CHECK(r.verb == ImapVerb::rename);
	CHECK(r.args == Strings{"Old Name", "new"});
	CHECK(bad("a RENAME old"));
	CHECK(bad("a SELECT"));
	CHECK(bad("a SELECT INBOX (FOO)"));
	CHECK(bad("a SELECT a b"));

	auto s = ok("a STATUS INBOX (messages UIDNEXT UidValidity UNSEEN RECENT)");
	CHECK(s.verb == ImapVerb::status);
	CHECK(s.args == Strings{"INBOX"});
	CHECK(s.status_items == Strings{"MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "RECENT"});
	CHECK(bad("a STATUS INBOX ()"));
	CHECK(bad("a STATUS INBOX (MESSAGES"));
	CHECK(bad("a STATUS INBOX (SIZE)"));
	CHECK(bad("a STATUS INBOX MESSAGES"));
	CHECK(bad("a STATUS INBOX (MESSAGES  UNSEEN)"));
	CHECK(bad("a STATUS INBOX"));

	auto c = ok("a COPY 2:4 \"Saved Mail\"");
	CHECK(c.verb == ImapVerb::copy);
	CHECK(c.set.ranges[0].first == 2);
	CHECK(c.args == Strings{"Saved Mail"});
	CHECK(bad("a COPY 2:4"));
	CHECK(bad("a COPY 0 x"));
	CHECK(bad("a COPY x y"));
}

TEST_CASE("IMAP FETCH items and their response names", "[imap-parser]")
{
	auto f = ok("a UID FETCH 1:100 (UID FLAGS)"); // mbsync
	CHECK(f.verb == ImapVerb::fetch);
	CHECK(f.set.ranges[0].last == 100);
	CHECK(names(f) == Strings{"UID", "FLAGS"});
	CHECK(f.fetch[0].kind == Kind::uid);
	CHECK(f.fetch[1].kind == Kind::flags);

	auto all = ok("a FETCH 1 (uid flags internaldate rfc822.size rfc822 rfc822.header rfc822.text "
	              "envelope body bodystructure)");
	CHECK(names(all) == Strings{"UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "RFC822",
	                            "RFC822.HEADER", "RFC822.TEXT", "ENVELOPE", "BODY", "BODYSTRUCTURE"});
	CHECK(all.fetch[8].kind == Kind::body);
	CHECK(all.fetch[9].kind == Kind::bodystructure);
	CHECK(all.fetch[5].kind == Kind::rfc822_header);

	// fetchmail and curl send single items without parentheses.
	CHECK(names(ok("a FETCH 1:3 RFC822.SIZE")) == Strings{"RFC822.SIZE"});
	CHECK(names(ok("a FETCH 2 RFC822.HEADER")) == Strings{"RFC822.HEADER"});

	auto peek = ok("a UID FETCH 5 (BODY.PEEK[])");
	REQUIRE(peek.fetch.size() == 1);
	CHECK(peek.fetch[0].kind == Kind::body_section);
	CHECK(peek.fetch[0].peek);
	CHECK(peek.fetch[0].part.empty());
	CHECK(peek.fetch[0].text == SectionText::none);
	CHECK(peek.fetch[0].response_name() == "BODY[]"); // never BODY.PEEK in a response

	auto body = ok("a FETCH 1 BODY[]");
	CHECK_FALSE(body.fetch[0].peek);
	CHECK(body.fetch[0].response_name() == "BODY[]");

	auto hf = ok("a FETCH 1 (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])");
	CHECK(hf.fetch[0].text == SectionText::header_fields);
	CHECK(hf.fetch[0].fields == Strings{"MESSAGE-ID"});
	CHECK(hf.fetch[0].response_name() == "BODY[HEADER.FIELDS (MESSAGE-ID)]");

	auto lower = ok("a fetch 1 body.peek[header.fields.not (from \"x y\" {2}\r\nto)]");
	CHECK(lower.fetch[0].peek);
	CHECK(lower.fetch[0].text == SectionText::header_fields_not);
	CHECK(lower.fetch[0].fields == Strings{"FROM", "X Y", "TO"});
	CHECK(lower.fetch[0].response_name() == "BODY[HEADER.FIELDS.NOT (FROM \"X Y\" TO)]");

	auto text = ok("a FETCH 2 BODY.PEEK[TEXT]"); // fetchmail
	CHECK(text.fetch[0].text == SectionText::text);
	CHECK(text.fetch[0].response_name() == "BODY[TEXT]");
	CHECK(ok("a FETCH 2 BODY[header]").fetch[0].response_name() == "BODY[HEADER]");

	auto mime = ok("a FETCH 1 BODY[1.2.MIME]");
	CHECK(mime.fetch[0].part == std::vector<std::uint32_t>{1, 2});
	CHECK(mime.fetch[0].text == SectionText::mime);
	CHECK(mime.fetch[0].response_name() == "BODY[1.2.MIME]");
	CHECK(ok("a FETCH 1 BODY[3]").fetch[0].response_name() == "BODY[3]");
	CHECK(ok("a FETCH 1 BODY[3.1.TEXT]").fetch[0].response_name() == "BODY[3.1.TEXT]");
	CHECK(ok("a FETCH 1 BODY[2.HEADER.FIELDS (Subject)]").fetch[0].response_name() ==
	      "BODY[2.HEADER.FIELDS (SUBJECT)]");

	// Partials: <origin.count>; the response names the origin only.
	auto p = ok("a FETCH 1 BODY[]<100.50>");
	CHECK(p.fetch[0].partial);
	CHECK(p.fetch[0].origin == 100);
	CHECK(p.fetch[0].count == 50);
	CHECK(p.fetch[0].response_name() == "BODY[]<100>");
	auto p0 = ok("a FETCH 1 (BODY.PEEK[1.TEXT]<0.4294967295> FLAGS)");
	CHECK(p0.fetch[0].origin == 0);
	CHECK(p0.fetch[0].count == 4294967295u);
	CHECK(p0.fetch[0].response_name() == "BODY[1.TEXT]<0>");
	CHECK_FALSE(ok("a FETCH 1 BODY[]").fetch[0].partial);

	for (const char *b : {
		     "a FETCH 1 BODY[]<100.0>",      // count is nz-number
		     "a FETCH 1 BODY[]<100>",        // count required
		     "a FETCH 1 BODY[]<.5>",
		     "a FETCH 1 BODY[]<1.5",
		     "a FETCH 1 BODY[]<4294967296.5>",
		     "a FETCH 1 BODY<0.5>",          // partial needs a section
		     "a FETCH 1 RFC822.SIZE[]",
		     "a FETCH 1 BODY.PEEK",          // PEEK needs a section
		     "a FETCH 1 BODY[MIME]",         // MIME needs a part
		     "a FETCH 1 BODY[0]",
		     "a FETCH 1 BODY[01]",
		     "a FETCH 1 BODY[1.]",
		     "a FETCH 1 BODY[1.0]",
		     "a FETCH 1 BODY[.1]",
		     "a FETCH 1 BODY[HEADERS]",
		     "a FETCH 1 BODY[1.2",
		     "a FETCH 1 BODY[HEADER.FIELDS]",
		     "a FETCH 1 BODY[HEADER.FIELDS ()]",
		     "a FETCH 1 BODY[HEADER.FIELDS (A]",
		     "a FETCH 1 BODY[HEADER.FIELDS(A)]",
		     "a FETCH 1 BODY[TEXT (A)]",
		     "a FETCH 1 BODY[HEADER] x",
		     "a FETCH 1 UIDS",
		     "a FETCH 1 ()",
		     "a FETCH 1 (UID",
		     "a FETCH 1 (UID FLAGS))",
		     "a FETCH 1 (UID  FLAGS)",
		     "a FETCH 1 ( UID)",
		     "a FETCH 1 UID FLAGS",
		     "a FETCH 1",
		     "a FETCH 1 ",
		     "a FETCH",
		     "a FETCH UID",
		     "a FETCH 0 UID",
		     "a FETCH 1:0 UID",
		     "a FETCH 1,,2 UID",
		     "a FETCH 1:3x UID",
	     }) {
		INFO(b);
		CHECK(bad(b));
	}
}

TEST_CASE("IMAP FETCH macros", "[imap-parser]")
{
	CHECK(names(ok("a FETCH 1 ALL")) == Strings{"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"});
	CHECK(names(ok("a FETCH 1 fast")) == Strings{"FLAGS", "INTERNALDATE", "RFC822.SIZE"});
	CHECK(names(ok("a FETCH 1 Full")) ==
	      Strings{"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"});
	CHECK(ok("a FETCH 1 FULL").fetch[4].kind == Kind::body);
	// RFC 3501 6.4.5: a macro stands alone.
	CHECK(bad("a FETCH 1 (ALL)"));
	CHECK(bad("a FETCH 1 (FLAGS FAST)"));
	CHECK(bad("a FETCH 1 ALL FLAGS"));
	CHECK(bad("a FETCH 1 ALL[]"));
}

TEST_CASE("IMAP STORE modes and flags", "[imap-parser]")
{
	auto m = ok("a UID STORE 3 +FLAGS.SILENT (\\Deleted)"); // mbsync
	CHECK(m.verb == ImapVerb::store);
	CHECK(m.uid);
	CHECK(m.store_mode == ImapCommand::StoreMode::add);
	CHECK(m.silent);
	CHECK(m.flags == Strings{"\\Deleted"});

	auto f = ok("a STORE 2 +FLAGS (\\Seen)"); // fetchmail
	CHECK(f.store_mode == ImapCommand::StoreMode::add);
	CHECK_FALSE(f.silent);

	auto bare = ok("a STORE 1:* -flags \\Seen \\Deleted $Junk");
	CHECK(bare.store_mode == ImapCommand::StoreMode::remove);
	CHECK(bare.flags == Strings{"\\Seen", "\\Deleted", "$Junk"});

	auto rep = ok("a STORE 4 FLAGS ()");
	CHECK(rep.store_mode == ImapCommand::StoreMode::replace);
	CHECK(rep.flags.empty());
	auto rep2 = ok("a STORE 4 flags.silent (\\Answered work)");
	CHECK(rep2.store_mode == ImapCommand::StoreMode::replace);
	CHECK(rep2.silent);
	CHECK(rep2.flags == Strings{"\\Answered", "work"});

	for (const char *b : {"a STORE 1 FLAGS", "a STORE 1 FLAGS ", "a STORE 1 +FLAGS (\\Seen",
	                      "a STORE 1 +FLAGS \\Seen)", "a STORE 1 *FLAGS (\\Seen)",
	                      "a STORE 1 + FLAGS (\\Seen)", "a STORE 1 +FLAGS.LOUD (\\Seen)",
	                      "a STORE 1 LABELS (x)", "a STORE 1 +FLAGS (\\)", "a STORE 1 +FLAGS (\\*)",
	                      "a STORE 1 +FLAGS (\\Seen  \\Deleted)", "a STORE 1 +FLAGS (\"x\")",
	                      "a STORE 1 +FLAGS (a]b)", "a STORE 0 +FLAGS (\\Seen)", "a STORE 1",
	                      "a STORE +FLAGS (\\Seen)", "a STORE 1 +FLAGS \\Seen ", "a STORE 1 +FLAGS () x"}) {
		INFO(b);
		CHECK(bad(b));
	}
}

TEST_CASE("IMAP APPEND with flags, date and the message literal", "[imap-parser]")
{
	auto m = ok("a APPEND \"INBOX\" (\\Seen) {123+}"); // mbsync
	CHECK(m.verb == ImapVerb::append);
	CHECK(m.args == Strings{"INBOX"});
	CHECK(m.flags == Strings{"\\Seen"});
	CHECK_FALSE(m.internal_date);
	CHECK(m.literal_size == 123);

	auto c = ok("a APPEND INBOX (\\Seen) {42}"); // curl
	CHECK(c.literal_size == 42);

	auto plain = ok("a APPEND Drafts {0}");
	CHECK(plain.args == Strings{"Drafts"});
	CHECK(plain.flags.empty());
	CHECK(plain.literal_size == 0);

	auto full = ok("a APPEND saved (\\Seen $Work) \"17-Jul-1996 02:44:25 -0700\" {310}");
	CHECK(full.args == Strings{"saved"});
	CHECK(full.flags == Strings{"\\Seen", "$Work"});
	REQUIRE(full.internal_date);
	CHECK(*full.internal_date == 837596665);
	CHECK(full.literal_size == 310);

	auto date_only = ok("a APPEND inbox \" 5-Mar-2024 12:00:00 +0530\" {7+}");
	CHECK(date_only.args == Strings{"INBOX"});
	REQUIRE(date_only.internal_date);
	CHECK(*date_only.internal_date == 1709620200);

	auto lit_box = ok("a APPEND {9}\r\nOld Stuff () {18446744073709551615}");
	CHECK(lit_box.args == Strings{"Old Stuff"});
	CHECK(lit_box.literal_size == UINT64_MAX);

	for (const char *b : {"a APPEND INBOX", "a APPEND INBOX (\\Seen)", "a APPEND {5}",
	                      "a APPEND INBOX {5}\r\n", "a APPEND INBOX {5}\r\nhello", "a APPEND INBOX {5} ",
	                      "a APPEND INBOX \"hello\"", "a APPEND INBOX (\\Seen) (\\Draft) {5}",
	                      "a APPEND INBOX \"17-Jul-1996 02:44:25 -0700\" (\\Seen) {5}",
	                      "a APPEND INBOX \"31-Feb-1996 02:44:25 -0700\" {5}",
	                      "a APPEND INBOX \"17-Jul-1996\" {5}", "a APPEND INBOX {18446744073709551616}",
	                      "a APPEND INBOX {}", "a APPEND INBOX {5+", "a APPEND INBOX  {5}",
	                      "a APPEND INBOX (\\Seen {5}", "a UID APPEND INBOX {5}"}) {
		INFO(b);
		CHECK(bad(b));
	}
}

TEST_CASE("IMAP MULTIAPPEND: several messages, each literal's bytes cut out", "[imap-parser]")
{
	auto m = ok("a APPEND Box (\\Seen) \"17-Jul-1996 02:44:25 -0700\" {3} (\\Flagged $Work) {4+} ~{5} \" 5-Mar-2024 12:00:00 +0530\" {0}");
	CHECK(m.verb == ImapVerb::append);
	CHECK(m.args == Strings{"Box"});
	REQUIRE(m.append_messages.size() == 4);
	CHECK(m.append_messages[0].flags == Strings{"\\Seen"});
	CHECK(m.append_messages[0].internal_date == std::optional<std::int64_t>(837596665));
	CHECK(m.append_messages[0].size == 3);
	CHECK(m.append_messages[1].flags == Strings{"\\Flagged", "$Work"});
	CHECK_FALSE(m.append_messages[1].internal_date);
	CHECK(m.append_messages[1].size == 4);
	CHECK(m.append_messages[2].binary);
	CHECK(m.append_messages[2].flags.empty());
	CHECK(m.append_messages[2].size == 5);
	CHECK(m.append_messages[3].internal_date == std::optional<std::int64_t>(1709620200));
	CHECK(m.append_messages[3].size == 0);
	// The first message's fields as a single APPEND has them.
	CHECK(m.flags == Strings{"\\Seen"});
	CHECK(m.literal_size == 3);

	auto one = ok("a APPEND INBOX {7}");
	CHECK(one.append_messages.size() == 1);

	// The session checks each text that ends in a spec: a message literal only when the whole
	// APPEND so far is valid.
	CHECK(is_append_message_literal("a APPEND INBOX {3} {4}"));
	CHECK(is_append_message_literal("a APPEND INBOX {3+} (\\Seen) ~{4+}"));
	CHECK_FALSE(is_append_message_literal("a APPEND INBOX {3} (\\Bogus"));
	CHECK_FALSE(is_append_message_literal("a APPEND INBOX {3} \"31-Feb-2024 00:00:00 +0000\" {4}"));

	for (const char *b : {"a APPEND INBOX {3} ", "a APPEND INBOX {3}  {4}", "a APPEND INBOX {3}{4}",
	                      "a APPEND INBOX {3} (\\Seen)", "a APPEND INBOX {3} (\\Seen) ",
	                      "a APPEND INBOX {3} \"17-Jul-1996 02:44:25 -0700\" (\\Seen) {4}",
	                      "a APPEND INBOX {3} Box {4}", "a APPEND INBOX {3} {4} x", "a APPEND INBOX {3} {4}\r\nabcd"}) {
		INFO(b);
		CHECK(bad(b));
	}
}

TEST_CASE("IMAP SEARCH keys", "[imap-parser]")
{
	auto f = ok("a SEARCH UNSEEN UNDELETED"); // fetchmail
	CHECK(f.verb == ImapVerb::search);
	CHECK(f.search.op == Op::and_);
	REQUIRE(f.search.children.size() == 2);
	CHECK(f.search.children[0].op == Op::unseen);
	CHECK(f.search.children[1].op == Op::undeleted);
	CHECK(f.charset.empty());

	struct Simple {
		const char *name;
		Op op;
	};
	for (auto s : {Simple{"ALL", Op::all}, {"answered", Op::answered}, {"Deleted", Op::deleted},
	               {"DRAFT", Op::draft}, {"FLAGGED", Op::flagged}, {"SEEN", Op::seen},
	               {"RECENT", Op::recent}, {"NEW", Op::new_}, {"OLD", Op::old},
	               {"UNANSWERED", Op::unanswered}, {"UNDELETED", Op::undeleted},
	               {"UNDRAFT", Op::undraft}, {"UNFLAGGED", Op::unflagged}, {"unseen", Op::unseen}}) {
		auto c = ok(std::string("a SEARCH ") + s.name);
		REQUIRE(c.search.children.size() == 1);
		CHECK(c.search.children[0].op == s.op);
	}

	auto strings = ok("a SEARCH FROM alice TO \"b c\" CC {1}\r\nd BCC e SUBJECT \"\" BODY x TEXT y "
	                  "KEYWORD $Junk UNKEYWORD work LARGER 100 SMALLER 4294967295");
	const auto &k = strings.search.children;
	REQUIRE(k.size() == 11);
	CHECK(k[0].op == Op::from);
	CHECK(k[0].str == "alice");
	CHECK(k[1].op == Op::to);
	CHECK(k[1].str == "b c");
	CHECK(k[2].op == Op::cc);
	CHECK(k[2].str == "d");
	CHECK(k[3].op == Op::bcc);
	CHECK(k[4].op == Op::subject);
	CHECK(k[4].str.empty());
	CHECK(k[5].op == Op::body);
	CHECK(k[6].op == Op::text);
	CHECK(k[6].str == "y");
	CHECK(k[7].op == Op::keyword);
	CHECK(k[7].str == "$Junk");
	CHECK(k[8].op == Op::unkeyword);
	CHECK(k[9].op == Op::larger);
	CHECK(k[9].number == 100);
	CHECK(k[10].op == Op::smaller);
	CHECK(k[10].number == 4294967295u);

	auto h = ok("a SEARCH HEADER Message-ID \"<x@y>\"");
	REQUIRE(h.search.children.size() == 1);
	CHECK(h.search.children[0].op == Op::header);
	CHECK(h.search.children[0].str == "MESSAGE-ID");
	CHECK(h.search.children[0].value == "<x@y>");
	CHECK(ok("a SEARCH HEADER X-Empty \"\"").search.children[0].value.empty());

	CHECK(bad("a SEARCH SUBJECT caf\xc3\xa9")); // 8-bit only in strings
	auto cs2 = ok("a SEARCH charset \"utf-8\" SUBJECT \"caf\xc3\xa9\"");
	CHECK(cs2.charset == "UTF-8");
	CHECK(cs2.search.children[0].str == "caf\xc3\xa9");
	CHECK(bad("a SEARCH CHARSET"));
	CHECK(bad("a SEARCH CHARSET UTF-8"));
	CHECK(bad("a SEARCH CHARSET UTF-8 "));
}

TEST_CASE("IMAP SEARCH dates", "[imap-parser]")
{
	auto d = ok("a SEARCH SINCE 1-Feb-1994 BEFORE \"01-feb-1994\" ON 29-FEB-2000 SENTSINCE 31-Dec-1969 "
	            "SENTBEFORE 5-Dec-2024 SENTON \"29-Feb-2020\"");
	const auto &k = d.search.children;
	REQUIRE(k.size() == 6);
	CHECK(k[0].op == Op::since);
	CHECK(k[0].day == 8797);
	CHECK(k[1].op == Op::before);
	CHECK(k[1].day == 8797);
	CHECK(k[2].op == Op::on);
	CHECK(k[2].day == 11016);
	CHECK(k[3].op == Op::sentsince);
	CHECK(k[3].day == -1);
	CHECK(k[4].op == Op::sentbefore);
	CHECK(k[4].day == 20062);
	CHECK(k[5].op == Op::senton);
	CHECK(k[5].day == 18321);
	CHECK(ok("a SEARCH ON 1-Jan-1970").search.children[0].day == 0);

	for (const char *b : {"a SEARCH SINCE", "a SEARCH SINCE 29-Feb-2100", "a SEARCH SINCE 30-Feb-2000",
	                      "a SEARCH SINCE 31-Apr-2020", "a SEARCH SINCE 0-Jan-2020",
	                      "a SEARCH SINCE 001-Jan-2020", "a SEARCH SINCE 1-Jan-20",
	                      "a SEARCH SINCE 1-Jan-20201", "a SEARCH SINCE 1-Foo-2020",
	                      "a SEARCH SINCE 1 Jan 2020", "a SEARCH SINCE \"1-Jan-2020",
	                      "a SEARCH SINCE \" 1-Jan-2020\"", "a SEARCH SINCE 1-Jan-2020x",
	                      "a SEARCH SINCE {10}\r\n1-Jan-2020", "a SEARCH SINCE 1-January-2020",
	                      "a SEARCH SINCE 2020-01-01"}) {
		INFO(b);
		CHECK(bad(b));
	}
}

TEST_CASE("IMAP SEARCH trees", "[imap-parser]")
{
	// OR and NOT take one key each, which may be a list; juxtaposition is AND.
	auto c = ok("a SEARCH or (seen flagged) NOT (FROM x OR 1:3 UID 5:*) DELETED");
	const auto &top = c.search;
	CHECK(top.op == Op::and_);
	REQUIRE(top.children.size() == 2);
	const auto &o = top.children[0];
	CHECK(o.op == Op::or_);
	REQUIRE(o.children.size() == 2);
	CHECK(o.children[0].op == Op::and_);
	REQUIRE(o.children[0].children.size() == 2);
	CHECK(o.children[0].children[0].op == Op::seen);
	CHECK(o.children[0].children[1].op == Op::flagged);
	CHECK(o.children[1].op == Op::not_);
	REQUIRE(o.children[1].children.size() == 1);
	const auto &list = o.children[1].children[0];
	CHECK(list.op == Op::and_);
	REQUIRE(list.children.size() == 2);
	CHECK(list.children[0].op == Op::from);
	const auto &inner_or = list.children[1];
	CHECK(inner_or.op == Op::or_);
	REQUIRE(inner_or.children.size() == 2);
	CHECK(inner_or.children[0].op == Op::sequence);
	CHECK(inner_or.children[0].set.contains(2, 10));
	CHECK(inner_or.children[1].op == Op::uid);
	CHECK(inner_or.children[1].set.ranges[0].first == 5);
	CHECK(inner_or.children[1].set.ranges[0].last == 0);
	CHECK(top.children[1].op == Op::deleted);

	auto u = ok("a UID SEARCH UID 1:*");
	REQUIRE(u.search.children.size() == 1);
	CHECK(u.search.children[0].op == Op::uid);
	CHECK(u.search.children[0].set.contains(1, 1));

	auto seq = ok("a SEARCH 2,4:* NOT NOT 3");
	REQUIRE(seq.search.children.size() == 2);
	CHECK(seq.search.children[0].op == Op::sequence);
	CHECK(seq.search.children[1].op == Op::not_);
	CHECK(seq.search.children[1].children[0].op == Op::not_);
	CHECK(seq.search.children[1].children[0].children[0].op == Op::sequence);

	auto nested = ok("a SEARCH ((((ALL))))");
	CHECK(nested.search.children[0].children[0].children[0].children[0].children[0].op == Op::all);

	for (const char *b : {"a SEARCH", "a SEARCH ", "a SEARCH ()", "a SEARCH (SEEN", "a SEARCH SEEN)",
	                      "a SEARCH ((SEEN)", "a SEARCH (SEEN))", "a SEARCH OR SEEN", "a SEARCH OR SEEN ",
	                      "a SEARCH NOT", "a SEARCH NOT ()", "a SEARCH SEEN  FLAGGED",
	                      "a SEARCH ( SEEN)", "a SEARCH (SEEN )", "a SEARCH FOO", "a SEARCH 0",
	                      "a SEARCH 1:0", "a SEARCH UID", "a SEARCH UID 0", "a SEARCH UID x",
	                      "a SEARCH LARGER", "a SEARCH LARGER x", "a SEARCH LARGER 4294967296",
	                      "a SEARCH LARGER -1", "a SEARCH KEYWORD \\Seen", "a SEARCH KEYWORD \"a\"",
	                      "a SEARCH HEADER Subject", "a SEARCH FROM", "a SEARCH FROM \"x",
	                      "a SEARCH SEEN x", "a SEARCH *x"}) {
		INFO(b);
		CHECK(bad(b));
	}
}

TEST_CASE("IMAP SEARCH nesting is bounded", "[imap-parser]")
{
	auto wrap = [](int depth, const char *open, const char *close) {
		std::string s = "a SEARCH ";
		for (int i = 0; i < depth; i++)
			s += open;
		s += "ALL";
		for (int i = 0; i < depth; i++)
			s += close;
		return s;
	};
	// The top level's keys are depth 1, so max_search_depth - 1 levels fit around one.
	CHECK_FALSE(bad(wrap(max_search_depth - 1, "(", ")")));
	CHECK(bad(wrap(max_search_depth, "(", ")")));
	CHECK_FALSE(bad(wrap(max_search_depth - 1, "NOT ", "")));
	CHECK(bad(wrap(max_search_depth, "NOT ", "")));
	CHECK(bad(wrap(100000, "(", ")")));
	CHECK(bad(wrap(100000, "NOT ", "")));
	CHECK(bad(wrap(100000, "OR ALL ", "")));
	CHECK(bad(wrap(100000, "(", "")));
	// Breadth is not depth: many keys side by side are fine.
	std::string wide = "a SEARCH ";
	for (int i = 0; i < 10000; i++)
		wide += "(SEEN) ";
	wide += "ALL";
	CHECK(ok(wide).search.children.size() == 10001);
}

TEST_CASE("literal_at_end", "[imap-parser]")
{
	auto a = literal_at_end("a LOGIN {5}");
	REQUIRE(a);
	CHECK(a->size == 5);
	CHECK_FALSE(a->non_sync);
	auto b = literal_at_end("a APPEND INBOX (\\Seen) {123+}");
	REQUIRE(b);
	CHECK(b->size == 123);
	CHECK(b->non_sync);
	CHECK(literal_at_end("{0}"));
	CHECK(literal_at_end("{0}")->size == 0);
	CHECK(literal_at_end("x {18446744073709551615}")->size == UINT64_MAX);
	CHECK(literal_at_end("x {007}")->size == 7);
	CHECK_FALSE(literal_at_end("x {18446744073709551616}"));
	CHECK_FALSE(literal_at_end("x {99999999999999999999999999}"));
	for (const char *n : {"", "}", "a NOOP", "a LOGIN {5} ", "a {}", "a {+}", "a {5++}", "a {+5}",
	                      "a {-5}", "a {5 }", "a {5}x", "a 5}", "a {5}\r", "a {5x}"}) {
		INFO(n);
		CHECK_FALSE(literal_at_end(n));
	}
}

TEST_CASE("is_append_message_literal", "[imap-parser]")
{
	CHECK(is_append_message_literal("a APPEND INBOX {5}"));
	CHECK(is_append_message_literal("a append inbox {5+}"));
	CHECK(is_append_message_literal("a APPEND \"INBOX\" (\\Seen) {123+}"));
	CHECK(is_append_message_literal("a APPEND INBOX () \" 1-Jan-2020 00:00:00 +0000\" {1}"));
	// The mailbox's own literal is not the message; once it is inline, the next one is.
	CHECK_FALSE(is_append_message_literal("a APPEND {5}"));
	CHECK_FALSE(is_append_message_literal("a APPEND {5+}"));
	CHECK(is_append_message_literal("a APPEND {5}\r\nINBOX {9}"));
	CHECK(is_append_message_literal("a APPEND {5+}\r\nINBOX (\\Seen) {9}"));
	// Not APPEND, or not the message's place.
	CHECK_FALSE(is_append_message_literal("a LOGIN {5}"));
	CHECK_FALSE(is_append_message_literal("a LOGIN {5}\r\nalice {4}"));
	CHECK_FALSE(is_append_message_literal("a SEARCH SUBJECT {3}"));
	CHECK_FALSE(is_append_message_literal("a UID APPEND INBOX {5}"));
	CHECK_FALSE(is_append_message_literal("APPEND INBOX {5}"));
	CHECK_FALSE(is_append_message_literal("a APPEND INBOX (\\Seen {5}"));
	CHECK_FALSE(is_append_message_literal("a APPEND INBOX extra {5}"));
}

TEST_CASE("LIST patterns", "[imap-parser]")
{
	CHECK(list_pattern_matches("*", "INBOX"));
	CHECK(list_pattern_matches("*", "a.b.c"));
	CHECK(list_pattern_matches("%", "INBOX"));
	CHECK_FALSE(list_pattern_matches("%", "a.b"));
	CHECK(list_pattern_matches("a.%", "a.b"));
	CHECK_FALSE(list_pattern_matches("a.%", "a.b.c"));
	CHECK(list_pattern_matches("a.*", "a.b.c"));
	CHECK_FALSE(list_pattern_matches("a.*", "a"));
	CHECK(list_pattern_matches("a*", "a"));
	CHECK(list_pattern_matches("a%", "a"));
	CHECK(list_pattern_matches("%.%", "x.y"));
	CHECK_FALSE(list_pattern_matches("%.%", "x.y.z"));
	CHECK(list_pattern_matches("*.%", "x.y.z"));
	CHECK(list_pattern_matches("%b%", "abc"));
	CHECK_FALSE(list_pattern_matches("%b%", "a.bc"));
	CHECK(list_pattern_matches("Work", "Work"));
	CHECK_FALSE(list_pattern_matches("Work", "work")); // case-sensitive
	CHECK_FALSE(list_pattern_matches("Work", "Workx"));
	CHECK_FALSE(list_pattern_matches("Workx", "Work"));
	CHECK(list_pattern_matches("", ""));
	CHECK_FALSE(list_pattern_matches("", "a"));
	CHECK(list_pattern_matches("%", "a/b.c", '/') == false);
	CHECK(list_pattern_matches("%/%", "a/b.c", '/'));
	// Many wildcards over a long name: linear in each, no backtracking blow-up.
	std::string name(5000, 'a');
	std::string pattern;
	for (int i = 0; i < 200; i++)
		pattern += "*a";
	pattern += "b";
	CHECK_FALSE(list_pattern_matches(pattern, name));
	CHECK(list_pattern_matches(pattern, name + "b"));
}

TEST_CASE("Mailbox names in modified UTF-7", "[imap-parser]")
{
	CHECK(valid_mailbox_name("INBOX"));
	CHECK(valid_mailbox_name("Sent Items"));
	CHECK(valid_mailbox_name("a.b~c!"));
	CHECK(valid_mailbox_name("&-"));
	CHECK(valid_mailbox_name("Tom &- Jerry"));
	CHECK(valid_mailbox_name("Entw&APw-rfe"));                      // Entwürfe
	CHECK(valid_mailbox_name("~peter/mail/&U,BTFw-/&ZeVnLIqe-"));  // RFC 3501's example
	CHECK(valid_mailbox_name("&2D3eAA-"));                          // U+1F600, a surrogate pair
	CHECK(valid_mailbox_name("&AOQ-&-"));

	for (const char *n : {
		     "",
		     "&",             // unterminated shift
		     "a&b",
		     "&APw",          // no '-' to end the run
		     "&AP-",          // whole base64 character spare... and bits left
		     "&APx-",         // spare bits not zero
		     "&APwA-",        // a spare base64 character
		     "&AGE-",         // 'a' must represent itself
		     "&ACY-",         // '&' is "&-", never encoded
		     "&AAA-",         // U+0000
		     "&APw-&APw-",    // "-&": a null shift
		     "&2D0-",         // a lone high surrogate
		     "&3gA-",         // a lone low surrogate
		     "&2D3YPQ-",      // high surrogate followed by another high one
		     "&AP/8-",        // '/' is ',' in modified base64
		     "a\tb",
		     "a\x7f",
		     "caf\xc3\xa9",   // 8-bit must be encoded
	     }) {
		INFO(n);
		CHECK_FALSE(valid_mailbox_name(n));
	}
}

TEST_CASE("IMAP date-time parsing, formatting and round trip", "[imap-parser]")
{
	CHECK(parse_imap_date_time("17-Jul-1996 02:44:25 -0700") == 837596665);
	CHECK(parse_imap_date_time(" 5-Mar-2024 12:00:00 +0530") == 1709620200);
	CHECK(parse_imap_date_time("05-mar-2024 12:00:00 +0530") == 1709620200);
	CHECK(parse_imap_date_time("5-MAR-2024 06:30:00 +0000") == 1709620200);
	CHECK(parse_imap_date_time("01-Jan-1970 00:00:00 +0000") == 0);
	CHECK(parse_imap_date_time("01-Jan-1970 00:00:00 +0100") == -3600);
	CHECK(parse_imap_date_time("31-Dec-1969 23:59:59 +0000") == -1);
	CHECK(parse_imap_date_time("29-Feb-2000 00:00:00 -0000") == 11016 * 86400);
	CHECK(parse_imap_date_time("01-Jan-0001 00:00:00 +0000") == -62135596800);

	for (const char *b : {"", "17-Jul-1996", "17-Jul-1996 02:44:25", "17-Jul-1996 02:44:25 0700",
	                      "17-Jul-1996 02:44:25 +07", "17-Jul-1996 24:00:00 +0000",
	                      "17-Jul-1996 02:60:00 +0000", "17-Jul-1996 02:44:61 +0000",
	                      "17-Jul-1996 02:44:25 +0760", "17-Jul-1996 02:44:25 +2400",
	                      "17-Jul-1996  02:44:25 +0700", "17-Jul-1996 02:44:25 +0700 ",
	                      "29-Feb-1900 00:00:00 +0000", "32-Jan-2000 00:00:00 +0000",
	                      "  5-Mar-2024 12:00:00 +0530", " 15-Mar-2024 12:00:00 +0530",
	                      "17-Jul-96 02:44:25 -0700", "17 Jul 1996 02:44:25 -0700",
	                      "17-Jul-1996 2:44:25 -0700", "17-Jly-1996 02:44:25 -0700"}) {
		INFO(b);
		CHECK_FALSE(parse_imap_date_time(b));
	}

	CHECK(format_imap_date_time(0) == " 1-Jan-1970 00:00:00 +0000");
	CHECK(format_imap_date_time(1700000000) == "14-Nov-2023 22:13:20 +0000");
	CHECK(format_imap_date_time(-1) == "31-Dec-1969 23:59:59 +0000");
	CHECK(format_imap_date_time(11016LL * 86400) == "29-Feb-2000 00:00:00 +0000");
	CHECK(format_imap_date_time(INT64_MAX) == "31-Dec-9999 23:59:59 +0000");
	CHECK(format_imap_date_time(INT64_MIN) == " 1-Jan-0000 00:00:00 +0000");

	// Whatever format gives, parse takes back; across leap days, centuries and before 1970.
	for (std::int64_t t = -5000000000LL; t < 8000000000LL; t += 86399 * 37 + 3607) {
		INFO(t);
		CHECK(parse_imap_date_time(format_imap_date_time(t)) == t);
	}
	for (std::int64_t t : {951782400LL, 951868800LL, 4107542400LL, 4102444800LL, -2208988800LL,
	                       253402300799LL, -62167219200LL}) {
		INFO(t);
		CHECK(parse_imap_date_time(format_imap_date_time(t)) == t);
	}
	// A zone moves the instant, not the text's fields.
	auto east = parse_imap_date_time("01-Jan-2000 10:00:00 +0930");
	auto west = parse_imap_date_time("31-Dec-1999 19:30:00 -0500");
	REQUIRE(east);
	CHECK(east == west);
	CHECK(format_imap_date_time(*east) == " 1-Jan-2000 00:30:00 +0000");
}

TEST_CASE("imap_quote", "[imap-parser]")
{
	CHECK(imap_quote("INBOX") == "\"INBOX\"");
	CHECK(imap_quote("") == "\"\"");
	CHECK(imap_quote("NIL") == "\"NIL\"");
	CHECK(imap_quote("a \"b\" \\c") == "\"a \\\"b\\\" \\\\c\"");
	CHECK(imap_quote("a\r\nb") == "{4}\r\na\r\nb");
	CHECK(imap_quote("a\nb") == "{3}\r\na\nb");
	// NUL is in neither a quoted string nor a literal (CHAR8): it is dropped, and a literal
	// counts only the bytes sent.
	CHECK(imap_quote(std::string_view("a\0b", 3)) == "\"ab\"");
	CHECK(imap_quote(std::string_view("a\0\r\nb", 5)) == "{4}\r\na\r\nb");
	CHECK(imap_quote(std::string_view("\0", 1)) == "\"\"");
	std::string out = "* ";
	append_imap_string(out, "x");
	append_imap_string(out, std::string_view("\xc3\xa9\0", 3));
	CHECK(out == "* \"x\"{2}\r\n\xc3\xa9");
	CHECK(imap_quote("caf\xc3\xa9") == "{5}\r\ncaf\xc3\xa9");
	// What it produces parses back to the same bytes.
	for (std::string_view s : {"x \"y\" \\", "caf\xc3\xa9 \"q\"", "line\r\nline", "\\\\\"\""}) {
		auto c = parse_imap_command("a LOGIN " + imap_quote(s) + " p");
		CHECK(c.error == nullptr);
		REQUIRE(c.args.size() == 2);
		CHECK(c.args[0] == s);
	}
	// With NUL, what parses back is the rest: never a string the parser (or a client) refuses.
	for (std::string_view s : {std::string_view("x\0y", 3), std::string_view("\r\n\0z", 4)}) {
		auto c = parse_imap_command("a LOGIN " + imap_quote(s) + " p");
		CHECK(c.error == nullptr);
		REQUIRE(c.args.size() == 2);
		std::string rest(s);
		std::erase(rest, '\0');
		CHECK(c.args[0] == rest);
	}
}

TEST_CASE("The IMAP parser survives arbitrary bytes", "[imap-parser]")
{
	// Prefixes of real commands cut anywhere, then pseudo-random bytes: no crash, no hang, and a
	// command either parses or says why not.
	const char *seeds[] = {
		"a UID FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]<0.100>)",
		"a SEARCH CHARSET UTF-8 OR (NOT SEEN FROM {3}\r\nabc) UID 1:*,5 SINCE \"1-Jan-2020\"",
		"a APPEND {5}\r\nINBOX (\\Seen $x) \" 1-Jan-2020 00:00:00 +0100\" {12+}",
		"a STORE 1:3 -FLAGS.SILENT \\Seen \\Deleted",
		"a LOGIN \"a\\\\b\" {4+}\r\npass",
	};
	for (const char *seed : seeds) {
		std::string_view s(seed);
		for (std::size_t n = 0; n <= s.size(); n++) {
			auto c = parse_imap_command(s.substr(0, n));
			if (n == s.size())
				CHECK(c.error == nullptr);
			literal_at_end(s.substr(0, n));
			is_append_message_literal(s.substr(0, n));
		}
	}
	constexpr std::string_view alphabet = "()\"\\{}[]<>.:,*%+ 0123aNOTOR\r\n\x80";
	std::string junk = "a SEARCH ";
	std::uint32_t x = 12345;
	for (int i = 0; i < 20000; i++) {
		x = x * 1103515245u + 12345u;
		junk += alphabet[(x >> 16) % alphabet.size()];
		if (i % 97 == 0) {
			std::string_view j = junk;
			parse_imap_command(j);
			valid_mailbox_name(j);
			list_pattern_matches(j.substr(j.size() / 2, 300), j.substr(0, 300));
			parse_imap_date_time(j.size() > 26 ? j.substr(j.size() - 26) : j);
		}
	}
	CHECK(true);
}

TEST_CASE("IMAP FETCH BINARY, BINARY.PEEK, BINARY.SIZE (RFC 3516)", "[imap-parser]")
{
	auto f = ok("a FETCH 1 (BINARY[1.2] BINARY.PEEK[]<0.100> binary.size[3] BINARY[2]<5.10>)");
	REQUIRE(f.fetch.size() == 4);
	CHECK(f.fetch[0].kind == Kind::binary);
	CHECK_FALSE(f.fetch[0].peek);
	CHECK(f.fetch[0].part == std::vector<std::uint32_t>{1, 2});
	CHECK(f.fetch[1].kind == Kind::binary);
	CHECK(f.fetch[1].peek);
	CHECK(f.fetch[1].part.empty());
	CHECK(f.fetch[1].partial);
	CHECK(f.fetch[2].kind == Kind::binary_size);
	CHECK(names(f) == Strings{"BINARY[1.2]", "BINARY[]<0>", "BINARY.SIZE[3]", "BINARY[2]<5>"});
	auto single = ok("a UID FETCH 1:* BINARY.PEEK[1]");
	REQUIRE(single.fetch.size() == 1);
	CHECK(single.fetch[0].response_name() == "BINARY[1]"); // never BINARY.PEEK in a response
	// section-binary holds part numbers only; BINARY.SIZE takes no partial range.
	for (const char *b : {"a FETCH 1 BINARY", "a FETCH 1 BINARY.PEEK", "a FETCH 1 BINARY[HEADER]",
			      "a FETCH 1 BINARY[1.MIME]", "a FETCH 1 BINARY[1.TEXT]", "a FETCH 1 BINARY[TEXT]",
			      "a FETCH 1 BINARY[0]", "a FETCH 1 BINARY[1.]", "a FETCH 1 BINARY[1", "a FETCH 1 BINARY.SIZE",
			      "a FETCH 1 BINARY.SIZE[1]<0.5>", "a FETCH 1 BINARY[1]<0.0>", "a FETCH 1 BINARY[1]<5>",
			      "a FETCH 1 BINARY.SIZE.PEEK[1]", "a FETCH 1 (BINARY[1] BINARY[x])"})
		CHECK(bad(b));
}

TEST_CASE("IMAP APPEND with a literal8 (RFC 3516)", "[imap-parser]")
{
	auto a = ok("a APPEND INBOX (\\Seen) ~{42}");
	CHECK(a.literal_size == 42);
	CHECK(a.literal_binary);
	CHECK_FALSE(ok("a APPEND INBOX {42}").literal_binary);
	CHECK(ok("a APPEND INBOX ~{7+}").literal_size == 7);
	CHECK(bad("a APPEND INBOX ~ {7}"));
	CHECK(bad("a APPEND INBOX ~~{7}"));
	CHECK(is_append_message_literal("a APPEND INBOX ~{5}"));
	auto spec = literal_at_end("a APPEND INBOX ~{5+}");
	REQUIRE(spec);
	CHECK(spec->binary);
	CHECK(spec->non_sync);
	CHECK(spec->size == 5);
	CHECK_FALSE(literal_at_end("a LOGIN {5}")->binary);
	// A literal8 is the APPEND message only: as any other argument it is not a string.
	CHECK(bad("a LOGIN ~{5}\r\nalice {1}\r\nx"));
}

TEST_CASE("IMAP CONDSTORE and QRESYNC (RFC 7162)", "[imap-parser]")
{
	auto s = ok("a SELECT INBOX (CONDSTORE)");
	CHECK(s.args == Strings{"INBOX"});
	CHECK(s.select_condstore);
	CHECK_FALSE(s.qresync);
	auto q = ok("a EXAMINE Box (QRESYNC (67890007 90060115194045000 41:211,214:541 (1:3,10 41,43,117)))");
	REQUIRE(q.qresync);
	CHECK(q.qresync->uidvalidity == 67890007);
	CHECK(q.qresync->modseq == 90060115194045000u);
	REQUIRE(q.qresync->known_uids);
	CHECK(q.qresync->known_uids->ranges.size() == 2);
	REQUIRE(q.qresync->known_seqs);
	REQUIRE(q.qresync->known_seq_uids);
	CHECK(q.qresync->known_seq_uids->ranges.size() == 3);
	CHECK_FALSE(q.select_condstore);
	auto plain = ok("a SELECT INBOX (qresync (1 2) condstore)");
	REQUIRE(plain.qresync);
	CHECK_FALSE(plain.qresync->known_uids);
	CHECK(plain.select_condstore);
	auto seq_only = ok("a SELECT INBOX (QRESYNC (1 2 (1 7)))");
	REQUIRE(seq_only.qresync);
	CHECK_FALSE(seq_only.qresync->known_uids);
	CHECK(seq_only.qresync->known_seqs);
	CHECK(ok("a SELECT INBOX (QRESYNC (1 9223372036854775807))").qresync->modseq == 9223372036854775807u);
	for (const char *b : {"a SELECT INBOX ()", "a SELECT INBOX (CONDSTORE CONDSTORE)", "a SELECT INBOX (CONDSTORE",
			      "a SELECT INBOX CONDSTORE", "a SELECT INBOX (QRESYNC)", "a SELECT INBOX (QRESYNC ())",
			      "a SELECT INBOX (QRESYNC (1))", "a SELECT INBOX (QRESYNC (0 1))", "a SELECT INBOX (QRESYNC (1 0))",
			      "a SELECT INBOX (QRESYNC (1 9223372036854775808))", "a SELECT INBOX (QRESYNC (4294967296 1))",
			      "a SELECT INBOX (QRESYNC (1 1 1:*))", "a SELECT INBOX (QRESYNC (1 1 $))",
			      "a SELECT INBOX (QRESYNC (1 1 1:5 (1:2)))", "a SELECT INBOX (QRESYNC (1 1 1:5 (1 *)))",
			      "a SELECT INBOX (QRESYNC (1 1 1:5 x))", "a SELECT INBOX (QRESYNC (1 1) QRESYNC (1 1))",
			      "a SELECT INBOX (QRESYNC (1 1 ))", "a SELECT INBOX (QRESYNC (1 1)"})
		CHECK(bad(b));

	auto f = ok("a FETCH 1:* (FLAGS MODSEQ) (CHANGEDSINCE 12345)");
	REQUIRE(f.fetch.size() == 2);
	CHECK(f.fetch[1].kind == Kind::modseq);
	CHECK(names(f) == Strings{"FLAGS", "MODSEQ"});
	CHECK(f.changedsince == 12345u);
	CHECK_FALSE(f.vanished);
	CHECK(ok("a FETCH 1 MODSEQ").fetch[0].kind == Kind::modseq);
	CHECK(ok("a FETCH 1 FLAGS (CHANGEDSINCE 0)").changedsince == 0u); // mod-sequence-valzer
	auto v = ok("a UID FETCH 300:500 (FLAGS) (changedsince 1 vanished)");
	CHECK(v.vanished);
	CHECK(v.changedsince == 1u);
	CHECK(ok("a FETCH 1 FLAGS").changedsince == std::nullopt);
	for (const char *b : {"a FETCH 1 FLAGS ()", "a FETCH 1 FLAGS (CHANGEDSINCE)", "a FETCH 1 FLAGS (CHANGEDSINCE x)",
			      "a FETCH 1 FLAGS (CHANGEDSINCE -1)", "a FETCH 1 FLAGS (CHANGEDSINCE 9223372036854775808)",
			      "a FETCH 1 FLAGS (CHANGEDSINCE 99999999999999999999999)",
			      "a FETCH 1 FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)", "a FETCH 1 FLAGS (CHANGEDSINCE 1 VANISHED)",
			      "a UID FETCH 1 FLAGS (VANISHED)", "a UID FETCH 1 FLAGS (CHANGEDSINCE 1 VANISHED VANISHED)",
			      "a FETCH 1 FLAGS (FOO)", "a FETCH 1 FLAGS (CHANGEDSINCE 1", "a FETCH 1 FLAGS  (CHANGEDSINCE 1)",
			      "a FETCH 1 FLAGS CHANGEDSINCE 1", "a FETCH 1 MODSEQ[]", "a FETCH 1 (MODSEQ.PEEK)"})
		CHECK(bad(b));

	auto st = ok("a STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)");
	CHECK(st.unchangedsince == 320162338u);
	CHECK(st.silent);
	CHECK(st.store_mode == ImapCommand::StoreMode::add);
	CHECK(st.flags == Strings{"\\Deleted"});
	CHECK(ok("a UID STORE 1 (unchangedsince 0) FLAGS ()").unchangedsince == 0u);
	CHECK(ok("a STORE 1 FLAGS (\\Seen)").unchangedsince == std::nullopt);
	for (const char *b : {"a STORE 1 () +FLAGS (\\Seen)", "a STORE 1 (UNCHANGEDSINCE) +FLAGS (\\Seen)",
			      "a STORE 1 (UNCHANGEDSINCE 1)+FLAGS (\\Seen)", "a STORE 1 (UNCHANGEDSINCE 1 UNCHANGEDSINCE 2) FLAGS x",
			      "a STORE 1 (UNCHANGEDSINCE 9223372036854775808) FLAGS x", "a STORE 1 (FOO 1) FLAGS x",
			      "a STORE 1 +FLAGS (\\Seen) (UNCHANGEDSINCE 1)", "a STORE 1 (UNCHANGEDSINCE 1"})
		CHECK(bad(b));

	auto k = ok("a SEARCH MODSEQ 620162338");
	REQUIRE(k.search.children.size() == 1);
	CHECK(k.search.children[0].op == Op::modseq);
	CHECK(k.search.children[0].number == 620162338u);
	auto e = ok("a SEARCH OR NOT MODSEQ \"/flags/\\\\draft\" all 5 MODSEQ \"/flags/$Junk\" priv 0");
	REQUIRE(e.search.children.size() == 1);
	CHECK(e.search.children[0].children[0].children[0].op == Op::modseq);
	CHECK(e.search.children[0].children[1].number == 0u);
	for (const char *b : {"a SEARCH MODSEQ", "a SEARCH MODSEQ x", "a SEARCH MODSEQ 9223372036854775808",
			      "a SEARCH MODSEQ \"/flags/\\\\draft\" 5", "a SEARCH MODSEQ \"/flags/\\\\draft\" mine 5",
			      "a SEARCH MODSEQ \"/flags/\" all 5", "a SEARCH MODSEQ \"/other/x\" all 5",
			      "a SEARCH MODSEQ \"/flags/a b\" all 5", "a SEARCH MODSEQ \"/flags/\\\\\" all 5",
			      "a SEARCH MODSEQ \"/flags/x\" all"})
		CHECK(bad(b));

	CHECK(ok("a STATUS INBOX (HIGHESTMODSEQ UIDNEXT)").status_items == Strings{"HIGHESTMODSEQ", "UIDNEXT"});
	CHECK(ok("a ENABLE CONDSTORE qresync").args == Strings{"CONDSTORE", "QRESYNC"});
}
