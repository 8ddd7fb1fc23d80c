// Waiting for and collecting events.  The mutex is dropped around
// epoll_wait so other threads can make changes (or trigger EVFILT_USER)
// while one is blocked; epoll's readiness list and our ready queue are the
// only places events wait, so a steady-state call is one epoll_wait plus
// work proportional to what is ready.
#include "kq-internal.hpp"

#include <errno.h>
#include <limits.h>
#include <sys/epoll.h>

namespace libkqueue {
namespace {

constexpr int batch = 128;

// Timers and signals report a count (expirations, arrivals) since the last report, and FreeBSD
// sets EV_CLEAR on both internally.
bool counted_deliver(kq_state &q, knote *kn, struct kevent &out)
{
	if (kn->count == 0)
		return false;
	out = kn->reg;
	out.flags |= EV_CLEAR;
	out.fflags = 0;
	out.data = kn->count;
	kn->count = 0;
	if ((kn->reg.flags & EV_ONESHOT) != 0)
		knote_delete(q, kn);
	else if ((kn->reg.flags & EV_DISPATCH) != 0)
		knote_disable(q, kn);
	return true;
}

bool deliver(kq_state &q, knote *kn, struct kevent &out)
{
	switch (kn->reg.filter) {
	case EVFILT_READ:
	case EVFILT_WRITE:
		return fd_deliver(q, kn, out);
	case EVFILT_TIMER:
	case EVFILT_SIGNAL:
		return counted_deliver(q, kn, out);
	case EVFILT_VNODE:
		return vnode_deliver(q, kn, out);
	case EVFILT_PROC:
		return proc_deliver(q, kn, out);
	default:
		return user_deliver(q, kn, out);
	}
}

// Takes from the head of the ready queue; whatever does not fit stays
// queued, in order, for the next call.
int collect(kq_state &q, struct kevent *out, int nevents)
{
	int n = 0;
	while (n < nevents) {
		knote *kn = q.queue.head;
		if (kn == nullptr || kn->requeued_call == q.call)
			break;
		dequeue(q, kn);
		if (kn->enabled && deliver(q, kn, out[n]))
			n++;
	}
	return n;
}

// Returns how many fd events went straight into `out` (see fd_epoll_event).
int dispatch(kq_state &q, const struct epoll_event *evs, int count, struct kevent *out, int nevents)
{
	int n = 0;
	bool timer_fired = false;
	for (int i = 0; i < count; i++) {
		const uint64_t tag = evs[i].data.u64;
		// A watched fd's tag has a gen of 1 to proc_gen - 1 in its high half: the common case
		// first, in one comparison.
		if ((tag >> 32) - 1 < proc_gen - 1) {
			n += fd_epoll_event(q, tag, evs[i].events, out + n, nevents - n);
			continue;
		}
		switch (tag) {
		case tag_wake:
			break; // the ready queue is what matters; wake_sync resets it
		case tag_timer:
			timer_fired = true;
			break;
		case tag_signal:
			signal_drain(q);
			break;
		case tag_inotify:
			vnode_drain(q);
			break;
		default:
			if (tag >> 32 == proc_gen)
				proc_epoll_event(q, tag);
			break;
		}
	}
	if (timer_fired) {
		timer_fd_drain(q);
		timers_run(q);
	}
	return n;
}

int wait_ms(int64_t deadline)
{
	if (deadline < 0)
		return -1;
	int64_t left = deadline - now_ns(CLOCK_MONOTONIC);
	if (left <= 0)
		return 0;
	int64_t ms = (left + 999999) / 1000000;
	return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

} // namespace

int scan(kq_state &q, std::unique_lock<std::mutex> &lk, struct kevent *out,
	 int nevents, const struct timespec *timeout, bool &stale)
{
	bool poll_only = false;
	int64_t deadline = -1;
	if (timeout != nullptr) {
		int64_t span = timeout->tv_sec > INT64_MAX / 1000000000 - 1
				       ? INT64_MAX / 2
				       : static_cast<int64_t>(timeout->tv_sec) * 1000000000 + timeout->tv_nsec;
		poll_only = span == 0;
		deadline = now_ns(CLOCK_MONOTONIC) + span;
	}
	// Room for every internal fd on top of the eventlist: one that gives nothing (an inotify
	// event no knote asked for, the IN_IGNORED of a removed watch, a process exit nobody asked
	// about) must not take the slot of a ready fd in a poll (found by test/fuzz/fuzz-kqueue).
	size_t internal = 1 + (q.timerfd >= 0) + (q.sigfd >= 0) + (q.infd >= 0) + q.procs.size();
	int max = static_cast<size_t>(nevents) + internal < batch ? nevents + static_cast<int>(internal)
								   : batch;
	struct epoll_event evs[batch];
	for (;;) {
		timers_run(q);
		int ms = q.queue.size > 0 || poll_only ? 0 : wait_ms(deadline);
		// A stale wakeup would end a blocking wait at once, and in a poll it can take the
		// only epoll_wait slot of a small eventlist, so that a ready fd is not returned
		// (found by test/fuzz/fuzz-kqueue). A no-op unless the queue changed since.
		wake_sync(q);
		lk.unlock();
		int r = epoll_wait(q.epfd, evs, max, ms);
		int err = errno;
		lk.lock();
		if (q.dead) {
			errno = EBADF;
			return -1;
		}
		if (r < 0) {
			if (err != EINTR && !kq_is_ours(q)) {
				stale = true;
				err = EBADF;
			}
			errno = err;
			return -1;
		}
		int n = dispatch(q, evs, r, out, nevents);
		// A full batch may have left the inotify or signalfd out while it had news: take it
		// now, so that a vnode or signal knote queued by an earlier call reports all that
		// happened before this one, as a kernel's knote would (found by test/fuzz/fuzz-kqueue:
		// NOTE_ATTRIB reported without the NOTE_WRITE of a write made since). A read that finds
		// nothing, and only after a full batch.
		if (r == max) {
			if (q.infd >= 0)
				vnode_drain(q);
			if (q.sigfd >= 0)
				signal_drain(q);
		}
		n += collect(q, out + n, nevents - n);
		if (n > 0 || poll_only || (deadline >= 0 && now_ns(CLOCK_MONOTONIC) >= deadline))
			return n;
	}
}

} // namespace libkqueue
