// The rest of Dovecot's ioloop.h: moving ios and timeouts between loops, wait accounting, the
// loop's state, and callbacks on a change of current_ioloop.
#include "core-internal.hpp"

#include <algorithm>
#include <utility>
#include <vector>

using namespace ioloop_detail;

struct io_wait_timer {
	ioloop *loop;
	std::uint64_t usecs = 0;
	io_wait_timer *prev = nullptr, *next = nullptr;
};

namespace {

thread_local std::vector<io_switch_callback_t *> switch_callbacks;

void timer_link(ioloop &loop, io_wait_timer *t)
{
	t->loop = &loop;
	t->prev = nullptr;
	t->next = loop.wait_timers;
	if (t->next != nullptr)
		t->next->prev = t;
	loop.wait_timers = t;
	loop.track_wait = true;
}

void timer_unlink(io_wait_timer *t)
{
	if (t->prev != nullptr)
		t->prev->next = t->next;
	else
		t->loop->wait_timers = t->next;
	if (t->next != nullptr)
		t->next->prev = t->prev;
	t->prev = t->next = nullptr;
}

bool is_internal(const ioloop &loop, const io *i)
{
	return i == loop.wakeup_io || i == loop.signal_io;
}

unsigned internal_files(const ioloop &loop)
{
	return (loop.wakeup_io != nullptr ? 1u : 0u) + (loop.signal_io != nullptr ? 1u : 0u);
}

} // namespace

namespace ioloop_detail {

void set_current(ioloop *loop)
{
	ioloop *prev = current_ioloop;
	if (prev == loop)
		return;
	current_ioloop = loop;
	if (switch_callbacks.empty())
		return;
	// A copy: a callback may add or remove callbacks.
	std::vector<io_switch_callback_t *> callbacks = switch_callbacks;
	for (io_switch_callback_t *cb : callbacks)
		cb(prev);
}

void add_wait_time(ioloop &loop, std::int64_t us)
{
	if (us < 0)
		us = 0;
	loop.wait_usecs += static_cast<std::uint64_t>(us);
	for (io_wait_timer *t = loop.wait_timers; t != nullptr; t = t->next)
		t->usecs += static_cast<std::uint64_t>(us);
}

void free_wait_timers(ioloop &loop)
{
	while (io_wait_timer *t = loop.wait_timers) {
		timer_unlink(t);
		t->loop = nullptr; // a timer left in a destroyed loop counts nothing more
	}
}

} // namespace ioloop_detail

