// RFC 5322 header fields (2.1, 2.2): lines, the split of an entity at its first blank line, field
// iteration with continuation lines, unfolding. Works on the stored bytes: LF or CRLF line ends,
// even mixed, and never allocates except for unfolded copies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace maild {

constexpr bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

// The position after the LF that ends the line starting at pos (or the end of s).
std::size_t next_line(std::string_view s, std::size_t pos);
bool is_blank_line(std::string_view line);
// Every line, including a last one without a line end, which is how a MIME part always ends (its
// CRLF belongs to the boundary): the count IMAP reports for text.
std::uint64_t count_lines(std::string_view s);
// An entity is split at its first empty line (RFC 5322 2.1), which stays with the header; without
// one it is all header.
std::pair<std::string_view, std::string_view> split_entity(std::string_view entity);

// One header field: its first line and the continuation lines that start with white space.
struct HeaderField {
	std::string_view name;  // before the colon, trailing white space dropped; empty without colon
	std::string_view value; // after the colon, still folded, without the last line end
	std::string_view lines; // the whole field with its line ends, as HEADER.FIELDS sends it
};

// Calls fn(field) for each field up to the blank line; fn returns false to stop. A continuation
// line with nothing before it, or a line without a colon, is a nameless field: header text that
// matches no name.
void for_each_field(std::string_view header, const std::function<bool(const HeaderField &)> &fn);
// The value of the first field named `name` (case-insensitive), still folded; nothing if absent.
std::optional<std::string_view> find_field(std::string_view header, std::string_view name);

// Unfolding removes each line end inside a field (RFC 5322 2.2.3: they are all followed by white
// space); the white space after the colon goes too.
std::string unfold(std::string_view v);
// unfold() without trailing white space.
std::string unfold_trimmed(std::string_view v);

} // namespace maild
