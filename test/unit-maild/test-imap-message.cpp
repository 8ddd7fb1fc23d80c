// ImapMessage: what FETCH ENVELOPE / BODY / BODYSTRUCTURE / BODY[section] put on the wire. The
// expected strings are written out by hand from RFC 3501's grammar (7.4.2, 9) and its examples;
// each message is also checked stored with CRLF and with mixed line ends, since IMAP must see the
// same bytes whichever way the file was delivered.
#include "imap/imap-message.hpp"

#include <catch2/catch.hpp>

using namespace maild;

namespace {

std::string to_crlf(std::string_view lf)
{
	std::string out;
	for (char c : lf) {
		if (c == '\n')
			out += '\r';
		out += c;
	}
	return out;
}

// Every other line end CRLF: a file edited by two tools.
std::string to_mixed(std::string_view lf)
{
	std::string out;
	bool odd = false;
	for (char c : lf) {
		if (c == '\n' && (odd = !odd))
			out += '\r';
		out += c;
	}
	return out;
}

// The bytes the session sends for a section: the range converted, or the text as is. A range
// must be a view into the message itself (the session streams from its mmap).
std::optional<std::string> sent(std::string_view raw, const std::vector<std::uint32_t> &part, SectionPart what,
				const std::vector<std::string> &fields = {})
{
	ImapMessage m(raw);
	auto d = m.section(part, what, fields);
	if (!d)
		return std::nullopt;
	if (!d->is_range)
		return d->text;
	REQUIRE(d->range.data() >= raw.data());
	REQUIRE(d->range.data() + d->range.size() <= raw.data() + raw.size());
	std::string out;
	bool cr = false;
	append_crlf(d->range, out, cr);
	return out;
}

std::size_t offset_of(std::string_view raw, const std::vector<std::uint32_t> &part, SectionPart what)
{
	ImapMessage m(raw);
	auto d = m.section(part, what, {});
	REQUIRE(d);
	REQUIRE(d->is_range);
	return static_cast<std::size_t>(d->range.data() - raw.data());
}

// The LF, CRLF and mixed copies of a message give identical FETCH output.
void check_same_in_all_forms(std::string_view lf, const std::vector<std::vector<std::uint32_t>> &parts)
{
	std::string crlf = to_crlf(lf);
	std::string mixed = to_mixed(lf);
	ImapMessage a(lf), b(crlf), c(mixed);
	CHECK(crlf_size(lf) == crlf.size());
	CHECK(crlf_size(mixed) == crlf.size());
	CHECK(a.envelope() == b.envelope());
	CHECK(a.envelope() == c.envelope());
	for (bool ext : {false, true}) {
		CHECK(a.bodystructure(ext) == b.bodystructure(ext));
		CHECK(a.bodystructure(ext) == c.bodystructure(ext));
	}
	for (const auto &part : parts) {
		for (auto what : {SectionPart::whole, SectionPart::header, SectionPart::header_fields,
				  SectionPart::header_fields_not, SectionPart::text, SectionPart::mime}) {
			std::vector<std::string> fields = {"SUBJECT", "CONTENT-TYPE"};
			auto x = sent(lf, part, what, fields);
			CHECK(x == sent(crlf, part, what, fields));
			CHECK(x == sent(mixed, part, what, fields));
		}
	}
}

const std::string rfc_example = "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\n"
				"From: Terry Gray <gray@cac.washington.edu>\n"
				"Subject: IMAP4rev1 WG mtg summary and minutes\n"
				"To: imap@cac.washington.edu\n"
				"cc: minutes@CNRI.Reston.VA.US,\n"
				"    John Klensin <KLENSIN@MIT.EDU>\n"
				"Message-Id: <B27397-0100000@cac.washington.edu>\n"
				"MIME-Version: 1.0\n"
				"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\n"
				"\n"
				"Hello\n"
				"World\n";

// RFC 3501 7.4.2's second BODYSTRUCTURE example, smaller: two text parts, the second with name,
// id, description and base64. The boundary is quoted and has a space; preamble and epilogue.
const std::string two_parts = "From: a@b\n"
			      "Content-Type: multipart/mixed; boundary=\"=_x y\"\n"
			      "\n"
			      "preamble line\n"
			      "--=_x y\n"
			      "Content-Type: text/plain; charset=US-ASCII\n"
			      "\n"
			      "hello\n"
			      "world\n"
			      "--=_x y\n"
			      "Content-Type: text/plain; charset=\"US-ASCII\"; name=\"cc.diff\"\n"
			      "Content-ID: <960723163407.20117h@cac.washington.edu>\n"
			      "Content-Description: Compiler diff\n"
			      "Content-Transfer-Encoding: base64\n"
			      "\n"
			      "QUJD\n"
			      "--=_x y--\n"
			      "epilogue\n";

const std::string inner_message = "From: Inner Person <inner@example.org>\n"
				  "Subject: inner\n"
				  "Content-Type: multipart/mixed; boundary=in2\n"
				  "\n"
				  "--in2\n"
				  "\n"
				  "first\n"
				  "--in2\n"
				  "Content-Type: image/png\n"
				  "Content-Transfer-Encoding: base64\n"
				  "\n"
				  "iVBO\n"
				  "--in2--";

// multipart/mixed holding a multipart/alternative and a forwarded multipart message.
const std::string nested = "Subject: outer\n"
			   "Content-Type: multipart/mixed; boundary=outer\n"
			   "\n"
			   "--outer\n"
			   "Content-Type: multipart/alternative; boundary=inner\n"
			   "\n"
			   "--inner\n"
			   "Content-Type: text/plain\n"
			   "\n"
			   "plain\n"
			   "--inner\n"
			   "Content-Type: text/html; charset=utf-8\n"
			   "\n"
			   "<b>html</b>\n"
			   "--inner--\n"
			   "--outer\n"
			   "Content-Type: message/rfc822\n"
			   "Content-Disposition: attachment; filename=\"fwd.eml\"\n"
			   "\n" +
			   inner_message + "\n--outer--\n";

const std::string plain_text = R"(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" )";

} // namespace

