// SORT and THREAD as the parser reads them (RFC 5256 5), and the per-loop cache of what they read
// from each message: bounded in bytes, following UIDVALIDITY and expunges.
#include "imap/imap-parser.hpp"
#include "imap/imap-search-update.hpp"
#include "imap/sort-cache.hpp"

#include <catch2/catch.hpp>
#include <memory>
#include <string>

using namespace maild;

TEST_CASE("SORT and THREAD parse: criteria, REVERSE, charset, SEARCH's keys", "[imap][parser][sort]")
{
	ImapCommand c = parse_imap_command("a UID SORT (REVERSE date Subject DISPLAYFROM) utf-8 FROM x 1:3");
	REQUIRE(c.error == nullptr);
	CHECK(c.verb == ImapVerb::sort);
	CHECK(c.uid);
	REQUIRE(c.sort_criteria.size() == 3);
	CHECK((c.sort_criteria[0].kind == SortKind::date && c.sort_criteria[0].reverse));
	CHECK((c.sort_criteria[1].kind == SortKind::subject && !c.sort_criteria[1].reverse));
	CHECK(c.sort_criteria[2].kind == SortKind::display_from);
	CHECK(c.charset == "UTF-8");
	REQUIRE(c.search.children.size() == 2);
	CHECK(c.search.children[0].op == SearchKey::Op::from);
	CHECK(c.search.children[1].op == SearchKey::Op::sequence);

	c = parse_imap_command("t THREAD orderedsubject \"US-ASCII\" ALL");
	REQUIRE(c.error == nullptr);
	CHECK(c.verb == ImapVerb::thread);
	CHECK(c.thread_algorithm == ThreadAlgorithm::orderedsubject);
	CHECK(c.charset == "US-ASCII");
	c = parse_imap_command("t UID THREAD REFERENCES ISO-8859-1 ALL");
	REQUIRE(c.error == nullptr); // an unknown charset is NO [BADCHARSET], the session's answer
	CHECK(c.thread_algorithm == ThreadAlgorithm::references);

	for (const char *bad : {"a SORT () UTF-8 ALL", "a SORT (DATE) UTF-8", "a SORT (NAME) UTF-8 ALL",
				"a SORT (REVERSE) UTF-8 ALL", "a SORT DATE UTF-8 ALL", "a SORT (DATE) UTF-8 RETURN () ALL",
				"a SORT (DATE) UTF-8 CHARSET UTF-8 ALL", "a SORT (DATE ) UTF-8 ALL",
				"a THREAD REF UTF-8 ALL", "a THREAD REFERENCES UTF-8", "a THREAD", "a SORT"}) {
		INFO(bad);
		CHECK(parse_imap_command(bad).error != nullptr);
	}
}

TEST_CASE("SORT and SEARCH RETURN: ESORT, PARTIAL, UPDATE, CONTEXT; CANCELUPDATE; THREAD REFS", "[imap][parser][sort]")
{
	ImapCommand c = parse_imap_command("a UID SORT RETURN (MIN max COUNT all) (DATE) UTF-8 ALL");
	REQUIRE(c.error == nullptr);
	CHECK(c.verb == ImapVerb::sort);
	CHECK(c.search_return_given);
	CHECK(c.search_return == (ImapCommand::ret_min | ImapCommand::ret_max | ImapCommand::ret_count | ImapCommand::ret_all));
	REQUIRE(c.sort_criteria.size() == 1);
	CHECK(c.charset == "UTF-8");

	c = parse_imap_command("a SORT RETURN () (SIZE) UTF-8 ALL");
	REQUIRE(c.error == nullptr);
	CHECK((c.search_return_given && c.search_return == 0));
	c = parse_imap_command("a SORT (SIZE) UTF-8 ALL");
	REQUIRE(c.error == nullptr);
	CHECK(!c.search_return_given);

	c = parse_imap_command("a SORT RETURN (PARTIAL 500:1 UPDATE CONTEXT) (SIZE) UTF-8 ALL");
	REQUIRE(c.error == nullptr);
	CHECK(c.search_return == (ImapCommand::ret_partial | ImapCommand::ret_update | ImapCommand::ret_context));
	CHECK((c.partial_first == 500 && c.partial_last == 1));
	c = parse_imap_command("a UID SEARCH RETURN (COUNT PARTIAL -1:-100) CHARSET UTF-8 ALL");
	REQUIRE(c.error == nullptr);
	CHECK((c.partial_first == -1 && c.partial_last == -100));
	CHECK(c.search_return == (ImapCommand::ret_count | ImapCommand::ret_partial));

	c = parse_imap_command("a CANCELUPDATE \"x1\" \"x 2\"");
	REQUIRE(c.error == nullptr);
	CHECK(c.verb == ImapVerb::cancelupdate);
	CHECK(c.args == std::vector<std::string>{"x1", "x 2"});

	c = parse_imap_command("a THREAD refs UTF-8 ALL");
	REQUIRE(c.error == nullptr);
	CHECK(c.thread_algorithm == ThreadAlgorithm::refs);

	for (const char *bad : {"a SEARCH RETURN (PARTIAL 1:2 ALL) ALL", "a SEARCH RETURN (ALL PARTIAL 1:2) ALL",
				"a SEARCH RETURN (PARTIAL 1:2 PARTIAL 3:4) ALL", "a SEARCH RETURN (PARTIAL 0:5) ALL",
				"a SEARCH RETURN (PARTIAL 1:0) ALL", "a SEARCH RETURN (PARTIAL -1:5) ALL",
				"a SEARCH RETURN (PARTIAL 1:-5) ALL", "a SEARCH RETURN (PARTIAL 1:*) ALL",
				"a SEARCH RETURN (PARTIAL 7) ALL", "a SEARCH RETURN (PARTIAL) ALL",
				"a SEARCH RETURN (PARTIAL 1:4294967296) ALL", "a SEARCH RETURN (PARTIAL --1:-2) ALL",
				"a SORT RETURN (BOGUS) (DATE) UTF-8 ALL", "a SORT RETURN (ALL) UTF-8 ALL",
				"a SORT RETURN(ALL) (DATE) UTF-8 ALL", "a SORT (DATE) RETURN (ALL) UTF-8 ALL",
				"a SORT RETURN (ALL) (DATE) UTF-8 RETURN (ALL) ALL", "a THREAD RETURN () REFS UTF-8 ALL",
				"a CANCELUPDATE", "a CANCELUPDATE x1", "a CANCELUPDATE \"x1\" ", "a UID CANCELUPDATE \"x\""}) {
		INFO(bad);
		CHECK(parse_imap_command(bad).error != nullptr);
	}
}

