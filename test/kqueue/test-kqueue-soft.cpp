// EVFILT_TIMER, EVFILT_SIGNAL and EVFILT_USER.
#include "kq-test.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <thread>

using namespace kqt;

TEST_CASE("EVFILT_TIMER is periodic; data counts expirations", "[kqueue][timer]")
{
	Kq kq;
	int tag = 0;
	REQUIRE(change(kq, 1, EVFILT_TIMER, EV_ADD, 0, 20, &tag) == 0);
	CHECK(wait(kq, 4).empty());
	usleep(110 * 1000);
	auto evs = wait(kq, 4);
	REQUIRE(evs.size() == 1);
	CHECK(evs[0].ident == 1);
	CHECK(evs[0].filter == EVFILT_TIMER);
	CHECK(evs[0].udata == &tag);
	CHECK((evs[0].flags & EV_CLEAR) != 0);
	CHECK(evs[0].data >= 4);
	CHECK(evs[0].data <= 6);
	// Reported count was reset; the timer keeps going.
	CHECK(wait(kq, 4).empty());
	evs = wait(kq, 4, 500);
	REQUIRE(evs.size() == 1);
	CHECK(evs[0].data == 1);
}

TEST_CASE("EVFILT_TIMER with EV_ONESHOT fires once and is deleted", "[kqueue][timer]")
{
	Kq kq;
	REQUIRE(change(kq, 2, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 15) == 0);
	auto evs = wait(kq, 4, 1000);
	REQUIRE(evs.size() == 1);
	CHECK(evs[0].data == 1);
	CHECK(wait(kq, 4, 60).empty());
	CHECK(change_err(kq, 2, EVFILT_TIMER, EV_DELETE) == ENOENT);
}

TEST_CASE("EVFILT_TIMER units", "[kqueue][timer]")
{
	struct Case {
		unsigned int unit;
		int64_t amount;
	};
	Case cases[] = {
		{0, 40}, // milliseconds by default
		{NOTE_MSECONDS, 40},
		{NOTE_USECONDS, 40000},
		{NOTE_NSECONDS, 40000000},
	};
	for (const Case &c : cases) {
		INFO("unit " << c.unit);
		Kq kq;
		auto t0 = std::chrono::steady_clock::now();
		REQUIRE(change(kq, 3, EVFILT_TIMER, EV_ADD | EV_ONESHOT, c.unit, c.amount) == 0);
		auto evs = wait(kq, 4, 2000);
		REQUIRE(evs.size() == 1);
		double ms = elapsed_ms(t0);
		CHECK(ms >= 39);
		CHECK(ms < 1000);
	}
	SECTION("seconds") {
		Kq kq;
		auto t0 = std::chrono::steady_clock::now();
		REQUIRE(change(kq, 4, EVFILT_TIMER, EV_ADD | EV_ONESHOT, NOTE_SECONDS, 1) == 0);
		CHECK(wait(kq, 4, 500).empty());
		auto evs = wait(kq, 4, 2000);
		REQUIRE(evs.size() == 1);
		CHECK(elapsed_ms(t0) >= 999);
	}
	SECTION("absolute time") {
		Kq kq;
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		int64_t at_ms = static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1000000 + 50;
		auto t0 = std::chrono::steady_clock::now();
		REQUIRE(change(kq, 5, EVFILT_TIMER, EV_ADD, NOTE_ABSTIME, at_ms) == 0);
		auto evs = wait(kq, 4, 2000);
		REQUIRE(evs.size() == 1);
		CHECK(elapsed_ms(t0) >= 30);
		CHECK(wait(kq, 4, 100).empty()); // not periodic
	}
	SECTION("invalid arguments") {
		Kq kq;
		CHECK(change_err(kq, 6, EVFILT_TIMER, EV_ADD, NOTE_SECONDS | NOTE_USECONDS, 1) == EINVAL);
		CHECK(change_err(kq, 6, EVFILT_TIMER, EV_ADD, 0, -1) == EINVAL);
	}
}

