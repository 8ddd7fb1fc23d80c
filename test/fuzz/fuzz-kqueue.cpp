// The kqueue emulation (subprojects/libkqueue) against a reference model written from FreeBSD's
// kqueue(2) and doc/kqueue-linux.md. Each input is a program: changelists of EV_ADD, EV_DELETE,
// EV_ENABLE, EV_DISABLE with EV_ONESHOT/EV_CLEAR/EV_DISPATCH/EV_RECEIPT (or raw flag words) on
// two pipes, two socketpairs, two EVFILT_USER idents and descriptor numbers that are not open,
// mixed with writes, reads, shutdown(SHUT_WR), close() of one end (the peer then sees EOF, or
// EPOLLERR for a pipe writer), re-creation of a closed pair (which takes the lowest free numbers,
// so descriptor numbers are reused) and bare polls. The model predicts every change's
// error (EBADF, ENOENT, EINVAL, EV_RECEIPT entries, the stop when the eventlist is full) and,
// after each zero-timeout kevent(), which events may and which must be returned:
// - an fd READ knote only while data is pending or EOF is set, with data = bytes pending;
// - WRITE only on a writable end (buffers are kept far from full), with EV_EOF once both
//   directions of a socket are shut;
// - level-triggered knotes are reported on every call while ready; EV_CLEAR ones (edge-triggered
//   when every enabled knote of the fd has EV_CLEAR, see the doc) at least once after new data
//   or a change to the fd, and otherwise only while ready;
// - EV_ONESHOT knotes are gone and EV_DISPATCH ones disabled after being returned; disabled ones
//   are never returned; udata is the one of the last change;
// - EVFILT_USER follows NOTE_TRIGGER and the NOTE_FF* fflags operations exactly;
// - close(): knotes of a closed fd are never reported; EV_ADD on the number gives EBADF while it is
//   closed and a fresh knote once it is reused; other actions EBADF while closed, ENOENT once
//   reused. Except (doc/kqueue-linux.md) when every knote of the fd was disabled at close(): then
//   nothing noticed the close, and the knotes apply to whatever file later gets the number.
// - EVFILT_VNODE on three descriptors of two temp files (two share an inode), with pwrite()s in
//   place (NOTE_WRITE), appends (NOTE_WRITE | NOTE_EXTEND) and fchmod() (NOTE_ATTRIB) between
//   calls: fflags is exactly the notes asked for and seen since the last report (any change but
//   EV_DELETE replaces the set asked for; notes already seen stay), a knote without EV_CLEAR
//   is reported on every call; EV_ADD on a pipe or socket is EINVAL, on a closed number EBADF.
// "Must" is only checked when the eventlist has room for every knote.
// EVFILT_PROC stays out: it needs fork(), which under libFuzzer (its threads, ASan's shadow
// memory) is slow and leaves the exit's timing to the scheduler, while the model predicts each
// zero-timeout call exactly; test/kqueue/test-kqueue-proc.cpp covers it.
#include "fuzz-check.hpp"

#include <sys/event.h>

#include <fuzzer/FuzzedDataProvider.h>

#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <map>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace {

constexpr int n_ends = 8; // pipe0 r,w; pipe1 r,w; sock0 a,b; sock1 a,b
constexpr std::size_t max_pending = 1024; // bytes unread per end: far below any buffer limit
constexpr int max_writes = 16;            // unread writes per end (AF_UNIX counts skbs)
constexpr uintptr_t n_users = 2;
constexpr int n_file_fds = 3; // file 0 twice (one inode, two knotes), file 1 once
constexpr int file_of[n_file_fds] = {0, 0, 1};
constexpr unsigned vnode_notes = NOTE_DELETE | NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB | NOTE_LINK |
				 NOTE_RENAME | NOTE_REVOKE | NOTE_OPEN | NOTE_CLOSE |
				 NOTE_CLOSE_WRITE | NOTE_READ;

enum class Kind { pipe_r, pipe_w, sock };

struct End {
	int fd = -1;    // -1 once closed
	int number = -1; // the descriptor number it had (kept after close, to aim changes at it)
	Kind kind = Kind::sock;
	int peer = -1;           // the other end of the pair
	std::size_t pending = 0; // bytes readable at this end (a pipe's bytes: at the read end)
	int writes = 0;          // unread write() calls that delivered here
	bool shut_wr = false;    // this end did shutdown(SHUT_WR)
};

