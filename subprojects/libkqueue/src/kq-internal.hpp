// Internal state of the Linux kqueue emulation.  One kq_state per kqueue()
// descriptor; the descriptor number is the epoll fd itself, so the kqueue
// can be polled and closed like any fd (see doc/kqueue-linux.md).
#pragma once

#include <sys/event.h>

#include <signal.h>
#include <sys/epoll.h>
#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace libkqueue {

// epoll_data.u64 of the internal fds.  Watched fds use (gen << 32 | fd) and
// gen starts at 1, so these can never collide with a watched fd.
inline constexpr uint64_t tag_wake = 1;
inline constexpr uint64_t tag_timer = 2;
inline constexpr uint64_t tag_signal = 3;
inline constexpr uint64_t tag_inotify = 4;
// A pidfd's tag is (proc_gen << 32 | pid); fd_start() never hands this gen out.
inline constexpr uint32_t proc_gen = UINT32_MAX;

inline constexpr size_t no_heap_index = SIZE_MAX;
inline constexpr int max_signal = 64;

struct knote {
	// What the user registered: ident, filter, the sticky flags (ONESHOT,
	// CLEAR, DISPATCH, RECEIPT), the input fflags/data, udata and ext.
	struct kevent reg {};
	knote *prev = nullptr; // ready queue links
	knote *next = nullptr;
	int64_t count = 0; // timer expirations / signal deliveries not yet reported
	int64_t period_ns = 0; // 0 = fires once
	int64_t deadline_ns = 0;
	size_t heap_index = no_heap_index;
	uint64_t seen_call = 0; // kevent() call in which epoll last reported it
	uint64_t requeued_call = 0; // kevent() call that re-queued it after delivery
	uint32_t revents = 0; // last epoll events for an fd knote
	uint32_t eof_events = 0; // fd knote: the epoll events that mean EV_EOF for its filter
	// fd knote: added with NOTE_NODATA, and neither EV_ONESHOT nor EV_DISPATCH, so an event
	// fresh from epoll is reported by a copy of reg (see fd_report)
	bool copy_report = false;
	bool nodata = false; // fd knote: added with NOTE_NODATA
	bool enabled = false;
	bool queued = false;
	bool triggered = false; // EVFILT_USER
	// EVFILT_VNODE and EVFILT_PROC: NOTE_* bits seen (and asked for) but not yet reported
	uint32_t fired = 0;
	int wd = -1; // EVFILT_VNODE: inotify watch; -1 once the kernel dropped it
	dev_t dev = 0; // EVFILT_VNODE: the file the ident referred to at EV_ADD
	ino_t ino = 0;
	int pidfd = -1; // EVFILT_PROC; -1 once the exit was seen
	int64_t status = 0; // EVFILT_PROC: wait status at exit
};

// One inotify watch, shared by every EVFILT_VNODE knote on its inode, with what the last look
// at the inode found (inotify says "attributes changed", the kqueue notes say which).
struct vnode_watch {
	std::vector<knote *> knotes;
	uint32_t mask = 0;
	int64_t size = 0;
	nlink_t nlink = 0;
	mode_t mode = 0;
	uid_t uid = 0;
	gid_t gid = 0;
	bool dir = false;
};

enum class fd_kind : uint8_t { unknown, stream, dgram, pipe, other };

struct fd_entry {
	knote *rd = nullptr;
	knote *wr = nullptr;
	// Bumped whenever the entry starts describing a new open file, so epoll
	// reports about an earlier file at the same number can be recognised.
	uint32_t gen = 0;
	uint32_t mask = 0; // events registered with epoll; 0 = not registered
	uint64_t checked_call = 0; // kevent() call that last verified the registration
	fd_kind kind = fd_kind::unknown;
	int bufsize = -1; // SO_SNDBUF or pipe capacity, cached for EVFILT_WRITE data
};

struct ready_queue {
	knote *head = nullptr;
	knote *tail = nullptr;
	size_t size = 0;

	void push(knote *kn);
	void remove(knote *kn);
};

struct kq_state {
	int epfd = -1; // == the kqueue descriptor; never closed by us
	int wakefd = -1; // eventfd: readable while user-space events are queued
	int timerfd = -1; // armed to the earliest timer deadline
	int sigfd = -1;
	int infd = -1; // inotify, for EVFILT_VNODE
	pid_t pid = 0; // creator; kqueues are not inherited across fork()

	std::atomic<int> refs{1};
	std::mutex mu; // guards everything below
	bool dead = false;

	uint64_t call = 0; // counts kevent() calls
	uint32_t next_gen = 1;
	std::vector<fd_entry> fds;
	size_t nfds = 0; // fds.size(), kept for the per-event lookup (no division by the entry size)
	std::unordered_map<uintptr_t, knote *> timers;
	std::unordered_map<uintptr_t, knote *> users;
	std::unordered_map<uintptr_t, knote *> vnodes; // by fd
	std::unordered_map<uintptr_t, knote *> procs; // by pid
	std::unordered_map<int, vnode_watch> watches; // by inotify wd
	knote *signals[max_signal + 1] = {};
	sigset_t sigmask{};
	std::vector<knote *> heap; // timers, earliest deadline first
	int64_t armed_ns = -1; // deadline the timerfd is set to; -1 = disarmed
	ready_queue queue;
	size_t soft_queued = 0; // queued knotes that are not fd knotes
	bool wake_set = false;
	knote *pool = nullptr; // freed knotes, reused to avoid malloc

