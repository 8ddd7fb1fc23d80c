// Timeouts on CLOCK_MONOTONIC, kept in a TimeoutHeap. Firing one allocates nothing.
#include "core-internal.hpp"
#include "ioloop.hpp"

#include <climits>
#include <cstddef>

using namespace ioloop_detail;

namespace {

timeout *from_entry(TimeoutHeap::Entry *e)
{
	return reinterpret_cast<timeout *>(reinterpret_cast<char *>(e) - offsetof(timeout, heap));
}

// Time for a timeout armed now: the iteration's cached time inside callbacks (cheap, and what
// the callback saw), a fresh reading outside the loop.
std::int64_t arm_time(ioloop &loop)
{
	if (!loop.in_iteration)
		loop.now_us = monotonic_now_us();
	return loop.now_us;
}

void arm(ioloop &loop, timeout *t, std::int64_t deadline_us)
{
	t->armed_in_wait = loop.wait_count;
	if (t->heap.queued())
		loop.timeouts.rearm(&t->heap, deadline_us);
	else
		loop.timeouts.push(&t->heap, deadline_us);
}

timeout *new_timeout(ioloop *loop, std::int64_t interval_us, bool repeat,
		     timeout_callback_t *callback, void *context, release_fn *release)
{
	if (loop == nullptr || callback == nullptr)
		fail(EINVAL, "timeout_add: no loop or no callback");
	if (interval_us < 0)
		fail(EINVAL, "timeout_add: negative interval");
	auto *t = new timeout;
	*t = timeout{};
	t->loop = loop;
	t->callback = callback;
	t->context = context;
	t->release = release;
	t->interval_us = interval_us;
	t->repeat = repeat;
	return t;
}

} // namespace

namespace ioloop_detail {

void run_timeouts(ioloop &loop)
{
	while (loop.running) {
		TimeoutHeap::Entry *e = loop.timeouts.top();
		if (e == nullptr || e->deadline_us > loop.now_us)
			return;
		timeout *t = from_entry(e);
		// Armed in this iteration: its seq is the newest, so nothing due is queued behind it.
		if (t->armed_in_wait >= loop.wait_count)
			return;
		if (t->repeat) {
			// Keep the phase: the next deadline is a whole number of periods after the last.
			std::int64_t next = e->deadline_us + t->interval_us;
			if (t->interval_us > 0 && next <= loop.now_us)
				next += ((loop.now_us - next) / t->interval_us + 1) * t->interval_us;
			arm(loop, t, std::max(next, loop.now_us));
		} else {
			loop.timeouts.erase(e);
		}
		t->callback(t->context);
	}
}

int timeout_wait_ms(ioloop &loop)
{
	TimeoutHeap::Entry *e = loop.timeouts.top();
	if (e == nullptr)
		return -1;
	loop.now_us = monotonic_now_us();
	std::int64_t left = e->deadline_us - loop.now_us;
	if (left <= 0)
		return 0;
	std::int64_t ms = (left + 999) / 1000; // round up: waking early would only spin
	return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

void free_timeouts(ioloop &loop)
{
	while (timeout *t = loop.dead_timeouts) {
		loop.dead_timeouts = t->next_dead;
		if (t->release != nullptr)
			t->release(t->context);
		delete t;
	}
}

void free_queued_timeouts(ioloop &loop)
{
	while (TimeoutHeap::Entry *e = loop.timeouts.top()) {
		timeout *t = from_entry(e);
		loop.timeouts.erase(e);
		if (t->release != nullptr)
			t->release(t->context);
		delete t;
	}
}

} // namespace ioloop_detail

namespace iol::detail {
::timeout *add_timeout(::ioloop *loop, std::int64_t delay_us, bool repeat,
		       timeout_callback_t *callback, void *context, release_fn *release)
{
	timeout *t = new_timeout(loop, delay_us, repeat, callback, context, release);
	arm(*loop, t, arm_time(*loop) + delay_us);
	return t;
}
} // namespace iol::detail

extern "C" {

struct timeout *timeout_add_to(struct ioloop *loop, unsigned int msecs,
			       timeout_callback_t *callback, void *context)
{
	return with_errno<timeout *>(nullptr, [&] {
		return iol::detail::add_timeout(loop, std::int64_t(msecs) * 1000, true, callback,
						context, nullptr);
	});
}

struct timeout *timeout_add(unsigned int msecs, timeout_callback_t *callback, void *context)
{
	return timeout_add_to(current_ioloop, msecs, callback, context);
}

struct timeout *timeout_add_short(unsigned int msecs, timeout_callback_t *callback, void *context)
{
	return timeout_add_to(current_ioloop, msecs, callback, context);
}

struct timeout *timeout_add_absolute_to(struct ioloop *loop, const struct timeval *time,
					timeout_callback_t *callback, void *context)
{
	return with_errno<timeout *>(nullptr, [&] {
		if (time == nullptr || time->tv_usec < 0 || time->tv_usec >= 1000000)
			fail(EINVAL, "timeout_add_absolute: bad time");
		timeout *t = new_timeout(loop, 0, false, callback, context, nullptr);
		// Converted once: a later wall-clock jump does not move it.
		refresh_wall_time();
		std::int64_t wall_now = std::int64_t(ioloop_timeval.tv_sec) * 1000000 + ioloop_timeval.tv_usec;
		std::int64_t at = std::int64_t(time->tv_sec) * 1000000 + time->tv_usec;
		arm(*loop, t, arm_time(*loop) + std::max<std::int64_t>(at - wall_now, 0));
		return t;
	});
}

struct timeout *timeout_add_absolute(const struct timeval *time, timeout_callback_t *callback,
				     void *context)
{
	return timeout_add_absolute_to(current_ioloop, time, callback, context);
}

void timeout_remove(struct timeout **timeout)
{
	if (timeout == nullptr || *timeout == nullptr)
		return;
	struct timeout *t = std::exchange(*timeout, nullptr);
	ioloop &loop = *t->loop;
	if (t->heap.queued())
		loop.timeouts.erase(&t->heap);
	if (loop.in_iteration) { // its callback may be the one running
		t->next_dead = loop.dead_timeouts;
		loop.dead_timeouts = t;
		return;
	}
	if (t->release != nullptr)
		t->release(t->context);
	delete t;
}

void timeout_reset(struct timeout *timeout)
{
	if (timeout == nullptr)
		return;
	arm(*timeout->loop, timeout, arm_time(*timeout->loop) + timeout->interval_us);
}

} // extern "C"
