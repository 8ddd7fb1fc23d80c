// The conformance suite's main(): Catch2 itself is compiled once, in test/catch2-impl.cpp.
#include "catch2-run.hpp"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <pthread.h>
#include <thread>
#include <unistd.h>

namespace {

// CONFORMANCE_SIGNAL_STORM=1: a thread sends the process a signal every 200 µs while the suite
// runs, with a handler installed without SA_RESTART, so every blocking call the loop makes
// (epoll_wait, poll, select, kevent, read, write) meets EINTR again and again. The suite must
// pass all the same; the run fails if the storm did not actually reach the process.
std::atomic<unsigned long> storm_hits{0};

void storm_handler(int)
{
	storm_hits.fetch_add(1, std::memory_order_relaxed);
}

class SignalStorm {
public:
	explicit SignalStorm(bool on)
	{
		if (!on)
			return;
		struct sigaction sa {};
		sa.sa_handler = storm_handler;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = 0; // no SA_RESTART: interrupted calls fail with EINTR
		sigaction(signo(), &sa, nullptr);
		thread_ = std::thread([this] {
			// It only sends: every signal, its own and those the tests watch, goes to the others
			// (a kqueue emulated with signalfd needs watched signals blocked in every thread).
			sigset_t all;
			sigfillset(&all);
			pthread_sigmask(SIG_BLOCK, &all, nullptr);
			while (!stop_.load()) {
				kill(getpid(), signo());
				std::this_thread::sleep_for(std::chrono::microseconds(200));
			}
		});
	}
	~SignalStorm() { finish(); }
	void finish()
	{
		if (thread_.joinable()) {
			stop_ = true;
			thread_.join();
		}
	}
	static int signo()
	{
#if defined(SIGRTMIN)
		return SIGRTMIN + 3; // no test watches it
#else
		return SIGWINCH;
#endif
	}
	bool on() const { return thread_.joinable(); }

private:
	std::atomic<bool> stop_{false};
	std::thread thread_;
};

} // namespace

int main(int argc, char **argv)
{
	SignalStorm storm(std::getenv("CONFORMANCE_SIGNAL_STORM") != nullptr);
	bool storming = storm.on();
	int failed = catch2_run(argc, argv);
	storm.finish();
	if (storming) {
		unsigned long hits = storm_hits.load();
		std::printf("signal storm: %lu signals handled during the run\n", hits);
		if (hits < 100) {
			std::printf("signal storm: too few signals reached the process\n");
			return 1;
		}
	}
	return failed;
}
