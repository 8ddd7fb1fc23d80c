// doc/design.md, semantics 11 and 12: signals in loop context, EINTR, wakeup and post across threads.
#include "fixtures.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <csignal>
#include <pthread.h>
#include <sys/wait.h>
#include <system_error>
#include <thread>

using namespace fixtures;
using iol::Cond;

namespace {
void plain_handler(int) {}
} // namespace

TEST_CASE("11. signal callbacks run in loop context, counted, never inside the handler", "[semantic11]")
{
	iol::IoLoop loop;
	int calls = 0;
	std::thread::id ran_on;
	auto w = loop.add_signal(SIGUSR1, [&](int signo) {
		CHECK(signo == SIGUSR1);
		calls++;
		ran_on = std::this_thread::get_id();
		std::string not_async_signal_safe(1000, 'x'); // allocation is fine here, and only here
		(void)not_async_signal_safe;
	});
	std::thread sender([] {
		std::this_thread::sleep_for(ms(30));
		kill(getpid(), SIGUSR1);
	});
	REQUIRE(run_until(loop, [&] { return calls > 0; }));
	sender.join();
	CHECK(calls == 1);
	CHECK(ran_on == std::this_thread::get_id());
	SECTION("several watchers of one signal each see it")
	{
		if (const char *why = fixtures::libkqueue_no_thread_signals) {
			WARN("not checked on this build: " << why);
			return;
		}
		int second = 0;
		auto w2 = loop.add_signal(SIGUSR1, [&](int) { second++; });
		raise(SIGUSR1);
		REQUIRE(run_until(loop, [&] { return second > 0; }));
		CHECK(calls == 2);
	}
	SECTION("another loop may not claim the signal: EBUSY")
	{
		iol::IoLoop other;
		int err = 0;
		try {
			auto w2 = other.add_signal(SIGUSR1, [](int) {});
		} catch (const std::system_error &e) {
			err = e.code().value();
		}
		CHECK(err == EBUSY);
		io_loop_set_current(loop.c_loop());
	}
	SECTION("uncatchable and bad signals: EINVAL")
	{
		for (int bad : {0, -1, SIGKILL, SIGSTOP, 1000}) {
			int err = 0;
			try {
				auto w2 = loop.add_signal(bad, [](int) {});
			} catch (const std::system_error &e) {
				err = e.code().value();
			}
			CHECK(err == EINVAL);
		}
	}
	SECTION("after removal the previous disposition is back and the signal is free")
	{
		w.remove();
		iol::IoLoop other;
		auto w2 = other.add_signal(SIGUSR1, [](int) {});
		CHECK(w2);
		io_loop_set_current(loop.c_loop());
	}
}

TEST_CASE("11. EINTR is not an error", "[semantic11]")
{
	iol::IoLoop loop;
	struct sigaction sa {}, old{};
	sa.sa_handler = plain_handler; // no SA_RESTART: the wait is interrupted
	sigaction(SIGUSR2, &sa, &old);
	SocketPair sp;
	int reads = 0;
	auto io = loop.add_io(sp.a, Cond::read, [&] { reads++; get_byte(sp.a); });
	pthread_t main_thread = pthread_self();
	std::atomic<bool> done{false};
	std::thread sender([&] {
		for (int i = 0; i < 20 && !done; i++) {
			std::this_thread::sleep_for(ms(5));
			pthread_kill(main_thread, SIGUSR2);
		}
		put(sp.b);
	});
	CHECK_NOTHROW(run_until(loop, [&] { return reads > 0; }));
	done = true;
	sender.join();
	CHECK(reads == 1);
	sigaction(SIGUSR2, &old, nullptr);
}

TEST_CASE("11. SIGCHLD and SIGHUP reach their watchers", "[semantic11]")
{
	iol::IoLoop loop;
	int chld = 0, hup = 0;
	auto wc = loop.add_signal(SIGCHLD, [&](int) { chld++; });
	auto wh = loop.add_signal(SIGHUP, [&](int) { hup++; });
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	REQUIRE(run_until(loop, [&] { return chld > 0; }));
	int status = 0;
	CHECK(wait_child(pid, status) == pid);
	if (const char *why = fixtures::libkqueue_no_thread_signals) {
		WARN("SIGHUP not checked on this build: " << why);
		return;
	}
	raise(SIGHUP);
	REQUIRE(run_until(loop, [&] { return hup > 0; }));
}

