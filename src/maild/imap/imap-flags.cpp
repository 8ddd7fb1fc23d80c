#include "imap/imap-flags.hpp"

#include "base/ascii.hpp"

#include <algorithm>
#include <cerrno>

namespace maild {

namespace {

struct SystemFlag {
	char letter;
	const char *name;
};
// In the order IMAP clients usually list them.
constexpr SystemFlag system_flags[] = {
	{'R', "\\Answered"}, {'F', "\\Flagged"}, {'T', "\\Deleted"}, {'S', "\\Seen"}, {'D', "\\Draft"},
};

} // namespace

std::string imap_flag_list(std::string_view letters, const Keywords &keywords, bool recent)
{
	std::string out;
	auto add = [&](std::string_view name) {
		if (!out.empty())
			out += ' ';
		out += name;
	};
	for (const auto &f : system_flags) {
		if (letters.find(f.letter) != std::string_view::npos)
			add(f.name);
	}
	for (char c : letters) {
		auto i = static_cast<std::size_t>(c - 'a');
		if (c >= 'a' && c <= 'z' && i < keywords.names.size())
			add(keywords.names[i]);
	}
	if (recent)
		add("\\Recent");
	return out;
}

std::string imap_system_flags()
{
	std::string out;
	for (const auto &f : system_flags) {
		if (!out.empty())
			out += ' ';
		out += f.name;
	}
	return out;
}

bool valid_keyword(std::string_view name)
{
	if (name.empty() || name.size() > 64)
		return false;
	for (char c : name) {
		auto u = static_cast<unsigned char>(c);
		// atom-specials: ( ) { SP CTL % * " \ ]
		if (u <= 0x20 || u >= 0x7f || std::string_view("(){%*\"\\]").find(c) != std::string_view::npos)
			return false;
	}
	return true;
}

std::optional<std::string> letters_for_flags(const std::vector<std::string> &flags, Keywords &keywords,
					     const std::string &dir, bool create, std::string &error)
{
	std::string letters;
	for (const auto &flag : flags) {
		if (!flag.empty() && flag[0] == '\\') {
			if (equal_nocase(flag, "\\Recent"))
				continue;
			auto it = std::find_if(std::begin(system_flags), std::end(system_flags),
					       [&](const SystemFlag &f) { return equal_nocase(flag, f.name); });
			if (it == std::end(system_flags)) {
				error = "Unknown system flag";
				return std::nullopt;
			}
			letters += it->letter;
			continue;
		}
		if (!valid_keyword(flag)) {
			error = "Invalid keyword";
			return std::nullopt;
		}
		std::optional<char> known = keywords.find(flag);
		if (!known && !create)
			continue; // an unknown keyword is simply not set on any message
		char c = known.value_or('\0');
		if (!known && keywords.full()) {
			error = "[LIMIT] Too many keywords in this mailbox";
			return std::nullopt;
		}
		if (!known && !keywords.add(flag, dir, c)) {
			error = errno == ENOSPC || errno == EDQUOT ? "[OVERQUOTA] No space left to save the keyword"
								   : "[SERVERBUG] Cannot save the keyword";
			return std::nullopt;
		}
		letters += c;
	}
	std::sort(letters.begin(), letters.end());
	letters.erase(std::unique(letters.begin(), letters.end()), letters.end());
	return letters;
}

} // namespace maild
