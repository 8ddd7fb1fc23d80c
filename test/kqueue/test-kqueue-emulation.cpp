// kqueue(2) emulation: interface, changelist processing and timeouts.
#include "catch2-run.hpp"
#include "kq-test.hpp"

#include <cstddef>
#include <type_traits>

using namespace kqt;

extern "C" int kqt_c_header_check(void);

TEST_CASE("struct kevent has the FreeBSD 12 layout", "[kqueue][api]")
{
	struct kevent k {};
	STATIC_REQUIRE(std::is_same_v<decltype(k.ident), uintptr_t>);
	STATIC_REQUIRE(std::is_same_v<decltype(k.filter), short>);
	STATIC_REQUIRE(std::is_same_v<decltype(k.flags), unsigned short>);
	STATIC_REQUIRE(std::is_same_v<decltype(k.fflags), unsigned int>);
	STATIC_REQUIRE(std::is_same_v<decltype(k.data), int64_t>);
	STATIC_REQUIRE(std::is_same_v<decltype(k.udata), void *>);
	STATIC_REQUIRE(std::is_same_v<decltype(k.ext), uint64_t[4]>);
	STATIC_REQUIRE(offsetof(struct kevent, ident) == 0);
	STATIC_REQUIRE(offsetof(struct kevent, filter) == sizeof(uintptr_t));
	STATIC_REQUIRE(offsetof(struct kevent, flags) == sizeof(uintptr_t) + 2);
	STATIC_REQUIRE(offsetof(struct kevent, fflags) == sizeof(uintptr_t) + 4);
	STATIC_REQUIRE(offsetof(struct kevent, data) == sizeof(uintptr_t) + 8);
	STATIC_REQUIRE(offsetof(struct kevent, udata) == sizeof(uintptr_t) + 16);
	STATIC_REQUIRE(offsetof(struct kevent, ext) == 2 * sizeof(uintptr_t) + 16);
	STATIC_REQUIRE(sizeof(struct kevent) == 2 * sizeof(uintptr_t) + 48);
}

