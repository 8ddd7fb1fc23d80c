// BODY and BODYSTRUCTURE (RFC 3501 7.4.2) of a parsed MIME tree (mail/mime.hpp).
#pragma once

#include <string>

namespace maild {

struct MimePart;

// BODYSTRUCTURE (extensible = true: with extension data md5, disposition, language, location)
// or BODY (extensible = false) of p, appended to out. Sizes and lines in CRLF terms.
void append_bodystructure(std::string &out, const MimePart &p, bool extensible);

} // namespace maild
