// What a FETCH in progress holds (imap-fetch.cpp).
#pragma once

#include "imap-session.hpp"
#include "message-bytes.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace maild {

struct ImapSession::FetchJob {
	FetchJob() = default;
	~FetchJob();
	FetchJob(const FetchJob &) = delete;
	FetchJob &operator=(const FetchJob &) = delete;

	ImapCommand cmd;
	std::vector<std::size_t> indexes; // view indexes still to answer, in order
	std::size_t next = 0;
	bool missing = false; // some message was expunged by another session meanwhile

	// The reply for the current message: text, and ranges of the file's bytes that are sent
	// with CRLF line ends, from `skip` converted bytes on, at most `limit` of them.
	struct Piece {
		std::string text;
		bool is_range = false;
		std::string_view range;
		std::uint64_t skip = 0;
		std::uint64_t limit = 0;
	};
	std::vector<Piece> pieces;
	std::size_t piece = 0;
	std::size_t range_pos = 0;       // raw bytes of the current range consumed
	bool last_cr = false;
	std::uint64_t converted = 0;     // converted bytes of the current range produced so far
	MessageBytes file;               // the current message; its read buffer serves them all
	// The mailbox's cur/, opened once per FETCH: each message is then opened by its name in
	// it, without a lookup of the whole path. -2: not tried yet; -1: failed, full paths are used.
	int cur_fd = -2;
};

} // namespace maild