struct Knote {
	bool enabled = true;
	unsigned short sticky = 0; // ONESHOT | CLEAR | DISPATCH | RECEIPT, fixed at EV_ADD
	void *udata = nullptr;
	bool edge = true; // something happened that an edge-triggered knote must report
	// EVFILT_VNODE: the notes asked for, and those seen and not yet reported
	unsigned asked = 0;
	unsigned fired = 0;
	// EVFILT_USER
	bool triggered = false;
	unsigned fflags = 0;
	int64_t data = 0;
};

using Key = std::pair<uintptr_t, short>; // ident, filter

// FUZZ_TRACE=1 in the environment prints the program as it runs (to read a crash input).
bool tracing()
{
	static const bool on = std::getenv("FUZZ_TRACE") != nullptr;
	return on;
}
#define TRACE(...)                                           \
	do {                                                 \
		if (tracing())                               \
			std::fprintf(stderr, __VA_ARGS__);   \
	} while (0)

struct World {
	int kq = -1;
	End ends[n_ends];
	std::vector<uintptr_t> closed_idents; // never open during the run
	std::map<Key, Knote> knotes;
	int fuzz_errors = 0;
	int file_fds[n_file_fds] = {-1, -1, -1};
	off_t file_size[2] = {0, 0};
	bool file_mode_flip[2] = {false, false};

	bool is_file(uintptr_t ident) const
	{
		for (int fd : file_fds)
			if (fd >= 0 && static_cast<uintptr_t>(fd) == ident)
				return true;
		return false;
	}
	// A change to file f: every VNODE knote on a descriptor of it notes what it asked for.
	void file_changed(int f, unsigned notes)
	{
		for (int j = 0; j < n_file_fds; j++) {
			if (file_of[j] != f)
				continue;
			auto it = knotes.find({static_cast<uintptr_t>(file_fds[j]), EVFILT_VNODE});
			if (it != knotes.end())
				it->second.fired |= notes & it->second.asked;
		}
	}

	int end_of(uintptr_t ident) const
	{
		for (int i = 0; i < n_ends; i++)
			if (ends[i].fd >= 0 && static_cast<uintptr_t>(ends[i].fd) == ident)
				return i;
		return -1;
	}
	bool peer_gone(const End &e) const { return ends[e.peer].fd < 0; }

	// What epoll would say for an end: READ ready / EOF, WRITE ready / EOF.
	bool read_ready(const End &e) const
	{
		switch (e.kind) {
		case Kind::pipe_r: return e.pending > 0 || peer_gone(e); // EPOLLHUP: no writer
		case Kind::pipe_w: return peer_gone(e);                  // EPOLLERR: no reader
		default: return e.pending > 0 || read_eof(e);
		}
	}
	bool read_eof(const End &e) const
	{
		if (e.kind == Kind::pipe_w)
			return true; // only ever reported with EPOLLERR
		return peer_gone(e) || (e.kind == Kind::sock && ends[e.peer].shut_wr);
	}
	int64_t read_data(const End &e) const
	{
		return static_cast<int64_t>(e.kind == Kind::pipe_w ? ends[e.peer].pending : e.pending);
	}
	bool write_ready(const End &e) const { return e.kind != Kind::pipe_r || peer_gone(e); }
	bool write_eof(const End &e) const
	{
		if (e.kind == Kind::pipe_r)
			return true; // only ever reported with EPOLLHUP
		return peer_gone(e) || (e.kind == Kind::sock && e.shut_wr && ends[e.peer].shut_wr);
	}

	bool ready(const Key &k, const Knote &kn) const
	{
		if (k.second == EVFILT_USER)
			return kn.triggered;
		if (k.second == EVFILT_VNODE)
			return kn.fired != 0;
		int i = end_of(k.first);
		if (i < 0)
			return false;
		return k.second == EVFILT_READ ? read_ready(ends[i]) : write_ready(ends[i]);
	}
	bool any_enabled(uintptr_t ident) const
	{
		for (short f : {EVFILT_READ, EVFILT_WRITE}) {
			auto it = knotes.find({ident, f});
			if (it != knotes.end() && it->second.enabled)
				return true;
		}
		return false;
	}
	void erase_fd(uintptr_t ident)
	{
		knotes.erase({ident, EVFILT_READ});
		knotes.erase({ident, EVFILT_WRITE});
	}
	// Edge-triggered: an fd whose enabled knotes all have EV_CLEAR.
	bool edge_triggered(uintptr_t ident) const
	{
		bool any = false;
		for (short f : {EVFILT_READ, EVFILT_WRITE}) {
			auto it = knotes.find({ident, f});
			if (it == knotes.end() || !it->second.enabled)
				continue;
			any = true;
			if ((it->second.sticky & EV_CLEAR) == 0)
				return false;
		}
		return any;
	}
	void touch_fd(uintptr_t ident) // an epoll_ctl on the fd re-arms an edge-triggered one
	{
		for (short f : {EVFILT_READ, EVFILT_WRITE}) {
			auto it = knotes.find({ident, f});
			if (it != knotes.end())
				it->second.edge = true;
		}
	}
};