TEST_CASE("CRLF size and conversion count a bare LF as two bytes, a CRLF as two", "[imap-message]")
{
	CHECK(crlf_size("") == 0);
	CHECK(crlf_size("a\nb\r\nc") == 7);
	CHECK(crlf_size("\n") == 2);
	CHECK(crlf_size("a\rb") == 3); // a bare CR is not a line end

	std::string out;
	bool cr = false;
	append_crlf("a\nb\r\n\nc", out, cr);
	CHECK(out == "a\r\nb\r\n\r\nc");
	CHECK_FALSE(cr);
}

TEST_CASE("A CRLF split between chunks is not doubled", "[imap-message]")
{
	std::string msg = "a\r\nb\n\r\n\rx\n";
	for (std::size_t cut = 0; cut <= msg.size(); cut++) {
		for (std::size_t cut2 = cut; cut2 <= msg.size(); cut2++) {
			std::string out;
			bool cr = false;
			append_crlf(std::string_view(msg).substr(0, cut), out, cr);
			append_crlf(std::string_view(msg).substr(cut, cut2 - cut), out, cr);
			append_crlf(std::string_view(msg).substr(cut2), out, cr);
			CHECK(out == "a\r\nb\r\n\r\n\rx\r\n");
			CHECK(out.size() == crlf_size(msg));
		}
	}
}

TEST_CASE("ENVELOPE and BODY of RFC 3501's example message", "[imap-message]")
{
	ImapMessage m(rfc_example);
	// RFC 3501 7.4.2, except that the grammar ("(" 1*address ")") has no space between
	// addresses, which the example shows.
	CHECK(m.envelope() == "(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev1 WG mtg summary and minutes\" "
			      "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
			      "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
			      "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) "
			      "((NIL NIL \"imap\" \"cac.washington.edu\")) "
			      "((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) "
			      "NIL NIL \"<B27397-0100000@cac.washington.edu>\")");
	// "Hello\r\nWorld\r\n": 14 bytes, 2 lines.
	CHECK(m.bodystructure(false) == plain_text + "14 2)");
	CHECK(m.bodystructure(true) == plain_text + "14 2 NIL NIL NIL NIL)");
	CHECK(m.header_value("SUBJECT") == "IMAP4rev1 WG mtg summary and minutes");
	CHECK(m.header_value("cc") == "minutes@CNRI.Reston.VA.US,    John Klensin <KLENSIN@MIT.EDU>");
	CHECK_FALSE(m.header_value("Bcc"));
	CHECK(m.date() == 837595405); // 1996-07-17 09:23:25 UTC
	CHECK(m.body() == "Hello\nWorld\n");
	CHECK(m.header().size() + m.body().size() == rfc_example.size());
	CHECK(m.header().substr(m.header().size() - 2) == "\n\n");

	check_same_in_all_forms(rfc_example, {{}, {1}, {2}});
}

