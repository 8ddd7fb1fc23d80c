// poll(2) handler: one pollfd per fd. A removed fd's slot is blanked (fd -1, which poll skips)
// and reused, never compacted, so slots do not move while a wait's results are dispatched.
#include "handler.hpp"

#include <cerrno>
#include <fcntl.h>
#include <poll.h>
#include <system_error>
#include <vector>

struct handler_context {
	std::vector<pollfd> fds;
	std::vector<std::uint32_t> free_slots;
};

namespace {

short poll_mask(unsigned conditions)
{
	short mask = 0;
	if ((conditions & IO_READ) != 0)
		mask |= POLLIN;
	if ((conditions & IO_WRITE) != 0)
		mask |= POLLOUT;
	return mask; // POLLERR, POLLHUP and POLLNVAL are always reported
}

} // namespace

namespace ioloop_handler {

const char name[] = "poll";

void init(ioloop &loop, unsigned initial_fd_count)
{
	loop.handler = new handler_context;
	loop.handler->fds.reserve(initial_fd_count);
}

void deinit(ioloop &loop) noexcept
{
	delete loop.handler;
	loop.handler = nullptr;
}

void add(ioloop &loop, io_file &file, unsigned old_conditions)
{
	handler_context &ctx = *loop.handler;
	if (old_conditions == 0 && file.registered == 0) {
		// poll() would only say POLLNVAL later: refuse a bad fd now, as epoll does
		if (fcntl(file.fd, F_GETFD) < 0)
			throw std::system_error(errno, std::generic_category(), "io_add: bad fd");
		if (ctx.free_slots.empty()) {
			file.handler_slot = static_cast<std::uint32_t>(ctx.fds.size());
			ctx.fds.push_back(pollfd{});
		} else {
			file.handler_slot = ctx.free_slots.back();
			ctx.free_slots.pop_back();
		}
	}
	pollfd &p = ctx.fds[file.handler_slot];
	p.fd = file.fd;
	p.events = poll_mask(file.conditions());
	if (old_conditions == 0)
		p.revents = 0; // a reused slot must not replay the previous fd's readiness
	file.registered = file.conditions();
}

void remove(ioloop &loop, io_file &file, bool) noexcept
{
	handler_context &ctx = *loop.handler;
	pollfd &p = ctx.fds[file.handler_slot];
	p.fd = -1;
	p.revents = 0;
	ctx.free_slots.push_back(file.handler_slot);
	file.registered = 0;
}

void run(ioloop &loop, int max_wait_ms)
{
	handler_context &ctx = *loop.handler;
	int n = poll(ctx.fds.data(), ctx.fds.size(), max_wait_ms);
	int err = errno;
	ioloop_detail::after_wait(loop);
	if (n < 0) {
		if (err == EINTR)
			return;
		throw std::system_error(err, std::generic_category(), "poll");
	}
	std::size_t end = ctx.fds.size(); // slots appended by callbacks were not polled
	for (std::size_t i = 0; i < end && n > 0 && loop.running; i++) {
		short revents = ctx.fds[i].revents;
		if (revents == 0)
			continue;
		n--;
		ctx.fds[i].revents = 0;
		int fd = ctx.fds[i].fd;
		if (fd < 0)
			continue;
		unsigned ready = 0;
		if ((revents & POLLIN) != 0)
			ready |= IO_READ;
		if ((revents & POLLOUT) != 0)
			ready |= IO_WRITE;
		if ((revents & (POLLERR | POLLHUP | POLLNVAL)) != 0)
			ready |= IO_ERROR;
		ioloop_detail::dispatch(loop, loop.files[static_cast<std::size_t>(fd)], ready);
	}
}

} // namespace ioloop_handler
