#include "base/ascii.hpp"

namespace maild {

std::size_t find_nocase(std::string_view haystack, std::string_view needle)
{
	if (needle.empty())
		return 0;
	if (needle.size() > haystack.size())
		return std::string_view::npos;
	char first = ascii_lower(needle[0]);
	std::size_t last = haystack.size() - needle.size();
	for (std::size_t i = 0; i <= last; i++) {
		if (ascii_lower(haystack[i]) == first && equal_nocase(haystack.substr(i + 1, needle.size() - 1), needle.substr(1)))
			return i;
	}
	return std::string_view::npos;
}

std::string upper_ascii(std::string_view s)
{
	std::string out(s);
	for (char &c : out)
		c = ascii_upper(c);
	return out;
}

} // namespace maild
