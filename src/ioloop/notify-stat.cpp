// The polling notify backend, for systems with neither inotify nor kqueue (and -Dnotify=stat, to
// test it): while any watch is alive, a repeating timeout stat()s every watched path and
// reports the ones whose modification or change time (with nanoseconds), size, device or inode
// differ from the last look. A directory's times change when an entry is created, removed or
// renamed in it, so directories need nothing more.
//
// The interval, 500 ms: a stat() of a cached inode costs about a microsecond, so even a
// thousand watches take some 2 ms of CPU a second, while a change still reaches its watch within
// half a second (an IMAP IDLE client sees new mail in well under the second it would notice).
// Limit: a filesystem's timestamps are coarse (Linux: the scheduler tick, 1-10 ms), so a change
// in the same tick as the previous look that leaves the size alone can be missed until the
// next change.
#include "core-internal.hpp"
#include "ioloop.hpp"
#include "notify.hpp"

#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_map>

namespace {

struct Snapshot {
	dev_t dev;
	ino_t ino;
	off_t size;
	timespec mtime, ctime;
};

Snapshot snapshot(const struct stat &st)
{
#if defined(__APPLE__)
	return Snapshot{st.st_dev, st.st_ino, st.st_size, st.st_mtimespec, st.st_ctimespec};
#else
	return Snapshot{st.st_dev, st.st_ino, st.st_size, st.st_mtim, st.st_ctim};
#endif
}

bool same_time(const timespec &a, const timespec &b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

struct Watch {
	std::string path;
	Snapshot seen;
	bool alive; // false: the path was deleted or replaced; never reported again
};

} // namespace

struct notify_context {
	std::unordered_map<io *, Watch> watches;
	unsigned alive = 0;
	struct timeout *timer = nullptr;
};

namespace ioloop_notify {

const char name[] = "stat";
const unsigned poll_msecs = 500;

} // namespace ioloop_notify

namespace {

void stop_timer_if_idle(notify_context &ctx)
{
	if (ctx.alive == 0 && ctx.timer != nullptr)
		timeout_remove(&ctx.timer);
}

void on_tick(void *context)
{
	auto &loop = *static_cast<ioloop *>(context);
	notify_context &ctx = *loop.notify;
	for (auto &[w, watch] : ctx.watches) {
		if (!watch.alive)
			continue;
		struct stat st;
		if (stat(watch.path.c_str(), &st) < 0) {
			watch.alive = false; // deleted, or no longer reachable: as good as deleted
			ctx.alive--;
			ioloop_detail::notify_changed(*w);
			continue;
		}
		Snapshot now = snapshot(st);
		if (now.dev != watch.seen.dev || now.ino != watch.seen.ino) {
			// another file at the path: the watched one was deleted or renamed away
			watch.alive = false;
			ctx.alive--;
			ioloop_detail::notify_changed(*w);
		} else if (now.size != watch.seen.size || !same_time(now.mtime, watch.seen.mtime) ||
			   !same_time(now.ctime, watch.seen.ctime)) {
			watch.seen = now;
			ioloop_detail::notify_changed(*w);
		}
	}
	stop_timer_if_idle(ctx);
}

} // namespace

namespace ioloop_notify {

int add(ioloop &loop, io &w, const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return errno;
	// inotify and kqueue need read permission on the path itself; so does this, to match
	if (access(path, R_OK) < 0)
		return errno;
	if (loop.notify == nullptr)
		loop.notify = new notify_context;
	notify_context &ctx = *loop.notify;
	if (ctx.timer == nullptr) {
		ctx.timer = timeout_add_to(&loop, poll_msecs, on_tick, &loop);
		if (ctx.timer == nullptr)
			return errno;
	}
	try {
		ctx.watches.emplace(&w, Watch{path, snapshot(st), true});
	} catch (...) {
		stop_timer_if_idle(ctx);
		throw;
	}
	ctx.alive++;
	return 0;
}

void remove(ioloop &loop, io &w) noexcept
{
	notify_context &ctx = *loop.notify;
	auto it = ctx.watches.find(&w);
	if (it == ctx.watches.end())
		return;
	if (it->second.alive)
		ctx.alive--;
	ctx.watches.erase(it);
	stop_timer_if_idle(ctx);
}

int extract_fd(ioloop &) noexcept
{
	return -1;
}

void recreate(ioloop &)
{
	// a timeout and paths: nothing the parent shares
}

void deinit(ioloop &loop) noexcept
{
	notify_context *ctx = loop.notify;
	if (ctx->timer != nullptr)
		timeout_remove(&ctx->timer);
	delete ctx;
	loop.notify = nullptr;
}

} // namespace ioloop_notify
