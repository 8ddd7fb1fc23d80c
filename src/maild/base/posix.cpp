#include "base/posix.hpp"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace maild {

namespace {

// The second step of the portable path; closes fd on failure.
int finish_socket(int fd)
{
	if (fd < 0)
		return -1;
#if !defined(MAILD_HAVE_SOCK_FLAGS)
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
#endif
#if defined(SO_NOSIGPIPE)
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof one);
#endif
	return fd;
}

} // namespace

int socket_nonblocking(int domain, int type, int protocol)
{
#if defined(MAILD_HAVE_SOCK_FLAGS)
	type |= SOCK_NONBLOCK | SOCK_CLOEXEC;
#endif
	return finish_socket(socket(domain, type, protocol));
}

int accept_nonblocking(int listener, struct sockaddr *addr, socklen_t *len)
{
#if defined(MAILD_HAVE_SOCK_FLAGS)
	return finish_socket(accept4(listener, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC));
#else
	return finish_socket(accept(listener, addr, len));
#endif
}

} // namespace maild