TEST_CASE("Sections of a single-part message: part 1 is its body", "[imap-message]")
{
	const std::string &raw = rfc_example;
	CHECK(sent(raw, {}, SectionPart::whole) == to_crlf(raw));
	CHECK(sent(raw, {1}, SectionPart::whole) == "Hello\r\nWorld\r\n");
	CHECK(sent(raw, {}, SectionPart::text) == "Hello\r\nWorld\r\n");
	CHECK(offset_of(raw, {1}, SectionPart::whole) == raw.find("Hello"));
	CHECK(sent(raw, {}, SectionPart::header) == to_crlf(raw.substr(0, raw.find("Hello"))));
	// The MIME header of part 1 of a non-multipart message is the message header.
	CHECK(sent(raw, {1}, SectionPart::mime) == sent(raw, {}, SectionPart::header));
	CHECK_FALSE(sent(raw, {2}, SectionPart::whole));
	CHECK_FALSE(sent(raw, {0}, SectionPart::whole));
	CHECK_FALSE(sent(raw, {1, 1}, SectionPart::whole));
	CHECK_FALSE(sent(raw, {}, SectionPart::mime));
	CHECK_FALSE(sent(raw, {1}, SectionPart::header)); // text/plain is not message/rfc822
	CHECK_FALSE(sent(raw, {1}, SectionPart::text));
}

TEST_CASE("HEADER.FIELDS keeps folded lines and message order, then a blank line", "[imap-message]")
{
	const std::string &raw = rfc_example;
	CHECK(sent(raw, {}, SectionPart::header_fields, {"CC", "SUBJECT"}) ==
	      "Subject: IMAP4rev1 WG mtg summary and minutes\r\n"
	      "cc: minutes@CNRI.Reston.VA.US,\r\n"
	      "    John Klensin <KLENSIN@MIT.EDU>\r\n"
	      "\r\n");
	CHECK(sent(raw, {}, SectionPart::header_fields, {"message-id"}) ==
	      "Message-Id: <B27397-0100000@cac.washington.edu>\r\n\r\n");
	CHECK(sent(raw, {}, SectionPart::header_fields, {"X-NONE"}) == "\r\n");
	CHECK(sent(raw, {}, SectionPart::header_fields_not, {"DATE", "FROM", "TO", "CC", "MESSAGE-ID", "MIME-VERSION"}) ==
	      "Subject: IMAP4rev1 WG mtg summary and minutes\r\n"
	      "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
	      "\r\n");
	// A prefix of a name is not the name.
	CHECK(sent(raw, {}, SectionPart::header_fields, {"SUBJ"}) == "\r\n");
}

TEST_CASE("Multipart BODY and BODYSTRUCTURE, with parameters and content fields", "[imap-message]")
{
	ImapMessage m(two_parts);
	// Part 1 ends before the line end of the next delimiter: "hello\r\nworld", 12 bytes, 2 lines.
	// Part 2 is "QUJD": 4 bytes, 1 line.
	std::string p2 = R"(("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") "<960723163407.20117h@cac.washington.edu>" "Compiler diff" "BASE64" 4 1)";
	CHECK(m.bodystructure(false) == "(" + plain_text + "12 2)" + p2 + ") \"MIXED\")");
	CHECK(m.bodystructure(true) == "(" + plain_text + "12 2 NIL NIL NIL NIL)" + p2 +
					       " NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"=_x y\") NIL NIL NIL)");

	CHECK(sent(two_parts, {1}, SectionPart::whole) == "hello\r\nworld");
	CHECK(sent(two_parts, {2}, SectionPart::whole) == "QUJD");
	CHECK(offset_of(two_parts, {1}, SectionPart::whole) == two_parts.find("hello"));
	CHECK(offset_of(two_parts, {2}, SectionPart::whole) == two_parts.find("QUJD"));
	CHECK(offset_of(two_parts, {1}, SectionPart::mime) == two_parts.find("Content-Type: text/plain; charset=US"));
	CHECK(sent(two_parts, {1}, SectionPart::mime) == "Content-Type: text/plain; charset=US-ASCII\r\n\r\n");
	// TEXT of the message keeps preamble and epilogue.
	CHECK(sent(two_parts, {}, SectionPart::text) == to_crlf(two_parts.substr(two_parts.find("preamble"))));
	CHECK_FALSE(sent(two_parts, {3}, SectionPart::whole));
	CHECK_FALSE(sent(two_parts, {1, 1}, SectionPart::whole));
	CHECK_FALSE(sent(two_parts, {1}, SectionPart::header));

	check_same_in_all_forms(two_parts, {{}, {1}, {2}, {3}});
}

