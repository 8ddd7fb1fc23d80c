// The contract between the core (notify.cpp) and the one notify backend compiled in
// (notify-inotify.cpp, notify-kqueue.cpp or notify-stat.cpp), as with handler.hpp.
//
// A watch is an io with no file. The core owns its life, its callback and every policy: when it
// is called (the pending list: once per iteration however many changes came), removal, freeing.
// A backend only tells the kernel (or its stat() timer) what to watch and reports a change with
// ioloop_detail::notify_changed(), which may be called any number of times.
#pragma once

#include "loop-core.hpp"

namespace ioloop_notify {

extern const char name[];
// 0: the kernel pushes changes; else the polling interval.
extern const unsigned poll_msecs;

// Starts watching path for the io `watch`. Returns 0, or the errno why not: ENOENT means the path
// does not exist, anything else that it cannot be watched. Nothing is kept on failure. Creates
// the backend's state (loop.notify) on the first call.
int add(ioloop &loop, io &watch, const char *path);
// The io is removed: forget it. Called once per watch, also for one the backend already
// dropped (its path was deleted, its fd extracted, or it could not be made again after fork).
void remove(ioloop &loop, io &watch) noexcept;
// Hands over the backend's fd, or -1 if there is none. With an fd, every watch is forgotten
// (the core keeps them as dead handles).
int extract_fd(ioloop &loop) noexcept;
// After fork() and the handler's re-creation: a fresh kernel state for the same watches. A
// watch that cannot be made again is reported with notify_changed() and watch_dead().
void recreate(ioloop &loop);
// At io_loop_destroy(), before the registry is freed: every kernel object and internal io goes.
void deinit(ioloop &loop) noexcept;

} // namespace ioloop_notify

namespace ioloop_detail {
// The watch's path changed: its io is called in the loop's next pending phase.
void notify_changed(io &watch) noexcept;
}
