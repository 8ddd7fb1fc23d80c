// Creating, running and destroying a loop: the order of one iteration lives here.
#include "core-internal.hpp"
#include "handler.hpp"
#include "ioloop.hpp"

using namespace ioloop_detail;

namespace {

void destroy(ioloop *loop) noexcept
{
	context_end(*loop); // no context is active once its loop is gone
	wakeup_deinit(*loop);
	signals_deinit(*loop);
	notify_deinit(*loop);
	loop->in_iteration = false;
	free_dead(*loop);
	free_all_ios(*loop);
	free_queued_timeouts(*loop);
	if (loop->handler != nullptr)
		ioloop_handler::deinit(*loop);
	free_wait_timers(*loop);
	if (current_ioloop == loop)
		set_current(loop->prev_current);
	delete loop;
}

// The handler's run, with the time it spent in the kernel wait added to the loop's count. The
// wait ends where the handler refreshed now_us; a callback that refreshes it again
// (io_loop_time_refresh) adds its own time too, as in Dovecot, which counts the same way.
[[gnu::noinline]] void run_counting_wait(ioloop &loop, int max_wait)
{
	std::int64_t started = monotonic_now_us();
	ioloop_handler::run(loop, max_wait);
	add_wait_time(loop, loop.now_us - started);
}

int wait_ms(ioloop &loop)
{
	if (loop.pending_head != nullptr || loop.signals_due ||
	    loop.have_posted.load(std::memory_order_relaxed))
		return 0;
	return timeout_wait_ms(loop);
}

} // namespace

namespace iol::detail {

::ioloop *create_loop()
{
	auto *loop = new ioloop;
	try {
		ioloop_handler::init(*loop, 128);
		wakeup_init(*loop);
	} catch (...) {
		destroy(loop);
		throw;
	}
	refresh_time(*loop);
	loop->prev_current = current_ioloop;
	set_current(loop);
	return loop;
}

void recreate_loop(::ioloop *loop)
{
	if (loop == nullptr)
		fail(EINVAL, "io_loop_recreate: no loop");
	// The kernel state is shared with (or, for kqueue, lost from) the parent: rebuild it all.
	ioloop_handler::deinit(*loop);
	loop->handler = nullptr;
	ioloop_handler::init(*loop, loop->file_count + 16);
	// the internal ios go; their owners open fresh fds below
	for (io **internal : {&loop->wakeup_io, &loop->signal_io, &loop->notify_io}) {
		if (*internal != nullptr) {
			io_file *f = (*internal)->file;
			f->reader = nullptr;
			loop->files[static_cast<std::size_t>(f->fd)] = nullptr;
			loop->file_count--;
			delete *internal;
			delete f;
			*internal = nullptr;
		}
	}
	readd_all_files(*loop);
	wakeup_recreate(*loop);
	signals_recreate(*loop);
	notify_recreate(*loop);
}

} // namespace iol::detail

extern "C" {

struct ioloop *io_loop_create(void)
{
	return with_errno<ioloop *>(nullptr, [] { return iol::detail::create_loop(); });
}

void io_loop_destroy(struct ioloop **loop)
{
	if (loop != nullptr && *loop != nullptr)
		destroy(std::exchange(*loop, nullptr));
}

int io_loop_recreate(struct ioloop *loop)
{
	return with_errno<int>(-1, [&] {
		iol::detail::recreate_loop(loop);
		return 0;
	});
}

const char *io_loop_get_handler_name(void)
{
	return ioloop_handler::name;
}

void io_loop_set_running(struct ioloop *loop)
{
	loop->running = true;
}

int io_loop_is_running(struct ioloop *loop)
{
	return loop->running ? 1 : 0;
}

void io_loop_stop(struct ioloop *loop)
{
	loop->running = false;
}

void io_loop_set_current(struct ioloop *loop)
{
	set_current(loop);
}

void io_loop_handler_run(struct ioloop *loop)
{
	ioloop &l = *loop;
	int max_wait = wait_ms(l);
	l.in_iteration = true;
	l.wait_count++;
	l.timeouts.new_epoch(); // timeouts armed from here on wait for the next iteration
	if (l.track_wait) [[unlikely]]
		run_counting_wait(l, max_wait);
	else
		ioloop_handler::run(l, max_wait);
	if (l.running && l.signals_due)
		run_signals(l);
	if (l.running && l.have_posted.load(std::memory_order_acquire))
		run_posted(l);
	if (l.running && l.pending_head != nullptr)
		run_pending(l);
	run_timeouts(l);
	l.in_iteration = false;
	free_dead(l);
}

void io_loop_run(struct ioloop *loop)
{
	context_end(*loop); // callbacks start under their own context, or none
	loop->running = true;
	while (loop->running)
		io_loop_handler_run(loop);
}

} // extern "C"
