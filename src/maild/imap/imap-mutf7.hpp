// Mailbox names in modified UTF-7 (RFC 3501 5.1.3).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace maild {

// Mailbox names as sent (modified UTF-7, RFC 3501 5.1.3): true when the name is valid mUTF-7
// (printable ASCII, '&' starts a base64 run ended by '-', "&-" is '&'), false otherwise.
// Only the one canonical spelling is valid, so two names never mean the same mailbox: a run may not
// encode ASCII, end with spare bits set or a whole spare base64 character, follow another run
// directly ("-&"), or hold a broken UTF-16 surrogate pair. The empty name is not valid.
bool valid_mailbox_name(std::string_view name);

// A UTF-8 name (as an IMAP URL carries it, RFC 5092) in modified UTF-7; nothing for bytes that
// are not UTF-8 (cut short, overlong, a surrogate, past U+10FFFF).
std::optional<std::string> utf8_to_mutf7(std::string_view utf8);

} // namespace maild
