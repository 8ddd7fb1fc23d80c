#include "storage/message-bytes.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace maild {

bool MessageBytes::open(int dir_fd, const std::string &name)
{
	release();
	int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	struct stat st {};
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 0) {
		int e = errno;
		::close(fd);
		errno = e == 0 ? EINVAL : e;
		return false;
	}
	mtime_ = st.st_mtim.tv_sec;
	auto size = static_cast<std::size_t>(st.st_size);
	bool ok = true;
	if (size <= read_limit) {
		ok = read_all(fd, size);
	} else {
		map_ = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (map_ == MAP_FAILED) {
			map_ = nullptr;
			ok = false;
		} else {
			data_ = static_cast<const char *>(map_);
			size_ = size;
		}
	}
	int e = errno;
	::close(fd);
	errno = e;
	return ok;
}

bool MessageBytes::read_all(int fd, std::size_t size)
{
	if (size > buf_cap_) {
		// Rounded up, so a few slightly bigger messages in a row do not reallocate each time.
		std::size_t cap = buf_cap_ == 0 ? 16 * 1024 : buf_cap_;
		while (cap < size)
			cap *= 2;
		cap = cap < read_limit ? cap : read_limit;
		buf_.reset(new char[cap]);
		buf_cap_ = cap;
	}
	// Up to the size fstat() gave: a file that shrank meanwhile ends early (the caller pads
	// what it promised); bytes appended meanwhile are not read, as with a mapping.
	std::size_t got = 0;
	while (got < size) {
		ssize_t n = ::read(fd, buf_.get() + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return false;
		if (n == 0)
			break;
		got += static_cast<std::size_t>(n);
	}
	data_ = buf_.get();
	size_ = got;
	return true;
}

void MessageBytes::release()
{
	if (map_ != nullptr)
		munmap(map_, size_);
	map_ = nullptr;
	data_ = nullptr;
	size_ = 0;
}

} // namespace maild
