// kqueue(2) notify backend: EVFILT_VNODE, one knote on an fd opened for each watch, in the
// kevent handler's own kqueue (handler.hpp: kqueue_fd), whose run() hands the events back through
// ioloop_detail::notify_vnode_event(). A kqueue of our own, watched as a readable fd, would work
// on the BSDs and macOS, but libkqueue's kqueue fd is not pollable (poll() never reports it
// readable, whatever is queued), and sharing costs no fd and no extra wakeup anywhere. Each
// watch has its own fd and knote, so several watches on one path are independent by
// construction. There is no fd of this backend's own: io_loop_extract_notify_fd() gives -1.
#include "core-internal.hpp"
#include "handler.hpp"
#include "ioloop.hpp"
#include "notify.hpp"

#include <cstdint>
#include <fcntl.h>
#include <string>
#include <sys/event.h>
#include <unistd.h>
#include <unordered_map>

namespace {

constexpr unsigned vnode_fflags = NOTE_DELETE | NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB | NOTE_LINK |
				  NOTE_RENAME
#if defined(NOTE_REVOKE)
				  | NOTE_REVOKE
#endif
	;
// Gone for good: the watch is reported once more and dropped.
constexpr unsigned gone_fflags = NOTE_DELETE
#if defined(NOTE_REVOKE)
				 | NOTE_REVOKE
#endif
	;

#if defined(O_EVTONLY) // macOS: an fd for events only, which does not keep a volume busy
constexpr int open_flags = O_EVTONLY | O_CLOEXEC | O_NONBLOCK;
#else
constexpr int open_flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK;
#endif

struct Watch {
	int fd; // -1: dropped (path deleted, kqueue extracted), never reported again
	std::uintptr_t id;
	std::string path;
};

} // namespace

struct notify_context {
	std::uintptr_t next_id = 1;
	std::unordered_map<io *, Watch> watches;
	// knote udata -> watch: an id, never a pointer, so an event of a watch gone meanwhile
	// finds nothing instead of freed memory
	std::unordered_map<std::uintptr_t, io *> by_id;
};

namespace {

// Returns 0 or errno.
int register_fd(ioloop &loop, const Watch &watch)
{
	struct kevent ev;
	EV_SET(&ev, static_cast<uintptr_t>(watch.fd), EVFILT_VNODE, EV_ADD | EV_CLEAR, vnode_fflags, 0,
	       reinterpret_cast<void *>(watch.id));
	// at once, not with the handler's next wait: the caller learns now whether it watches
	return kevent(ioloop_handler::kqueue_fd(loop), &ev, 1, nullptr, 0, nullptr) < 0 ? errno : 0;
}

// The knote goes before the fd: libkqueue keeps a closed fd's knotes.
void drop(ioloop &loop, Watch &watch) noexcept
{
	if (watch.fd < 0)
		return;
	int kq = ioloop_handler::kqueue_fd(loop);
	if (kq >= 0) {
		struct kevent ev;
		EV_SET(&ev, static_cast<uintptr_t>(watch.fd), EVFILT_VNODE, EV_DELETE, 0, 0, nullptr);
		kevent(kq, &ev, 1, nullptr, 0, nullptr);
	}
	close(watch.fd);
	watch.fd = -1;
	loop.notify->by_id.erase(watch.id);
}

} // namespace

namespace ioloop_detail {

void notify_vnode_event(ioloop &loop, std::uintptr_t id, unsigned fflags) noexcept
{
	if (loop.notify == nullptr)
		return;
	notify_context &ctx = *loop.notify;
	auto it = ctx.by_id.find(id);
	if (it == ctx.by_id.end())
		return; // removed since the kernel queued the event
	io *w = it->second;
	notify_changed(*w);
	if ((fflags & gone_fflags) != 0)
		drop(loop, ctx.watches[w]);
}

} // namespace ioloop_detail

namespace ioloop_notify {

const char name[] = "kqueue";
const unsigned poll_msecs = 0;

int add(ioloop &loop, io &w, const char *path)
{
	if (ioloop_handler::kqueue_fd(loop) < 0)
		return ENOSYS; // built with a handler other than kevent
	if (loop.notify == nullptr)
		loop.notify = new notify_context;
	notify_context &ctx = *loop.notify;
	int fd = open(path, open_flags);
	if (fd < 0)
		return errno;
	Watch watch{fd, ctx.next_id++, path};
	if (int err = register_fd(loop, watch)) {
		close(fd);
		return err;
	}
	try {
		ctx.by_id.emplace(watch.id, &w);
		ctx.watches.emplace(&w, std::move(watch));
	} catch (...) {
		drop(loop, watch);
		throw;
	}
	return 0;
}

void remove(ioloop &loop, io &w) noexcept
{
	notify_context &ctx = *loop.notify;
	auto it = ctx.watches.find(&w);
	if (it == ctx.watches.end())
		return;
	drop(loop, it->second);
	ctx.watches.erase(it);
}

int extract_fd(ioloop &) noexcept
{
	return -1;
}

void recreate(ioloop &loop)
{
	// The handler's kqueue is new (a kernel's is not inherited by the child): the knotes go
	// there again, on the fds the child inherited.
	notify_context &ctx = *loop.notify;
	for (auto &[w, watch] : ctx.watches) {
		if (watch.fd < 0 || register_fd(loop, watch) == 0)
			continue;
		close(watch.fd);
		watch.fd = -1;
		ctx.by_id.erase(watch.id);
		ioloop_detail::notify_changed(*w); // gone: its owner looks once more
	}
}

void deinit(ioloop &loop) noexcept
{
	notify_context *ctx = loop.notify;
	for (auto &[w, watch] : ctx->watches)
		drop(loop, watch);
	delete ctx;
	loop.notify = nullptr;
}

} // namespace ioloop_notify
