// EVFILT_READ and EVFILT_WRITE: one epoll registration per fd, shared by
// both knotes of that fd.  Level-triggered knotes map to level-triggered
// epoll, so steady state costs nothing but the epoll_wait of the scan.
#include "kq-internal.hpp"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

namespace libkqueue {
namespace {


knote *&slot(fd_entry &fe, short filter)
{
	return filter == EVFILT_READ ? fe.rd : fe.wr;
}

uint64_t tag_of(int fd, const fd_entry &fe)
{
	return static_cast<uint64_t>(fe.gen) << 32 | static_cast<uint32_t>(fd);
}

// Edge-triggered only if every enabled knote of the fd asked for EV_CLEAR:
// epoll has one trigger mode per registration (see the doc for mixed use).
uint32_t wanted_mask(const fd_entry &fe)
{
	uint32_t mask = 0;
	bool all_clear = true;
	if (fe.rd != nullptr && fe.rd->enabled) {
		mask |= EPOLLIN | EPOLLRDHUP;
		all_clear = all_clear && (fe.rd->reg.flags & EV_CLEAR) != 0;
	}
	if (fe.wr != nullptr && fe.wr->enabled) {
		mask |= EPOLLOUT;
		all_clear = all_clear && (fe.wr->reg.flags & EV_CLEAR) != 0;
	}
	if (mask != 0 && all_clear)
		mask |= EPOLLET;
	return mask;
}

void fd_start(kq_state &q, fd_entry &fe)
{
	fe.gen = q.next_gen++;
	// Tags with gen 0 would look like internal fds, and proc_gen like a pidfd.
	if (q.next_gen == 0 || q.next_gen == proc_gen)
		q.next_gen = 1;
	fe.mask = 0;
	fe.checked_call = 0;
	fe.kind = fd_kind::unknown;
	fe.bufsize = -1;
}

// `verify` forces a syscall even when the mask is unchanged: that syscall is
// how a watched fd that was closed (and maybe reused) gets noticed.
int fd_sync(kq_state &q, int fd, fd_entry &fe, bool verify)
{
	uint32_t want = wanted_mask(fe);
	struct epoll_event ev {};
	ev.events = want;
	ev.data.u64 = tag_of(fd, fe);
	int r = 0;
	if (want == 0) {
		if (fe.mask == 0)
			return verify && fcntl(fd, F_GETFD) < 0 ? EBADF : 0;
		r = epoll_ctl(q.epfd, EPOLL_CTL_DEL, fd, &ev);
	} else if (fe.mask == 0) {
		r = epoll_ctl(q.epfd, EPOLL_CTL_ADD, fd, &ev);
		// Unregistered, the number may have been closed and reused unseen (every knote
		// disabled): what we knew of the file may be another's (found by test/fuzz/fuzz-kqueue:
		// a socket taken for a pipe reported no room to write).
		fe.kind = fd_kind::unknown;
		fe.bufsize = -1;
	} else if (want != fe.mask || verify) {
		r = epoll_ctl(q.epfd, EPOLL_CTL_MOD, fd, &ev);
	}
	if (r < 0) {
		int err = errno;
		if (err == ENOENT || err == EBADF)
			fe.mask = 0; // whatever we had registered is gone
		return err;
	}
	fe.mask = want;
	return 0;
}

// Drops the knotes of a file that is no longer at this fd number.
void fd_purge(kq_state &q, int fd, fd_entry &fe, knote *keep)
{
	for (knote **kp : {&fe.rd, &fe.wr}) {
		if (*kp != nullptr && *kp != keep) {
			knote_free(q, *kp);
			*kp = nullptr;
		}
	}
	if (fe.mask != 0) {
		struct epoll_event ev {};
		epoll_ctl(q.epfd, EPOLL_CTL_DEL, fd, &ev);
	}
	fd_start(q, fe);
}

// Turns an epoll_ctl failure into the errno FreeBSD would give, or
// err_stale_kq when it is the kqueue descriptor that went away.
int map_error(kq_state &q, int fd, int err)
{
	if ((err == EBADF || err == EINVAL || err == ENOENT) && !kq_is_ours(q))
		return err_stale_kq;
	if (err == ENOENT && fcntl(fd, F_GETFD) < 0)
		return EBADF;
	return err;
}

// A knote we had whose fd number epoll now refuses with EPERM: the number belongs to another
// file since (one epoll cannot watch, a regular file say), and FreeBSD's close() would have
// dropped the knote, so a change to it finds none.
int stale_knote_error(int err)
{
	return err == EPERM ? ENOENT : err;
}

int fd_add(kq_state &q, int fd, const struct kevent &kev)
{
	fd_entry &fe = fd_get(q, fd);
	bool fresh = fe.rd == nullptr && fe.wr == nullptr;
	if (fresh)
		fd_start(q, fe);
	knote *kn = knote_new(q, kev);
	slot(fe, kev.filter) = kn;
	int err = fd_sync(q, fd, fe, true);
	if (err != 0 && !fresh) {
		// The other knote's registration failed: its file was closed.
		err = map_error(q, fd, err);
		if (err != err_stale_kq) {
			fd_purge(q, fd, fe, kn);
			err = fd_sync(q, fd, fe, true);
		}
	}
	if (err != 0) {
		if (err != err_stale_kq)
			err = map_error(q, fd, err);
		slot(fe, kev.filter) = nullptr;
		knote_free(q, kn);
		if (fe.rd == nullptr && fe.wr == nullptr)
			fd_start(q, fe);
		return err;
	}
	return 0;
}

// After a failed re-registration of a knote we already had.
void fd_settle(kq_state &q, int fd, fd_entry &fe, int err)
{
	if (err != 0 && err != err_stale_kq)
		fd_purge(q, fd, fe, nullptr);
	if (fe.rd == nullptr && fe.wr == nullptr && fe.mask == 0)
		fd_start(q, fe);
}

void fd_classify(int fd, fd_entry &fe)
{
	if (fe.kind != fd_kind::unknown)
		return;
	int type = 0;
	socklen_t len = sizeof type;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0) {
		fe.kind = type == SOCK_STREAM ? fd_kind::stream : fd_kind::dgram;
		return;
	}
	struct stat st {};
	fe.kind = fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) ? fd_kind::pipe : fd_kind::other;
}

