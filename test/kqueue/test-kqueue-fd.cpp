// EVFILT_READ / EVFILT_WRITE on pipes and sockets.
#include "kq-test.hpp"

#include <climits>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <set>

using namespace kqt;

namespace {

struct SockPair {
	int a = -1, b = -1;
	SockPair()
	{
		int sv[2];
		REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
		a = sv[0];
		b = sv[1];
	}
	~SockPair()
	{
		if (a >= 0)
			close(a);
		if (b >= 0)
			close(b);
	}
	SockPair(const SockPair &) = delete;
	SockPair &operator=(const SockPair &) = delete;
	void close_b() { close(b); b = -1; }
};

uintptr_t id(int fd) { return static_cast<uintptr_t>(fd); }

void set_nonblock(int fd)
{
	REQUIRE(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0);
}

int tcp_listener(uint16_t &port)
{
	int s = socket(AF_INET, SOCK_STREAM, 0);
	REQUIRE(s >= 0);
	struct sockaddr_in sa {};
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	REQUIRE(bind(s, reinterpret_cast<struct sockaddr *>(&sa), sizeof sa) == 0);
	REQUIRE(listen(s, 8) == 0);
	socklen_t len = sizeof sa;
	REQUIRE(getsockname(s, reinterpret_cast<struct sockaddr *>(&sa), &len) == 0);
	port = ntohs(sa.sin_port);
	return s;
}

int tcp_connect(uint16_t port)
{
	int c = socket(AF_INET, SOCK_STREAM, 0);
	REQUIRE(c >= 0);
	struct sockaddr_in sa {};
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(port);
	REQUIRE(connect(c, reinterpret_cast<struct sockaddr *>(&sa), sizeof sa) == 0);
	return c;
}

} // namespace

TEST_CASE("EVFILT_READ is level-triggered with data = bytes readable", "[kqueue][read]")
{
	Kq kq;
	Pipe p;
	int tag = 0;
	REQUIRE(change(kq, id(p.rd), EVFILT_READ, EV_ADD, 0, 0, &tag) == 0);
	CHECK(wait(kq, 4).empty());
	put(p.wr, "hello", 5);
	for (int round = 0; round < 3; round++) {
		auto evs = wait(kq, 4);
		REQUIRE(evs.size() == 1);
		CHECK(evs[0].ident == id(p.rd));
		CHECK(evs[0].filter == EVFILT_READ);
		CHECK(evs[0].udata == &tag);
		CHECK(evs[0].data == 5);
		CHECK((evs[0].flags & (EV_EOF | EV_ERROR)) == 0);
	}
	char buf[8];
	REQUIRE(read(p.rd, buf, 2) == 2);
	auto evs = wait(kq, 4);
	REQUIRE(evs.size() == 1);
	CHECK(evs[0].data == 3);
	REQUIRE(read(p.rd, buf, 3) == 3);
	CHECK(wait(kq, 4).empty());
}

TEST_CASE("EVFILT_READ on a socket: data, EV_DELETE", "[kqueue][read]")
{
	Kq kq;
	SockPair sp;
	REQUIRE(change(kq, id(sp.a), EVFILT_READ, EV_ADD) == 0);
	put(sp.b, "0123456789", 10);
	auto evs = wait(kq, 4, 1000);
	REQUIRE(evs.size() == 1);
	CHECK(evs[0].data == 10);
	REQUIRE(change(kq, id(sp.a), EVFILT_READ, EV_DELETE) == 0);
	CHECK(wait(kq, 4).empty());
	CHECK(change_err(kq, id(sp.a), EVFILT_READ, EV_DELETE) == ENOENT);
}

TEST_CASE("EVFILT_READ on a listening TCP socket: data = accept backlog", "[kqueue][read]")
{
	Kq kq;
	uint16_t port = 0;
	int ls = tcp_listener(port);
	REQUIRE(change(kq, id(ls), EVFILT_READ, EV_ADD) == 0);
	CHECK(wait(kq, 4).empty());
	int c1 = tcp_connect(port);
	int c2 = tcp_connect(port);
	auto evs = wait(kq, 4, 1000);
	REQUIRE(evs.size() == 1);
	CHECK(evs[0].ident == id(ls));
	CHECK(evs[0].data == 2);
	close(c1);
	close(c2);
	close(ls);
}

