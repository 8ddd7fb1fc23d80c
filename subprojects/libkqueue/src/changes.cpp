// Applying one changelist entry, following kqueue_register() semantics of
// FreeBSD: lookup by {ident, filter}; EV_ADD creates or modifies; any other
// action on a missing knote is ENOENT; an existing knote takes the new
// udata and filter arguments on every action except EV_DELETE.
#include "kq-internal.hpp"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>

#include <new>

namespace libkqueue {
namespace {

knote **soft_slot(kq_state &q, const struct kevent &kev, bool create)
{
	std::unordered_map<uintptr_t, knote *> *map = nullptr;
	switch (kev.filter) {
	case EVFILT_SIGNAL:
		return &q.signals[kev.ident];
	case EVFILT_TIMER:
		map = &q.timers;
		break;
	case EVFILT_VNODE:
		map = &q.vnodes;
		break;
	case EVFILT_PROC:
		map = &q.procs;
		break;
	default:
		map = &q.users;
		break;
	}
	if (create)
		return &(*map)[kev.ident];
	auto it = map->find(kev.ident);
	return it == map->end() ? nullptr : &it->second;
}

void soft_erase(kq_state &q, knote *kn)
{
	switch (kn->reg.filter) {
	case EVFILT_SIGNAL:
		q.signals[kn->reg.ident] = nullptr;
		break;
	case EVFILT_TIMER:
		q.timers.erase(kn->reg.ident);
		break;
	case EVFILT_VNODE:
		q.vnodes.erase(kn->reg.ident);
		break;
	case EVFILT_PROC:
		q.procs.erase(kn->reg.ident);
		break;
	default:
		q.users.erase(kn->reg.ident);
		break;
	}
}

bool soft_active(const knote *kn)
{
	switch (kn->reg.filter) {
	case EVFILT_USER:
		return kn->triggered;
	case EVFILT_VNODE:
	case EVFILT_PROC:
		return kn->fired != 0;
	default:
		return kn->count > 0;
	}
}

// Runs on EV_ADD of a new knote and on every later change but EV_DELETE:
// FreeBSD's user filter applies NOTE_TRIGGER/fflags from any change (a bare
// trigger has no EV_ADD), while a timer restarts only when re-added.
int soft_setup(kq_state &q, knote *kn, const struct kevent &kev, bool attach)
{
	switch (kn->reg.filter) {
	case EVFILT_TIMER:
		if (!attach && (kev.flags & EV_ADD) == 0)
			return 0;
		return timer_attach(q, kn, kev);
	case EVFILT_SIGNAL:
		return attach ? signal_attach(q, kn) : 0;
	case EVFILT_VNODE:
		return vnode_attach(q, kn, kev, attach);
	case EVFILT_PROC:
		return proc_attach(q, kn, kev, attach);
	default:
		user_touch(kn, kev, attach);
		return 0;
	}
}

int soft_change(kq_state &q, const struct kevent &kev)
{
	if (kev.filter == EVFILT_SIGNAL && (kev.ident < 1 || kev.ident > max_signal))
		return EINVAL;
	if (kev.filter == EVFILT_VNODE && kev.ident > static_cast<uintptr_t>(INT_MAX))
		return EBADF;
	// FreeBSD notes a file's change as it happens; what inotify holds happened before this
	// change, so it is weighed against the notes asked for until now.
	if (kev.filter == EVFILT_VNODE && q.infd >= 0)
		vnode_drain(q);
	knote **slot = soft_slot(q, kev, false);
	knote *kn = slot != nullptr ? *slot : nullptr;
	int stale_err = 0;
	if (kn != nullptr && kn->reg.filter == EVFILT_VNODE && vnode_stale(kn, stale_err)) {
		// The fd was closed (and maybe reused) since: FreeBSD's close() dropped the knote.
		knote_delete(q, kn);
		kn = nullptr;
		if ((kev.flags & EV_ADD) == 0)
			return stale_err;
	}
	if (kn == nullptr) {
		if ((kev.flags & EV_ADD) == 0) {
			if (kev.filter == EVFILT_VNODE && fcntl(static_cast<int>(kev.ident), F_GETFD) < 0)
				return EBADF;
			return ENOENT;
		}
		slot = soft_slot(q, kev, true);
		kn = knote_new(q, kev);
		*slot = kn;
		int err = soft_setup(q, kn, kev, true);
		if (err != 0) {
			soft_erase(q, kn);
			knote_free(q, kn);
			return err;
		}
	} else {
		if ((kev.flags & EV_DELETE) != 0) {
			knote_delete(q, kn);
			return 0;
		}
		if ((kev.flags & EV_ENABLE) != 0)
			kn->enabled = true;
		else if ((kev.flags & EV_DISABLE) != 0)
			kn->enabled = false;
		kn->reg.udata = kev.udata;
		int err = soft_setup(q, kn, kev, false);
		if (err != 0)
			return err;
	}
	if (kn->enabled && soft_active(kn))
		enqueue(q, kn);
	else
		dequeue(q, kn);
	return 0;
}

} // namespace

int apply_change(kq_state &q, struct kevent &kev)
{
	kev.flags &= static_cast<unsigned short>(~EV_SYSFLAGS);
	if ((kev.flags & (EV_ENABLE | EV_DISABLE)) == (EV_ENABLE | EV_DISABLE))
		return EINVAL;
	if ((kev.flags & EV_FORCEONESHOT) != 0)
		return EINVAL; // only meaningful for AIO/LIO, which are not emulated
	try {
		switch (kev.filter) {
		case EVFILT_READ:
		case EVFILT_WRITE:
			return fd_change(q, kev);
		case EVFILT_SIGNAL:
		case EVFILT_TIMER:
		case EVFILT_USER:
		case EVFILT_VNODE:
		case EVFILT_PROC:
			return soft_change(q, kev);
		default:
			return EINVAL;
		}
	} catch (const std::bad_alloc &) {
		return ENOMEM;
	}
}

void knote_delete(kq_state &q, knote *kn)
{
	switch (kn->reg.filter) {
	case EVFILT_READ:
	case EVFILT_WRITE:
		fd_remove(q, kn);
		return;
	case EVFILT_TIMER:
		timer_detach(q, kn);
		break;
	case EVFILT_SIGNAL:
		signal_detach(q, kn);
		break;
	case EVFILT_VNODE:
		vnode_detach(q, kn);
		break;
	case EVFILT_PROC:
		proc_detach(q, kn);
		break;
	default:
		break;
	}
	soft_erase(q, kn);
	knote_free(q, kn);
}

void knote_disable(kq_state &q, knote *kn)
{
	if (is_fd_filter(kn->reg.filter)) {
		fd_disable(q, kn);
		return;
	}
	kn->enabled = false;
	dequeue(q, kn);
}

} // namespace libkqueue
