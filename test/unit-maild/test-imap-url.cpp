// Unit tests for CATENATE (RFC 4469): the IMAP URL forms it takes (RFC 5092, imap-url.hpp) and
// the APPEND grammar with CATENATE lists (imap-parser.hpp).
#include "imap/imap-mutf7.hpp"
#include "imap/imap-url.hpp"

#include <catch2/catch.hpp>

using namespace maild;

TEST_CASE("IMAP URL: absolute, absolute-path and ;UID= forms", "[imap-url]")
{
	auto a = parse_imap_url("imap://alice@mail.example.org:993/INBOX;UIDVALIDITY=785799047/;UID=113330/;SECTION=1.5.9");
	REQUIRE(a);
	CHECK(a->absolute);
	CHECK(a->has_user);
	CHECK(a->user == "alice");
	CHECK_FALSE(a->selected);
	CHECK(a->mailbox == "INBOX");
	CHECK(a->uidvalidity == std::optional<std::uint32_t>(785799047));
	CHECK(a->uid == 113330);
	CHECK(a->part == std::vector<std::uint32_t>{1, 5, 9});
	CHECK(a->text == SectionText::none);
	CHECK_FALSE(a->partial);

	// Parameter names in any case; INBOX in any case; ;AUTH= in the user part is passed over.
	auto b = parse_imap_url("IMAP://b%40x;AUTH=*@h/inbox/;uid=7/;Section=HEADER.FIELDS%20(Subject%20To)/;partial=10.20");
	REQUIRE(b);
	CHECK(b->user == "b@x");
	CHECK(b->mailbox == "INBOX");
	CHECK_FALSE(b->uidvalidity);
	CHECK(b->uid == 7);
	CHECK(b->text == SectionText::header_fields);
	CHECK(b->fields == std::vector<std::string>{"SUBJECT", "TO"});
	CHECK(b->partial);
	CHECK(b->origin == 10);
	CHECK(b->length == std::optional<std::uint64_t>(20));

	auto p = parse_imap_url("/Work/Sub;UIDVALIDITY=3/;UID=4/;SECTION=2.TEXT/;PARTIAL=5");
	REQUIRE(p);
	CHECK_FALSE(p->absolute);
	CHECK_FALSE(p->has_user);
	CHECK(p->mailbox == "Work/Sub");
	CHECK(p->uidvalidity == std::optional<std::uint32_t>(3));
	CHECK(p->part == std::vector<std::uint32_t>{2});
	CHECK(p->text == SectionText::text);
	CHECK(p->origin == 5);
	CHECK_FALSE(p->length);

	auto r = parse_imap_url(";UID=12/;SECTION=1.MIME");
	REQUIRE(r);
	CHECK(r->selected);
	CHECK(r->mailbox.empty());
	CHECK(r->uid == 12);
	CHECK(r->text == SectionText::mime);

	auto h = parse_imap_url(";UID=1/;SECTION=HEADER");
	REQUIRE(h);
	CHECK(h->text == SectionText::header);
}

TEST_CASE("IMAP URL: mailbox names are UTF-8 in the URL, modified UTF-7 in IMAP", "[imap-url]")
{
	auto u = parse_imap_url("/Entw%C3%BCrfe/;UID=1");
	REQUIRE(u);
	CHECK(u->mailbox == "Entw&APw-rfe");
	auto amp = parse_imap_url("/A%26B/;UID=1"); // '&' itself is "&-" in modified UTF-7
	REQUIRE(amp);
	CHECK(amp->mailbox == "A&-B");
	auto ja = parse_imap_url("/%E5%8F%B0%E5%8C%97/;UID=1");
	REQUIRE(ja);
	CHECK(ja->mailbox == "&U,BTFw-");
	auto emoji = parse_imap_url("/%F0%9F%93%A7/;UID=1"); // a surrogate pair
	REQUIRE(emoji);
	CHECK(emoji->mailbox == "&2D3c5w-");
	CHECK(valid_mailbox_name(emoji->mailbox));

	CHECK(utf8_to_mutf7("plain") == std::optional<std::string>("plain"));
	CHECK_FALSE(utf8_to_mutf7("\xc3"));             // cut short
	CHECK_FALSE(utf8_to_mutf7("\xc0\xaf"));         // overlong
	CHECK_FALSE(utf8_to_mutf7("\xed\xa0\x80"));     // a surrogate
	CHECK_FALSE(utf8_to_mutf7("\xf4\x90\x80\x80")); // past U+10FFFF
}

