#include "storage/file-io.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace maild {

bool read_regular_file(const std::string &path, std::string &out, std::size_t limit)
{
	out.clear();
	// O_NONBLOCK: a FIFO planted in the store must not stall the loop in open().
	int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return errno == ENOENT;
	struct stat st {};
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int e = S_ISREG(st.st_mode) ? errno : EINVAL;
		::close(fd);
		errno = e;
		return false;
	}
	char buf[8192];
	for (;;) {
		ssize_t n = ::read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = errno;
			::close(fd);
			errno = e;
			return n == 0;
		}
		if (out.size() + static_cast<std::size_t>(n) > limit) {
			::close(fd);
			errno = EFBIG;
			return false;
		}
		out.append(buf, static_cast<std::size_t>(n));
	}
}

} // namespace maild
