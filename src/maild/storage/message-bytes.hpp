// A message file's bytes for FETCH and SEARCH to look at in place. Small files (most mail) are
// read with one read() into a buffer this object keeps for the next message: cheaper than a
// mapping, whose mmap, page faults and munmap (with its TLB flush) cost more than copying a few
// pages. Files over read_limit are mapped instead, so a large message never sits in the heap and
// the buffer never grows past read_limit, however many messages go through it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace maild {

class MessageBytes {
public:
	static constexpr std::size_t read_limit = 128 * 1024;

	MessageBytes() = default;
	~MessageBytes() { release(); }
	MessageBytes(const MessageBytes &) = delete;
	MessageBytes &operator=(const MessageBytes &) = delete;

	// Loads `name`, relative to the directory dir_fd (or AT_FDCWD for a path). False with errno
	// set (ENOENT: renamed or expunged meanwhile), and then data() is empty.
	bool open(int dir_fd, const std::string &name);
	// The same for a caller that knows the file holds at most `bound` bytes (a message's CRLF
	// size, which its raw size never exceeds) and does not want mtime(): read() into a buffer of
	// bound + 1 bytes, no fstat. When a read stops short at `size_hint` (the size the file's name
	// gives) that is the end; else one more read() sees it. A file found longer than the bound
	// (rewritten since it was sized) is loaded as open() loads it. For a FETCH of a message
	// whose name has its size, two system calls of four are saved.
	bool open_bounded(int dir_fd, const std::string &name, std::uint64_t bound,
			  std::optional<std::uint64_t> size_hint = std::nullopt);
	// Forgets the current file; the read buffer stays for the next one.
	void release();
	// Never a null pointer, even for an empty file: the parsers hand it to memchr and memcpy.
	std::string_view data() const { return {data_ != nullptr ? data_ : "", size_}; }
	// Only after open(): open_bounded() leaves it 0.
	std::int64_t mtime() const { return mtime_; }

private:
	bool load(int fd);
	bool read_all(int fd, std::size_t size);
	void reserve(std::size_t size);

	const char *data_ = nullptr;
	std::size_t size_ = 0;
	std::int64_t mtime_ = 0;
	void *map_ = nullptr; // when mapped: data_, size_
	std::unique_ptr<char[]> buf_;
	std::size_t buf_cap_ = 0;
};

} // namespace maild
