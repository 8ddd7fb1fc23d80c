/* ioloop: a Dovecot-style I/O loop. The C API.
 *
 * The names and their meaning follow Dovecot's src/lib/ioloop.h, so a daemon written against
 * Dovecot's ioloop ports by changing its include. Every function that can fail on caller input
 * returns NULL (or -1) and sets errno; nothing here aborts on bad input.
 *
 * Threads: one loop belongs to one thread. current_ioloop, ioloop_time and ioloop_timeval are per
 * thread, so one loop per thread needs no locks. Only io_loop_wakeup() may be called from another
 * thread. */
#ifndef IOLOOP_IOLOOP_H
#define IOLOOP_IOLOOP_H

#include <stdint.h>
#include <sys/time.h>
#include <time.h>
#ifndef __cplusplus
#include <stdbool.h>
#endif

#ifdef __cplusplus
#if defined(__APPLE__)
/* Darwin gives a C++ thread_local variable internal linkage behind a wrapper function that C
 * cannot call; __thread makes a plain exported one (these need no constructor). */
#define IOLOOP_THREAD_LOCAL __thread
#else
#define IOLOOP_THREAD_LOCAL thread_local
#endif
extern "C" {
#else
#define IOLOOP_THREAD_LOCAL _Thread_local
#endif
/* initial-exec: these are read on every io_add and timeout_add, and the default model for a
 * shared library calls __tls_get_addr each time (11 instructions). The price: a program can
 * dlopen() the library only while glibc's static TLS reserve has room for these few bytes. */
#if defined(__GNUC__) && defined(__ELF__)
#define IOLOOP_TLS_MODEL __attribute__((tls_model("initial-exec")))
#else
#define IOLOOP_TLS_MODEL
#endif

struct ioloop;
struct io;
struct timeout;
struct io_signal;
struct ioloop_context;
struct io_wait_timer;

enum io_condition {
	IO_READ = 0x01,  /* data, EOF or error: read() will not block */
	IO_WRITE = 0x02, /* buffer space or error: write() will not block */
	IO_ERROR = 0x04  /* hang-up or error only; rides with the reader of the fd */
};

typedef void io_callback_t(void *context);
typedef void timeout_callback_t(void *context);
typedef void signal_callback_t(int signo, void *context);
/* Called after current_ioloop changed, with the loop that was current before (maybe NULL). */
typedef void io_switch_callback_t(struct ioloop *prev_ioloop);

/* The loop io_add() and timeout_add() use; set by io_loop_create() and io_loop_set_current(). */
extern IOLOOP_THREAD_LOCAL struct ioloop *current_ioloop IOLOOP_TLS_MODEL;
/* Wall-clock time, cached once per loop iteration (and by io_loop_time_refresh()). */
extern IOLOOP_THREAD_LOCAL time_t ioloop_time IOLOOP_TLS_MODEL;
extern IOLOOP_THREAD_LOCAL struct timeval ioloop_timeval IOLOOP_TLS_MODEL;

/* Creates a loop and makes it current; io_loop_destroy() makes the previous one current again. */
struct ioloop *io_loop_create(void);
void io_loop_destroy(struct ioloop **ioloop);
/* Re-creates the kernel state after fork(); the child calls it before running the loop. */
int io_loop_recreate(struct ioloop *ioloop);
/* The handler compiled in: "epoll", "kevent", "poll" or "select". */
const char *io_loop_get_handler_name(void);

/* Runs until io_loop_stop(). */
void io_loop_run(struct ioloop *ioloop);
/* Ends io_loop_run(); no further callback runs in the current iteration. */
void io_loop_stop(struct ioloop *ioloop);
/* For driving the loop by hand: set running, then call io_loop_handler_run() once per iteration
 * while io_loop_is_running(). */
void io_loop_set_running(struct ioloop *ioloop);
int io_loop_is_running(struct ioloop *ioloop);
void io_loop_handler_run(struct ioloop *ioloop);
void io_loop_set_current(struct ioloop *ioloop);
/* Ends a blocked wait. The only call that is safe from another thread (or a signal handler). */
void io_loop_wakeup(struct ioloop *ioloop);
void io_loop_time_refresh(void);

/* io_add, io_add_to, timeout_add*, signal_add* and io_loop_context_*_callbacks are also macros
 * that check the callback against the context at compile time (see the end of this file). */

/* Watches fd. An fd has at most one reader (IO_READ and/or IO_ERROR) and one writer (IO_WRITE).
 * Errors: EBADF bad or closed fd, EEXIST that slot is taken, EINVAL bad condition,
 * EPERM the fd cannot be watched by this handler (e.g. a regular file under epoll),
 * ERANGE fd >= FD_SETSIZE under select. */
struct io *io_add(int fd, enum io_condition condition, io_callback_t *callback, void *context);
struct io *io_add_to(struct ioloop *ioloop, int fd, enum io_condition condition,
		     io_callback_t *callback, void *context);
/* Removes the io and sets *io to NULL; safe inside any callback. */
void io_remove(struct io **io);
/* As io_remove(), after the fd was already closed: no kernel call is made.
 * Closing an fd with its io still added is a bug, but survivable: under poll and select the io
 * is called (POLLNVAL, EBADF) until removed, under epoll and kevent it is never called again;
 * the loop goes on serving the other ios and io_remove() is still safe afterwards. The fd
 * number cannot be added again before the old io is removed (EEXIST). */
void io_remove_closed(struct io **io);
/* Calls the io in the next iteration as if its fd were ready, without waiting. */
void io_set_pending(struct io *io);

/* File-change watches. The callback runs in loop context after the watched file changes
 * (written, attributes changed, deleted, renamed) or, for a directory, after an entry in it is
 * created, removed or renamed. Changes coalesce: any number of them before the loop gets to the
 * watch give one call. A deleted path calls the callback once; afterwards the watch stays a
 * valid handle that is never called again (re-add the path to go on watching; the new file is a
 * new watch). Several watches on one path are each called; removing one leaves the others.
 * io_remove() ends a watch, also inside its own callback; io_set_pending() works on it as on
 * any io.
 *
 * Not added: *io_r is NULL and errno says why. IO_NOTIFY_NOTFOUND: the path does not exist
 * (ENOENT). IO_NOTIFY_NOSUPPORT: the path cannot be watched here, e.g. EACCES (no search
 * permission), ENOSPC (inotify's max_user_watches reached), EMFILE/ENFILE (no fd left), EINVAL
 * (no loop, no callback, or the kqueue has no vnode filter). A caller then polls by itself. */
enum io_notify_result { IO_NOTIFY_ADDED, IO_NOTIFY_NOTFOUND, IO_NOTIFY_NOSUPPORT };
enum io_notify_result io_add_notify(const char *path, io_callback_t *callback, void *context,
				    struct io **io_r);
enum io_notify_result io_add_notify_to(struct ioloop *ioloop, const char *path,
				       io_callback_t *callback, void *context, struct io **io_r);
/* Hands the notify backend's fd (inotify's) to the caller, who then owns it (e.g. a child after
 * fork() closes it); -1 when there is none (no watch added yet; the kqueue backend, which uses
 * the handler's kqueue; the stat backend), and then nothing changes. Otherwise the loop forgets
 * its watches: they stay valid handles for io_remove() but are never called again; a watch
 * added afterwards opens a new fd. */
int io_loop_extract_notify_fd(struct ioloop *ioloop);
/* The backend compiled in: "inotify", "kqueue" or "stat". */
const char *io_loop_get_notify_backend(void);
/* 0 when the kernel reports changes as they happen; else the stat backend's polling interval,
 * the longest a change can wait before its callback runs. */
unsigned int io_loop_get_notify_poll_msecs(void);

/* Repeating timeouts: called every msecs milliseconds until removed. */
struct timeout *timeout_add(unsigned int msecs, timeout_callback_t *callback, void *context);
struct timeout *timeout_add_short(unsigned int msecs, timeout_callback_t *callback, void *context);
struct timeout *timeout_add_to(struct ioloop *ioloop, unsigned int msecs,
			       timeout_callback_t *callback, void *context);
/* Dovecot's name for a timeout shorter than a second; the same as timeout_add*() here. */
struct timeout *timeout_add_short_to(struct ioloop *ioloop, unsigned int msecs,
				     timeout_callback_t *callback, void *context);
/* One-shot timeout at a wall-clock time, converted to the monotonic clock when added. */
struct timeout *timeout_add_absolute(const struct timeval *time, timeout_callback_t *callback,
				     void *context);
struct timeout *timeout_add_absolute_to(struct ioloop *ioloop, const struct timeval *time,
					timeout_callback_t *callback, void *context);
void timeout_remove(struct timeout **timeout);
/* Restarts the period from now. */
void timeout_reset(struct timeout *timeout);

/* Calls callback in loop context (never inside the signal handler) after signo arrives.
 * Errors: EINVAL bad or uncatchable signal, EBUSY another loop watches signo. */
struct io_signal *signal_add(int signo, signal_callback_t *callback, void *context);
struct io_signal *signal_add_to(struct ioloop *ioloop, int signo, signal_callback_t *callback,
				void *context);
void signal_remove(struct io_signal **signal);
/* ---- ioloop contexts ----
 * A context is a set of activate/deactivate callbacks, typically one per client: a daemon
 * switches its log prefix, user id or statistics to the client whose callback runs. An io,
 * timeout or signal watcher added while a context is active in its loop keeps a reference to
 * it; the loop activates that context just before the callback and deactivates whatever
 * context is active just after it. At most one context per loop is active at a time.
 * Contexts cost nothing to a loop that never had one: the loop calls a context's callbacks
 * through a small record that only the ios, timeouts and signals of such a loop carry. */

/* A new context of ioloop, not active, with one reference for the caller. */
struct ioloop_context *io_loop_context_new(struct ioloop *ioloop);
void io_loop_context_ref(struct ioloop_context *ctx);
/* Drops a reference and sets *ctx to NULL; the context goes with its last reference (an active
 * context holds one of its own, as do the ios, timeouts and signals added under it). */
void io_loop_context_unref(struct ioloop_context **ctx);
/* activate(context) runs each time ctx is activated, deactivate(context) each time it is
 * deactivated, in the order the pairs were added. A pair added while ctx is active is not
 * deactivated before it was first activated. Either may be NULL (through the plain function). */
void io_loop_context_add_callbacks(struct ioloop_context *ctx, io_callback_t *activate,
				   io_callback_t *deactivate, void *context);
/* Removes the first pair equal to these three; safe inside the callbacks. Unknown: no-op. */
void io_loop_context_remove_callbacks(struct ioloop_context *ctx, io_callback_t *activate,
				      io_callback_t *deactivate, void *context);
/* The context active in ioloop, or NULL. */
struct ioloop_context *io_loop_get_current_context(struct ioloop *ioloop);
/* Activates ctx in its loop. Another context active there is deactivated first (Dovecot
 * asserts there is none); ctx already active: no-op. */
void io_loop_context_activate(struct ioloop_context *ctx);
/* Deactivates ctx if it is the active one; otherwise a no-op (Dovecot asserts). */
void io_loop_context_deactivate(struct ioloop_context *ctx);
/* Deactivates the active context, if any and not ctx, then activates ctx. */
void io_loop_context_switch(struct ioloop_context *ctx);

/* ---- moving between loops (of one thread: a loop belongs to its thread) ----
 * The io or timeout continues in ioloop with the same callback and context: an io keeps its
 * pending state, a timeout its deadline (the time left) and interval; a one-shot that already
 * fired stays unarmed. The old handle is consumed (*io or *timeout set to NULL) and the new
 * one returned; the new one takes ioloop's active context, as a fresh add would. Already in
 * ioloop: returns it unchanged. NULL: returns NULL. On failure (e.g. EEXIST: ioloop already
 * watches that fd the same way) returns NULL with errno and leaves the old handle as it was. */
struct io *io_loop_move_io_to(struct ioloop *ioloop, struct io **io);
struct io *io_loop_move_io(struct io **io); /* to current_ioloop */
struct timeout *io_loop_move_timeout_to(struct ioloop *ioloop, struct timeout **timeout);
struct timeout *io_loop_move_timeout(struct timeout **timeout);

/* ---- wait accounting ----
 * Time a loop spent blocked in the kernel wait, in microseconds. A loop counts it from the
 * first io_loop_get_wait_usecs() or io_wait_timer_add*() on it (the first call returns 0), so
 * a loop nobody asks reads no extra clock. A wait timer adds up the waits of the loop it is
 * in, and can follow a client from loop to loop. */
uint64_t io_loop_get_wait_usecs(struct ioloop *ioloop);
struct io_wait_timer *io_wait_timer_add(void);
struct io_wait_timer *io_wait_timer_add_to(struct ioloop *ioloop);
/* Consumes *timer (set to NULL) and returns it, now counting the waits of ioloop. */
struct io_wait_timer *io_wait_timer_move(struct io_wait_timer **timer);
struct io_wait_timer *io_wait_timer_move_to(struct io_wait_timer **timer, struct ioloop *ioloop);
void io_wait_timer_remove(struct io_wait_timer **timer);
uint64_t io_wait_timer_get_usecs(struct io_wait_timer *timer);

/* ---- state ---- */
/* io_set_pending() was called and the io has not been called since. */
bool io_is_pending(struct io *io);
/* The conditions ioloop watches fd for (0: none). */
enum io_condition io_loop_find_fd_conditions(struct ioloop *ioloop, int fd);
/* A sizing hint in Dovecot; here the registry grows as fds come, so it has no effect. */
void io_loop_set_max_fd_count(struct ioloop *ioloop, unsigned int max_fds);
/* The first loop of this thread's chain of loops: following each loop's creator, the loop that
 * was current when it was created. */
struct ioloop *io_loop_get_root(void);
/* Any io added (the loop's own wakeup and signal pipes do not count). */
bool io_loop_have_ios(struct ioloop *ioloop);
/* No io, no armed timeout and no signal watcher: running it would wait forever. */
bool io_loop_is_empty(struct ioloop *ioloop);
/* A timeout is due now: the next iteration will not block for it. */
bool io_loop_have_immediate_timeouts(struct ioloop *ioloop);
/* callback(prev) runs after each change of this thread's current_ioloop (io_loop_create,
 * io_loop_destroy, io_loop_set_current), in the order added. The list is per thread. */
void io_loop_add_switch_callback(io_switch_callback_t *callback);
/* Removes one registration of callback; unknown: no-op. */
void io_loop_remove_switch_callback(io_switch_callback_t *callback);

#ifdef __cplusplus
}
#endif

