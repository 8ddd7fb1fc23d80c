/* chain workload against libev 4.33. */
#include "bench.h"

#include <errno.h>
#include <ev.h>
#include <stdlib.h>
#include <sys/socket.h>

struct pair {
	ev_io io;
	ev_timer idle;
};

static const struct chain_params *P;
static struct pair *pairs;
static long count, fired, writes_left, failures;

static void idle_expired(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	failures++;
}

static void read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)revents;
	struct pair *pr = (struct pair *)w;
	long i = pr - pairs;
	unsigned char ch;
	if (recv(w->fd, &ch, 1, 0) == 1)
		count++;
	else
		failures++;
	if (P->idle_timeouts)
		ev_timer_again(loop, &pr->idle);
	chain_pass_on(P, i, &writes_left, &fired, &failures);
}

unsigned bench_libev_backend(void);

int chain_libev(const struct chain_params *p, struct chain_result *r)
{
	struct ev_loop *loop = ev_loop_new(bench_libev_backend());
	if (loop == NULL)
		return -1;
	P = p;
	count = fired = failures = 0;
	writes_left = p->writes;
	pairs = calloc((size_t)p->npairs, sizeof(*pairs));
	for (int i = 0; i < p->npairs; i++) {
		ev_io_init(&pairs[i].io, read_cb, p->fds[2 * i], EV_READ);
		ev_io_start(loop, &pairs[i].io);
		if (p->idle_timeouts) {
			ev_timer_init(&pairs[i].idle, idle_expired, 0., p->timeout_ms[i] / 1000.);
			ev_timer_again(loop, &pairs[i].idle);
		}
	}
	ev_run(loop, EVRUN_NOWAIT); /* libev hands its changes to the kernel here: not timed */

	int64_t start = bench_now_ns();
	for (int i = 0; i < p->active; i++, fired++)
		if (send(p->fds[2 * chain_start_pair(p, i) + 1], "e", 1, 0) != 1)
			failures++;
	while (count != fired && failures == 0)
		ev_run(loop, p->nonblock ? EVRUN_NOWAIT : EVRUN_ONCE);
	r->elapsed_ns = bench_now_ns() - start;
	r->events = count;
	r->failures = failures;

	for (int i = 0; i < p->npairs; i++) {
		ev_io_stop(loop, &pairs[i].io);
		ev_timer_stop(loop, &pairs[i].idle);
	}
	free(pairs);
	ev_loop_destroy(loop);
	return 0;
}
