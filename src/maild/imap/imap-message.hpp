// The message structure IMAP's FETCH and SEARCH need (RFC 3501 6.4.4, 6.4.5, 7.4.2): ENVELOPE,
// BODY and BODYSTRUCTURE, BODY[section] ranges, header lookups and the Date: header as a time.
// The parsing is mail/'s (header.hpp, mime.hpp, address.hpp, date.hpp); the IMAP forms are
// written by imap-envelope.cpp and imap-bodystructure.cpp. Pure: it reads one stored message (a
// view of the whole file, LF or CRLF line ends, even mixed) and never touches the mailbox, so it
// can be unit-tested and fuzzed alone.
//
// IMAP counts in CRLF form, so every size, line count and range here is that of the message once
// each bare LF is CRLF; ranges are views of the stored bytes, which the session converts while
// sending (crlf.hpp). Hostile input degrades instead of failing: MIME nesting is cut at
// max_mime_depth and the part count at max_mime_parts (deeper or further composite parts become
// opaque application/octet-stream leaves), and all parsing is linear in the size times that depth.
#pragma once

#include "mail/crlf.hpp"
#include "mail/date.hpp" // MessageDate, parse_message_date: part of this API
#include "mail/mime.hpp"
#include "mail/transfer-encoding.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace maild {

enum class SectionPart { whole /* BODY[] or BODY[1.2] */, header, header_fields, header_fields_not, text, mime };

// What a section resolves to: either a range of the raw message (sent CRLF-converted, possibly
// big: the session streams it) or a small synthesized text (already CRLF, e.g. filtered header fields).
struct SectionData {
	bool is_range = true;
	std::string_view range; // a sub-view of raw
	std::string text;       // when !is_range
};

// What BINARY[section] (RFC 3516) decodes: a range of the raw message and its encoding.
struct BinarySection {
	std::string_view range;
	TransferEncoding encoding = TransferEncoding::identity;
};

class ImapMessage {
public:
	// Limits that keep hostile messages cheap; past them composite parts become opaque leaves.
	static constexpr unsigned max_mime_depth = maild::max_mime_depth;
	static constexpr std::size_t max_mime_parts = maild::max_mime_parts;

	// Parses header and MIME tree; never fails (malformed input degrades to text/plain).
	// `raw` must outlive the object: everything returned refers into it.
	explicit ImapMessage(std::string_view raw);
	~ImapMessage();
	ImapMessage(ImapMessage &&) noexcept;
	ImapMessage &operator=(ImapMessage &&) noexcept;

	// "(date subject from sender reply-to to cc bcc in-reply-to message-id)" per RFC 3501 7.4.2;
	// sender and reply-to default to from; addresses as ((name adl mailbox host) ...), groups per
	// RFC 3501; NIL for absent. Strings quoted with IMAP rules (a literal {n}\r\n if they hold
	// CR, LF or 8-bit bytes); header values unfolded, not MIME-decoded. An address list longer
	// than 10,000 entries is cut there (hostile headers would otherwise grow tenfold).
	std::string envelope() const;
	// BODYSTRUCTURE (extensible = true: with extension data md5, disposition, language, location)
	// or BODY (extensible = false). Multipart nested recursively, message/rfc822 with envelope,
	// body and lines, text/* with line count. Default content type text/plain; charset us-ascii
	// (message/rfc822 inside multipart/digest). Sizes and lines in CRLF terms.
	std::string bodystructure(bool extensible) const;
	// part: {} = the message, {1,2} = part 1.2 (RFC 3501 6.4.5 numbering; a non-multipart message
	// has part 1 = its body; parts of a message/rfc822 part number its inner message's parts).
	// fields: names for HEADER.FIELDS[.NOT] (compared case-insensitively).
	// Nothing when the part does not exist, or for HEADER/TEXT of a part that is not
	// message/rfc822, or for MIME without a part number.
	// header_fields[_not]: the matching field lines (with their continuation lines), in message
	// order, then an empty line; header: the header with its blank line (a message without a
	// blank line has none, so HEADER + TEXT is always the whole message); text: the body after the
	// blank line; mime: the part's MIME header (with blank line); whole for a part: its body (for
	// a message/rfc822 part: the whole inner message).
	std::optional<SectionData> section(const std::vector<std::uint32_t> &part, SectionPart what,
					   const std::vector<std::string> &fields) const;
	// BINARY[part]: the part's body (as section(part, whole) gives it) with the part's own
	// Content-Transfer-Encoding. {} is the whole message as stored: a message as a whole has no
	// transfer encoding, only its body has. A multipart or message/rfc822 part may only be
	// 7bit, 8bit or binary (RFC 2045 6.4, RFC 2046 5.2.1), so it comes out as it is stored;
	// one labelled otherwise is decoded like any leaf. Nothing when the part does not exist.
	std::optional<BinarySection> binary_section(const std::vector<std::uint32_t> &part) const;
	// The first top-level header field named `name` (case-insensitive), unfolded, without the name,
	// the colon and the white space after it; nothing if absent.
	std::optional<std::string> header_value(std::string_view name) const;
	// Calls fn with each top-level field named `name`, unfolded as header_value() gives it, in
	// message order, until fn returns true; true when one did (a repeated field is searched whole).
	bool any_header_value(std::string_view name, const std::function<bool(const std::string &)> &fn) const;
	// The Date: header as Unix time; nothing if absent or unparseable.
	std::optional<std::int64_t> date() const;
	// The Date: header with its zone (for SEARCH SENT*); nothing if absent or unparseable.
	std::optional<MessageDate> date_with_zone() const;
	std::string_view header() const; // raw top-level header (with its blank line)
	std::string_view body() const;   // raw top-level body

	using Part = MimePart; // one MIME entity (mail/mime.hpp)

private:
	std::string_view raw_;
	std::unique_ptr<Part> root_;
};

} // namespace maild