/* ---- type-checked callbacks ----
 * As in Dovecot, io_add(), io_add_to(), the timeout_add*() family, signal_add(), signal_add_to()
 * and io_loop_context_add/remove_callbacks() are macros over the functions above. They take a
 * callback whose parameter is the context's own pointer type, without a cast:
 *	static void client_input(struct client *client);
 *	client->io = io_add(fd, IO_READ, client_input, client);
 * and refuse at compile time a callback whose parameter is another type. A callback taking
 * void * accepts any context, as the plain functions do (Dovecot refuses it for a context
 * that is not a void *). A NULL context therefore needs a void * callback.
 * In C (gcc, clang) the check is __builtin_types_compatible_p on __typeof__ of both; in C++ an
 * overload that deduces the context's type and takes only a callback of that type, or of void *.
 * Each argument is evaluated once.
 * The plain functions keep their names and signatures (the library's symbols do not change):
 * call one unchecked by parenthesizing its name, (io_add)(fd, IO_READ, cb, ctx), or define
 * IOLOOP_NO_TYPED_CALLBACKS before including this header to get no macros at all. */
#if !defined(IOLOOP_NO_TYPED_CALLBACKS)
#if defined(__cplusplus)

namespace ioloop_typed {
template <class T> struct same {
	typedef T type;
};
struct cb_ctx {
	io_callback_t *callback;
	void *context;
};
struct signal_cb_ctx {
	signal_callback_t *callback;
	void *context;
};
struct cb_pair_ctx {
	io_callback_t *activate, *deactivate;
	void *context;
};
template <class T> inline void *untyped(T *context)
{
	return const_cast<void *>(static_cast<const volatile void *>(context));
}
// T comes from the context alone, so a lambda converts to the callback type; a callback of
// another type has no conversion and the call does not compile.
template <class T>
inline cb_ctx bind(typename same<void (*)(T *)>::type callback, T *context)
{
	return {reinterpret_cast<io_callback_t *>(callback), untyped(context)};
}
inline cb_ctx bind(io_callback_t *callback, void *context)
{
	return {callback, context};
}
template <class T>
inline signal_cb_ctx bind_signal(typename same<void (*)(int, T *)>::type callback, T *context)
{
	return {reinterpret_cast<signal_callback_t *>(callback), untyped(context)};
}
inline signal_cb_ctx bind_signal(signal_callback_t *callback, void *context)
{
	return {callback, context};
}
template <class T>
inline cb_pair_ctx bind_pair(typename same<void (*)(T *)>::type activate,
			     typename same<void (*)(T *)>::type deactivate, T *context)
{
	return {reinterpret_cast<io_callback_t *>(activate),
		reinterpret_cast<io_callback_t *>(deactivate), untyped(context)};
}
inline cb_pair_ctx bind_pair(io_callback_t *activate, io_callback_t *deactivate, void *context)
{
	return {activate, deactivate, context};
}

inline struct io *io_add(int fd, enum io_condition condition, cb_ctx b)
{
	return (::io_add)(fd, condition, b.callback, b.context);
}
inline struct io *io_add_to(struct ioloop *ioloop, int fd, enum io_condition condition, cb_ctx b)
{
	return (::io_add_to)(ioloop, fd, condition, b.callback, b.context);
}
inline struct timeout *timeout_add(unsigned int msecs, cb_ctx b)
{
	return (::timeout_add)(msecs, b.callback, b.context);
}
inline struct timeout *timeout_add_short(unsigned int msecs, cb_ctx b)
{
	return (::timeout_add_short)(msecs, b.callback, b.context);
}
inline struct timeout *timeout_add_to(struct ioloop *ioloop, unsigned int msecs, cb_ctx b)
{
	return (::timeout_add_to)(ioloop, msecs, b.callback, b.context);
}
inline struct timeout *timeout_add_short_to(struct ioloop *ioloop, unsigned int msecs, cb_ctx b)
{
	return (::timeout_add_short_to)(ioloop, msecs, b.callback, b.context);
}
inline struct timeout *timeout_add_absolute(const struct timeval *time, cb_ctx b)
{
	return (::timeout_add_absolute)(time, b.callback, b.context);
}
inline struct timeout *timeout_add_absolute_to(struct ioloop *ioloop, const struct timeval *time,
					       cb_ctx b)
{
	return (::timeout_add_absolute_to)(ioloop, time, b.callback, b.context);
}
inline struct io_signal *signal_add(int signo, signal_cb_ctx b)
{
	return (::signal_add)(signo, b.callback, b.context);
}
inline struct io_signal *signal_add_to(struct ioloop *ioloop, int signo, signal_cb_ctx b)
{
	return (::signal_add_to)(ioloop, signo, b.callback, b.context);
}
inline void io_loop_context_add_callbacks(struct ioloop_context *ctx, cb_pair_ctx b)
{
	(::io_loop_context_add_callbacks)(ctx, b.activate, b.deactivate, b.context);
}
inline void io_loop_context_remove_callbacks(struct ioloop_context *ctx, cb_pair_ctx b)
{
	(::io_loop_context_remove_callbacks)(ctx, b.activate, b.deactivate, b.context);
}
} // namespace ioloop_typed