TEST_CASE("EV_CLEAR reports a state change once", "[kqueue][read][flags]")
{
	Kq kq;
	Pipe p;
	REQUIRE(change(kq, id(p.rd), EVFILT_READ, EV_ADD | EV_CLEAR) == 0);
	put(p.wr, "ab", 2);
	auto evs = wait(kq, 4);
	REQUIRE(evs.size() == 1);
	CHECK(evs[0].data == 2);
	CHECK((evs[0].flags & EV_CLEAR) != 0);
	CHECK(wait(kq, 4).empty()); // still readable, but no new data
	put(p.wr, "c", 1);
	evs = wait(kq, 4);
	REQUIRE(evs.size() == 1);
	CHECK(evs[0].data == 3);
	CHECK(wait(kq, 4).empty());
}

TEST_CASE("EV_ONESHOT deletes the knote after delivery", "[kqueue][read][flags]")
{
	Kq kq;
	Pipe p;
	REQUIRE(change(kq, id(p.rd), EVFILT_READ, EV_ADD | EV_ONESHOT) == 0);
	put(p.wr, "x", 1);
	auto evs = wait(kq, 4);
	REQUIRE(evs.size() == 1);
	CHECK((evs[0].flags & EV_ONESHOT) != 0);
	CHECK(wait(kq, 4).empty());
	CHECK(change_err(kq, id(p.rd), EVFILT_READ, EV_DELETE) == ENOENT);
}

TEST_CASE("EV_DISPATCH disables after delivery until EV_ENABLE", "[kqueue][read][flags]")
{
	Kq kq;
	Pipe p;
	REQUIRE(change(kq, id(p.rd), EVFILT_READ, EV_ADD | EV_DISPATCH) == 0);
	put(p.wr, "x", 1);
	REQUIRE(wait(kq, 4).size() == 1);
	CHECK(wait(kq, 4).empty());
	REQUIRE(change(kq, id(p.rd), EVFILT_READ, EV_ENABLE) == 0);
	auto evs = wait(kq, 4);
	REQUIRE(evs.size() == 1);
	CHECK((evs[0].flags & EV_DISPATCH) != 0);
	CHECK(wait(kq, 4).empty());
	// Still registered, just disabled.
	CHECK(change_err(kq, id(p.rd), EVFILT_READ, EV_DELETE) == 0);
}

TEST_CASE("EV_DISABLE and EV_ENABLE", "[kqueue][read][flags]")
{
	Kq kq;
	Pipe p;
	put(p.wr, "x", 1);
	REQUIRE(change(kq, id(p.rd), EVFILT_READ, EV_ADD | EV_DISABLE) == 0);
	CHECK(wait(kq, 4).empty());
	REQUIRE(change(kq, id(p.rd), EVFILT_READ, EV_ENABLE) == 0);
	CHECK(wait(kq, 4).size() == 1);
	REQUIRE(change(kq, id(p.rd), EVFILT_READ, EV_DISABLE) == 0);
	CHECK(wait(kq, 4).empty());
	// EV_ADD of an existing disabled knote leaves it disabled.
	REQUIRE(change(kq, id(p.rd), EVFILT_READ, EV_ADD) == 0);
	CHECK(wait(kq, 4).empty());
	REQUIRE(change(kq, id(p.rd), EVFILT_READ, EV_ENABLE) == 0);
	CHECK(wait(kq, 4).size() == 1);
}

