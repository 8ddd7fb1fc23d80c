// The two clocks: CLOCK_MONOTONIC drives timeouts, the wall clock is only cached for callers.
#include "core-internal.hpp"
#include "test-hooks.hpp"

#include <atomic>
#include <ctime>

extern "C" {
IOLOOP_THREAD_LOCAL struct ioloop *current_ioloop IOLOOP_TLS_MODEL = nullptr;
IOLOOP_THREAD_LOCAL time_t ioloop_time IOLOOP_TLS_MODEL = 0;
IOLOOP_THREAD_LOCAL struct timeval ioloop_timeval IOLOOP_TLS_MODEL = {0, 0};
}

namespace {
std::atomic<std::int64_t> wall_clock_offset_us{0};
}

namespace ioloop_detail {

std::int64_t monotonic_now_us()
{
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return std::int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

void refresh_wall_time()
{
	timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	std::int64_t us = std::int64_t(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000 +
			  wall_clock_offset_us.load(std::memory_order_relaxed);
	ioloop_timeval.tv_sec = static_cast<time_t>(us / 1000000);
	ioloop_timeval.tv_usec = static_cast<suseconds_t>(us % 1000000);
	ioloop_time = ioloop_timeval.tv_sec;
}

void refresh_time(ioloop &loop)
{
	loop.now_us = monotonic_now_us();
	refresh_wall_time();
}

void after_wait(ioloop &loop)
{
	refresh_time(loop);
}

void set_wall_clock_offset_for_tests(std::int64_t offset_us)
{
	wall_clock_offset_us.store(offset_us, std::memory_order_relaxed);
}

} // namespace ioloop_detail

extern "C" void io_loop_time_refresh(void)
{
	using namespace ioloop_detail;
	if (current_ioloop != nullptr)
		refresh_time(*current_ioloop);
	else
		refresh_wall_time();
}