TEST_CASE("ESEARCH data: ESORT order, PARTIAL windows, what SAVE names, update lines", "[imap][sort]")
{
	auto cmd = [](const char *text) {
		ImapCommand c = parse_imap_command(text);
		REQUIRE(c.error == nullptr);
		return c;
	};
	// RFC 5267 3: in sort order; ranges only where the numbers rise by one (3.2).
	std::vector<std::uint32_t> sorted = {23765, 23764, 23763, 23761, 4, 5, 6, 2};
	CHECK(esearch_data(cmd("a SORT RETURN (MIN MAX COUNT) (DATE) UTF-8 ALL"), sorted) == " MIN 23765 MAX 2 COUNT 8");
	CHECK(esearch_data(cmd("a SORT RETURN () (DATE) UTF-8 ALL"), sorted) == " ALL 23765,23764,23763,23761,4:6,2");
	CHECK(esearch_data(cmd("a SORT RETURN (UPDATE) (DATE) UTF-8 ALL"), {1, 2}) == " ALL 1:2");
	CHECK(esearch_data(cmd("a SORT RETURN (MIN) (DATE) UTF-8 ALL"), {}).empty());
	CHECK(esearch_data(cmd("a SORT RETURN (COUNT) (DATE) UTF-8 ALL"), {}) == " COUNT 0");
	// 4.4 and RFC 9394: the range as written; the part of the result in it, or NIL.
	CHECK(esearch_data(cmd("a SORT RETURN (PARTIAL 2:5) (DATE) UTF-8 ALL"), sorted) == " PARTIAL (2:5 23764,23763,23761,4)");
	CHECK(esearch_data(cmd("a SORT RETURN (PARTIAL -1:-3) (DATE) UTF-8 ALL"), sorted) == " PARTIAL (-1:-3 5:6,2)");
	CHECK(esearch_data(cmd("a SEARCH RETURN (PARTIAL 9:20) ALL"), sorted) == " PARTIAL (9:20 NIL)");
	CHECK(esearch_data(cmd("a SEARCH RETURN (PARTIAL -20:-9) ALL"), sorted) == " PARTIAL (-20:-9 NIL)");
	CHECK(esearch_data(cmd("a SEARCH RETURN (PARTIAL 4:1) ALL"), {7, 8}) == " PARTIAL (4:1 7:8)");

	CHECK(partial_window(1, 500, 3) == std::pair<std::size_t, std::size_t>{0, 3});
	CHECK(partial_window(-2, -1, 3) == std::pair<std::size_t, std::size_t>{1, 3});
	CHECK(partial_window(-5, -3, 3) == std::pair<std::size_t, std::size_t>{0, 1});
	CHECK(partial_window(4294967295, 4294967295, 3) == std::pair<std::size_t, std::size_t>{0, 0});
	CHECK(partial_window(-4294967295, -4294967295, 3) == std::pair<std::size_t, std::size_t>{0, 0});

	CHECK(esearch_named(cmd("a SEARCH RETURN (MIN MAX SAVE) ALL"), 4) == std::vector<bool>{true, false, false, true});
	CHECK(esearch_named(cmd("a SEARCH RETURN (PARTIAL 2:3 SAVE) ALL"), 4) == std::vector<bool>{false, true, true, false});
	CHECK(esearch_named(cmd("a SEARCH RETURN (MIN COUNT) ALL"), 3) == std::vector<bool>{true, true, true});
	CHECK(esearch_named(cmd("a SEARCH RETURN (SAVE UPDATE) ALL"), 2) == std::vector<bool>{true, true});

	// 4.3.3 and 4.3.4: a SEARCH's changes at position 0 in mailbox order, a SORT's one by one.
	CHECK(context_changes_text("ADDTO", false, {{3, 9}, {1, 2}, {2, 3}}) == " ADDTO (0 2:3,9)");
	CHECK(context_changes_text("REMOVEFROM", true, {{4, 5}, {1, 9}}) == " REMOVEFROM (4 5 1 9)");

	SearchKey flagged = parse_imap_command("a SEARCH OR SUBJECT x NOT KEYWORD $Junk").search;
	CHECK(key_reads_flags(flagged));
	CHECK(!key_reads_flags(parse_imap_command("a SEARCH SUBJECT x UID 1:* LARGER 5").search));
}