// Makes pair k (ends 2k, 2k+1) a new pipe or socketpair.
bool open_pair(World &w, int k, bool pipe)
{
	int fds[2];
	if (pipe ? pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0
		 : socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0)
		return false;
	for (int j = 0; j < 2; j++) {
		End &e = w.ends[2 * k + j];
		e = End{};
		e.fd = e.number = fds[j];
		e.kind = pipe ? (j == 0 ? Kind::pipe_r : Kind::pipe_w) : Kind::sock;
		e.peer = 2 * k + 1 - j;
	}
	return true;
}

bool open_ends(World &w)
{
	for (int k = 0; k < n_ends / 2; k++)
		if (!open_pair(w, k, k < 2))
			return false;
	// Numbers that are never open here: far above anything open, and beyond INT_MAX (EBADF
	// without a lookup).
	w.closed_idents = {4093, 1000000, static_cast<uintptr_t>(INT_MAX),
			   static_cast<uintptr_t>(INT_MAX) + 1, UINTPTR_MAX};
	return true;
}

// Two files in a directory made once per process, emptied to one byte for each input before
// the kqueue watches them (so no stale inotify event reaches the new kqueue).
bool open_files(World &w)
{
	static std::string dir;
	if (dir.empty()) {
		const char *base = std::getenv("TMPDIR");
		std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
				   "/fuzz-kqueue-XXXXXX";
		if (mkdtemp(tmpl.data()) == nullptr)
			return false;
		dir = tmpl;
	}
	for (int j = 0; j < n_file_fds; j++) {
		std::string path = dir + (file_of[j] == 0 ? "/a" : "/b");
		w.file_fds[j] = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (w.file_fds[j] < 0)
			return false;
	}
	for (int f = 0; f < 2; f++) {
		int fd = w.file_fds[f == 0 ? 0 : 2];
		if (ftruncate(fd, 1) != 0 || fchmod(fd, 0600) != 0)
			return false;
		w.file_size[f] = 1;
	}
	return true;
}

void close_all(World &w)
{
	for (int fd : w.file_fds)
		if (fd >= 0)
			close(fd);
	for (End &e : w.ends)
		if (e.fd >= 0)
			close(e.fd);
	if (w.kq >= 0)
		close(w.kq);
}

uintptr_t pick_ident(FuzzedDataProvider &in, World &w, short filter)
{
	if (filter == EVFILT_USER)
		return in.ConsumeIntegralInRange<uintptr_t>(1, n_users);
	if (filter == EVFILT_VNODE) {
		unsigned v = in.ConsumeIntegralInRange<unsigned>(0, n_file_fds + 1);
		if (v < n_file_fds)
			return static_cast<uintptr_t>(w.file_fds[v]);
		if (v == n_file_fds) // a pipe or socket end (maybe closed)
			return static_cast<uintptr_t>(
				w.ends[in.ConsumeIntegralInRange<int>(0, n_ends - 1)].number);
	}
	unsigned c = in.ConsumeIntegralInRange<unsigned>(0, n_ends + 1);
	if (c < n_ends)
		return static_cast<uintptr_t>(w.ends[c].number);
	return w.closed_idents[in.ConsumeIntegralInRange<std::size_t>(0, w.closed_idents.size() - 1)];
}

