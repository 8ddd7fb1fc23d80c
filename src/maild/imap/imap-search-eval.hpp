// What SEARCH does to its keys once per command (imap-selected.cpp), for the other commands that
// choose messages with them: SORT and THREAD. The messages themselves are walked by
// ImapSession::search_slice.
#pragma once

#include "imap/imap-parser.hpp"
#include "storage/maildir.hpp"

#include <cstdint>
#include <vector>

namespace maild {

// Keywords named become the mailbox's letters; "$" becomes the saved UIDs. Once per command.
void resolve_search_keys(SearchKey &key, const Keywords &keywords, const std::vector<std::uint32_t> &saved);

} // namespace maild
