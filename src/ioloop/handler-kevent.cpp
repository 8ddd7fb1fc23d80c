// kqueue(2) handler. One knote per {fd, filter}: EVFILT_READ for the reader (IO_READ and/or
// IO_ERROR), EVFILT_WRITE for the writer, each with udata pointing back to the fd's io_file, so
// dispatch is O(1) per ready event. Changes to an fd already known to the kernel are queued and
// handed over with the next wait, so a steady loop makes one kevent() call per iteration; only
// an fd's first registration goes to the kernel at once, because io_add() must refuse a bad fd
// before it returns. Wakeups come through EVFILT_USER, signals through EVFILT_SIGNAL, and the
// kqueue notify backend's file-change watches through EVFILT_VNODE.
//
// The same code compiles against a native <sys/event.h>, a system libkqueue, or our emulation.
#include "handler.hpp"

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <sys/event.h>
#include <system_error>
#include <unistd.h>
#include <vector>

namespace {

constexpr uintptr_t wakeup_ident = 0;

// FreeBSD's and macOS's close() drops the fd's knotes, and so does our emulation. libkqueue, a
// library over epoll, keeps them: a knote left for a closed number would take the registration
// of the number's next owner as a change to itself, and that owner would never be reported.
// There, deletes reach the kqueue before remove() returns, also for a closed fd, and an fd's
// first registration first clears whatever a predecessor closed without io_remove() left.
#if defined(IOLOOP_KQUEUE_LIBKQUEUE)
constexpr bool close_keeps_knotes = true;
#else
constexpr bool close_keeps_knotes = false;
#endif

// The handler never reads `data` of a read or write event; our emulation's NOTE_NODATA saves it
// a system call an event to count the bytes. FreeBSD, macOS and libkqueue lack the note.
#ifdef NOTE_NODATA
constexpr unsigned int fd_notes = NOTE_NODATA;
#else
constexpr unsigned int fd_notes = 0;
#endif

} // namespace

struct handler_context {
	int kq = -1;
	std::vector<struct kevent> changes; // queued, handed over with the next wait
	std::vector<struct kevent> events;
	struct sigaction previous[ioloop_detail::max_signo] = {};
};

namespace {

[[noreturn]] void fail(int err, const char *what)
{
	throw std::system_error(err, std::generic_category(), what);
}

timespec to_timespec(int ms)
{
	// normalised by construction: tv_nsec < 1e9
	return timespec{static_cast<time_t>(ms / 1000), static_cast<long>(ms % 1000) * 1000000L};
}

// Applies `change` now, with every queued change before it so the kernel sees them in order.
// Returns the error of `change` (0 if none); errors of the queued ones go to their files.
int apply_now(ioloop &loop, const struct kevent &change);
// The same for the queued changes alone.
void apply_queued(ioloop &loop);

void queue(handler_context &ctx, uintptr_t fd, short filter, unsigned short flags, void *udata,
	   unsigned int fflags = 0)
{
	struct kevent ev;
	EV_SET(&ev, fd, filter, flags, fflags, 0, udata);
	ctx.changes.push_back(ev);
}

// A deleted fd's queued changes must not reach the number's next owner.
void forget_changes(handler_context &ctx, int fd)
{
	std::erase_if(ctx.changes, [fd](const struct kevent &ev) {
		return ev.ident == static_cast<uintptr_t>(fd) && ev.filter != EVFILT_USER &&
		       ev.filter != EVFILT_SIGNAL;
	});
}

io_file *current_file(ioloop &loop, const struct kevent &ev)
{
	// udata is the file; the registry confirms it is still the fd's live file, which also guards
	// against an event for an fd closed while dup()ed elsewhere (its knote may outlive it).
	auto *f = static_cast<io_file *>(ev.udata);
	return ev.ident < loop.files.size() && loop.files[ev.ident] == f ? f : nullptr;
}

void change_failed(ioloop &loop, const struct kevent &ev)
{
	// A delete's udata is null: EBADF/ENOENT there only mean the fd was closed first, which is
	// normal. Any other failure reaches the io as IO_ERROR, never dropped.
	if (ev.udata == nullptr)
		return;
	if (io_file *f = current_file(loop, ev))
		ioloop_detail::dispatch(loop, f, IO_ERROR);
}

// Hands the queued changes over with EV_RECEIPT; returns the error of the one matching `watch`
// (0 if none or no watch), and reports the others' errors to their files.
int apply_receipted(ioloop &loop, const struct kevent *watch)
{
	handler_context &ctx = *loop.handler;
	for (auto &c : ctx.changes)
		c.flags |= EV_RECEIPT; // one entry per change: success (data 0) or its error
	std::size_t n = ctx.changes.size();
	if (n == 0)
		return 0;
	if (ctx.events.size() < n)
		ctx.events.resize(n);
	timespec zero{0, 0};
	// Exactly n entries: libkqueue drops the receipts when the list has room for more and
	// nothing else is ready before the zero timeout.
	int got = kevent(ctx.kq, ctx.changes.data(), static_cast<int>(n), ctx.events.data(),
			 static_cast<int>(n), &zero);
	int err = errno;
	ctx.changes.clear();
	if (got < 0)
		return err;
	int result = 0;
	for (int i = 0; i < got; i++) {
		const struct kevent &ev = ctx.events[static_cast<std::size_t>(i)];
		if ((ev.flags & EV_ERROR) == 0 || ev.data == 0)
			continue;
		if (watch != nullptr && ev.ident == watch->ident && ev.filter == watch->filter &&
		    ev.udata == watch->udata)
			result = static_cast<int>(ev.data);
		else
			change_failed(loop, ev);
	}
	return result;
}

int apply_now(ioloop &loop, const struct kevent &change)
{
	loop.handler->changes.push_back(change);
	return apply_receipted(loop, &change);
}

void apply_queued(ioloop &loop)
{
	apply_receipted(loop, nullptr);
}

} // namespace

