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

#include <sys/time.h>
#include <time.h>

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

enum io_condition {
	IO_READ = 0x01,  /* data, EOF or error: read() will not block */
	IO_WRITE = 0x02, /* buffer space or error: write() will not block */
	IO_ERROR = 0x04  /* hang-up or error only; rides with the reader of the fd */
};

typedef void io_callback_t(void *context);
typedef void timeout_callback_t(void *context);
typedef void signal_callback_t(int signo, void *context);

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

#ifdef __cplusplus
}
#endif

#endif
