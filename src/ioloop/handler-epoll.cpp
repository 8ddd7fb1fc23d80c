// epoll(7) handler: one registration per fd, level-triggered, the fd itself as the event's data
// so an event for a file removed in this iteration finds the registry's current state, not a
// freed pointer.
#include "handler.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <sys/epoll.h>
#include <system_error>
#include <unistd.h>
#include <vector>

struct handler_context {
	int epfd = -1;
	std::vector<epoll_event> events;
};

namespace {

std::uint32_t epoll_mask(unsigned conditions)
{
	std::uint32_t mask = 0;
	if ((conditions & IO_READ) != 0)
		mask |= EPOLLIN;
	if ((conditions & IO_WRITE) != 0)
		mask |= EPOLLOUT;
	return mask; // EPOLLERR and EPOLLHUP are always reported
}

// epoll's EPOLLIN, EPOLLPRI, EPOLLOUT, EPOLLERR and EPOLLHUP bits as io conditions, by table: the
// same answer as three tests, in fewer instructions on the path every event takes.
constexpr unsigned epoll_mask_bits = EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLERR | EPOLLHUP;
static_assert(epoll_mask_bits == 0x1f);
constexpr auto ready_conditions = [] {
	std::array<std::uint32_t, epoll_mask_bits + 1> table{};
	for (unsigned bits = 0; bits <= epoll_mask_bits; bits++)
		table[bits] = static_cast<std::uint32_t>(((bits & EPOLLIN) != 0 ? IO_READ : 0) |
							((bits & EPOLLOUT) != 0 ? IO_WRITE : 0) |
							((bits & (EPOLLERR | EPOLLHUP)) != 0 ? IO_ERROR : 0));
	return table;
}();

} // namespace

namespace ioloop_handler {

const char name[] = "epoll";

void init(ioloop &loop, unsigned initial_fd_count)
{
	auto *ctx = new handler_context;
	loop.handler = ctx;
	ctx->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ctx->epfd < 0)
		throw std::system_error(errno, std::generic_category(), "epoll_create1");
	ctx->events.resize(initial_fd_count > 0 ? initial_fd_count : 1);
}

void deinit(ioloop &loop) noexcept
{
	if (loop.handler == nullptr)
		return;
	if (loop.handler->epfd >= 0)
		close(loop.handler->epfd);
	delete loop.handler;
	loop.handler = nullptr;
}

void add(ioloop &loop, io_file &file, unsigned old_conditions)
{
	(void)old_conditions;
	std::uint32_t mask = epoll_mask(file.conditions());
	epoll_event ev{};
	ev.events = mask;
	ev.data.fd = file.fd;
	int op = file.registered == 0 && old_conditions == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
	if (op == EPOLL_CTL_MOD && epoll_mask(file.registered) == mask) {
		file.registered = file.conditions();
		return;
	}
	if (epoll_ctl(loop.handler->epfd, op, file.fd, &ev) < 0) {
		int err = errno;
		throw std::system_error(err, std::generic_category(),
					err == EPERM ? "epoll cannot watch this kind of fd (regular file?)"
						     : "epoll_ctl");
	}
	file.registered = file.conditions();
}

void remove(ioloop &loop, io_file &file, bool closed) noexcept
{
	// A closed fd left the epoll set with its last reference; a dup()ed one would linger, but the
	// event then finds no io for that fd (or a newer io added after this wait), never this file.
	if (!closed)
		epoll_ctl(loop.handler->epfd, EPOLL_CTL_DEL, file.fd, nullptr);
	file.registered = 0;
}

void run(ioloop &loop, int max_wait_ms)
{
	handler_context &ctx = *loop.handler;
	// One slot per watched fd, so a wait can report everything ready at once. Grown here rather
	// than in add(), so the array cannot move while this wait's events are being dispatched.
	if (ctx.events.size() < loop.file_count)
		ctx.events.resize(std::max<std::size_t>(loop.file_count, ctx.events.size() * 2));
	const epoll_event *ev = ctx.events.data();
	int n = epoll_wait(ctx.epfd, ctx.events.data(), static_cast<int>(ctx.events.size()), max_wait_ms);
	int err = errno;
	ioloop_detail::after_wait(loop);
	if (n < 0) {
		if (err == EINTR)
			return;
		throw std::system_error(err, std::generic_category(), "epoll_wait");
	}
	const std::uint64_t this_wait = loop.wait_count;
	for (const epoll_event *end = ev + n; ev != end && loop.running; ev++) {
		// No bounds check: add() registers an fd only once the registry has room for it, and the
		// registry never shrinks while the loop lives, so every fd the kernel reports is in range
		// (even a closed fd's registration that lingers through a dup()).
		io_file *file = loop.files[static_cast<std::size_t>(ev->data.fd)];
		ioloop_detail::dispatch(loop, file, ready_conditions[ev->events & epoll_mask_bits], this_wait);
	}
}

} // namespace ioloop_handler
