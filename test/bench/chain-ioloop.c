/* chain workload against the C API (Dovecot's names). */
#include "bench.h"

#include <errno.h>
#include <ioloop/ioloop.h>
#include <stdlib.h>
#include <sys/socket.h>

static const struct chain_params *P;
static long count, fired, writes_left, failures;
static struct timeout **idle;

static void idle_expired(void *context)
{
	(void)context;
	failures++; /* 10 s or more: never inside a run */
}

static void read_cb(void *context)
{
	long i = (long)(intptr_t)context;
	unsigned char ch;
	if (recv(P->fds[2 * i], &ch, 1, 0) == 1)
		count++;
	else
		failures++;
	if (idle != NULL)
		timeout_reset(idle[i]);
	chain_pass_on(P, i, &writes_left, &fired, &failures);
}

int chain_ioloop_c(const struct chain_params *p, struct chain_result *r)
{
	struct ioloop *loop = io_loop_create();
	struct io **ios = calloc((size_t)p->npairs, sizeof(*ios));
	int ret = 0;
	if (loop == NULL || ios == NULL)
		return -1;
	P = p;
	count = fired = failures = 0;
	writes_left = p->writes;
	idle = p->idle_timeouts ? calloc((size_t)p->npairs, sizeof(*idle)) : NULL;
	for (int i = 0; i < p->npairs; i++) {
		ios[i] = io_add(p->fds[2 * i], IO_READ, read_cb, (void *)(intptr_t)i);
		if (ios[i] == NULL) {
			ret = -1;
			goto out;
		}
		if (idle != NULL)
			idle[i] = timeout_add(p->timeout_ms[i], idle_expired, NULL);
	}

	int64_t start = bench_now_ns();
	for (int i = 0; i < p->active; i++, fired++)
		if (send(p->fds[2 * chain_start_pair(p, i) + 1], "e", 1, 0) != 1)
			failures++;
	/* Nothing blocks: while a byte is in flight some fd is readable. */
	while (count != fired && failures == 0) {
		io_loop_set_running(loop);
		io_loop_handler_run(loop);
	}
	r->elapsed_ns = bench_now_ns() - start;
	r->events = count;
	r->failures = failures;
out:
	for (int i = 0; i < p->npairs; i++) {
		if (ios[i] != NULL)
			io_remove(&ios[i]);
		if (idle != NULL && idle[i] != NULL)
			timeout_remove(&idle[i]);
	}
	free(ios);
	free(idle);
	idle = NULL;
	io_loop_destroy(&loop);
	return ret;
}
