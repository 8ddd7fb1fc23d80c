// Message identifiers (RFC 5322 3.6.4) in Message-ID, In-Reply-To and References: what THREAD
// REFERENCES links messages by (RFC 5256 4).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace maild {

// The identifiers of a (folded) field value, in order, each the text between '<' and '>' with
// any white space or line ends inside removed (folding may split a long one); empty ones and
// those without '@' are not identifiers and are left out, as are comments and phrases around
// them ("In-Reply-To: your message of Monday <a@b>" gives a@b). Compared as octets.
std::vector<std::string> message_ids(std::string_view value);

} // namespace maild
