// select(2) handler: fd_sets rebuilt from a master copy each wait. select cannot express an fd
// at or above FD_SETSIZE, so those are refused rather than written past the end of an fd_set.
#include "handler.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/select.h>
#include <system_error>

struct handler_context {
	fd_set read_fds, write_fds;
	int max_fd = -1;
};

namespace ioloop_handler {

const char name[] = "select";

void init(ioloop &loop, unsigned)
{
	loop.handler = new handler_context;
	FD_ZERO(&loop.handler->read_fds);
	FD_ZERO(&loop.handler->write_fds);
}

void deinit(ioloop &loop) noexcept
{
	delete loop.handler;
	loop.handler = nullptr;
}

void add(ioloop &loop, io_file &file, unsigned old_conditions)
{
	handler_context &ctx = *loop.handler;
	if (file.fd >= FD_SETSIZE)
		throw std::system_error(ERANGE, std::generic_category(),
					"io_add: select cannot watch an fd >= FD_SETSIZE (1024)");
	if (old_conditions == 0 && fcntl(file.fd, F_GETFD) < 0)
		throw std::system_error(errno, std::generic_category(), "io_add: bad fd");
	unsigned c = file.conditions();
	// An IO_ERROR-only reader sits in the read set: Linux reports hang-up and error there.
	if ((c & (IO_READ | IO_ERROR)) != 0)
		FD_SET(file.fd, &ctx.read_fds);
	else
		FD_CLR(file.fd, &ctx.read_fds);
	if ((c & IO_WRITE) != 0)
		FD_SET(file.fd, &ctx.write_fds);
	else
		FD_CLR(file.fd, &ctx.write_fds);
	if (file.fd > ctx.max_fd)
		ctx.max_fd = file.fd;
	file.registered = c;
}

void remove(ioloop &loop, io_file &file, bool) noexcept
{
	handler_context &ctx = *loop.handler;
	FD_CLR(file.fd, &ctx.read_fds);
	FD_CLR(file.fd, &ctx.write_fds);
	while (ctx.max_fd >= 0 && !FD_ISSET(ctx.max_fd, &ctx.read_fds) &&
	       !FD_ISSET(ctx.max_fd, &ctx.write_fds))
		ctx.max_fd--;
	file.registered = 0;
}

void run(ioloop &loop, int max_wait_ms)
{
	handler_context &ctx = *loop.handler;
	fd_set rfds = ctx.read_fds, wfds = ctx.write_fds;
	timeval tv{}, *tvp = nullptr;
	if (max_wait_ms >= 0) {
		tv.tv_sec = max_wait_ms / 1000;
		tv.tv_usec = (max_wait_ms % 1000) * 1000;
		tvp = &tv;
	}
	int max_fd = ctx.max_fd;
	int n = select(max_fd + 1, &rfds, &wfds, nullptr, tvp);
	int err = errno;
	ioloop_detail::after_wait(loop);
	if (n < 0 && err == EBADF) {
		// An fd was closed without io_remove. Its ios get an error event, as poll's POLLNVAL
		// gives them, and the others wait for the next iteration instead of the loop failing.
		FD_ZERO(&rfds);
		FD_ZERO(&wfds);
		n = 0;
		for (int fd = 0; fd <= max_fd; fd++) {
			if ((FD_ISSET(fd, &ctx.read_fds) || FD_ISSET(fd, &ctx.write_fds)) &&
			    fcntl(fd, F_GETFD) < 0 && errno == EBADF) {
				FD_SET(fd, &rfds);
				FD_SET(fd, &wfds);
				n += 2;
			}
		}
	} else if (n < 0) {
		if (err == EINTR)
			return;
		throw std::system_error(err, std::generic_category(), "select");
	}
	for (int fd = 0; fd <= max_fd && n > 0 && loop.running; fd++) {
		bool r = FD_ISSET(fd, &rfds), w = FD_ISSET(fd, &wfds);
		if (!r && !w)
			continue;
		n -= int(r) + int(w);
		io_file *file = loop.files[static_cast<std::size_t>(fd)];
		if (file == nullptr)
			continue;
		unsigned ready = w ? unsigned(IO_WRITE) : 0u;
		if (r) // select says only "readable": for an error-only reader that means hang-up
			ready |= file->reader != nullptr && (file->reader->conditions & IO_READ) == 0
					 ? unsigned(IO_ERROR)
					 : unsigned(IO_READ);
		ioloop_detail::dispatch(loop, file, ready);
	}
}

} // namespace ioloop_handler
