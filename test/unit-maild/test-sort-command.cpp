// SORT and THREAD as the parser reads them (RFC 5256 5), and the per-loop cache of what they read
// from each message: bounded in bytes, following UIDVALIDITY and expunges.
#include "imap/imap-parser.hpp"
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
				"a THREAD REFS UTF-8 ALL", "a THREAD REFERENCES UTF-8", "a THREAD", "a SORT"}) {
		INFO(bad);
		CHECK(parse_imap_command(bad).error != nullptr);
	}
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
