// EVFILT_USER: no kernel source at all; a triggered knote stays active
// until delivered with EV_CLEAR (or deleted), exactly like FreeBSD.
#include "kq-internal.hpp"

namespace libkqueue {

void user_touch(knote *kn, const struct kevent &kev, bool attach)
{
	unsigned int stored = attach ? 0 : kn->reg.fflags;
	unsigned int bits = kev.fflags & NOTE_FFLAGSMASK;
	switch (kev.fflags & NOTE_FFCTRLMASK) {
	case NOTE_FFAND:
		stored &= bits;
		break;
	case NOTE_FFOR:
		stored |= bits;
		break;
	case NOTE_FFCOPY:
		stored = bits;
		break;
	default: // NOTE_FFNOP; FreeBSD still keeps the bits given at EV_ADD
		if (attach)
			stored = bits;
		break;
	}
	kn->reg.fflags = stored;
	kn->reg.data = kev.data;
	if ((kev.fflags & NOTE_TRIGGER) != 0)
		kn->triggered = true;
}

bool user_deliver(kq_state &q, knote *kn, struct kevent &out)
{
	if (!kn->triggered)
		return false;
	out = kn->reg;
	out.fflags = kn->reg.fflags & NOTE_FFLAGSMASK;
	if ((kn->reg.flags & EV_CLEAR) != 0)
		kn->triggered = false;
	if ((kn->reg.flags & EV_ONESHOT) != 0) {
		knote_delete(q, kn);
	} else if ((kn->reg.flags & EV_DISPATCH) != 0) {
		knote_disable(q, kn);
	} else if (kn->triggered) {
		// Still active: report it again next call, not twice in this one.
		kn->requeued_call = q.call;
		enqueue(q, kn);
	}
	return true;
}

} // namespace libkqueue
