// File-change watches: the policy half. A watch is an io with no file, called through the
// pending list, so however many changes the backend reports before the loop gets to it, it runs
// once per iteration, and removing it (also from its own or another callback) is the io's
// ordinary removal. The backend (notify.hpp) only watches and reports.
#include "core-internal.hpp"
#include "ioloop.hpp"
#include "notify.hpp"

#include <new>

using namespace ioloop_detail;

namespace ioloop_detail {

void notify_changed(io &watch) noexcept
{
	io_set_pending(&watch);
}

void remove_notify(ioloop &loop, io *watch) noexcept
{
	loop.notify_watches.erase(watch);
	if (loop.notify != nullptr)
		ioloop_notify::remove(loop, *watch);
}

// Replaced by the kqueue backend's; the others get no vnode events.
[[gnu::weak]] void notify_vnode_event(ioloop &, std::uintptr_t, unsigned) noexcept {}

void notify_recreate(ioloop &loop)
{
	if (loop.notify != nullptr)
		ioloop_notify::recreate(loop);
}

void notify_deinit(ioloop &loop) noexcept
{
	if (loop.notify != nullptr)
		ioloop_notify::deinit(loop);
	for (io *w : loop.notify_watches) {
		if (w->pending)
			unlink_pending(loop, w);
		if (w->release != nullptr)
			w->release(w->context);
		delete w;
	}
	loop.notify_watches.clear();
}

} // namespace ioloop_detail

namespace iol::detail {
io_notify_result add_notify(::ioloop *loop, const char *path, io_callback_t *callback,
			    void *context, release_fn *release, ::io **io_r)
{
	if (io_r != nullptr)
		*io_r = nullptr;
	if (loop == nullptr || path == nullptr || callback == nullptr || io_r == nullptr) {
		errno = EINVAL;
		return IO_NOTIFY_NOSUPPORT;
	}
	io *w = nullptr;
	int err = 0;
	void *record = nullptr; // contexts.cpp: a watch runs under its context like any io
	try {
		if (loop->uses_contexts) {
			context_wrap(*loop, callback, context, release);
			record = context;
		}
		w = new io{loop, nullptr, 0, callback, context, release, loop->wait_count};
		loop->notify_watches.insert(w);
		err = ioloop_notify::add(*loop, *w, path);
	} catch (const std::system_error &e) {
		err = e.code().value();
	} catch (const std::bad_alloc &) {
		err = ENOMEM;
	}
	if (err != 0) {
		if (w != nullptr) {
			loop->notify_watches.erase(w);
			delete w; // without release(): the caller still owns the context
		}
		if (record != nullptr)
			context_discard(record);
		errno = err;
		return err == ENOENT ? IO_NOTIFY_NOTFOUND : IO_NOTIFY_NOSUPPORT;
	}
	*io_r = w;
	return IO_NOTIFY_ADDED;
}
} // namespace iol::detail

extern "C" {

enum io_notify_result io_add_notify_to(struct ioloop *loop, const char *path,
				       io_callback_t *callback, void *context, struct io **io_r)
{
	return iol::detail::add_notify(loop, path, callback, context, nullptr, io_r);
}

enum io_notify_result io_add_notify(const char *path, io_callback_t *callback, void *context,
				    struct io **io_r)
{
	return io_add_notify_to(current_ioloop, path, callback, context, io_r);
}

int io_loop_extract_notify_fd(struct ioloop *loop)
{
	if (loop == nullptr || loop->notify == nullptr)
		return -1;
	return ioloop_notify::extract_fd(*loop);
}

const char *io_loop_get_notify_backend(void)
{
	return ioloop_notify::name;
}

unsigned int io_loop_get_notify_poll_msecs(void)
{
	return ioloop_notify::poll_msecs;
}

} // extern "C"
