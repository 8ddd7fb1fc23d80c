#include "base/fd.hpp"

#include <cerrno>
#include <unistd.h>

namespace maild {

void Fd::reset(int fd)
{
	if (fd_ >= 0)
		::close(fd_);
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

} // namespace maild
