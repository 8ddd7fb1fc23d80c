// RFC 5322 address lists (3.4), with the obsolete forms of 4.4 tolerated: mailboxes with or
// without angle brackets, groups, routes, comments naming an address, missing '>' or domain.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace maild {

// One address, or a group marker: a group starts with an address whose host is nothing and whose
// mailbox is the group name, and ends with an address of all nothing (RFC 3501 7.4.2's form).
struct MailAddress {
	std::optional<std::string> name;    // display name, or the comment of "user@host (Name)"
	std::optional<std::string> route;   // the obsolete source route of "<@a,@b:user@host>": "@a,@b"
	std::optional<std::string> mailbox; // local part, unquoted
	std::optional<std::string> host;    // domain; empty (not nothing) when the address has none
};

// A header of nothing but "a@b," would make a huge list cheaply; past this many entries (group
// starts included) a list is cut.
constexpr std::size_t max_addresses = 10000;

// Calls emit(address) for each address and group marker of a (folded) address-list value, in
// order; a group left open (unterminated, or cut at the limit) still gets its end marker.
void parse_address_list(std::string_view value, const std::function<void(const MailAddress &)> &emit);

} // namespace maild
