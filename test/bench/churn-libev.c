/* churn workload against libev 4.33. */
#include "bench.h"

#include <ev.h>
#include <stdlib.h>

unsigned bench_libev_backend(void);

static void nothing(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop, (void)w, (void)revents;
}

int churn_libev(const struct churn_params *p, struct churn_result *r)
{
	struct ev_loop *loop = ev_loop_new(bench_libev_backend());
	if (loop == NULL)
		return -1;
	ev_io *ws = calloc((size_t)p->n, sizeof(*ws));
	ev_io ticker;
	ev_io_init(&ticker, nothing, p->fds[p->n], EV_READ);
	ev_io_start(loop, &ticker);
	ev_run(loop, EVRUN_NOWAIT);

	int64_t start = bench_now_ns();
	for (long it = 0; it < p->iterations; it++) {
		for (int i = 0; i < p->n; i++) {
			ev_io_init(&ws[i], nothing, p->fds[i], EV_READ);
			ev_io_start(loop, &ws[i]);
		}
		ev_run(loop, EVRUN_ONCE);
		for (int i = 0; i < p->n; i++)
			ev_io_stop(loop, &ws[i]);
	}
	r->elapsed_ns = bench_now_ns() - start;
	r->ops = 2L * p->n * p->iterations;
	r->failures = 0;

	ev_io_stop(loop, &ticker);
	free(ws);
	ev_loop_destroy(loop);
	return 0;
}
