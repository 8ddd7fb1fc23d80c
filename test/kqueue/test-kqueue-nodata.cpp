// NOTE_NODATA, the emulation's extension for callers that never read `data` of fd events (the
// ioloop kevent handler): what such an event still reports, and what it leaves out.
#include "kq-test.hpp"

#include <sys/socket.h>

using namespace kqt;

namespace {

uintptr_t id(int fd) { return static_cast<uintptr_t>(fd); }

struct Socks {
	int a = -1, b = -1;
	Socks()
	{
		int sv[2];
		REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
		a = sv[0];
		b = sv[1];
	}
	~Socks()
	{
		close(a);
		if (b >= 0)
			close(b);
	}
	Socks(const Socks &) = delete;
	Socks &operator=(const Socks &) = delete;
};

} // namespace

TEST_CASE("NOTE_NODATA: level-triggered events with data 0, the input fflags and data not echoed",
	  "[kqueue][nodata]")
{
	Kq kq;
	Socks s;
	int rtag = 0, wtag = 0;
	// NOTE_LOWAT and its count are accepted and ignored: they must not come back in the event.
	REQUIRE(change(kq, id(s.a), EVFILT_READ, EV_ADD, NOTE_NODATA | NOTE_LOWAT, 100, &rtag) == 0);
	REQUIRE(change(kq, id(s.a), EVFILT_WRITE, EV_ADD, NOTE_NODATA | NOTE_LOWAT, 7, &wtag) == 0);
	auto evs = wait(kq, 4);
	REQUIRE(evs.size() == 1);
	CHECK(evs[0].filter == EVFILT_WRITE);
	CHECK(evs[0].udata == &wtag);
	CHECK(evs[0].data == 0);
	CHECK(evs[0].fflags == 0);
	put(s.b, "hello", 5);
	for (int round = 0; round < 3; round++) {
		evs = wait(kq, 4);
		REQUIRE(evs.size() == 2);
		const struct kevent *r = find(evs, id(s.a), EVFILT_READ);
		REQUIRE(r != nullptr);
		CHECK(r->udata == &rtag);
		CHECK(r->data == 0); // 5 bytes are there: not counted
		CHECK(r->fflags == 0);
		CHECK(r->flags == 0);
	}
	char buf[8];
	REQUIRE(read(s.a, buf, sizeof buf) == 5);
	evs = wait(kq, 4);
	REQUIRE(evs.size() == 1);
	CHECK(evs[0].filter == EVFILT_WRITE);
}

TEST_CASE("NOTE_NODATA: EV_EOF, EV_ONESHOT, EV_DISPATCH and EV_CLEAR as without it",
	  "[kqueue][nodata]")
{
	Kq kq;
	SECTION("the peer's close gives EV_EOF on both filters") {
		Socks s;
		REQUIRE(change(kq, id(s.a), EVFILT_READ, EV_ADD, NOTE_NODATA) == 0);
		REQUIRE(change(kq, id(s.a), EVFILT_WRITE, EV_ADD, NOTE_NODATA) == 0);
		close(s.b);
		s.b = -1;
		auto evs = wait(kq, 4, 1000);
		const struct kevent *r = find(evs, id(s.a), EVFILT_READ);
		const struct kevent *w = find(evs, id(s.a), EVFILT_WRITE);
		REQUIRE(r != nullptr);
		REQUIRE(w != nullptr);
		CHECK((r->flags & EV_EOF) != 0);
		CHECK((w->flags & EV_EOF) != 0);
	}
	SECTION("EV_ONESHOT") {
		Pipe p;
		REQUIRE(change(kq, id(p.rd), EVFILT_READ, EV_ADD | EV_ONESHOT, NOTE_NODATA) == 0);
		put(p.wr, "x", 1);
		auto evs = wait(kq, 4);
		REQUIRE(evs.size() == 1);
		CHECK(evs[0].data == 0);
		CHECK(wait(kq, 4).empty());
		CHECK(change_err(kq, id(p.rd), EVFILT_READ, EV_DELETE) == ENOENT);
	}
	SECTION("EV_DISPATCH") {
		Pipe p;
		REQUIRE(change(kq, id(p.rd), EVFILT_READ, EV_ADD | EV_DISPATCH, NOTE_NODATA) == 0);
		put(p.wr, "x", 1);
		REQUIRE(wait(kq, 4).size() == 1);
		CHECK(wait(kq, 4).empty());
		REQUIRE(change(kq, id(p.rd), EVFILT_READ, EV_ENABLE) == 0);
		REQUIRE(wait(kq, 4).size() == 1);
		CHECK(wait(kq, 4).empty());
	}
	SECTION("EV_CLEAR") {
		Pipe p;
		REQUIRE(change(kq, id(p.rd), EVFILT_READ, EV_ADD | EV_CLEAR, NOTE_NODATA) == 0);
		put(p.wr, "x", 1);
		REQUIRE(wait(kq, 4).size() == 1);
		CHECK(wait(kq, 4).empty());
		put(p.wr, "y", 1);
		REQUIRE(wait(kq, 4).size() == 1);
	}
}