TEST_CASE("Nested multipart and message/rfc822: structure and part numbers", "[imap-message]")
{
	ImapMessage m(nested);
	std::string inner_env = R"((NIL "inner" (("Inner Person" NIL "inner" "example.org")) (("Inner Person" NIL "inner" "example.org")) (("Inner Person" NIL "inner" "example.org")) NIL NIL NIL NIL NIL))";
	// The forwarded message is 201 bytes and 13 lines in CRLF form; its part 1 has an empty header.
	CHECK(m.bodystructure(false) ==
	      "((" + plain_text + "5 1)(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 11 1) \"ALTERNATIVE\")"
	      "(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 201 " + inner_env + " (" + plain_text +
		      "5 1)(\"IMAGE\" \"PNG\" NIL NIL NIL \"BASE64\" 4) \"MIXED\") 13) \"MIXED\")");
	CHECK(m.bodystructure(true) ==
	      "((" + plain_text + "5 1 NIL NIL NIL NIL)(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 11 1 NIL NIL NIL NIL)"
	      " \"ALTERNATIVE\" (\"BOUNDARY\" \"inner\") NIL NIL NIL)"
	      "(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 201 " + inner_env + " (" + plain_text +
		      "5 1 NIL NIL NIL NIL)(\"IMAGE\" \"PNG\" NIL NIL NIL \"BASE64\" 4 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"in2\") NIL NIL NIL)"
	      " 13 NIL (\"ATTACHMENT\" (\"FILENAME\" \"fwd.eml\")) NIL NIL) \"MIXED\" (\"BOUNDARY\" \"outer\") NIL NIL NIL)");
	CHECK(m.envelope() == "(NIL \"outer\" NIL NIL NIL NIL NIL NIL NIL NIL)");

	CHECK(sent(nested, {1, 2}, SectionPart::whole) == "<b>html</b>");
	CHECK(sent(nested, {1, 1}, SectionPart::mime) == "Content-Type: text/plain\r\n\r\n");
	// A message/rfc822 part: the whole inner message; its HEADER and TEXT; its parts as 2.n.
	CHECK(sent(nested, {2}, SectionPart::whole) == to_crlf(inner_message));
	CHECK(offset_of(nested, {2}, SectionPart::whole) == nested.find("From: Inner"));
	CHECK(sent(nested, {2}, SectionPart::header) == to_crlf(inner_message.substr(0, inner_message.find("--in2"))));
	CHECK(sent(nested, {2}, SectionPart::text) == to_crlf(inner_message.substr(inner_message.find("--in2"))));
	CHECK(sent(nested, {2}, SectionPart::header_fields, {"SUBJECT"}) == "Subject: inner\r\n\r\n");
	CHECK(sent(nested, {2}, SectionPart::mime) ==
	      "Content-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"fwd.eml\"\r\n\r\n");
	CHECK(sent(nested, {2, 1}, SectionPart::whole) == "first");
	CHECK(sent(nested, {2, 1}, SectionPart::mime) == "\r\n");
	CHECK(sent(nested, {2, 2}, SectionPart::whole) == "iVBO");
	CHECK(offset_of(nested, {2, 2}, SectionPart::whole) == nested.find("iVBO"));
	CHECK(sent(nested, {2, 2}, SectionPart::mime) == "Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n");
	CHECK_FALSE(sent(nested, {2, 3}, SectionPart::whole));
	CHECK_FALSE(sent(nested, {3}, SectionPart::whole));
	CHECK_FALSE(sent(nested, {1, 2, 1}, SectionPart::whole));
	CHECK_FALSE(sent(nested, {1}, SectionPart::header)); // multipart, not a message
	CHECK_FALSE(sent(nested, {2, 1}, SectionPart::text));

	check_same_in_all_forms(nested, {{}, {1}, {1, 1}, {1, 2}, {2}, {2, 1}, {2, 2}, {2, 3}});
}

