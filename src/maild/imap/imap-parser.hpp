// The IMAP4rev1 command parser (RFC 3501 section 9, plus LITERAL+ RFC 7888, SASL-IR RFC 4959,
// UIDPLUS's UID EXPUNGE RFC 4315, IDLE, NAMESPACE, UNSELECT). Pure functions from bytes to a
// command, so the session stays about state and the grammar can be unit-tested and fuzzed alone.
// The parser is strict (one SP between tokens, nothing trailing) and bounded: no input makes it
// crash, loop, recurse without limit or allocate more than a small multiple of its input.
#pragma once

// The parser's users (the session, the tests) also read dates, match LIST patterns, check
// mailbox names and quote strings:
#include "imap/imap-date.hpp"
#include "imap/imap-list-match.hpp"
#include "imap/imap-mutf7.hpp"
#include "imap/imap-quote.hpp"
#include "imap/imap-sort.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace maild {

// Sequence sets: "1:3,5,7:*". 0 stands for '*' in a range end.
struct SeqRange {
	std::uint32_t first = 0, last = 0; // as written; first may exceed last
};
struct SequenceSet {
	std::vector<SeqRange> ranges;
	// "$": the messages the last SEARCH ... RETURN (SAVE) found (RFC 5182); ranges is empty,
	// the session resolves it.
	bool saved = false;
	// Is n in the set, when '*' means `star` (the largest number in use: message count or max UID)?
	bool contains(std::uint32_t n, std::uint32_t star) const;
};
// Numbers are nz-number (1..4294967295, no leading zero); nothing for anything else.
std::optional<SequenceSet> parse_sequence_set(std::string_view s);
// "1,3:5" from numbers in the order given, ranges where they run on (COPYUID, ESEARCH ALL).
std::string sequence_set_text(const std::vector<std::uint32_t> &numbers);

enum class SectionText { none, header, header_fields, header_fields_not, text, mime };
struct FetchAtt {
	enum class Kind {
		uid, flags, internaldate, rfc822_size, rfc822, rfc822_header, rfc822_text, envelope,
		body /* plain BODY, non-extensible structure */, bodystructure, body_section,
		binary /* BINARY[part], RFC 3516 */, binary_size /* BINARY.SIZE[part] */,
		modseq /* MODSEQ, RFC 7162 3.1.4 */
	};
	Kind kind = Kind::uid;
	bool peek = false;               // BODY.PEEK[...], BINARY.PEEK[...]
	std::vector<std::uint32_t> part; // "1.2" -> {1,2}; empty for the top level
	SectionText text = SectionText::none;
	std::vector<std::string> fields; // HEADER.FIELDS (A B): upper-cased
	bool partial = false;            // <origin.count>
	std::uint64_t origin = 0, count = 0;
	// The name a FETCH response uses: "BODY[HEADER.FIELDS (MESSAGE-ID)]", "BODY[1.2.MIME]",
	// "BODY[]<100>" (partial: origin only), "RFC822.SIZE", "UID"... Always upper-case (mbsync
	// matches case-sensitively). BODY.PEEK answers as BODY, BINARY.PEEK as BINARY.
	std::string response_name() const;
};

struct SearchKey {
	enum class Op {
		all, answered, deleted, draft, flagged, seen, recent, new_, old,
		unanswered, undeleted, undraft, unflagged, unseen, keyword, unkeyword,
		larger, smaller, since, before, on, sentsince, sentbefore, senton,
		header, from, to, cc, bcc, subject, body, text,
		not_, or_, and_, // children: not_ 1, or_ 2, and_ any number (a parenthesised list or the top level)
		sequence, uid,
		modseq, // RFC 7162 3.1.5: the message's modseq is at least `number` (any entry name)
		nothing // matches no message: what an empty "$" becomes (the parser never makes it)
	};
	Op op = Op::all;
	std::string str;          // keyword, search string; for header: the field name, upper-cased
	std::string value;        // header: the string to find
	std::uint64_t number = 0; // larger/smaller/modseq
	std::int64_t day = 0;     // since/before/on/sent*: days since 1970-01-01 of the given date
	                          // (dd-Mon-yyyy, 1 or 2 digit day, quoted or not)
	SequenceSet set;          // sequence / uid
	std::vector<SearchKey> children;
};

// Whether MODSEQ is among the criteria: then SEARCH and SORT end in the highest modseq of what
// they return (RFC 7162 3.1.5).
inline bool has_modseq_key(const SearchKey &key)
{
	if (key.op == SearchKey::Op::modseq)
		return true;
	for (const auto &child : key.children)
		if (has_modseq_key(child))
			return true;
	return false;
}

// How deep search keys may nest: every parenthesis, NOT and OR is one level. Deeper -> error, so
// neither the parser nor the session's evaluation can run out of stack.
inline constexpr int max_search_depth = 64;

