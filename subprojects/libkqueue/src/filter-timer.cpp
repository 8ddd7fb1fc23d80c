// EVFILT_TIMER in user space: a binary heap of deadlines per kqueue and a
// single timerfd armed to the earliest one.  The timerfd (rather than just
// the epoll_wait timeout) keeps the kqueue fd pollable for timer events.
#include "kq-internal.hpp"

#include <errno.h>
#include <sys/timerfd.h>
#include <sys/epoll.h>
#include <unistd.h>

namespace libkqueue {
namespace {

bool earlier(const knote *a, const knote *b)
{
	return a->deadline_ns < b->deadline_ns;
}

void heap_place(std::vector<knote *> &heap, size_t i, knote *kn)
{
	heap[i] = kn;
	kn->heap_index = i;
}

void sift_up(std::vector<knote *> &heap, size_t i)
{
	knote *kn = heap[i];
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!earlier(kn, heap[parent]))
			break;
		heap_place(heap, i, heap[parent]);
		i = parent;
	}
	heap_place(heap, i, kn);
}

void sift_down(std::vector<knote *> &heap, size_t i)
{
	knote *kn = heap[i];
	size_t n = heap.size();
	for (;;) {
		size_t child = 2 * i + 1;
		if (child >= n)
			break;
		if (child + 1 < n && earlier(heap[child + 1], heap[child]))
			child++;
		if (!earlier(heap[child], kn))
			break;
		heap_place(heap, i, heap[child]);
		i = child;
	}
	heap_place(heap, i, kn);
}

void heap_remove(std::vector<knote *> &heap, knote *kn)
{
	size_t i = kn->heap_index;
	if (i == no_heap_index)
		return;
	kn->heap_index = no_heap_index;
	knote *last = heap.back();
	heap.pop_back();
	if (last == kn)
		return;
	heap_place(heap, i, last);
	sift_down(heap, i);
	sift_up(heap, last->heap_index);
}

int ensure_timerfd(kq_state &q)
{
	if (q.timerfd >= 0)
		return 0;
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (tfd < 0)
		return errno;
	struct epoll_event ev {};
	ev.events = EPOLLIN;
	ev.data.u64 = tag_timer;
	if (epoll_ctl(q.epfd, EPOLL_CTL_ADD, tfd, &ev) < 0) {
		int err = errno;
		close(tfd);
		return err;
	}
	q.timerfd = tfd;
	return 0;
}

void rearm(kq_state &q)
{
	int64_t want = q.heap.empty() ? -1 : q.heap.front()->deadline_ns;
	if (want == q.armed_ns || q.timerfd < 0)
		return;
	struct itimerspec its {};
	if (want >= 0) {
		// 0 would disarm; a deadline at the epoch is long past anyway.
		int64_t at = want > 0 ? want : 1;
		its.it_value.tv_sec = at / 1000000000;
		its.it_value.tv_nsec = at % 1000000000;
	}
	if (timerfd_settime(q.timerfd, TFD_TIMER_ABSTIME, &its, nullptr) == 0)
		q.armed_ns = want;
}

int64_t unit_ns(unsigned int fflags, bool &ok)
{
	unsigned int unit = fflags & (NOTE_SECONDS | NOTE_MSECONDS | NOTE_USECONDS | NOTE_NSECONDS);
	ok = true;
	switch (unit) {
	case 0:
	case NOTE_MSECONDS:
		return 1000000;
	case NOTE_SECONDS:
		return 1000000000;
	case NOTE_USECONDS:
		return 1000;
	case NOTE_NSECONDS:
		return 1;
	default:
		ok = false;
		return 0;
	}
}

} // namespace

// Used both to attach and to re-add: a re-added timer starts over and any
// unreported expirations are thrown away, as on FreeBSD.
int timer_attach(kq_state &q, knote *kn, const struct kevent &kev)
{
	bool ok = false;
	int64_t unit = unit_ns(kev.fflags, ok);
	if (!ok || kev.data < 0)
		return EINVAL;
	int err = ensure_timerfd(q);
	if (err != 0)
		return err;
	int64_t amount = kev.data > INT64_MAX / unit ? INT64_MAX : kev.data * unit;
	int64_t now = now_ns(CLOCK_MONOTONIC);
	int64_t deadline;
	if ((kev.fflags & NOTE_ABSTIME) != 0) {
		// An absolute time is wall-clock time; map it once onto the
		// monotonic clock (later wall-clock steps are not followed).
		int64_t delta = amount - now_ns(CLOCK_REALTIME);
		deadline = delta <= 0 ? now : (delta > INT64_MAX - now ? INT64_MAX : now + delta);
		kn->period_ns = 0;
	} else {
		deadline = amount > INT64_MAX - now ? INT64_MAX : now + amount;
		bool periodic = (kn->reg.flags & EV_ONESHOT) == 0;
		kn->period_ns = periodic ? (amount > 0 ? amount : 1) : 0;
	}
	kn->reg.fflags = kev.fflags;
	kn->reg.data = kev.data;
	kn->count = 0;
	kn->deadline_ns = deadline;
	dequeue(q, kn);
	if (kn->heap_index == no_heap_index) {
		q.heap.push_back(kn);
		kn->heap_index = q.heap.size() - 1;
	}
	sift_down(q.heap, kn->heap_index);
	sift_up(q.heap, kn->heap_index);
	rearm(q);
	return 0;
}

void timer_detach(kq_state &q, knote *kn)
{
	heap_remove(q.heap, kn);
	rearm(q);
}

void timer_fd_drain(kq_state &q)
{
	uint64_t ticks = 0;
	if (read(q.timerfd, &ticks, sizeof ticks) < 0) {
		// EAGAIN: someone else already drained it
	}
}

// Timers keep counting while disabled, like FreeBSD 12's callouts.
void timers_run(kq_state &q)
{
	if (q.heap.empty())
		return;
	int64_t now = now_ns(CLOCK_MONOTONIC);
	while (!q.heap.empty() && q.heap.front()->deadline_ns <= now) {
		knote *kn = q.heap.front();
		if (kn->period_ns == 0) {
			kn->count++;
			heap_remove(q.heap, kn);
		} else {
			int64_t n = 1 + (now - kn->deadline_ns) / kn->period_ns;
			kn->count += n;
			kn->deadline_ns += n * kn->period_ns;
			sift_down(q.heap, 0);
		}
		if (kn->enabled)
			enqueue(q, kn);
	}
	rearm(q);
}

} // namespace libkqueue