TEST_CASE("EVFILT_WRITE: data = free space in the write buffer", "[kqueue][write]")
{
	Kq kq;
	SECTION("pipe") {
		Pipe p;
		int cap = fcntl(p.wr, F_GETPIPE_SZ);
		REQUIRE(cap > 0);
		REQUIRE(change(kq, id(p.wr), EVFILT_WRITE, EV_ADD) == 0);
		auto evs = wait(kq, 4);
		REQUIRE(evs.size() == 1);
		CHECK(evs[0].filter == EVFILT_WRITE);
		CHECK(evs[0].data == cap);
		put(p.wr, "0123456789", 10);
		evs = wait(kq, 4);
		REQUIRE(evs.size() == 1);
		CHECK(evs[0].data == cap - 10);
	}
	SECTION("socket, until full") {
		SockPair sp;
		set_nonblock(sp.a);
		REQUIRE(change(kq, id(sp.a), EVFILT_WRITE, EV_ADD) == 0);
		auto evs = wait(kq, 4);
		REQUIRE(evs.size() == 1);
		int64_t empty_space = evs[0].data;
		CHECK(empty_space > 0);
		std::vector<char> chunk(4096, 'x');
		REQUIRE(write(sp.a, chunk.data(), chunk.size()) == 4096);
		evs = wait(kq, 4);
		REQUIRE(evs.size() == 1);
		CHECK(evs[0].data < empty_space);
		while (write(sp.a, chunk.data(), chunk.size()) > 0) {
		}
		CHECK(errno == EAGAIN);
		CHECK(wait(kq, 4).empty());
		// Reader drains: writable again.
		std::vector<char> sink(1 << 20);
		while (recv(sp.b, sink.data(), sink.size(), MSG_DONTWAIT) > 0) {
		}
		CHECK(wait(kq, 4, 1000).size() == 1);
	}
}

