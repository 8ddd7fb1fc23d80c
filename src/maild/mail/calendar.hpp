// maild's one calendar: the proleptic Gregorian calendar in UTC, days counted from 1970-01-01
// (negative before it). IMAP's date arguments, the Date: header and file times all go through it.
#pragma once

#include <cstdint>

namespace maild {

struct CivilDate {
	std::int64_t year = 1970;
	int month = 1; // 1..12
	int day = 1;   // 1..31
};

bool is_leap_year(std::int64_t year);
int days_in_month(std::int64_t year, int month);
// Days since 1970-01-01 of a valid date.
std::int64_t days_from_civil(std::int64_t year, int month, int day);
CivilDate civil_from_days(std::int64_t days);
// Division rounding towards minus infinity: the day of a time before 1970 is the one it falls in.
std::int64_t floor_div(std::int64_t a, std::int64_t b);
// Days since 1970-01-01 of a Unix time.
inline std::int64_t day_of(std::int64_t unix_time) { return floor_div(unix_time, 86400); }

} // namespace maild
