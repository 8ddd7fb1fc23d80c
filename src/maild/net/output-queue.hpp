// The bytes a connection still has to write: appended at the back, written from the front.
// Besides append(), a producer can take room at the back (reserve), fill it in place and keep
// what it wrote (commit): a message converted to CRLF on the way out is then copied once, from
// the file into the queue, instead of into a scratch string first. The buffer is not zeroed
// when it grows, which std::string::resize would do for every reserve.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

namespace maild {

class OutputQueue {
public:
	std::size_t size() const { return end_ - begin_; }
	bool empty() const { return begin_ == end_; }
	// The unwritten bytes, oldest first.
	std::string_view front() const { return {buf_.get() + begin_, end_ - begin_}; }

	void append(std::string_view data);
	// Room for `n` bytes after the queued ones, valid until the next call on the queue; only the
	// first bytes written there that commit() names join the queue.
	char *reserve(std::size_t n);
	void commit(std::size_t n) { end_ += n; }
	// The first `n` bytes were written.
	void consume(std::size_t n);
	// Drops everything; the memory stays for the next use.
	void clear() { begin_ = end_ = 0; }

private:
	std::unique_ptr<char[]> buf_;
	std::size_t cap_ = 0;
	std::size_t begin_ = 0, end_ = 0;
};

} // namespace maild
