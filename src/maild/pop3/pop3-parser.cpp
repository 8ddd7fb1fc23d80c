#include "pop3/pop3-parser.hpp"

#include "base/ascii.hpp"

namespace maild {

namespace {

struct VerbSpec {
	const char *name;
	Pop3Verb verb;
	std::size_t min_args, max_args;
};

constexpr VerbSpec verbs[] = {
	{"USER", Pop3Verb::user, 1, 1}, {"PASS", Pop3Verb::pass, 1, 1}, {"AUTH", Pop3Verb::auth, 0, 2},
	{"APOP", Pop3Verb::apop, 0, 2}, {"CAPA", Pop3Verb::capa, 0, 0}, {"STAT", Pop3Verb::stat, 0, 0},
	{"LIST", Pop3Verb::list, 0, 1}, {"UIDL", Pop3Verb::uidl, 0, 1}, {"RETR", Pop3Verb::retr, 1, 1},
	{"TOP", Pop3Verb::top, 2, 2},	{"DELE", Pop3Verb::dele, 1, 1}, {"NOOP", Pop3Verb::noop, 0, 0},
	{"RSET", Pop3Verb::rset, 0, 0}, {"QUIT", Pop3Verb::quit, 0, 0}, {"LAST", Pop3Verb::last, 0, 2},
	{"STLS", Pop3Verb::stls, 0, 2},
};

} // namespace

Pop3Command parse_pop3_command(std::string_view line)
{
	Pop3Command cmd;
	auto sp = line.find(' ');
	std::string_view keyword = line.substr(0, sp);
	std::string_view rest = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);

	const VerbSpec *spec = nullptr;
	for (const auto &v : verbs) {
		if (equal_nocase(keyword, v.name)) {
			spec = &v;
			break;
		}
	}
	if (spec == nullptr)
		return cmd;
	cmd.verb = spec->verb;

	if (cmd.verb == Pop3Verb::pass) {
		if (rest.empty()) {
			cmd.error = "PASS needs a password";
			return cmd;
		}
		cmd.args[0] = rest;
		cmd.arg_count = 1;
		return cmd;
	}

	std::size_t count = 0;
	bool too_many = false;
	while (!rest.empty()) {
		auto start = rest.find_first_not_of(' ');
		if (start == std::string_view::npos)
			break;
		rest.remove_prefix(start);
		auto end = rest.find(' ');
		std::string_view arg = rest.substr(0, end);
		if (count < cmd.args.size())
			cmd.args[count] = arg;
		else
			too_many = true;
		count++;
		rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
	}
	cmd.arg_count = count < cmd.args.size() ? count : cmd.args.size();
	if (too_many || count > spec->max_args)
		cmd.error = "too many arguments";
	else if (count < spec->min_args)
		cmd.error = "missing argument";
	return cmd;
}

std::optional<std::uint64_t> parse_pop3_number(std::string_view s, std::uint64_t max)
{
	if (s.empty())
		return std::nullopt;
	std::uint64_t v = 0;
	for (char c : s) {
		if (c < '0' || c > '9')
			return std::nullopt;
		auto d = static_cast<std::uint64_t>(c - '0');
		v = d > max || v > (max - d) / 10 ? max : v * 10 + d;
	}
	return v;
}

} // namespace maild
