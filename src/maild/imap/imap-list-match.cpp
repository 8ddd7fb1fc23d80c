#include "imap/imap-list-match.hpp"

#include <algorithm>
#include <vector>

namespace maild {

bool list_pattern_matches(std::string_view pattern, std::string_view name, char delimiter)
{
	// A set of pattern positions run over the name (an NFA), so patterns like "*a*a*a*b" cost
	// O(pattern * name) rather than backtracking exponentially. reach[i]: pattern[0, i) can
	// match the name read so far.
	std::vector<char> reach(pattern.size() + 1, 0), next(pattern.size() + 1, 0);
	auto close = [&pattern](std::vector<char> &set) {
		// A wildcard may match nothing, so being before it means being after it too.
		for (std::size_t i = 0; i < pattern.size(); i++) {
			if (set[i] && (pattern[i] == '*' || pattern[i] == '%'))
				set[i + 1] = 1;
		}
	};
	reach[0] = 1;
	close(reach);
	for (char ch : name) {
		std::fill(next.begin(), next.end(), 0);
		bool any = false;
		for (std::size_t i = 0; i < pattern.size(); i++) {
			if (!reach[i])
				continue;
			char p = pattern[i];
			if (p == '*' || (p == '%' && ch != delimiter))
				next[i] = 1; // the wildcard takes this character and may take more
			else if (p != '%' && p == ch)
				next[i + 1] = 1;
			else
				continue;
			any = true;
		}
		if (!any)
			return false;
		close(next);
		reach.swap(next);
	}
	return reach[pattern.size()] != 0;
}

} // namespace maild
