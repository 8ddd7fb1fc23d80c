// SORT's keys as RFC 5256 3 and RFC 5957 define them, read from a header in one pass, and the
// order they give.
#include "imap/imap-sort.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace maild;

TEST_CASE("Sort keys: first addresses, display names, base subject, sent date, references", "[imap][sort]")
{
	std::string header = "From: =?utf-8?q?Zo=C3=AB?= <zoe@example.org>\r\n"
			     "To: team: a@b.example, c@d.example;, \"Bob\" <bob@x.example>\r\n"
			     "Cc: carol@example.org (Carol)\r\n"
			     "Subject: Re: [list] Hello\r\n"
			     "Date: Mon, 7 Feb 1994 21:52:25 -0800\r\n"
			     "Message-ID: <m1@x>\r\n"
			     "In-Reply-To: <p@x>\r\n"
			     "Subject: second subject is not the one\r\n\r\n";
	SortFields f = sort_fields(header, 1000, 4321);
	CHECK(f.arrival == 1000);
	CHECK(f.size == 4321);
	CHECK(f.sent == 760686745); // in UTC
	CHECK(f.subject == "HELLO");
	CHECK(f.reply_or_forward);
	CHECK(f.from == "ZOE");
	CHECK(f.display_from == "ZO\xC3\xAB"); // decoded; only ASCII letters change case
	// The first address inside a group is To's first address.
	CHECK(f.to == "A");
	CHECK(f.display_to == "A@B.EXAMPLE");
	// The local part, whatever the comment or display name says.
	CHECK(f.cc == "CAROL");
	CHECK(f.message_id == "m1@x");
	CHECK(f.references == std::vector<std::string>{"p@x"});

	SortFields g = sort_fields("References: <r1@x>\r\n <r2@x>\r\nIn-Reply-To: <p@x>\r\nDate: not a date\r\n\r\n", 77, 1);
	CHECK(g.references == std::vector<std::string>{"r1@x", "r2@x"});
	CHECK(g.sent == 77); // unreadable Date: the internal date
	CHECK(g.from.empty());
	CHECK(g.display_from.empty());
	CHECK(g.subject.empty());
	CHECK(sort_fields("", 5, 0).sent == 5);
}

TEST_CASE("Sort order: criteria in turn, REVERSE per criterion, the sequence number last", "[imap][sort]")
{
	std::vector<SortFields> f(5);
	std::int64_t arrival[] = {50, 10, 40, 20, 30};
	std::uint64_t size[] = {300, 100, 300, 200, 100};
	const char *subject[] = {"B", "A", "B", "A", "C"};
	for (std::size_t i = 0; i < f.size(); i++) {
		f[i].arrival = f[i].sent = arrival[i];
		f[i].size = size[i];
		f[i].subject = subject[i];
	}
	std::vector<const SortFields *> p;
	for (const auto &x : f)
		p.push_back(&x);
	using V = std::vector<std::size_t>;
	CHECK(sort_order(p, {{SortKind::arrival, false}}) == V{1, 3, 4, 2, 0});
	CHECK(sort_order(p, {{SortKind::arrival, true}}) == V{0, 2, 4, 3, 1});
	// Equal sizes keep mailbox order, also under REVERSE (RFC 5256 3).
	CHECK(sort_order(p, {{SortKind::size, false}}) == V{1, 4, 3, 0, 2});
	CHECK(sort_order(p, {{SortKind::size, true}}) == V{0, 2, 3, 1, 4});
	CHECK(sort_order(p, {{SortKind::subject, false}, {SortKind::date, true}}) == V{3, 1, 0, 2, 4});
	CHECK(sort_order(p, {}) == V{0, 1, 2, 3, 4});
}
