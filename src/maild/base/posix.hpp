// The calls where Linux and macOS or the BSDs differ, each with one spelling here. The Linux-only
// forms (accept4, SOCK_NONBLOCK, MSG_NOSIGNAL) are used where the build found them; elsewhere the
// portable path does the same in two steps. -Dlinux_calls=false builds the portable paths on
// Linux too, so the tests cover them.
#pragma once

#include <ctime>
#include <sys/socket.h>
#include <sys/stat.h>

namespace maild {

// A file's modification time with nanoseconds (st_mtim in POSIX 2008, st_mtimespec on macOS).
inline struct timespec stat_mtime(const struct stat &st)
{
#if defined(__APPLE__)
	return st.st_mtimespec;
#else
	return st.st_mtim;
#endif
}

// socket() and accept() whose descriptor is non-blocking and close-on-exec from the start (where
// the system can) or at once after; -1 with errno.
int socket_nonblocking(int domain, int type, int protocol);
int accept_nonblocking(int listener, struct sockaddr *addr, socklen_t *len);

// Flags for send(): a peer that went away must not raise SIGPIPE. Where MSG_NOSIGNAL is missing,
// socket_nonblocking() and accept_nonblocking() set SO_NOSIGPIPE on the socket instead.
#if defined(MSG_NOSIGNAL)
constexpr int send_flags = MSG_NOSIGNAL | MSG_DONTWAIT;
#else
constexpr int send_flags = MSG_DONTWAIT;
#endif

} // namespace maild
