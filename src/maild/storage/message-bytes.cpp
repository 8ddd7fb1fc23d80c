#include "storage/message-bytes.hpp"

#include "base/fd.hpp"
#include "base/posix.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace maild {

// O_NONBLOCK: a FIFO put in cur/ must not hold the loop in open() waiting for a writer; a
// regular file ignores it.
constexpr int open_flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;

bool MessageBytes::open(int dir_fd, const std::string &name)
{
	release();
	Fd fd(::openat(dir_fd, name.c_str(), open_flags));
	return fd && load(fd.get());
}

bool MessageBytes::open_bounded(int dir_fd, const std::string &name, std::uint64_t bound,
				std::optional<std::uint64_t> size_hint)
{
	if (bound >= read_limit) // mapped: that needs the size
		return open(dir_fd, name);
	release();
	Fd fd(::openat(dir_fd, name.c_str(), open_flags));
	if (!fd)
		return false;
	auto want = static_cast<std::size_t>(bound) + 1;
	reserve(want);
	std::size_t got = 0;
	for (;;) {
		ssize_t n = ::read(fd.get(), buf_.get() + got, want - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return false; // EISDIR for a directory, EAGAIN for a FIFO nobody writes
		got += static_cast<std::size_t>(n);
		// A regular file's read() stops short of what was asked only at its end, so a
		// short read that ends where the name says the file does is the end.
		if (n == 0 || got == want || (size_hint && got == *size_hint))
			break;
	}
	if (got < want) {
		data_ = buf_.get();
		size_ = got;
		mtime_ = 0;
		return true;
	}
	if (lseek(fd.get(), 0, SEEK_SET) < 0)
		return false;
	return load(fd.get());
}

bool MessageBytes::load(int fd)
{
	struct stat st {};
	if (fstat(fd, &st) < 0)
		return false;
	if (!S_ISREG(st.st_mode) || st.st_size < 0) {
		errno = EINVAL;
		return false;
	}
	mtime_ = stat_mtime(st).tv_sec;
	auto size = static_cast<std::size_t>(st.st_size);
	if (size <= read_limit)
		return read_all(fd, size);
	map_ = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map_ == MAP_FAILED) {
		map_ = nullptr;
		return false;
	}
	data_ = static_cast<const char *>(map_);
	size_ = size;
	return true;
}

void MessageBytes::reserve(std::size_t size)
{
	if (size <= buf_cap_)
		return;
	// Rounded up, so a few slightly bigger messages in a row do not reallocate each time.
	std::size_t cap = buf_cap_ == 0 ? 16 * 1024 : buf_cap_; // size is at most read_limit
	while (cap < size)
		cap *= 2;
	cap = cap < read_limit ? cap : read_limit;
	buf_.reset(new char[cap]);
	buf_cap_ = cap;
}

bool MessageBytes::read_all(int fd, std::size_t size)
{
	reserve(size);
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
