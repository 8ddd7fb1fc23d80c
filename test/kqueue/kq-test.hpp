// Helpers shared by the kqueue emulation tests.
#pragma once

#include <sys/event.h>

#include <catch2/catch.hpp>

#include <errno.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <vector>

namespace kqt {

// A kqueue closed at scope exit.
struct Kq {
	int fd;
	Kq() : fd(kqueue()) { REQUIRE(fd >= 0); }
	~Kq() { close(fd); }
	Kq(const Kq &) = delete;
	Kq &operator=(const Kq &) = delete;
	operator int() const { return fd; }
};

// A pipe closed at scope exit; either end may be closed early via reset.
struct Pipe {
	int rd = -1, wr = -1;
	Pipe()
	{
		int p[2];
		REQUIRE(pipe(p) == 0);
		rd = p[0];
		wr = p[1];
	}
	~Pipe()
	{
		if (rd >= 0)
			close(rd);
		if (wr >= 0)
			close(wr);
	}
	Pipe(const Pipe &) = delete;
	Pipe &operator=(const Pipe &) = delete;
	void close_rd() { close(rd); rd = -1; }
	void close_wr() { close(wr); wr = -1; }
};

inline struct kevent ev(uintptr_t ident, short filter, unsigned short flags,
			unsigned int fflags = 0, int64_t data = 0, void *udata = nullptr)
{
	struct kevent k;
	EV_SET(&k, ident, filter, flags, fflags, data, udata);
	return k;
}

// Applies one change with no eventlist; returns kevent()'s result, errno kept.
inline int change(int kq, uintptr_t ident, short filter, unsigned short flags,
		  unsigned int fflags = 0, int64_t data = 0, void *udata = nullptr)
{
	struct kevent k = ev(ident, filter, flags, fflags, data, udata);
	return kevent(kq, &k, 1, nullptr, 0, nullptr);
}

// Applies one change with EV_RECEIPT and returns the errno it reports (0 = ok).
inline int64_t change_err(int kq, uintptr_t ident, short filter, unsigned short flags,
			  unsigned int fflags = 0, int64_t data = 0, void *udata = nullptr)
{
	struct kevent k = ev(ident, filter, flags | EV_RECEIPT, fflags, data, udata);
	struct kevent out {};
	int n = kevent(kq, &k, 1, &out, 1, nullptr);
	REQUIRE(n == 1);
	REQUIRE((out.flags & EV_ERROR) != 0);
	return out.data;
}

inline struct timespec ms_ts(long ms)
{
	struct timespec ts;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	return ts;
}

// Collects events, waiting at most `ms` milliseconds (0 = poll).
inline std::vector<struct kevent> wait(int kq, int max, long ms = 0)
{
	std::vector<struct kevent> out(static_cast<size_t>(max));
	struct timespec ts = ms_ts(ms);
	int n = kevent(kq, nullptr, 0, out.data(), max, &ts);
	REQUIRE(n >= 0);
	out.resize(static_cast<size_t>(n));
	return out;
}

inline const struct kevent *find(const std::vector<struct kevent> &evs, uintptr_t ident, short filter)
{
	for (const struct kevent &k : evs)
		if (k.ident == ident && k.filter == filter)
			return &k;
	return nullptr;
}

inline double elapsed_ms(std::chrono::steady_clock::time_point since)
{
	return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - since).count();
}

inline void put(int fd, const char *s, size_t n)
{
	REQUIRE(write(fd, s, n) == static_cast<ssize_t>(n));
}

} // namespace kqt