TEST_CASE("message/rfc822 of a single-part message: 2.1 is the inner body", "[imap-message]")
{
	std::string raw = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nintro\n--b\n"
			  "Content-Type: message/rfc822\n\nSubject: fwd\n\nfwd body\n--b--\n";
	ImapMessage m(raw);
	// "Subject: fwd\r\n\r\nfwd body": 24 bytes, 3 lines; the inner body "fwd body": 8 bytes, 1 line.
	CHECK(m.bodystructure(false) == "(" + plain_text + "5 1)(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 24 "
					       "(NIL \"fwd\" NIL NIL NIL NIL NIL NIL NIL NIL) " + plain_text + "8 1) 3) \"MIXED\")");
	CHECK(sent(raw, {2, 1}, SectionPart::whole) == "fwd body");
	CHECK(sent(raw, {2, 1}, SectionPart::mime) == "Subject: fwd\r\n\r\n");
	CHECK_FALSE(sent(raw, {2, 2}, SectionPart::whole));
}

TEST_CASE("Parts of a multipart/digest default to message/rfc822", "[imap-message]")
{
	std::string raw = "Content-Type: multipart/digest; boundary=d\n"
			  "\n"
			  "--d\n"
			  "\n"
			  "Subject: one\n"
			  "\n"
			  "1\n"
			  "--d\n"
			  "Content-Type: text/plain\n"
			  "\n"
			  "two\n"
			  "--d--\n";
	ImapMessage m(raw);
	// Part 1 is "Subject: one\r\n\r\n1": 17 bytes, 3 lines.
	CHECK(m.bodystructure(false) == "((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 17 "
					"(NIL \"one\" NIL NIL NIL NIL NIL NIL NIL NIL) " + plain_text + "1 1) 3)" +
					plain_text + "3 1) \"DIGEST\")");
	CHECK(sent(raw, {1, 1}, SectionPart::whole) == "1");
	CHECK(sent(raw, {1}, SectionPart::header) == "Subject: one\r\n\r\n");
	check_same_in_all_forms(raw, {{1}, {1, 1}, {2}});
}

TEST_CASE("Extension data: MD5, disposition, language, location", "[imap-message]")
{
	std::string raw = "Content-Type: text/plain; format=flowed (a comment); charset=\"utf-8\"\n"
			  "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n"
			  "Content-Disposition: inline\n"
			  "Content-Language: en, de (German)\n"
			  "Content-Location: http://example.org/a\n"
			  "Content-Transfer-Encoding: Quoted-Printable (qp)\n"
			  "\n"
			  "x";
	ImapMessage m(raw);
	CHECK(m.bodystructure(true) == "(\"TEXT\" \"PLAIN\" (\"FORMAT\" \"flowed\" \"CHARSET\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 1 1 "
				       "\"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"INLINE\" NIL) (\"en\" \"de\") \"http://example.org/a\")");
}

TEST_CASE("Address forms in the ENVELOPE", "[imap-message]")
{
	// From alone: sender and reply-to repeat it.
	auto from = [](const std::string &addr) {
		std::string raw = "From: " + addr + "\n\n"; // must outlive m, which keeps views of it
		ImapMessage m(raw);
		std::string env = m.envelope();
		std::string prefix = "(NIL NIL ";
		REQUIRE(env.substr(0, prefix.size()) == prefix);
		std::string list = env.substr(prefix.size(), (env.size() - prefix.size() - 23) / 3);
		CHECK(env == prefix + list + " " + list + " " + list + " NIL NIL NIL NIL NIL)");
		return list;
	};
	CHECK(from("a@b") == "((NIL NIL \"a\" \"b\"))");
	CHECK(from("Name <a@b>") == "((\"Name\" NIL \"a\" \"b\"))");
	CHECK(from("a@b (Old Style)") == "((\"Old Style\" NIL \"a\" \"b\"))");
	CHECK(from("John Q. Public <jqp@example.com>") == "((\"John Q. Public\" NIL \"jqp\" \"example.com\"))");
	CHECK(from("\"Doe, John\" <j@d.org>, x@y") == "((\"Doe, John\" NIL \"j\" \"d.org\")(NIL NIL \"x\" \"y\"))");
	CHECK(from("\"A \\\"B\\\"\" <a@b>") == "((\"A \\\"B\\\"\" NIL \"a\" \"b\"))");
	CHECK(from("\"quoted local\"@example.org") == "((NIL NIL \"quoted local\" \"example.org\"))");
	CHECK(from("<@relay.example,@r2:user@host>") == "((NIL \"@relay.example,@r2\" \"user\" \"host\"))");
	CHECK(from("root") == "((NIL NIL \"root\" \"\"))"); // no domain: not a group marker
	CHECK(from("=?utf-8?q?J=C3=B6rg?= <j@x>") == "((\"=?utf-8?q?J=C3=B6rg?=\" NIL \"j\" \"x\"))"); // not decoded
	CHECK(from("J\xc3\xb6rg <j@x>") == "(({5}\r\nJ\xc3\xb6rg NIL \"j\" \"x\"))");          // 8-bit: a literal
	CHECK(from("a@b,,\n c@d") == "((NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\"))");
	CHECK(from("undisclosed-recipients:;") == "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL))");
	CHECK(from("Friends: a@b, \"C D\" <c@d>;, e@f") ==
	      "((NIL NIL \"Friends\" NIL)(NIL NIL \"a\" \"b\")(\"C D\" NIL \"c\" \"d\")(NIL NIL NIL NIL)(NIL NIL \"e\" \"f\"))");
	CHECK(from("Open: a@b") == "((NIL NIL \"Open\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL NIL NIL))"); // unclosed group
	CHECK(from("Name <a@b, c@d") == "((\"Name\" NIL \"a\" \"b\")(NIL NIL \"c\" \"d\"))");         // missing '>'
	CHECK(from("\"unclosed <a@b>") == "((NIL NIL \"unclosed <a@b>\" \"\"))");

	// A hostile list is cut at 10,000 entries; an open group still gets its end marker.
	std::string many;
	for (int i = 0; i < 20000; i++)
		many += "a@b,";
	CHECK(from(many).size() == 2 + 10000 * std::string("(NIL NIL \"a\" \"b\")").size());
	CHECK(from("g: " + many).size() == 2 + 9999 * std::string("(NIL NIL \"a\" \"b\")").size() + 34);
}

