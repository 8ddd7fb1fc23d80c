#include "mail/calendar.hpp"

namespace maild {

namespace {

constexpr int days_before_month[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};

// Days from 1970-01-01 to January 1st of `year`: whole years of 365 days plus one for each leap
// year between (counted the same way on both sides of 1970 thanks to floor_div).
std::int64_t days_before_year(std::int64_t year)
{
	auto leaps_before = [](std::int64_t y) {
		return floor_div(y - 1, 4) - floor_div(y - 1, 100) + floor_div(y - 1, 400);
	};
	return 365 * (year - 1970) + leaps_before(year) - leaps_before(1970);
}

} // namespace

std::int64_t floor_div(std::int64_t a, std::int64_t b)
{
	std::int64_t q = a / b;
	if (a % b != 0 && ((a < 0) != (b < 0)))
		q--;
	return q;
}

bool is_leap_year(std::int64_t year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int days_in_month(std::int64_t year, int month)
{
	static constexpr int length[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return month == 2 && is_leap_year(year) ? 29 : length[month - 1];
}

std::int64_t days_from_civil(std::int64_t year, int month, int day)
{
	return days_before_year(year) + days_before_month[month - 1] + (month > 2 && is_leap_year(year) ? 1 : 0) +
	       day - 1;
}

CivilDate civil_from_days(std::int64_t days)
{
	CivilDate d;
	// A guess from the mean Gregorian year (146097 days in 400 years), then a step or two.
	d.year = 1970 + floor_div(days * 400, 146097);
	while (days_before_year(d.year) > days)
		d.year--;
	while (days_before_year(d.year + 1) <= days)
		d.year++;
	auto yday = static_cast<int>(days - days_before_year(d.year));
	int leap = is_leap_year(d.year) ? 1 : 0;
	d.month = 1;
	while (d.month < 12 && yday >= days_before_month[d.month] + (d.month >= 2 ? leap : 0))
		d.month++;
	d.day = yday - days_before_month[d.month - 1] - (d.month > 2 ? leap : 0) + 1;
	return d;
}

} // namespace maild
