#include "imap/imap-quote.hpp"

#include <algorithm>

namespace maild {

void append_imap_string(std::string &out, std::string_view s)
{
	bool literal = false;
	std::size_t nuls = 0;
	for (char c : s) {
		auto u = static_cast<unsigned char>(c);
		if (c == '\r' || c == '\n' || u >= 0x80)
			literal = true;
		else if (c == '\0')
			nuls++;
	}
	if (literal) {
		out += '{';
		out += std::to_string(s.size() - nuls);
		out += "}\r\n";
		std::copy_if(s.begin(), s.end(), std::back_inserter(out), [](char c) { return c != '\0'; });
		return;
	}
	out.reserve(out.size() + s.size() + 2);
	out += '"';
	for (char c : s) {
		if (c == '\0')
			continue;
		if (c == '"' || c == '\\')
			out += '\\';
		out += c;
	}
	out += '"';
}

std::string imap_quote(std::string_view s)
{
	std::string out;
	append_imap_string(out, s);
	return out;
}

} // namespace maild
