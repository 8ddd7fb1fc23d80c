/* chain workload against libevent 2.1 (the workload of its own test/bench.c). */
#include "bench.h"

#include <event2/event.h>
#include <stdlib.h>
#include <sys/socket.h>

static const struct chain_params *P;
static struct event **events;
static struct timeval *idle_tv;
static long count, fired, writes_left, failures;

static void read_cb(evutil_socket_t fd, short which, void *arg)
{
	long i = (long)(intptr_t)arg;
	unsigned char ch;
	if (which & EV_TIMEOUT) {
		failures++;
		return;
	}
	if (recv(fd, &ch, 1, 0) == 1)
		count++;
	else
		failures++;
	if (idle_tv != NULL) /* adding a pending event again restarts its timeout */
		event_add(events[i], &idle_tv[i]);
	chain_pass_on(P, i, &writes_left, &fired, &failures);
}

struct event_base *bench_libevent_base(void);

int chain_libevent(const struct chain_params *p, struct chain_result *r)
{
	struct event_base *base = bench_libevent_base();
	if (base == NULL)
		return -1;
	P = p;
	count = fired = failures = 0;
	writes_left = p->writes;
	events = calloc((size_t)p->npairs, sizeof(*events));
	idle_tv = NULL;
	if (p->idle_timeouts) {
		idle_tv = calloc((size_t)p->npairs, sizeof(*idle_tv));
		for (int i = 0; i < p->npairs; i++) {
			idle_tv[i].tv_sec = p->timeout_ms[i] / 1000;
			idle_tv[i].tv_usec = (p->timeout_ms[i] % 1000) * 1000;
		}
	}
	for (int i = 0; i < p->npairs; i++) {
		events[i] = event_new(base, p->fds[2 * i], EV_READ | EV_PERSIST, read_cb, (void *)(intptr_t)i);
		event_add(events[i], idle_tv != NULL ? &idle_tv[i] : NULL);
	}
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);

	int64_t start = bench_now_ns();
	for (int i = 0; i < p->active; i++, fired++)
		if (send(p->fds[2 * chain_start_pair(p, i) + 1], "e", 1, 0) != 1)
			failures++;
	while (count != fired && failures == 0)
		event_base_loop(base, EVLOOP_ONCE | (p->nonblock ? EVLOOP_NONBLOCK : 0));
	r->elapsed_ns = bench_now_ns() - start;
	r->events = count;
	r->failures = failures;

	for (int i = 0; i < p->npairs; i++)
		event_free(events[i]);
	free(events);
	free(idle_tv);
	idle_tv = NULL;
	event_base_free(base);
	return 0;
}