/* Variadic: a lambda's own commas (captures, a body) split it into several macro arguments,
 * which __VA_ARGS__ puts back together. */
#define io_add(fd, condition, ...) \
	::ioloop_typed::io_add(fd, condition, ::ioloop_typed::bind(__VA_ARGS__))
#define io_add_to(ioloop, fd, condition, ...) \
	::ioloop_typed::io_add_to(ioloop, fd, condition, ::ioloop_typed::bind(__VA_ARGS__))
#define timeout_add(msecs, ...) ::ioloop_typed::timeout_add(msecs, ::ioloop_typed::bind(__VA_ARGS__))
#define timeout_add_short(msecs, ...) \
	::ioloop_typed::timeout_add_short(msecs, ::ioloop_typed::bind(__VA_ARGS__))
#define timeout_add_to(ioloop, msecs, ...) \
	::ioloop_typed::timeout_add_to(ioloop, msecs, ::ioloop_typed::bind(__VA_ARGS__))
#define timeout_add_short_to(ioloop, msecs, ...) \
	::ioloop_typed::timeout_add_short_to(ioloop, msecs, ::ioloop_typed::bind(__VA_ARGS__))
#define timeout_add_absolute(time, ...) \
	::ioloop_typed::timeout_add_absolute(time, ::ioloop_typed::bind(__VA_ARGS__))
