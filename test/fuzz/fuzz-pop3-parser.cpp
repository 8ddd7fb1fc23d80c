// parse_pop3_command and parse_pop3_number against the rules in pop3-parser.hpp: the keyword is
// the text before the first space, matched without case; PASS keeps the rest of the line; other
// verbs split it on spaces; arguments are views into the line; numbers saturate at max.
#include "fuzz-check.hpp"
#include "pop3/pop3-parser.hpp"

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

using maild::Pop3Verb;

namespace {

bool inside(std::string_view part, std::string_view whole)
{
	return part.empty() ||
	       (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

Pop3Verb expected_verb(std::string_view keyword)
{
	static const struct {
		const char *name;
		Pop3Verb verb;
	} names[] = {{"USER", Pop3Verb::user}, {"PASS", Pop3Verb::pass}, {"AUTH", Pop3Verb::auth},
		     {"APOP", Pop3Verb::apop}, {"CAPA", Pop3Verb::capa}, {"STAT", Pop3Verb::stat},
		     {"LIST", Pop3Verb::list}, {"UIDL", Pop3Verb::uidl}, {"RETR", Pop3Verb::retr},
		     {"TOP", Pop3Verb::top},   {"DELE", Pop3Verb::dele}, {"NOOP", Pop3Verb::noop},
		     {"RSET", Pop3Verb::rset}, {"QUIT", Pop3Verb::quit}, {"LAST", Pop3Verb::last},
		     {"STLS", Pop3Verb::stls}};
	std::string upper(keyword);
	for (char &c : upper)
		if (c >= 'a' && c <= 'z')
			c = static_cast<char>(c - 'a' + 'A');
	for (const auto &n : names)
		if (upper == n.name)
			return n.verb;
	return Pop3Verb::unknown;
}

void check_command(std::string_view line)
{
	maild::Pop3Command cmd = maild::parse_pop3_command(line);
	auto sp = line.find(' ');
	std::string_view keyword = line.substr(0, sp);
	std::string_view rest = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);

	FUZZ_CHECK(cmd.verb == expected_verb(keyword));
	FUZZ_CHECK(cmd.arg_count <= cmd.args.size());
	for (std::size_t i = 0; i < cmd.args.size(); i++) {
		FUZZ_CHECK(inside(cmd.args[i], line));
		if (i >= cmd.arg_count)
			FUZZ_CHECK(cmd.args[i].empty());
	}
	if (cmd.verb == Pop3Verb::unknown) {
		FUZZ_CHECK(cmd.arg_count == 0 && cmd.error == nullptr);
		return;
	}
	if (cmd.error != nullptr) {
		// A fixed text: never a copy of client bytes.
		std::string_view e(cmd.error);
		FUZZ_CHECK(!e.empty() && e.size() < 64);
		for (char c : e)
			FUZZ_CHECK(c >= 0x20 && c < 0x7f);
	}
	if (cmd.verb == Pop3Verb::pass) {
		if (rest.empty()) {
			FUZZ_CHECK(cmd.error != nullptr && cmd.arg_count == 0);
		} else {
			FUZZ_CHECK(cmd.error == nullptr && cmd.arg_count == 1);
			FUZZ_CHECK(cmd.args[0].data() == rest.data() && cmd.args[0].size() == rest.size());
		}
		return;
	}
	std::vector<std::string_view> words;
	for (std::size_t i = 0; i < rest.size();) {
		if (rest[i] == ' ') {
			i++;
			continue;
		}
		std::size_t j = rest.find(' ', i);
		if (j == std::string_view::npos)
			j = rest.size();
		words.push_back(rest.substr(i, j - i));
		i = j;
	}
	FUZZ_CHECK(cmd.arg_count == (words.size() < 2 ? words.size() : 2));
	for (std::size_t i = 0; i < cmd.arg_count; i++) {
		FUZZ_CHECK(cmd.args[i] == words[i]);
		FUZZ_CHECK(cmd.args[i].find(' ') == std::string_view::npos);
	}
	if (words.size() > 2)
		FUZZ_CHECK(cmd.error != nullptr);
	// The same verb with the same number of words always gets the same verdict.
	std::string again(keyword);
	for (std::size_t i = 0; i < words.size(); i++)
		again += " x";
	FUZZ_CHECK((maild::parse_pop3_command(again).error == nullptr) == (cmd.error == nullptr));
}

void check_number(std::string_view s, std::uint64_t max)
{
	auto got = maild::parse_pop3_number(s, max);
	bool digits = !s.empty();
	unsigned __int128 v = 0;
	for (char c : s) {
		if (c < '0' || c > '9') {
			digits = false;
			break;
		}
		v = v * 10 + static_cast<unsigned>(c - '0');
		if (v > max)
			v = static_cast<unsigned __int128>(max) + 1; // stays above max from here on
	}
	FUZZ_CHECK(got.has_value() == digits);
	if (got)
		FUZZ_CHECK(*got == (v > max ? max : static_cast<std::uint64_t>(v)));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	std::string_view input(reinterpret_cast<const char *>(data), size);
	check_command(input);
	// The first 8 bytes (when there are that many) pick max; the rest is the number. Small and
	// the two real maxima (UIDs, TOP's line count) are the interesting ones.
	if (size >= 8) {
		std::uint64_t raw = 0;
		std::memcpy(&raw, data, 8);
		std::uint64_t max = raw % 4 == 0 ? UINT32_MAX : raw % 4 == 1 ? UINT64_MAX : raw % 4 == 2 ? raw >> 60 : raw >> 2;
		check_number(input.substr(8), max);
	} else {
		check_number(input, UINT32_MAX);
	}
	return 0;
}