TEST_CASE("NOTE_NODATA: an event left over from a full eventlist is checked again",
	  "[kqueue][nodata][queue]")
{
	// Only an event fresh from epoll skips the filter: a leftover may be stale by its turn.
	Kq kq;
	Pipe x, y;
	put(x.wr, "x", 1);
	put(y.wr, "y", 1);
	REQUIRE(change(kq, id(x.rd), EVFILT_READ, EV_ADD, NOTE_NODATA) == 0);
	REQUIRE(change(kq, id(y.rd), EVFILT_READ, EV_ADD, NOTE_NODATA) == 0);
	auto evs = wait(kq, 1);
	REQUIRE(evs.size() == 1);
	int left = evs[0].ident == id(x.rd) ? y.rd : x.rd;
	char c;
	REQUIRE(read(left, &c, 1) == 1);
	evs = wait(kq, 4);
	CHECK(find(evs, id(left), EVFILT_READ) == nullptr);
	CHECK(evs.size() == 1);
}

TEST_CASE("NOTE_NODATA is taken when the knote is added, not from a later change",
	  "[kqueue][nodata]")
{
	Kq kq;
	Pipe with, without;
	put(with.wr, "abc", 3);
	put(without.wr, "abc", 3);
	REQUIRE(change(kq, id(with.rd), EVFILT_READ, EV_ADD, NOTE_NODATA) == 0);
	REQUIRE(change(kq, id(without.rd), EVFILT_READ, EV_ADD) == 0);
	REQUIRE(change(kq, id(with.rd), EVFILT_READ, EV_ADD) == 0);
	REQUIRE(change(kq, id(without.rd), EVFILT_READ, EV_ADD, NOTE_NODATA) == 0);
	auto evs = wait(kq, 4);
	REQUIRE(evs.size() == 2);
	const struct kevent *w = find(evs, id(with.rd), EVFILT_READ);
	const struct kevent *wo = find(evs, id(without.rd), EVFILT_READ);
	REQUIRE(w != nullptr);
	REQUIRE(wo != nullptr);
	CHECK(w->data == 0);
	CHECK(wo->data == 3);
}

TEST_CASE("fd events behind a queued user event: every one reported, once", "[kqueue][queue]")
{
	// An fd event goes straight to the eventlist only while nothing is queued; behind a queued
	// event it takes its turn in the queue, also across calls with a small eventlist.
	Kq kq;
	REQUIRE(change(kq, 1, EVFILT_USER, EV_ADD | EV_CLEAR) == 0);
	Pipe p[3];
	for (Pipe &pp : p) {
		put(pp.wr, "x", 1);
		REQUIRE(change(kq, id(pp.rd), EVFILT_READ, EV_ADD | EV_CLEAR, NOTE_NODATA) == 0);
	}
	REQUIRE(change(kq, 1, EVFILT_USER, 0, NOTE_TRIGGER) == 0);
	std::vector<struct kevent> all;
	for (int i = 0; i < 4; i++) {
		auto evs = wait(kq, 1);
		REQUIRE(evs.size() == 1);
		all.push_back(evs[0]);
	}
	CHECK(wait(kq, 4).empty());
	CHECK(find(all, 1, EVFILT_USER) != nullptr);
	for (Pipe &pp : p)
		CHECK(find(all, id(pp.rd), EVFILT_READ) != nullptr);
}
