// The SEARCH grammar (RFC 3501 9: search-key), nesting bounded by max_search_depth.
#include "imap/imap-grammar.hpp"

#include "imap/imap-date.hpp"

#include <algorithm>
#include <iterator>

namespace maild {

namespace {

using namespace imap_grammar;

enum class KeyArg { none, astring, date, number, keyword, header, not_, or_, uid, modseq };

struct KeySpec {
	const char *name;
	SearchKey::Op op;
	KeyArg arg;
};

constexpr KeySpec search_keys[] = {
	{"ALL", SearchKey::Op::all, KeyArg::none},
	{"ANSWERED", SearchKey::Op::answered, KeyArg::none},
	{"DELETED", SearchKey::Op::deleted, KeyArg::none},
	{"DRAFT", SearchKey::Op::draft, KeyArg::none},
	{"FLAGGED", SearchKey::Op::flagged, KeyArg::none},
	{"SEEN", SearchKey::Op::seen, KeyArg::none},
	{"RECENT", SearchKey::Op::recent, KeyArg::none},
	{"NEW", SearchKey::Op::new_, KeyArg::none},
	{"OLD", SearchKey::Op::old, KeyArg::none},
	{"UNANSWERED", SearchKey::Op::unanswered, KeyArg::none},
	{"UNDELETED", SearchKey::Op::undeleted, KeyArg::none},
	{"UNDRAFT", SearchKey::Op::undraft, KeyArg::none},
	{"UNFLAGGED", SearchKey::Op::unflagged, KeyArg::none},
	{"UNSEEN", SearchKey::Op::unseen, KeyArg::none},
	{"KEYWORD", SearchKey::Op::keyword, KeyArg::keyword},
	{"UNKEYWORD", SearchKey::Op::unkeyword, KeyArg::keyword},
	{"LARGER", SearchKey::Op::larger, KeyArg::number},
	{"SMALLER", SearchKey::Op::smaller, KeyArg::number},
	{"SINCE", SearchKey::Op::since, KeyArg::date},
	{"BEFORE", SearchKey::Op::before, KeyArg::date},
	{"ON", SearchKey::Op::on, KeyArg::date},
	{"SENTSINCE", SearchKey::Op::sentsince, KeyArg::date},
	{"SENTBEFORE", SearchKey::Op::sentbefore, KeyArg::date},
	{"SENTON", SearchKey::Op::senton, KeyArg::date},
	{"HEADER", SearchKey::Op::header, KeyArg::header},
	{"FROM", SearchKey::Op::from, KeyArg::astring},
	{"TO", SearchKey::Op::to, KeyArg::astring},
	{"CC", SearchKey::Op::cc, KeyArg::astring},
	{"BCC", SearchKey::Op::bcc, KeyArg::astring},
	{"SUBJECT", SearchKey::Op::subject, KeyArg::astring},
	{"BODY", SearchKey::Op::body, KeyArg::astring},
	{"TEXT", SearchKey::Op::text, KeyArg::astring},
	{"NOT", SearchKey::Op::not_, KeyArg::not_},
	{"OR", SearchKey::Op::or_, KeyArg::or_},
	{"UID", SearchKey::Op::uid, KeyArg::uid},
	{"MODSEQ", SearchKey::Op::modseq, KeyArg::modseq},
};

// search-modsequence = "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer
// (RFC 7162 3.1.5), after "MODSEQ" SP. entry-name is "/flags/<flag>" quoted; maild keeps one
// modseq per message, so the entry narrows nothing and is only checked.
bool search_modseq(Cursor &c, SearchKey &key)
{
	if (c.peek() == '"') {
		std::string entry;
		if (!c.quoted(entry))
			return false;
		std::string_view flag(entry);
		if (flag.size() <= 7 || !equal_nocase(flag.substr(0, 7), "/flags/"))
			return c.fail("invalid MODSEQ entry name");
		flag.remove_prefix(7);
		std::size_t i = flag[0] == '\\' ? 1 : 0;
		if (i == flag.size())
			return c.fail("invalid MODSEQ entry name");
		for (; i < flag.size(); i++) {
			if (!is_atom_char(static_cast<unsigned char>(flag[i])))
				return c.fail("invalid MODSEQ entry name");
		}
		std::string_view type;
		if (!c.sp() || !c.atom(type))
			return false;
		if (!equal_nocase(type, "priv") && !equal_nocase(type, "shared") && !equal_nocase(type, "all"))
			return c.fail("invalid MODSEQ entry type");
		if (!c.sp())
			return false;
	}
	return c.modseq(key.number, true);
}

// date: date-text or DQUOTE date-text DQUOTE.
bool search_date(Cursor &c, std::int64_t &day)
{
	std::string text;
	if (c.peek() == '"') {
		if (!c.quoted(text))
			return false;
	} else {
		std::string_view a;
		if (!c.atom(a))
			return false;
		text.assign(a);
	}
	auto d = parse_imap_date(text);
	if (!d)
		return c.fail("invalid date");
	day = *d;
	return true;
}

bool search_key(Cursor &c, SearchKey &key, int depth);

// The children of a NOT, OR or parenthesised list are one level deeper.
bool search_child(Cursor &c, SearchKey &parent, int depth)
{
	parent.children.emplace_back();
	return search_key(c, parent.children.back(), depth + 1);
}

// What follows a search key's name and its SP.
bool search_key_argument(Cursor &c, SearchKey &key, KeyArg arg, int depth)
{
	switch (arg) {
	case KeyArg::none:
		return true;
	case KeyArg::astring:
		return c.astring(key.str);
	case KeyArg::date:
		return search_date(c, key.day);
	case KeyArg::number:
		return c.number(key.number, max_number, false);
	case KeyArg::keyword: {
		std::string_view kw; // flag-keyword = atom
		if (!c.atom(kw))
			return false;
		key.str.assign(kw);
		return true;
	}
	case KeyArg::header:
		if (!c.astring(key.str) || !c.sp() || !c.astring(key.value))
			return false;
		key.str = upper_copy(key.str);
		return true;
	case KeyArg::not_:
		return search_child(c, key, depth);
	case KeyArg::or_:
		return search_child(c, key, depth) && c.sp() && search_child(c, key, depth);
	case KeyArg::uid:
		return c.sequence_set(key.set);
	case KeyArg::modseq:
		return search_modseq(c, key);
	}
	return c.fail("invalid search key");
}

bool search_key(Cursor &c, SearchKey &key, int depth)
{
	if (depth > max_search_depth)
		return c.fail("search keys nested too deeply");
	int next = c.peek();
	if (next == '(') {
		c.accept('(');
		key.op = SearchKey::Op::and_;
		do {
			if (!search_child(c, key, depth))
				return false;
		} while (c.accept(' '));
		return c.close_paren();
	}
	if (is_digit(next) || next == '*' || next == '$') {
		key.op = SearchKey::Op::sequence;
		return c.sequence_set(key.set);
	}

	std::string_view name;
	if (!c.atom(name))
		return false;
	const KeySpec *spec = nullptr;
	for (const auto &k : search_keys) {
		if (equal_nocase(name, k.name)) {
			spec = &k;
			break;
		}
	}
	if (spec == nullptr)
		return c.fail("invalid search key");
	key.op = spec->op;
	if (spec->arg == KeyArg::none)
		return true;
	if (!c.sp())
		return false;
	return search_key_argument(c, key, spec->arg, depth);
}

// RFC 5267 4.4's partial-range "low:high" (either way round), or RFC 9394's "-n:-m" counting
// from the last result.
bool partial_range(Cursor &c, ImapCommand &cmd)
{
	std::int64_t ends[2];
	bool negative = c.peek() == '-';
	for (int k = 0; k < 2; k++) {
		if (k == 1 && !c.expect(':', "PARTIAL range expected"))
			return false;
		if (negative && !c.expect('-', "PARTIAL range expected"))
			return false;
		std::uint64_t n = 0;
		if (!c.number(n, UINT32_MAX, true))
			return false;
		ends[k] = negative ? -static_cast<std::int64_t>(n) : static_cast<std::int64_t>(n);
	}
	cmd.partial_first = ends[0];
	cmd.partial_last = ends[1];
	return true;
}

} // namespace

// RFC 4731: "RETURN" SP "(" [option *(SP option)] ")" SP, the options MIN MAX ALL COUNT, SAVE
// from RFC 5182, and RFC 5267's CONTEXT, UPDATE and PARTIAL.
bool imap_grammar::search_return(Cursor &c, ImapCommand &cmd)
{
	cmd.search_return_given = true;
	if (!c.sp() || !c.expect('(', "RETURN options expected"))
		return false;
	if (c.accept(')'))
		return c.sp();
	static constexpr std::pair<const char *, unsigned> options[] = {
		{"MIN", ImapCommand::ret_min}, {"MAX", ImapCommand::ret_max}, {"ALL", ImapCommand::ret_all},
		{"COUNT", ImapCommand::ret_count}, {"SAVE", ImapCommand::ret_save},
		{"PARTIAL", ImapCommand::ret_partial}, {"UPDATE", ImapCommand::ret_update},
		{"CONTEXT", ImapCommand::ret_context}};
	do {
		std::string_view name;
		if (!c.atom(name))
			return false;
		auto it = std::find_if(std::begin(options), std::end(options),
				       [&](const auto &o) { return equal_nocase(name, o.first); });
		if (it == std::end(options))
			return c.fail("unknown SEARCH RETURN option");
		// RFC 5267 4.4: one PARTIAL or one ALL at most, not both.
		if ((it->second == ImapCommand::ret_partial &&
		     (cmd.search_return & (ImapCommand::ret_partial | ImapCommand::ret_all))) ||
		    (it->second == ImapCommand::ret_all && (cmd.search_return & ImapCommand::ret_partial)))
			return c.fail("PARTIAL goes without ALL and only once");
		cmd.search_return |= it->second;
		if (it->second == ImapCommand::ret_partial && (!c.sp() || !partial_range(c, cmd)))
			return false;
	} while (c.accept(' '));
	return c.close_paren() && c.sp();
}

// "SEARCH" [SP "RETURN" SP "(" options ")"] [SP "CHARSET" SP astring] 1*(SP search-key), after
// "SEARCH".
bool imap_grammar::search_command(Cursor &c, ImapCommand &cmd)
{
	cmd.search.op = SearchKey::Op::and_;
	if (!c.sp())
		return false;
	std::size_t start = c.pos();
	std::string_view word = c.take_while(is_atom_char);
	if (equal_nocase(word, "RETURN")) {
		if (!search_return(c, cmd))
			return false;
		start = c.pos();
		word = c.take_while(is_atom_char);
	}
	if (equal_nocase(word, "CHARSET")) {
		if (!c.sp() || !c.astring(cmd.charset) || !c.sp())
			return false;
		cmd.charset = upper_copy(cmd.charset);
	} else {
		c.rewind(start);
	}
	do {
		if (!search_child(c, cmd.search, 0))
			return false;
	} while (c.accept(' '));
	return true;
}

} // namespace maild