enum class ImapVerb {
	unknown, capability, noop, logout, starttls, login, authenticate, namespace_,
	list, lsub, status, select, examine, create, delete_, rename, subscribe, unsubscribe, append,
	check, close, unselect, expunge, search, fetch, store, copy, idle,
	move /* RFC 6851 */, id /* RFC 2971 */, enable /* RFC 5161 */,
	sort /* RFC 5256 */, thread /* RFC 5256 */,
	cancelupdate, /* RFC 5267 */
	compress, /* RFC 4978 */
	notify /* RFC 5465 */
};

// SELECT/EXAMINE's QRESYNC parameter (RFC 7162 3.2.5).
struct QresyncParams {
	std::uint32_t uidvalidity = 0;
	std::uint64_t modseq = 0;
	std::optional<SequenceSet> known_uids;
	std::optional<SequenceSet> known_seqs, known_seq_uids; // seq-match-data
};
// NOTIFY SET / NOTIFY NONE (RFC 5465), as parsed (imap-parser-notify.cpp); which combinations
// of events are allowed is the session's to check (imap-notify.cpp).
struct NotifyGroup {
	enum class Filter { selected, selected_delayed, inboxes, personal, subscribed, subtree, mailboxes };
	enum Event : unsigned {
		message_new = 1, message_expunge = 2, flag_change = 4, annotation_change = 8,
		mailbox_name = 16, subscription_change = 32, mailbox_metadata_change = 64,
		server_metadata_change = 128
	};
	Filter filter = Filter::selected;
	std::vector<std::string> mailboxes; // SUBTREE, MAILBOXES
	unsigned events = 0;                // Event bits; 0 for NONE
	std::vector<FetchAtt> new_fetch;    // MessageNew (fetch-att ...)
	bool new_fetch_given = false;
	std::vector<std::string> unknown_events; // event-ext atoms, as written
};
struct NotifyParams {
	bool none = false;   // NOTIFY NONE
	bool status = false; // NOTIFY SET STATUS
	std::vector<NotifyGroup> groups;
};
enum class ThreadAlgorithm : std::uint8_t { orderedsubject, references, refs /* draft-ietf-morg-inthread */ };

struct ImapCommand {
	std::string tag;
	ImapVerb verb = ImapVerb::unknown;
	bool uid = false;              // UID FETCH/STORE/COPY/MOVE/SEARCH/EXPUNGE/SORT/THREAD
	std::vector<std::string> args; // astrings/strings, decoded (quotes and literals resolved), in order:
		// login: user, password; authenticate: mechanism (upper-cased) [, initial response as
		// sent: base64 or "=" for an empty one]; list/lsub: reference, pattern;
		// status: mailbox (items in status_items); select/examine/create/delete/subscribe/unsubscribe: mailbox;
		// rename: from, to; append: mailbox; copy, move: mailbox; id: field, value, field, value...
		// (a NIL value as an empty string; ID NIL: none); enable: the capability names, upper-cased;
		// compress: the mechanism, upper-cased.
		// A mailbox argument (not LIST's reference or pattern) that is "inbox" in any case is
		// given as "INBOX", since INBOX is case-insensitive (RFC 3501 5.1).
	std::vector<std::string> status_items; // upper-cased: MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN
	                                       // HIGHESTMODSEQ
	                                       // (STATUS, and LIST's RETURN (STATUS (...)))
	// LIST-EXTENDED (RFC 5258): selection and return options, and every pattern (args[1] is the
	// first). SPECIAL-USE is RFC 6154's, STATUS RFC 5819's.
	enum ListOption : unsigned {
		list_subscribed = 1, list_remote = 2, list_recursivematch = 4, list_special_use = 8,
		list_children = 16, list_status = 32
	};
	unsigned list_select = 0, list_return = 0;
	std::vector<std::string> list_patterns;
	SequenceSet set;                       // fetch/store/copy/move/uid expunge
	std::vector<FetchAtt> fetch;           // macros ALL/FAST/FULL expanded; a single item or a list
	SearchKey search;                      // op and_ at the top
	std::string charset;                   // SEARCH CHARSET x (upper-cased); empty when absent;
	                                       // SORT's and THREAD's charset (never empty)
	std::vector<SortCriterion> sort_criteria;                      // SORT: at least one
	ThreadAlgorithm thread_algorithm = ThreadAlgorithm::references; // THREAD
	// SEARCH and SORT RETURN (...) (ESEARCH RFC 4731, SAVE RFC 5182, ESORT and CONTEXT RFC
	// 5267): which results; `RETURN ()` is ALL.
	enum SearchReturn : unsigned {
		ret_min = 1, ret_max = 2, ret_all = 4, ret_count = 8, ret_save = 16,
		ret_partial = 32, ret_update = 64, ret_context = 128
	};
	bool search_return_given = false;
	unsigned search_return = 0;
	// PARTIAL's range as written: 1-based positions in the result, both negative when counted
	// from its end (RFC 9394: -1 is the last result); never 0.
	std::int64_t partial_first = 0, partial_last = 0;
	enum class StoreMode { replace, add, remove } store_mode = StoreMode::replace;
	bool silent = false;                        // FLAGS.SILENT
	std::vector<std::string> flags;             // store / append flags, as written ("\Seen", "$Junk")
	std::optional<std::int64_t> internal_date; // append date-time, as Unix time (zone applied)
	std::uint64_t literal_size = 0;             // append: the message literal's size
	bool literal_binary = false;                // append: the message came as a literal8 ~{n}
	// APPEND: every message in order (more than one with MULTIAPPEND, RFC 3502); flags,
	// internal_date, literal_size and literal_binary above repeat the first one's.
	struct AppendMessage {
		std::vector<std::string> flags;
		std::optional<std::int64_t> internal_date;
		std::uint64_t size = 0;
		bool binary = false;
		// CATENATE (RFC 4469): the message is built from these parts instead of one literal.
		// A TEXT part's literal is cut out of the text like a message literal; `open` when the
		// text ends right after one (the list goes on after its bytes).
		struct CatPart {
			bool url = false;
			std::string text; // the URL, decoded from its astring
			std::uint64_t size = 0;
			bool binary = false; // TEXT ~{n} (RFC 3516 literal8)
		};
		bool catenate = false;
		bool open = false;
		std::vector<CatPart> parts;
	};
	std::vector<AppendMessage> append_messages;
	// CONDSTORE and QRESYNC (RFC 7162), as modifiers of SELECT/EXAMINE, FETCH and STORE.
	// Modseqs are 63-bit: 0 only where the grammar has mod-sequence-valzer.
	using Qresync = QresyncParams;
	bool select_condstore = false;              // SELECT/EXAMINE mailbox (CONDSTORE)
	std::optional<Qresync> qresync;             // SELECT/EXAMINE mailbox (QRESYNC (...))
	std::optional<std::uint64_t> changedsince;   // FETCH ... (CHANGEDSINCE n)
	bool vanished = false;                       // UID FETCH ... (CHANGEDSINCE n VANISHED)
	std::optional<std::uint64_t> unchangedsince; // STORE set (UNCHANGEDSINCE n) ...
	NotifyParams notify;                         // NOTIFY
	const char *error = nullptr; // set when the command is malformed: a short reply text for
	                             // "tag BAD <error>"; never holds client bytes
};