	kq_state() { sigemptyset(&sigmask); }
	~kq_state();
	kq_state(const kq_state &) = delete;
	kq_state &operator=(const kq_state &) = delete;
};

inline bool is_fd_filter(short filter) {
	return filter == EVFILT_READ || filter == EVFILT_WRITE;
}

// Internal result of a change: the kqueue descriptor is no longer ours.
inline constexpr int err_stale_kq = -1;

// knote-table.cpp
knote *knote_new(kq_state &q, const struct kevent &kev);
void knote_free(kq_state &q, knote *kn);
void enqueue(kq_state &q, knote *kn);
void dequeue(kq_state &q, knote *kn);
inline fd_entry *fd_find(kq_state &q, uintptr_t ident)
{
	return ident < q.nfds ? q.fds.data() + ident : nullptr;
}
fd_entry &fd_get(kq_state &q, int fd);
bool kq_is_ours(kq_state &q);
void wake_sync(kq_state &q);
int64_t now_ns(clockid_t clock);

// changes.cpp
int apply_change(kq_state &q, struct kevent &kev);
void knote_delete(kq_state &q, knote *kn);
void knote_disable(kq_state &q, knote *kn);

// scan.cpp
int scan(kq_state &q, std::unique_lock<std::mutex> &lk, struct kevent *out,
	 int nevents, const struct timespec *timeout, bool &stale);

// filter-fd.cpp
int fd_change(kq_state &q, const struct kevent &kev);
bool fd_deliver(kq_state &q, knote *kn, struct kevent &out);

inline constexpr uint32_t fd_read_events = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
inline constexpr uint32_t fd_write_events = EPOLLOUT | EPOLLHUP | EPOLLERR;

// Reports one knote of an fd epoll has just reported, into `out` (true) or the ready queue.
// Inline, and the common case (NOTE_NODATA, neither EV_ONESHOT nor EV_DISPATCH) without a call:
// this is most of what a kevent() call costs per event.
inline bool fd_report(kq_state &q, knote *kn, uint32_t events, struct kevent *out, int room)
{
	// While nothing waits in the ready queue, the event goes straight to the eventlist: the
	// order is the one the queue would give, without the knote's trip through it.
	if (q.queue.head == nullptr && room > 0 && kn->copy_report) {
		// Fresh from this call's epoll_wait, and nobody reads the byte count: what epoll said
		// is all there is to report, and an fd knote's reg holds fflags and data 0. Not
		// queued, the knote needs no revents or seen_call: its next report sets them.
		*out = kn->reg;
		if ((events & kn->eof_events) != 0)
			out->flags |= EV_EOF;
		return true;
	}
	kn->revents = events;
	kn->seen_call = q.call;
	if (q.queue.head != nullptr || room <= 0) {
		enqueue(q, kn);
		return false;
	}
	return fd_deliver(q, kn, *out);
}

// An epoll event of a watched fd (tag: gen << 32 | fd). Returns how many events went straight
// into `out` (room entries).
inline int fd_epoll_event(kq_state &q, uint64_t tag, uint32_t events, struct kevent *out, int room)
{
	const uint64_t tag_fd = tag & 0xffffffffU;
	const auto gen = static_cast<uint32_t>(tag >> 32);
	if (tag_fd >= q.nfds)
		return 0;
	fd_entry *fe = q.fds.data() + tag_fd;
	if (fe->gen != gen || fe->mask == 0)
		return 0;
	int n = 0;
	knote *kn = (events & fd_read_events) != 0 ? fe->rd : nullptr;
	if (kn != nullptr && kn->enabled && fd_report(q, kn, events, out, room))
		n++;
	// fe->gen again: a failed epoll_ctl in the read knote's delivery (its EV_ONESHOT or
	// EV_DISPATCH) may have dropped the fd's knotes.
	kn = (events & fd_write_events) != 0 && fe->gen == gen ? fe->wr : nullptr;
	if (kn != nullptr && kn->enabled && fd_report(q, kn, events, out + n, room - n))
		n++;
	return n;
}
void fd_remove(kq_state &q, knote *kn);
void fd_disable(kq_state &q, knote *kn);

// filter-timer.cpp
int timer_attach(kq_state &q, knote *kn, const struct kevent &kev);
void timer_detach(kq_state &q, knote *kn);
void timers_run(kq_state &q);
void timer_fd_drain(kq_state &q);

// filter-signal.cpp
int signal_attach(kq_state &q, knote *kn);
void signal_detach(kq_state &q, knote *kn);
void signal_drain(kq_state &q);

// filter-vnode.cpp
int vnode_attach(kq_state &q, knote *kn, const struct kevent &kev, bool attach);
bool vnode_stale(const knote *kn, int &err);
void vnode_detach(kq_state &q, knote *kn);
void vnode_drain(kq_state &q);
bool vnode_deliver(kq_state &q, knote *kn, struct kevent &out);

// filter-proc.cpp
int proc_attach(kq_state &q, knote *kn, const struct kevent &kev, bool attach);
void proc_detach(kq_state &q, knote *kn);
void proc_epoll_event(kq_state &q, uint64_t tag);
bool proc_deliver(kq_state &q, knote *kn, struct kevent &out);

// filter-user.cpp
void user_touch(knote *kn, const struct kevent &kev, bool attach);
bool user_deliver(kq_state &q, knote *kn, struct kevent &out);

} // namespace libkqueue
