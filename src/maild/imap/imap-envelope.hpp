// IMAP's rendering of a message's structure (RFC 3501 7.4.2): ENVELOPE here, BODY and
// BODYSTRUCTURE in imap-bodystructure.hpp. The parsing is mail/'s; this is only the wire form.
#pragma once

#include "imap/imap-quote.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace maild {

// The string, or NIL for nothing.
void append_imap_nstring(std::string &out, const std::optional<std::string> &s);

// "(date subject from sender reply-to to cc bcc in-reply-to message-id)" of a header.
std::string imap_envelope(std::string_view header);

} // namespace maild
