// The IMAP command parser: a cursor over one command (literals inline) and one function per
// RFC 3501 grammar rule. Errors are short constant texts (the first one found wins), so a reply
// never echoes client bytes. Recursion happens only for search keys, and is bounded by
// max_search_depth; every loop advances the cursor, so no input can make the parser spin.
#include "imap/imap-parser.hpp"

#include <algorithm>

namespace maild {

namespace {

constexpr std::uint64_t max_number = 0xffffffffu; // RFC 3501 number and nz-number are 32-bit

bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

bool is_alpha(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

bool is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

// ATOM-CHAR: any 7-bit CHAR except atom-specials: ( ) { SP CTL % * " \ ]
bool is_atom_char(unsigned char c)
{
	if (c >= 0x80 || is_ctl(c))
		return false;
	switch (c) {
	case '(': case ')': case '{': case ' ': case '%': case '*': case '"': case '\\': case ']':
		return false;
	default:
		return true;
	}
}

// ASTRING-CHAR: ATOM-CHAR or resp-specials (']').
bool is_astring_char(unsigned char c)
{
	return c == ']' || is_atom_char(c);
}

bool is_tag_char(unsigned char c)
{
	return c != '+' && is_astring_char(c);
}

// list-char: ATOM-CHAR, list-wildcards or resp-specials.
bool is_list_char(unsigned char c)
{
	return c == '%' || c == '*' || is_astring_char(c);
}

bool is_sequence_char(unsigned char c)
{
	return is_digit(c) || c == ':' || c == ',' || c == '*';
}

// Fetch item and section names: letters, digits and the dots that join their parts.
bool is_name_char(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || c == '.';
}

char to_upper(char c)
{
	return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

std::string upper_copy(std::string_view s)
{
	std::string out(s);
	for (char &c : out)
		c = to_upper(c);
	return out;
}

// Compares with an upper-case keyword, ignoring the case of a (ASCII only, as IMAP keywords are).
bool equal_nocase(std::string_view a, std::string_view upper)
{
	if (a.size() != upper.size())
		return false;
	for (std::size_t i = 0; i < a.size(); i++) {
		if (to_upper(a[i]) != upper[i])
			return false;
	}
	return true;
}

std::string mailbox_name(std::string s)
{
	if (equal_nocase(s, "INBOX"))
		return "INBOX";
	return s;
}

// ---- dates -----------------------------------------------------------------------------------

constexpr const char *month_names[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr const char *month_keywords[12] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
	"JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr int days_before_month[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};

// Division rounding towards minus infinity, so the calendar works for years before 1970 too.
std::int64_t floor_div(std::int64_t a, std::int64_t b)
{
	std::int64_t q = a / b;
	if (a % b != 0 && ((a < 0) != (b < 0)))
		q--;
	return q;
}

bool is_leap(std::int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(std::int64_t y, int m)
{
	static constexpr int len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : len[m - 1];
}

// Leap years before year y, counted from an arbitrary origin: only differences are used.
std::int64_t leaps_before(std::int64_t y)
{
	return floor_div(y - 1, 4) - floor_div(y - 1, 100) + floor_div(y - 1, 400);
}

std::int64_t days_before_year(std::int64_t y)
{
	return 365 * (y - 1970) + leaps_before(y) - leaps_before(1970);
}

// Days since 1970-01-01 of a valid Gregorian date (month 1..12).
std::int64_t days_from_date(std::int64_t y, int m, int d)
{
	std::int64_t days = days_before_year(y) + days_before_month[m - 1] + d - 1;
	if (m > 2 && is_leap(y))
		days++;
	return days;
}

// date-text after its day: "-Mon-yyyy" from s[pos]; checks the day exists in that month.
bool parse_month_year(std::string_view s, std::size_t &pos, int day, std::int64_t &days)
{
	if (s.size() - pos < 9 || s[pos] != '-' || s[pos + 4] != '-')
		return false;
	int month = 0;
	for (int i = 0; i < 12; i++) {
		if (equal_nocase(s.substr(pos + 1, 3), month_keywords[i])) {
			month = i + 1;
			break;
		}
	}
	if (month == 0)
		return false;
	std::int64_t year = 0;
	for (std::size_t i = pos + 5; i < pos + 9; i++) {
		if (!is_digit(s[i]))
			return false;
		year = year * 10 + (s[i] - '0');
	}
	if (day < 1 || day > days_in_month(year, month))
		return false;
	pos += 9;
	days = days_from_date(year, month, day);
	return true;
}

// date-text: 1 or 2 digit day "-" Mon "-" 4-digit year, and nothing else.
std::optional<std::int64_t> parse_date_text(std::string_view s)
{
	std::size_t pos = 0;
	int day = 0;
	while (pos < s.size() && pos < 2 && is_digit(s[pos]))
		day = day * 10 + (s[pos++] - '0');
	std::int64_t days = 0;
	if (pos == 0 || !parse_month_year(s, pos, day, days) || pos != s.size())
		return std::nullopt;
	return days;
}

// Two digits at s[pos], at most max.
bool two_digits(std::string_view s, std::size_t pos, int max, int &out)
{
	if (pos + 2 > s.size() || !is_digit(s[pos]) || !is_digit(s[pos + 1]))
		return false;
	out = (s[pos] - '0') * 10 + (s[pos + 1] - '0');
	return out <= max;
}

// ---- the cursor ------------------------------------------------------------------------------

class Cursor {
public:
	explicit Cursor(std::string_view text) : s_(text) {}

	bool at_end() const { return pos_ >= s_.size(); }
	// The next byte, or -1 at the end (so a NUL in the input is not mistaken for the end).
	int peek() const { return at_end() ? -1 : static_cast<unsigned char>(s_[pos_]); }
	std::size_t pos() const { return pos_; }
	void rewind(std::size_t pos) { pos_ = pos; }
	const char *error() const { return error_; }

	bool accept(char c)
	{
		if (peek() != static_cast<unsigned char>(c))
			return false;
		pos_++;
		return true;
	}

	// Records the first error only: later ones are consequences of it.
	bool fail(const char *e)
	{
		if (error_ == nullptr)
			error_ = e;
		return false;
	}

	bool expect(char c, const char *e) { return accept(c) || fail(at_end() ? "missing argument" : e); }
	bool sp() { return expect(' ', "syntax error"); }
	bool end() { return at_end() || fail("unexpected characters after the command"); }
	bool close_paren() { return accept(')') || fail("unbalanced parentheses"); }

	template <typename Pred>
	std::string_view take_while(Pred pred)
	{
		std::size_t start = pos_;
		while (!at_end() && pred(static_cast<unsigned char>(s_[pos_])))
			pos_++;
		return s_.substr(start, pos_ - start);
	}

	// number (or nz-number): decimal digits, at most max; nz-number also forbids 0 and leading zeros.
	bool number(std::uint64_t &out, std::uint64_t max, bool nonzero)
	{
		std::string_view d = take_while(is_digit);
		if (d.empty())
			return fail(at_end() ? "missing argument" : "number expected");
		if (nonzero && d[0] == '0')
			return fail("number must be 1 or more");
		std::uint64_t v = 0;
		for (char c : d) {
			auto digit = static_cast<std::uint64_t>(c - '0');
			if (v > (max - digit) / 10)
				return fail("number too large");
			v = v * 10 + digit;
		}
		out = v;
		return true;
	}

	bool atom(std::string_view &out)
	{
		out = take_while(is_atom_char);
		return !out.empty() || fail(at_end() ? "missing argument" : "syntax error");
	}

	bool quoted(std::string &out)
	{
		pos_++; // the opening DQUOTE
		out.clear();
		for (;;) {
			// Copy the plain run at once; only escapes and the end need a look.
			std::size_t stop = s_.find_first_of(std::string_view("\"\\\r\n\0", 5), pos_);
			if (stop == std::string_view::npos) {
				pos_ = s_.size();
				return fail("unterminated quoted string");
			}
			out.append(s_.substr(pos_, stop - pos_));
			pos_ = stop + 1;
			char c = s_[stop];
			if (c == '"')
				return true;
			if (c != '\\')
				return fail("invalid character in quoted string");
			if (at_end() || (s_[pos_] != '"' && s_[pos_] != '\\'))
				return fail("invalid escape in quoted string");
			out += s_[pos_++];
		}
	}

	// "{" number ["+"] "}": the size may be as large as uint64, the session having checked it.
	bool literal_spec(std::uint64_t &size)
	{
		if (!accept('{'))
			return fail("literal expected");
		if (!number(size, UINT64_MAX, false))
			return false;
		accept('+');
		return expect('}', "invalid literal");
	}

	bool literal(std::string &out)
	{
		std::uint64_t size = 0;
		if (!literal_spec(size))
			return false;
		if (!accept('\r') || !accept('\n'))
			return fail("literal without CRLF");
		if (size > s_.size() - pos_)
			return fail("literal truncated");
		std::string_view body = s_.substr(pos_, static_cast<std::size_t>(size));
		if (body.find('\0') != std::string_view::npos) // CHAR8 excludes NUL
			return fail("NUL in literal");
		out.assign(body);
		pos_ += body.size();
		return true;
	}

	bool string(std::string &out)
	{
		if (peek() == '"')
			return quoted(out);
		if (peek() == '{')
			return literal(out);
		return fail(at_end() ? "missing argument" : "string expected");
	}

	bool astring(std::string &out)
	{
		if (peek() == '"' || peek() == '{')
			return string(out);
		std::string_view a = take_while(is_astring_char);
		if (a.empty())
			return fail(at_end() ? "missing argument" : "syntax error");
		out.assign(a);
		return true;
	}

	bool mailbox(std::string &out)
	{
		if (!astring(out))
			return false;
		out = mailbox_name(std::move(out));
		return true;
	}

	bool sequence_set(SequenceSet &set)
	{
		std::string_view text = take_while(is_sequence_char);
		if (text.empty())
			return fail(at_end() ? "missing argument" : "sequence set expected");
		auto parsed = parse_sequence_set(text);
		if (!parsed)
			return fail("invalid sequence set");
		set = std::move(*parsed);
		return true;
	}

	// flag: "\" atom (system flags and flag-extension) or a keyword atom. Kept as written.
	bool flag(std::string &out)
	{
		std::size_t start = pos_;
		accept('\\');
		if (take_while(is_atom_char).empty())
			return fail(at_end() ? "missing argument" : "invalid flag");
		out.assign(s_.substr(start, pos_ - start));
		return true;
	}

	// flag-list: "(" [flag *(SP flag)] ")"
	bool flag_list(std::vector<std::string> &flags)
	{
		if (!expect('(', "flag list expected"))
			return false;
		if (accept(')'))
			return true;
		do {
			flags.emplace_back();
			if (!flag(flags.back()))
				return false;
		} while (accept(' '));
		return close_paren();
	}

private:
	std::string_view s_;
	std::size_t pos_ = 0;
	const char *error_ = nullptr;
};

// ---- FETCH ----------------------------------------------------------------------------------

// header-list: "(" header-fld-name *(SP header-fld-name) ")", names being astrings.
bool header_list(Cursor &c, std::vector<std::string> &fields)
{
	if (!c.expect('(', "header list expected"))
		return false;
	do {
		std::string name;
		if (!c.astring(name))
			return false;
		fields.push_back(upper_copy(name));
	} while (c.accept(' '));
	return c.close_paren();
}

// section-spec between "[" and "]": [section-part ["." section-text]] or section-msgtext.
bool section(Cursor &c, FetchAtt &att)
{
	if (c.accept(']'))
		return true;
	bool text_follows = true;
	if (is_digit(c.peek())) {
		text_follows = false;
		for (;;) {
			std::uint64_t n = 0;
			if (!c.number(n, max_number, true))
				return false;
			att.part.push_back(static_cast<std::uint32_t>(n));
			if (!c.accept('.'))
				break;
			if (!is_digit(c.peek())) {
				text_follows = true;
				break;
			}
		}
	}
	if (text_follows) {
		std::string_view name = c.take_while(is_name_char);
		if (equal_nocase(name, "HEADER"))
			att.text = SectionText::header;
		else if (equal_nocase(name, "HEADER.FIELDS"))
			att.text = SectionText::header_fields;
		else if (equal_nocase(name, "HEADER.FIELDS.NOT"))
			att.text = SectionText::header_fields_not;
		else if (equal_nocase(name, "TEXT"))
			att.text = SectionText::text;
		else if (equal_nocase(name, "MIME") && !att.part.empty()) // MIME describes a part only
			att.text = SectionText::mime;
		else
			return c.fail("invalid section");
		if (att.text == SectionText::header_fields || att.text == SectionText::header_fields_not) {
			if (!c.sp() || !header_list(c, att.fields))
				return false;
		}
	}
	return c.expect(']', "invalid section");
}

struct NamedAtt {
	const char *name;
	FetchAtt::Kind kind;
};

constexpr NamedAtt simple_atts[] = {
	{"UID", FetchAtt::Kind::uid},
	{"FLAGS", FetchAtt::Kind::flags},
	{"INTERNALDATE", FetchAtt::Kind::internaldate},
	{"RFC822.SIZE", FetchAtt::Kind::rfc822_size},
	{"RFC822", FetchAtt::Kind::rfc822},
	{"RFC822.HEADER", FetchAtt::Kind::rfc822_header},
	{"RFC822.TEXT", FetchAtt::Kind::rfc822_text},
	{"ENVELOPE", FetchAtt::Kind::envelope},
	{"BODYSTRUCTURE", FetchAtt::Kind::bodystructure},
};

void add_simple(std::vector<FetchAtt> &out, FetchAtt::Kind kind)
{
	FetchAtt att;
	att.kind = kind;
	out.push_back(std::move(att));
}

// One fetch-att, or (alone, outside a list) a macro, appended to out.
bool fetch_att(Cursor &c, std::vector<FetchAtt> &out, bool in_list)
{
	std::string_view name = c.take_while(is_name_char);
	if (name.empty())
		return c.fail(c.at_end() ? "missing argument" : "invalid fetch item");

	bool all = equal_nocase(name, "ALL"), full = equal_nocase(name, "FULL");
	if (all || full || equal_nocase(name, "FAST")) {
		// RFC 3501 6.4.5: the macros stand alone, never in a list.
		if (in_list)
			return c.fail("fetch macro inside a list");
		add_simple(out, FetchAtt::Kind::flags);
		add_simple(out, FetchAtt::Kind::internaldate);
		add_simple(out, FetchAtt::Kind::rfc822_size);
		if (all || full)
			add_simple(out, FetchAtt::Kind::envelope);
		if (full)
			add_simple(out, FetchAtt::Kind::body);
		return true;
	}
	for (const auto &n : simple_atts) {
		if (equal_nocase(name, n.name)) {
			add_simple(out, n.kind);
			return true;
		}
	}

	bool peek = equal_nocase(name, "BODY.PEEK");
	if (!peek && !equal_nocase(name, "BODY"))
		return c.fail("invalid fetch item");
	FetchAtt att;
	if (!c.accept('[')) {
		if (peek)
			return c.fail("BODY.PEEK needs a section");
		att.kind = FetchAtt::Kind::body;
		out.push_back(std::move(att));
		return true;
	}
	att.kind = FetchAtt::Kind::body_section;
	att.peek = peek;
	if (!section(c, att))
		return false;
	if (c.accept('<')) {
		// "<" number "." nz-number ">"
		att.partial = true;
		if (!c.number(att.origin, max_number, false) || !c.expect('.', "invalid partial range") ||
		    !c.number(att.count, max_number, true) || !c.expect('>', "invalid partial range"))
			return false;
	}
	out.push_back(std::move(att));
	return true;
}

bool fetch_spec(Cursor &c, std::vector<FetchAtt> &out)
{
	if (!c.accept('('))
		return fetch_att(c, out, false);
	do {
		if (!fetch_att(c, out, true))
			return false;
	} while (c.accept(' '));
	return c.close_paren();
}

// ---- SEARCH ---------------------------------------------------------------------------------

enum class KeyArg { none, astring, date, number, keyword, header, not_, or_, uid };

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
};

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
	auto d = parse_date_text(text);
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
	if (is_digit(next) || next == '*') {
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

	switch (spec->arg) {
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
	}
	return c.fail("invalid search key");
}

// "SEARCH" [SP "CHARSET" SP astring] 1*(SP search-key), after "SEARCH".
bool search_command(Cursor &c, ImapCommand &cmd)
{
	cmd.search.op = SearchKey::Op::and_;
	if (!c.sp())
		return false;
	std::size_t start = c.pos();
	std::string_view word = c.take_while(is_atom_char);
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

// ---- the other commands ---------------------------------------------------------------------

bool store_command(Cursor &c, ImapCommand &cmd)
{
	if (!c.sp() || !c.sequence_set(cmd.set) || !c.sp())
		return false;
	// store-att-flags: (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))
	if (c.accept('+'))
		cmd.store_mode = ImapCommand::StoreMode::add;
	else if (c.accept('-'))
		cmd.store_mode = ImapCommand::StoreMode::remove;
	std::string_view item = c.take_while(is_name_char);
	if (equal_nocase(item, "FLAGS.SILENT"))
		cmd.silent = true;
	else if (!equal_nocase(item, "FLAGS"))
		return c.fail(item.empty() && c.at_end() ? "missing argument" : "invalid store item");
	if (!c.sp())
		return false;
	if (c.peek() == '(')
		return c.flag_list(cmd.flags);
	do {
		cmd.flags.emplace_back();
		if (!c.flag(cmd.flags.back()))
			return false;
	} while (c.accept(' '));
	return true;
}

// "APPEND" SP mailbox [SP flag-list] [SP date-time] SP literal, the literal's bytes not included.
bool append_command(Cursor &c, ImapCommand &cmd)
{
	cmd.args.emplace_back();
	if (!c.sp() || !c.mailbox(cmd.args.back()) || !c.sp())
		return false;
	if (c.peek() == '(') {
		if (!c.flag_list(cmd.flags) || !c.sp())
			return false;
	}
	if (c.peek() == '"') {
		std::string text;
		if (!c.quoted(text))
			return false;
		cmd.internal_date = parse_imap_date_time(text);
		if (!cmd.internal_date)
			return c.fail("invalid date-time");
		if (!c.sp())
			return false;
	}
	return c.literal_spec(cmd.literal_size);
}

// SASL-IR's initial response: base64 (whole groups of four, '=' padding only at the end) or "=".
bool valid_initial_response(std::string_view s)
{
	if (s == "=")
		return true;
	if (s.empty() || s.size() % 4 != 0)
		return false;
	std::size_t pad = 0;
	while (pad < 2 && s[s.size() - 1 - pad] == '=')
		pad++;
	for (std::size_t i = 0; i < s.size() - pad; i++) {
		unsigned char ch = static_cast<unsigned char>(s[i]);
		if (!is_alpha(ch) && !is_digit(ch) && ch != '+' && ch != '/')
			return false;
	}
	return true;
}

bool authenticate_command(Cursor &c, ImapCommand &cmd)
{
	std::string_view mechanism;
	if (!c.sp() || !c.atom(mechanism))
		return false;
	cmd.args.push_back(upper_copy(mechanism));
	if (!c.accept(' '))
		return true;
	std::string_view initial = c.take_while([](unsigned char ch) { return ch > ' ' && ch < 0x7f; });
	if (!valid_initial_response(initial))
		return c.fail(initial.empty() && c.at_end() ? "missing argument" : "invalid initial response");
	cmd.args.emplace_back(initial);
	return true;
}

bool list_command(Cursor &c, ImapCommand &cmd)
{
	cmd.args.resize(2);
	if (!c.sp() || !c.astring(cmd.args[0]) || !c.sp())
		return false;
	// list-mailbox: 1*list-char / string
	if (c.peek() == '"' || c.peek() == '{')
		return c.string(cmd.args[1]);
	std::string_view pattern = c.take_while(is_list_char);
	if (pattern.empty())
		return c.fail(c.at_end() ? "missing argument" : "invalid list pattern");
	cmd.args[1].assign(pattern);
	return true;
}

bool status_command(Cursor &c, ImapCommand &cmd)
{
	cmd.args.emplace_back();
	if (!c.sp() || !c.mailbox(cmd.args.back()) || !c.sp() || !c.expect('(', "status list expected"))
		return false;
	do {
		std::string_view item;
		if (!c.atom(item))
			return false;
		std::string name = upper_copy(item);
		if (name != "MESSAGES" && name != "RECENT" && name != "UIDNEXT" && name != "UIDVALIDITY" &&
		    name != "UNSEEN")
			return c.fail("invalid status item");
		cmd.status_items.push_back(std::move(name));
	} while (c.accept(' '));
	return c.close_paren();
}

bool mailbox_args(Cursor &c, ImapCommand &cmd, int count)
{
	for (int i = 0; i < count; i++) {
		cmd.args.emplace_back();
		if (!c.sp() || !c.mailbox(cmd.args.back()))
			return false;
	}
	return true;
}

bool arguments(Cursor &c, ImapCommand &cmd)
{
	switch (cmd.verb) {
	case ImapVerb::unknown:
	case ImapVerb::capability:
	case ImapVerb::noop:
	case ImapVerb::logout:
	case ImapVerb::starttls:
	case ImapVerb::namespace_:
	case ImapVerb::check:
	case ImapVerb::close:
	case ImapVerb::unselect:
	case ImapVerb::idle:
		return true;
	case ImapVerb::expunge: // UID EXPUNGE (RFC 4315) takes the UIDs to expunge
		return !cmd.uid || (c.sp() && c.sequence_set(cmd.set));
	case ImapVerb::login:
		cmd.args.resize(2);
		return c.sp() && c.astring(cmd.args[0]) && c.sp() && c.astring(cmd.args[1]);
	case ImapVerb::authenticate:
		return authenticate_command(c, cmd);
	case ImapVerb::list:
	case ImapVerb::lsub:
		return list_command(c, cmd);
	case ImapVerb::status:
		return status_command(c, cmd);
	case ImapVerb::select:
	case ImapVerb::examine:
	case ImapVerb::create:
	case ImapVerb::delete_:
	case ImapVerb::subscribe:
	case ImapVerb::unsubscribe:
		return mailbox_args(c, cmd, 1);
	case ImapVerb::rename:
		return mailbox_args(c, cmd, 2);
	case ImapVerb::append:
		return append_command(c, cmd);
	case ImapVerb::search:
		return search_command(c, cmd);
	case ImapVerb::fetch:
		return c.sp() && c.sequence_set(cmd.set) && c.sp() && fetch_spec(c, cmd.fetch);
	case ImapVerb::store:
		return store_command(c, cmd);
	case ImapVerb::copy:
		return c.sp() && c.sequence_set(cmd.set) && mailbox_args(c, cmd, 1);
	}
	return true;
}

struct VerbName {
	const char *name;
	ImapVerb verb;
};

constexpr VerbName verbs[] = {
	{"CAPABILITY", ImapVerb::capability}, {"NOOP", ImapVerb::noop}, {"LOGOUT", ImapVerb::logout},
	{"STARTTLS", ImapVerb::starttls}, {"LOGIN", ImapVerb::login},
	{"AUTHENTICATE", ImapVerb::authenticate}, {"NAMESPACE", ImapVerb::namespace_},
	{"LIST", ImapVerb::list}, {"LSUB", ImapVerb::lsub}, {"STATUS", ImapVerb::status},
	{"SELECT", ImapVerb::select}, {"EXAMINE", ImapVerb::examine}, {"CREATE", ImapVerb::create},
	{"DELETE", ImapVerb::delete_}, {"RENAME", ImapVerb::rename},
	{"SUBSCRIBE", ImapVerb::subscribe}, {"UNSUBSCRIBE", ImapVerb::unsubscribe},
	{"APPEND", ImapVerb::append}, {"CHECK", ImapVerb::check}, {"CLOSE", ImapVerb::close},
	{"UNSELECT", ImapVerb::unselect}, {"EXPUNGE", ImapVerb::expunge},
	{"SEARCH", ImapVerb::search}, {"FETCH", ImapVerb::fetch}, {"STORE", ImapVerb::store},
	{"COPY", ImapVerb::copy}, {"IDLE", ImapVerb::idle},
};

ImapVerb lookup_verb(std::string_view name)
{
	for (const auto &v : verbs) {
		if (equal_nocase(name, v.name))
			return v.verb;
	}
	return ImapVerb::unknown;
}

void append_number(std::string &out, std::uint64_t n)
{
	char buf[20];
	std::size_t len = 0;
	do {
		buf[len++] = static_cast<char>('0' + n % 10);
		n /= 10;
	} while (n != 0);
	while (len > 0)
		out += buf[--len];
}

void append_two_digits(std::string &out, int n, char pad)
{
	out += n < 10 ? pad : static_cast<char>('0' + n / 10);
	out += static_cast<char>('0' + n % 10);
}

} // namespace

// ---- public functions -----------------------------------------------------------------------

bool SequenceSet::contains(std::uint32_t n, std::uint32_t star) const
{
	for (const auto &r : ranges) {
		std::uint32_t a = r.first == 0 ? star : r.first;
		std::uint32_t b = r.last == 0 ? star : r.last;
		if (a > b)
			std::swap(a, b);
		if (n >= a && n <= b)
			return true;
	}
	return false;
}

std::optional<SequenceSet> parse_sequence_set(std::string_view s)
{
	SequenceSet set;
	Cursor c(s);
	auto seq_number = [&c](std::uint32_t &out) {
		if (c.accept('*')) {
			out = 0;
			return true;
		}
		std::uint64_t n = 0;
		if (!c.number(n, max_number, true))
			return false;
		out = static_cast<std::uint32_t>(n);
		return true;
	};
	do {
		SeqRange r;
		if (!seq_number(r.first))
			return std::nullopt;
		r.last = r.first;
		if (c.accept(':') && !seq_number(r.last))
			return std::nullopt;
		set.ranges.push_back(r);
	} while (c.accept(','));
	if (!c.at_end())
		return std::nullopt;
	return set;
}

std::string FetchAtt::response_name() const
{
	switch (kind) {
	case Kind::uid: return "UID";
	case Kind::flags: return "FLAGS";
	case Kind::internaldate: return "INTERNALDATE";
	case Kind::rfc822_size: return "RFC822.SIZE";
	case Kind::rfc822: return "RFC822";
	case Kind::rfc822_header: return "RFC822.HEADER";
	case Kind::rfc822_text: return "RFC822.TEXT";
	case Kind::envelope: return "ENVELOPE";
	case Kind::body: return "BODY";
	case Kind::bodystructure: return "BODYSTRUCTURE";
	case Kind::body_section: break;
	}
	std::string out = "BODY[";
	for (std::size_t i = 0; i < part.size(); i++) {
		if (i > 0)
			out += '.';
		append_number(out, part[i]);
	}
	const char *name = nullptr;
	switch (text) {
	case SectionText::none: break;
	case SectionText::header: name = "HEADER"; break;
	case SectionText::header_fields: name = "HEADER.FIELDS"; break;
	case SectionText::header_fields_not: name = "HEADER.FIELDS.NOT"; break;
	case SectionText::text: name = "TEXT"; break;
	case SectionText::mime: name = "MIME"; break;
	}
	if (name != nullptr) {
		if (!part.empty())
			out += '.';
		out += name;
	}
	if (text == SectionText::header_fields || text == SectionText::header_fields_not) {
		out += " (";
		for (std::size_t i = 0; i < fields.size(); i++) {
			if (i > 0)
				out += ' ';
			// The names came as astrings; one that is not an atom goes back out as a string.
			const std::string &f = fields[i];
			bool atom = !f.empty() && std::all_of(f.begin(), f.end(), [](char ch) {
				return is_astring_char(static_cast<unsigned char>(ch));
			});
			out += atom ? f : imap_quote(f);
		}
		out += ')';
	}
	out += ']';
	if (partial) {
		// RFC 3501 7.4.2: the response names only the origin octet.
		out += '<';
		append_number(out, origin);
		out += '>';
	}
	return out;
}

ImapCommand parse_imap_command(std::string_view text)
{
	ImapCommand cmd;
	Cursor c(text);
	std::string_view tag = c.take_while(is_tag_char);
	if (tag.empty() || (!c.at_end() && c.peek() != ' ')) {
		cmd.error = "missing or invalid tag";
		return cmd;
	}
	cmd.tag.assign(tag);
	std::string_view verb;
	if (!c.sp() || !c.atom(verb)) {
		cmd.error = "missing command";
		return cmd;
	}
	if (equal_nocase(verb, "UID")) {
		cmd.uid = true;
		if (!c.sp() || !c.atom(verb)) {
			cmd.error = c.error();
			return cmd;
		}
		ImapVerb v = lookup_verb(verb);
		if (v != ImapVerb::fetch && v != ImapVerb::store && v != ImapVerb::copy &&
		    v != ImapVerb::search && v != ImapVerb::expunge) {
			cmd.error = "UID takes FETCH, STORE, COPY, SEARCH or EXPUNGE";
			return cmd;
		}
		cmd.verb = v;
	} else {
		cmd.verb = lookup_verb(verb);
		if (cmd.verb == ImapVerb::unknown)
			return cmd;
	}
	if (arguments(c, cmd))
		c.end();
	cmd.error = c.error();
	return cmd;
}

std::optional<LiteralSpec> literal_at_end(std::string_view line)
{
	if (line.empty() || line.back() != '}')
		return std::nullopt;
	std::size_t open = line.rfind('{');
	if (open == std::string_view::npos)
		return std::nullopt;
	std::string_view inner = line.substr(open + 1, line.size() - open - 2);
	LiteralSpec spec;
	if (!inner.empty() && inner.back() == '+') {
		spec.non_sync = true;
		inner.remove_suffix(1);
	}
	if (inner.empty())
		return std::nullopt;
	for (char ch : inner) {
		if (!is_digit(ch))
			return std::nullopt;
		auto digit = static_cast<std::uint64_t>(ch - '0');
		if (spec.size > (UINT64_MAX - digit) / 10)
			return std::nullopt;
		spec.size = spec.size * 10 + digit;
	}
	return spec;
}

bool is_append_message_literal(std::string_view text)
{
	// The full parse decides: the grammar puts a literal after the mailbox only as the message,
	// and a text ending in the mailbox's own literal spec lacks the CRLF and bytes after it.
	ImapCommand cmd = parse_imap_command(text);
	return cmd.verb == ImapVerb::append && cmd.error == nullptr;
}

bool list_pattern_matches(std::string_view pattern, std::string_view name, char delimiter)
{
	// A set of pattern positions run over the name (an NFA), so patterns like "*a*a*a*b" cost
	// O(pattern * name) rather than backtracking exponentially. reach[i]: pattern[0, i) can
	// match the name read so far.
	std::vector<char> reach(pattern.size() + 1, 0), next(pattern.size() + 1, 0);
	auto close = [&pattern](std::vector<char> &set) {
		// A wildcard may match nothing, so being before it means being after it too.
		for (std::size_t i = 0; i < pattern.size(); i++) {
			if (set[i] && (pattern[i] == '*' || pattern[i] == '%'))
				set[i + 1] = 1;
		}
	};
	reach[0] = 1;
	close(reach);
	for (char ch : name) {
		std::fill(next.begin(), next.end(), 0);
		bool any = false;
		for (std::size_t i = 0; i < pattern.size(); i++) {
			if (!reach[i])
				continue;
			char p = pattern[i];
			if (p == '*' || (p == '%' && ch != delimiter))
				next[i] = 1; // the wildcard takes this character and may take more
			else if (p != '%' && p == ch)
				next[i + 1] = 1;
			else
				continue;
			any = true;
		}
		if (!any)
			return false;
		close(next);
		reach.swap(next);
	}
	return reach[pattern.size()] != 0;
}

bool valid_mailbox_name(std::string_view name)
{
	if (name.empty())
		return false;
	auto base64_value = [](char ch) -> int {
		if (ch >= 'A' && ch <= 'Z')
			return ch - 'A';
		if (ch >= 'a' && ch <= 'z')
			return ch - 'a' + 26;
		if (ch >= '0' && ch <= '9')
			return ch - '0' + 52;
		if (ch == '+')
			return 62;
		if (ch == ',') // modified base64: ',' instead of '/'
			return 63;
		return -1;
	};
	bool after_run = false;
	std::size_t i = 0;
	while (i < name.size()) {
		auto ch = static_cast<unsigned char>(name[i]);
		if (ch < 0x20 || ch > 0x7e)
			return false;
		i++;
		if (ch != '&') {
			after_run = false;
			continue;
		}
		if (i < name.size() && name[i] == '-') { // "&-" is '&'
			i++;
			after_run = false;
			continue;
		}
		if (after_run) // "-&": a null shift, which RFC 3501 5.1.3 forbids
			return false;
		std::uint32_t bits = 0;
		int nbits = 0;
		bool high_surrogate = false;
		for (; i < name.size() && name[i] != '-'; i++) {
			int v = base64_value(name[i]);
			if (v < 0)
				return false;
			bits = (bits << 6) | static_cast<std::uint32_t>(v);
			nbits += 6;
			if (nbits < 16)
				continue;
			nbits -= 16;
			std::uint32_t unit = (bits >> nbits) & 0xffff;
			bits &= (1u << nbits) - 1;
			if (high_surrogate) {
				if (unit < 0xdc00 || unit > 0xdfff)
					return false;
				high_surrogate = false;
			} else if (unit >= 0xd800 && unit <= 0xdbff) {
				high_surrogate = true;
			} else if (unit >= 0xdc00 && unit <= 0xdfff) {
				return false;
			} else if (unit < 0x80) {
				return false; // ASCII represents itself ('&' as "&-"); controls are no names
			}
		}
		// The run must end in '-' (no implicit shift back), whole, and with zero padding bits.
		if (i == name.size() || high_surrogate || nbits >= 6 || bits != 0)
			return false;
		i++;
		after_run = true;
	}
	return true;
}

std::optional<std::int64_t> parse_imap_date_time(std::string_view s)
{
	// date-day-fixed: " d" or "dd"; a bare "d" is taken too, as it is unambiguous.
	std::size_t pos = 0;
	int day = 0;
	if (!s.empty() && s[0] == ' ') {
		if (s.size() < 2 || !is_digit(s[1]))
			return std::nullopt;
		day = s[1] - '0';
		pos = 2;
	} else {
		while (pos < s.size() && pos < 2 && is_digit(s[pos]))
			day = day * 10 + (s[pos++] - '0');
		if (pos == 0)
			return std::nullopt;
	}
	std::int64_t days = 0;
	if (!parse_month_year(s, pos, day, days))
		return std::nullopt;
	// SP hh ":" mm ":" ss SP ("+" / "-") hhmm
	int hour = 0, minute = 0, second = 0, zone_hour = 0, zone_minute = 0;
	if (s.size() - pos != 15 || s[pos] != ' ' || !two_digits(s, pos + 1, 23, hour) ||
	    s[pos + 3] != ':' || !two_digits(s, pos + 4, 59, minute) || s[pos + 6] != ':' ||
	    !two_digits(s, pos + 7, 60, second) || s[pos + 9] != ' ' ||
	    (s[pos + 10] != '+' && s[pos + 10] != '-') || !two_digits(s, pos + 11, 23, zone_hour) ||
	    !two_digits(s, pos + 13, 59, zone_minute))
		return std::nullopt;
	std::int64_t zone = (zone_hour * 60 + zone_minute) * 60;
	if (s[pos + 10] == '-')
		zone = -zone;
	// The local time is ahead of UTC by the zone, so UTC is the local time minus it.
	return days * 86400 + hour * 3600 + minute * 60 + second - zone;
}

std::string format_imap_date_time(std::int64_t t)
{
	constexpr std::int64_t first = -62167219200;  // 01-Jan-0000 00:00:00 +0000
	constexpr std::int64_t last = 253402300799;   // 31-Dec-9999 23:59:59 +0000
	t = std::clamp(t, first, last);
	std::int64_t days = floor_div(t, 86400);
	auto secs = static_cast<int>(t - days * 86400);
	// Guess the year from the mean Gregorian year, then step to the right one.
	std::int64_t year = 1970 + floor_div(days * 400, 146097);
	while (days_before_year(year) > days)
		year--;
	while (days_before_year(year + 1) <= days)
		year++;
	auto yday = static_cast<int>(days - days_before_year(year));
	int month = 1;
	while (month < 12 && yday >= days_before_month[month] + (month >= 2 && is_leap(year) ? 1 : 0))
		month++;
	int day = yday - days_before_month[month - 1] - (month > 2 && is_leap(year) ? 1 : 0) + 1;

	std::string out;
	append_two_digits(out, day, ' ');
	out += '-';
	out += month_names[month - 1];
	out += '-';
	append_two_digits(out, static_cast<int>(year / 100), '0');
	append_two_digits(out, static_cast<int>(year % 100), '0');
	out += ' ';
	append_two_digits(out, secs / 3600, '0');
	out += ':';
	append_two_digits(out, secs / 60 % 60, '0');
	out += ':';
	append_two_digits(out, secs % 60, '0');
	out += " +0000";
	return out;
}

std::string imap_quote(std::string_view s)
{
	bool literal = std::any_of(s.begin(), s.end(), [](char ch) {
		auto u = static_cast<unsigned char>(ch);
		return u == '\r' || u == '\n' || u == 0 || u >= 0x80;
	});
	std::string out;
	if (literal) {
		out += '{';
		append_number(out, s.size());
		out += "}\r\n";
		out.append(s);
		return out;
	}
	out.reserve(s.size() + 2);
	out += '"';
	for (char ch : s) {
		if (ch == '"' || ch == '\\')
			out += '\\';
		out += ch;
	}
	out += '"';
	return out;
}

} // namespace maild
