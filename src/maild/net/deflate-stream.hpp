// Raw deflate (RFC 1951, no zlib or gzip wrapper) for one direction of a connection, as IMAP
// COMPRESS=DEFLATE (RFC 4978) needs it. Built only when zlib is (MAILD_HAVE_ZLIB).
//
// The compressor writes straight into the connection's OutputQueue and keeps a count of what it
// was given since the last sync(), so the connection can count that toward its output bound.
// The decompressor fills at most the room it is given: a few bytes that inflate to a gigabyte
// produce no more than that room per call, and the rest stays in zlib's state and the caller's
// unread input until the caller has room again.
#pragma once

#include "net/output-queue.hpp"

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

struct z_stream_s;

namespace maild {

class Deflater {
public:
	// Throws std::bad_alloc when zlib cannot get its state.
	explicit Deflater(int level = 6);
	~Deflater();
	Deflater(const Deflater &) = delete;
	Deflater &operator=(const Deflater &) = delete;

	// Compresses all of `in` onto the back of `out`; zlib may keep some of it back until sync().
	void write(std::string_view in, OutputQueue &out);
	// Ends the output so far with an empty stored block (Z_SYNC_FLUSH): the peer can inflate
	// every byte written before it. Does nothing when nothing was written since the last one.
	void sync(OutputQueue &out);
	// Bytes given to write() since the last sync().
	std::size_t unsynced() const { return unsynced_; }

private:
	void run(int flush, OutputQueue &out);

	std::unique_ptr<z_stream_s> zs_;
	std::size_t unsynced_ = 0;
};

class Inflater {
public:
	// Throws std::bad_alloc when zlib cannot get its state.
	Inflater();
	~Inflater();
	Inflater(const Inflater &) = delete;
	Inflater &operator=(const Inflater &) = delete;

	struct Result {
		std::size_t consumed = 0; // bytes of `in` used (zlib keeps no pointer into them)
		std::size_t produced = 0; // bytes appended to `out`
		// The room ran out: zlib may hold more output even with no further input.
		bool full = false;
		bool error = false; // not a deflate stream; every later call fails too
	};
	// Inflates from the front of `in`, appending at most `room` bytes to `out`. Input after the
	// end of the deflate stream (a final block) is an error: RFC 4978 has no way to end it.
	Result inflate(std::string_view in, std::string &out, std::size_t room);
	bool failed() const { return failed_; }

private:
	std::unique_ptr<z_stream_s> zs_;
	bool ended_ = false;
	bool failed_ = false;
};

} // namespace maild
