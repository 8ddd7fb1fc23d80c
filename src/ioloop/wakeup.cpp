// Cross-thread wakeup and post(fn). The only entry points other threads may call.
// By default an eventfd (one descriptor, one counter) watched like any io, or a self-pipe where
// there is no eventfd; a handler may deliver wakeups itself (kevent: EVFILT_USER).
#include "core-internal.hpp"
#include "handler.hpp"
#include "ioloop.hpp"
#include "self-pipe.hpp"

#include <cstdint>
#if defined(IOLOOP_HAVE_EVENTFD)
#include <sys/eventfd.h>
#endif
#include <unistd.h>

using namespace ioloop_detail;

namespace {

void wakeup_fd_ready(void *context)
{
	auto &loop = *static_cast<ioloop *>(context);
	std::uint64_t n[8];
	// An eventfd gives its whole count at once; a pipe is drained so it does not fill.
	while (read(loop.wakeup_fd, n, sizeof n) == static_cast<ssize_t>(sizeof n)) {
	}
}

void close_wakeup_fds(ioloop &loop)
{
	if (loop.wakeup_write_fd >= 0 && loop.wakeup_write_fd != loop.wakeup_fd)
		close(loop.wakeup_write_fd);
	if (loop.wakeup_fd >= 0)
		close(loop.wakeup_fd);
	loop.wakeup_fd = loop.wakeup_write_fd = -1;
}

void open_wakeup_fd(ioloop &loop)
{
	loop.handler_delivers_wakeup = ioloop_handler::wakeup_init(loop);
	if (loop.handler_delivers_wakeup)
		return;
#if defined(IOLOOP_HAVE_EVENTFD)
	loop.wakeup_fd = loop.wakeup_write_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop.wakeup_fd < 0)
		fail(errno, "io_loop_create: eventfd");
#else
	int fds[2];
	if (!open_self_pipe(fds))
		fail(errno, "io_loop_create: pipe");
	loop.wakeup_fd = fds[0];
	loop.wakeup_write_fd = fds[1];
#endif
	loop.wakeup_io = add_internal_io(loop, loop.wakeup_fd, wakeup_fd_ready);
}

} // namespace

namespace ioloop_detail {

void wakeup_received(ioloop &) {}

void wakeup_init(ioloop &loop)
{
	open_wakeup_fd(loop);
}

void wakeup_deinit(ioloop &loop)
{
	if (loop.wakeup_io != nullptr)
		io_remove(&loop.wakeup_io);
	close_wakeup_fds(loop);
}

void wakeup_recreate(ioloop &loop)
{
	loop.wakeup_io = nullptr; // dropped with the rest of the registry
	close_wakeup_fds(loop);   // shared with the parent
	open_wakeup_fd(loop);
}

void run_posted(ioloop &loop)
{
	{
		std::lock_guard lock(loop.posted_lock);
		loop.posted_running.swap(loop.posted); // both keep their capacity: no allocation
		loop.have_posted.store(false, std::memory_order_relaxed);
	}
	std::size_t i = 0;
	for (; i < loop.posted_running.size() && loop.running; i++)
		loop.posted_running[i]();
	if (i < loop.posted_running.size()) {
		// stopped: the rest run first in the next iteration
		std::lock_guard lock(loop.posted_lock);
		loop.posted.insert(loop.posted.begin(),
				   std::make_move_iterator(loop.posted_running.begin() + static_cast<std::ptrdiff_t>(i)),
				   std::make_move_iterator(loop.posted_running.end()));
		loop.have_posted.store(true, std::memory_order_relaxed);
	}
	loop.posted_running.clear();
	// A posted function is not wrapped like a callback (contexts.cpp): what it left active ends
	// here.
	if (loop.cur_ctx != nullptr)
		context_end(loop);
}

} // namespace ioloop_detail

namespace iol::detail {
void post(::ioloop *loop, std::function<void()> fn)
{
	if (loop == nullptr || !fn)
		fail(EINVAL, "post: no loop or no function");
	// The wakeup is written under the lock too: the loop takes the lock before it runs what was
	// posted, so by then this call is done with the loop. The function may stop the loop, whose
	// thread then destroys it at once; a wakeup written after the unlock could reach a closed
	// descriptor, or one the process has opened again for something else.
	std::lock_guard lock(loop->posted_lock);
	loop->posted.push_back(std::move(fn));
	loop->have_posted.store(true, std::memory_order_release);
	io_loop_wakeup(loop);
}
} // namespace iol::detail

extern "C" void io_loop_wakeup(struct ioloop *loop)
{
	if (loop == nullptr)
		return;
	if (loop->handler_delivers_wakeup) {
		ioloop_handler::wakeup(*loop);
		return;
	}
	std::uint64_t one = 1;
	// Only fails when already due (an eventfd at its limit, a full pipe).
	ssize_t ignored = write(loop->wakeup_write_fd, &one, sizeof one);
	(void)ignored;
}
