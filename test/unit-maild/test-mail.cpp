// mail/ on its own (header fields, MIME fields and tree, address lists, the Date: header) and the
// base/ pieces the storage and auth layers now share (read_to_end, errno kept, errno_text).
// ENVELOPE and BODYSTRUCTURE, which are built on these, are tested through ImapMessage.
#include "base/ascii.hpp"
#include "base/error.hpp"
#include "base/fd.hpp"
#include "mail/address.hpp"
#include "mail/date.hpp"
#include "mail/header.hpp"
#include "mail/lexer.hpp"
#include "mail/mime.hpp"

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <unistd.h>
#include <vector>

using namespace maild;

TEST_CASE("Header fields: continuation lines, nameless lines, the first match of a name", "[mail]")
{
	std::string_view header = "Subject: a\r\n b\nX-Y : 1\n\tcontinued\nno colon here\nsubject: second\n\nbody";
	std::vector<std::string> names, lines;
	for_each_field(header, [&](const HeaderField &f) {
		names.emplace_back(f.name);
		lines.emplace_back(f.lines);
		return true;
	});
	CHECK(names == std::vector<std::string>{"Subject", "X-Y", "", "subject"});
	CHECK(lines[0] == "Subject: a\r\n b\n");
	CHECK(lines[1] == "X-Y : 1\n\tcontinued\n");
	auto subject = find_field(header, "SUBJECT");
	REQUIRE(subject);
	CHECK(*subject == " a\r\n b");
	CHECK(unfold(*subject) == "a b");
	CHECK(find_field(header, "x-y").value_or("") == " 1\n\tcontinued");
	CHECK(!find_field(header, "Missing"));
	CHECK(!find_field(header, "")); // the nameless line is not found by an empty name
	CHECK(unfold_trimmed("  x \r\n\t") == "x");
}

TEST_CASE("An entity splits at its first blank line, which stays with the header", "[mail]")
{
	auto [h, b] = split_entity("A: 1\r\n\r\nbody\n\nmore");
	CHECK(h == "A: 1\r\n\r\n");
	CHECK(b == "body\n\nmore");
	auto [h2, b2] = split_entity("A: 1\nB: 2");
	CHECK(h2 == "A: 1\nB: 2");
	CHECK(b2.empty());
	CHECK(count_lines("") == 0);
	CHECK(count_lines("a\nb") == 2);
	CHECK(count_lines("a\r\nb\r\n") == 2);
}

TEST_CASE("Content-Type: type, subtype, parameters quoted or not, comments", "[mail][mime]")
{
	auto ct = parse_content_type(" text/Plain (c) ; charset=\"utf-8\"; format=flowed;\r\n\tbroken; "
				     "boundary=----=_Part_1");
	REQUIRE(ct);
	CHECK(ct->type == "TEXT");
	CHECK(ct->subtype == "PLAIN");
	CHECK(ct->params ==
	      MimeParams{{"CHARSET", "utf-8"}, {"FORMAT", "flowed"}, {"BOUNDARY", "----=_Part_1"}});
	CHECK(!parse_content_type("text"));
	CHECK(!parse_content_type("text/"));
	CHECK(!parse_content_type("/plain"));

	Disposition d = parse_disposition("attachment; filename=\"a b.txt\"");
	CHECK(d.type == "ATTACHMENT");
	CHECK(d.params == MimeParams{{"FILENAME", "a b.txt"}});
	CHECK(parse_disposition(" ; x=1").type.empty());
	CHECK(parse_language_list("en (English), de-CH,,fr") == std::vector<std::string>{"en", "de-CH", "fr"});
	CHECK(first_token(" base64 (comment)") == "BASE64");
}

TEST_CASE("Multipart bodies split at boundary lines; preamble, epilogue and the limit", "[mail][mime]")
{
	std::string_view body = "pre\r\n--b\r\none\r\n--b x\r\ntwo\r\n--b\r\nthree\r\n--b--\r\nepilogue";
	CHECK(split_multipart(body, "b", 10) == std::vector<std::string_view>{"one", "two", "three"});
	// At the limit the further delimiters stay inside the last part.
	CHECK(split_multipart(body, "b", 2) == std::vector<std::string_view>{"one", "two\r\n--b\r\nthree"});
	// Without a close delimiter the last part runs to the end.
	CHECK(split_multipart("--b\nonly\n", "b", 10) == std::vector<std::string_view>{"only\n"});
	CHECK(split_multipart("no delimiter", "b", 10).empty());
}

TEST_CASE("The MIME tree: defaults, digest parts, opaque composites", "[mail][mime]")
{
	MimePart plain = parse_mime("Subject: x\n\nhello");
	CHECK(plain.kind == MimePart::Kind::leaf);
	CHECK((plain.type == "TEXT" && plain.subtype == "PLAIN"));
	REQUIRE(plain.param("CHARSET") != nullptr);
	CHECK(*plain.param("CHARSET") == "US-ASCII");
	CHECK(plain.body == "hello");

	MimePart digest = parse_mime("Content-Type: multipart/digest; boundary=d\n\n--d\n\nA: 1\n\nx\n--d--\n");
	REQUIRE(digest.kind == MimePart::Kind::multipart);
	REQUIRE(digest.children.size() == 1);
	CHECK(digest.children[0].kind == MimePart::Kind::message);
	CHECK(digest.children[0].children.at(0).header == "A: 1\n\n");

	MimePart no_boundary = parse_mime("Content-Type: multipart/mixed\n\nbody");
	CHECK(no_boundary.kind == MimePart::Kind::leaf);
	CHECK(no_boundary.type == "APPLICATION");
	MimePart encoded = parse_mime("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nQQ==");
	CHECK(encoded.kind == MimePart::Kind::leaf);
	CHECK(encoded.subtype == "OCTET-STREAM");
}

