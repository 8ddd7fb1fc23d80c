/* timers workload against the C API. Every phase runs inside a callback, where daemons re-arm
 * their timeouts, so each library uses its cached loop time as it would there. */
#include "bench.h"

#include <ioloop/ioloop.h>
#include <stdlib.h>

static const struct timers_params *P;
static struct timers_result *R;
static struct timeout **ts;
static struct ioloop *loop;
static long fired;

static void never(void *context)
{
	(void)context;
	R->failures++; /* 1 s or more: never within a run */
}

static void phases(void *context)
{
	struct timeout **self = context;
	timeout_remove(self);
	int n = P->count;

	int64_t t0 = bench_now_ns();
	for (int i = 0; i < n; i++)
		ts[i] = timeout_add(P->delay_ms[i], never, NULL);
	int64_t t1 = bench_now_ns();
	for (int k = 0; k < n; k++)
		timeout_reset(ts[P->picks[k]]);
	int64_t t2 = bench_now_ns();
	for (int k = 0; k < n; k++) {
		uint32_t i = P->ops[k] >> 1;
		if (P->ops[k] & 1) {
			timeout_remove(&ts[i]);
			ts[i] = timeout_add(P->delay_ms[(i + (uint32_t)k) % (uint32_t)n], never, NULL);
		} else {
			timeout_reset(ts[i]);
		}
	}
	int64_t t3 = bench_now_ns();
	for (int i = 0; i < n; i++)
		timeout_remove(&ts[i]);
	int64_t t4 = bench_now_ns();

	R->add_ns = t1 - t0;
	R->reset_ns = t2 - t1;
	R->mix_ns = t3 - t2;
	R->cancel_ns = t4 - t3;
	io_loop_stop(loop);
}

static void zero_fired(void *context)
{
	(void)context;
	if (++fired == P->fire_total)
		io_loop_stop(loop); /* the rest of this iteration's timeouts do not run */
}

int timers_ioloop_c(const struct timers_params *p, struct timers_result *r)
{
	P = p;
	R = r;
	loop = io_loop_create();
	if (loop == NULL)
		return -1;
	ts = calloc((size_t)p->count, sizeof(*ts));

	struct timeout *start = NULL;
	start = timeout_add(0, phases, &start);
	io_loop_run(loop);

	/* fire: repeating 0 ms timeouts run once per iteration each, without blocking */
	struct timeout **zero = calloc((size_t)p->fire_armed, sizeof(*zero));
	fired = 0;
	int64_t t0 = bench_now_ns();
	for (int i = 0; i < p->fire_armed; i++)
		zero[i] = timeout_add(0, zero_fired, NULL);
	io_loop_run(loop);
	for (int i = 0; i < p->fire_armed; i++)
		timeout_remove(&zero[i]);
	r->fire_ns = bench_now_ns() - t0;
	r->fired = fired;

	free(zero);
	free(ts);
	io_loop_destroy(&loop);
	return 0;
}
