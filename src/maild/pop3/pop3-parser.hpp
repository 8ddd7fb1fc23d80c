// The POP3 command line parser: a pure function from one line (without its CRLF) to a command,
// so it can be fuzzed alone. Keywords are case-insensitive (RFC 1939); arguments are separated by
// spaces. PASS takes the rest of the line as one argument, since passwords may hold spaces.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace maild {

enum class Pop3Verb {
	unknown, user, pass, auth, apop, capa, stat, list, uidl, retr, top, dele, noop, rset, quit,
	last, stls
};

struct Pop3Command {
	Pop3Verb verb = Pop3Verb::unknown;
	std::array<std::string_view, 2> args{};
	std::size_t arg_count = 0;
	// Set when the arguments do not fit the verb; a short reply text, no client bytes in it.
	const char *error = nullptr;
};

Pop3Command parse_pop3_command(std::string_view line);

// A message number or TOP line count: decimal digits only. Numbers beyond max saturate to max
// (TOP n 99999999 means "all lines"); nothing for anything that is not a number.
std::optional<std::uint64_t> parse_pop3_number(std::string_view s, std::uint64_t max);

} // namespace maild
