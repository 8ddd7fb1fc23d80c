// doc/design.md, semantics 1-5 and 8-10: how ios are called, removed, added, stopped and refused.
#include "fixtures.hpp"

#include <catch2/catch.hpp>
#include <csignal>
#include <netinet/in.h>
#include <string>
#include <sys/resource.h>
#include <system_error>

using namespace fixtures;
using iol::Cond;

namespace {

int error_of(const std::function<void()> &fn)
{
	try {
		fn();
	} catch (const std::system_error &e) {
		return e.code().value();
	}
	return 0;
}

} // namespace

TEST_CASE("1. level-triggered: a readable fd is reported every iteration until drained", "[semantic1]")
{
	iol::IoLoop loop;
	SocketPair sp;
	put(sp.b, "abc");
	std::string got;
	int calls = 0;
	auto io = loop.add_io(sp.a, Cond::read, [&] {
		calls++;
		got += get_byte(sp.a); // one byte per call: the rest must be reported again
	});
	iterate(loop, 6);
	CHECK(got == "abc");
	CHECK(calls == 3);
}

TEST_CASE("2. IO_READ fires on data, on EOF and on error", "[semantic2]")
{
	iol::IoLoop loop;
	SECTION("data")
	{
		SocketPair sp;
		int calls = 0;
		auto io = loop.add_io(sp.a, Cond::read, [&] { calls++; });
		iterate(loop, 2);
		CHECK(calls == 0); // nothing to read: never called
		put(sp.b);
		REQUIRE(run_until(loop, [&] { return calls > 0; }));
	}
	SECTION("EOF: read() then returns 0")
	{
		SocketPair sp;
		ssize_t got = -2;
		auto io = loop.add_io(sp.a, Cond::read, [&] {
			char c;
			got = read(sp.a, &c, 1);
		});
		sp.b.reset();
		REQUIRE(run_until(loop, [&] { return got != -2; }));
		CHECK(got == 0);
	}
	SECTION("error: a TCP reset")
	{
		if (const char *why = fixtures::libkqueue_eats_so_error) {
			WARN("not checked on this build: " << why);
			return;
		}
		Fd listener(socket(AF_INET, SOCK_STREAM, 0));
		sockaddr_in sa{};
		sa.sin_family = AF_INET;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		socklen_t len = sizeof sa;
		REQUIRE(bind(listener, reinterpret_cast<sockaddr *>(&sa), len) == 0);
		REQUIRE(listen(listener, 1) == 0);
		REQUIRE(getsockname(listener, reinterpret_cast<sockaddr *>(&sa), &len) == 0);
		Fd client(socket(AF_INET, SOCK_STREAM, 0));
		REQUIRE(connect_loopback(client, sa));
		Fd server(fixtures::nonblocking(accept(listener, nullptr, nullptr)));
		linger lg{1, 0}; // close with RST
		setsockopt(client, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
		int err = 0;
		auto io = loop.add_io(server, Cond::read, [&] {
			char c;
			if (read(server, &c, 1) < 0)
				err = errno;
		});
		client.reset();
		REQUIRE(run_until(loop, [&] { return err != 0; }));
		CHECK(err == ECONNRESET);
	}
}

TEST_CASE("2. IO_WRITE fires on space and on error", "[semantic2]")
{
	iol::IoLoop loop;
	std::signal(SIGPIPE, SIG_IGN);
	SECTION("space")
	{
		SocketPair sp;
		int calls = 0;
		auto io = loop.add_io(sp.a, Cond::write, [&] { calls++; });
		REQUIRE(run_until(loop, [&] { return calls > 0; }));
	}
	SECTION("space again after the buffer drains")
	{
		SocketPair sp;
		char buf[4096] = {};
		while (write(sp.a, buf, sizeof buf) > 0) {
		}
		int calls = 0;
		auto io = loop.add_io(sp.a, Cond::write, [&] { calls++; });
		iterate(loop, 2);
		CHECK(calls == 0); // full: not writable
		while (read(sp.b, buf, sizeof buf) > 0) {
		}
		REQUIRE(run_until(loop, [&] { return calls > 0; }));
	}
	SECTION("error: the pipe's read end is closed")
	{
		Pipe p;
		int err = 0;
		char fill[4096] = {};
		while (write(p.w, fill, sizeof fill) > 0) { // full, so only the error makes it ready
		}
		auto io = loop.add_io(p.w, Cond::write, [&] {
			if (write(p.w, "x", 1) < 0)
				err = errno;
		});
		iterate(loop, 2);
		CHECK(err == 0);
		p.r.reset();
		REQUIRE(run_until(loop, [&] { return err != 0; }));
		CHECK(err == EPIPE);
	}
}

TEST_CASE("2. IO_ERROR alone fires on hang-up only", "[semantic2]")
{
	iol::IoLoop loop;
	Pipe p;
	int calls = 0;
	auto io = loop.add_io(p.w, Cond::error, [&] { calls++; });
	iterate(loop, 3);
	CHECK(calls == 0); // writable, but nobody asked for IO_WRITE
	p.r.reset();
	REQUIRE(run_until(loop, [&] { return calls > 0; }));
}

TEST_CASE("3. a reader and a writer on one fd both fire in one iteration, once each", "[semantic3]")
{
	iol::IoLoop loop;
	SocketPair sp;
	put(sp.b);
	int reads = 0, writes = 0;
	auto r = loop.add_io(sp.a, Cond::read, [&] { reads++; });
	auto w = loop.add_io(sp.a, Cond::write, [&] { writes++; });
	loop.run_once();
	CHECK(reads == 1);
	CHECK(writes == 1);
}

TEST_CASE("4. removing ios inside callbacks is safe and final", "[semantic4]")
{
	iol::IoLoop loop;
	SECTION("itself, while still readable")
	{
		SocketPair sp;
		put(sp.b);
		int calls = 0;
		iol::Io io;
		io = loop.add_io(sp.a, Cond::read, [&] {
			calls++;
			io.remove();
		});
		iterate(loop, 4);
		CHECK(calls == 1);
		CHECK(!io);
	}
	SECTION("another io already collected as ready in this iteration")
	{
		SocketPair s1, s2;
		put(s1.b);
		put(s2.b);
		int c1 = 0, c2 = 0;
		iol::Io io1, io2;
		io1 = loop.add_io(s1.a, Cond::read, [&] {
			c1++;
			get_byte(s1.a);
			io2.remove();
		});
		io2 = loop.add_io(s2.a, Cond::read, [&] {
			c2++;
			get_byte(s2.a);
			io1.remove();
		});
		iterate(loop, 4);
		CHECK(c1 + c2 == 1); // whichever ran first removed the other before its turn
		CHECK(bool(io1) != bool(io2));
	}
	SECTION("another io, then its fd is closed and the number reused in the same callback")
	{
		SocketPair s1, s2;
		put(s1.b);
		put(s2.b);
		int c1 = 0, c2 = 0, fresh = 0;
		iol::Io io1, io2, io3;
		SocketPair s3;
		auto kill_other = [&](iol::Io &other, Fd &other_fd) {
			int number = other_fd.get();
			other.remove();
			other_fd.reset();
			REQUIRE(dup2(s3.a, number) == number); // same number, another socket with data
			other_fd.reset(number);
			put(s3.b);
			io3 = loop.add_io(number, Cond::read, [&] { fresh++; get_byte(number); });
		};
		io1 = loop.add_io(s1.a, Cond::read, [&] {
			c1++;
			get_byte(s1.a);
			if (io2)
				kill_other(io2, s2.a);
		});
		io2 = loop.add_io(s2.a, Cond::read, [&] {
			c2++;
			get_byte(s2.a);
			if (io1)
				kill_other(io1, s1.a);
		});
		loop.run_once();
		CHECK(c1 + c2 == 1);
		CHECK(fresh == 0); // added in a callback: not before the next wait
		REQUIRE(run_until(loop, [&] { return fresh > 0; }));
		CHECK(c1 + c2 == 1);
	}
	SECTION("the other io on the same fd")
	{
		SocketPair sp;
		put(sp.b);
		int reads = 0, writes = 0;
		iol::Io r, w;
		r = loop.add_io(sp.a, Cond::read, [&] {
			reads++;
			w.remove();
			get_byte(sp.a);
		});
		w = loop.add_io(sp.a, Cond::write, [&] {
			writes++;
			r.remove();
		});
		iterate(loop, 3);
		CHECK(reads + writes == 1);
	}
	SECTION("both ios of the fd and close it, from the writer")
	{
		SocketPair sp;
		put(sp.b);
		int reads = 0, writes = 0;
		iol::Io r, w;
		auto drop_all = [&] {
			r.remove();
			w.remove();
			sp.a.reset();
		};
		r = loop.add_io(sp.a, Cond::read, [&] { reads++; drop_all(); });
		w = loop.add_io(sp.a, Cond::write, [&] { writes++; drop_all(); });
		iterate(loop, 3);
		CHECK(reads + writes == 1);
	}
}

TEST_CASE("5. an io added inside a callback is not called before the next wait", "[semantic5]")
{
	iol::IoLoop loop;
	SocketPair sp, other;
	put(sp.b);
	int writes = 0, reads = 0;
	iol::Io r, w, w2;
	r = loop.add_io(sp.a, Cond::read, [&] {
		reads++;
		get_byte(sp.a);
		w = loop.add_io(sp.a, Cond::write, [&] { writes++; });       // same fd, ready now
		w2 = loop.add_io(other.a, Cond::write, [&] { writes++; });   // another fd, ready now
	});
	loop.run_once();
	CHECK(reads == 1);
	CHECK(writes == 0);
	loop.run_once();
	CHECK(writes == 2);
}

TEST_CASE("8. io_loop_stop() in a callback: no further callback in that iteration", "[semantic8]")
{
	iol::IoLoop loop;
	SocketPair s1, s2, s3;
	put(s1.b);
	put(s2.b);
	put(s3.b);
	int calls = 0, timeouts = 0;
	auto t = loop.add_timeout(ms(0), [&] { timeouts++; });
	auto body = [&](int fd) {
		calls++;
		get_byte(fd);
		loop.stop();
	};
	auto i1 = loop.add_io(s1.a, Cond::read, [&] { body(s1.a); });
	auto i2 = loop.add_io(s2.a, Cond::read, [&] { body(s2.a); });
	auto i3 = loop.add_io(s3.a, Cond::read, [&] { body(s3.a); });
	loop.run();
	CHECK(calls == 1);
	CHECK(timeouts == 0);
	loop.run(); // the others were not lost, only deferred
	CHECK(calls == 2);
}

TEST_CASE("io_set_pending: called next iteration without waiting, once", "[pending]")
{
	iol::IoLoop loop;
	SocketPair sp;
	int calls = 0;
	auto io = loop.add_io(sp.a, Cond::read, [&] { calls++; });
	io.set_pending();
	io.set_pending();
	auto start = Clock::now();
	iol::Timeout guard = loop.add_oneshot(ms(2000), [] {});
	loop.run_once();
	CHECK(ms_since(start) < 1000); // did not block on the idle fd
	CHECK(calls == 1);
	iterate(loop, 2);
	CHECK(calls == 1); // not sticky
	SECTION("a pending io that is also ready is still called once")
	{
		put(sp.b);
		io.set_pending();
		loop.run_once();
		CHECK(calls == 2);
	}
	SECTION("removal clears it")
	{
		io.set_pending();
		io.remove();
		iterate(loop, 2);
		CHECK(calls == 1);
	}
}

TEST_CASE("9. bad input gets a clear error and changes nothing", "[semantic9]")
{
	iol::IoLoop loop;
	auto nop = [] {};
	SECTION("invalid and closed fds: EBADF")
	{
		CHECK(error_of([&] { auto io = loop.add_io(-1, Cond::read, nop); }) == EBADF);
		int fd;
		{
			SocketPair sp;
			fd = sp.a.get();
		}
		CHECK(error_of([&] { auto io = loop.add_io(fd, Cond::read, nop); }) == EBADF);
		CHECK(error_of([&] { auto io = loop.add_io(900, Cond::write, nop); }) == EBADF);
	}
	SECTION("a second reader or writer on one fd: EEXIST, the first keeps working")
	{
		SocketPair sp;
		int calls = 0;
		auto r = loop.add_io(sp.a, Cond::read, [&] { calls++; get_byte(sp.a); });
		auto w = loop.add_io(sp.a, Cond::write, nop);
		CHECK(error_of([&] { auto io = loop.add_io(sp.a, Cond::read, nop); }) == EEXIST);
		CHECK(error_of([&] { auto io = loop.add_io(sp.a, Cond::error, nop); }) == EEXIST);
		CHECK(error_of([&] { auto io = loop.add_io(sp.a, Cond::write, nop); }) == EEXIST);
		put(sp.b);
		REQUIRE(run_until(loop, [&] { return calls == 1; }));
	}
	SECTION("conditions that make no sense: EINVAL")
	{
		SocketPair sp;
		CHECK(error_of([&] { auto io = loop.add_io(sp.a, Cond::read | Cond::write, nop); }) == EINVAL);
		CHECK(error_of([&] { auto io = loop.add_io(sp.a, static_cast<Cond>(0), nop); }) == EINVAL);
		CHECK(error_of([&] { auto io = loop.add_io(sp.a, static_cast<Cond>(64), nop); }) == EINVAL);
	}
	SECTION("an fd beyond FD_SETSIZE: refused by select, watched by the others")
	{
		rlimit rl{};
		getrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < 2048) {
			rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, 2048);
			setrlimit(RLIMIT_NOFILE, &rl);
		}
		if (rl.rlim_cur <= FD_SETSIZE + 10) {
			WARN("RLIMIT_NOFILE too low to open an fd beyond FD_SETSIZE; not checked");
			return;
		}
		SocketPair sp;
		Fd high(dup2(sp.a, FD_SETSIZE + 5));
		REQUIRE(high.get() == FD_SETSIZE + 5);
		int calls = 0;
		int err = error_of([&] {
			auto io = loop.add_io(high, Cond::read, [&] { calls++; });
			put(sp.b);
			run_until(loop, [&] { return calls > 0; });
		});
		if (std::string(iol::IoLoop::handler_name()) == "select") {
			CHECK(err == ERANGE);
		} else {
			CHECK(err == 0);
			CHECK(calls > 0);
		}
	}
}

