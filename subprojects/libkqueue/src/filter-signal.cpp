// EVFILT_SIGNAL through one signalfd per kqueue.  A signalfd only sees
// blocked signals, so adding a knote blocks the signal in the calling
// thread (see the doc: on FreeBSD the filter coexists with handlers).
#include "kq-internal.hpp"

#include <errno.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

namespace libkqueue {
namespace {

int update_signalfd(kq_state &q)
{
	if (q.sigfd >= 0)
		return signalfd(q.sigfd, &q.sigmask, 0) < 0 ? errno : 0;
	int sfd = signalfd(-1, &q.sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0)
		return errno;
	struct epoll_event ev {};
	ev.events = EPOLLIN;
	ev.data.u64 = tag_signal;
	if (epoll_ctl(q.epfd, EPOLL_CTL_ADD, sfd, &ev) < 0) {
		int err = errno;
		close(sfd);
		return err;
	}
	q.sigfd = sfd;
	return 0;
}

} // namespace

int signal_attach(kq_state &q, knote *kn)
{
	int signo = static_cast<int>(kn->reg.ident);
	sigaddset(&q.sigmask, signo);
	int err = update_signalfd(q);
	if (err != 0) {
		sigdelset(&q.sigmask, signo);
		return err;
	}
	sigset_t one;
	sigemptyset(&one);
	sigaddset(&one, signo);
	pthread_sigmask(SIG_BLOCK, &one, nullptr);
	return 0;
}

// The signal stays blocked: we cannot know whether the application had it
// blocked before, and unblocking could kill it with the default action.
void signal_detach(kq_state &q, knote *kn)
{
	sigdelset(&q.sigmask, static_cast<int>(kn->reg.ident));
	update_signalfd(q);
}

void signal_drain(kq_state &q)
{
	if (q.sigfd < 0)
		return;
	struct signalfd_siginfo info[16];
	for (;;) {
		ssize_t n = read(q.sigfd, info, sizeof info);
		if (n <= 0)
			return;
		size_t count = static_cast<size_t>(n) / sizeof info[0];
		for (size_t i = 0; i < count; i++) {
			uint32_t signo = info[i].ssi_signo;
			knote *kn = signo <= max_signal ? q.signals[signo] : nullptr;
			if (kn == nullptr)
				continue;
			kn->count++;
			if (kn->enabled)
				enqueue(q, kn);
		}
		if (count < sizeof info / sizeof info[0])
			return;
	}
}

} // namespace libkqueue