extern "C" {

struct io *io_loop_move_io_to(struct ioloop *loop, struct io **io)
{
	if (io == nullptr || *io == nullptr)
		return nullptr;
	struct io *old = *io;
	if (old->loop == loop)
		return old;
	return with_errno<struct io *>(nullptr, [&] {
		if (loop == nullptr)
			fail(EINVAL, "io_loop_move_io_to: no loop");
		// A file-change watch lives in its loop's notify backend (a kernel watch, an fd): it is
		// removed and added again in the other loop instead. Dovecot asserts here.
		if (old->file == nullptr)
			fail(EINVAL, "io_loop_move_io_to: a file-change watch cannot move");
		io_callback_t *callback = old->callback;
		void *context = old->context;
		release_fn *release = old->release;
		void *record = context_record(callback, context, release);
		struct io *n = add_io(loop, old->file->fd, old->conditions, callback, context, release);
		if (old->pending)
			io_set_pending(n);
		old->release = nullptr; // the new one owns the caller's context now
		io_remove(io);
		if (record != nullptr)
			context_discard(record);
		return n;
	});
}

struct io *io_loop_move_io(struct io **io)
{
	return io_loop_move_io_to(current_ioloop, io);
}

struct timeout *io_loop_move_timeout_to(struct ioloop *loop, struct timeout **timeout)
{
	if (timeout == nullptr || *timeout == nullptr)
		return nullptr;
	struct timeout *old = *timeout;
	if (timeout_loop(old) == loop)
		return old;
	return with_errno<struct timeout *>(nullptr, [&] {
		if (loop == nullptr)
			fail(EINVAL, "io_loop_move_timeout_to: no loop");
		struct timeout *n = move_timeout(*loop, old);
		*timeout = nullptr;
		return n;
	});
}

struct timeout *io_loop_move_timeout(struct timeout **timeout)
{
	return io_loop_move_timeout_to(current_ioloop, timeout);
}

uint64_t io_loop_get_wait_usecs(struct ioloop *loop)
{
	if (loop == nullptr)
		return 0;
	loop->track_wait = true;
	return loop->wait_usecs;
}

struct io_wait_timer *io_wait_timer_add_to(struct ioloop *loop)
{
	return with_errno<io_wait_timer *>(nullptr, [&] {
		if (loop == nullptr)
			fail(EINVAL, "io_wait_timer_add: no loop");
		auto *t = new io_wait_timer{loop};
		timer_link(*loop, t);
		return t;
	});
}

struct io_wait_timer *io_wait_timer_add(void)
{
	return io_wait_timer_add_to(current_ioloop);
}

struct io_wait_timer *io_wait_timer_move_to(struct io_wait_timer **timer, struct ioloop *loop)
{
	if (timer == nullptr || *timer == nullptr)
		return nullptr;
	if (loop == nullptr) {
		errno = EINVAL;
		return nullptr;
	}
	io_wait_timer *t = std::exchange(*timer, nullptr);
	if (t->loop != nullptr)
		timer_unlink(t);
	timer_link(*loop, t);
	return t;
}

struct io_wait_timer *io_wait_timer_move(struct io_wait_timer **timer)
{
	return io_wait_timer_move_to(timer, current_ioloop);
}

void io_wait_timer_remove(struct io_wait_timer **timer)
{
	if (timer == nullptr || *timer == nullptr)
		return;
	io_wait_timer *t = std::exchange(*timer, nullptr);
	if (t->loop != nullptr)
		timer_unlink(t);
	delete t;
}

uint64_t io_wait_timer_get_usecs(struct io_wait_timer *timer)
{
	return timer != nullptr ? timer->usecs : 0;
}

bool io_is_pending(struct io *io)
{
	return io != nullptr && io->pending;
}

enum io_condition io_loop_find_fd_conditions(struct ioloop *loop, int fd)
{
	if (loop == nullptr || fd < 0 || static_cast<std::size_t>(fd) >= loop->files.size())
		return static_cast<io_condition>(0);
	io_file *f = loop->files[static_cast<std::size_t>(fd)];
	if (f == nullptr || (f->reader != nullptr && is_internal(*loop, f->reader)))
		return static_cast<io_condition>(0);
	return static_cast<io_condition>(f->conditions());
}

void io_loop_set_max_fd_count(struct ioloop *loop, unsigned int max_fds)
{
	(void)loop;
	(void)max_fds;
}

struct ioloop *io_loop_get_root(void)
{
	ioloop *loop = current_ioloop;
	while (loop != nullptr && loop->prev_current != nullptr)
		loop = loop->prev_current;
	return loop;
}

bool io_loop_have_ios(struct ioloop *loop)
{
	return loop != nullptr && loop->file_count > internal_files(*loop);
}

bool io_loop_is_empty(struct ioloop *loop)
{
	if (loop == nullptr)
		return true;
	bool signals = std::any_of(loop->signal_watchers.begin(), loop->signal_watchers.end(),
				   [](const io_signal *w) { return w != nullptr; });
	return !io_loop_have_ios(loop) && loop->timeouts.empty() && !signals;
}

bool io_loop_have_immediate_timeouts(struct ioloop *loop)
{
	if (loop == nullptr || loop->timeouts.empty())
		return false;
	return loop->timeouts.first_due(monotonic_now_us()) != nullptr;
}

void io_loop_add_switch_callback(io_switch_callback_t *callback)
{
	if (callback == nullptr)
		return;
	with_errno<int>(-1, [&] {
		switch_callbacks.push_back(callback);
		return 0;
	});
}

void io_loop_remove_switch_callback(io_switch_callback_t *callback)
{
	auto it = std::find(switch_callbacks.begin(), switch_callbacks.end(), callback);
	if (it != switch_callbacks.end())
		switch_callbacks.erase(it);
}

} // extern "C"
