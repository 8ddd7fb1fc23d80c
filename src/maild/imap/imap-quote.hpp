// IMAP strings in server responses (RFC 3501 4.3): the one quoter every response uses.
#pragma once

#include <string>
#include <string_view>

namespace maild {

// Appends s as an IMAP quoted string, or as a literal "{n}\r\n..." when it holds CR, LF or 8-bit
// bytes, which a quoted string cannot. NUL is allowed in neither form (CHAR8 excludes it), so it
// is dropped, and the literal's count is of the bytes sent. "NIL" is never produced.
void append_imap_string(std::string &out, std::string_view s);
std::string imap_quote(std::string_view s);

} // namespace maild
