/* timers workload against libev 4.33; timers live in caller memory, as libev wants. */
#include "bench.h"

#include <ev.h>
#include <stdlib.h>

unsigned bench_libev_backend(void);

static const struct timers_params *P;
static struct timers_result *R;
static ev_timer *ts;
static long fired;

static void never(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	R->failures++;
}

static void phases(struct ev_loop *loop, ev_timer *self, int revents)
{
	(void)self, (void)revents;
	int n = P->count;

	int64_t t0 = bench_now_ns();
	for (int i = 0; i < n; i++) {
		ev_tstamp d = P->delay_ms[i] / 1000.;
		ev_timer_init(&ts[i], never, d, d);
		ev_timer_start(loop, &ts[i]);
	}
	int64_t t1 = bench_now_ns();
	for (int k = 0; k < n; k++)
		ev_timer_again(loop, &ts[P->picks[k]]);
	int64_t t2 = bench_now_ns();
	for (int k = 0; k < n; k++) {
		uint32_t i = P->ops[k] >> 1;
		if (P->ops[k] & 1) {
			ev_timer_stop(loop, &ts[i]);
			ev_tstamp d = P->delay_ms[(i + (uint32_t)k) % (uint32_t)n] / 1000.;
			ev_timer_set(&ts[i], d, d);
			ev_timer_start(loop, &ts[i]);
		} else {
			ev_timer_again(loop, &ts[i]);
		}
	}
	int64_t t3 = bench_now_ns();
	for (int i = 0; i < n; i++)
		ev_timer_stop(loop, &ts[i]);
	int64_t t4 = bench_now_ns();

	R->add_ns = t1 - t0;
	R->reset_ns = t2 - t1;
	R->mix_ns = t3 - t2;
	R->cancel_ns = t4 - t3;
}

static void zero_fired(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	if (++fired <= P->fire_total - P->fire_armed) {
		ev_timer_set(w, 0., 0.);
		ev_timer_start(loop, w); /* a one-shot re-arms itself */
	}
}

int timers_libev(const struct timers_params *p, struct timers_result *r)
{
	P = p;
	R = r;
	struct ev_loop *loop = ev_loop_new(bench_libev_backend());
	if (loop == NULL)
		return -1;
	ts = calloc((size_t)p->count, sizeof(*ts));

	ev_timer start;
	ev_timer_init(&start, phases, 0., 0.);
	ev_timer_start(loop, &start);
	ev_run(loop, 0); /* returns once no watcher is active */

	ev_timer *zero = calloc((size_t)p->fire_armed, sizeof(*zero));
	fired = 0;
	int64_t t0 = bench_now_ns();
	for (int i = 0; i < p->fire_armed; i++) {
		ev_timer_init(&zero[i], zero_fired, 0., 0.);
		ev_timer_start(loop, &zero[i]);
	}
	ev_run(loop, 0);
	r->fire_ns = bench_now_ns() - t0;
	r->fired = fired;

	free(zero);
	free(ts);
	ev_loop_destroy(loop);
	return 0;
}
