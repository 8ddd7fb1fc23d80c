// EVFILT_PROC through a pidfd per knote: it becomes readable when the process exits, and the
// exit status is read with WNOWAIT so the process is left for its parent to reap, as on
// FreeBSD.  Only NOTE_EXIT can be told (see doc/kqueue-linux.md).
#include "kq-internal.hpp"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3 // Linux 5.4; older headers lack it
#endif

namespace libkqueue {
namespace {

// Linux has no way to hear of fork() or execve() in another process without ptrace or the
// netlink process connector (which needs CAP_NET_ADMIN): refused rather than never reported.
constexpr unsigned untellable = NOTE_FORK | NOTE_EXEC | NOTE_TRACK;

int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
#else
	(void)pid;
	errno = ENOSYS;
	return -1;
#endif
}

// The status as wait() gives it, without reaping; 0 when it cannot be had (not our child, or
// reaped already).
int64_t exit_status(int pidfd, pid_t pid)
{
	siginfo_t si {};
	int r = waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &si,
		       WEXITED | WNOWAIT | WNOHANG);
	if (r < 0 && errno == EINVAL) // a kernel before P_PIDFD
		r = waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOWAIT | WNOHANG);
	if (r < 0 || si.si_pid == 0)
		return 0;
	switch (si.si_code) {
	case CLD_EXITED:
		return (si.si_status & 0xff) << 8;
	case CLD_KILLED:
		return si.si_status & 0x7f;
	case CLD_DUMPED:
		return (si.si_status & 0x7f) | 0x80;
	default:
		return 0;
	}
}

void close_pidfd(kq_state &q, knote *kn)
{
	if (kn->pidfd < 0)
		return;
	struct epoll_event ev {};
	epoll_ctl(q.epfd, EPOLL_CTL_DEL, kn->pidfd, &ev);
	close(kn->pidfd);
	kn->pidfd = -1;
}

} // namespace

int proc_attach(kq_state &q, knote *kn, const struct kevent &kev, bool attach)
{
	if ((kev.fflags & untellable) != 0)
		return EINVAL;
	kn->reg.fflags = kev.fflags;
	kn->reg.data = kev.data;
	if (!attach)
		return 0;
	if (kev.ident == 0 || kev.ident > static_cast<uintptr_t>(INT_MAX))
		return ESRCH;
	pid_t pid = static_cast<pid_t>(kev.ident);
	int pfd = open_pidfd(pid);
	if (pfd < 0) {
		// A thread that is not a process leader: ENOENT from current kernels, EINVAL from
		// older ones.  FreeBSD's pfind() finds no process either.
		if (errno == ENOENT || errno == EINVAL)
			return ESRCH;
		return errno;
	}
	struct epoll_event ev {};
	ev.events = EPOLLIN;
	ev.data.u64 = static_cast<uint64_t>(proc_gen) << 32 | static_cast<uint32_t>(pid);
	if (epoll_ctl(q.epfd, EPOLL_CTL_ADD, pfd, &ev) < 0) {
		int err = errno;
		close(pfd);
		return err;
	}
	kn->pidfd = pfd;
	return 0;
}

void proc_detach(kq_state &q, knote *kn)
{
	close_pidfd(q, kn);
}

void proc_epoll_event(kq_state &q, uint64_t tag)
{
	auto it = q.procs.find(tag & 0xffffffffU);
	if (it == q.procs.end() || it->second->pidfd < 0)
		return;
	knote *kn = it->second;
	kn->status = exit_status(kn->pidfd, static_cast<pid_t>(kn->reg.ident));
	close_pidfd(q, kn);
	if ((kn->reg.fflags & NOTE_EXIT) == 0) {
		// Nothing asked for: FreeBSD drops the knote silently (EV_DROP).
		knote_delete(q, kn);
		return;
	}
	kn->fired |= NOTE_EXIT;
	if (kn->enabled)
		enqueue(q, kn);
}

bool proc_deliver(kq_state &q, knote *kn, struct kevent &out)
{
	if (kn->fired == 0)
		return false;
	out = kn->reg;
	out.fflags = kn->fired;
	out.data = kn->status;
	// The process is gone, and so is the knote.
	out.flags |= EV_EOF | EV_ONESHOT;
	knote_delete(q, kn);
	return true;
}

} // namespace libkqueue
