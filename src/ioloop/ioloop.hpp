// ioloop: a Dovecot-style I/O loop. The C++ API.
//
// Handles are RAII: destroying an Io, Notify, Timeout or SignalWatch removes it, also from inside
// its own callback. Destroy every handle before the IoLoop it came from. Callbacks are any
// callable; each is stored once when added and never copied or allocated again when it runs.
// Errors are std::system_error with the errno the C API documents (ioloop.h).
#pragma once

#include "ioloop.h"

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <system_error>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace iol {

enum class Cond : unsigned { read = IO_READ, write = IO_WRITE, error = IO_ERROR };
constexpr Cond operator|(Cond a, Cond b)
{
	return static_cast<Cond>(static_cast<unsigned>(a) | static_cast<unsigned>(b));
}

namespace detail {
using release_fn = void(void *);
// The core's throwing entry points; the C API wraps them and turns exceptions into errno.
::io *add_io(::ioloop *loop, int fd, unsigned conditions, io_callback_t *callback, void *context,
	     release_fn *release);
::timeout *add_timeout(::ioloop *loop, std::int64_t delay_us, bool repeat,
		       timeout_callback_t *callback, void *context, release_fn *release);
::io_signal *add_signal(::ioloop *loop, int signo, signal_callback_t *callback, void *context,
			release_fn *release);
void post(::ioloop *loop, std::function<void()> fn);
// Takes callback and context only when it returns IO_NOTIFY_ADDED; else errno says why.
io_notify_result add_notify(::ioloop *loop, const char *path, io_callback_t *callback,
			    void *context, release_fn *release, ::io **io_r);
::ioloop *create_loop();
void recreate_loop(::ioloop *loop);

template <class F> struct Stored {
	static void call(void *p) { (*static_cast<F *>(p))(); }
	static void call_signal(int signo, void *p) { (*static_cast<F *>(p))(signo); }
	static void release(void *p) { delete static_cast<F *>(p); }
};

// A timeout's callable begins with the function that frees it: the timeout keeps no field of its
// own for that.
template <class F> struct StoredTimeout {
	release_fn *release;
	F f;
	static void call(void *p) { static_cast<StoredTimeout *>(p)->f(); }
	static void free(void *p) { delete static_cast<StoredTimeout *>(p); }
};

// Owns a C handle and removes it with the matching C function.
template <class T, void (*Remove)(T **)> class Handle {
public:
	Handle() = default;
	explicit Handle(T *h) : h_(h) {}
	Handle(Handle &&o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
	Handle &operator=(Handle &&o) noexcept
	{
		if (this != &o) {
			remove();
			h_ = std::exchange(o.h_, nullptr);
		}
		return *this;
	}
	Handle(const Handle &) = delete;
	Handle &operator=(const Handle &) = delete;
	~Handle() { remove(); }

	void remove() noexcept
	{
		if (h_ != nullptr)
			Remove(&h_);
	}
	explicit operator bool() const { return h_ != nullptr; }
	T *get() const { return h_; }

protected:
	T *h_ = nullptr;
};
} // namespace detail

class Io : public detail::Handle<::io, io_remove> {
public:
	using Handle::Handle;
	// After close(fd): removes without touching the kernel, so the number can be reused at once.
	void remove_closed() noexcept
	{
		if (h_ != nullptr)
			io_remove_closed(&h_);
	}
	void set_pending() { io_set_pending(h_); }
	// Continues in `loop` (io_loop_move_io_to): pending state kept. Throws std::system_error
	// and leaves the io where it was when the target refuses it.
	void move_to(::ioloop *loop)
	{
		if (h_ == nullptr)
			return;
		::io *moved = io_loop_move_io_to(loop, &h_); // on failure h_ is left as it was
		if (moved == nullptr)
			throw std::system_error(errno, std::generic_category(), "io_loop_move_io_to");
		h_ = moved;
	}
};

class Timeout : public detail::Handle<::timeout, timeout_remove> {
public:
	using Handle::Handle;
	// Restarts the period (or a one-shot's delay) from now.
	void reset() { timeout_reset(h_); }
	// Continues in `loop` (io_loop_move_timeout_to): the time left and the interval kept.
	void move_to(::ioloop *loop)
	{
		if (h_ == nullptr)
			return;
		::timeout *moved = io_loop_move_timeout_to(loop, &h_);
		if (moved == nullptr)
			throw std::system_error(errno, std::generic_category(), "io_loop_move_timeout_to");
		h_ = moved;
	}
};

using SignalWatch = detail::Handle<::io_signal, signal_remove>;

// A file-change watch (ioloop.h: io_add_notify).
class Notify : public detail::Handle<::io, io_remove> {
public:
	using Handle::Handle;
};
enum class NotifyResult { added, not_found, not_supported };

class IoLoop {
public:
	IoLoop() : loop_(detail::create_loop()) {}
	~IoLoop() { io_loop_destroy(&loop_); }
	IoLoop(const IoLoop &) = delete;
	IoLoop &operator=(const IoLoop &) = delete;

	// Runs until stop().
	void run() { io_loop_run(loop_); }
	// One iteration: waits for the first io or timeout, then runs what is due.
	void run_once()
	{
		io_loop_set_running(loop_);
		io_loop_handler_run(loop_);
		io_loop_stop(loop_);
	}
	void stop() { io_loop_stop(loop_); }
	bool running() const { return io_loop_is_running(loop_) != 0; }
	// Thread-safe: ends a blocked wait.
	void wakeup() noexcept { io_loop_wakeup(loop_); }
	// Thread-safe: runs fn once, in the loop's thread, in its next iteration.
	void post(std::function<void()> fn) { detail::post(loop_, std::move(fn)); }
	// In the child after fork(), before running the loop there.
	void recreate() { detail::recreate_loop(loop_); }

	template <class F> [[nodiscard]] Io add_io(int fd, Cond cond, F &&fn)
	{
		using S = detail::Stored<std::decay_t<F>>;
		auto stored = std::make_unique<std::decay_t<F>>(std::forward<F>(fn));
		Io io(detail::add_io(loop_, fd, static_cast<unsigned>(cond), S::call, stored.get(), S::release));
		stored.release();
		return io;
	}

	// Repeating: fn runs every `interval` until the handle goes, keeping its phase (no drift).
	template <class F> [[nodiscard]] Timeout add_timeout(std::chrono::microseconds interval, F &&fn)
	{
		return timeout(interval, true, std::forward<F>(fn));
	}
	template <class F> [[nodiscard]] Timeout add_oneshot(std::chrono::microseconds delay, F &&fn)
	{
		return timeout(delay, false, std::forward<F>(fn));
	}
	// fn(int signo) runs in loop context after the signal arrives.
	template <class F> [[nodiscard]] SignalWatch add_signal(int signo, F &&fn)
	{
		using S = detail::Stored<std::decay_t<F>>;
		auto stored = std::make_unique<std::decay_t<F>>(std::forward<F>(fn));
		SignalWatch w(detail::add_signal(loop_, signo, S::call_signal, stored.get(), S::release));
		stored.release();
		return w;
	}

	// Moves a handle from another loop of this thread into this one (the old loop's handle
	// becomes this loop's; see Io::move_to, Timeout::move_to).
	void move(Io &io) { io.move_to(loop_); }
	void move(Timeout &t) { t.move_to(loop_); }
	// fn() runs in loop context after path changes (ioloop.h: io_add_notify). Not added: `out`
	// is empty and errno says why.
	template <class F> NotifyResult add_notify(const std::string &path, Notify &out, F &&fn)
	{
		using S = detail::Stored<std::decay_t<F>>;
		auto stored = std::make_unique<std::decay_t<F>>(std::forward<F>(fn));
		out.remove();
		::io *h = nullptr;
		switch (detail::add_notify(loop_, path.c_str(), S::call, stored.get(), S::release, &h)) {
		case IO_NOTIFY_ADDED:
			stored.release();
			out = Notify(h);
			return NotifyResult::added;
		case IO_NOTIFY_NOTFOUND:
			return NotifyResult::not_found;
		default:
			return NotifyResult::not_supported;
		}
	}

	::ioloop *c_loop() const { return loop_; }
	static const char *handler_name() { return io_loop_get_handler_name(); }

private:
	template <class F> Timeout timeout(std::chrono::microseconds d, bool repeat, F &&fn)
	{
		using S = detail::StoredTimeout<std::decay_t<F>>;
		auto stored = std::unique_ptr<S>(new S{S::free, std::forward<F>(fn)});
		Timeout t(detail::add_timeout(loop_, d.count(), repeat, S::call, stored.get(), S::free));
		stored.release();
		return t;
	}

	::ioloop *loop_;
};

// An ioloop context (ioloop.h): one per client, say, whose on_activate/on_deactivate pairs run
// around every callback added while it was active. The object owns one reference and its
// pairs; destroying it removes the pairs, and the C context lives on while ios or timeouts
// added under it do.
class Context {
public:
	explicit Context(IoLoop &loop) : loop_(loop.c_loop()), ctx_(io_loop_context_new(loop_))
	{
		if (ctx_ == nullptr)
			throw std::system_error(errno, std::generic_category(), "io_loop_context_new");
	}
	~Context()
	{
		deactivate(); // its pairs see the deactivation they are owed
		for (auto &p : pairs_)
			(io_loop_context_remove_callbacks)(ctx_, Pair::activate, Pair::deactivate, p.get());
		io_loop_context_unref(&ctx_);
	}
	Context(const Context &) = delete;
	Context &operator=(const Context &) = delete;

	template <class A, class D> void add_callbacks(A &&on_activate, D &&on_deactivate)
	{
		auto p = std::make_unique<Pair>(Pair{std::forward<A>(on_activate), std::forward<D>(on_deactivate)});
		pairs_.push_back(std::move(p));
		(io_loop_context_add_callbacks)(ctx_, Pair::activate, Pair::deactivate, pairs_.back().get());
	}
	void activate() { io_loop_context_activate(ctx_); }
	void deactivate() { io_loop_context_deactivate(ctx_); }
	// Deactivates whatever context is active in the loop and activates this one.
	void switch_to() { io_loop_context_switch(ctx_); }
	bool active() const { return io_loop_get_current_context(loop_) == ctx_; }
	::ioloop_context *get() const { return ctx_; }

private:
	struct Pair {
		std::function<void()> on_activate, on_deactivate;
		static void activate(void *p) { static_cast<Pair *>(p)->on_activate(); }
		static void deactivate(void *p) { static_cast<Pair *>(p)->on_deactivate(); }
	};
	::ioloop *loop_;
	::ioloop_context *ctx_;
	std::vector<std::unique_ptr<Pair>> pairs_;
};

} // namespace iol
