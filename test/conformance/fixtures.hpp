// Small helpers for the conformance suite: owned fds and a bounded way to run the loop.
#pragma once

#include <ioloop/ioloop.hpp>

#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <stdexcept>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>

namespace fixtures {

// What the kqueue under a kevent build cannot do, and why, or nullptr: a test that needs it says
// the reason (WARN) and checks nothing (doc/kqueue-linux.md lists each).
#if defined(IOLOOP_KQUEUE_LIBKQUEUE)
constexpr const char *libkqueue_no_thread_signals =
	"libkqueue misses a signal sent to one thread (raise()); process-wide kill() reaches it";
constexpr const char *libkqueue_eats_so_error =
	"libkqueue reads SO_ERROR itself to report EOF, so read() after a reset returns 0, not ECONNRESET";
#else
constexpr const char *libkqueue_no_thread_signals = nullptr;
constexpr const char *libkqueue_eats_so_error = nullptr;
#endif

class Fd {
public:
	Fd() = default;
	explicit Fd(int fd) : fd_(fd) {}
	Fd(Fd &&o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
	Fd &operator=(Fd &&o) noexcept
	{
		reset(std::exchange(o.fd_, -1));
		return *this;
	}
	~Fd() { reset(); }
	void reset(int fd = -1)
	{
		if (fd_ >= 0)
			::close(fd_);
		fd_ = fd;
	}
	int get() const { return fd_; }
	operator int() const { return fd_; }

private:
	int fd_ = -1;
};

// O_NONBLOCK and FD_CLOEXEC on fd (which it returns): the portable spelling of SOCK_NONBLOCK,
// SOCK_CLOEXEC and pipe2(), which macOS lacks.
inline int nonblocking(int fd)
{
	if (fd >= 0 && (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0))
		throw std::runtime_error("fcntl");
	return fd;
}

struct SocketPair {
	Fd a, b;
	SocketPair()
	{
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
			throw std::runtime_error("socketpair");
		a.reset(nonblocking(sv[0]));
		b.reset(nonblocking(sv[1]));
	}
};

struct Pipe {
	Fd r, w;
	Pipe()
	{
		int p[2];
		if (pipe(p) < 0)
			throw std::runtime_error("pipe");
		r.reset(nonblocking(p[0]));
		w.reset(nonblocking(p[1]));
	}
};

inline void put(int fd, const char *s = "x")
{
	std::size_t n = std::char_traits<char>::length(s);
	ssize_t w;
	while ((w = ::write(fd, s, n)) < 0 && errno == EINTR) {
	}
	if (w != static_cast<ssize_t>(n))
		throw std::runtime_error("write");
}

inline char get_byte(int fd)
{
	char c = 0;
	ssize_t r;
	while ((r = ::read(fd, &c, 1)) < 0 && errno == EINTR) {
	}
	return r == 1 ? c : '\0';
}

using ms = std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Iterates until done() or the time limit; the limit is a timeout, so a lost wakeup shows as a
// failed check, never a hung test.
// A blocking connect() that a signal does not break: after EINTR the connection goes on in the
// background, so wait for it and read its outcome.
inline bool connect_loopback(int fd, const sockaddr_in &sa)
{
	if (::connect(fd, reinterpret_cast<const sockaddr *>(&sa), sizeof sa) == 0)
		return true;
	if (errno != EINTR)
		return false;
	pollfd p{fd, POLLOUT, 0};
	while (::poll(&p, 1, 5000) < 0 && errno == EINTR) {
	}
	int err = 0;
	socklen_t len = sizeof err;
	return getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
}

// waitpid that a signal does not interrupt (the signal-storm run sends one every 200 µs).
inline pid_t wait_child(pid_t pid, int &status)
{
	pid_t r;
	while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
	}
	return r;
}

template <class Pred> bool run_until(iol::IoLoop &loop, Pred done, ms limit = ms(3000))
{
	bool expired = false;
	iol::Timeout guard = loop.add_oneshot(limit, [&] { expired = true; });
	while (!done() && !expired)
		loop.run_once();
	return done();
}

// Runs n iterations, each waiting at most `each` (so a test never blocks on a broken loop).
inline void iterate(iol::IoLoop &loop, int n, ms each = ms(20))
{
	iol::Timeout tick = loop.add_timeout(each, [] {});
	for (int i = 0; i < n; i++)
		loop.run_once();
}

inline double ms_since(Clock::time_point t)
{
	return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

} // namespace fixtures