#define timeout_add_absolute_to(ioloop, time, ...) \
	::ioloop_typed::timeout_add_absolute_to(ioloop, time, ::ioloop_typed::bind(__VA_ARGS__))
#define signal_add(signo, ...) ::ioloop_typed::signal_add(signo, ::ioloop_typed::bind_signal(__VA_ARGS__))
#define signal_add_to(ioloop, signo, ...) \
	::ioloop_typed::signal_add_to(ioloop, signo, ::ioloop_typed::bind_signal(__VA_ARGS__))
#define io_loop_context_add_callbacks(ctx, ...) \
	::ioloop_typed::io_loop_context_add_callbacks(ctx, ::ioloop_typed::bind_pair(__VA_ARGS__))
#define io_loop_context_remove_callbacks(ctx, ...) \
	::ioloop_typed::io_loop_context_remove_callbacks(ctx, ::ioloop_typed::bind_pair(__VA_ARGS__))

#elif defined(__GNUC__)

/* The callback's type (a function's name or a pointer to one) is void (*)(T) for the context's
 * type T, or void (*)(void *). &* makes a pointer of either. */
#define IOLOOP_CALLBACK_FITS(callback, context) \
	(__builtin_types_compatible_p(__typeof__(&*(callback)), void (*)(__typeof__(context))) || \
	 __builtin_types_compatible_p(__typeof__(&*(callback)), void (*)(void *)))
