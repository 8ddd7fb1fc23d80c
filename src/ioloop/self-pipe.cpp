#include "self-pipe.hpp"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace ioloop_detail {

bool open_self_pipe(int fds[2]) noexcept
{
#if defined(IOLOOP_HAVE_PIPE2)
	return pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0;
#else
	if (pipe(fds) < 0)
		return false;
	for (int i = 0; i < 2; i++) {
		int fl = fcntl(fds[i], F_GETFL);
		if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fds[i], F_SETFD, FD_CLOEXEC) < 0) {
			int e = errno;
			close(fds[0]);
			close(fds[1]);
			errno = e;
			return false;
		}
	}
	return true;
#endif
}

} // namespace ioloop_detail
