#include "mail/message-id.hpp"

#include "mail/header.hpp"

namespace maild {

std::vector<std::string> message_ids(std::string_view value)
{
	std::vector<std::string> out;
	// A References field naming thousands of identifiers would cost as much to thread as that
	// many messages: the newest ones (at the end) are the ones that matter, and this many is
	// far more than any real conversation.
	constexpr std::size_t max_ids = 1000;
	for (std::size_t open = value.find('<'); open != std::string_view::npos; open = value.find('<', open + 1)) {
		std::size_t close = value.find_first_of("<>", open + 1);
		if (close == std::string_view::npos)
			break;
		if (value[close] == '<') // "<a <b@c>": the first '<' opened nothing
			continue;
		std::string id;
		for (char c : value.substr(open + 1, close - open - 1)) {
			if (!is_wsp(c) && c != '\r' && c != '\n')
				id += c;
		}
		if (id.find('@') != std::string::npos && id.front() != '@' && id.back() != '@')
			out.push_back(std::move(id));
		open = close;
	}
	if (out.size() > max_ids)
		out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(max_ids));
	return out;
}

} // namespace maild
