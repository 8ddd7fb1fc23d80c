// Knote storage, the ready queue and the per-fd table of one kqueue.
#include "kq-internal.hpp"

#include <errno.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

namespace libkqueue {

void ready_queue::push(knote *kn)
{
	kn->prev = tail;
	kn->next = nullptr;
	if (tail != nullptr)
		tail->next = kn;
	else
		head = kn;
	tail = kn;
	size++;
}

void ready_queue::remove(knote *kn)
{
	if (kn->prev != nullptr)
		kn->prev->next = kn->next;
	else
		head = kn->next;
	if (kn->next != nullptr)
		kn->next->prev = kn->prev;
	else
		tail = kn->prev;
	kn->prev = kn->next = nullptr;
	size--;
}

void enqueue(kq_state &q, knote *kn)
{
	if (kn->queued)
		return;
	kn->queued = true;
	q.queue.push(kn);
	if (!is_fd_filter(kn->reg.filter))
		q.soft_queued++;
}

void dequeue(kq_state &q, knote *kn)
{
	if (!kn->queued)
		return;
	kn->queued = false;
	q.queue.remove(kn);
	if (!is_fd_filter(kn->reg.filter))
		q.soft_queued--;
}

// Freed knotes go to a per-kqueue pool: add/delete churn (one knote per
// request in a typical server) then costs no malloc.
knote *knote_new(kq_state &q, const struct kevent &kev)
{
	knote *kn = q.pool;
	if (kn != nullptr) {
		q.pool = kn->next;
		*kn = knote{};
	} else {
		kn = new knote{};
	}
	kn->reg = kev;
	kn->reg.flags = kev.flags & (EV_ONESHOT | EV_CLEAR | EV_DISPATCH | EV_RECEIPT);
	kn->enabled = (kev.flags & EV_DISABLE) == 0;
	if (is_fd_filter(kev.filter)) {
		kn->nodata = (kev.fflags & NOTE_NODATA) != 0;
		kn->copy_report = kn->nodata && (kev.flags & (EV_ONESHOT | EV_DISPATCH)) == 0;
		// Reported as fflags 0 and data of their own (NOTE_LOWAT is ignored): kept 0 here, a
		// delivery is then a copy of reg.
		kn->reg.fflags = 0;
		kn->reg.data = 0;
		// READ: EPOLLERR too, since a pipe's write end watched for reading hears of a gone
		// reader only so, where FreeBSD's bidirectional pipe reports EOF on the read filter.
		kn->eof_events = kev.filter == EVFILT_READ ? EPOLLRDHUP | EPOLLHUP | EPOLLERR
							   : EPOLLHUP | EPOLLERR;
	}
	return kn;
}

void knote_free(kq_state &q, knote *kn)
{
	dequeue(q, kn);
	kn->next = q.pool;
	q.pool = kn;
}

fd_entry &fd_get(kq_state &q, int fd)
{
	size_t need = static_cast<size_t>(fd) + 1;
	if (need > q.fds.size()) {
		size_t n = q.fds.size() < 64 ? 64 : q.fds.size();
		while (n < need)
			n *= 2;
		q.fds.resize(n);
		q.nfds = n;
	}
	return q.fds[static_cast<size_t>(fd)];
}

// Is q.epfd still the epoll set kqueue() made?  Only that set contains our
// eventfd, so MOD on it succeeds there and fails everywhere else (EBADF:
// closed, EINVAL: not an epoll fd, ENOENT: someone else's epoll set).
bool kq_is_ours(kq_state &q)
{
	struct epoll_event ev {};
	ev.events = EPOLLIN;
	ev.data.u64 = tag_wake;
	return epoll_ctl(q.epfd, EPOLL_CTL_MOD, q.wakefd, &ev) == 0;
}

// Keep the eventfd readable exactly while user-space events are queued, so
// that poll() on the kqueue fd, and a thread blocked in kevent(), see them.
void wake_sync(kq_state &q)
{
	bool want = q.soft_queued > 0;
	if (want == q.wake_set)
		return;
	uint64_t v = 1;
	ssize_t r = want ? write(q.wakefd, &v, sizeof v) : read(q.wakefd, &v, sizeof v);
	if (r == static_cast<ssize_t>(sizeof v) || errno == EAGAIN)
		q.wake_set = want;
}

int64_t now_ns(clockid_t clock)
{
	struct timespec ts {};
	clock_gettime(clock, &ts);
	return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

kq_state::~kq_state()
{
	auto drop = [](knote *kn) { delete kn; };
	for (fd_entry &fe : fds) {
		if (fe.rd != nullptr)
			drop(fe.rd);
		if (fe.wr != nullptr)
			drop(fe.wr);
	}
	for (auto &kv : timers)
		drop(kv.second);
	for (auto &kv : users)
		drop(kv.second);
	for (auto &kv : vnodes)
		drop(kv.second);
	for (auto &kv : procs)
		drop(kv.second);
	for (knote *kn : signals)
		if (kn != nullptr)
			drop(kn);
	while (pool != nullptr) {
		knote *next = pool->next;
		drop(pool);
		pool = next;
	}
}

} // namespace libkqueue