TEST_CASE("12. wakeup() from another thread ends a blocked wait", "[semantic12]")
{
	iol::IoLoop loop;
	iol::Timeout guard = loop.add_oneshot(ms(5000), [] {});
	std::atomic<bool> woken{false};
	std::thread waker([&] {
		std::this_thread::sleep_for(ms(50));
		woken = true;
		loop.wakeup();
	});
	auto start = Clock::now();
	// One wait, unless a signal (the signal-storm run) ends it early: that is an empty iteration.
	do
		loop.run_once();
	while (!woken);
	double took = ms_since(start);
	waker.join();
	CHECK(took >= 40);
	CHECK(took < 2000);
}

TEST_CASE("12. post(fn) from other threads runs each fn once, in the loop thread", "[semantic12]")
{
	iol::IoLoop loop;
	constexpr int per_thread = 500, threads = 4;
	std::atomic<int> ran{0};
	int ran_in_loop_thread = 0;
	auto me = std::this_thread::get_id();
	std::vector<std::thread> posters;
	for (int t = 0; t < threads; t++)
		posters.emplace_back([&] {
			for (int i = 0; i < per_thread; i++)
				loop.post([&] {
					ran++;
					if (std::this_thread::get_id() == me)
						ran_in_loop_thread++;
				});
		});
	REQUIRE(run_until(loop, [&] { return ran == per_thread * threads; }, ms(10000)));
	for (auto &t : posters)
		t.join();
	iterate(loop, 2);
	CHECK(ran == per_thread * threads);
	CHECK(ran_in_loop_thread == per_thread * threads);
}

// A daemon stops its worker loops by posting each a function that stops it; the worker thread
// then returns from run() and destroys its loop at once, while the posting thread may still be
// inside post(). post() must be done with the loop by the time the function can run (under
// ThreadSanitizer or AddressSanitizer, a wakeup written after that is a race on the freed loop).
TEST_CASE("12. a loop may be destroyed as soon as a function posted to it has run", "[semantic12]")
{
	for (int i = 0; i < 300; i++) {
		std::atomic<iol::IoLoop *> published{nullptr};
		std::thread worker([&] {
			iol::IoLoop loop;
			// busy, as a worker with clients is: the posted function may then run before the
			// loop has read the poster's wakeup, or without ever reading it
			auto busy = loop.add_timeout(std::chrono::microseconds(0), [] {});
			published.store(&loop);
			loop.run(); // until the posted function stops it; then the loop goes
		});
		iol::IoLoop *loop;
		while ((loop = published.load()) == nullptr)
			std::this_thread::yield();
		loop->post([loop] { loop->stop(); });
		worker.join();
	}
}

TEST_CASE("one loop per thread, each with its own current_ioloop", "[threads]")
{
	// Catch2's assertions are not thread-safe (ThreadSanitizer reports its counters racing), so
	// the threads only count what they saw and the main thread checks after join().
	std::atomic<int> done{0}, own_current{0};
	auto body = [&] {
		iol::IoLoop loop;
		if (current_ioloop == loop.c_loop())
			own_current++;
		SocketPair sp;
		put(sp.b);
		int reads = 0;
		struct io *io = io_add(sp.a, IO_READ, [](void *c) { (*static_cast<int *>(c))++; }, &reads);
		if (io == nullptr)
			return;
		run_until(loop, [&] { return reads > 0; });
		io_remove(&io);
		if (reads > 0)
			done++;
	};
	std::thread a(body), b(body);
	a.join();
	b.join();
	CHECK(own_current == 2);
	CHECK(done == 2);
}

TEST_CASE("io_loop_recreate after fork: the child runs its own loop", "[fork]")
{
	iol::IoLoop loop;
	SocketPair sp;
	int parent_reads = 0;
	auto io = loop.add_io(sp.a, Cond::read, [&] { parent_reads++; get_byte(sp.a); });
	Pipe report;
	pid_t pid = fork();
	if (pid == 0) {
		int reads = 0;
		loop.recreate();
		auto w = loop.add_oneshot(ms(0), [&] { reads += 100; });
		put(sp.b);
		bool ok = run_until(loop, [&] { return parent_reads > 0 && reads >= 100; });
		// wakeup and signals work in the child too
		std::thread waker([&] { loop.post([&] { reads++; }); });
		ok = ok && run_until(loop, [&] { return reads == 101; });
		waker.join();
		char c = ok ? 'y' : 'n';
		_exit(write(report.w, &c, 1) == 1 ? 0 : 1);
	}
	int status = 0;
	REQUIRE(wait_child(pid, status) == pid);
	CHECK(WIFEXITED(status));
	CHECK(get_byte(report.r) == 'y');
}