bool is_socket(const fd_entry &fe)
{
	return fe.kind == fd_kind::stream || fe.kind == fd_kind::dgram;
}

// Linux refuses FIONREAD on a listening socket; for TCP the accept queue
// length is in tcpi_unacked.  Anything else gets 1: "something pending".
int64_t listen_backlog(int fd)
{
	struct tcp_info ti {};
	socklen_t len = sizeof ti;
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && ti.tcpi_unacked > 0)
		return ti.tcpi_unacked;
	return 1;
}

int64_t write_space(int fd, fd_entry &fe)
{
	if (fe.bufsize < 0) {
		int size = 0;
		socklen_t len = sizeof size;
		if (is_socket(fe))
			fe.bufsize = getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, &len) == 0 ? size : 0;
		else if (fe.kind == fd_kind::pipe)
			fe.bufsize = fcntl(fd, F_GETPIPE_SZ);
		if (fe.bufsize < 0)
			fe.bufsize = 0;
	}
	int used = 0;
	if (is_socket(fe)) {
		if (ioctl(fd, SIOCOUTQ, &used) < 0)
			used = 0;
	} else if (fe.kind == fd_kind::pipe) {
		if (ioctl(fd, FIONREAD, &used) < 0)
			used = 0;
	} else {
		return 0;
	}
	return used < fe.bufsize ? fe.bufsize - used : 0;
}

// Is the file epoll knows at this number still the one we registered?
// ADD answers without disturbing anything: EEXIST means yes.
bool fd_still_ours(kq_state &q, int fd, fd_entry &fe)
{
	struct epoll_event ev {};
	ev.events = fe.mask;
	ev.data.u64 = tag_of(fd, fe);
	if (fe.mask == 0)
		return false;
	if (epoll_ctl(q.epfd, EPOLL_CTL_ADD, fd, &ev) == 0) {
		epoll_ctl(q.epfd, EPOLL_CTL_DEL, fd, &ev);
		return false;
	}
	return errno == EEXIST;
}

// Runs the filter: what the kernel says now about the knote's fd, as FreeBSD does at
// retrieval. False: nothing to report (drained since, or the file is gone).
bool fd_probe(kq_state &q, knote *kn, bool &eof, int64_t &data)
{
	int fd = static_cast<int>(kn->reg.ident);
	fd_entry &fe = q.fds[kn->reg.ident];
	if (kn->seen_call != q.call && fe.checked_call != q.call) {
		// Queued in an earlier call: the fd may have been closed since.
		if (!fd_still_ours(q, fd, fe)) {
			fd_purge(q, fd, fe, nullptr);
			return false;
		}
		fe.checked_call = q.call;
	}
	fd_classify(fd, fe);
	uint32_t rev = kn->revents;
	if (kn->seen_call != q.call) {
		// Left over from an earlier call (the eventlist was full): EOF or an error may have
		// come since, and FreeBSD runs the filter at retrieval (found by test/fuzz/fuzz-kqueue).
		constexpr uint32_t eof_bits = EPOLLRDHUP | EPOLLHUP | EPOLLERR;
		struct pollfd p {fd, POLLRDHUP, 0};
		if (poll(&p, 1, 0) >= 0)
			rev = (rev & ~eof_bits) | (static_cast<uint32_t>(p.revents) & eof_bits);
	}
	data = 0;
	if (kn->reg.filter == EVFILT_READ) {
		// EPOLLERR too: a pipe's write end watched for reading hears of a gone reader only so,
		// where FreeBSD's bidirectional pipe reports EOF on the read filter.
		eof = (rev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
		int avail = 0;
		if (ioctl(fd, FIONREAD, &avail) == 0)
			data = avail;
		else if (fe.kind == fd_kind::stream)
			data = listen_backlog(fd);
		// The filter runs again on retrieval: drained since epoll said so.
		if (data == 0 && !eof && (rev & EPOLLERR) == 0 &&
		    (fe.kind == fd_kind::stream || fe.kind == fd_kind::pipe))
			return false;
	} else {
		eof = (rev & (EPOLLHUP | EPOLLERR)) != 0;
		data = write_space(fd, fe);
	}
	return true;
}

} // namespace

