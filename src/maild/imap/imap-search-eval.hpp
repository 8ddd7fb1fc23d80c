// SEARCH's evaluation of search keys (imap-selected.cpp), for the other commands that choose
// messages with them: SORT and THREAD.
#pragma once

#include "imap/imap-parser.hpp"
#include "storage/maildir.hpp"
#include "storage/message-bytes.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace maild {

// One message of the view as the keys see it.
struct SearchCandidate {
	const MessageFile *file = nullptr;
	std::string path;
	std::uint32_t seq = 0;
	bool recent = false;
	std::uint32_t max_seq = 0, max_uid = 0; // what '*' stands for in sequence and UID sets
};

// Keywords named become the mailbox's letters; "$" becomes the saved UIDs. Once per command.
void resolve_search_keys(SearchKey &key, const Keywords &keywords, const std::vector<std::uint32_t> &saved);
// Does `m` match? Reads the file into `bytes` only when a key needs its text.
bool search_matches(const SearchKey &key, const SearchCandidate &m, MessageBytes &bytes);

} // namespace maild
