// The MIME structure of a message (RFC 2045, 2046): content-type and disposition parameters,
// multipart bodies split at their boundaries, and the tree of entities. Pure: views of one stored
// message (LF or CRLF line ends, even mixed). Hostile input degrades instead of failing: nesting
// is cut at max_mime_depth and the part count at max_mime_parts (deeper or further composite parts
// become opaque application/octet-stream leaves), so the work is linear in the size times that
// depth.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace maild {

struct Cursor;

// Parameters in order, names upper-cased, values as sent (unquoted).
using MimeParams = std::vector<std::pair<std::string, std::string>>;

// *(";" attribute "=" value). Unquoted values are taken leniently up to white space, ';' or a
// comment, since real mailers write boundaries like ----=_Part_1 without quotes.
MimeParams parse_params(Cursor &c);
// The first token of a field (Content-Transfer-Encoding, a disposition type), upper-cased.
std::string first_token(std::string_view value);

struct ContentType {
	std::string type, subtype; // upper-cased
	MimeParams params;
};
// type "/" subtype *(";" parameter) of a folded value; nothing when type or subtype is missing,
// which RFC 2045 5.2 says to read as text/plain; charset=us-ascii.
std::optional<ContentType> parse_content_type(std::string_view value);

struct Disposition {
	std::string type; // upper-cased; empty when the field has none
	MimeParams params;
};
// Content-Disposition (RFC 2183) of a folded value.
Disposition parse_disposition(std::string_view value);
// Content-Language (RFC 3282): tags separated by commas, comments allowed.
std::vector<std::string> parse_language_list(std::string_view value);

// Splits a multipart body at its boundary delimiter lines (RFC 2046 5.1.1): a line starting with
// "--" boundary (only the prefix is compared, as RFC 2046 asks), the line end before it belonging
// to the delimiter. The preamble and epilogue are dropped; without a close delimiter the last part
// runs to the end. At most `limit` parts: further delimiters stay inside the last part.
std::vector<std::string_view> split_multipart(std::string_view body, std::string_view boundary,
					      std::size_t limit);

constexpr unsigned max_mime_depth = 20;
constexpr std::size_t max_mime_parts = 10000;

// One MIME entity: the whole message, a part of a multipart, or the message inside a
// message/rfc822 part. Header and body are views of the stored message; the MIME fields are kept
// raw (folded) and only turned into text when they are written out.
struct MimePart {
	enum class Kind : std::uint8_t { leaf, multipart, message };
	Kind kind = Kind::leaf;
	std::string_view header; // with its blank line, when it has one
	std::string_view body;
	std::string type, subtype; // upper-cased
	MimeParams params;
	std::optional<std::string_view> encoding, id, description, md5, disposition, language, location;
	// multipart: its parts (at least one); message: exactly one, the encapsulated message.
	std::vector<MimePart> children;

	// The value of parameter `name` (upper-case), or null.
	const std::string *param(std::string_view name) const;
};

// The tree of `entity`; never fails (malformed input degrades to text/plain). Defaults per RFC
// 2045 5.2 and RFC 2046: text/plain; charset=us-ascii, message/rfc822 inside multipart/digest.
MimePart parse_mime(std::string_view entity);

} // namespace maild
