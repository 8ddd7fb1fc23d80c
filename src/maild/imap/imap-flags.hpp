// IMAP flags <-> the letters a Maildir file name carries after ":2,": the system flags are
// the Maildir standard's (D \Draft, F \Flagged, R \Answered, S \Seen, T \Deleted); keywords
// are a-z, named by the mailbox's maild-keywords file (maildir.hpp). \Recent is never stored:
// it belongs to one session (RFC 3501 2.3.2).
#pragma once

#include "storage/maildir.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace maild {

// "(\Seen $Junk)" style list, without the parentheses: letters in IMAP form, then \Recent.
std::string imap_flag_list(std::string_view letters, const Keywords &keywords, bool recent);

// The flags every mailbox knows, for FLAGS and PERMANENTFLAGS (plus the mailbox's keywords).
std::string imap_system_flags();

// A valid keyword: an atom without the characters RFC 3501 forbids in flag-keyword.
bool valid_keyword(std::string_view name);

// Letters for an IMAP flag list. Unknown keywords get a letter when `create` (STORE, APPEND),
// saved in `dir`'s keyword file; \Recent is ignored. Nothing, with `error`, for an unknown
// system flag or an invalid keyword (the client's mistake: `error` has no response code, the
// reply is BAD), or with `error` starting with a response code for a NO: "[LIMIT]" when all 26
// keywords are taken, "[OVERQUOTA]" when the keyword file could not be written for lack of
// space (ENOSPC, EDQUOT), "[SERVERBUG]" for any other write failure.
std::optional<std::string> letters_for_flags(const std::vector<std::string> &flags, Keywords &keywords,
					     const std::string &dir, bool create, std::string &error);

} // namespace maild
