// An owned file descriptor, and whole reads and writes: what every layer of maild uses instead of
// raw ints and hand-written EINTR loops.
// Failures follow base/error.hpp: false (or -1 where a system call's shape is kept) with errno.
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <utility>

namespace maild {

class Fd {
public:
	Fd() = default;
	explicit Fd(int fd) : fd_(fd) {}
	Fd(Fd &&o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
	Fd &operator=(Fd &&o) noexcept
	{
		if (this != &o)
			reset(std::exchange(o.fd_, -1));
		return *this;
	}
	Fd(const Fd &) = delete;
	Fd &operator=(const Fd &) = delete;
	~Fd() { reset(); }

	int get() const { return fd_; }
	explicit operator bool() const { return fd_ >= 0; }
	// Gives the descriptor up without closing it.
	int release() { return std::exchange(fd_, -1); }
	// Closes the one held (errors ignored and errno kept: the caller that cares calls close()
	// itself) and holds `fd` instead.
	void reset(int fd = -1);
	// Closes it now; false with errno when close() reports an error (a write-back failure).
	bool close();

private:
	int fd_ = -1;
};

// All of `data`, retrying after EINTR and short writes; false with errno (ENOSPC, EIO, ...).
bool write_full(int fd, std::string_view data);
// Up to `size` bytes, retrying after EINTR and short reads; the count read (less only at end of
// file), or -1 with errno.
ssize_t read_full(int fd, void *buf, std::size_t size);
// Appends the rest of the file to `out`; false with errno on a read error, or EFBIG (with what
// came before the limit appended) when it holds more than `limit` bytes.
bool read_to_end(int fd, std::string &out, std::size_t limit = std::numeric_limits<std::size_t>::max());

} // namespace maild