#define IOLOOP_SIGNAL_CALLBACK_FITS(callback, context) \
	(__builtin_types_compatible_p(__typeof__(&*(callback)), void (*)(int, __typeof__(context))) || \
	 __builtin_types_compatible_p(__typeof__(&*(callback)), void (*)(int, void *)))
/* An expression of type void, or a compile error naming the mismatch. */
#define IOLOOP_REQUIRE(fits) \
	((void)sizeof(struct { \
		_Static_assert(fits, "ioloop: the callback's parameter is neither the context's type nor void *"); \
		char c; \
	}))
/* Through void (*)(void): the one function type a cast from any other does not warn about. */
#define IOLOOP_TYPED_CALLBACK(callback, context) \
	(IOLOOP_REQUIRE(IOLOOP_CALLBACK_FITS(callback, context)), \
	 (io_callback_t *)(void (*)(void))(callback))

#define io_add(fd, condition, callback, context) \
	io_add(fd, condition, IOLOOP_TYPED_CALLBACK(callback, context), context)
#define io_add_to(ioloop, fd, condition, callback, context) \
	io_add_to(ioloop, fd, condition, IOLOOP_TYPED_CALLBACK(callback, context), context)
#define timeout_add(msecs, callback, context) \
	timeout_add(msecs, IOLOOP_TYPED_CALLBACK(callback, context), context)
