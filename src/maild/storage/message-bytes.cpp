#include "storage/message-bytes.hpp"

#include "base/fd.hpp"
#include "base/posix.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace maild {

bool MessageBytes::open(int dir_fd, const std::string &name)
{
	release();
	Fd fd(::openat(dir_fd, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
	if (!fd)
		return false;
	struct stat st {};
	if (fstat(fd.get(), &st) < 0)
		return false;
	if (!S_ISREG(st.st_mode) || st.st_size < 0) {
		errno = EINVAL;
		return false;
	}
	mtime_ = stat_mtime(st).tv_sec;
	auto size = static_cast<std::size_t>(st.st_size);
	if (size <= read_limit)
		return read_all(fd.get(), size);
	map_ = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
	if (map_ == MAP_FAILED) {
		map_ = nullptr;
		return false;
	}
	data_ = static_cast<const char *>(map_);
	size_ = size;
	return true;
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
	ssize_t got = read_full(fd, buf_.get(), size);
	if (got < 0)
		return false;
	data_ = buf_.get();
	size_ = static_cast<std::size_t>(got);
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
