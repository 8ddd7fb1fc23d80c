// What SORT and THREAD will compare: RFC 2047 encoded words decoded to UTF-8, and the base
// subject of RFC 5256 2.1 (the examples of RFC 2047 8 and the ABNF of RFC 5256 5 made concrete).
#include "mail/encoded-word.hpp"
#include "mail/subject.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace maild;

TEST_CASE("Encoded words: RFC 2047's own examples of white space between words", "[mail][rfc2047]")
{
	CHECK(decode_encoded_words("(=?ISO-8859-1?Q?a?=)") == "(a)");
	CHECK(decode_encoded_words("(=?ISO-8859-1?Q?a?= b)") == "(a b)");
	CHECK(decode_encoded_words("(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)") == "(ab)");
	CHECK(decode_encoded_words("(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)") == "(ab)");
	CHECK(decode_encoded_words("(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)") == "(ab)");
	CHECK(decode_encoded_words("(=?ISO-8859-1?Q?a_b?=)") == "(a b)");
	CHECK(decode_encoded_words("a =?us-ascii?q?b?= c") == "a b c");
}

TEST_CASE("Encoded words: charsets, B and Q, a character split between two words", "[mail][rfc2047]")
{
	CHECK(decode_encoded_words("=?utf-8?q?caf=C3=A9?=") == "caf\xC3\xA9");
	CHECK(decode_encoded_words("=?UTF-8?B?Y2Fmw6k=?=") == "caf\xC3\xA9");
	CHECK(decode_encoded_words("=?utf-8*fr?Q?caf=c3=a9?=") == "caf\xC3\xA9");
	// The two bytes of one UTF-8 character in two words are joined before conversion.
	CHECK(decode_encoded_words("=?utf-8?q?caf=C3?= =?utf-8?q?=A9?=") == "caf\xC3\xA9");
	CHECK(decode_encoded_words("=?iso-8859-1?q?Andr=E9?=") == "Andr\xC3\xA9");
	CHECK(decode_encoded_words("=?iso-8859-15?q?=A4?=") == "\xE2\x82\xAC");
	CHECK(decode_encoded_words("=?iso-8859-1?q?=A4?=") == "\xC2\xA4");
	CHECK(decode_encoded_words("=?windows-1252?q?=80=93?=") == "\xE2\x82\xAC\xE2\x80\x9C"); // U+201C
	// Adjacent words of different charsets are each converted from their own.
	CHECK(decode_encoded_words("=?iso-8859-1?q?=E9?= =?utf-8?q?=C3=A9?=") == "\xC3\xA9\xC3\xA9");
}

TEST_CASE("Encoded words: what cannot be decoded stays as written, or becomes U+FFFD", "[mail][rfc2047]")
{
	// Unknown charset, unknown encoding, no end, a space inside: the text as it is, with the
	// white space before it kept, since it does not sit between two decoded words.
	CHECK(decode_encoded_words("=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=") == "a =?ISO-8859-2?Q?_b?=");
	CHECK(decode_encoded_words("=?utf-8?x?abc?=") == "=?utf-8?x?abc?=");
	CHECK(decode_encoded_words("=?utf-8?q?no end") == "=?utf-8?q?no end");
	CHECK(decode_encoded_words("=?utf-8?q?a b?=") == "=?utf-8?q?a b?=");
	CHECK(decode_encoded_words("=??q?a?=") == "=??q?a?=");
	CHECK(decode_encoded_words("plain =? text ?=") == "plain =? text ?=");
	// Bytes not valid in their charset.
	CHECK(decode_encoded_words("=?utf-8?q?a=FFb?=") == "a\xEF\xBF\xBD" "b");
	CHECK(decode_encoded_words("=?utf-8?q?=ED=A0=80?=") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"); // a surrogate
	CHECK(decode_encoded_words("=?us-ascii?q?=E9?=") == "\xEF\xBF\xBD");
	CHECK(decode_encoded_words("=?windows-1252?q?=81?=") == "\xEF\xBF\xBD");
	// A "=" not followed by two hex digits stands for itself in Q.
	CHECK(decode_encoded_words("=?utf-8?q?a=4?=") == "a=4");
	// 8-bit text outside encoded words passes through.
	CHECK(decode_encoded_words("caf\xC3\xA9") == "caf\xC3\xA9");
}

namespace {
std::string base(std::string_view s)
{
	return base_subject(s).text;
}
bool reply(std::string_view s)
{
	return base_subject(s).reply_or_forward;
}
} // namespace

TEST_CASE("Base subject: leaders, trailers, blobs and [fwd: ] wrappers (RFC 5256 2.1)", "[mail][sort]")
{
	CHECK(base("lunch") == "lunch");
	CHECK_FALSE(reply("lunch"));
	CHECK(base("Re: lunch") == "lunch");
	CHECK(reply("Re: lunch"));
	CHECK(base("Re: [list] Fwd: lunch (fwd)") == "lunch");
	CHECK(base("Re: Re[2]: RE : fw: FWD:lunch") == "lunch");
	CHECK(base("  Re:   \t lunch  \r\n (fwd) (FWD) ") == "lunch");
	CHECK(base("[fwd: lunch]") == "lunch");
	CHECK(reply("[fwd: lunch]"));
	CHECK(base("[fwd: Re: lunch (fwd)]") == "lunch");
	CHECK(base("Fwd: [fwd: lunch]") == "lunch");
	// A blob goes only when text follows it, and is no reply by itself.
	CHECK(base("[list] lunch") == "lunch");
	CHECK_FALSE(reply("[list] lunch"));
	CHECK(base("[list]") == "[list]");
	CHECK(base("[a] [b] lunch") == "lunch");
	// Words that only start like a leader stay.
	CHECK(base("Reply to this") == "Reply to this");
	CHECK(base("Fwdx: a") == "Fwdx: a");
	CHECK_FALSE(reply("Reply to this"));
	CHECK(base("Re:") == "");
	CHECK(base("") == "");
	// Inner white space collapses to one space; case is kept (comparisons ignore it).
	CHECK(base("Lunch\t \tat  Noon") == "Lunch at Noon");
	// Encoded words are decoded first, so an encoded "Re:" is a leader too.
	CHECK(base("=?utf-8?q?Re=3A_caf=C3=A9?=") == "caf\xC3\xA9");
	CHECK(reply("=?utf-8?q?Re=3A_caf=C3=A9?="));
}
