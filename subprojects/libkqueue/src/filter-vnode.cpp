// EVFILT_VNODE through one inotify instance per kqueue.  inotify names a file by path, so a
// knote's fd is watched through its /proc/self/fd link: resolving that link lands on the open
// file's inode, also once the file is renamed or unlinked.  inotify keeps one watch per inode,
// so knotes on the same file share it (see doc/kqueue-linux.md for what maps to what).
#include "kq-internal.hpp"

#include <errno.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

namespace libkqueue {
namespace {

// Every watch hears these: they give the common notes and keep the watch's view of the inode
// current.  Opens, closes and reads are frequent, so they are asked for only when wanted.
constexpr uint32_t base_mask = IN_MODIFY | IN_ATTRIB | IN_CREATE | IN_DELETE | IN_MOVED_FROM |
			       IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF;

uint32_t extra_mask(unsigned fflags)
{
	uint32_t m = 0;
	if ((fflags & NOTE_OPEN) != 0)
		m |= IN_OPEN;
	if ((fflags & NOTE_CLOSE) != 0)
		m |= IN_CLOSE_NOWRITE;
	if ((fflags & NOTE_CLOSE_WRITE) != 0)
		m |= IN_CLOSE_WRITE;
	if ((fflags & NOTE_READ) != 0)
		m |= IN_ACCESS;
	return m;
}

int ensure_inotify(kq_state &q)
{
	if (q.infd >= 0)
		return 0;
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0)
		return errno;
	struct epoll_event ev {};
	ev.events = EPOLLIN;
	ev.data.u64 = tag_inotify;
	if (epoll_ctl(q.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = errno;
		close(fd);
		return err;
	}
	q.infd = fd;
	return 0;
}

// IN_MASK_ADD: the watch may be shared, and narrowing it would starve another knote.
int add_watch(kq_state &q, int fd, uint32_t mask)
{
	char path[32];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	int wd = inotify_add_watch(q.infd, path, mask | IN_MASK_ADD);
	return wd < 0 ? -errno : wd;
}

void remember(vnode_watch &w, const struct stat &st, bool size, bool attrs)
{
	if (size)
		w.size = st.st_size;
	if (attrs) {
		w.nlink = st.st_nlink;
		w.mode = st.st_mode;
		w.uid = st.st_uid;
		w.gid = st.st_gid;
	}
}

// fstat through a knote whose descriptor still refers to the watched file.
bool look(const vnode_watch &w, struct stat &st)
{
	for (const knote *kn : w.knotes)
		if (fstat(static_cast<int>(kn->reg.ident), &st) == 0 && st.st_dev == kn->dev &&
		    st.st_ino == kn->ino)
			return true;
	return false;
}

// The notes inotify does not tell apart: IN_MODIFY says nothing of growth, and IN_ATTRIB stands
// for chmod, chown, utimes and link count changes alike.  Only the fields the event can have
// changed are compared and remembered, so an earlier event in a batch does not hide a later one.
uint32_t compare(vnode_watch &w, bool modify, bool attrib)
{
	struct stat st {};
	if (!look(w, st))
		return 0;
	uint32_t notes = 0;
	if (modify && !w.dir && st.st_size > w.size)
		notes |= NOTE_EXTEND;
	if (attrib) {
		// A directory's link count moves with its subdirectories, which the entry events
		// report; Linux sends it no IN_ATTRIB for those.
		bool links = !w.dir && st.st_nlink != w.nlink;
		if (links)
			notes |= NOTE_LINK;
		if (links && st.st_nlink < w.nlink)
			notes |= NOTE_DELETE; // FreeBSD: unlink() was called on the file
		if (!links || st.st_mode != w.mode || st.st_uid != w.uid || st.st_gid != w.gid)
			notes |= NOTE_ATTRIB;
	}
	remember(w, st, modify, attrib);
	return notes;
}

void post(kq_state &q, const vnode_watch &w, uint32_t notes)
{
	for (knote *kn : w.knotes) {
		uint32_t bits = notes & kn->reg.fflags;
		if (bits == 0)
			continue;
		kn->fired |= bits;
		if (kn->enabled)
			enqueue(q, kn);
	}
}

// The queue overflowed: some events are lost.  Whatever the inode shows is reported, and
// NOTE_WRITE and NOTE_ATTRIB always, so a watcher looks again.
void overflow(kq_state &q)
{
	for (auto &[wd, w] : q.watches)
		post(q, w, NOTE_WRITE | NOTE_ATTRIB | compare(w, true, true));
}

// Is `e` half of a rename inside one directory (its partner next to it in the buffer)?
bool paired(const struct inotify_event *e, const struct inotify_event *other)
{
	return other != nullptr && other->wd == e->wd && other->cookie == e->cookie &&
	       (other->mask & (IN_MOVED_FROM | IN_MOVED_TO)) != 0;
}

uint32_t notes_of(vnode_watch &w, const struct inotify_event *e,
		  const struct inotify_event *prev, const struct inotify_event *next)
{
	uint32_t m = e->mask;
	if (e->len > 0) {
		// An entry of a watched directory; only changes to the entry list count.
		uint32_t subdir = (m & IN_ISDIR) != 0 ? NOTE_LINK : 0;
		if ((m & (IN_CREATE | IN_DELETE)) != 0)
			return NOTE_WRITE | subdir;
		if ((m & IN_MOVED_FROM) != 0)
			return NOTE_WRITE | (paired(e, next) ? 0 : NOTE_EXTEND | subdir);
		if ((m & IN_MOVED_TO) != 0)
			return NOTE_WRITE | (paired(e, prev) ? 0 : NOTE_EXTEND | subdir);
		return 0;
	}
	uint32_t notes = 0;
	if ((m & IN_MODIFY) != 0 || (m & IN_ATTRIB) != 0)
		notes |= compare(w, (m & IN_MODIFY) != 0, (m & IN_ATTRIB) != 0);
	if ((m & IN_MODIFY) != 0)
		notes |= NOTE_WRITE;
	if ((m & IN_DELETE_SELF) != 0)
		notes |= NOTE_DELETE;
	if ((m & IN_MOVE_SELF) != 0)
		notes |= NOTE_RENAME;
	if ((m & IN_UNMOUNT) != 0)
		notes |= NOTE_REVOKE;
	if ((m & IN_OPEN) != 0)
		notes |= NOTE_OPEN;
	if ((m & IN_CLOSE_NOWRITE) != 0)
		notes |= NOTE_CLOSE;
	if ((m & IN_CLOSE_WRITE) != 0)
		notes |= NOTE_CLOSE_WRITE;
	if ((m & IN_ACCESS) != 0)
		notes |= NOTE_READ;
	return notes;
}

// The kernel dropped the watch (the inode is gone, or its file system): no more events.
void watch_gone(kq_state &q, int wd)
{
	auto it = q.watches.find(wd);
	if (it == q.watches.end())
		return;
	for (knote *kn : it->second.knotes)
		kn->wd = -1;
	q.watches.erase(it);
}

} // namespace

int vnode_attach(kq_state &q, knote *kn, const struct kevent &kev, bool attach)
{
	int fd = static_cast<int>(kev.ident);
	kn->reg.fflags = kev.fflags;
	kn->reg.data = kev.data;
	if (!attach) {
		// A knote may ask for more on a later change; the watch only ever widens.
		auto it = q.watches.find(kn->wd);
		uint32_t want = base_mask | extra_mask(kev.fflags);
		if (it == q.watches.end() || (it->second.mask | want) == it->second.mask)
			return 0;
		int wd = add_watch(q, fd, want);
		if (wd < 0)
			return -wd;
		it->second.mask |= want;
		return 0;
	}
	struct stat st {};
	if (fstat(fd, &st) < 0)
		return EBADF;
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return EINVAL;
	int err = ensure_inotify(q);
	if (err != 0)
		return err;
	uint32_t mask = base_mask | extra_mask(kev.fflags);
	int wd = add_watch(q, fd, mask);
	if (wd < 0)
		return -wd;
	auto [it, fresh] = q.watches.try_emplace(wd);
	vnode_watch &w = it->second;
	if (fresh) {
		w.dir = S_ISDIR(st.st_mode);
		remember(w, st, true, true);
	}
	w.mask |= mask;
	w.knotes.push_back(kn);
	kn->wd = wd;
	kn->dev = st.st_dev;
	kn->ino = st.st_ino;
	return 0;
}

bool vnode_stale(const knote *kn, int &err)
{
	struct stat st {};
	if (fstat(static_cast<int>(kn->reg.ident), &st) < 0) {
		err = EBADF;
		return true;
	}
	if (st.st_dev != kn->dev || st.st_ino != kn->ino) {
		err = ENOENT;
		return true;
	}
	return false;
}

void vnode_detach(kq_state &q, knote *kn)
{
	auto it = q.watches.find(kn->wd);
	kn->wd = -1;
	if (it == q.watches.end())
		return;
	std::vector<knote *> &v = it->second.knotes;
	v.erase(std::remove(v.begin(), v.end(), kn), v.end());
	if (v.empty()) {
		inotify_rm_watch(q.infd, it->first);
		q.watches.erase(it);
	}
}

void vnode_drain(kq_state &q)
{
	alignas(struct inotify_event) char buf[16384];
	for (;;) {
		ssize_t n = read(q.infd, buf, sizeof buf);
		if (n <= 0)
			return;
		const struct inotify_event *prev = nullptr;
		for (char *p = buf; p < buf + n;) {
			auto *e = reinterpret_cast<const struct inotify_event *>(p);
			p += sizeof *e + e->len;
			auto *next = p < buf + n ? reinterpret_cast<const struct inotify_event *>(p) : nullptr;
			if ((e->mask & IN_Q_OVERFLOW) != 0) {
				overflow(q);
			} else if (auto it = q.watches.find(e->wd); it != q.watches.end()) {
				post(q, it->second, notes_of(it->second, e, prev, next));
				if ((e->mask & IN_IGNORED) != 0)
					watch_gone(q, e->wd);
			}
			prev = e;
		}
	}
}

bool vnode_deliver(kq_state &q, knote *kn, struct kevent &out)
{
	if (kn->fired == 0)
		return false;
	int err = 0;
	if (vnode_stale(kn, err)) {
		// Closed since the event: FreeBSD's close() would have dropped the knote.
		knote_delete(q, kn);
		return false;
	}
	out = kn->reg;
	out.fflags = kn->fired;
	out.data = 0;
	if ((kn->reg.flags & EV_CLEAR) != 0)
		kn->fired = 0;
	if ((kn->reg.flags & EV_ONESHOT) != 0) {
		knote_delete(q, kn);
	} else if ((kn->reg.flags & EV_DISPATCH) != 0) {
		knote_disable(q, kn);
	} else if (kn->fired != 0) {
		// Without EV_CLEAR the notes stay, and FreeBSD reports them on every call.
		kn->requeued_call = q.call;
		enqueue(q, kn);
	}
	return true;
}

} // namespace libkqueue