TEST_CASE("constants have FreeBSD values", "[kqueue][api]")
{
	STATIC_REQUIRE(EVFILT_READ == -1);
	STATIC_REQUIRE(EVFILT_WRITE == -2);
	STATIC_REQUIRE(EVFILT_AIO == -3);
	STATIC_REQUIRE(EVFILT_VNODE == -4);
	STATIC_REQUIRE(EVFILT_PROC == -5);
	STATIC_REQUIRE(EVFILT_SIGNAL == -6);
	STATIC_REQUIRE(EVFILT_TIMER == -7);
	STATIC_REQUIRE(EVFILT_PROCDESC == -8);
	STATIC_REQUIRE(EVFILT_FS == -9);
	STATIC_REQUIRE(EVFILT_LIO == -10);
	STATIC_REQUIRE(EVFILT_USER == -11);
	STATIC_REQUIRE(EVFILT_SENDFILE == -12);
	STATIC_REQUIRE(EVFILT_EMPTY == -13);
	STATIC_REQUIRE(EV_ADD == 0x1);
	STATIC_REQUIRE(EV_DELETE == 0x2);
	STATIC_REQUIRE(EV_ENABLE == 0x4);
	STATIC_REQUIRE(EV_DISABLE == 0x8);
	STATIC_REQUIRE(EV_ONESHOT == 0x10);
	STATIC_REQUIRE(EV_CLEAR == 0x20);
	STATIC_REQUIRE(EV_RECEIPT == 0x40);
	STATIC_REQUIRE(EV_DISPATCH == 0x80);
	STATIC_REQUIRE(EV_FORCEONESHOT == 0x100);
	STATIC_REQUIRE(EV_SYSFLAGS == 0xF000);
	STATIC_REQUIRE(EV_DROP == 0x1000);
	STATIC_REQUIRE(EV_FLAG1 == 0x2000);
	STATIC_REQUIRE(EV_FLAG2 == 0x4000);
	STATIC_REQUIRE(EV_EOF == 0x8000);
	STATIC_REQUIRE(EV_ERROR == 0x4000);
	STATIC_REQUIRE(NOTE_TRIGGER == 0x01000000U);
	STATIC_REQUIRE(NOTE_FFNOP == 0U);
	STATIC_REQUIRE(NOTE_FFAND == 0x40000000U);
	STATIC_REQUIRE(NOTE_FFOR == 0x80000000U);
	STATIC_REQUIRE(NOTE_FFCOPY == 0xc0000000U);
	STATIC_REQUIRE(NOTE_FFCTRLMASK == 0xc0000000U);
	STATIC_REQUIRE(NOTE_FFLAGSMASK == 0x00ffffffU);
	STATIC_REQUIRE(NOTE_LOWAT == 0x1U);
	STATIC_REQUIRE(NOTE_SECONDS == 0x1U);
	STATIC_REQUIRE(NOTE_MSECONDS == 0x2U);
	STATIC_REQUIRE(NOTE_USECONDS == 0x4U);
	STATIC_REQUIRE(NOTE_NSECONDS == 0x8U);
	STATIC_REQUIRE(NOTE_ABSTIME == 0x10U);
	STATIC_REQUIRE(NOTE_DELETE == 0x1U);
	STATIC_REQUIRE(NOTE_WRITE == 0x2U);
	STATIC_REQUIRE(NOTE_EXTEND == 0x4U);
	STATIC_REQUIRE(NOTE_ATTRIB == 0x8U);
	STATIC_REQUIRE(NOTE_LINK == 0x10U);
	STATIC_REQUIRE(NOTE_RENAME == 0x20U);
	STATIC_REQUIRE(NOTE_REVOKE == 0x40U);
	STATIC_REQUIRE(NOTE_OPEN == 0x80U);
	STATIC_REQUIRE(NOTE_CLOSE == 0x100U);
	STATIC_REQUIRE(NOTE_CLOSE_WRITE == 0x200U);
	STATIC_REQUIRE(NOTE_READ == 0x400U);
	STATIC_REQUIRE(NOTE_EXIT == 0x80000000U);
	STATIC_REQUIRE(NOTE_FORK == 0x40000000U);
	STATIC_REQUIRE(NOTE_EXEC == 0x20000000U);
	STATIC_REQUIRE(NOTE_PCTRLMASK == 0xf0000000U);
	STATIC_REQUIRE(NOTE_PDATAMASK == 0x000fffffU);
	STATIC_REQUIRE(NOTE_TRACK == 0x1U);
	STATIC_REQUIRE(NOTE_TRACKERR == 0x2U);
	STATIC_REQUIRE(NOTE_CHILD == 0x4U);
}

TEST_CASE("EV_SET fills every field and zeroes ext", "[kqueue][api]")
{
	struct kevent k;
	k.ext[0] = k.ext[1] = k.ext[2] = k.ext[3] = 99;
	int tag = 0;
	int fd = 5;
	EV_SET(&k, fd, EVFILT_WRITE, EV_ADD | EV_CLEAR, NOTE_LOWAT, 17, &tag);
	CHECK(k.ident == 5);
	CHECK(k.filter == EVFILT_WRITE);
	CHECK(k.flags == (EV_ADD | EV_CLEAR));
	CHECK(k.fflags == NOTE_LOWAT);
	CHECK(k.data == 17);
	CHECK(k.udata == &tag);
	CHECK((k.ext[0] | k.ext[1] | k.ext[2] | k.ext[3]) == 0);
	// Usable as a statement in an unbraced if/else, like FreeBSD's.
	if (fd == 5)
		EV_SET(&k, 1, EVFILT_USER, 0, 0, 0, nullptr);
	else
		EV_SET(&k, 2, EVFILT_USER, 0, 0, 0, nullptr);
	CHECK(k.ident == 1);
}

TEST_CASE("<sys/event.h> is usable from C", "[kqueue][api]")
{
	CHECK(kqt_c_header_check() == 0);
}

TEST_CASE("kevent on something that is not a kqueue fails with EBADF", "[kqueue][api]")
{
	struct kevent out;
	struct timespec zero {};
	errno = 0;
	CHECK(kevent(-1, nullptr, 0, &out, 1, &zero) == -1);
	CHECK(errno == EBADF);
	Pipe p;
	errno = 0;
	CHECK(kevent(p.rd, nullptr, 0, &out, 1, &zero) == -1);
	CHECK(errno == EBADF);
}