TEST_CASE("EV_EOF when the peer hangs up", "[kqueue][eof]")
{
	Kq kq;
	SECTION("socketpair: read keeps data count, write sees EOF too") {
		SockPair sp;
		REQUIRE(change(kq, id(sp.a), EVFILT_READ, EV_ADD) == 0);
		REQUIRE(change(kq, id(sp.a), EVFILT_WRITE, EV_ADD) == 0);
		put(sp.b, "abc", 3);
		sp.close_b();
		auto evs = wait(kq, 4, 1000);
		const struct kevent *r = find(evs, id(sp.a), EVFILT_READ);
		const struct kevent *w = find(evs, id(sp.a), EVFILT_WRITE);
		REQUIRE(r != nullptr);
		REQUIRE(w != nullptr);
		CHECK((r->flags & EV_EOF) != 0);
		CHECK(r->data == 3);
		CHECK(r->fflags == 0);
		CHECK((w->flags & EV_EOF) != 0);
	}
	SECTION("pipe: writer gone gives read EOF") {
		Pipe p;
		REQUIRE(change(kq, id(p.rd), EVFILT_READ, EV_ADD) == 0);
		CHECK(wait(kq, 4).empty());
		p.close_wr();
		auto evs = wait(kq, 4);
		REQUIRE(evs.size() == 1);
		CHECK((evs[0].flags & EV_EOF) != 0);
		CHECK(evs[0].data == 0);
	}
	SECTION("pipe: reader gone gives write EOF") {
		Pipe p;
		REQUIRE(change(kq, id(p.wr), EVFILT_WRITE, EV_ADD) == 0);
		p.close_rd();
		auto evs = wait(kq, 4);
		REQUIRE(evs.size() == 1);
		CHECK((evs[0].flags & EV_EOF) != 0);
	}
	SECTION("TCP reset: EV_EOF, and the socket error left for read()") {
		uint16_t port = 0;
		int ls = tcp_listener(port);
		int c = tcp_connect(port);
		int s = accept(ls, nullptr, nullptr);
		REQUIRE(s >= 0);
		REQUIRE(change(kq, id(c), EVFILT_READ, EV_ADD) == 0);
		struct linger lg {1, 0};
		REQUIRE(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
		close(s); // sends RST
		auto evs = wait(kq, 4, 1000);
		REQUIRE(evs.size() == 1);
		CHECK((evs[0].flags & EV_EOF) != 0);
		char b;
		errno = 0;
		CHECK(read(c, &b, 1) < 0);
		CHECK(errno == ECONNRESET);
		close(c);
		close(ls);
	}
}

TEST_CASE("a small eventlist loses nothing", "[kqueue][queue]")
{
	Kq kq;
	SECTION("both directions of one fd, eventlist of 1") {
		SockPair sp;
		put(sp.b, "x", 1);
		REQUIRE(change(kq, id(sp.a), EVFILT_READ, EV_ADD) == 0);
		REQUIRE(change(kq, id(sp.a), EVFILT_WRITE, EV_ADD) == 0);
		auto first = wait(kq, 1);
		auto second = wait(kq, 1);
		REQUIRE(first.size() == 1);
		REQUIRE(second.size() == 1);
		CHECK(first[0].ident == id(sp.a));
		CHECK(second[0].ident == id(sp.a));
		CHECK(first[0].filter != second[0].filter);
	}
	SECTION("both directions, edge-triggered") {
		SockPair sp;
		put(sp.b, "x", 1);
		REQUIRE(change(kq, id(sp.a), EVFILT_READ, EV_ADD | EV_CLEAR) == 0);
		REQUIRE(change(kq, id(sp.a), EVFILT_WRITE, EV_ADD | EV_CLEAR) == 0);
		auto first = wait(kq, 1);
		auto second = wait(kq, 1);
		REQUIRE(first.size() == 1);
		REQUIRE(second.size() == 1);
		CHECK(first[0].filter != second[0].filter);
		CHECK(wait(kq, 4).empty());
	}
	SECTION("several ready fds, one per call") {
		Pipe p[4];
		std::set<uintptr_t> want, got;
		for (Pipe &pp : p) {
			put(pp.wr, "x", 1);
			REQUIRE(change(kq, id(pp.rd), EVFILT_READ, EV_ADD | EV_CLEAR) == 0);
			want.insert(id(pp.rd));
		}
		for (int i = 0; i < 4; i++) {
			auto evs = wait(kq, 1);
			REQUIRE(evs.size() == 1);
			got.insert(evs[0].ident);
		}
		CHECK(got == want);
		CHECK(wait(kq, 4).empty());
	}
	SECTION("an fd drained while queued is not reported") {
		// epoll lists fds in the order they became ready: x, then y.
		SockPair x;
		Pipe y;
		put(x.b, "x", 1);
		put(y.wr, "y", 1);
		REQUIRE(change(kq, id(x.a), EVFILT_READ, EV_ADD) == 0);
		REQUIRE(change(kq, id(x.a), EVFILT_WRITE, EV_ADD) == 0);
		REQUIRE(change(kq, id(y.rd), EVFILT_READ, EV_ADD) == 0);
		// Room for x's two events; y's is left in the ready queue.
		auto evs = wait(kq, 2);
		REQUIRE(evs.size() == 2);
		REQUIRE(evs[0].ident == id(x.a));
		REQUIRE(evs[1].ident == id(x.a));
		char c;
		REQUIRE(read(y.rd, &c, 1) == 1);
		evs = wait(kq, 4);
		CHECK(find(evs, id(y.rd), EVFILT_READ) == nullptr);
		CHECK(evs.size() == 2);
	}
}

TEST_CASE("an event left over from a full eventlist carries a later EOF", "[kqueue][eof][queue]")
{
	// Found by test/fuzz/fuzz-kqueue: the leftover WRITE event of a socket was returned with the
	// flags epoll gave when it was queued, without the EV_EOF of the peer's close since.
	Kq kq;
	int a[2], b[2];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, a) == 0);
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, b) == 0);
	REQUIRE(change(kq, id(b[0]), EVFILT_WRITE, EV_ADD) == 0);
	put(a[1], "x", 1);
	REQUIRE(change(kq, id(a[0]), EVFILT_READ, EV_ADD) == 0);
	REQUIRE(change(kq, id(a[0]), EVFILT_WRITE, EV_ADD) == 0);
	// One slot per call: epoll hands out b[0], then a[0] (READ returned, WRITE left queued).
	auto evs = wait(kq, 1);
	REQUIRE(evs.size() == 1);
	CHECK(evs[0].ident == id(b[0]));
	evs = wait(kq, 1);
	REQUIRE(evs.size() == 1);
	CHECK(evs[0].ident == id(a[0]));
	CHECK(evs[0].filter == EVFILT_READ);
	close(a[1]);
	evs = wait(kq, 1);
	REQUIRE(evs.size() == 1);
	CHECK(evs[0].ident == id(a[0]));
	CHECK(evs[0].filter == EVFILT_WRITE);
	CHECK((evs[0].flags & EV_EOF) != 0);
	close(a[0]);
	close(b[0]);
	close(b[1]);
}