unsigned short pick_flags(FuzzedDataProvider &in)
{
	if (in.ConsumeIntegralInRange<int>(0, 15) == 0)
		return in.ConsumeIntegral<unsigned short>(); // anything, sysflags included
	static const unsigned short actions[] = {EV_ADD, EV_DELETE, EV_ENABLE, EV_DISABLE,
						 EV_ADD | EV_DISABLE, EV_ADD | EV_ENABLE, EV_ADD};
	unsigned short f = actions[in.ConsumeIntegralInRange<std::size_t>(0, 6)];
	auto opts = in.ConsumeIntegral<uint8_t>();
	if (opts & 1)
		f |= EV_ONESHOT;
	if (opts & 2)
		f |= EV_CLEAR;
	if (opts & 4)
		f |= EV_DISPATCH;
	if ((opts & 0x18) == 0x18)
		f |= EV_RECEIPT;
	return f;
}

// The files are never closed, so their knotes never go stale here (test/kqueue covers that).
int model_vnode_change(World &w, const struct kevent &kev, unsigned short f)
{
	if (kev.ident > static_cast<uintptr_t>(INT_MAX))
		return EBADF;
	bool file = w.is_file(kev.ident);
	bool open = file || w.end_of(kev.ident) >= 0;
	Key key{kev.ident, EVFILT_VNODE};
	auto it = w.knotes.find(key);
	if (it == w.knotes.end()) {
		if ((f & EV_ADD) == 0)
			return open ? ENOENT : EBADF;
		if (!file)
			return open ? EINVAL : EBADF;
		Knote kn;
		kn.enabled = (f & EV_DISABLE) == 0;
		kn.sticky = f & (EV_ONESHOT | EV_CLEAR | EV_DISPATCH | EV_RECEIPT);
		kn.udata = kev.udata;
		kn.asked = kev.fflags;
		w.knotes[key] = kn;
		return 0;
	}
	if (f & EV_DELETE) {
		w.knotes.erase(it);
		return 0;
	}
	Knote &kn = it->second;
	if (f & EV_ENABLE)
		kn.enabled = true;
	else if (f & EV_DISABLE)
		kn.enabled = false;
	kn.udata = kev.udata;
	kn.asked = kev.fflags;
	return 0;
}

// One change, applied to the model; returns the errno kevent() must report for it.
int model_change(World &w, const struct kevent &kev)
{
	unsigned short f = kev.flags & static_cast<unsigned short>(~EV_SYSFLAGS);
	if ((f & (EV_ENABLE | EV_DISABLE)) == (EV_ENABLE | EV_DISABLE))
		return EINVAL;
	if (f & EV_FORCEONESHOT)
		return EINVAL;
	bool fd_filter = kev.filter == EVFILT_READ || kev.filter == EVFILT_WRITE;
	if (kev.filter == EVFILT_VNODE)
		return model_vnode_change(w, kev, f);
	if (!fd_filter && kev.filter != EVFILT_USER)
		return EINVAL;
	bool open = !fd_filter || w.end_of(kev.ident) >= 0;
	if (fd_filter && kev.ident > static_cast<uintptr_t>(INT_MAX))
		return EBADF;
	Key key{kev.ident, kev.filter};
	auto it = w.knotes.find(key);
	if (it == w.knotes.end()) {
		if ((f & EV_ADD) == 0)
			return open ? ENOENT : EBADF;
		if (!open) {
			// The failed registration tells the emulation the number is closed: it drops
			// what it had kept for the fd (the other filter's knote, if all were disabled).
			w.erase_fd(kev.ident);
			return EBADF;
		}
		Knote kn;
		kn.enabled = (f & EV_DISABLE) == 0;
		kn.sticky = f & (EV_ONESHOT | EV_CLEAR | EV_DISPATCH | EV_RECEIPT);
		kn.udata = kev.udata;
		if (kev.filter == EVFILT_USER) {
			unsigned bits = kev.fflags & NOTE_FFLAGSMASK;
			unsigned op = kev.fflags & NOTE_FFCTRLMASK;
			kn.fflags = op == NOTE_FFAND ? 0 : bits;
			kn.data = kev.data;
			kn.triggered = (kev.fflags & NOTE_TRIGGER) != 0;
		}
		w.knotes[key] = kn;
		if (fd_filter)
			w.touch_fd(kev.ident);
		return 0;
	}
	if (fd_filter && !open) {
		// A knote left on a closed number (all disabled at close): the attempt finds the
		// number closed and drops both knotes of the fd.
		w.erase_fd(kev.ident);
		return EBADF;
	}
	if (f & EV_DELETE) {
		w.knotes.erase(it);
		if (fd_filter)
			w.touch_fd(kev.ident);
		return 0;
	}
	Knote &kn = it->second;
	if (f & EV_ENABLE)
		kn.enabled = true;
	else if (f & EV_DISABLE)
		kn.enabled = false;
	kn.udata = kev.udata;
	if (kev.filter == EVFILT_USER) {
		unsigned bits = kev.fflags & NOTE_FFLAGSMASK;
		switch (kev.fflags & NOTE_FFCTRLMASK) {
		case NOTE_FFAND:
			kn.fflags &= bits;
			break;
		case NOTE_FFOR:
			kn.fflags |= bits;
			break;
		case NOTE_FFCOPY:
			kn.fflags = bits;
			break;
		default:
			break;
		}
		kn.data = kev.data;
		if (kev.fflags & NOTE_TRIGGER)
			kn.triggered = true;
	} else {
		w.touch_fd(kev.ident);
	}
	return 0;
}