TEST_CASE("timeouts: NULL blocks, zero polls, invalid ones are EINVAL", "[kqueue][timeout]")
{
	Kq kq;
	struct kevent out;

	SECTION("invalid timespecs") {
		struct timespec bad[] = {{0, 1000000000L}, {0, -1}, {-1, 0}};
		for (const struct timespec &ts : bad) {
			errno = 0;
			CHECK(kevent(kq, nullptr, 0, &out, 1, &ts) == -1);
			CHECK(errno == EINVAL);
		}
	}
	SECTION("zero timeout polls") {
		auto t0 = std::chrono::steady_clock::now();
		struct timespec zero {};
		CHECK(kevent(kq, nullptr, 0, &out, 1, &zero) == 0);
		CHECK(elapsed_ms(t0) < 20);
	}
	SECTION("a timeout expires with 0 events after the interval") {
		auto t0 = std::chrono::steady_clock::now();
		struct timespec ts = ms_ts(60);
		CHECK(kevent(kq, nullptr, 0, &out, 1, &ts) == 0);
		CHECK(elapsed_ms(t0) >= 59);
		CHECK(elapsed_ms(t0) < 1000);
	}
	SECTION("nevents == 0 returns at once even with a timeout") {
		auto t0 = std::chrono::steady_clock::now();
		struct timespec ts = ms_ts(500);
		CHECK(kevent(kq, nullptr, 0, &out, 0, &ts) == 0);
		CHECK(kevent(kq, nullptr, 0, nullptr, 0, nullptr) == 0);
		CHECK(elapsed_ms(t0) < 100);
	}
	SECTION("NULL timeout blocks until an event") {
		REQUIRE(change(kq, 1, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 40) == 0);
		auto t0 = std::chrono::steady_clock::now();
		CHECK(kevent(kq, nullptr, 0, &out, 1, nullptr) == 1);
		CHECK(elapsed_ms(t0) >= 39);
		CHECK(out.filter == EVFILT_TIMER);
	}
}

TEST_CASE("unsupported filters and bad flags are EINVAL", "[kqueue][changes]")
{
	Kq kq;
	Pipe p;
	// EVFILT_VNODE is emulated, but not on a pipe (test-kqueue-vnode.cpp).
	short filters[] = {EVFILT_AIO, EVFILT_VNODE, EVFILT_PROCDESC, EVFILT_FS,
			   EVFILT_LIO, EVFILT_SENDFILE, EVFILT_EMPTY, -14, 1};
	for (short f : filters) {
		INFO("filter " << f);
		CHECK(change_err(kq, static_cast<uintptr_t>(p.rd), f, EV_ADD) == EINVAL);
		errno = 0;
		CHECK(change(kq, static_cast<uintptr_t>(p.rd), f, EV_ADD) == -1);
		CHECK(errno == EINVAL);
	}
	CHECK(change_err(kq, 1, EVFILT_USER, EV_ADD | EV_ENABLE | EV_DISABLE) == EINVAL);
	CHECK(change_err(kq, 0, EVFILT_SIGNAL, EV_ADD) == EINVAL);
	CHECK(change_err(kq, 65, EVFILT_SIGNAL, EV_ADD) == EINVAL);
}

TEST_CASE("changelist errors become EV_ERROR entries when there is room", "[kqueue][changes]")
{
	Kq kq;
	int tag = 0;
	struct kevent ch[3] = {
		ev(10, EVFILT_USER, EV_DELETE, 0, 0, &tag), // ENOENT
		ev(11, EVFILT_USER, EV_ADD | EV_CLEAR, NOTE_TRIGGER, 0, nullptr), // fine, triggered
		ev(12, EVFILT_USER, EV_ENABLE), // ENOENT
	};
	struct kevent out[4] {};
	struct timespec zero {};
	int n = kevent(kq, ch, 3, out, 4, &zero);
	// Only the errors come back: the pending user event waits for the next call.
	REQUIRE(n == 2);
	CHECK(out[0].ident == 10);
	CHECK(out[0].filter == EVFILT_USER);
	CHECK(out[0].flags == EV_ERROR);
	CHECK(out[0].data == ENOENT);
	CHECK(out[0].udata == &tag);
	CHECK(out[1].ident == 12);
	CHECK(out[1].data == ENOENT);
	// The good change between the two errors was applied.
	auto evs = wait(kq, 4);
	REQUIRE(evs.size() == 1);
	CHECK(evs[0].ident == 11);
}