namespace {
std::vector<MailAddress> addresses(std::string_view value)
{
	std::vector<MailAddress> out;
	parse_address_list(value, [&](const MailAddress &a) { out.push_back(a); });
	return out;
}
} // namespace

TEST_CASE("Address lists: names, comments, groups, routes, a missing '>'", "[mail][address]")
{
	auto a = addresses("\"Q. Public\" <john@example.com>, jane@example.org (Jane Doe)");
	REQUIRE(a.size() == 2);
	CHECK(a[0].name == "Q. Public");
	CHECK((a[0].mailbox == "john" && a[0].host == "example.com"));
	CHECK(a[1].name == "Jane Doe");

	auto g = addresses("Team: a@x, <@route,@r2:b@y>; c@z");
	REQUIRE(g.size() == 5);
	CHECK((g[0].mailbox == "Team" && !g[0].host));
	CHECK((g[1].mailbox == "a" && g[1].host == "x"));
	CHECK((g[2].mailbox == "b" && g[2].host == "y"));
	CHECK(g[2].route == "@route,@r2"); // RFC 3501 ENVELOPE's adl
	CHECK(!g[1].route);
	CHECK((!g[3].name && !g[3].mailbox && !g[3].host)); // the group's end
	CHECK(g[4].mailbox == "c");

	auto open = addresses("<a@b, c@d");
	REQUIRE(open.size() == 2);
	CHECK(open[0].host == "b");
	CHECK(open[1].host == "d");
	auto no_domain = addresses("local");
	REQUIRE(no_domain.size() == 1);
	CHECK((no_domain[0].mailbox == "local" && no_domain[0].host == "")); // empty, not a group marker
	CHECK(addresses(" , ,").empty());

	// A comment alone in a group is no address: the group start and its end, nothing between.
	auto empty_group = addresses("group2: (foo) ;");
	REQUIRE(empty_group.size() == 2);
	CHECK((empty_group[0].mailbox == "group2" && !empty_group[0].host));
	CHECK((!empty_group[1].name && !empty_group[1].mailbox));
	// Comments inside an address are not part of it.
	auto commented = addresses("<user-from (comment)@ (comment) domain.org>");
	REQUIRE(commented.size() == 1);
	CHECK((commented[0].mailbox == "user-from" && commented[0].host == "domain.org"));
}

TEST_CASE("Address lists stop at max_addresses and still close a group", "[mail][address]")
{
	std::string many = "G:";
	for (std::size_t i = 0; i < max_addresses + 5; i++)
		many += "a@b,";
	auto a = addresses(many);
	REQUIRE(a.size() == max_addresses + 1); // the group start counts; its end marker comes on top
	CHECK((!a.back().mailbox && !a.back().host));
}

TEST_CASE("Date: numeric and named zones, short years, a day past the month's end", "[mail][date]")
{
	auto d = parse_message_date("Tue, 1 Jul 2003 10:52:37 +0200");
	REQUIRE(d);
	CHECK(d->unix_time == 1057049557);
	CHECK(d->zone_offset == 7200);
	auto pdt = parse_message_date("1 Jul 03 01:52 PDT");
	REQUIRE(pdt);
	CHECK(pdt->unix_time == 1057049520);
	CHECK(pdt->zone_offset == -7 * 3600);
	// The day is checked against 31 only, so 31 Feb is 3 Mar, as it always was.
	CHECK(parse_message_date("31 Feb 2001 00:00 +0000")->unix_time ==
	      parse_message_date("3 Mar 2001 00:00 +0000")->unix_time);
	CHECK(!parse_message_date("1 Foo 2003 10:00"));
	CHECK(!parse_message_date("1 Jul 2003 10:00 +0060"));
	CHECK(!parse_message_date("1 Jul 2003"));
}

TEST_CASE("read_to_end stops at its limit with EFBIG; closing keeps errno", "[fd][error]")
{
	int p[2];
	REQUIRE(pipe(p) == 0);
	Fd r(p[0]), w(p[1]);
	REQUIRE(write_full(w.get(), std::string(100, 'x')));
	REQUIRE(w.close());
	std::string out;
	CHECK(!read_to_end(r.get(), out, 99));
	CHECK(errno == EFBIG);

	int q[2];
	REQUIRE(pipe(q) == 0);
	Fd r2(q[0]), w2(q[1]);
	REQUIRE(write_full(w2.get(), "abc"));
	w2.reset();
	std::string kept(1, '<'); // what the caller had is kept: the file is appended
	CHECK(read_to_end(r2.get(), kept, 3));
	CHECK(kept == "<abc");

	errno = ENOSPC;
	Fd other(open("/dev/null", O_RDONLY | O_CLOEXEC));
	REQUIRE(other);
	other.reset();
	CHECK(errno == ENOSPC);
	CHECK(errno_text("x") == std::string("x: ") + std::strerror(ENOSPC));
	CHECK(errno == ENOSPC);
	CHECK(upper_ascii("aZ-\xe4") == "AZ-\xe4");
}
