// Timeouts on CLOCK_MONOTONIC, kept in a TimeoutHeap (timeout-heap.hpp, which also explains the
// data structures). Firing one allocates nothing.
#include "core-internal.hpp"
#include "ioloop.hpp"

#include <cassert>
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

// A new timeout: the queue may allocate (so may timeout_add), and has room in its heap for
// every timeout that exists (new_timeout), so re-arming later never allocates.
timeout *arm_new(ioloop &loop, timeout *t, std::int64_t deadline_us)
{
	return from_entry(loop.timeouts.push(&t->heap, deadline_us, true));
}

void push_again(ioloop &loop, timeout *t, std::int64_t deadline_us)
{
	loop.timeouts.push(&t->heap, deadline_us, false);
}

// timeout_reset outside the loop's callbacks, or of a one-shot that fired. Out of line, as the
// other *_slow: inlined, the usual path saves registers for it, and callgrind counts more
// instructions (doc/performance.md, "Attributes in the timeout queue").
[[gnu::noinline]] void reset_slow(ioloop &loop, timeout *t)
{
	std::int64_t deadline_us = arm_time(loop) + t->interval_us;
	if (!t->heap.queued()) { // a one-shot that fired
		push_again(loop, t, deadline_us);
		return;
	}
	loop.timeouts.rearm(&t->heap, deadline_us);
}

// Longest interval: what the 62-bit field holds, and far from overflowing now + interval.
constexpr std::int64_t max_interval_us = (std::int64_t(1) << 61) - 1;

// Built in one go, its entry too (TimeoutHeap::armed): a default-built timeout's fields written
// again, the compiler could not tell that nothing read them between.
timeout *build(void *slot, TimeoutHeap::Entry heap, std::int64_t interval_us, bool repeat,
	       bool owns_context, timeout_callback_t *callback, void *context)
{
	return new (slot) timeout{heap, interval_us, repeat, owns_context, {callback}, context};
}

timeout *new_timeout(ioloop *loop, std::int64_t interval_us, bool repeat,
		     timeout_callback_t *callback, void *context, release_fn *release)
{
	if (loop == nullptr || callback == nullptr)
		fail(EINVAL, "timeout_add: no loop or no callback");
	if (interval_us < 0 || interval_us > max_interval_us)
		fail(EINVAL, "timeout_add: negative or endless interval");
	// with room in the heap for every timeout: arming one, now or when it is reset after it
	// fired, then cannot fail nor allocate
	void *slot = loop->timeouts.new_slot(loop);
	if (loop->uses_contexts) [[unlikely]] {
		try {
			context_wrap(*loop, callback, context, release);
		} catch (...) {
			loop->timeouts.slots.put(slot);
			throw;
		}
	}
	// A context with a release begins with it (timeout::owns_context): the C++ API's callable
	// (ioloop.hpp) and a context record (contexts.cpp) are built so.
	assert(release == nullptr || *static_cast<release_fn **>(context) == release);
	return build(slot, {}, interval_us, repeat, release != nullptr, callback, context);
}

timeout *add(ioloop *loop, std::int64_t delay_us, bool repeat, timeout_callback_t *callback,
	     void *context, release_fn *release)
{
	timeout *t = new_timeout(loop, delay_us, repeat, callback, context, release);
	return arm_new(*loop, t, arm_time(*loop) + delay_us);
}

// timeout_add when the pool or the queue must grow. Out of line: callgrind counts more instructions inlined
// (doc/performance.md, "Attributes in the timeout queue").
[[gnu::noinline]] timeout *add_c_slow(ioloop *loop, unsigned int msecs, timeout_callback_t *callback,
				      void *context)
{
	return with_errno<timeout *>(nullptr, [&] {
		return add(loop, std::int64_t(msecs) * 1000, true, callback, context, nullptr);
	});
}

// The C API's timeout_add*, without a call through the PLT from one exported function to another.
// The usual case (inside a callback, a slot at hand without allocating) makes no call but, at
// the end, a tail call: the compiler then saves no registers for it, and nothing can throw, so
// it needs no with_errno either. Anything else takes add_c_slow.
inline timeout *add_c(ioloop *loop, unsigned int msecs, timeout_callback_t *callback, void *context)
{
	if (loop == nullptr || callback == nullptr || !loop->in_iteration || loop->uses_contexts)
		return add_c_slow(loop, msecs, callback, context);
	TimeoutHeap &q = loop->timeouts;
	// msecs * 1000 is far below max_interval_us
	void *slot = q.slots.try_take(); // with heap room for it (TimeoutHeap::new_slot)
	if (slot == nullptr)
		return add_c_slow(loop, msecs, callback, context);
	std::int64_t interval_us = std::int64_t(msecs) * 1000;
	timeout *t = build(slot, q.armed(loop->now_us + interval_us), interval_us, true, false,
			   callback, context);
	return from_entry(q.push_armed(&t->heap, true));
}

void free_timeout(ioloop &loop, timeout *t)
{
	if (release_fn *release = t->release())
		release(t->context);
	t->~timeout();
	loop.timeouts.slots.put(t);
}

// timeout_remove of a timeout with a release function, or of the one whose callback runs. Out of
// line: callgrind counts more instructions inlined
// (doc/performance.md, "Attributes in the timeout queue").
[[gnu::noinline]] void remove_slow(ioloop &loop, timeout *t)
{
	if (t->heap.queued())
		loop.timeouts.erase(&t->heap);
	// Only its own callback, running now, still uses it (and, for the C++ API, the callable
	// that release frees): that one waits for the end of the iteration.
	if (&t->heap == loop.timeouts.running) {
		t->next_dead = loop.dead_timeouts;
		loop.dead_timeouts = t;
		return;
	}
	free_timeout(loop, t);
}

} // namespace