TEST_CASE("without room a changelist error fails the call and stops processing", "[kqueue][changes]")
{
	Kq kq;
	struct kevent ch[2] = {
		ev(20, EVFILT_USER, EV_DELETE), // ENOENT, no room to report it
		ev(21, EVFILT_USER, EV_ADD), // must not be applied
	};
	errno = 0;
	CHECK(kevent(kq, ch, 2, nullptr, 0, nullptr) == -1);
	CHECK(errno == ENOENT);
	CHECK(change_err(kq, 21, EVFILT_USER, EV_DELETE) == ENOENT);

	SECTION("room for the first error only") {
		struct kevent ch2[3] = {
			ev(22, EVFILT_USER, EV_DELETE),
			ev(23, EVFILT_USER, EV_DELETE),
			ev(24, EVFILT_USER, EV_ADD),
		};
		struct kevent out[1];
		errno = 0;
		CHECK(kevent(kq, ch2, 3, out, 1, nullptr) == -1);
		CHECK(errno == ENOENT);
		CHECK(change_err(kq, 24, EVFILT_USER, EV_DELETE) == ENOENT);
	}
}

TEST_CASE("EV_RECEIPT reports every change, data 0 on success", "[kqueue][changes]")
{
	Kq kq;
	struct kevent ch[3] = {
		ev(30, EVFILT_USER, EV_ADD | EV_RECEIPT, NOTE_TRIGGER),
		ev(31, EVFILT_USER, EV_DELETE | EV_RECEIPT),
		ev(32, EVFILT_USER, EV_ADD | EV_RECEIPT),
	};
	struct kevent out[3];
	REQUIRE(kevent(kq, ch, 3, out, 3, nullptr) == 3);
	CHECK(out[0].ident == 30);
	CHECK(out[0].flags == EV_ERROR);
	CHECK(out[0].data == 0);
	CHECK(out[1].data == ENOENT);
	CHECK(out[2].data == 0);

	SECTION("receipts do not drain pending events") {
		// 30 is triggered, yet the receipt-only call above returned none.
		auto evs = wait(kq, 4);
		REQUIRE(evs.size() == 1);
		CHECK(evs[0].ident == 30);
	}
	SECTION("no room for a receipt: that change is applied, later ones are not") {
		struct kevent ch2[3] = {
			ev(33, EVFILT_USER, EV_ADD | EV_RECEIPT),
			ev(34, EVFILT_USER, EV_ADD | EV_RECEIPT),
			ev(35, EVFILT_USER, EV_ADD | EV_RECEIPT),
		};
		struct kevent one[1];
		CHECK(kevent(kq, ch2, 3, one, 1, nullptr) == 1);
		CHECK(one[0].ident == 33);
		CHECK(change_err(kq, 34, EVFILT_USER, EV_DELETE) == 0);
		CHECK(change_err(kq, 35, EVFILT_USER, EV_DELETE) == ENOENT);
	}
}

TEST_CASE("the changelist and eventlist may be the same array", "[kqueue][changes]")
{
	Kq kq;
	struct kevent arr[2] = {
		ev(40, EVFILT_USER, EV_DELETE),
		ev(41, EVFILT_USER, EV_DELETE),
	};
	REQUIRE(kevent(kq, arr, 2, arr, 2, nullptr) == 2);
	CHECK(arr[0].ident == 40);
	CHECK(arr[1].ident == 41);
	CHECK(arr[1].data == ENOENT);
}

TEST_CASE("{ident, filter} is unique: EV_ADD again modifies", "[kqueue][changes]")
{
	Kq kq;
	int a = 0, b = 0;
	REQUIRE(change(kq, 50, EVFILT_USER, EV_ADD, 0, 0, &a) == 0);
	REQUIRE(change(kq, 50, EVFILT_USER, EV_ADD, NOTE_TRIGGER, 0, &b) == 0);
	auto evs = wait(kq, 4);
	REQUIRE(evs.size() == 1);
	CHECK(evs[0].udata == &b);
	// Same ident, other filter: a different knote.
	REQUIRE(change(kq, 50, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 1000) == 0);
	CHECK(change_err(kq, 50, EVFILT_TIMER, EV_DELETE) == 0);
	CHECK(change_err(kq, 50, EVFILT_USER, EV_DELETE) == 0);
	CHECK(change_err(kq, 50, EVFILT_USER, EV_DELETE) == ENOENT);
}

int main(int argc, char **argv)
{
	return catch2_run(argc, argv);
}
