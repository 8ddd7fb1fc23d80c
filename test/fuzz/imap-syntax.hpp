// A small reader for IMAP response data (RFC 3501 section 9): one parenthesised list of NIL,
// numbers, atoms, quoted strings and literals, nested. Used by the IMAP fuzz targets to check that
// what maild would send is well-formed: balanced, quoted strings without CR, LF, NUL or 8-bit
// bytes, literals with exactly the announced number of bytes and no NUL.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace imap_syntax {

struct Node {
	enum class Type { nil, number, atom, string, list } type = Type::nil;
	std::string text; // number/atom/string (decoded)
	std::vector<Node> items;
};

class Reader {
public:
	explicit Reader(std::string_view s) : s_(s) {}

	// Reads exactly one list spanning the whole input.
	bool whole_list(Node &out)
	{
		return s_.size() > 0 && s_[0] == '(' && value(out, 0) && pos_ == s_.size();
	}

private:
	bool value(Node &out, int depth)
	{
		if (depth > 200 || pos_ >= s_.size())
			return false;
		char c = s_[pos_];
		if (c == '(') {
			pos_++;
			out.type = Node::Type::list;
			bool first = true;
			while (pos_ < s_.size() && s_[pos_] != ')') {
				// Items are separated by one SP, except that lists may follow each
				// other directly, as addresses in an address list do.
				if (!first && s_[pos_] == ' ')
					pos_++;
				else if (!first && !(s_[pos_] == '(' && s_[pos_ - 1] == ')'))
					return false;
				first = false;
				out.items.emplace_back();
				if (!value(out.items.back(), depth + 1))
					return false;
			}
			if (pos_ >= s_.size())
				return false;
			pos_++;
			return true;
		}
		if (c == '"') {
			pos_++;
			out.type = Node::Type::string;
			while (pos_ < s_.size() && s_[pos_] != '"') {
				char d = s_[pos_];
				if (d == '\\') {
					if (pos_ + 1 >= s_.size() || (s_[pos_ + 1] != '"' && s_[pos_ + 1] != '\\'))
						return false;
					d = s_[++pos_];
				}
				auto u = static_cast<unsigned char>(d);
				if (u == 0 || u == '\r' || u == '\n' || u >= 0x80)
					return false;
				out.text += d;
				pos_++;
			}
			if (pos_ >= s_.size())
				return false;
			pos_++;
			return true;
		}
		if (c == '{') {
			auto close = s_.find('}', pos_);
			if (close == std::string_view::npos || close == pos_ + 1)
				return false;
			std::uint64_t n = 0;
			for (std::size_t i = pos_ + 1; i < close; i++) {
				if (s_[i] < '0' || s_[i] > '9' || n > (UINT64_MAX - 9) / 10)
					return false;
				n = n * 10 + static_cast<std::uint64_t>(s_[i] - '0');
			}
			if (s_.substr(close + 1, 2) != "\r\n" || n > s_.size() - close - 3)
				return false;
			out.type = Node::Type::string;
			out.text = std::string(s_.substr(close + 3, n));
			if (out.text.find('\0') != std::string::npos)
				return false;
			pos_ = close + 3 + n;
			return true;
		}
		std::size_t start = pos_;
		while (pos_ < s_.size()) {
			auto u = static_cast<unsigned char>(s_[pos_]);
			if (u <= ' ' || u >= 0x7f || u == '(' || u == ')' || u == '{' || u == '"' ||
			    u == '%' || u == '*' || u == '\\')
				break;
			pos_++;
		}
		if (pos_ == start)
			return false;
		out.text = std::string(s_.substr(start, pos_ - start));
		if (out.text == "NIL")
			out.type = Node::Type::nil;
		else if (out.text.find_first_not_of("0123456789") == std::string::npos)
			out.type = Node::Type::number;
		else
			out.type = Node::Type::atom;
		return true;
	}

	std::string_view s_;
	std::size_t pos_ = 0;
};

} // namespace imap_syntax