TEST_CASE("EV_ADD|EV_DELETE on a reused number adds a knote for the new file", "[kqueue][close]")
{
	// Found by test/fuzz/fuzz-kqueue: the knote left from the closed file was deleted instead
	// (ENOENT), where FreeBSD has dropped it at close() and so creates one.
	Kq kq;
	int old_rd;
	{
		Pipe p;
		old_rd = p.rd;
		REQUIRE(change(kq, id(p.rd), EVFILT_READ, EV_ADD) == 0);
	}
	Pipe p;
	if (p.rd != old_rd) {
		WARN("the number was not reused; nothing to check");
		return;
	}
	put(p.wr, "x", 1);
	CHECK(change_err(kq, id(p.rd), EVFILT_READ, EV_ADD | EV_DELETE) == 0);
	auto evs = wait(kq, 4);
	REQUIRE(evs.size() == 1);
	CHECK(evs[0].ident == id(p.rd));
	CHECK(evs[0].data == 1);
}

TEST_CASE("fd errors: EBADF for bad fds", "[kqueue][close]")
{
	Kq kq;
	CHECK(change_err(kq, 100000, EVFILT_READ, EV_ADD) == EBADF);
	// Found by test/fuzz/fuzz-kqueue: the fd table grew to the number before it was checked,
	// so this asked for tens of gigabytes (ENOMEM, or an abort under AddressSanitizer).
	CHECK(change_err(kq, INT_MAX, EVFILT_READ, EV_ADD) == EBADF);
	CHECK(change_err(kq, INT_MAX - 1, EVFILT_WRITE, EV_ADD | EV_ONESHOT) == EBADF);
	Pipe p;
	int fd = dup(p.rd);
	close(fd);
	CHECK(change_err(kq, id(fd), EVFILT_READ, EV_ADD) == EBADF);
	CHECK(change_err(kq, id(fd), EVFILT_WRITE, EV_DELETE) == EBADF);
	CHECK(change_err(kq, id(p.rd), EVFILT_WRITE, EV_DELETE) == ENOENT);
}

TEST_CASE("close() of a watched fd and reuse of its number", "[kqueue][close]")
{
	Kq kq;
	int pr[2];
	REQUIRE(pipe(pr) == 0);
	int fd = pr[0];
	put(pr[1], "old", 3); // readable at the time it is closed
	int old_tag = 0, new_tag = 0;
	REQUIRE(change(kq, id(fd), EVFILT_READ, EV_ADD, 0, 0, &old_tag) == 0);
	REQUIRE(close(fd) == 0);

	SECTION("EV_DELETE after close is EBADF") {
		CHECK(change_err(kq, id(fd), EVFILT_READ, EV_DELETE) == EBADF);
		CHECK(change_err(kq, id(fd), EVFILT_READ, EV_DELETE) == EBADF);
	}
	SECTION("the stale knote never reports the new file; EV_ADD watches it") {
		Pipe q;
		REQUIRE(dup2(q.rd, fd) == fd);
		put(q.wr, "new!", 4);
		CHECK(wait(kq, 4).empty());
		REQUIRE(change(kq, id(fd), EVFILT_READ, EV_ADD, 0, 0, &new_tag) == 0);
		auto evs = wait(kq, 4);
		REQUIRE(evs.size() == 1);
		CHECK(evs[0].udata == &new_tag);
		CHECK(evs[0].data == 4);
		close(fd);
	}
	SECTION("EV_ADD of the other filter drops the stale knote") {
		SockPair sp;
		REQUIRE(dup2(sp.a, fd) == fd);
		put(sp.b, "zz", 2); // the new file is readable too
		REQUIRE(change(kq, id(fd), EVFILT_WRITE, EV_ADD) == 0);
		auto evs = wait(kq, 4);
		REQUIRE(evs.size() == 1);
		CHECK(evs[0].filter == EVFILT_WRITE);
		CHECK(change_err(kq, id(fd), EVFILT_READ, EV_DELETE) == ENOENT);
		close(fd);
	}
	close(pr[1]);
}