// Checks one event returned by a scan and applies its effect (ONESHOT, DISPATCH, CLEAR).
void model_event(World &w, const struct kevent &ev)
{
	Key key{ev.ident, ev.filter};
	auto it = w.knotes.find(key);
	FUZZ_CHECK(it != w.knotes.end()); // only registered knotes
	Knote &kn = it->second;
	FUZZ_CHECK(kn.enabled);
	FUZZ_CHECK(w.ready(key, kn));
	FUZZ_CHECK(ev.udata == kn.udata);
	if (ev.filter == EVFILT_USER) {
		FUZZ_CHECK(ev.flags == kn.sticky);
		FUZZ_CHECK(ev.fflags == kn.fflags);
		FUZZ_CHECK(ev.data == kn.data);
		if (kn.sticky & EV_CLEAR)
			kn.triggered = false;
	} else if (ev.filter == EVFILT_VNODE) {
		FUZZ_CHECK(ev.flags == kn.sticky);
		if (ev.fflags != kn.fired)
			std::fprintf(stderr, "vnode ident %lu: fflags %#x, model %#x\n",
				     static_cast<unsigned long>(ev.ident), ev.fflags, kn.fired);
		FUZZ_CHECK(ev.fflags == kn.fired);
		FUZZ_CHECK(ev.data == 0);
		if (kn.sticky & EV_CLEAR)
			kn.fired = 0;
	} else {
		const End &e = w.ends[w.end_of(ev.ident)];
		bool eof = ev.filter == EVFILT_READ ? w.read_eof(e) : w.write_eof(e);
		FUZZ_CHECK(ev.flags == (kn.sticky | (eof ? EV_EOF : 0)));
		FUZZ_CHECK(ev.fflags == 0);
		if (ev.filter == EVFILT_READ)
			FUZZ_CHECK(ev.data == w.read_data(e));
		else
			FUZZ_CHECK(ev.data > 0);
	}
	kn.edge = false;
	bool fd_filter = ev.filter == EVFILT_READ || ev.filter == EVFILT_WRITE;
	if (kn.sticky & EV_ONESHOT) {
		w.knotes.erase(it);
		if (fd_filter)
			w.touch_fd(ev.ident);
	} else if (kn.sticky & EV_DISPATCH) {
		kn.enabled = false;
		if (fd_filter)
			w.touch_fd(ev.ident);
	}
}

void scan_and_check(World &w, struct kevent *events, int nevents, int got)
{
	std::map<Key, Knote> before = w.knotes;
	// ET-ness is judged on the knotes as they were when the scan began.
	std::map<uintptr_t, bool> et;
	for (const auto &[key, kn] : before)
		if (key.second == EVFILT_READ || key.second == EVFILT_WRITE)
			et[key.first] = w.edge_triggered(key.first);
	FUZZ_CHECK(got >= 0 && got <= nevents);
	std::vector<Key> seen;
	for (int i = 0; i < got; i++) {
		Key key{events[i].ident, events[i].filter};
		TRACE("  event ident %lu filter %d flags %#x fflags %#x data %ld udata %p\n",
		      static_cast<unsigned long>(key.first), key.second, events[i].flags,
		      events[i].fflags, static_cast<long>(events[i].data), events[i].udata);
		for (const Key &k : seen)
			FUZZ_CHECK(!(k == key)); // once per call
		seen.push_back(key);
		model_event(w, events[i]);
	}
	if (nevents >= static_cast<int>(before.size()) && nevents > 0) {
		for (const auto &[key, kn] : before) {
			if (!kn.enabled || !w.ready(key, kn))
				continue;
			bool soft = key.second == EVFILT_USER || key.second == EVFILT_VNODE;
			bool must = soft || !et[key.first] || kn.edge;
			if (!must)
				continue;
			bool found = false;
			for (const Key &k : seen)
				found = found || k == key;
			if (!found)
				std::fprintf(stderr, "missing event: ident %lu filter %d (flags %#x, %s)\n",
					     static_cast<unsigned long>(key.first), key.second, kn.sticky,
					     et[key.first] ? "edge" : "level");
			FUZZ_CHECK(found);
		}
	}
}

