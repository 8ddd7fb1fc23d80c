// Case-insensitive comparison in ASCII, as the protocols and RFC 5322 field names want it: never
// the C locale's idea of case; only upper_ascii allocates.
#pragma once

#include <string>
#include <string_view>

namespace maild {

constexpr char ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c;
}

constexpr char ascii_upper(char c)
{
	return c >= 'a' && c <= 'z' ? static_cast<char>(c - ('a' - 'A')) : c;
}

constexpr bool equal_nocase(std::string_view a, std::string_view b)
{
	if (a.size() != b.size())
		return false;
	for (std::size_t i = 0; i < a.size(); i++) {
		if (ascii_lower(a[i]) != ascii_lower(b[i]))
			return false;
	}
	return true;
}

constexpr bool starts_with_nocase(std::string_view s, std::string_view prefix)
{
	return s.size() >= prefix.size() && equal_nocase(s.substr(0, prefix.size()), prefix);
}

// Where `needle` first occurs in `haystack`, ignoring case; npos when it does not (an empty
// needle is found at 0).
std::size_t find_nocase(std::string_view haystack, std::string_view needle);

// `s` with a..z upper-cased, as protocol keywords and MIME names are compared and sent.
std::string upper_ascii(std::string_view s);

inline bool contains_nocase(std::string_view haystack, std::string_view needle)
{
	return find_nocase(haystack, needle) != std::string_view::npos;
}

} // namespace maild
