#include "mail/lexer.hpp"

#include "mail/header.hpp"

#include <cstring>

namespace maild {

std::string skip_comment(Cursor &c)
{
	std::string text;
	int depth = 0;
	while (!c.at_end()) {
		char ch = c.s[c.i++];
		if (ch == '\\' && !c.at_end()) {
			text += c.s[c.i++];
			continue;
		}
		if (ch == '(' && depth++ == 0)
			continue;
		if (ch == ')' && --depth == 0)
			break;
		text += ch;
	}
	return text;
}

void skip_cfws(Cursor &c)
{
	while (!c.at_end()) {
		char ch = c.peek();
		if (is_wsp(ch) || ch == '\r' || ch == '\n')
			c.i++;
		else if (ch == '(')
			skip_comment(c);
		else
			break;
	}
}

std::string read_quoted(Cursor &c)
{
	std::string out;
	c.i++;
	while (!c.at_end()) {
		char ch = c.s[c.i++];
		if (ch == '"')
			break;
		if (ch == '\\' && !c.at_end())
			ch = c.s[c.i++];
		out += ch;
	}
	return out;
}

bool is_token_char(char c)
{
	auto u = static_cast<unsigned char>(c);
	return u > 0x20 && u < 0x7f && std::strchr("()<>@,;:\\\"/[]?=", c) == nullptr;
}

std::string_view read_token(Cursor &c)
{
	std::size_t start = c.i;
	while (!c.at_end() && is_token_char(c.peek()))
		c.i++;
	return c.s.substr(start, c.i - start);
}

void skip_to_semicolon(Cursor &c)
{
	while (!c.at_end() && c.peek() != ';') {
		if (c.peek() == '"')
			read_quoted(c);
		else if (c.peek() == '(')
			skip_comment(c);
		else
			c.i++;
	}
}

} // namespace maild
