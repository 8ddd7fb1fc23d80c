// The kqueue descriptor itself: pollable, closable, not inherited by fork(),
// shared between threads; and no allocation in a steady-state kevent().
#include "kq-test.hpp"

#include <poll.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <thread>

using namespace kqt;

// ASan brings its own operator new; the allocation test needs ours.
#if defined(__SANITIZE_ADDRESS__)
#define KQT_NO_NEW_HOOK 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KQT_NO_NEW_HOOK 1
#endif
#endif

namespace {

bool readable(int fd)
{
	struct pollfd pfd {fd, POLLIN, 0};
	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN) != 0;
}

#ifndef KQT_NO_NEW_HOOK
// Counts operator new calls made while armed, on this thread only.
thread_local bool count_allocs = false;
thread_local long allocs = 0;
#endif

} // namespace


#ifndef KQT_NO_NEW_HOOK
void *operator new(std::size_t n)
{
	if (count_allocs)
		allocs++;
	void *p = std::malloc(n == 0 ? 1 : n);
	if (p == nullptr)
		throw std::bad_alloc();
	return p;
}
void operator delete(void *p) noexcept { std::free(p); }
void operator delete(void *p, std::size_t) noexcept { std::free(p); }
#endif

TEST_CASE("the kqueue fd is pollable", "[kqueue][fd]")
{
	Kq kq;
	Pipe p;
	CHECK_FALSE(readable(kq));

	SECTION("fd event") {
		REQUIRE(change(kq, static_cast<uintptr_t>(p.rd), EVFILT_READ, EV_ADD) == 0);
		CHECK_FALSE(readable(kq));
		put(p.wr, "x", 1);
		CHECK(readable(kq));
		char c;
		REQUIRE(read(p.rd, &c, 1) == 1);
		CHECK_FALSE(readable(kq));
	}
	SECTION("user event, also when left over by a small eventlist") {
		REQUIRE(change(kq, 1, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_TRIGGER) == 0);
		REQUIRE(change(kq, 2, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_TRIGGER) == 0);
		CHECK(readable(kq));
		CHECK(wait(kq, 1).size() == 1);
		CHECK(readable(kq));
		CHECK(wait(kq, 1).size() == 1);
		CHECK_FALSE(readable(kq));
	}
	SECTION("timer expiry") {
		REQUIRE(change(kq, 3, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 20) == 0);
		CHECK_FALSE(readable(kq));
		struct pollfd pfd {kq.fd, POLLIN, 0};
		CHECK(poll(&pfd, 1, 2000) == 1);
		CHECK(wait(kq, 4).size() == 1);
		CHECK_FALSE(readable(kq));
	}
	SECTION("a kqueue watched by another kqueue") {
		Kq outer;
		REQUIRE(change(outer, static_cast<uintptr_t>(kq.fd), EVFILT_READ, EV_ADD) == 0);
		CHECK(wait(outer, 4).empty());
		REQUIRE(change(kq, 4, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_TRIGGER) == 0);
		auto evs = wait(outer, 4, 1000);
		REQUIRE(evs.size() == 1);
		CHECK(evs[0].ident == static_cast<uintptr_t>(kq.fd));
	}
}

TEST_CASE("the kqueue fd closed with close() and its number reused", "[kqueue][fd]")
{
	int kq = kqueue();
	REQUIRE(kq >= 0);
	REQUIRE(change(kq, 9, EVFILT_USER, EV_ADD, NOTE_TRIGGER) == 0);
	REQUIRE(close(kq) == 0);
	struct kevent out[4];
	struct timespec zero {};

	SECTION("not reused: EBADF") {
		errno = 0;
		CHECK(kevent(kq, nullptr, 0, out, 4, &zero) == -1);
		CHECK(errno == EBADF);
		errno = 0;
		CHECK(change(kq, 9, EVFILT_USER, EV_DELETE) == -1);
		CHECK(errno == EBADF);
	}
	SECTION("by a new kqueue: a fresh, empty one") {
		int kq2 = kqueue();
		REQUIRE(kq2 == kq); // lowest free number
		CHECK(kevent(kq2, nullptr, 0, out, 4, &zero) == 0);
		CHECK(change_err(kq2, 9, EVFILT_USER, EV_DELETE) == ENOENT);
		close(kq2);
	}
	SECTION("by another kind of fd: EBADF") {
		Pipe p;
		REQUIRE(dup2(p.rd, kq) == kq);
		// A change-only call makes no epoll syscall of its own.
		errno = 0;
		CHECK(change(kq, 9, EVFILT_USER, EV_DELETE) == -1);
		CHECK(errno == EBADF);
		errno = 0;
		CHECK(kevent(kq, nullptr, 0, out, 4, &zero) == -1);
		CHECK(errno == EBADF);
		close(kq);
	}
}