TEST_CASE("IMAP URL: what CATENATE does not take", "[imap-url]")
{
	for (const char *s : {
		     "", "INBOX/;UID=1", "Work;UIDVALIDITY=1/;UID=1", // relative paths naming a mailbox
		     "//host/INBOX/;UID=1",                          // another server
		     "/INBOX", "/INBOX;UIDVALIDITY=1", "/INBOX/", "imap://a@h/INBOX", "imap://a@h", // no UID
		     "/INBOX/;UID=0", "/INBOX/;UID=01", "/INBOX/;UID=4294967296", "/INBOX/;UID=x",
		     "/INBOX;UID=1", "/INBOX/;UIDVALIDITY=1/;UID=1", "/INBOX;UIDVALIDITY=0/;UID=1",
		     "/INBOX/;UID=1/", "/INBOX/;UID=1;SECTION=1", "/INBOX/;UID=1/;PARTIAL=1/;SECTION=1",
		     "/INBOX/;UID=1/;SECTION=", "/INBOX/;UID=1/;SECTION=0", "/INBOX/;UID=1/;SECTION=MIME",
		     "/INBOX/;UID=1/;SECTION=1.FOO", "/INBOX/;UID=1/;SECTION=TEXT]", "/INBOX/;UID=1/;PARTIAL=1.0",
		     "/INBOX/;UID=1/;PARTIAL=.5", "/INBOX/;UID=1/;PARTIAL=1.", "/INBOX/;UID=1/;PARTIAL=",
		     "/INBOX/;UID=1;URLAUTH=anonymous:internal:91354a473744909de610943775f92038",
		     "/INBOX/;UID=1;EXPIRE=2030-01-01T00:00:00Z", "/INBOX/;UID=1/;FOO=1",
		     "/INBOX?SUBJECT%20x", "/%/;UID=1", "/%4/;UID=1", "/%zz/;UID=1", "/%00/;UID=1",
		     "/%FF/;UID=1", ";SECTION=1", ";UID=1/;UID=2", "imap://@h/INBOX/;UID=1",
		     "imap://a;FOO=x@h/INBOX/;UID=1", "imap://a;AUTH=@h/INBOX/;UID=1", "imap://a@/INBOX/;UID=1",
		     "http://a@h/INBOX/;UID=1"}) {
		INFO(s);
		CHECK_FALSE(parse_imap_url(s));
	}
}

TEST_CASE("IMAP URL: the text a BADURL response code carries", "[imap-url]")
{
	CHECK(url_resp_text("/INBOX/;UID=1") == "/INBOX/;UID=1");
	CHECK(url_resp_text("/a]b\r\n\x80") == "/a%5Db%0D%0A%80");
	CHECK(url_resp_text("") == "%22%22");
}

TEST_CASE("IMAP APPEND with CATENATE lists", "[imap-parser][imap-url]")
{
	ImapCommand c = parse_imap_command(
		"a APPEND Drafts (\\Seen) CATENATE (URL \"/INBOX/;UID=2\" TEXT {5} URL {17}\r\n;UID=3/;PARTIAL=0 TEXT ~{4+})");
	INFO((c.error != nullptr ? c.error : "ok"));
	REQUIRE(c.error == nullptr);
	REQUIRE(c.append_messages.size() == 1);
	const auto &m = c.append_messages[0];
	CHECK(m.catenate);
	CHECK_FALSE(m.open);
	CHECK(m.flags == std::vector<std::string>{"\\Seen"});
	REQUIRE(m.parts.size() == 4);
	CHECK(m.parts[0].url);
	CHECK(m.parts[0].text == "/INBOX/;UID=2");
	CHECK_FALSE(m.parts[1].url);
	CHECK(m.parts[1].size == 5);
	CHECK(m.parts[2].text == ";UID=3/;PARTIAL=0");
	CHECK(m.parts[3].binary);
	CHECK(m.parts[3].size == 4);
	// A closed list leaves no literal at the end of the text to stream.
	CHECK_FALSE(is_append_message_literal("a APPEND Drafts CATENATE (URL \"/INBOX/;UID=2\")"));

	// Ending right after a TEXT literal's spec: open, and that literal is streamed.
	const char *open = "a APPEND Box CATENATE (URL x TEXT {7}";
	ImapCommand o = parse_imap_command(open);
	REQUIRE(o.error == nullptr);
	CHECK(o.append_messages.back().open);
	CHECK(is_append_message_literal(open));
	// The URL's own literal is not a message: it is read into the command.
	CHECK_FALSE(is_append_message_literal("a APPEND Box CATENATE (TEXT {7} URL {9}"));

	// MULTIAPPEND mixing both kinds.
	ImapCommand mm = parse_imap_command("a APPEND Box CATENATE (TEXT {3}) (\\Flagged) {4} CATENATE (URL y) {0}");
	REQUIRE(mm.error == nullptr);
	REQUIRE(mm.append_messages.size() == 4);
	CHECK(mm.append_messages[0].catenate);
	CHECK_FALSE(mm.append_messages[1].catenate);
	CHECK(mm.append_messages[1].size == 4);
	CHECK(mm.append_messages[2].catenate);
	CHECK_FALSE(mm.append_messages[3].catenate);
	CHECK(is_append_message_literal("a APPEND Box CATENATE (TEXT {3}) (\\Flagged) {4}"));

	for (const char *b : {"a APPEND Box CATENATE ()", "a APPEND Box CATENATE (URL)", "a APPEND Box CATENATE (URL x",
			      "a APPEND Box CATENATE (FOO x)", "a APPEND Box CATENATE (TEXT x)", "a APPEND Box CATENATE URL x",
			      "a APPEND Box CATENATE(URL x)", "a APPEND Box CATENATE (URL x  URL y)",
			      "a APPEND Box CATENATE (URL x) junk", "a APPEND Box CATENATES (URL x)",
			      "a APPEND Box (\\Seen) (URL x)", "a APPEND Box CATENATE (TEXT {3}"}) {
		INFO(b);
		// The last one is the text at a TEXT literal (open), fine mid-command but never a whole one.
		ImapCommand x = parse_imap_command(b);
		CHECK((x.error != nullptr || x.append_messages.back().open));
	}
}
