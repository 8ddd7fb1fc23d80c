/* churn workload on bare epoll: one epoll_ctl per add and per remove, the floor. */
#include "bench.h"

#include <sys/epoll.h>
#include <unistd.h>

int churn_epoll_floor(const struct churn_params *p, struct churn_result *r)
{
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return -1;
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)p->n};
	epoll_ctl(epfd, EPOLL_CTL_ADD, p->fds[p->n], &ev);
	struct epoll_event out[64];
	long failures = 0;

	int64_t start = bench_now_ns();
	for (long it = 0; it < p->iterations; it++) {
		for (int i = 0; i < p->n; i++) {
			ev.events = EPOLLIN;
			ev.data.u32 = (uint32_t)i;
			if (epoll_ctl(epfd, EPOLL_CTL_ADD, p->fds[i], &ev) < 0)
				failures++;
		}
		if (epoll_wait(epfd, out, 64, -1) != 1)
			failures++;
		for (int i = 0; i < p->n; i++)
			epoll_ctl(epfd, EPOLL_CTL_DEL, p->fds[i], NULL);
	}
	r->elapsed_ns = bench_now_ns() - start;
	r->ops = 2L * p->n * p->iterations;
	r->failures = failures;
	close(epfd);
	return 0;
}
