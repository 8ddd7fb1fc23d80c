// What a FETCH in progress holds (imap-fetch.cpp).
#pragma once

#include "imap/imap-message.hpp"
#include "imap/imap-session.hpp"
#include "mail/transfer-encoding.hpp"
#include "storage/message-bytes.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace maild {

// The part of a message a parsed section names (BODY[...] in FETCH, ;SECTION= in a CATENATE URL).
inline SectionPart section_part(SectionText t)
{
	switch (t) {
	case SectionText::header:
		return SectionPart::header;
	case SectionText::header_fields:
		return SectionPart::header_fields;
	case SectionText::header_fields_not:
		return SectionPart::header_fields_not;
	case SectionText::text:
		return SectionPart::text;
	case SectionText::mime:
		return SectionPart::mime;
	case SectionText::none:
		break;
	}
	return SectionPart::whole;
}

struct ImapSession::FetchJob {
	FetchJob() = default;
	~FetchJob();
	FetchJob(const FetchJob &) = delete;
	FetchJob &operator=(const FetchJob &) = delete;

	ImapCommand cmd;
	std::vector<std::size_t> indexes; // view indexes still to answer, in order
	std::size_t next = 0;
	bool missing = false; // some message was expunged by another session meanwhile
	bool wants_mtime = false; // INTERNALDATE is asked for: files are opened with their fstat
	bool unknown_cte = false; // a BINARY part's transfer encoding is unknown: the FETCH fails

	// The message being answered, one attribute at a time: only the attribute being sent is
	// ever held as text, so FETCH n (ENVELOPE ENVELOPE ...) of a huge header holds one envelope.
	bool in_message = false;
	std::size_t index = 0;     // its view index
	std::uint64_t vsize = 0;   // its CRLF size as recorded in the uidlist
	std::string letters;       // its flag letters in the store
	std::uint64_t modseq = 0;  // and its modseq (RFC 7162)
	std::size_t att = 0;       // the next attribute of cmd.fetch to answer
	bool first = true;         // no attribute sent yet
	bool add_flags = false;    // \Seen was set by this FETCH: FLAGS follow the attributes
	// With CONDSTORE, \Seen is set on the next messages of the FETCH a batch at a time, with
	// one uidlist write for their modseqs: the UIDs so marked ahead of their replies.
	std::vector<std::uint32_t> seen_ahead;
	MessageBytes file;         // the current message; its read buffer serves them all
	std::optional<ImapMessage> parsed; // refers into file's bytes
	// The mailbox's cur/, opened once per FETCH: each message is then opened by its name in
	// it, without a lookup of the whole path. -2: not tried yet; -1: failed, full paths are used.
	int cur_fd = -2;

	// Output not yet queued, sent in this order as the queue has room: text (from text_pos on),
	// then a literal of the file's bytes sent with CRLF line ends, from `skip` converted bytes on,
	// at most `limit` of them, then `pad` spaces where the file held less than its literal promised.
	std::string text;
	std::size_t text_pos = 0;
	bool in_range = false;
	std::string_view range;
	std::uint64_t skip = 0;
	std::uint64_t limit = 0;
	std::size_t range_pos = 0;   // raw bytes of the range consumed
	bool last_cr = false;
	std::uint64_t converted = 0; // converted bytes of the range produced so far
	std::uint64_t pad = 0;
	// BINARY: the range is decoded in pieces as it is sent instead of being CRLF-converted.
	std::optional<TransferDecoder> decoder;

	// Queues one attribute of the response.
	void item(std::string_view s);
	// Sends `size` bytes of the range from `from` on (converted, or decoded when decoder is set)
	// after the text queued so far.
	void start_range(std::string_view bytes, std::uint64_t from, std::uint64_t size);
	// Queues a literal attribute: its size now, its bytes after it (straight from the file for
	// a range), `att`'s partial range applied.
	void literal(ImapSession &s, const std::string &name, std::optional<SectionData> data, const FetchAtt *att);
	// BINARY[part]: a literal of the decoded bytes, a literal8 (RFC 3516 4.2) when they hold a
	// NUL. Their size and NUL are found by a decoding pass that keeps nothing; the bytes are
	// decoded again, a chunk at a time, as the queue has room.
	void binary_literal(const std::string &name, const std::optional<BinarySection> &data, const FetchAtt &att);
};

} // namespace maild