TEST_CASE("ENVELOPE: each field in its place, Sender and Reply-To only default when absent or empty", "[imap-message]")
{
	std::string raw = "From: f@x\nSender: s@x\nReply-To:\nTo: t@x\nCc: c@x\nBcc: b@x\n"
			  "In-Reply-To: <p@x>\nMessage-ID: <m@x>\nSubject: \"quoted\" \\ back\nDate: 1 Jan 2000 00:00 +0000\n\n";
	CHECK(ImapMessage(raw).envelope() ==
	      "(\"1 Jan 2000 00:00 +0000\" \"\\\"quoted\\\" \\\\ back\" ((NIL NIL \"f\" \"x\")) ((NIL NIL \"s\" \"x\")) "
	      "((NIL NIL \"f\" \"x\")) ((NIL NIL \"t\" \"x\")) ((NIL NIL \"c\" \"x\")) ((NIL NIL \"b\" \"x\")) \"<p@x>\" \"<m@x>\")");
	// The first of repeated fields; header names in any case.
	CHECK(ImapMessage("SUBJECT: one\nsubject: two\n\n").envelope() == "(NIL \"one\" NIL NIL NIL NIL NIL NIL NIL NIL)");
	// A bare CR in a value cannot be quoted.
	CHECK(ImapMessage("Subject: a\rb\n\n").envelope() == "(NIL {3}\r\na\rb NIL NIL NIL NIL NIL NIL NIL NIL)");
}

