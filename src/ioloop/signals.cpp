// Signals delivered in loop context. A signal belongs to at most one loop in the process; its
// arrival is counted in an atomic and announced to that loop, which calls the watchers in its
// next signal phase, never inside the signal handler. The announcement is the handler's own
// (kevent: EVFILT_SIGNAL) or, by default, a byte written to the loop's self-pipe.
#include "core-internal.hpp"
#include "handler.hpp"
#include "ioloop.hpp"
#include "self-pipe.hpp"

#include <algorithm>
#include <csignal>
#include <fcntl.h>
#include <unistd.h>

using namespace ioloop_detail;

namespace {

struct SignalSlot {
	std::atomic<ioloop *> owner{nullptr};
	std::atomic<unsigned> count{0};
	std::atomic<int> pipe_fd{-1};
	struct sigaction previous {};
	bool handler_watches = false;
};
SignalSlot slots[max_signo];

void on_signal(int signo)
{
	int saved = errno;
	SignalSlot &s = slots[signo];
	s.count.fetch_add(1, std::memory_order_relaxed);
	int fd = s.pipe_fd.load(std::memory_order_acquire);
	if (fd >= 0) {
		char byte = static_cast<char>(signo);
		ssize_t ignored = write(fd, &byte, 1); // full pipe: a wakeup is already queued
		(void)ignored;
	}
	errno = saved;
}

void signal_pipe_ready(void *context)
{
	auto &loop = *static_cast<ioloop *>(context);
	char buf[64];
	while (read(loop.signal_pipe[0], buf, sizeof buf) > 0) {
	}
	loop.signals_due = true;
}

void close_pipe(ioloop &loop)
{
	if (loop.signal_io != nullptr)
		io_remove(&loop.signal_io);
	for (int &fd : loop.signal_pipe) {
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
}

void open_pipe(ioloop &loop)
{
	if (!open_self_pipe(loop.signal_pipe))
		fail(errno, "signal_add: pipe");
	try {
		loop.signal_io = add_internal_io(loop, loop.signal_pipe[0], signal_pipe_ready);
	} catch (...) {
		close_pipe(loop);
		throw;
	}
}

bool loop_watches(const ioloop &loop, int signo)
{
	return std::any_of(loop.signal_watchers.begin(), loop.signal_watchers.end(),
			   [signo](const io_signal *w) { return w != nullptr && w->signo == signo; });
}

// The first watcher of signo in this loop claims the signal and starts its delivery.
void claim(ioloop &loop, int signo)
{
	SignalSlot &s = slots[signo];
	ioloop *expected = nullptr;
	if (!s.owner.compare_exchange_strong(expected, &loop))
		fail(EBUSY, "signal_add: another loop watches this signal");
	try {
		s.count.store(0);
		s.handler_watches = ioloop_handler::signal_watch(loop, signo);
		if (s.handler_watches)
			return;
		if (loop.signal_pipe[1] < 0)
			open_pipe(loop);
		s.pipe_fd.store(loop.signal_pipe[1], std::memory_order_release);
		struct sigaction sa {};
		sa.sa_handler = on_signal;
		sa.sa_flags = SA_RESTART;
		sigfillset(&sa.sa_mask);
		if (sigaction(signo, &sa, &s.previous) < 0)
			fail(errno, "signal_add: sigaction");
	} catch (...) {
		s.pipe_fd.store(-1);
		s.owner.store(nullptr);
		throw;
	}
}

void release_signal(ioloop &loop, int signo)
{
	SignalSlot &s = slots[signo];
	if (s.handler_watches)
		ioloop_handler::signal_unwatch(loop, signo);
	else
		sigaction(signo, &s.previous, nullptr);
	s.pipe_fd.store(-1);
	s.handler_watches = false;
	s.owner.store(nullptr);
}

} // namespace

namespace ioloop_detail {

void signal_raised(ioloop &loop, int signo, unsigned count)
{
	if (signo > 0 && signo < max_signo && slots[signo].owner.load() == &loop) {
		slots[signo].count.fetch_add(count, std::memory_order_relaxed);
		loop.signals_due = true;
	}
}

IOLOOP_CALLS_TYPED_CALLBACKS void run_signals(ioloop &loop)
{
	loop.signals_due = false;
	// Index loops: a watcher may add or remove watchers (removal leaves a null until the end).
	for (std::size_t i = 0; i < loop.signal_watchers.size(); i++) {
		io_signal *w = loop.signal_watchers[i];
		if (w == nullptr)
			continue;
		if (!loop.running) {
			loop.signals_due = true; // the rest go in the next iteration
			return;
		}
		int signo = w->signo;
		unsigned n = slots[signo].count.exchange(0, std::memory_order_relaxed);
		if (n == 0)
			continue;
		// every watcher of this signo sees it, in the order they were added
		for (std::size_t j = i; j < loop.signal_watchers.size(); j++) {
			io_signal *same = loop.signal_watchers[j];
			if (same != nullptr && same->signo == signo)
				same->callback(signo, same->context);
		}
	}
	std::erase(loop.signal_watchers, nullptr);
}

void signals_deinit(ioloop &loop)
{
	for (io_signal *w : loop.signal_watchers) {
		if (w == nullptr)
			continue;
		if (slots[w->signo].owner.load() == &loop)
			release_signal(loop, w->signo);
		if (w->release != nullptr)
			w->release(w->context);
		delete w;
	}
	loop.signal_watchers.clear();
	close_pipe(loop);
}

void signals_recreate(ioloop &loop)
{
	bool had_pipe = loop.signal_pipe[0] >= 0;
	// The child shares the parent's pipe: a fresh one keeps their signals apart.
	for (int &fd : loop.signal_pipe) {
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	loop.signal_io = nullptr; // its file was dropped with the rest of the registry
	if (had_pipe)
		open_pipe(loop);
	for (int signo = 1; signo < max_signo; signo++) {
		SignalSlot &s = slots[signo];
		if (s.owner.load() != &loop)
			continue;
		if (s.handler_watches)
			s.handler_watches = ioloop_handler::signal_watch(loop, signo);
		if (!s.handler_watches)
			s.pipe_fd.store(loop.signal_pipe[1]);
	}
}

} // namespace ioloop_detail

namespace iol::detail {
::io_signal *add_signal(::ioloop *loop, int signo, signal_callback_t *callback, void *context,
			release_fn *release)
{
	if (loop == nullptr || callback == nullptr)
		fail(EINVAL, "signal_add: no loop or no callback");
	if (signo <= 0 || signo >= max_signo || signo == SIGKILL || signo == SIGSTOP)
		fail(EINVAL, "signal_add: not a signal that can be caught");
	if (!loop_watches(*loop, signo))
		claim(*loop, signo);
	void *record = nullptr; // contexts.cpp
	io_signal *w = nullptr;
	try {
		if (loop->uses_contexts) {
			context_wrap_signal(*loop, callback, context, release);
			record = context;
		}
		w = new io_signal{loop, signo, callback, context, release};
		loop->signal_watchers.push_back(w);
	} catch (...) {
		delete w;
		if (record != nullptr)
			context_discard(record);
		if (!loop_watches(*loop, signo))
			release_signal(*loop, signo);
		throw;
	}
	return w;
}
} // namespace iol::detail

extern "C" {

struct io_signal *signal_add_to(struct ioloop *loop, int signo, signal_callback_t *callback,
				void *context)
{
	return with_errno<io_signal *>(nullptr, [&] {
		return iol::detail::add_signal(loop, signo, callback, context, nullptr);
	});
}

struct io_signal *signal_add(int signo, signal_callback_t *callback, void *context)
{
	return signal_add_to(current_ioloop, signo, callback, context);
}

void signal_remove(struct io_signal **signal)
{
	if (signal == nullptr || *signal == nullptr)
		return;
	io_signal *w = std::exchange(*signal, nullptr);
	ioloop &loop = *w->loop;
	auto it = std::find(loop.signal_watchers.begin(), loop.signal_watchers.end(), w);
	if (it != loop.signal_watchers.end())
		*it = nullptr;
	if (!loop.in_iteration)
		std::erase(loop.signal_watchers, nullptr);
	if (!loop_watches(loop, w->signo))
		release_signal(loop, w->signo);
	if (loop.in_iteration) { // its callback may be the one running
		w->next_dead = loop.dead_signals;
		loop.dead_signals = w;
		return;
	}
	if (w->release != nullptr)
		w->release(w->context);
	delete w;
}

} // extern "C"
