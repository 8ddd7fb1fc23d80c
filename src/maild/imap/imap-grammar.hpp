// The IMAP command parser's own parts (imap-parser.cpp, imap-parser-fetch.cpp,
// imap-parser-search.cpp, imap-date.cpp): RFC 3501's character classes and a cursor over one command, literals
// inline. Not for the parser's users: they have imap-parser.hpp.
#pragma once

#include "base/ascii.hpp"
#include "imap/imap-parser.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace maild::imap_grammar {

inline constexpr std::uint64_t max_number = 0xffffffffu; // RFC 3501 number and nz-number are 32-bit
inline constexpr std::uint64_t max_modseq = 0x7fffffffffffffffu; // RFC 7162's mod-sequence-value: 63-bit

inline bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

inline bool is_alpha(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

inline bool is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

// ATOM-CHAR: any 7-bit CHAR except atom-specials: ( ) { SP CTL % * " \ ]
inline bool is_atom_char(unsigned char c)
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
inline bool is_astring_char(unsigned char c)
{
	return c == ']' || is_atom_char(c);
}

inline bool is_tag_char(unsigned char c)
{
	return c != '+' && is_astring_char(c);
}

// list-char: ATOM-CHAR, list-wildcards or resp-specials.
inline bool is_list_char(unsigned char c)
{
	return c == '%' || c == '*' || is_astring_char(c);
}

inline bool is_sequence_char(unsigned char c)
{
	return is_digit(c) || c == ':' || c == ',' || c == '*';
}

// Fetch item and section names: letters, digits and the dots that join their parts.
inline bool is_name_char(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || c == '.';
}

inline std::string upper_copy(std::string_view s)
{
	std::string out(s);
	for (char &c : out)
		c = ascii_upper(c);
	return out;
}

inline std::string mailbox_name(std::string s)
{
	if (equal_nocase(s, "INBOX"))
		return "INBOX";
	return s;
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

	// mod-sequence-value (1 to 2^63 - 1), or with `zero` mod-sequence-valzer (0 too).
	bool modseq(std::uint64_t &out, bool zero)
	{
		if (!number(out, max_modseq, false))
			return false;
		return zero || out != 0 || fail("mod-sequence must be 1 or more");
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
		if (accept('$')) {
			set = SequenceSet{};
			set.saved = true;
			return true;
		}
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

// FETCH's items after "FETCH SP sequence-set SP" (imap-parser-fetch.cpp).
bool fetch_spec(Cursor &c, std::vector<FetchAtt> &out);
// RFC 7162's FETCH modifiers: [SP "(" fetch-modifier *(SP fetch-modifier) ")"] after the items.
bool fetch_modifiers(Cursor &c, ImapCommand &cmd);
// "SEARCH" [SP "CHARSET" SP astring] 1*(SP search-key), after "SEARCH" (imap-parser-search.cpp).
bool search_command(Cursor &c, ImapCommand &cmd);
// "RETURN" SP "(" [option *(SP option)] ")" SP, after "RETURN" (imap-parser-search.cpp): SEARCH's
// and SORT's return options.
bool search_return(Cursor &c, ImapCommand &cmd);
// imap-parser-sort.cpp: what follows "SORT" and "THREAD".
bool sort_command(Cursor &c, ImapCommand &cmd);
bool thread_command(Cursor &c, ImapCommand &cmd);
// imap-parser-notify.cpp: what follows "NOTIFY" (RFC 5465).
bool notify_command(Cursor &c, ImapCommand &cmd);

} // namespace maild::imap_grammar
