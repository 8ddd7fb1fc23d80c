#include "base/fd.hpp"

#include <cerrno>
#include <unistd.h>

namespace maild {

void Fd::reset(int fd)
{
	if (fd_ >= 0) {
		int e = errno;
		::close(fd_);
		errno = e;
	}
	fd_ = fd;
}

bool Fd::close()
{
	int fd = std::exchange(fd_, -1);
	return fd < 0 || ::close(fd) == 0;
}

bool write_full(int fd, std::string_view data)
{
	while (!data.empty()) {
		ssize_t n = ::write(fd, data.data(), data.size());
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO; // a regular file that takes nothing: report it, never spin
			return false;
		}
		data.remove_prefix(static_cast<std::size_t>(n));
	}
	return true;
}

ssize_t read_full(int fd, void *buf, std::size_t size)
{
	auto *p = static_cast<char *>(buf);
	std::size_t got = 0;
	while (got < size) {
		ssize_t n = ::read(fd, p + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += static_cast<std::size_t>(n);
	}
	return static_cast<ssize_t>(got);
}

bool read_to_end(int fd, std::string &out, std::size_t limit)
{
	char buf[65536];
	std::size_t taken = 0;
	for (;;) {
		ssize_t n = read_full(fd, buf, sizeof buf);
		if (n < 0)
			return false;
		if (n == 0)
			return true;
		auto got = static_cast<std::size_t>(n);
		if (got > limit - taken) {
			errno = EFBIG;
			return false;
		}
		taken += got;
		out.append(buf, got);
		if (got < sizeof buf)
			return true; // read_full stops short only at the end: no read more to see it again
	}
}

} // namespace maild
