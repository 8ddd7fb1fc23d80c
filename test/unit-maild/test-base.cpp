// The small shared pieces every layer leans on: the calendar, ASCII case, whole reads and writes.
#include "base/ascii.hpp"
#include "base/fd.hpp"
#include "mail/calendar.hpp"

#include <catch2/catch.hpp>
#include <cerrno>
#include <fcntl.h>
#include <string>
#include <unistd.h>

using namespace maild;

TEST_CASE("The calendar counts every day from 1600 to 2400 once, in order", "[calendar]")
{
	// Walk day by day with nothing but month lengths, and compare with both directions.
	std::int64_t days = days_from_civil(1600, 1, 1);
	CHECK(days == -135140); // 1970-01-01 is 135,140 days after 1600-01-01
	for (std::int64_t y = 1600; y < 2400; y++) {
		for (int m = 1; m <= 12; m++) {
			for (int d = 1; d <= days_in_month(y, m); d++, days++) {
				REQUIRE(days_from_civil(y, m, d) == days);
				CivilDate c = civil_from_days(days);
				REQUIRE((c.year == y && c.month == m && c.day == d));
			}
		}
	}
	CHECK(days_from_civil(1970, 1, 1) == 0);
	CHECK(days_from_civil(2000, 3, 1) == 11017);
	CHECK(is_leap_year(2000));
	CHECK(!is_leap_year(1900));
	CHECK(days_in_month(2024, 2) == 29);
}

TEST_CASE("A Unix time's day rounds down, also before 1970", "[calendar]")
{
	CHECK(day_of(0) == 0);
	CHECK(day_of(86399) == 0);
	CHECK(day_of(-1) == -1);
	CHECK(day_of(-86400) == -1);
	CHECK(day_of(-86401) == -2);
	CHECK(floor_div(-7, 2) == -4);
	CHECK(floor_div(7, -2) == -4);
	CHECK(floor_div(-8, 2) == -4);
}

TEST_CASE("ASCII case: equal, prefix and find ignore case and nothing else", "[ascii]")
{
	CHECK(equal_nocase("Content-Type", "content-TYPE"));
	CHECK(!equal_nocase("Content-Type", "Content-Typ"));
	CHECK(!equal_nocase("\xc3\xa9", "\xc3\x89")); // é and É differ: ASCII only
	CHECK(!equal_nocase("[", "{"));                 // 0x5b and 0x7b are not a case pair
	CHECK(starts_with_nocase("BODY.PEEK[]", "body"));
	CHECK(find_nocase("Subject: Hello World", "WORLD") == 15);
	CHECK(find_nocase("aaab", "AAB") == 1);
	CHECK(find_nocase("abc", "") == 0);
	CHECK(find_nocase("ab", "abc") == std::string_view::npos);
	CHECK(!contains_nocase("user-from@domain.org", "to@"));
}

TEST_CASE("write_full and read_full move every byte, Fd closes once", "[fd]")
{
	int p[2];
	REQUIRE(pipe(p) == 0);
	Fd r(p[0]), w(p[1]);
	std::string data(8000, 'x');
	data[7999] = 'y';
	// No reader runs meanwhile: stay under what any pipe buffers (16 KiB on macOS).
	REQUIRE(write_full(w.get(), data));
	REQUIRE(w.close());
	CHECK(!w);
	std::string got(10000, '\0');
	CHECK(read_full(r.get(), got.data(), got.size()) == 8000); // short only at end of file
	CHECK(got.compare(0, 8000, data) == 0);
	int raw = r.release();
	CHECK(!r);
	CHECK(fcntl(raw, F_GETFD) >= 0); // release() did not close it
	close(raw);
	CHECK(!write_full(-1, "x"));
	CHECK(errno == EBADF);
}