TEST_CASE("a number closed unseen with its knote disabled, then a socket: WRITE data is its room", "[kqueue][close]")
{
	// As documented, nothing notices that close(); what was learnt of the pipe must not be
	// applied to the socket once the knotes register again.
	Kq kq;
	Pipe p;
	int fd = p.rd;
	REQUIRE(change(kq, id(fd), EVFILT_READ, EV_ADD) == 0);
	put(p.wr, "x", 1);
	REQUIRE(wait(kq, 4).size() == 1); // the emulation has seen a pipe at this number
	REQUIRE(change(kq, id(fd), EVFILT_READ, EV_DISABLE) == 0);
	SockPair sp;
	REQUIRE(dup2(sp.a, fd) == fd); // closes the pipe's read end
	REQUIRE(change(kq, id(fd), EVFILT_WRITE, EV_ADD) == 0);
	auto evs = wait(kq, 4);
	REQUIRE(evs.size() == 1);
	CHECK(evs[0].filter == EVFILT_WRITE);
	CHECK(evs[0].data > 0);
}

TEST_CASE("a change to the knote of a closed fd whose number is now a regular file: ENOENT", "[kqueue][close]")
{
	// FreeBSD's close() dropped the knote, so there is nothing to delete or enable; epoll's
	// EPERM for a regular file must not leak through.
	Kq kq;
	char path[] = "/tmp/kq-test-XXXXXX";
	int file = mkstemp(path);
	REQUIRE(file >= 0);
	unlink(path);
	for (unsigned short flags : {EV_DELETE, EV_ENABLE, EV_DISABLE}) {
		SockPair sp;
		int fd = sp.a;
		REQUIRE(change(kq, id(fd), EVFILT_READ, EV_ADD) == 0);
		REQUIRE(dup2(file, fd) == fd); // closes the socket, the number is the file's now
		CHECK(change_err(kq, id(fd), EVFILT_READ, flags) == ENOENT);
		CHECK(change_err(kq, id(fd), EVFILT_READ, EV_DELETE) == ENOENT);
	}
	close(file);
}

TEST_CASE("a queued event of a closed fd is never reported", "[kqueue][close]")
{
	Kq kq;
	int sv[2];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	put(sv[1], "x", 1);
	REQUIRE(change(kq, id(sv[0]), EVFILT_READ, EV_ADD) == 0);
	REQUIRE(change(kq, id(sv[0]), EVFILT_WRITE, EV_ADD) == 0);
	// One of the two directions is delivered, the other stays queued.
	auto evs = wait(kq, 1);
	REQUIRE(evs.size() == 1);
	REQUIRE(close(sv[0]) == 0);
	// Same number, a readable and writable file that was never added.
	SockPair other;
	put(other.b, "y", 1);
	REQUIRE(dup2(other.a, sv[0]) == sv[0]);
	evs = wait(kq, 4);
	CHECK(evs.empty());
	CHECK(change_err(kq, id(sv[0]), EVFILT_READ, EV_DELETE) == ENOENT);
	CHECK(change_err(kq, id(sv[0]), EVFILT_WRITE, EV_DELETE) == ENOENT);
	close(sv[0]);
	close(sv[1]);
}

TEST_CASE("mixed read/write knotes on many fds", "[kqueue][read][write]")
{
	Kq kq;
	std::vector<SockPair> pairs(16);
	for (SockPair &sp : pairs) {
		REQUIRE(change(kq, id(sp.a), EVFILT_READ, EV_ADD) == 0);
		REQUIRE(change(kq, id(sp.a), EVFILT_WRITE, EV_ADD | EV_ONESHOT) == 0);
	}
	auto evs = wait(kq, 64);
	CHECK(evs.size() == 16); // all writable once, none readable
	for (const struct kevent &k : evs)
		CHECK(k.filter == EVFILT_WRITE);
	CHECK(wait(kq, 64).empty());
	put(pairs[3].b, "x", 1);
	put(pairs[9].b, "y", 1);
	evs = wait(kq, 64);
	REQUIRE(evs.size() == 2);
	CHECK(find(evs, id(pairs[3].a), EVFILT_READ) != nullptr);
	CHECK(find(evs, id(pairs[9].a), EVFILT_READ) != nullptr);
}