void do_kevent(FuzzedDataProvider &in, World &w)
{
	int nchanges = in.ConsumeIntegralInRange<int>(0, 4);
	struct kevent changes[4];
	for (int i = 0; i < nchanges; i++) {
		short filter;
		switch (in.ConsumeIntegralInRange<int>(0, 8)) {
		case 0: case 1: case 2: filter = EVFILT_READ; break;
		case 3: case 4: case 5: filter = EVFILT_WRITE; break;
		case 6: filter = EVFILT_USER; break;
		case 7: filter = EVFILT_VNODE; break;
		default: filter = in.ConsumeBool() ? 0 : EVFILT_AIO; break;
		}
		uintptr_t ident = pick_ident(in, w, filter);
		unsigned short flags = pick_flags(in);
		unsigned fflags = 0;
		if (filter == EVFILT_USER)
			fflags = in.ConsumeIntegral<unsigned>();
		else if (filter == EVFILT_VNODE)
			fflags = in.ConsumeIntegral<unsigned>() & vnode_notes;
		int64_t data = in.ConsumeIntegralInRange<int64_t>(-2, 2);
		void *udata = reinterpret_cast<void *>(static_cast<uintptr_t>(in.ConsumeIntegral<uint8_t>()));
		EV_SET(&changes[i], ident, filter, flags, fflags, data, udata);
	}
	static const int sizes[] = {64, 64, 64, 0, 1, 2, 3};
	int nevents = sizes[in.ConsumeIntegralInRange<std::size_t>(0, 6)];
	struct kevent events[64];
	struct timespec zero {};

	// The model's view of the changelist pass.
	int expect_n = 0;
	int expect_errno = 0;
	bool stopped = false;
	struct kevent expect_entries[64];
	for (int i = 0; i < nchanges; i++) {
		if (changes[i].filter == 0)
			continue;
		int err = model_change(w, changes[i]);
		unsigned short f = changes[i].flags & static_cast<unsigned short>(~EV_SYSFLAGS);
		if (err == 0 && (f & EV_RECEIPT) == 0)
			continue;
		if (expect_n >= nevents) {
			stopped = true;
			expect_errno = err;
			break;
		}
		expect_entries[expect_n] = changes[i];
		expect_entries[expect_n].data = err;
		expect_n++;
	}

	for (int i = 0; i < nchanges; i++)
		TRACE("  change ident %lu filter %d flags %#x fflags %#x data %ld udata %p\n",
		      static_cast<unsigned long>(changes[i].ident), changes[i].filter, changes[i].flags,
		      changes[i].fflags, static_cast<long>(changes[i].data), changes[i].udata);
	errno = 0;
	int r = kevent(w.kq, changes, nchanges, events, nevents, &zero);
	TRACE("kevent(%d changes, nevents %d) = %d errno %d\n", nchanges, nevents, r, r < 0 ? errno : 0);
	if (stopped && expect_errno != 0) {
		FUZZ_CHECK(r == -1);
		FUZZ_CHECK(errno == expect_errno);
		return;
	}
	if (stopped || expect_n > 0 || nevents == 0) {
		if (r != expect_n)
			std::fprintf(stderr, "kevent returned %d (errno %d), model %d\n", r, errno, expect_n);
		FUZZ_CHECK(r == expect_n);
		for (int i = 0; i < expect_n; i++) {
			TRACE("  entry ident %lu filter %d flags %#x data %ld\n",
			      static_cast<unsigned long>(events[i].ident), events[i].filter, events[i].flags,
			      static_cast<long>(events[i].data));
			FUZZ_CHECK(events[i].ident == expect_entries[i].ident);
			FUZZ_CHECK(events[i].filter == expect_entries[i].filter);
			FUZZ_CHECK(events[i].flags == EV_ERROR);
			if (events[i].data != expect_entries[i].data)
				std::fprintf(stderr, "change %d: errno %ld, model %ld\n", i,
					     static_cast<long>(events[i].data),
					     static_cast<long>(expect_entries[i].data));
			FUZZ_CHECK(events[i].data == expect_entries[i].data);
		}
		return;
	}
	scan_and_check(w, events, nevents, r);
}

