/* timers workload against libevent 2.1; events assigned into caller memory (event_assign), so
 * no contender pays for an allocation the others do not need. */
#include "bench.h"

#include <event2/event.h>
#include <stdlib.h>

struct event_base *bench_libevent_base(void);

static const struct timers_params *P;
static struct timers_result *R;
static char *mem;
static size_t esize;
static struct event_base *base;
static long fired;

static struct event *ev_at(long i)
{
	return (struct event *)(mem + (size_t)i * esize);
}

static struct timeval tv_ms(unsigned ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	return tv;
}

static void never(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	R->failures++;
}

static void phases(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	int n = P->count;

	int64_t t0 = bench_now_ns();
	for (int i = 0; i < n; i++) {
		struct timeval tv = tv_ms(P->delay_ms[i]);
		event_assign(ev_at(i), base, -1, 0, never, NULL);
		event_add(ev_at(i), &tv);
	}
	int64_t t1 = bench_now_ns();
	for (int k = 0; k < n; k++) {
		uint32_t i = P->picks[k];
		struct timeval tv = tv_ms(P->delay_ms[i]); /* adding a pending event restarts it */
		event_add(ev_at(i), &tv);
	}
	int64_t t2 = bench_now_ns();
	for (int k = 0; k < n; k++) {
		uint32_t i = P->ops[k] >> 1;
		if (P->ops[k] & 1) {
			event_del(ev_at(i));
			struct timeval tv = tv_ms(P->delay_ms[(i + (uint32_t)k) % (uint32_t)n]);
			event_add(ev_at(i), &tv);
		} else {
			struct timeval tv = tv_ms(P->delay_ms[i]);
			event_add(ev_at(i), &tv);
		}
	}
	int64_t t3 = bench_now_ns();
	for (int i = 0; i < n; i++)
		event_del(ev_at(i));
	int64_t t4 = bench_now_ns();

	R->add_ns = t1 - t0;
	R->reset_ns = t2 - t1;
	R->mix_ns = t3 - t2;
	R->cancel_ns = t4 - t3;
}

static void zero_fired(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	if (++fired <= P->fire_total - P->fire_armed) {
		struct timeval zero = {0, 0};
		event_add(arg, &zero);
	}
}

int timers_libevent(const struct timers_params *p, struct timers_result *r)
{
	P = p;
	R = r;
	base = bench_libevent_base();
	if (base == NULL)
		return -1;
	esize = event_get_struct_event_size();
	size_t slots = (size_t)(p->count > p->fire_armed ? p->count : p->fire_armed);
	mem = calloc(slots, esize);

	struct event *start = event_new(base, -1, 0, phases, NULL);
	struct timeval zero = {0, 0};
	event_add(start, &zero);
	event_base_dispatch(base); /* returns once no event is pending */
	event_free(start);

	fired = 0;
	int64_t t0 = bench_now_ns();
	for (int i = 0; i < p->fire_armed; i++) {
		event_assign(ev_at(i), base, -1, 0, zero_fired, ev_at(i));
		event_add(ev_at(i), &zero);
	}
	event_base_dispatch(base);
	r->fire_ns = bench_now_ns() - t0;
	r->fired = fired;

	free(mem);
	event_base_free(base);
	return 0;
}
