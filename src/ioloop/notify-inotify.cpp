// inotify(7) notify backend (Linux). One inotify fd per loop, opened with the first watch and
// watched by the loop as an internal io. The kernel gives one watch descriptor (wd) per inode
// and inotify fd, so several watches on one path share a wd: a wd maps to its watchers, and the
// kernel watch goes only with the last of them.
#include "core-internal.hpp"
#include "ioloop.hpp"
#include "notify.hpp"

#include <algorithm>
#include <climits>
#include <string>
#include <sys/inotify.h>
#include <unistd.h>
#include <unordered_map>
#include <vector>

namespace {

// Everything a watched file or directory reports that a caller may need to look again for.
constexpr std::uint32_t watch_mask = IN_MODIFY | IN_ATTRIB | IN_CREATE | IN_DELETE | IN_DELETE_SELF |
				     IN_MOVED_FROM | IN_MOVED_TO | IN_MOVE_SELF;

// Reads per iteration: a busy directory cannot hold the loop in this io; what is left stays in
// the kernel queue (which is bounded, IN_Q_OVERFLOW past it) and the fd stays readable.
constexpr int max_reads = 4;

struct Watch {
	int wd; // -1: dropped (path deleted, fd extracted), never reported again
	std::string path;
};

} // namespace

struct notify_context {
	int fd = -1;
	std::unordered_map<io *, Watch> watches;
	std::unordered_map<int, std::vector<io *>> by_wd;
};

namespace {

void drop_wd(notify_context &ctx, int wd)
{
	auto it = ctx.by_wd.find(wd);
	if (it == ctx.by_wd.end())
		return;
	for (io *w : it->second)
		ctx.watches[w].wd = -1;
	ctx.by_wd.erase(it);
}

void on_events(void *context)
{
	auto &loop = *static_cast<ioloop *>(context);
	notify_context &ctx = *loop.notify;
	alignas(inotify_event) char buf[4096];
	for (int round = 0; round < max_reads && ctx.fd >= 0; round++) {
		ssize_t n = read(ctx.fd, buf, sizeof buf);
		if (n <= 0)
			return;
		for (ssize_t off = 0; off + static_cast<ssize_t>(sizeof(inotify_event)) <= n;) {
			inotify_event ev;
			std::copy_n(buf + off, sizeof ev, reinterpret_cast<char *>(&ev));
			off += static_cast<ssize_t>(sizeof ev + ev.len);
			if ((ev.mask & IN_Q_OVERFLOW) != 0) { // events were lost: every watch looks again
				for (auto &[w, watch] : ctx.watches)
					if (watch.wd >= 0)
						ioloop_detail::notify_changed(*w);
				continue;
			}
			auto it = ctx.by_wd.find(ev.wd);
			if (it == ctx.by_wd.end())
				continue; // a wd removed since the event was queued
			for (io *w : it->second)
				ioloop_detail::notify_changed(*w);
			if ((ev.mask & IN_IGNORED) != 0) // the kernel dropped the watch (path deleted)
				drop_wd(ctx, ev.wd);
		}
		// A short read drained the queue; a full one may have left more.
		if (n < static_cast<ssize_t>(sizeof buf - sizeof(inotify_event) - NAME_MAX - 1))
			return;
	}
}

// Opens the inotify fd and its io; returns 0 or errno.
int open_fd(ioloop &loop)
{
	notify_context &ctx = *loop.notify;
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0)
		return errno;
	try {
		loop.notify_io = ioloop_detail::add_internal_io(loop, fd, on_events);
	} catch (const std::system_error &e) {
		close(fd);
		return e.code().value();
	}
	ctx.fd = fd;
	return 0;
}

// Adds the kernel watch for w; returns 0 or errno.
int watch_path(notify_context &ctx, io *w, Watch &watch)
{
	int wd = inotify_add_watch(ctx.fd, watch.path.c_str(), watch_mask);
	if (wd < 0)
		return errno;
	try {
		ctx.by_wd[wd].push_back(w);
	} catch (...) {
		if (ctx.by_wd.find(wd) == ctx.by_wd.end())
			inotify_rm_watch(ctx.fd, wd);
		throw;
	}
	watch.wd = wd;
	return 0;
}

} // namespace

namespace ioloop_notify {

const char name[] = "inotify";
const unsigned poll_msecs = 0;

int add(ioloop &loop, io &w, const char *path)
{
	if (loop.notify == nullptr)
		loop.notify = new notify_context;
	notify_context &ctx = *loop.notify;
	if (ctx.fd < 0) {
		if (int err = open_fd(loop))
			return err;
	}
	auto [it, inserted] = ctx.watches.emplace(&w, Watch{-1, path});
	int err = 0;
	try {
		err = watch_path(ctx, &w, it->second);
	} catch (...) {
		ctx.watches.erase(it);
		throw;
	}
	if (err != 0)
		ctx.watches.erase(it);
	return err;
}

void remove(ioloop &loop, io &w) noexcept
{
	notify_context &ctx = *loop.notify;
	auto it = ctx.watches.find(&w);
	if (it == ctx.watches.end())
		return;
	int wd = it->second.wd;
	ctx.watches.erase(it);
	if (wd < 0)
		return;
	auto by = ctx.by_wd.find(wd);
	if (by == ctx.by_wd.end())
		return;
	std::erase(by->second, &w);
	if (by->second.empty()) {
		ctx.by_wd.erase(by);
		inotify_rm_watch(ctx.fd, wd);
	}
}

int extract_fd(ioloop &loop) noexcept
{
	notify_context &ctx = *loop.notify;
	if (ctx.fd < 0)
		return -1;
	if (loop.notify_io != nullptr)
		io_remove(&loop.notify_io);
	for (auto &[w, watch] : ctx.watches)
		watch.wd = -1;
	ctx.by_wd.clear();
	int fd = ctx.fd;
	ctx.fd = -1;
	return fd;
}

void recreate(ioloop &loop)
{
	notify_context &ctx = *loop.notify;
	// The fd is the parent's too: reading it would take the parent's events.
	loop.notify_io = nullptr; // dropped with the registry's internal ios
	if (ctx.fd >= 0)
		close(ctx.fd);
	ctx.fd = -1;
	ctx.by_wd.clear();
	bool any = std::any_of(ctx.watches.begin(), ctx.watches.end(),
			       [](const auto &e) { return e.second.wd >= 0; });
	if (!any)
		return;
	int err = open_fd(loop);
	for (auto &[w, watch] : ctx.watches) {
		if (watch.wd < 0)
			continue;
		watch.wd = -1;
		if (err != 0 || watch_path(ctx, w, watch) != 0)
			ioloop_detail::notify_changed(*w); // gone: its owner looks once more
	}
}

void deinit(ioloop &loop) noexcept
{
	notify_context *ctx = loop.notify;
	if (loop.notify_io != nullptr)
		io_remove(&loop.notify_io);
	if (ctx->fd >= 0)
		close(ctx->fd);
	delete ctx;
	loop.notify = nullptr;
}

} // namespace ioloop_notify