namespace ioloop_detail {

IOLOOP_CALLS_TYPED_CALLBACKS void run_timeouts(ioloop &loop)
{
	while (loop.running) {
		TimeoutHeap::Entry *e = loop.timeouts.first_due(loop.now_us);
		if (e == nullptr)
			return;
		timeout *t = from_entry(e);
		// Armed in this iteration: its seq is the newest, so nothing due is queued behind it.
		if (loop.timeouts.armed_this_epoch(e))
			return;
		if (t->repeat) {
			// Keep the phase: the next deadline is a whole number of periods after the last.
			std::int64_t next = e->deadline_us + t->interval_us;
			if (t->interval_us > 0 && next <= loop.now_us)
				next += ((loop.now_us - next) / t->interval_us + 1) * t->interval_us;
			loop.timeouts.rearm_first(e, std::max(next, loop.now_us));
		} else {
			loop.timeouts.erase(e);
		}
		const TimeoutHeap::Entry *outer = std::exchange(loop.timeouts.running, e);
		t->callback(t->context);
		loop.timeouts.running = outer;
	}
}

timeout *move_timeout(ioloop &to, timeout *t)
{
	io_callback_t *callback = t->callback;
	void *context = t->context;
	release_fn *release = t->release();
	// The caller's own three, so that the new one takes the target's context (a fresh add).
	void *record = context_record(callback, context, release);
	timeout *n = new_timeout(&to, t->interval_us, t->repeat, callback, context, release);
	// The monotonic clock is the same in every loop: the deadline, so the time left, carries.
	if (t->heap.queued())
		arm_new(to, n, t->heap.deadline_us);
	// The new one owns the caller's context now: the old one goes without releasing it.
	t->owns_context = false;
	struct timeout *old = t;
	timeout_remove(&old);
	if (record != nullptr)
		context_discard(record);
	return n;
}

int timeout_wait_ms(ioloop &loop)
{
	if (loop.timeouts.empty())
		return -1;
	loop.now_us = monotonic_now_us();
	if (loop.timeouts.first_due(loop.now_us) != nullptr)
		return 0;
	// The earliest key may be a deadline that a reset has since pushed back (timeout-heap.hpp):
	// then this wakes early once, and run_timeouts requeues that timeout at its real deadline.
	// Cheaper than bringing every pushed-back timeout up to date before each wait.
	std::int64_t left = loop.timeouts.earliest_bound() - loop.now_us;
	std::int64_t ms = (left + 999) / 1000; // round up: waking early would only spin
	return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

void free_timeouts(ioloop &loop)
{
	while (timeout *t = loop.dead_timeouts) {
		loop.dead_timeouts = t->next_dead;
		free_timeout(loop, t);
	}
}

void free_queued_timeouts(ioloop &loop)
{
	while (TimeoutHeap::Entry *e = loop.timeouts.last()) { // no sifting
		timeout *t = from_entry(e);
		loop.timeouts.erase(e);
		free_timeout(loop, t);
	}
}

} // namespace ioloop_detail

namespace iol::detail {
::timeout *add_timeout(::ioloop *loop, std::int64_t delay_us, bool repeat,
		       timeout_callback_t *callback, void *context, release_fn *release)
{
	return add(loop, delay_us, repeat, callback, context, release);
}
} // namespace iol::detail

extern "C" {

struct timeout *timeout_add_to(struct ioloop *loop, unsigned int msecs,
			       timeout_callback_t *callback, void *context)
{
	return add_c(loop, msecs, callback, context);
}

struct timeout *timeout_add(unsigned int msecs, timeout_callback_t *callback,
					      void *context)
{
	return add_c(current_ioloop, msecs, callback, context);
}

struct timeout *timeout_add_short(unsigned int msecs,
						    timeout_callback_t *callback, void *context)
{
	return add_c(current_ioloop, msecs, callback, context);
}

struct timeout *timeout_add_short_to(struct ioloop *loop, unsigned int msecs,
				     timeout_callback_t *callback, void *context)
{
	return add_c(loop, msecs, callback, context);
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
		return arm_new(*loop, t, arm_time(*loop) + std::max<std::int64_t>(at - wall_now, 0));
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
	ioloop &loop = *timeout_loop(t);
	// The usual case (a C timeout, not the running one) calls nothing, so that it saves no
	// registers.
	if (t->owns_context || &t->heap == loop.timeouts.running) {
		remove_slow(loop, t);
		return;
	}
	// Freed at once, so that a timeout added next reuses its slot while it is still in the
	// cache (fewer cache misses for a cancel + add). Freed first, then
	// taken out of the queue, which does not read it: that is a tail call.
	std::uint32_t at = t->heap.index;
	std::uint64_t seq = t->heap.node_seq; // read with the index: one cache line
	t->~timeout();
	loop.timeouts.slots.put(t);
	if (at != TimeoutHeap::not_queued)
		loop.timeouts.erase_at(at, seq);
}

void timeout_reset(struct timeout *timeout)
{
	if (timeout == nullptr)
		return;
	ioloop &loop = *timeout_loop(timeout);
	// The usual case (inside a callback, still queued) calls nothing but, maybe, a tail call, so
	// that it saves no registers.
	if (!loop.in_iteration || !timeout->heap.queued()) {
		reset_slow(loop, timeout);
		return;
	}
	loop.timeouts.rearm(&timeout->heap, loop.now_us + timeout->interval_us); // usually lazy
}

} // extern "C"
