#include "storage/file-io.hpp"

#include "base/fd.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>

namespace maild {

bool read_regular_file(const std::string &path, std::string &out, std::size_t limit)
{
	out.clear();
	// O_NONBLOCK: a FIFO planted in the store must not stall the loop in open().
	Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
	if (!fd)
		return errno == ENOENT;
	struct stat st {};
	if (fstat(fd.get(), &st) < 0)
		return false;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return false;
	}
	return read_to_end(fd.get(), out, limit);
}

} // namespace maild
