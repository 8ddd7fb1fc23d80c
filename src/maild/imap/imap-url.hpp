// IMAP URLs (RFC 5092) as CATENATE (RFC 4469) names a message or a part of one: the forms that
// point at one message of the server, without URLAUTH (RFC 4467). Pure, so the grammar can be
// unit-tested and fuzzed alone; the session resolves what it gives against the store.
//
// Accepted:
//   imap://[user[;AUTH=x]@]host[:port]/mailbox[;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]
//   /mailbox[;UIDVALIDITY=n]/;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]   (absolute path)
//   ;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]                            (the selected mailbox's)
// Parameter names are case-insensitive. The mailbox is percent-decoded UTF-8 (RFC 5092 3.2),
// given back in modified UTF-7 as IMAP names it; the section is percent-decoded and parsed by
// FETCH's grammar (BODY[section]). Anything else (;URLAUTH=, ;EXPIRE=, a message list, a
// search, a relative path naming a sibling mailbox, bad percent escapes) is not accepted.
#pragma once

#include "imap/imap-parser.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace maild {

struct ImapUrl {
	bool absolute = false; // "imap://...": only with a user (without one it means anonymous access)
	bool has_user = false;
	std::string user;      // percent-decoded
	bool selected = false; // ";UID=..." alone: relative to the selected mailbox
	std::string mailbox;   // modified UTF-7, "INBOX" in any case as "INBOX"; empty when `selected`
	std::optional<std::uint32_t> uidvalidity;
	std::uint32_t uid = 0;
	// The section as FETCH BODY[section] has it: part numbers, HEADER / TEXT / MIME /
	// HEADER.FIELDS[.NOT] with their fields. No section: the whole message.
	std::vector<std::uint32_t> part;
	SectionText text = SectionText::none;
	std::vector<std::string> fields;
	bool partial = false;
	std::uint64_t origin = 0;
	std::optional<std::uint64_t> length; // ;PARTIAL=o without .l: to the end
};

// Nothing when `url` is not one of the forms above.
std::optional<ImapUrl> parse_imap_url(std::string_view url);

// `url` as a BADURL response code may carry it (RFC 4469 5, url-resp-text: no CTL, no ']'):
// bytes outside printable ASCII and ']' percent-encoded.
std::string url_resp_text(std::string_view url);

} // namespace maild
