// The core's private state, shared by the core files and the one handler compiled in.
#pragma once

#include "ioloop.h"
#include "timeout-heap.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <unordered_set>
#include <vector>

struct handler_context; // each handler file defines its own
struct notify_context;  // and each notify backend (notify.hpp)

using release_fn = void(void *context);

// On the functions that call user callbacks: a typed callback (ioloop.h) is called through
// io_callback_t, as in Dovecot, which clang's -fsanitize=function would report.
#if defined(__clang__)
#define IOLOOP_CALLS_TYPED_CALLBACKS __attribute__((no_sanitize("function")))
#else
#define IOLOOP_CALLS_TYPED_CALLBACKS
#endif

struct io {
	struct ioloop *loop;
	struct io_file *file; // null for a file-change watch (notify.cpp)
	unsigned conditions;
	io_callback_t *callback;
	void *context;
	release_fn *release; // frees context (C++ callables); null for C callers
	// An io is called only for waits that began after it was added (semantic 5).
	std::uint64_t added_in_wait;
	bool removed = false;
	bool pending = false;
	std::uint64_t pending_since_wait = 0;
	io *pending_prev = nullptr, *pending_next = nullptr;
	io *next_dead = nullptr;
};

// All ios of one fd: at most one reader (IO_READ and/or IO_ERROR) and one writer (IO_WRITE).
struct io_file {
	int fd;
	io *reader = nullptr;
	io *writer = nullptr;
	unsigned registered = 0; // what the handler has told the kernel
	std::uint32_t handler_slot = 0; // free for the handler (poll: index in its pollfd array)
	io_file *next_dead = nullptr;

	unsigned conditions() const
	{
		return (reader ? reader->conditions : 0u) | (writer ? writer->conditions : 0u);
	}
};

// 48 bytes, a slot of the loop's TimeoutHeap::Slots, which also knows its loop (timeout_loop): a
// quarter less memory than a 64-byte timeout, which at 100,000 timeouts is fewer cache misses per
// operation on a random one (doc/performance.md, "The timeout queue's measured choices").
struct timeout {
	ioloop_detail::TimeoutHeap::Entry heap; // deadline, arming order, place in the queue
	std::int64_t interval_us : 62; // never negative: 62 bits leave room for the flags
	bool repeat : 1;               // else one-shot
	// The context owns what the callback needs and begins with the function that releases it
	// (a release_fn *): the C++ API's callable, or a context record. Kept there rather than
	// in every timeout, since C timeouts have none.
	bool owns_context : 1;
	union {
		timeout_callback_t *callback;
		// A removed timeout is never called again: its callback's place links it on the loop's
		// dead list until the iteration ends.
		timeout *next_dead;
	};
	void *context;
	// What releases the context (null: nothing does).
	release_fn *release() const
	{
		return owns_context ? *static_cast<release_fn *const *>(context) : nullptr;
	}
};
static_assert(sizeof(timeout) == ioloop_detail::TimeoutHeap::Slots::slot_size);

inline struct ioloop *timeout_loop(const timeout *t)
{
	return static_cast<struct ioloop *>(ioloop_detail::TimeoutHeap::Slots::owner_of(t));
}

struct io_signal {
	struct ioloop *loop;
	int signo;
	signal_callback_t *callback;
	void *context;
	release_fn *release;
	io_signal *next_dead = nullptr;
};

struct ioloop {
	ioloop *prev_current = nullptr;
	handler_context *handler = nullptr;
	bool running = false;
	bool in_iteration = false;
	// Since its first ioloop_context, every callback added to it runs through a context
	// record (contexts.cpp); until then nothing on the usual paths looks at contexts.
	bool uses_contexts = false;
	// Counts the time spent in the kernel wait (io_loop_get_wait_usecs, wait timers).
	bool track_wait = false;

	// io registry, indexed by fd
	std::vector<io_file *> files;
	unsigned file_count = 0;
	std::uint64_t wait_count = 0;
	io *pending_head = nullptr, *pending_tail = nullptr;

	ioloop_detail::TimeoutHeap timeouts;
	std::int64_t now_us = 0; // CLOCK_MONOTONIC, cached per iteration

	// Freed at the end of the iteration, so pointers the handler collected stay valid.
	io *dead_ios = nullptr;
	io_file *dead_files = nullptr;
	timeout *dead_timeouts = nullptr;
	io_signal *dead_signals = nullptr;

	// signals (see signals.cpp)
	bool signals_due = false;
	std::vector<io_signal *> signal_watchers;
	bool handler_delivers_signals = false;
	struct io *signal_io = nullptr;
	int signal_pipe[2] = {-1, -1};

	// wakeup and post (see wakeup.cpp)
	bool handler_delivers_wakeup = false;
	struct io *wakeup_io = nullptr;
	int wakeup_fd = -1;       // watched
	int wakeup_write_fd = -1; // written by wakeup(); the same eventfd, or a pipe's other end
	std::mutex posted_lock;
	std::vector<std::function<void()>> posted;
	std::vector<std::function<void()>> posted_running;
	std::atomic<bool> have_posted{false};

	// the active context (contexts.cpp); wait accounting (loop-extras.cpp)
	ioloop_context *cur_ctx = nullptr;
	std::uint64_t wait_usecs = 0;
	io_wait_timer *wait_timers = nullptr;
	// file-change watches (notify.cpp): the live ones, the backend's state and its internal io
	std::unordered_set<io *> notify_watches;
	notify_context *notify = nullptr;
	struct io *notify_io = nullptr;
};

namespace ioloop_detail {

// Signals 1 .. max_signo-1 can be watched (_NSIG on Linux); the core, and a handler that watches
// signals itself, size their per-signal tables with it.
constexpr int max_signo = 65;

// Hands one fd's readiness to its ios. `ready` is what the kernel reported, in io_condition bits:
// IO_READ readable (data or EOF), IO_WRITE writable, IO_ERROR hang-up or error.
void unlink_pending(ioloop &loop, io *i);

IOLOOP_CALLS_TYPED_CALLBACKS inline void call_io(ioloop &loop, io *i)
{
	if (i->pending) // called once per iteration, whether ready or pending
		unlink_pending(loop, i);
	i->callback(i->context);
}

inline void dispatch(ioloop &loop, io_file *file, unsigned ready, std::uint64_t this_wait)
{
	if (file == nullptr)
		return;
	io *r = file->reader; // its conditions are IO_READ and/or IO_ERROR; errors reach it always
	if (r != nullptr && (ready & (r->conditions | IO_ERROR)) != 0 && r->added_in_wait < this_wait) {
		if (!loop.running)
			return;
		call_io(loop, r);
	}
	if ((ready & (IO_WRITE | IO_ERROR)) == 0)
		return;
	io *w = file->writer; // the reader may have removed it
	if (w != nullptr && w->added_in_wait < this_wait && loop.running)
		call_io(loop, w);
}

inline void dispatch(ioloop &loop, io_file *file, unsigned ready)
{
	dispatch(loop, file, ready, loop.wait_count);
}

// A handler calls this once the kernel wait returns, before the first dispatch: callbacks then
// see fresh time, and timeouts they arm start from when they run.
void after_wait(ioloop &loop);

// Core entry points for a handler that delivers signals or wakeups itself.
void signal_raised(ioloop &loop, int signo, unsigned count);
void wakeup_received(ioloop &loop);
// An EVFILT_VNODE event from a kqueue handler (handler.hpp: kqueue_fd).
void notify_vnode_event(ioloop &loop, std::uintptr_t id, unsigned fflags) noexcept;

std::int64_t monotonic_now_us();

} // namespace ioloop_detail