int fd_change(kq_state &q, const struct kevent &kev)
{
	if (kev.ident > static_cast<uintptr_t>(INT_MAX))
		return EBADF;
	int fd = static_cast<int>(kev.ident);
	fd_entry *fe = fd_find(q, kev.ident);
	knote *kn = fe != nullptr ? slot(*fe, kev.filter) : nullptr;
	if (kn == nullptr) {
		if ((kev.flags & EV_ADD) == 0)
			return fcntl(fd, F_GETFD) < 0 ? EBADF : ENOENT;
		// Beyond the table: check the number before growing the table to it, or a bad ident
		// near INT_MAX asks for gigabytes (FreeBSD's fget() fails first too).
		if (fe == nullptr && fcntl(fd, F_GETFD) < 0)
			return EBADF;
		return fd_add(q, fd, kev);
	}
	if ((kev.flags & EV_DELETE) != 0) {
		slot(*fe, kev.filter) = nullptr;
		knote_free(q, kn);
		int err = fd_sync(q, fd, *fe, true);
		if (err != 0)
			err = stale_knote_error(map_error(q, fd, err));
		fd_settle(q, fd, *fe, err);
		// The knote was of a file closed since: as in FreeBSD, where close() dropped it,
		// EV_ADD|EV_DELETE then adds a fresh knote (found by test/fuzz/fuzz-kqueue).
		if (err != 0 && err != err_stale_kq && (kev.flags & EV_ADD) != 0)
			return fd_add(q, fd, kev);
		return err;
	}
	if ((kev.flags & EV_ENABLE) != 0)
		kn->enabled = true;
	else if ((kev.flags & EV_DISABLE) != 0)
		kn->enabled = false;
	if (!kn->enabled)
		dequeue(q, kn);
	kn->reg.udata = kev.udata; // fflags and data stay 0 (see knote_new)
	int err = fd_sync(q, fd, *fe, true);
	if (err == 0)
		return 0;
	err = stale_knote_error(map_error(q, fd, err));
	fd_settle(q, fd, *fe, err);
	if (err != err_stale_kq && (kev.flags & EV_ADD) != 0)
		return fd_add(q, fd, kev); // same number, new file: a fresh knote
	return err;
}

bool fd_deliver(kq_state &q, knote *kn, struct kevent &out)
{
	bool eof;
	int64_t data = 0;
	if (kn->seen_call == q.call && kn->nodata) {
		// Fresh from this call's epoll_wait, and nobody reads the byte count (EV_ONESHOT and
		// EV_DISPATCH come here; the rest takes fd_report's inline path).
		eof = (kn->revents & kn->eof_events) != 0;
	} else if (!fd_probe(q, kn, eof, data)) {
		return false;
	}
	out = kn->reg;
	out.data = data;
	// fflags stays 0: reading SO_ERROR would clear it on Linux (see the doc)
	out.fflags = 0;
	if (eof)
		out.flags |= EV_EOF;
	if ((kn->reg.flags & EV_ONESHOT) != 0)
		fd_remove(q, kn);
	else if ((kn->reg.flags & EV_DISPATCH) != 0)
		fd_disable(q, kn);
	return true;
}

void fd_remove(kq_state &q, knote *kn)
{
	int fd = static_cast<int>(kn->reg.ident);
	fd_entry &fe = q.fds[kn->reg.ident];
	slot(fe, kn->reg.filter) = nullptr;
	knote_free(q, kn);
	fd_settle(q, fd, fe, fd_sync(q, fd, fe, false));
}

void fd_disable(kq_state &q, knote *kn)
{
	int fd = static_cast<int>(kn->reg.ident);
	fd_entry &fe = q.fds[kn->reg.ident];
	kn->enabled = false;
	dequeue(q, kn);
	fd_settle(q, fd, fe, fd_sync(q, fd, fe, false));
}

} // namespace libkqueue
