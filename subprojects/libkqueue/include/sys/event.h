/*
 * kqueue(2) for Linux: the FreeBSD 12+ interface, emulated on epoll,
 * eventfd, timerfd, signalfd, inotify and pidfd.  See doc/kqueue-linux.md for where the
 * behaviour differs from FreeBSD.  Usable from C and C++.
 */
#ifndef LIBKQUEUE_SYS_EVENT_H
#define LIBKQUEUE_SYS_EVENT_H

#include <stdint.h>
#include <time.h>

#define EVFILT_READ      (-1)
#define EVFILT_WRITE     (-2)
#define EVFILT_AIO       (-3)
#define EVFILT_VNODE     (-4)
#define EVFILT_PROC      (-5)
#define EVFILT_SIGNAL    (-6)
#define EVFILT_TIMER     (-7)
#define EVFILT_PROCDESC  (-8)
#define EVFILT_FS        (-9)
#define EVFILT_LIO       (-10)
#define EVFILT_USER      (-11)
#define EVFILT_SENDFILE  (-12)
#define EVFILT_EMPTY     (-13)
#define EVFILT_SYSCOUNT  13

/* actions */
#define EV_ADD           0x0001
#define EV_DELETE        0x0002
#define EV_ENABLE        0x0004
#define EV_DISABLE       0x0008
#define EV_FORCEONESHOT  0x0100

/* flags */
#define EV_ONESHOT       0x0010
#define EV_CLEAR         0x0020
#define EV_RECEIPT       0x0040
#define EV_DISPATCH      0x0080

#define EV_SYSFLAGS      0xF000
#define EV_DROP          0x1000
#define EV_FLAG1         0x2000
#define EV_FLAG2         0x4000

/* returned values */
#define EV_EOF           0x8000
#define EV_ERROR         0x4000

/* EVFILT_USER: the top two bits of fflags say how the low 24 apply */
#define NOTE_FFNOP       0x00000000U
#define NOTE_FFAND       0x40000000U
#define NOTE_FFOR        0x80000000U
#define NOTE_FFCOPY      0xc0000000U
#define NOTE_FFCTRLMASK  0xc0000000U
#define NOTE_FFLAGSMASK  0x00ffffffU
#define NOTE_TRIGGER     0x01000000U

/* EVFILT_READ / EVFILT_WRITE */
#define NOTE_LOWAT       0x0001U
#define NOTE_FILE_POLL   0x0002U
/*
 * An extension of this emulation, not in FreeBSD (test for it with #ifdef): the caller does not
 * read `data` of this knote, so an event that epoll has just reported is returned with `data` 0,
 * without the ioctl that would count the bytes (one system call an event).  Taken when the
 * knote is added.  See doc/kqueue-linux.md.
 */
#define NOTE_NODATA      0x00010000U

/* EVFILT_VNODE (through inotify) */
#define NOTE_DELETE      0x0001U
#define NOTE_WRITE       0x0002U
#define NOTE_EXTEND      0x0004U
#define NOTE_ATTRIB      0x0008U
#define NOTE_LINK        0x0010U
#define NOTE_RENAME      0x0020U
#define NOTE_REVOKE      0x0040U
#define NOTE_OPEN        0x0080U
#define NOTE_CLOSE       0x0100U
#define NOTE_CLOSE_WRITE 0x0200U
#define NOTE_READ        0x0400U

/* EVFILT_PROC (through pidfd: NOTE_EXIT only; NOTE_FORK, NOTE_EXEC and NOTE_TRACK
   give EINVAL) */
#define NOTE_EXIT        0x80000000U
#define NOTE_FORK        0x40000000U
#define NOTE_EXEC        0x20000000U
#define NOTE_PCTRLMASK   0xf0000000U
#define NOTE_PDATAMASK   0x000fffffU
#define NOTE_TRACK       0x00000001U
#define NOTE_TRACKERR    0x00000002U
#define NOTE_CHILD       0x00000004U

/* EVFILT_TIMER */
#define NOTE_SECONDS     0x00000001U
#define NOTE_MSECONDS    0x00000002U
#define NOTE_USECONDS    0x00000004U
#define NOTE_NSECONDS    0x00000008U
#define NOTE_ABSTIME     0x00000010U

struct kevent {
	uintptr_t      ident;   /* identifier for this event */
	short          filter;  /* filter for event */
	unsigned short flags;   /* action flags for kqueue */
	unsigned int   fflags;  /* filter flag value */
	int64_t        data;    /* filter data value */
	void          *udata;   /* opaque user data identifier */
	uint64_t       ext[4];  /* extensions */
};

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A function rather than FreeBSD's compound literal, because C++ has no
 * compound literals; being a function also evaluates each argument once.
 */
static inline void
libkqueue_ev_set(struct kevent *kev, uintptr_t ident, short filter,
		 unsigned short flags, unsigned int fflags, int64_t data,
		 void *udata)
{
	kev->ident = ident;
	kev->filter = filter;
	kev->flags = flags;
	kev->fflags = fflags;
	kev->data = data;
	kev->udata = udata;
	kev->ext[0] = 0;
	kev->ext[1] = 0;
	kev->ext[2] = 0;
	kev->ext[3] = 0;
}

#define EV_SET(kevp, a, b, c, d, e, f) \
	libkqueue_ev_set((kevp), (a), (b), (c), (d), (e), (f))

int kqueue(void);
int kevent(int kq, const struct kevent *changelist, int nchanges,
	   struct kevent *eventlist, int nevents,
	   const struct timespec *timeout);

#ifdef __cplusplus
}
#endif

#endif /* LIBKQUEUE_SYS_EVENT_H */
