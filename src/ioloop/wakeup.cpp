// Cross-thread wakeup and post(fn). The only entry points other threads may call.
// By default an eventfd watched like any io; a handler may deliver wakeups itself.
#include "core-internal.hpp"
#include "handler.hpp"
#include "ioloop.hpp"

#include <cstdint>
#include <sys/eventfd.h>
#include <unistd.h>

using namespace ioloop_detail;

namespace {

void wakeup_fd_ready(void *context)
{
	auto &loop = *static_cast<ioloop *>(context);
	std::uint64_t n;
	ssize_t ignored = read(loop.wakeup_fd, &n, sizeof n);
	(void)ignored;
}

void open_wakeup_fd(ioloop &loop)
{
	loop.handler_delivers_wakeup = ioloop_handler::wakeup_init(loop);
	if (loop.handler_delivers_wakeup)
		return;
	loop.wakeup_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop.wakeup_fd < 0)
		fail(errno, "io_loop_create: eventfd");
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
	if (loop.wakeup_fd >= 0)
		close(loop.wakeup_fd);
	loop.wakeup_fd = -1;
}

void wakeup_recreate(ioloop &loop)
{
	loop.wakeup_io = nullptr; // dropped with the rest of the registry
	if (loop.wakeup_fd >= 0)
		close(loop.wakeup_fd); // shared with the parent
	loop.wakeup_fd = -1;
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
}

} // namespace ioloop_detail

namespace iol::detail {
void post(::ioloop *loop, std::function<void()> fn)
{
	if (loop == nullptr || !fn)
		fail(EINVAL, "post: no loop or no function");
	{
		std::lock_guard lock(loop->posted_lock);
		loop->posted.push_back(std::move(fn));
		loop->have_posted.store(true, std::memory_order_release);
	}
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
	ssize_t ignored = write(loop->wakeup_fd, &one, sizeof one); // only fails when already due
	(void)ignored;
}