void do_poll(FuzzedDataProvider &in, World &w)
{
	static const int sizes[] = {64, 64, 1, 2};
	int nevents = sizes[in.ConsumeIntegralInRange<std::size_t>(0, 3)];
	struct kevent events[64];
	struct timespec zero {};
	int r = kevent(w.kq, nullptr, 0, events, nevents, &zero);
	TRACE("poll(nevents %d) = %d\n", nevents, r);
	scan_and_check(w, events, nevents, r);
}

void do_write(FuzzedDataProvider &in, World &w)
{
	int i = in.ConsumeIntegralInRange<int>(0, n_ends - 1);
	End &e = w.ends[i];
	if (e.fd < 0 || e.kind == Kind::pipe_r || e.shut_wr || w.peer_gone(e))
		return; // nothing to write with, or EPIPE
	End &dst = w.ends[e.peer];
	std::size_t n = in.ConsumeIntegralInRange<std::size_t>(1, 64);
	if (dst.pending + n > max_pending || dst.writes >= max_writes)
		return;
	char buf[64] = {};
	ssize_t r = write(e.fd, buf, n);
	TRACE("write(%d, %zu) = %zd\n", e.fd, n, r);
	FUZZ_CHECK(r == static_cast<ssize_t>(n));
	dst.pending += n;
	dst.writes++;
	// New data is an edge for dst's READ knote.
	auto it = w.knotes.find({static_cast<uintptr_t>(dst.fd), EVFILT_READ});
	if (it != w.knotes.end())
		it->second.edge = true;
}

// A write through one of the file descriptors: in place, or an append.
void do_file_write(FuzzedDataProvider &in, World &w)
{
	int j = in.ConsumeIntegralInRange<int>(0, n_file_fds - 1);
	int f = file_of[j];
	bool append = in.ConsumeBool() && w.file_size[f] < 4096;
	std::size_t n = in.ConsumeIntegralInRange<std::size_t>(1, 16);
	char buf[16] = {};
	off_t at = append ? w.file_size[f] : 0;
	if (!append && static_cast<off_t>(n) > w.file_size[f])
		n = static_cast<std::size_t>(w.file_size[f]);
	ssize_t r = pwrite(w.file_fds[j], buf, n, at);
	TRACE("pwrite(%d, %zu, %ld) = %zd\n", w.file_fds[j], n, static_cast<long>(at), r);
	FUZZ_CHECK(r == static_cast<ssize_t>(n));
	if (append)
		w.file_size[f] += static_cast<off_t>(n);
	w.file_changed(f, NOTE_WRITE | (append ? NOTE_EXTEND : 0));
}

void do_file_chmod(FuzzedDataProvider &in, World &w)
{
	int j = in.ConsumeIntegralInRange<int>(0, n_file_fds - 1);
	int f = file_of[j];
	w.file_mode_flip[f] = !w.file_mode_flip[f];
	int r = fchmod(w.file_fds[j], w.file_mode_flip[f] ? 0640 : 0600);
	TRACE("fchmod(%d) = %d\n", w.file_fds[j], r);
	FUZZ_CHECK(r == 0);
	w.file_changed(f, NOTE_ATTRIB);
}

void do_read(FuzzedDataProvider &in, World &w)
{
	int i = in.ConsumeIntegralInRange<int>(0, n_ends - 1);
	End &e = w.ends[i];
	if (e.fd < 0 || e.kind == Kind::pipe_w)
		return;
	std::size_t n = in.ConsumeIntegralInRange<std::size_t>(1, max_pending);
	char buf[max_pending];
	ssize_t r = read(e.fd, buf, n);
	TRACE("read(%d, %zu) = %zd\n", e.fd, n, r);
	if (e.pending == 0) {
		FUZZ_CHECK(r <= 0);
		return;
	}
	std::size_t want = n < e.pending ? n : e.pending;
	// A stream socket's read may stop at a write boundary; a pipe's does not.
	FUZZ_CHECK(r > 0 && static_cast<std::size_t>(r) <= want);
	if (e.kind == Kind::pipe_r)
		FUZZ_CHECK(static_cast<std::size_t>(r) == want);
	e.pending -= static_cast<std::size_t>(r);
	if (e.pending == 0)
		e.writes = 0;
}