#define timeout_add_short(msecs, callback, context) \
	timeout_add_short(msecs, IOLOOP_TYPED_CALLBACK(callback, context), context)
#define timeout_add_to(ioloop, msecs, callback, context) \
	timeout_add_to(ioloop, msecs, IOLOOP_TYPED_CALLBACK(callback, context), context)
#define timeout_add_short_to(ioloop, msecs, callback, context) \
	timeout_add_short_to(ioloop, msecs, IOLOOP_TYPED_CALLBACK(callback, context), context)
#define timeout_add_absolute(time, callback, context) \
	timeout_add_absolute(time, IOLOOP_TYPED_CALLBACK(callback, context), context)
#define timeout_add_absolute_to(ioloop, time, callback, context) \
	timeout_add_absolute_to(ioloop, time, IOLOOP_TYPED_CALLBACK(callback, context), context)
#define signal_add(signo, callback, context) \
	signal_add(signo, \
		   (IOLOOP_REQUIRE(IOLOOP_SIGNAL_CALLBACK_FITS(callback, context)), \
		    (signal_callback_t *)(void (*)(void))(callback)), \
		   context)
#define signal_add_to(ioloop, signo, callback, context) \
	signal_add_to(ioloop, signo, \
		      (IOLOOP_REQUIRE(IOLOOP_SIGNAL_CALLBACK_FITS(callback, context)), \
		       (signal_callback_t *)(void (*)(void))(callback)), \
		      context)
#define io_loop_context_add_callbacks(ctx, activate, deactivate, context) \
	io_loop_context_add_callbacks(ctx, IOLOOP_TYPED_CALLBACK(activate, context), \
				      IOLOOP_TYPED_CALLBACK(deactivate, context), context)
#define io_loop_context_remove_callbacks(ctx, activate, deactivate, context) \
	io_loop_context_remove_callbacks(ctx, IOLOOP_TYPED_CALLBACK(activate, context), \
					 IOLOOP_TYPED_CALLBACK(deactivate, context), context)

#endif /* other C compilers: the plain functions, unchecked */
#endif /* IOLOOP_NO_TYPED_CALLBACKS */

#endif