// Parses one complete command. `text` is the command line with any literals inline, exactly as
// sent: "a1 LOGIN {5}\r\nalice {4+}\r\npass" (the CRLF after a literal spec, then n bytes).
// The final CRLF of the command is NOT in text. For APPEND the message literals are NOT inline:
// each message literal's "{n}" or "{n+}" spec is followed directly by the rest of the line after
// its bytes (the session streamed the bytes to a file), so the text ends right after the last
// spec; the parser records the sizes (append_messages). Anything trailing -> error.
// Quoted strings take \" and \\ escapes only; 8-bit bytes in them are accepted (clients send UTF-8
// passwords that way), CR, LF and NUL are not. Literals may hold any byte but NUL (CHAR8).
// A tag is 1+ ASTRING-CHARs except '+'; no tag (or an invalid one) -> tag empty and error set.
// Verb keywords and the UID prefix are case-insensitive. Unknown verb -> verb unknown (no error
// needed); UID before anything but FETCH/STORE/COPY/MOVE/SEARCH/EXPUNGE/SORT/THREAD -> verb unknown and error.
// CANCELUPDATE's tags (RFC 5267 4.3.5, quoted strings) are in args.
ImapCommand parse_imap_command(std::string_view text);

// If `line` (one line, no CRLF) ends in a literal spec "{n}" or "{n+}", its size and whether it is
// non-synchronizing (LITERAL+), and whether it is a literal8 "~{n}" (RFC 3516: only APPEND's
// message may be one). Sizes that overflow uint64 -> nothing (the session treats as a bad command).
struct LiteralSpec {
	std::uint64_t size = 0;
	bool non_sync = false;
	bool binary = false;
};
std::optional<LiteralSpec> literal_at_end(std::string_view line);

// True when `text` (the command so far, literals inline, ending in a literal spec) is an APPEND
// whose literal that ends it is a message: tag SP APPEND SP mailbox [SP flag-list] [SP date-time] SP {n}
// (or ~{n}), and for MULTIAPPEND any number of further " [flag-list SP] [date-time SP] {n}"; or
// the literal of a CATENATE TEXT part.
// (A literal used for the mailbox name itself is not the message.) Exactly when
// parse_imap_command(text) would accept it as an APPEND: a malformed APPEND gives false.
bool is_append_message_literal(std::string_view text);

} // namespace maild
