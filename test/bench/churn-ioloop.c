/* churn workload against the C API. */
#include "bench.h"

#include <ioloop/ioloop.h>
#include <stdlib.h>

static void idle_cb(void *context)
{
	(void)context;
}

static void ticker_cb(void *context)
{
	(void)context; /* left readable: every wait returns at once */
}

int churn_ioloop_c(const struct churn_params *p, struct churn_result *r)
{
	struct ioloop *loop = io_loop_create();
	if (loop == NULL)
		return -1;
	struct io **ios = calloc((size_t)p->n, sizeof(*ios));
	struct io *ticker = io_add(p->fds[p->n], IO_READ, ticker_cb, NULL);
	int ret = ticker != NULL ? 0 : -1;

	int64_t start = bench_now_ns();
	for (long it = 0; it < p->iterations && ret == 0; it++) {
		for (int i = 0; i < p->n; i++) {
			ios[i] = io_add(p->fds[i], IO_READ, idle_cb, NULL);
			if (ios[i] == NULL) {
				ret = -1;
				break;
			}
		}
		if (ret == 0) {
			io_loop_set_running(loop);
			io_loop_handler_run(loop);
		}
		for (int i = 0; i < p->n; i++)
			io_remove(&ios[i]);
	}
	r->elapsed_ns = bench_now_ns() - start;
	r->ops = 2L * p->n * p->iterations;
	r->failures = 0;

	io_remove(&ticker);
	free(ios);
	io_loop_destroy(&loop);
	return ret;
}
