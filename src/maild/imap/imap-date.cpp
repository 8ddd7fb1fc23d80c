#include "imap/imap-date.hpp"

#include "base/ascii.hpp"
#include "imap/imap-grammar.hpp"
#include "mail/calendar.hpp"

#include <algorithm>

namespace maild {

namespace {

constexpr const char *month_names[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

using imap_grammar::is_digit;

// date-text after its day: "-Mon-yyyy" from s[pos]; checks the day exists in that month.
bool parse_month_year(std::string_view s, std::size_t &pos, int day, std::int64_t &days)
{
	if (s.size() - pos < 9 || s[pos] != '-' || s[pos + 4] != '-')
		return false;
	int month = 0;
	for (int i = 0; i < 12; i++) {
		if (equal_nocase(s.substr(pos + 1, 3), month_names[i])) {
			month = i + 1;
			break;
		}
	}
	if (month == 0)
		return false;
	std::int64_t year = 0;
	for (std::size_t i = pos + 5; i < pos + 9; i++) {
		if (!is_digit(s[i]))
			return false;
		year = year * 10 + (s[i] - '0');
	}
	if (day < 1 || day > days_in_month(year, month))
		return false;
	pos += 9;
	days = days_from_civil(year, month, day);
	return true;
}

// Two digits at s[pos], at most max.
bool two_digits(std::string_view s, std::size_t pos, int max, int &out)
{
	if (pos + 2 > s.size() || !is_digit(s[pos]) || !is_digit(s[pos + 1]))
		return false;
	out = (s[pos] - '0') * 10 + (s[pos + 1] - '0');
	return out <= max;
}

void append_two_digits(std::string &out, int n, char pad)
{
	out += n < 10 ? pad : static_cast<char>('0' + n / 10);
	out += static_cast<char>('0' + n % 10);
}

} // namespace

std::optional<std::int64_t> parse_imap_date(std::string_view s)
{
	std::size_t pos = 0;
	int day = 0;
	while (pos < s.size() && pos < 2 && is_digit(s[pos]))
		day = day * 10 + (s[pos++] - '0');
	std::int64_t days = 0;
	if (pos == 0 || !parse_month_year(s, pos, day, days) || pos != s.size())
		return std::nullopt;
	return days;
}

std::optional<std::int64_t> parse_imap_date_time(std::string_view s)
{
	// date-day-fixed: " d" or "dd"; a bare "d" is taken too, as it is unambiguous.
	std::size_t pos = 0;
	int day = 0;
	if (!s.empty() && s[0] == ' ') {
		if (s.size() < 2 || !is_digit(s[1]))
			return std::nullopt;
		day = s[1] - '0';
		pos = 2;
	} else {
		while (pos < s.size() && pos < 2 && is_digit(s[pos]))
			day = day * 10 + (s[pos++] - '0');
		if (pos == 0)
			return std::nullopt;
	}
	std::int64_t days = 0;
	if (!parse_month_year(s, pos, day, days))
		return std::nullopt;
	// SP hh ":" mm ":" ss SP ("+" / "-") hhmm
	int hour = 0, minute = 0, second = 0, zone_hour = 0, zone_minute = 0;
	if (s.size() - pos != 15 || s[pos] != ' ' || !two_digits(s, pos + 1, 23, hour) ||
	    s[pos + 3] != ':' || !two_digits(s, pos + 4, 59, minute) || s[pos + 6] != ':' ||
	    !two_digits(s, pos + 7, 60, second) || s[pos + 9] != ' ' ||
	    (s[pos + 10] != '+' && s[pos + 10] != '-') || !two_digits(s, pos + 11, 23, zone_hour) ||
	    !two_digits(s, pos + 13, 59, zone_minute))
		return std::nullopt;
	std::int64_t zone = (zone_hour * 60 + zone_minute) * 60;
	if (s[pos + 10] == '-')
		zone = -zone;
	// The local time is ahead of UTC by the zone, so UTC is the local time minus it.
	return days * 86400 + hour * 3600 + minute * 60 + second - zone;
}

std::string format_imap_date_time(std::int64_t t)
{
	constexpr std::int64_t first = -62167219200;  // 01-Jan-0000 00:00:00 +0000
	constexpr std::int64_t last = 253402300799;   // 31-Dec-9999 23:59:59 +0000
	t = std::clamp(t, first, last);
	std::int64_t days = day_of(t);
	auto secs = static_cast<int>(t - days * 86400);
	CivilDate date = civil_from_days(days);

	std::string out;
	append_two_digits(out, date.day, ' ');
	out += '-';
	out += month_names[date.month - 1];
	out += '-';
	append_two_digits(out, static_cast<int>(date.year / 100), '0');
	append_two_digits(out, static_cast<int>(date.year % 100), '0');
	out += ' ';
	append_two_digits(out, secs / 3600, '0');
	out += ':';
	append_two_digits(out, secs / 60 % 60, '0');
	out += ':';
	append_two_digits(out, secs % 60, '0');
	out += " +0000";
	return out;
}

} // namespace maild
