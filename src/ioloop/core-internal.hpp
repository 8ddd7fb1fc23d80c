// Functions the core files share with each other (not with handlers).
#pragma once

#include "loop-core.hpp"

#include <cerrno>
#include <cstddef>
#include <system_error>

namespace ioloop_detail {

[[noreturn]] inline void fail(int err, const char *what)
{
	throw std::system_error(err, std::generic_category(), what);
}

// Runs fn, turning a std::system_error into errno for the C API; returns fallback on error.
template <class T, class F> T with_errno(T fallback, F &&fn) noexcept
{
	try {
		return fn();
	} catch (const std::system_error &e) {
		errno = e.code().value();
	} catch (const std::bad_alloc &) {
		errno = ENOMEM;
	} catch (...) {
		errno = EIO;
	}
	return fallback;
}

void refresh_time(ioloop &loop);
void refresh_wall_time();

void run_timeouts(ioloop &loop);
int timeout_wait_ms(ioloop &loop);
void free_timeouts(ioloop &loop);
// At destroy: timeouts the caller left armed.
void free_queued_timeouts(ioloop &loop);

void run_pending(ioloop &loop);
void free_dead(ioloop &loop);
void free_all_ios(ioloop &loop);
void readd_all_files(ioloop &loop);

void signals_init(ioloop &loop);
void run_signals(ioloop &loop);
void signals_deinit(ioloop &loop);
void signals_recreate(ioloop &loop);

void wakeup_init(ioloop &loop);
void run_posted(ioloop &loop);
void wakeup_deinit(ioloop &loop);
void wakeup_recreate(ioloop &loop);

// File-change watches (notify.cpp).
void remove_notify(ioloop &loop, io *watch) noexcept;
void notify_recreate(ioloop &loop);
// At destroy: the backend's state, and the watches the caller left.
void notify_deinit(ioloop &loop) noexcept;

io *add_io(ioloop *loop, int fd, unsigned conditions, io_callback_t *callback, void *context,
	   release_fn *release);

// An internal io (self-pipe, eventfd) that the core watches like any other.
io *add_internal_io(ioloop &loop, int fd, io_callback_t *callback);

inline timeout *timeout_from_entry(TimeoutHeap::Entry *e)
{
	return reinterpret_cast<timeout *>(reinterpret_cast<char *>(e) - offsetof(timeout, heap));
}

// contexts.cpp: a callback added to a loop that uses contexts goes through a record holding
// the loop's active context (if any) and the caller's callback, context and release.
// Throws bad_alloc before changing anything.
void context_wrap(ioloop &loop, io_callback_t *&callback, void *&context, release_fn *&release);
void context_wrap_signal(ioloop &loop, signal_callback_t *&callback, void *&context,
			 release_fn *&release);
// Frees a record whose add failed, without releasing the caller's context.
void context_discard(void *record);
// If callback is wrapped: sets the three to the caller's own and returns the record (to be
// discarded once they have a new owner), else null.
void *context_record(io_callback_t *&callback, void *&context, release_fn *&release);
// Deactivates the loop's active context, if any.
void context_end(ioloop &loop);

// loop-extras.cpp
void set_current(ioloop *loop); // and calls the switch callbacks
void add_wait_time(ioloop &loop, std::int64_t us);
void free_wait_timers(ioloop &loop);

// timeouts.cpp: the timeout continues in `to` (io_loop_move_timeout_to); t is freed.
timeout *move_timeout(ioloop &to, timeout *t);

} // namespace ioloop_detail
