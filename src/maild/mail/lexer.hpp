// The lexical pieces of structured header fields, shared by MIME parameters, addresses and dates:
// comments and folding white space (RFC 5322 3.2.2), quoted strings (3.2.4) and MIME tokens
// (RFC 2045 5.1). Lenient: an unclosed comment or quoted string runs to the end of the value.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace maild {

// A cursor over an unfolded field value.
struct Cursor {
	std::string_view s;
	std::size_t i = 0;

	bool at_end() const { return i >= s.size(); }
	char peek() const { return at_end() ? '\0' : s[i]; }
};

// Skips a comment starting at '(' (they nest and have quoted-pairs). Returns its text without
// the outer parentheses.
std::string skip_comment(Cursor &c);
// Skips white space, line ends and comments.
void skip_cfws(Cursor &c);
// A quoted string starting at '"', without quotes and quoted-pair backslashes.
std::string read_quoted(Cursor &c);
bool is_token_char(char c);
std::string_view read_token(Cursor &c);
// Moves to the next ';' outside quotes and comments (or the end): how a broken parameter is
// skipped without losing the ones after it.
void skip_to_semicolon(Cursor &c);

} // namespace maild