TEST_CASE("10. io_remove_closed() after close(): no error, the number is reusable at once", "[semantic10]")
{
	iol::IoLoop loop;
	SocketPair sp, next;
	int number = sp.a.get();
	int old_calls = 0, new_calls = 0;
	auto io = loop.add_io(number, Cond::read, [&] { old_calls++; });
	sp.a.reset();
	io.remove_closed();
	CHECK(!io);
	REQUIRE(dup2(next.a, number) == number);
	Fd reused(number);
	auto io2 = loop.add_io(number, Cond::read, [&] { new_calls++; get_byte(number); });
	put(next.b);
	REQUIRE(run_until(loop, [&] { return new_calls > 0; }));
	CHECK(old_calls == 0);
}

TEST_CASE("10. an fd closed without io_remove: no crash, the others are served, io_remove is safe after", "[semantic10]")
{
	// A bug in the user's code, but a daemon must survive it: poll and select report the dead
	// fd to its io (POLLNVAL, EBADF) until it is removed; epoll and kqueue drop it silently.
	iol::IoLoop loop;
	SocketPair dead, live;
	int dead_calls = 0, live_calls = 0;
	iol::Io dead_io = loop.add_io(dead.a, Cond::read, [&] {
		dead_calls++;
		dead_io.remove(); // what a user does on EBADF from read()
	});
	iol::Io dead_writer = loop.add_io(dead.b, Cond::write, [&] { dead_writer.remove(); });
	dead.a.reset();
	dead.b.reset();
	auto live_io = loop.add_io(live.a, Cond::read, [&] {
		live_calls++;
		get_byte(live.a);
	});
	put(live.b);
	bool served = false;
	REQUIRE_NOTHROW(served = run_until(loop, [&] { return live_calls > 0; }));
	CHECK(served);
	CHECK(dead_calls <= 1);
	put(live.b);
	REQUIRE_NOTHROW(served = run_until(loop, [&] { return live_calls > 1; }));
	CHECK(served);
	CHECK_NOTHROW(dead_io.remove());
	CHECK_NOTHROW(dead_writer.remove());
}
