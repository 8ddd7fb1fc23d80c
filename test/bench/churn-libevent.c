/* churn workload against libevent 2.1; events assigned into caller memory. */
#include "bench.h"

#include <event2/event.h>
#include <stdlib.h>

struct event_base *bench_libevent_base(void);

static void nothing(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
}

int churn_libevent(const struct churn_params *p, struct churn_result *r)
{
	struct event_base *base = bench_libevent_base();
	if (base == NULL)
		return -1;
	size_t esize = event_get_struct_event_size();
	char *mem = calloc((size_t)p->n, esize);
	struct event *ticker = event_new(base, p->fds[p->n], EV_READ | EV_PERSIST, nothing, NULL);
	event_add(ticker, NULL);

	int64_t start = bench_now_ns();
	for (long it = 0; it < p->iterations; it++) {
		for (int i = 0; i < p->n; i++) {
			struct event *ev = (struct event *)(mem + (size_t)i * esize);
			event_assign(ev, base, p->fds[i], EV_READ | EV_PERSIST, nothing, NULL);
			event_add(ev, NULL);
		}
		event_base_loop(base, EVLOOP_ONCE);
		for (int i = 0; i < p->n; i++)
			event_del((struct event *)(mem + (size_t)i * esize));
	}
	r->elapsed_ns = bench_now_ns() - start;
	r->ops = 2L * p->n * p->iterations;
	r->failures = 0;

	event_free(ticker);
	free(mem);
	event_base_free(base);
	return 0;
}
