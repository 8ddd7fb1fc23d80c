/* The typed-callback macros from C: every callback below takes its context's own pointer type,
 * with no cast, and this file is compiled with -Wall -Wextra -Wpedantic -Werror. Driven from
 * test-dovecot-api.cpp; each function returns 0 or the number of the check that failed. */
#define _GNU_SOURCE
#include <ioloop/ioloop.h>

#include <errno.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dovecot-api-scenarios.h"

struct counter {
	int calls;
	struct counter *self; /* proves the callback got this very pointer */
	struct ioloop *loop;
};

struct other {
	long n;
};

static void count(struct counter *c)
{
	if (c->self == c)
		c->calls++;
}

static void count_and_stop(struct counter *c)
{
	count(c);
	io_loop_stop(c->loop);
}

static void on_signal(int signo, struct counter *c)
{
	(void)signo;
	count(c);
}

static void other_bump(struct other *o)
{
	o->n++;
}

static void untyped(void *context)
{
	(*(int *)context)++;
}

static void activate_cb(struct other *o)
{
	o->n += 10;
}

static void deactivate_cb(struct other *o)
{
	o->n += 100;
}

static int run_until_calls(struct ioloop *loop, struct counter *c, int want)
{
	struct counter guard = {0, &guard, loop};
	struct timeout *limit = timeout_add_to(loop, 3000, count_and_stop, &guard);
	io_loop_set_running(loop);
	while (c->calls < want && io_loop_is_running(loop))
		io_loop_handler_run(loop);
	timeout_remove(&limit);
	return c->calls >= want;
}

int c_typed_callbacks(void)
{
	struct ioloop *loop = io_loop_create();
	if (loop == NULL)
		return 1;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 2;

	struct counter r = {0, &r, loop}, w = {0, &w, loop};
	struct io *rio = io_add(sv[0], IO_READ, count, &r);
	struct io *wio = io_add_to(loop, sv[0], IO_WRITE, count, &w);
	if (rio == NULL || wio == NULL)
		return 3;
	if (write(sv[1], "x", 1) != 1)
		return 4;
	if (!run_until_calls(loop, &r, 1) || !run_until_calls(loop, &w, 1))
		return 5;
	io_remove(&rio);
	io_remove(&wio);

	struct counter t[6] = {
		{0, &t[0], loop}, {0, &t[1], loop}, {0, &t[2], loop},
		{0, &t[3], loop}, {0, &t[4], loop}, {0, &t[5], loop},
	};
	io_loop_time_refresh();
	struct timeval now = ioloop_timeval;
	struct timeout *to[6] = {
		timeout_add(1, count, &t[0]),
		timeout_add_short(1, count, &t[1]),
		timeout_add_to(loop, 1, count, &t[2]),
		timeout_add_short_to(loop, 1, count, &t[3]),
		timeout_add_absolute(&now, count, &t[4]),
		timeout_add_absolute_to(loop, &now, count, &t[5]),
	};
	for (int i = 0; i < 6; i++)
		if (to[i] == NULL)
			return 10 + i;
	for (int i = 0; i < 6; i++)
		if (!run_until_calls(loop, &t[i], 1))
			return 20 + i;
	for (int i = 0; i < 6; i++)
		timeout_remove(&to[i]);

	/* a void * callback takes any context, as the plain functions do */
	int plain = 0;
	struct timeout *p = timeout_add(1, untyped, &plain);
	struct counter pc = {0, &pc, loop};
	struct timeout *pstop = timeout_add(5, count, &pc);
	if (p == NULL || !run_until_calls(loop, &pc, 1) || plain == 0)
		return 30;
	timeout_remove(&p);
	timeout_remove(&pstop);

	struct counter s = {0, &s, loop}, s2 = {0, &s2, loop};
	struct io_signal *sig = signal_add(SIGUSR1, on_signal, &s);
	struct io_signal *sig2 = signal_add_to(loop, SIGUSR1, on_signal, &s2);
	if (sig == NULL || sig2 == NULL)
		return 40;
	if (kill(getpid(), SIGUSR1) != 0)
		return 41;
	if (!run_until_calls(loop, &s, 1) || !run_until_calls(loop, &s2, 1))
		return 42;
	signal_remove(&sig);
	signal_remove(&sig2);

	/* context callbacks, typed the same way */
	struct other o = {0};
	struct ioloop_context *ctx = io_loop_context_new(loop);
	if (ctx == NULL)
		return 50;
	io_loop_context_add_callbacks(ctx, activate_cb, deactivate_cb, &o);
	io_loop_context_activate(ctx);
	io_loop_context_deactivate(ctx);
	if (o.n != 110)
		return 51;
	io_loop_context_remove_callbacks(ctx, activate_cb, deactivate_cb, &o);
	io_loop_context_activate(ctx);
	io_loop_context_deactivate(ctx);
	if (o.n != 110)
		return 52;
	io_loop_context_unref(&ctx);
	other_bump(&o);

	close(sv[0]);
	close(sv[1]);
	io_loop_destroy(&loop);
	return 0;
}
