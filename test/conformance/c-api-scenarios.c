/* C11 users of the C API: compiled as C, so the header is proven valid C, and driven from
 * test-c-api.cpp. Each scenario returns 0 on success or the number of the check that failed. */
#define _GNU_SOURCE
#include <ioloop/ioloop.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "c-api-scenarios.h"

struct echo {
	int fd;
	int reads;
	struct io *io;
	struct ioloop *loop;
};

/* Both ends of a socketpair non-blocking (SOCK_NONBLOCK is Linux's). */
static int set_nonblocking(const int sv[2])
{
	for (int i = 0; i < 2; i++) {
		if (fcntl(sv[i], F_SETFL, fcntl(sv[i], F_GETFL) | O_NONBLOCK) < 0)
			return -1;
	}
	return 0;
}

static void echo_read(void *context)
{
	struct echo *e = context;
	char c;
	if (read(e->fd, &c, 1) == 1)
		e->reads++;
	if (e->reads == 3) {
		io_remove(&e->io); /* removing itself inside its callback */
		io_loop_stop(e->loop);
	}
}

static void count_timeout(void *context)
{
	(*(int *)context)++;
}

static void stop_loop(void *context)
{
	io_loop_stop(context);
}

int c_scenario_dovecot_style(void)
{
	struct ioloop *loop = io_loop_create();
	if (loop == NULL)
		return 1;
	if (current_ioloop != loop)
		return 2;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || set_nonblocking(sv) < 0)
		return 3;
	struct echo e = {sv[0], 0, NULL, loop};
	e.io = io_add(sv[0], IO_READ, echo_read, &e);
	if (e.io == NULL)
		return 4;
	if (write(sv[1], "abc", 3) != 3)
		return 5;
	int ticks = 0;
	struct timeout *tick = timeout_add(1, count_timeout, &ticks);
	struct timeout *guard = timeout_add(3000, stop_loop, loop);
	io_loop_run(loop);
	if (e.reads != 3 || e.io != NULL)
		return 6;
	/* one iteration at a time, Dovecot's way */
	int before = ticks;
	io_loop_set_running(loop);
	while (ticks < before + 3 && io_loop_is_running(loop))
		io_loop_handler_run(loop);
	if (ticks < before + 3)
		return 7;
	if (ioloop_time == 0 || ioloop_timeval.tv_sec != ioloop_time)
		return 8;
	timeout_remove(&tick);
	timeout_remove(&guard);
	if (tick != NULL || guard != NULL)
		return 9;
	close(sv[0]);
	close(sv[1]);
	io_loop_destroy(&loop);
	if (loop != NULL || current_ioloop != NULL)
		return 10;
	return 0;
}

static void nop(void *context)
{
	(void)context;
}

int c_scenario_errors(void)
{
	struct ioloop *loop = io_loop_create();
	if (loop == NULL)
		return 1;
	errno = 0;
	if (io_add(-1, IO_READ, nop, NULL) != NULL || errno != EBADF)
		return 2;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 || set_nonblocking(sv) < 0)
		return 3;
	struct io *r = io_add(sv[0], IO_READ, nop, NULL);
	errno = 0;
	if (r == NULL || io_add(sv[0], IO_READ, nop, NULL) != NULL || errno != EEXIST)
		return 4;
	errno = 0;
	if (io_add(sv[0], IO_READ | IO_WRITE, nop, NULL) != NULL || errno != EINVAL)
		return 5;
	errno = 0;
	if (io_add_to(NULL, sv[0], IO_WRITE, nop, NULL) != NULL || errno != EINVAL)
		return 6;
	errno = 0;
	/* the plain function: the typed macro refuses a NULL callback at compile time */
	if ((signal_add)(0, NULL, NULL) != NULL || errno != EINVAL)
		return 7;
	/* removing NULLs is harmless, as in Dovecot */
	struct io *none = NULL;
	struct timeout *no_to = NULL;
	io_remove(&none);
	timeout_remove(&no_to);
	close(sv[0]); /* closed first: io_remove_closed makes no kernel call */
	io_remove_closed(&r);
	if (r != NULL)
		return 8;
	close(sv[1]);
	io_loop_destroy(&loop);
	return 0;
}

static void signal_seen(int signo, void *context)
{
	*(int *)context = signo;
}

int c_scenario_signal(int signo)
{
	struct ioloop *loop = io_loop_create();
	int seen = 0;
	struct io_signal *s = signal_add(signo, signal_seen, &seen);
	if (s == NULL)
		return 1;
	struct timeout *guard = timeout_add(3000, stop_loop, loop);
	if (raise(signo) != 0)
		return 2;
	io_loop_set_running(loop);
	while (seen == 0 && io_loop_is_running(loop))
		io_loop_handler_run(loop);
	if (seen != signo)
		return 3;
	signal_remove(&s);
	timeout_remove(&guard);
	io_loop_destroy(&loop);
	return 0;
}

const char *c_scenario_handler(void)
{
	return io_loop_get_handler_name();
}

struct watch {
	struct io *io;
	struct ioloop *loop;
	int calls;
};

static void watch_changed(void *context)
{
	struct watch *w = context;
	w->calls++;
	io_remove(&w->io); /* ends the watch inside its own callback */
	io_loop_stop(w->loop);
}

static void give_up(void *context)
{
	*(int *)context = 1;
	io_loop_stop(current_ioloop);
}

int c_scenario_notify(const char *dir)
{
	char path[4096];
	struct watch w = {NULL, NULL, 0};
	struct io *missing = NULL;
	int expired = 0, rc = 0;
	w.loop = io_loop_create();
	if (w.loop == NULL)
		return 1;
	if (snprintf(path, sizeof path, "%s/missing", dir) >= (int)sizeof path)
		return 2;
	errno = 0;
	if (io_add_notify(path, watch_changed, &w, &missing) != IO_NOTIFY_NOTFOUND ||
	    errno != ENOENT || missing != NULL)
		rc = 3;
	enum io_notify_result r = io_add_notify(dir, watch_changed, &w, &w.io);
	if (rc == 0 && r == IO_NOTIFY_NOSUPPORT && errno == EINVAL) {
		io_loop_destroy(&w.loop);
		return -1;
	}
	if (rc == 0 && (r != IO_NOTIFY_ADDED || w.io == NULL))
		rc = 4;
	if (rc == 0) {
		snprintf(path, sizeof path, "%s/created", dir);
		int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			rc = 5;
		else
			close(fd);
	}
	if (rc == 0) {
		struct timeout *guard =
			timeout_add(10000 + 3 * io_loop_get_notify_poll_msecs(), give_up, &expired);
		io_loop_run(w.loop);
		timeout_remove(&guard);
		if (expired || w.calls != 1 || w.io != NULL)
			rc = 6;
	}
	io_loop_destroy(&w.loop);
	return rc;
}
