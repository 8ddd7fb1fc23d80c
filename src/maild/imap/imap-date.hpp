// IMAP's dates (RFC 3501 section 9): date-text for SEARCH, date-time for APPEND and INTERNALDATE,
// read and written on maild's one calendar (mail/calendar.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace maild {

// date-text: a 1 or 2 digit day "-" Mon "-" 4-digit year, and nothing else -> days since
// 1970-01-01; nothing if invalid. Month names are case-insensitive; the date must exist.
std::optional<std::int64_t> parse_imap_date(std::string_view s);
// "dd-Mon-yyyy hh:mm:ss +zzzz" -> Unix time; nothing if invalid. The day may be " d", "dd" or
// "d"; month names are case-insensitive; the date must exist.
std::optional<std::int64_t> parse_imap_date_time(std::string_view s);
// Unix time -> "dd-Mon-yyyy hh:mm:ss +0000" (day space-padded to two chars as RFC 3501's date-day-fixed).
// Times outside years 0000..9999 are clamped to them, as date-year has four digits.
std::string format_imap_date_time(std::int64_t t);

} // namespace maild