void do_shutdown(FuzzedDataProvider &in, World &w)
{
	int i = in.ConsumeIntegralInRange<int>(0, n_ends - 1);
	End &e = w.ends[i];
	if (e.fd < 0 || e.kind != Kind::sock || e.shut_wr)
		return;
	TRACE("shutdown(%d)\n", e.fd);
	FUZZ_CHECK(shutdown(e.fd, SHUT_WR) == 0);
	e.shut_wr = true;
	// EOF is an edge for the peer's READ and, if that makes a full hang-up, for both WRITEs.
	w.touch_fd(static_cast<uintptr_t>(e.fd));
	if (!w.peer_gone(e))
		w.touch_fd(static_cast<uintptr_t>(w.ends[e.peer].fd));
}

void do_close(FuzzedDataProvider &in, World &w)
{
	int i = in.ConsumeIntegralInRange<int>(0, n_ends - 1);
	End &e = w.ends[i];
	// A socket closed with unread data gives its peer ECONNRESET (a different story): not here.
	if (e.fd < 0 || (e.kind == Kind::sock && e.pending > 0))
		return;
	auto number = static_cast<uintptr_t>(e.fd);
	TRACE("close(%d)%s\n", e.fd, w.any_enabled(number) ? "" : " with no knote enabled");
	FUZZ_CHECK(close(e.fd) == 0);
	e.fd = -1;
	e.writes = 0;
	// FreeBSD drops the knotes; so does the emulation in effect, as far as anyone can tell,
	// unless every knote was disabled (see the top).
	if (w.any_enabled(number))
		w.erase_fd(number);
	if (!w.peer_gone(e))
		w.touch_fd(static_cast<uintptr_t>(w.ends[e.peer].fd)); // the peer's EOF/ERR edge
}

void do_reopen(FuzzedDataProvider &in, World &w)
{
	int k = in.ConsumeIntegralInRange<int>(0, n_ends / 2 - 1);
	bool pipe = in.ConsumeBool();
	if (w.ends[2 * k].fd >= 0 || w.ends[2 * k + 1].fd >= 0)
		return;
	FUZZ_CHECK(open_pair(w, k, pipe));
	TRACE("%s() = %d, %d\n", pipe ? "pipe" : "socketpair", w.ends[2 * k].fd, w.ends[2 * k + 1].fd);
	for (int j = 0; j < 2; j++)
		w.touch_fd(static_cast<uintptr_t>(w.ends[2 * k + j].fd));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	static bool once = (signal(SIGPIPE, SIG_IGN), true); // a write to a closed pipe: EPIPE
	(void)once;
	FuzzedDataProvider in(data, size);
	World w;
	w.kq = kqueue();
	FUZZ_CHECK(w.kq >= 0);
	FUZZ_CHECK(open_ends(w));
	FUZZ_CHECK(open_files(w));
	// The kqueue's inotify descriptor comes with its first vnode knote: made now, it cannot take
	// the number of an end closed later in the run, which the model holds to be closed.
	struct kevent warm[2];
	EV_SET(&warm[0], static_cast<uintptr_t>(w.file_fds[0]), EVFILT_VNODE, EV_ADD, NOTE_WRITE, 0, nullptr);
	EV_SET(&warm[1], static_cast<uintptr_t>(w.file_fds[0]), EVFILT_VNODE, EV_DELETE, 0, 0, nullptr);
	FUZZ_CHECK(kevent(w.kq, warm, 2, nullptr, 0, nullptr) == 0);
	for (int k = 0; k < n_ends / 2; k++)
		TRACE("%s() = %d, %d\n", k < 2 ? "pipe" : "socketpair", w.ends[2 * k].fd, w.ends[2 * k + 1].fd);
	for (int steps = 0; steps < 64 && in.remaining_bytes() > 0; steps++) {
		switch (in.ConsumeIntegralInRange<int>(0, 11)) {
		case 0: case 1: case 2: do_kevent(in, w); break;
		case 3: do_write(in, w); break;
		case 4: do_read(in, w); break;
		case 5: do_shutdown(in, w); break;
		case 6: do_close(in, w); break;
		case 7: do_reopen(in, w); break;
		case 8: do_file_write(in, w); break;
		case 9: do_file_chmod(in, w); break;
		default: do_poll(in, w); break;
		}
	}
	close_all(w);
	return 0;
}