TEST_CASE("fork(): the child cannot use the parent's kqueue", "[kqueue][fork]")
{
	Kq kq;
	Pipe p;
	REQUIRE(change(kq, 1, EVFILT_USER, EV_ADD, NOTE_TRIGGER) == 0);
	REQUIRE(change(kq, static_cast<uintptr_t>(p.rd), EVFILT_READ, EV_ADD) == 0);
	put(p.wr, "x", 1);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		struct kevent out[4];
		struct timespec zero {};
		int code = 0;
		errno = 0;
		if (kevent(kq, nullptr, 0, out, 4, &zero) != -1 || errno != EBADF)
			code |= 1;
		struct kevent ch;
		EV_SET(&ch, 2, EVFILT_USER, EV_ADD, 0, 0, nullptr);
		errno = 0;
		if (kevent(kq, &ch, 1, nullptr, 0, nullptr) != -1 || errno != EBADF)
			code |= 2;
		// The child's own kqueue works.
		int mine = kqueue();
		EV_SET(&ch, 3, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0, nullptr);
		if (mine < 0 || kevent(mine, &ch, 1, out, 4, &zero) != 1 || out[0].ident != 3)
			code |= 4;
		_exit(code);
	}
	int status = 0;
	REQUIRE(waitpid(pid, &status, 0) == pid);
	REQUIRE(WIFEXITED(status));
	CHECK(WEXITSTATUS(status) == 0);
	// The parent's kqueue is untouched.
	auto evs = wait(kq, 4);
	CHECK(evs.size() == 2);
}

TEST_CASE("threads: a trigger from another thread wakes a blocked kevent()", "[kqueue][threads]")
{
	Kq kq;
	REQUIRE(change(kq, 1, EVFILT_USER, EV_ADD | EV_CLEAR) == 0);
	std::atomic<int> got{-1};
	std::atomic<uintptr_t> ident{0};
	auto t0 = std::chrono::steady_clock::now();
	std::thread waiter([&] {
		struct kevent out;
		struct timespec limit = ms_ts(5000);
		int n = kevent(kq, nullptr, 0, &out, 1, &limit);
		if (n == 1)
			ident = out.ident;
		got = n;
	});
	usleep(50 * 1000);
	CHECK(got == -1); // still blocked
	REQUIRE(change(kq, 1, EVFILT_USER, 0, NOTE_TRIGGER) == 0);
	waiter.join();
	CHECK(got == 1);
	CHECK(ident == 1);
	CHECK(elapsed_ms(t0) < 2000);
}

TEST_CASE("threads: an fd added by another thread wakes a blocked kevent()", "[kqueue][threads]")
{
	Kq kq;
	Pipe p;
	std::atomic<int> got{-1};
	std::thread waiter([&] {
		struct kevent out;
		struct timespec limit = ms_ts(5000);
		got = kevent(kq, nullptr, 0, &out, 1, &limit);
	});
	usleep(30 * 1000);
	REQUIRE(change(kq, static_cast<uintptr_t>(p.rd), EVFILT_READ, EV_ADD) == 0);
	put(p.wr, "x", 1);
	waiter.join();
	CHECK(got == 1);
}

TEST_CASE("threads: concurrent triggers and waits", "[kqueue][threads]")
{
	Kq kq;
	constexpr int per_thread = 2000;
	for (uintptr_t i = 0; i < 4; i++)
		REQUIRE(change(kq, 10 + i, EVFILT_USER, EV_ADD | EV_CLEAR) == 0);
	std::atomic<bool> stop{false};
	std::atomic<long> seen{0};
	std::vector<std::thread> threads;
	for (int w = 0; w < 2; w++)
		threads.emplace_back([&] {
			struct kevent out[8];
			struct timespec limit = ms_ts(20);
			while (!stop) {
				int n = kevent(kq, nullptr, 0, out, 8, &limit);
				if (n > 0)
					seen += n;
			}
		});
	std::vector<std::thread> triggers;
	for (uintptr_t i = 0; i < 4; i++)
		triggers.emplace_back([&, i] {
			for (int k = 0; k < per_thread; k++) {
				struct kevent ch;
				EV_SET(&ch, 10 + i, EVFILT_USER, 0, NOTE_TRIGGER, 0, nullptr);
				if (kevent(kq, &ch, 1, nullptr, 0, nullptr) != 0)
					std::abort();
			}
		});
	for (std::thread &t : triggers)
		t.join();
	usleep(100 * 1000);
	stop = true;
	for (std::thread &t : threads)
		t.join();
	// Triggers coalesce, but at least one per ident got through and nothing
	// was reported more often than triggered.
	CHECK(seen >= 4);
	CHECK(seen <= 4 * per_thread);
	CHECK(wait(kq, 8).empty());
}

#ifndef KQT_NO_NEW_HOOK
TEST_CASE("steady-state kevent() does not allocate", "[kqueue][perf]")
{
	Kq kq;
	Pipe p[8];
	for (Pipe &pp : p) {
		put(pp.wr, "x", 1);
		REQUIRE(change(kq, static_cast<uintptr_t>(pp.rd), EVFILT_READ, EV_ADD) == 0);
		REQUIRE(change(kq, static_cast<uintptr_t>(pp.wr), EVFILT_WRITE, EV_ADD) == 0);
	}
	REQUIRE(change(kq, 1, EVFILT_TIMER, EV_ADD, 0, 1) == 0);
	REQUIRE(change(kq, 2, EVFILT_USER, EV_ADD | EV_CLEAR) == 0);
	struct kevent out[4];
	struct timespec zero {};
	struct kevent trig;
	EV_SET(&trig, 2, EVFILT_USER, 0, NOTE_TRIGGER, 0, nullptr);
	REQUIRE(kevent(kq, &trig, 1, out, 4, &zero) > 0); // warm up
	count_allocs = true;
	for (int i = 0; i < 200; i++) {
		if (kevent(kq, &trig, 1, out, 4, &zero) <= 0)
			break;
	}
	count_allocs = false;
	CHECK(allocs == 0);
}
#endif