TEST_CASE("A live SORT context: where a new message goes", "[imap][sort]")
{
	SearchContext ctx;
	ctx.sort = true;
	ctx.criteria = {{SortKind::size, true}}; // REVERSE SIZE
	for (auto [uid, size] : {std::pair<std::uint32_t, std::uint64_t>{3, 300}, {1, 200}, {5, 200}, {2, 100}}) {
		SortFields f;
		f.size = size;
		ctx.uids.push_back(uid);
		ctx.fields.push_back(std::make_shared<const SortFields>(f));
	}
	SortFields f;
	f.size = 200;
	CHECK(sort_position(ctx, f, 4) == 2); // between UIDs 1 and 5: equal sizes go by UID
	CHECK(sort_position(ctx, f, 9) == 3);
	f.size = 400;
	CHECK(sort_position(ctx, f, 9) == 0);
	f.size = 50;
	CHECK(sort_position(ctx, f, 9) == 4);
}

namespace {

std::shared_ptr<const SortFields> fields(std::size_t subject_bytes)
{
	SortFields f;
	f.subject.assign(subject_bytes, 'S');
	return std::make_shared<const SortFields>(std::move(f));
}

} // namespace

TEST_CASE("Sort cache: per UIDVALIDITY, expunged UIDs leave, bounded in bytes", "[imap][sort]")
{
	std::size_t one = fields(1000)->footprint();
	SortCache cache(10 * one + 10 * 200);
	for (std::uint32_t uid = 1; uid <= 5; uid++)
		cache.insert("/a", 7, uid, fields(1000));
	CHECK(cache.entries() == 5);
	CHECK(cache.find("/a", 7, 3) != nullptr);
	CHECK(cache.find("/a", 8, 3) == nullptr); // another UIDVALIDITY: other messages
	CHECK(cache.find("/b", 7, 3) == nullptr);

	cache.retain("/a", 7, [](std::uint32_t uid) { return uid != 2 && uid != 4; });
	CHECK(cache.entries() == 3);
	CHECK(cache.find("/a", 7, 2) == nullptr);
	CHECK(cache.find("/a", 7, 5) != nullptr);

	// Another mailbox's entries push out the one used longest ago, never the one being filled.
	for (std::uint32_t uid = 1; uid <= 8; uid++)
		cache.insert("/b", 1, uid, fields(1000));
	CHECK(cache.bytes() <= cache.budget());
	CHECK(cache.find("/a", 7, 1) == nullptr);
	CHECK(cache.entries() == 8);
	// A mailbox alone over the budget stops being cached; nothing grows.
	for (std::uint32_t uid = 9; uid <= 100; uid++)
		cache.insert("/b", 1, uid, fields(1000));
	CHECK(cache.bytes() <= cache.budget());
	CHECK(cache.entries() == 10);

	// A new UIDVALIDITY drops what the old one had.
	cache.insert("/b", 2, 1, fields(10));
	CHECK(cache.entries() == 1);
	CHECK(cache.find("/b", 1, 1) == nullptr);
	cache.retain("/b", 3, [](std::uint32_t) { return true; });
	CHECK(cache.entries() == 0);
	CHECK(cache.bytes() == 0);
}