TEST_CASE("EVFILT_TIMER re-add restarts it; many timers keep order", "[kqueue][timer]")
{
	Kq kq;
	REQUIRE(change(kq, 7, EVFILT_TIMER, EV_ADD, 0, 10) == 0);
	usleep(50 * 1000);
	// Re-adding throws away the undelivered expirations.
	REQUIRE(change(kq, 7, EVFILT_TIMER, EV_ADD, 0, 200) == 0);
	CHECK(wait(kq, 4).empty());
	REQUIRE(change(kq, 7, EVFILT_TIMER, EV_DELETE) == 0);

	for (uintptr_t i = 0; i < 20; i++)
		REQUIRE(change(kq, 100 + i, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0,
			       static_cast<int64_t>(5 + ((i * 7) % 20) * 3)) == 0);
	std::vector<uintptr_t> order;
	while (order.size() < 20) {
		auto evs = wait(kq, 1, 1000);
		REQUIRE(evs.size() == 1);
		order.push_back(evs[0].ident);
	}
	for (size_t i = 1; i < order.size(); i++)
		CHECK((order[i - 1] - 100) * 7 % 20 <= (order[i] - 100) * 7 % 20);
}

TEST_CASE("EVFILT_TIMER keeps counting while disabled", "[kqueue][timer]")
{
	Kq kq;
	REQUIRE(change(kq, 8, EVFILT_TIMER, EV_ADD | EV_DISABLE, 0, 10) == 0);
	usleep(60 * 1000);
	CHECK(wait(kq, 4).empty());
	REQUIRE(change(kq, 8, EVFILT_TIMER, EV_ENABLE) == 0);
	auto evs = wait(kq, 4);
	REQUIRE(evs.size() == 1);
	CHECK(evs[0].data >= 4);
}

TEST_CASE("EVFILT_SIGNAL counts deliveries", "[kqueue][signal]")
{
	Kq kq;
	int tag = 0;
	REQUIRE(change(kq, SIGUSR1, EVFILT_SIGNAL, EV_ADD, 0, 0, &tag) == 0);
	// Documented: the emulation blocks the signal in the calling thread.
	sigset_t cur;
	REQUIRE(pthread_sigmask(SIG_BLOCK, nullptr, &cur) == 0);
	CHECK(sigismember(&cur, SIGUSR1) == 1);
	CHECK(wait(kq, 4).empty());

	SECTION("one raise") {
		REQUIRE(raise(SIGUSR1) == 0);
		auto evs = wait(kq, 4, 1000);
		REQUIRE(evs.size() == 1);
		CHECK(evs[0].ident == SIGUSR1);
		CHECK(evs[0].filter == EVFILT_SIGNAL);
		CHECK(evs[0].data == 1);
		CHECK(evs[0].udata == &tag);
		CHECK((evs[0].flags & EV_CLEAR) != 0);
		CHECK(wait(kq, 4).empty());
	}
	SECTION("several raises between reports add up") {
		REQUIRE(change(kq, SIGUSR1, EVFILT_SIGNAL, EV_DISABLE) == 0);
		for (int i = 0; i < 3; i++) {
			REQUIRE(raise(SIGUSR1) == 0);
			CHECK(wait(kq, 4).empty());
		}
		REQUIRE(change(kq, SIGUSR1, EVFILT_SIGNAL, EV_ENABLE) == 0);
		auto evs = wait(kq, 4);
		REQUIRE(evs.size() == 1);
		CHECK(evs[0].data == 3);
	}
	SECTION("queued real-time signals are each counted") {
		int rt = SIGRTMIN + 1;
		REQUIRE(change(kq, static_cast<uintptr_t>(rt), EVFILT_SIGNAL, EV_ADD) == 0);
		union sigval v {};
		for (int i = 0; i < 3; i++)
			REQUIRE(pthread_sigqueue(pthread_self(), rt, v) == 0);
		auto evs = wait(kq, 4, 1000);
		REQUIRE(evs.size() == 1);
		CHECK(evs[0].ident == static_cast<uintptr_t>(rt));
		CHECK(evs[0].data == 3);
		REQUIRE(change(kq, static_cast<uintptr_t>(rt), EVFILT_SIGNAL, EV_DELETE) == 0);
	}
	SECTION("deleted: no longer reported") {
		REQUIRE(change(kq, SIGUSR1, EVFILT_SIGNAL, EV_DELETE) == 0);
		REQUIRE(raise(SIGUSR1) == 0); // stays pending, blocked
		CHECK(wait(kq, 4).empty());
		// Consume it so later tests start clean.
		REQUIRE(change(kq, SIGUSR1, EVFILT_SIGNAL, EV_ADD) == 0);
		CHECK(wait(kq, 4, 1000).size() == 1);
	}
}

