#include "mail/date.hpp"

#include "base/ascii.hpp"
#include "mail/calendar.hpp"
#include "mail/header.hpp"
#include "mail/lexer.hpp"

#include <array>
#include <string>
#include <utility>
#include <vector>

namespace maild {

namespace {

struct DateToken {
	char kind = 0; // 'n' digits, 'a' letters, or the character itself
	std::string_view text;
};

bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

// Tokens of an unfolded value, with white space and comments skipped. A date has about a dozen;
// more is junk.
std::vector<DateToken> tokenize(std::string_view v)
{
	Cursor c{v};
	std::vector<DateToken> toks;
	while (toks.size() < 16) {
		skip_cfws(c);
		if (c.at_end())
			break;
		std::size_t start = c.i;
		char ch = c.peek();
		DateToken t;
		if (is_digit(ch)) {
			while (!c.at_end() && is_digit(c.peek()))
				c.i++;
			t.kind = 'n';
		} else if (is_alpha(ch)) {
			while (!c.at_end() && is_alpha(c.peek()))
				c.i++;
			t.kind = 'a';
		} else {
			c.i++;
			t.kind = ch;
		}
		t.text = v.substr(start, c.i - start);
		toks.push_back(t);
	}
	return toks;
}

std::optional<std::uint32_t> small_number(const DateToken &t, std::size_t max_digits)
{
	if (t.kind != 'n' || t.text.size() > max_digits)
		return std::nullopt;
	std::uint32_t n = 0;
	for (char c : t.text)
		n = n * 10 + static_cast<std::uint32_t>(c - '0');
	return n;
}

// Reads the tokens in order; past the end every token is empty, so a short date simply fails.
struct DateReader {
	const std::vector<DateToken> &toks;
	std::size_t i = 0;

	DateToken at(std::size_t k) const { return k < toks.size() ? toks[k] : DateToken{}; }
	DateToken peek() const { return at(i); }
	DateToken take() { return at(i++); }
	void skip(char kind)
	{
		if (peek().kind == kind)
			i++;
	}
};

// [day-of-week [","]] day month year, the parts also joined by '-' (17-Jul-1996).
std::optional<CivilDate> read_day(DateReader &r)
{
	if (r.peek().kind == 'a') {
		r.i++;
		r.skip(',');
	}
	auto day = small_number(r.take(), 2);
	r.skip('-');
	static constexpr std::array<std::string_view, 12> months = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
								      "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
	int month = 0;
	if (DateToken m = r.take(); m.kind == 'a' && m.text.size() >= 3) {
		std::string name = upper_ascii(m.text.substr(0, 3));
		for (std::size_t k = 0; k < months.size(); k++)
			if (name == months[k])
				month = static_cast<int>(k) + 1;
	}
	r.skip('-');
	std::size_t year_digits = r.peek().text.size();
	auto year = small_number(r.take(), 4);
	if (!day || *day < 1 || *day > 31 || month == 0 || !year || year_digits < 2)
		return std::nullopt;
	// RFC 5322 4.3: two-digit years below 50 are 20xx, other short years add 1900.
	if (year_digits == 2)
		*year += *year < 50 ? 2000 : 1900;
	else if (year_digits == 3)
		*year += 1900;
	if (*year < 1)
		return std::nullopt;
	return CivilDate{*year, month, static_cast<int>(*day)};
}

// hour ":" minute [":" second], as seconds into the day.
std::optional<std::int64_t> read_time(DateReader &r)
{
	auto hour = small_number(r.take(), 2);
	if (r.take().kind != ':')
		return std::nullopt;
	auto minute = small_number(r.take(), 2);
	std::optional<std::uint32_t> second = 0;
	if (r.peek().kind == ':') {
		second = small_number(r.at(r.i + 1), 2);
		r.i += 2;
	}
	if (!hour || !minute || !second || *hour > 23 || *minute > 59 || *second > 60)
		return std::nullopt;
	return std::int64_t{*hour} * 3600 + std::int64_t{*minute} * 60 + std::int64_t{*second};
}

// Zone: +hhmm / -hhmm, or an obsolete name, as seconds east of UTC. Military letters and unknown
// names mean "no zone information" (RFC 5322 4.3), as does a missing zone: UTC.
std::optional<std::int32_t> read_zone(const DateReader &r)
{
	std::int32_t zone = 0;
	DateToken z = r.peek();
	DateToken digits = r.at(r.i + 1);
	if ((z.kind == '+' || z.kind == '-') && digits.kind == 'n' && digits.text.size() == 4) {
		auto hhmm = *small_number(digits, 4);
		if (hhmm % 100 > 59)
			return std::nullopt;
		zone = static_cast<std::int32_t>((hhmm / 100) * 3600 + (hhmm % 100) * 60);
		if (z.kind == '-')
			zone = -zone;
	} else if (z.kind == 'a') {
		static constexpr std::array<std::pair<std::string_view, int>, 8> names = {
			{{"EST", -5}, {"EDT", -4}, {"CST", -6}, {"CDT", -5}, {"MST", -7}, {"MDT", -6}, {"PST", -8}, {"PDT", -7}}};
		std::string n = upper_ascii(z.text);
		for (const auto &[name, hours] : names)
			if (n == name)
				zone = hours * 3600;
	}
	return zone;
}

} // namespace

std::optional<MessageDate> parse_message_date(std::string_view value)
{
	std::string v = unfold(value);
	std::vector<DateToken> toks = tokenize(v);
	DateReader r{toks};
	auto day = read_day(r);
	if (!day)
		return std::nullopt;
	auto time = read_time(r);
	if (!time)
		return std::nullopt;
	auto zone = read_zone(r);
	if (!zone)
		return std::nullopt;
	MessageDate d;
	d.zone_offset = *zone;
	d.unix_time = days_from_civil(day->year, day->month, day->day) * 86400 + *time - *zone;
	return d;
}

} // namespace maild
