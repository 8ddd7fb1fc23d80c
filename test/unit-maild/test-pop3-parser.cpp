#include "pop3/pop3-parser.hpp"

#include <catch2/catch.hpp>

using namespace maild;

TEST_CASE("POP3 keywords are case-insensitive", "[pop3-parser]")
{
	CHECK(parse_pop3_command("STAT").verb == Pop3Verb::stat);
	CHECK(parse_pop3_command("stat").verb == Pop3Verb::stat);
	CHECK(parse_pop3_command("sTaT").verb == Pop3Verb::stat);
	CHECK(parse_pop3_command("STATX").verb == Pop3Verb::unknown);
	CHECK(parse_pop3_command("").verb == Pop3Verb::unknown);
	CHECK(parse_pop3_command(" STAT").verb == Pop3Verb::unknown);
}

TEST_CASE("POP3 arguments and arity", "[pop3-parser]")
{
	auto top = parse_pop3_command("TOP 3 10");
	CHECK(top.verb == Pop3Verb::top);
	CHECK(top.error == nullptr);
	CHECK(top.arg_count == 2);
	CHECK(top.args[0] == "3");
	CHECK(top.args[1] == "10");

	CHECK(parse_pop3_command("TOP 3").error != nullptr);
	CHECK(parse_pop3_command("TOP 1 2 3").error != nullptr);
	CHECK(parse_pop3_command("RETR").error != nullptr);
	CHECK(parse_pop3_command("STAT 1").error != nullptr);
	CHECK(parse_pop3_command("LIST").error == nullptr);
	CHECK(parse_pop3_command("LIST 2").args[0] == "2");
	CHECK(parse_pop3_command("LIST  2 ").arg_count == 1);
	CHECK(parse_pop3_command("AUTH").arg_count == 0);
	CHECK(parse_pop3_command("AUTH PLAIN AGJvYgBodW50ZXIy").args[1] == "AGJvYgBodW50ZXIy");
}

TEST_CASE("PASS takes the rest of the line", "[pop3-parser]")
{
	auto c = parse_pop3_command("PASS open  sesame ");
	CHECK(c.verb == Pop3Verb::pass);
	CHECK(c.error == nullptr);
	CHECK(c.args[0] == "open  sesame ");
	CHECK(parse_pop3_command("PASS").error != nullptr);
}

TEST_CASE("Message numbers", "[pop3-parser]")
{
	CHECK(parse_pop3_number("1", 100) == 1u);
	CHECK(parse_pop3_number("0042", 100) == 42u);
	CHECK(parse_pop3_number("99999999999999999999999", 1000) == 1000u);
	CHECK(parse_pop3_number("99999999", UINT64_MAX) == 99999999u);
	// Found by test/fuzz/fuzz-pop3-parser: a digit above max wrapped max - d around.
	CHECK(parse_pop3_number("9", 3) == 3u);
	CHECK(parse_pop3_number("99999999999999999999999", 3) == 3u);
	CHECK(parse_pop3_number("3", 3) == 3u);
	CHECK(parse_pop3_number("0", 0) == 0u);
	CHECK_FALSE(parse_pop3_number("", 100));
	CHECK_FALSE(parse_pop3_number("-1", 100));
	CHECK_FALSE(parse_pop3_number("+1", 100));
	CHECK_FALSE(parse_pop3_number("1x", 100));
	CHECK_FALSE(parse_pop3_number(" 1", 100));
}

TEST_CASE("The parser survives arbitrary bytes", "[pop3-parser]")
{
	std::string line;
	for (int i = 0; i < 5000; i++) {
		line += static_cast<char>((i * 7919) & 0xff);
		auto c = parse_pop3_command(line);
		CHECK(c.arg_count <= 2);
	}
}