TEST_CASE("a deleted EVFILT_USER event does not hide a ready fd from a 1-slot poll", "[kqueue][user]")
{
	// Found by test/fuzz/fuzz-kqueue: the internal eventfd stayed readable after the only
	// queued user event was deleted, and took the one epoll_wait slot of a zero-timeout call.
	Kq kq;
	int sv[2];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	REQUIRE(change(kq, 1, EVFILT_USER, EV_ADD, NOTE_TRIGGER) == 0);
	REQUIRE(change(kq, static_cast<uintptr_t>(sv[0]), EVFILT_WRITE, EV_ADD) == 0);
	struct kevent del = ev(1, EVFILT_USER, EV_DELETE);
	struct kevent out {};
	struct timespec zero {};
	CHECK(kevent(kq, &del, 1, &out, 1, &zero) == 1);
	CHECK(out.ident == static_cast<uintptr_t>(sv[0]));
	CHECK(out.filter == EVFILT_WRITE);
	close(sv[0]);
	close(sv[1]);
}

TEST_CASE("EVFILT_USER: NOTE_TRIGGER and the fflags operations", "[kqueue][user]")
{
	Kq kq;
	int tag = 0;
	REQUIRE(change(kq, 1, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_FFCOPY | 0x0f, 0, &tag) == 0);
	CHECK(wait(kq, 4).empty()); // not triggered yet
	REQUIRE(change(kq, 1, EVFILT_USER, 0, NOTE_FFOR | 0xf0) == 0);
	REQUIRE(change(kq, 1, EVFILT_USER, 0, NOTE_FFAND | 0x3c) == 0);
	CHECK(wait(kq, 4).empty());
	REQUIRE(change(kq, 1, EVFILT_USER, 0, NOTE_TRIGGER | NOTE_FFNOP | 0xffff, 77) == 0);
	auto evs = wait(kq, 4);
	REQUIRE(evs.size() == 1);
	CHECK(evs[0].ident == 1);
	CHECK(evs[0].filter == EVFILT_USER);
	CHECK(evs[0].fflags == 0x3c);
	CHECK(evs[0].data == 77);
	// A change without EV_ADD still takes the new udata (FreeBSD does too).
	CHECK(evs[0].udata == nullptr);
	// EV_CLEAR: reported once per trigger.
	CHECK(wait(kq, 4).empty());
	REQUIRE(change(kq, 1, EVFILT_USER, 0, NOTE_TRIGGER | NOTE_FFCOPY | 0x123456) == 0);
	evs = wait(kq, 4);
	REQUIRE(evs.size() == 1);
	CHECK(evs[0].fflags == 0x123456);
}

TEST_CASE("EVFILT_USER without EV_CLEAR stays triggered", "[kqueue][user]")
{
	Kq kq;
	REQUIRE(change(kq, 2, EVFILT_USER, EV_ADD, NOTE_TRIGGER) == 0);
	for (int i = 0; i < 3; i++) {
		auto evs = wait(kq, 4);
		REQUIRE(evs.size() == 1); // once per call, not twice
	}
	REQUIRE(change(kq, 2, EVFILT_USER, EV_DELETE) == 0);
	CHECK(wait(kq, 4).empty());
}

TEST_CASE("EVFILT_USER: a trigger while disabled is kept until enabled", "[kqueue][user]")
{
	Kq kq;
	REQUIRE(change(kq, 3, EVFILT_USER, EV_ADD | EV_CLEAR | EV_DISABLE) == 0);
	REQUIRE(change(kq, 3, EVFILT_USER, 0, NOTE_TRIGGER) == 0);
	CHECK(wait(kq, 4).empty());
	REQUIRE(change(kq, 3, EVFILT_USER, EV_ENABLE) == 0);
	CHECK(wait(kq, 4).size() == 1);
	CHECK(wait(kq, 4).empty());

	SECTION("EV_DISPATCH") {
		REQUIRE(change(kq, 4, EVFILT_USER, EV_ADD | EV_CLEAR | EV_DISPATCH, NOTE_TRIGGER) == 0);
		CHECK(wait(kq, 4).size() == 1);
		REQUIRE(change(kq, 4, EVFILT_USER, 0, NOTE_TRIGGER) == 0);
		CHECK(wait(kq, 4).empty());
		REQUIRE(change(kq, 4, EVFILT_USER, EV_ENABLE) == 0);
		CHECK(wait(kq, 4).size() == 1);
	}
	SECTION("EV_ONESHOT") {
		REQUIRE(change(kq, 5, EVFILT_USER, EV_ADD | EV_ONESHOT, NOTE_TRIGGER) == 0);
		CHECK(wait(kq, 4).size() == 1);
		CHECK(change_err(kq, 5, EVFILT_USER, EV_DELETE) == ENOENT);
	}
}
