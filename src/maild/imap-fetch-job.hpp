// What a FETCH in progress holds (imap-fetch.cpp), and a message file mapped for reading.
#pragma once

#include "imap-session.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace maild {

// A message file mapped read-only: sections and searches look at it in place, and the kernel
// pages it in and out, so a large message never sits in the heap.
class MappedFile {
public:
	MappedFile() = default;
	~MappedFile() { unmap(); }
	MappedFile(const MappedFile &) = delete;
	MappedFile &operator=(const MappedFile &) = delete;

	// False with errno set (ENOENT: renamed or expunged meanwhile).
	bool open(const std::string &path);
	void unmap();
	std::string_view data() const { return {static_cast<const char *>(addr_), size_}; }
	std::int64_t mtime() const { return mtime_; }

private:
	void *addr_ = nullptr;
	std::size_t size_ = 0;
	std::int64_t mtime_ = 0;
};

struct ImapSession::FetchJob {
	ImapCommand cmd;
	std::vector<std::size_t> indexes; // view indexes still to answer, in order
	std::size_t next = 0;
	bool missing = false; // some message was expunged by another session meanwhile

	// The reply for the current message: text, and ranges of the mapped file that are sent
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
	std::string chunk;               // the current range's converted bytes
	MappedFile file;
};

} // namespace maild
