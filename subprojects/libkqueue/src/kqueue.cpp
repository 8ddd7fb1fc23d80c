// kqueue() and kevent(): the descriptor table that maps a kqueue fd number
// to its state, fork detection, and the changelist pass.
#include "kq-internal.hpp"

#include <errno.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <new>

#define LIBKQUEUE_API __attribute__((visibility("default")))

using namespace libkqueue;

namespace {

// Index = kqueue fd.  Never freed, so it stays reachable for leak checkers.
pthread_mutex_t table_mu = PTHREAD_MUTEX_INITIALIZER;
std::vector<kq_state *> *table = nullptr;

// getpid() is a syscall in current glibc; this copy is refreshed in the
// fork child instead, so checking "is this our kqueue?" costs nothing.
std::atomic<pid_t> current_pid{0};
pthread_once_t init_once = PTHREAD_ONCE_INIT;

void before_fork() { pthread_mutex_lock(&table_mu); }
void after_fork_parent() { pthread_mutex_unlock(&table_mu); }
void after_fork_child()
{
	current_pid.store(getpid(), std::memory_order_relaxed);
	pthread_mutex_unlock(&table_mu);
}

void init()
{
	current_pid.store(getpid(), std::memory_order_relaxed);
	pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

void destroy(kq_state *q)
{
	// A kqueue inherited over fork() is leaked on purpose: the child may
	// have closed our internal fds and reused the numbers for its own.
	if (q->pid != current_pid.load(std::memory_order_relaxed))
		return;
	for (int fd : {q->wakefd, q->timerfd, q->sigfd, q->infd})
		if (fd >= 0)
			close(fd);
	for (auto &kv : q->procs)
		if (kv.second->pidfd >= 0)
			close(kv.second->pidfd);
	delete q;
}

void unref(kq_state *q)
{
	if (q->refs.fetch_sub(1, std::memory_order_acq_rel) == 1)
		destroy(q);
}

void retire(kq_state *q)
{
	{
		std::lock_guard<std::mutex> lk(q->mu);
		q->dead = true;
	}
	unref(q);
}

// The number was closed behind our back and is no longer our epoll set.
void forget(int kq, kq_state *q)
{
	bool drop = false;
	pthread_mutex_lock(&table_mu);
	if (table != nullptr && (*table)[static_cast<size_t>(kq)] == q) {
		(*table)[static_cast<size_t>(kq)] = nullptr;
		drop = true;
	}
	pthread_mutex_unlock(&table_mu);
	if (drop)
		retire(q);
}

kq_state *acquire(int kq)
{
	kq_state *q = nullptr;
	pthread_mutex_lock(&table_mu);
	if (table != nullptr && kq >= 0 && static_cast<size_t>(kq) < table->size()) {
		q = (*table)[static_cast<size_t>(kq)];
		if (q != nullptr && q->pid != current_pid.load(std::memory_order_relaxed))
			q = nullptr; // FreeBSD kqueues are not inherited by fork()
		if (q != nullptr)
			q->refs.fetch_add(1, std::memory_order_relaxed);
	}
	pthread_mutex_unlock(&table_mu);
	return q;
}

int fail(int err)
{
	errno = err;
	return -1;
}

bool bad_timeout(const struct timespec *ts)
{
	return ts != nullptr && (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000);
}

int run(kq_state &q, const struct kevent *changes, int nchanges,
	struct kevent *events, int nevents, const struct timespec *timeout, bool &stale)
{
	std::unique_lock<std::mutex> lk(q.mu);
	if (q.dead)
		return fail(EBADF);
	q.call++;
	int n = 0;
	bool touched_epoll = false;
	for (int i = 0; i < nchanges; i++) {
		// Copy first: changes and events may be the same array.
		struct kevent kev = changes[i];
		if (kev.filter == 0)
			continue; // FreeBSD skips these too
		touched_epoll = touched_epoll || is_fd_filter(kev.filter);
		int err = apply_change(q, kev);
		if (err == err_stale_kq) {
			stale = true;
			return fail(EBADF);
		}
		if (err == 0 && (kev.flags & EV_RECEIPT) == 0)
			continue;
		if (n >= nevents) {
			// No room to report it: stop here, as FreeBSD does.
			wake_sync(q);
			return err != 0 ? fail(err) : n;
		}
		events[n] = kev;
		events[n].flags = EV_ERROR;
		events[n].data = err;
		n++;
	}
	if (n > 0 || nevents == 0) {
		// Without an epoll syscall so far we have not noticed a kqueue
		// fd that was closed and reused; check before claiming success.
		if (!touched_epoll && n == 0 && !kq_is_ours(q)) {
			stale = true;
			return fail(EBADF);
		}
		wake_sync(q);
		return n;
	}
	if (bad_timeout(timeout))
		return fail(EINVAL);
	n = scan(q, lk, events, nevents, timeout, stale);
	if (n >= 0)
		wake_sync(q);
	return n;
}

} // namespace

extern "C" {

LIBKQUEUE_API int kqueue(void)
{
	pthread_once(&init_once, init);
	// Not close-on-exec: FreeBSD's kqueue() does not set it either.
	int epfd = epoll_create1(0);
	if (epfd < 0)
		return -1;
	int wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (wakefd < 0) {
		int err = errno;
		close(epfd);
		return fail(err);
	}
	struct epoll_event ev {};
	ev.events = EPOLLIN;
	ev.data.u64 = tag_wake;
	kq_state *q = nullptr;
	kq_state *old = nullptr;
	int err = 0;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, wakefd, &ev) < 0)
		err = errno;
	else if ((q = new (std::nothrow) kq_state) == nullptr)
		err = ENOMEM;
	if (err == 0) {
		q->epfd = epfd;
		q->wakefd = wakefd;
		q->pid = current_pid.load(std::memory_order_relaxed);
		pthread_mutex_lock(&table_mu);
		try {
			if (table == nullptr)
				table = new std::vector<kq_state *>();
			if (table->size() <= static_cast<size_t>(epfd))
				table->resize(static_cast<size_t>(epfd) + 64, nullptr);
			// Anything still here belongs to a kqueue fd that was
			// closed with plain close(): its number is ours now.
			old = (*table)[static_cast<size_t>(epfd)];
			(*table)[static_cast<size_t>(epfd)] = q;
		} catch (const std::bad_alloc &) {
			err = ENOMEM;
		}
		pthread_mutex_unlock(&table_mu);
	}
	if (err != 0) {
		delete q;
		close(wakefd);
		close(epfd);
		return fail(err);
	}
	if (old != nullptr)
		retire(old);
	return epfd;
}

LIBKQUEUE_API int kevent(int kq, const struct kevent *changelist, int nchanges,
			 struct kevent *eventlist, int nevents,
			 const struct timespec *timeout)
{
	if (nchanges < 0 || nevents < 0)
		return fail(EINVAL);
	if ((changelist == nullptr && nchanges > 0) || (eventlist == nullptr && nevents > 0))
		return fail(EFAULT);
	kq_state *q = acquire(kq);
	if (q == nullptr)
		return fail(EBADF);
	bool stale = false;
	int r = run(*q, changelist, nchanges, eventlist, nevents, timeout, stale);
	int err = errno;
	if (stale)
		forget(kq, q);
	unref(q);
	errno = err;
	return r;
}

} // extern "C"
