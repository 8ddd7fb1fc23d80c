/* chain workload on a minimal hand-written epoll loop: the floor. What any loop must do at the
 * least: one epoll_wait per iteration, an indirect call per ready fd, and (with idle timeouts) a
 * clock read per iteration and an indexed binary heap of deadlines that each event moves. */
#include "bench.h"

#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct watcher {
	void (*cb)(int i);
	int i;
	unsigned heap_index;
	int64_t deadline_ns;
	int64_t interval_ns;
};

static const struct chain_params *P;
static struct watcher *ws;
static struct watcher **heap;
static unsigned heap_len;
static int64_t now_ns;
static long count, fired, writes_left, failures;

static int earlier(const struct watcher *a, const struct watcher *b)
{
	return a->deadline_ns < b->deadline_ns;
}

static void heap_place(unsigned i, struct watcher *w)
{
	heap[i] = w;
	w->heap_index = i;
}

static void heap_up(unsigned i)
{
	struct watcher *w = heap[i];
	while (i > 0 && earlier(w, heap[(i - 1) / 2])) {
		heap_place(i, heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_place(i, w);
}

static void heap_down(unsigned i)
{
	struct watcher *w = heap[i];
	for (;;) {
		unsigned c = 2 * i + 1;
		if (c >= heap_len)
			break;
		if (c + 1 < heap_len && earlier(heap[c + 1], heap[c]))
			c++;
		if (!earlier(heap[c], w))
			break;
		heap_place(i, heap[c]);
		i = c;
	}
	heap_place(i, w);
}

static void timer_reset(struct watcher *w)
{
	int64_t old = w->deadline_ns;
	w->deadline_ns = now_ns + w->interval_ns;
	if (w->deadline_ns < old)
		heap_up(w->heap_index);
	else
		heap_down(w->heap_index);
}

static void read_cb(int i)
{
	unsigned char ch;
	if (recv(P->fds[2 * i], &ch, 1, 0) == 1)
		count++;
	else
		failures++;
	if (heap != NULL)
		timer_reset(&ws[i]);
	chain_pass_on(P, i, &writes_left, &fired, &failures);
}

static int64_t clock_ns(void)
{
	return bench_now_ns();
}

int chain_epoll_floor(const struct chain_params *p, struct chain_result *r)
{
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return -1;
	P = p;
	count = fired = failures = 0;
	writes_left = p->writes;
	ws = calloc((size_t)p->npairs, sizeof(*ws));
	int maxev = p->npairs < 64 ? 64 : p->npairs;
	struct epoll_event *evs = calloc((size_t)maxev, sizeof(*evs));
	heap = p->idle_timeouts ? calloc((size_t)p->npairs, sizeof(*heap)) : NULL;
	heap_len = 0;
	now_ns = clock_ns();
	for (int i = 0; i < p->npairs; i++) {
		ws[i].cb = read_cb;
		ws[i].i = i;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &ws[i]};
		epoll_ctl(epfd, EPOLL_CTL_ADD, p->fds[2 * i], &ev);
		if (heap != NULL) {
			ws[i].interval_ns = (int64_t)p->timeout_ms[i] * 1000000;
			ws[i].deadline_ns = now_ns + ws[i].interval_ns;
			heap_place(heap_len++, &ws[i]);
			heap_up(heap_len - 1);
		}
	}

	int64_t start = bench_now_ns();
	for (int i = 0; i < p->active; i++, fired++)
		if (send(p->fds[2 * chain_start_pair(p, i) + 1], "e", 1, 0) != 1)
			failures++;
	while (count != fired && failures == 0) {
		int wait_ms = p->nonblock ? 0 : -1;
		if (heap != NULL && !p->nonblock) {
			int64_t left = heap[0]->deadline_ns - clock_ns();
			wait_ms = left <= 0 ? 0 : (int)(left / 1000000 + 1);
		}
		int n = epoll_wait(epfd, evs, maxev, wait_ms);
		if (heap != NULL)
			now_ns = clock_ns();
		for (int k = 0; k < n; k++) {
			struct watcher *w = evs[k].data.ptr;
			w->cb(w->i);
		}
		if (heap != NULL && heap_len > 0 && heap[0]->deadline_ns <= now_ns)
			failures++; /* an idle timeout expired: never within a run */
	}
	r->elapsed_ns = bench_now_ns() - start;
	r->events = count;
	r->failures = failures;

	free(heap);
	heap = NULL;
	free(evs);
	free(ws);
	close(epfd);
	return 0;
}
