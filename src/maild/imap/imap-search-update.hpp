// What SEARCH and SORT answer in an ESEARCH response (RFC 4731, ESORT and PARTIAL from RFC 5267
// 3 and 4.4, negative PARTIAL ranges from RFC 9394), and the live results RETURN (UPDATE) keeps
// (RFC 5267 4.3: ADDTO and REMOVEFROM as the mailbox changes). The pure parts are here; the
// session keeps its contexts and reports their changes (imap-search-update.cpp).
#pragma once

#include "imap/imap-parser.hpp"
#include "imap/imap-sort.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace maild {

// The result positions [begin, end) (0-based) that PARTIAL first:last names in a result of n:
// "1:500" and "500:1" the first 500, "-1:-10" the last ten. Empty where the range lies beyond.
std::pair<std::size_t, std::size_t> partial_window(std::int64_t first, std::int64_t last, std::size_t n);

// Which results of `n` an ESEARCH reply names, for SAVE (RFC 5182 2.4) and for the MODSEQ item
// (RFC 7162 3.1.5): all of them with ALL, COUNT or no result option, else only those MIN, MAX and
// PARTIAL name.
std::vector<bool> esearch_named(const ImapCommand &cmd, std::size_t n);

// The return data after "ESEARCH (TAG ..) [UID]" for `result`, in its order: for SORT that is
// the sort order, so MIN and MAX are its first and last (RFC 5267 3.1) and ALL lists it as it
// is, with ranges only where numbers rise by one (3.2). RETURN with no result option is ALL.
std::string esearch_data(const ImapCommand &cmd, const std::vector<std::uint32_t> &result);

// A search kept alive by RETURN (UPDATE): its key, and its result as UIDs in result order
// (ascending for SEARCH, the sort order for SORT). Bounded: max_search_contexts per session,
// max_context_results UIDs in each; past that the context ends with NO [NOUPDATE].
struct SearchContext {
	std::string tag;
	bool sort = false;
	std::vector<SortCriterion> criteria;
	SearchKey key;
	bool reads_flags = false; // the key looks at flags or modseqs: a flag change can change the result
	std::vector<std::uint32_t> uids;
	std::vector<std::shared_ptr<const SortFields>> fields; // SORT: the keys of uids[i]
	std::uint32_t seen_uid = 0;    // every message up to this UID has been looked at
	std::uint64_t seen_modseq = 0; // and every flag change up to this modseq
	std::size_t view_size = 0;     // the view's size then: fewer now means expunges
};

inline constexpr std::size_t max_search_contexts = 16;
inline constexpr std::size_t max_context_results = 10000;

// Whether the result of `key` may change with a message's flags (or modseq).
bool key_reads_flags(const SearchKey &key);

// Where a message with `fields` and `uid` goes in a SORT context's result: before the first
// entry it sorts ahead of (ties by UID, which is mailbox order).
std::size_t sort_position(const SearchContext &ctx, const SortFields &fields, std::uint32_t uid);

// One change to a context's result, at a 1-based position of the result as it is when the
// change applies (RFC 5267 4.3.2: changes apply in order).
struct ContextChange {
	std::size_t position;
	std::uint32_t uid;
};
// "REMOVEFROM (...)" or "ADDTO (...)" for `changes`: a SEARCH's with position 0 and the UIDs as
// one ascending set (4.3.3 and 4.3.4 allow it and recommend mailbox order), a SORT's one
// position and UID each.
std::string context_changes_text(const char *name, bool sort, const std::vector<ContextChange> &changes);

} // namespace maild
