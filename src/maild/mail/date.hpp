// The Date: header (RFC 5322 3.3) as a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace maild {

// A Date: header value. The local day is what SEARCH SENTON/SENTBEFORE/SENTSINCE compare
// ("disregarding time and timezone", RFC 3501 6.4.4): floor((unix_time + zone_offset) / 86400).
struct MessageDate {
	std::int64_t unix_time = 0;
	std::int32_t zone_offset = 0; // seconds east of UTC, as written in the header
};

// An RFC 5322 date-time, with the obsolete forms (2- and 3-digit years, named zones, missing
// seconds or day name, comments) tolerated; nothing if it cannot be read as a date.
std::optional<MessageDate> parse_message_date(std::string_view value);

} // namespace maild