TEST_CASE("Edge cases: empty message, no blank line, no final newline, folding", "[imap-message]")
{
	std::string empty_body = plain_text + "0 0)";
	{
		ImapMessage m("");
		CHECK(m.envelope() == "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
		CHECK(m.bodystructure(false) == empty_body);
		CHECK(m.header().empty());
		CHECK(m.body().empty());
		CHECK(sent("", {}, SectionPart::whole) == "");
		CHECK(sent("", {1}, SectionPart::whole) == "");
		CHECK(sent("", {}, SectionPart::header_fields, {"SUBJECT"}) == "\r\n");
		CHECK_FALSE(m.date());
	}
	{
		// All header: the body is empty and HEADER is the whole message.
		std::string raw = "Subject: hi\nFrom: a@b\n";
		ImapMessage m(raw);
		CHECK(m.header() == raw);
		CHECK(m.body().empty());
		CHECK(m.bodystructure(false) == empty_body);
		CHECK(sent(raw, {}, SectionPart::text) == "");
		CHECK(sent(raw, {}, SectionPart::header) == "Subject: hi\r\nFrom: a@b\r\n");
		CHECK(m.header_value("From") == "a@b");
	}
	{
		// Header without a final newline: the field still ends with CRLF in HEADER.FIELDS.
		std::string raw = "From: a@b\nSubject: hi";
		ImapMessage m(raw);
		CHECK(m.header_value("subject") == "hi");
		CHECK(sent(raw, {}, SectionPart::header_fields, {"SUBJECT"}) == "Subject: hi\r\n\r\n");
		CHECK(sent(raw, {}, SectionPart::header) == "From: a@b\r\nSubject: hi");
		CHECK(crlf_size(raw) == 22);
	}
	{
		// Unfolding removes the line ends, keeps the white space; the space after the colon goes.
		std::string raw = "Subject:   a\n\tb\n  c\nX: y\n\nbody";
		ImapMessage m(raw);
		CHECK(m.header_value("Subject") == "a\tb  c");
		CHECK(m.envelope() == "(NIL \"a\tb  c\" NIL NIL NIL NIL NIL NIL NIL NIL)");
		CHECK(sent(raw, {}, SectionPart::header_fields, {"SUBJECT"}) == "Subject:   a\r\n\tb\r\n  c\r\n\r\n");
		CHECK(m.bodystructure(false) == plain_text + "4 1)");
	}
	{
		// A message that starts with its blank line has an empty header.
		ImapMessage m("\nbody\n");
		CHECK(m.header() == "\n");
		CHECK(m.body() == "body\n");
	}
}

TEST_CASE("Broken multiparts degrade instead of failing", "[imap-message]")
{
	// No closing delimiter: the last part runs to the end.
	std::string open_end = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b\n\ny\n";
	CHECK(ImapMessage(open_end).bodystructure(false) == "(" + plain_text + "1 1)" + plain_text + "3 1) \"MIXED\")");
	CHECK(sent(open_end, {2}, SectionPart::whole) == "y\r\n");

	// Empty parts: the line end before a delimiter belongs to it.
	std::string empties = "Content-Type: multipart/mixed; boundary=b\n\n--b\n--b\n\n--b--\n";
	CHECK(ImapMessage(empties).bodystructure(false) == "(" + plain_text + "0 0)" + plain_text + "0 0) \"MIXED\")");

	// A delimiter line may carry trailing white space; "--b" does not match boundary "bb".
	std::string padded = "Content-Type: multipart/mixed; boundary=bb\n\n--b\n--bb  \n\nz\n--bb--  \n";
	CHECK(ImapMessage(padded).bodystructure(false) == "(" + plain_text + "1 1) \"MIXED\")");

	// No delimiter at all, no boundary parameter, or an unusable message/rfc822: one opaque part.
	std::string opaque = R"(("APPLICATION" "OCTET-STREAM" )";
	CHECK(ImapMessage("Content-Type: multipart/mixed; boundary=b\n\nno parts\n").bodystructure(false) ==
	      opaque + "(\"BOUNDARY\" \"b\") NIL NIL \"7BIT\" 10)");
	CHECK(ImapMessage("Content-Type: multipart/mixed\n\n--\n").bodystructure(false) == opaque + "NIL NIL NIL \"7BIT\" 4)");
	CHECK(ImapMessage("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeA==\n")
		      .bodystructure(false) == opaque + "NIL NIL NIL \"BASE64\" 18)");
	CHECK_FALSE(sent("Content-Type: multipart/mixed\n\n--\n", {1, 1}, SectionPart::whole));

	// An unreadable Content-Type is text/plain; charset=us-ascii (RFC 2045 5.2).
	CHECK(ImapMessage("Content-Type: text\n\nx").bodystructure(false) == plain_text + "1 1)");
	CHECK(ImapMessage("Content-Type: ;;;\n\nx").bodystructure(false) == plain_text + "1 1)");
	// Broken parameters are skipped, the good ones kept; unquoted boundaries may hold '='.
	std::string lenient = "Content-Type: multipart/mixed; junk; =x; boundary=----=_Part_1; a=\"b\n\n------=_Part_1\n\nq\n";
	CHECK(ImapMessage(lenient).bodystructure(true) ==
	      "(" + plain_text + "3 1 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"----=_Part_1\" \"A\" \"b\") NIL NIL NIL)");
}

TEST_CASE("Deep nesting is cut at max_mime_depth, many parts at max_mime_parts", "[imap-message]")
{
	// 100,000 nested multiparts, each with its own boundary (none a prefix of another).
	std::string deep = "Subject: deep\n";
	constexpr int levels = 100000;
	for (int i = 0; i < levels; i++)
		deep += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + ".\n\n--b" + std::to_string(i) + ".\n";
	deep += "\nleaf\n";
	ImapMessage m(deep);
	std::string bs = m.bodystructure(true);
	std::size_t mixed = 0;
	for (std::size_t at = 0; (at = bs.find("\"MIXED\"", at)) != std::string::npos; at++)
		mixed++;
	CHECK(mixed == ImapMessage::max_mime_depth);
	CHECK(bs.find("\"APPLICATION\" \"OCTET-STREAM\" (\"BOUNDARY\" \"b20.\")") != std::string::npos);
	std::vector<std::uint32_t> path(ImapMessage::max_mime_depth, 1);
	CHECK(m.section(path, SectionPart::whole, {}));
	path.push_back(1);
	CHECK_FALSE(m.section(path, SectionPart::whole, {}));

	// Forwarded inside forwarded, 100,000 times.
	std::string fwd;
	for (int i = 0; i < levels; i++)
		fwd += "Content-Type: message/rfc822\n\n";
	ImapMessage f(fwd);
	std::string fbs = f.bodystructure(false);
	std::size_t envelopes = 0;
	for (std::size_t at = 0; (at = fbs.find("\"RFC822\"", at)) != std::string::npos; at++)
		envelopes++;
	CHECK(envelopes == ImapMessage::max_mime_depth);

	// 100,000 sibling parts: the last one allowed keeps the rest.
	std::string wide = "Content-Type: multipart/mixed; boundary=b\n\n";
	for (int i = 0; i < levels; i++)
		wide += "--b\n\nx\n";
	ImapMessage w(wide);
	std::string wbs = w.bodystructure(false);
	std::size_t parts = 0;
	for (std::size_t at = 0; (at = wbs.find("(\"TEXT\"", at)) != std::string::npos; at++)
		parts++;
	CHECK(parts == ImapMessage::max_mime_parts);
	auto last = w.section({static_cast<std::uint32_t>(ImapMessage::max_mime_parts)}, SectionPart::whole, {});
	REQUIRE(last);
	// Its body starts after its delimiter line and its empty header.
	CHECK(last->range.size() == wide.size() - (wide.find("--b\n\nx\n") + 7 * (ImapMessage::max_mime_parts - 1) + 5));
	CHECK_FALSE(w.section({static_cast<std::uint32_t>(ImapMessage::max_mime_parts + 1)}, SectionPart::whole, {}));
}

TEST_CASE("Date: RFC 5322 forms and the obsolete ones", "[imap-message]")
{
	auto t = [](std::string_view v) -> std::optional<std::int64_t> {
		auto d = parse_message_date(v);
		if (!d)
			return std::nullopt;
		return d->unix_time;
	};
	CHECK(t("Thu, 1 Jan 1970 00:00:00 +0000") == 0);
	CHECK(t("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)") == 837595405);
	CHECK(t("17 Jul 1996 09:23:25 GMT") == 837595405);
	CHECK(t("Wed , 17 Jul 96 02:23 PDT") == 837595380);   // two-digit year, no seconds, named zone
	CHECK(t("17 Jul 096 04:23:25 (comment) -0500") == 837595405); // three-digit year
	CHECK(t("1 Jan 49 00:00:00 Z") == 2493072000);        // 49 is 2049
	CHECK(t("Fri, 31 Dec 1999 23:59:60 +0000") == 946684800); // leap second
	CHECK(t("17-Jul-1996 09:23:25 +0000") == 837595405);
	CHECK(t("29 Feb 2000 00:00 +0000") == 951782400);
	CHECK_FALSE(t(""));
	CHECK_FALSE(t("yesterday"));
	CHECK_FALSE(t("32 Jan 2000 00:00 +0000"));
	CHECK_FALSE(t("1 Foo 2000 00:00 +0000"));
	CHECK_FALSE(t("1 Jan 2000 24:00 +0000"));
	CHECK_FALSE(t("1 Jan 2000 12 +0000"));
	CHECK_FALSE(t("1 Jan 2000 00:00 +0060"));

	// The zone is kept for SEARCH SENTON: 23:30 -0700 is still the 16th where it was written.
	auto d = parse_message_date("Tue, 16 Jul 1996 23:30:00 -0700");
	REQUIRE(d);
	CHECK(d->zone_offset == -7 * 3600);
	CHECK((d->unix_time + d->zone_offset) / 86400 == 837561600 / 86400 - 1); // 1996-07-16 local
	CHECK(d->unix_time / 86400 == 837561600 / 86400);                        // 1996-07-17 UTC
	CHECK(ImapMessage("Date: garbage\n\n").date() == std::nullopt);
}
