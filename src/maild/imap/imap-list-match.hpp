// LIST and LSUB patterns (RFC 3501 6.3.8).
#pragma once

#include <string_view>

namespace maild {

// LIST/LSUB pattern matching with '*' (anything) and '%' (anything but the delimiter '.').
// Case-sensitive (INBOX is the session's to special-case); time O(pattern * name).
bool list_pattern_matches(std::string_view pattern, std::string_view name, char delimiter = '.');

} // namespace maild