namespace ioloop_handler {

const char name[] = "kevent";

void init(ioloop &loop, unsigned initial_fd_count)
{
	auto *ctx = new handler_context;
	loop.handler = ctx;
	ctx->kq = kqueue();
	if (ctx->kq < 0)
		fail(errno, "kqueue");
	ctx->events.resize(initial_fd_count > 0 ? initial_fd_count : 16);
	ctx->changes.reserve(64);
}

void deinit(ioloop &loop) noexcept
{
	if (loop.handler == nullptr)
		return;
	if (loop.handler->kq >= 0)
		close(loop.handler->kq);
	delete loop.handler;
	loop.handler = nullptr;
}

void add(ioloop &loop, io_file &file, unsigned old_conditions)
{
	handler_context &ctx = *loop.handler;
	const bool want_read = file.reader != nullptr, had_read = (file.registered & (IO_READ | IO_ERROR)) != 0;
	const bool want_write = file.writer != nullptr, had_write = (file.registered & IO_WRITE) != 0;
	auto fd = static_cast<uintptr_t>(file.fd);

	if (file.registered == 0 && old_conditions == 0) {
		// First registration: to the kernel at once, so a bad fd fails here.
		if (close_keeps_knotes) {
			// Their errors (ENOENT: nothing was left) go nowhere: the udata is null.
			queue(ctx, fd, EVFILT_READ, EV_DELETE, nullptr);
			queue(ctx, fd, EVFILT_WRITE, EV_DELETE, nullptr);
		}
		struct kevent ev;
		EV_SET(&ev, fd, want_read ? EVFILT_READ : EVFILT_WRITE, EV_ADD, fd_notes, 0, &file);
		if (int err = apply_now(loop, ev))
			fail(err, err == EPERM ? "kevent cannot watch this kind of fd" : "io_add: kevent");
		file.registered = file.conditions();
		// room for both filters of every fd, plus the change errors a wait may return
		std::size_t want = 2 * (static_cast<std::size_t>(loop.file_count) + 1);
		if (ctx.events.size() < want)
			ctx.events.resize(want * 2);
		return;
	}
	if (want_read && !had_read)
		queue(ctx, fd, EVFILT_READ, EV_ADD, &file, fd_notes);
	else if (!want_read && had_read)
		queue(ctx, fd, EVFILT_READ, EV_DELETE, nullptr);
	if (want_write && !had_write)
		queue(ctx, fd, EVFILT_WRITE, EV_ADD, &file, fd_notes);
	else if (!want_write && had_write)
		queue(ctx, fd, EVFILT_WRITE, EV_DELETE, nullptr);
	file.registered = file.conditions();
}

void remove(ioloop &loop, io_file &file, bool closed) noexcept
{
	handler_context &ctx = *loop.handler;
	forget_changes(ctx, file.fd);
	// closed: the kernel dropped the knotes with the fd, and the number may be someone else's
	// (yet not in this kqueue: its next owner is added only after this returns)
	if (!closed || close_keeps_knotes) {
		auto fd = static_cast<uintptr_t>(file.fd);
		if ((file.registered & (IO_READ | IO_ERROR)) != 0)
			queue(ctx, fd, EVFILT_READ, EV_DELETE, nullptr);
		if ((file.registered & IO_WRITE) != 0)
			queue(ctx, fd, EVFILT_WRITE, EV_DELETE, nullptr);
		if (close_keeps_knotes) // before the caller's close() lets the number go
			apply_queued(loop);
	}
	file.registered = 0;
}

void run(ioloop &loop, int max_wait_ms)
{
	handler_context &ctx = *loop.handler;
	// every queued change can come back as an EV_ERROR entry: keep room for all of them
	std::size_t room = ctx.changes.size() + 2 * static_cast<std::size_t>(loop.file_count) + 1;
	if (ctx.events.size() < room)
		ctx.events.resize(room);
	timespec ts = to_timespec(max_wait_ms);
	int n = kevent(ctx.kq, ctx.changes.data(), static_cast<int>(ctx.changes.size()),
		       ctx.events.data(), static_cast<int>(ctx.events.size()),
		       max_wait_ms < 0 ? nullptr : &ts);
	int err = errno;
	ioloop_detail::after_wait(loop);
	if (n < 0) {
		if (err == EINTR)
			return; // the changes were applied or will be reported next time
		throw std::system_error(err, std::generic_category(), "kevent");
	}
	ctx.changes.clear();
	for (int i = 0; i < n && loop.running; i++) {
		const struct kevent &ev = ctx.events[static_cast<std::size_t>(i)];
		if ((ev.flags & EV_ERROR) != 0) {
			if (ev.data != 0)
				change_failed(loop, ev);
			continue;
		}
		switch (ev.filter) {
		case EVFILT_READ:
			// EOF: read() returns 0 now, and it is also the hang-up an IO_ERROR io waits for
			ioloop_detail::dispatch(loop, current_file(loop, ev),
						(ev.flags & EV_EOF) != 0 ? IO_READ | IO_ERROR : IO_READ);
			break;
		case EVFILT_WRITE:
			ioloop_detail::dispatch(loop, current_file(loop, ev),
						(ev.flags & EV_EOF) != 0 ? IO_WRITE | IO_ERROR : IO_WRITE);
			break;
		case EVFILT_USER:
			ioloop_detail::wakeup_received(loop);
			break;
		case EVFILT_SIGNAL:
			ioloop_detail::signal_raised(loop, static_cast<int>(ev.ident),
						     static_cast<unsigned>(ev.data));
			break;
		case EVFILT_VNODE:
			ioloop_detail::notify_vnode_event(loop, reinterpret_cast<std::uintptr_t>(ev.udata),
							  static_cast<unsigned>(ev.fflags));
			break;
		default:
			break;
		}
	}
}

int kqueue_fd(ioloop &loop) noexcept
{
	return loop.handler->kq;
}

bool wakeup_init(ioloop &loop)
{
	struct kevent ev;
	EV_SET(&ev, wakeup_ident, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, nullptr);
	if (int err = apply_now(loop, ev))
		fail(err, "kevent: EVFILT_USER");
	return true;
}

void wakeup(ioloop &loop) noexcept
{
	// Any thread: a kevent() call of its own, never the loop's changelist.
	struct kevent ev;
	EV_SET(&ev, wakeup_ident, EVFILT_USER, 0, NOTE_TRIGGER, 0, nullptr);
	kevent(loop.handler->kq, &ev, 1, nullptr, 0, nullptr);
}

namespace {
// The kernel counts the signal for EVFILT_SIGNAL whatever the disposition, but SIG_DFL would
// still kill us and SIG_IGN may discard it before it is counted: so a handler that does nothing.
void counted_elsewhere(int) {}
} // namespace

bool signal_watch(ioloop &loop, int signo)
{
	handler_context &ctx = *loop.handler;
	struct sigaction sa {};
	sa.sa_handler = counted_elsewhere;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(signo, &sa, &ctx.previous[signo]) < 0)
		fail(errno, "signal_add: sigaction");
	struct kevent ev;
	EV_SET(&ev, static_cast<uintptr_t>(signo), EVFILT_SIGNAL, EV_ADD, 0, 0, nullptr);
	if (int err = apply_now(loop, ev)) {
		sigaction(signo, &ctx.previous[signo], nullptr);
		fail(err, "signal_add: EVFILT_SIGNAL");
	}
	return true;
}

void signal_unwatch(ioloop &loop, int signo) noexcept
{
	handler_context &ctx = *loop.handler;
	struct kevent ev;
	EV_SET(&ev, static_cast<uintptr_t>(signo), EVFILT_SIGNAL, EV_DELETE, 0, 0, nullptr);
	apply_now(loop, ev);
	sigaction(signo, &ctx.previous[signo], nullptr);
}

} // namespace ioloop_handler
