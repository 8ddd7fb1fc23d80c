// SORT and THREAD (RFC 5256 5, with RFC 5957's DISPLAYFROM and DISPLAYTO): a sort program or an
// algorithm, a charset that is not optional as it is in SEARCH, then SEARCH's own keys. SORT may
// start with SEARCH's RETURN options (ESORT and CONTEXT=SORT, RFC 5267 3 and 4).
#include "imap/imap-grammar.hpp"

#include <algorithm>
#include <iterator>

namespace maild {

namespace {

using namespace imap_grammar;

// sort-criterion = ["REVERSE" SP] sort-key
bool sort_criterion(Cursor &c, SortCriterion &out)
{
	static constexpr std::pair<const char *, SortKind> keys[] = {
		{"ARRIVAL", SortKind::arrival}, {"CC", SortKind::cc}, {"DATE", SortKind::date},
		{"FROM", SortKind::from}, {"SIZE", SortKind::size}, {"SUBJECT", SortKind::subject},
		{"TO", SortKind::to}, {"DISPLAYFROM", SortKind::display_from}, {"DISPLAYTO", SortKind::display_to}};
	std::string_view name;
	if (!c.atom(name))
		return false;
	if (equal_nocase(name, "REVERSE")) {
		out.reverse = true;
		if (!c.sp() || !c.atom(name))
			return false;
	}
	auto it = std::find_if(std::begin(keys), std::end(keys), [&](const auto &k) { return equal_nocase(name, k.first); });
	if (it == std::end(keys))
		return c.fail("unknown sort key");
	out.kind = it->second;
	return true;
}

// SP charset 1*(SP search-key). SEARCH's parser reads the keys; it would also take a RETURN or a
// CHARSET of its own, which SORT and THREAD do not have.
bool charset_and_keys(Cursor &c, ImapCommand &cmd)
{
	std::string charset;
	if (!c.sp() || !c.astring(charset))
		return false;
	bool returning = cmd.search_return_given;
	cmd.search_return_given = false;
	if (!search_command(c, cmd))
		return false;
	if (cmd.search_return_given || !cmd.charset.empty())
		return c.fail("invalid search key");
	cmd.search_return_given = returning;
	cmd.charset = upper_copy(charset);
	return true;
}

} // namespace

// "SORT" SP ["RETURN" SP "(" options ")" SP] "(" sort-criterion *(SP sort-criterion) ")" SP
// charset 1*(SP search-key)
bool imap_grammar::sort_command(Cursor &c, ImapCommand &cmd)
{
	if (!c.sp())
		return false;
	std::size_t start = c.pos();
	if (!equal_nocase(c.take_while(is_atom_char), "RETURN"))
		c.rewind(start);
	else if (!search_return(c, cmd))
		return false;
	if (!c.expect('(', "sort criteria expected"))
		return false;
	do {
		if (!sort_criterion(c, cmd.sort_criteria.emplace_back()))
			return false;
	} while (c.accept(' '));
	return c.close_paren() && charset_and_keys(c, cmd);
}

// "THREAD" SP thread-alg SP charset 1*(SP search-key)
bool imap_grammar::thread_command(Cursor &c, ImapCommand &cmd)
{
	std::string_view name;
	if (!c.sp() || !c.atom(name))
		return false;
	if (equal_nocase(name, "ORDEREDSUBJECT"))
		cmd.thread_algorithm = ThreadAlgorithm::orderedsubject;
	else if (equal_nocase(name, "REFERENCES"))
		cmd.thread_algorithm = ThreadAlgorithm::references;
	else if (equal_nocase(name, "REFS"))
		cmd.thread_algorithm = ThreadAlgorithm::refs;
	else
		return c.fail("unknown threading algorithm");
	return charset_and_keys(c, cmd);
}

} // namespace maild
