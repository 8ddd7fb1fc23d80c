// RFC 2047 encoded words ("=?charset?B|Q?text?=") in unstructured header text, decoded to UTF-8:
// what sorting by subject or display name (RFC 5256 2.1, RFC 5957) compares. Pure: views in,
// a string out, never failing.
//
// - Charsets decoded: UTF-8, US-ASCII, ISO-8859-1, ISO-8859-15 and Windows-1252 (names matched
//   without regard to case; an RFC 2231 "*language" suffix is ignored). A word in any other
//   charset, or malformed (no closing "?=", an unknown encoding, a space inside), stays as it is:
//   the text the client would see without decoding, never lost.
// - Bytes that are not valid in their charset (broken UTF-8, 8-bit bytes in US-ASCII) become
//   U+FFFD, so the result is always valid UTF-8 where it was decoded.
// - White space between two adjacent encoded words is dropped (RFC 2047 6.2), and adjacent words
//   of one charset are joined before conversion, so a UTF-8 character split across two words
//   comes out whole.
// - Words are recognised anywhere in the text, also touching other characters: mailers that do
//   not separate them by white space are common, and decoding them is what readers show.
#pragma once

#include <string>
#include <string_view>

namespace maild {

std::string decode_encoded_words(std::string_view text);

} // namespace maild
