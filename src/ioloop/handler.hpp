// The contract between the core and the one handler compiled in (handler-*.cpp).
//
// The core owns every policy: which ios exist, when they are called, timeouts, signals, time.
// A handler only tells the kernel what the core wants watched, waits, and reports readiness.
// Exactly one handler file is linked, so these are plain functions resolved at link time.
#pragma once

#include "loop-core.hpp"

namespace ioloop_handler {

extern const char name[];

// Sets loop.handler. Throws std::system_error when the kernel refuses.
void init(ioloop &loop, unsigned initial_fd_count);
// Releases everything init() and add() made; called once, also after a failed init().
void deinit(ioloop &loop) noexcept;

// file.conditions() changed from old_conditions (0: the fd is new) to a non-zero set.
// Must fail at once, with std::system_error and no change made, on an fd the kernel would not
// watch: EBADF for a bad or closed fd, EPERM for one this handler cannot watch, ERANGE for one
// beyond a fixed limit. On success file.registered is the new set.
void add(ioloop &loop, io_file &file, unsigned old_conditions);

// The fd's last io is gone. closed: the fd was already closed, so make no kernel call about it
// (the number may already belong to a new file). The file may still be in an event array the
// handler collected; the core keeps it allocated until the iteration ends, with no ios.
void remove(ioloop &loop, io_file &file, bool closed) noexcept;

// Waits at most max_wait_ms (-1: no limit, 0: do not block), calls ioloop_detail::after_wait(loop),
// then ioloop_detail::dispatch(loop, file, ready) for each ready fd. EINTR is a normal return.
// Stops calling dispatch once loop.running is false.
void run(ioloop &loop, int max_wait_ms);

// Optional hooks. handler-defaults.cpp defines each one weakly as "not supported" (false, or
// nothing), so a handler without them needs no lines at all; a handler's own definition
// replaces the default at link time.
//
// A handler that can deliver wakeups itself (kevent: EVFILT_USER) returns true from
// wakeup_init(), and the core then calls wakeup() from any thread and expects
// ioloop_detail::wakeup_received() from run(). Returning false makes the core watch an eventfd
// of its own like any io.
bool wakeup_init(ioloop &loop);
void wakeup(ioloop &loop) noexcept;

// A handler that can watch signals itself (kevent: EVFILT_SIGNAL) returns true and later calls
// ioloop_detail::signal_raised() from run(). Returning false makes the core use its self-pipe
// signal handler.
bool signal_watch(ioloop &loop, int signo);
void signal_unwatch(ioloop &loop, int signo) noexcept;

// A kqueue handler returns its kqueue, where the kqueue notify backend adds its EVFILT_VNODE
// knotes (udata: the backend's id of the watch); run() then hands each EVFILT_VNODE event to
// ioloop_detail::notify_vnode_event(). Others: -1.
int kqueue_fd(ioloop &loop) noexcept;

} // namespace ioloop_handler
