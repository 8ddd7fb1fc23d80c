// SORT's keys and order (RFC 5256 3, RFC 5957 DISPLAYFROM/DISPLAYTO) and what THREAD reads, all
// taken from one message's header in one pass, so a mailbox can keep them per message instead of
// parsing every message again for each SORT or THREAD. Pure: header bytes in, keys out.
#pragma once

#include "imap/imap-thread.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace maild {

enum class SortKind : std::uint8_t { arrival, cc, date, from, size, subject, to, display_from, display_to };

struct SortCriterion {
	SortKind kind = SortKind::arrival;
	bool reverse = false;
};

// The keys of one message. Strings are in i;ascii-casemap form (ASCII upper-cased), the
// collation RFC 5256 3 compares with, so comparing them is a byte comparison.
struct SortFields {
	std::int64_t arrival = 0; // INTERNALDATE
	std::int64_t sent = 0;	  // Date: in UTC; INTERNALDATE when it is missing or unreadable
	std::uint64_t size = 0;	  // RFC822.SIZE
	std::string subject;	  // the base subject (RFC 5256 2.1)
	bool reply_or_forward = false;
	// The local part (addr-mailbox) of the first address of From, To and Cc: "" without one.
	std::string from, to, cc;
	// RFC 5957: the first address's display name with encoded words decoded, or its addr-spec
	// (mailbox@host) when it has none.
	std::string display_from, display_to;
	std::string message_id;		     // for THREAD
	std::vector<std::string> references; // References, or In-Reply-To's first identifier

	// What the fields take in memory, for a cache that has to stay bounded.
	std::size_t footprint() const;
};

SortFields sort_fields(std::string_view header, std::int64_t internal_date, std::uint64_t size);

// Indexes of `messages` in SORT order: by each criterion in turn, then by place (RFC 5256 3: the
// sequence number breaks every tie, and REVERSE does not reverse that).
std::vector<std::size_t> sort_order(const std::vector<const SortFields *> &messages, const std::vector<SortCriterion> &criteria);

// Whether message a (at `place_a` in the mailbox: a sequence number or a UID) comes before b in
// that order.
bool sort_before(const SortFields &a, std::uint32_t place_a, const SortFields &b, std::uint32_t place_b,
		 const std::vector<SortCriterion> &criteria);

// THREAD's view of a message.
ThreadMessage thread_message(const SortFields &f, std::uint32_t id);

} // namespace maild
