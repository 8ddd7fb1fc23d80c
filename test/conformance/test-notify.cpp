// File-change watches (semantic 14): io_add_notify on whichever backend is compiled in
// (inotify, kqueue or stat polling). Every wait is a bounded run_until; "no further call" is
// checked after letting the loop run for longer than a polling backend needs to see a change.
#include "c-api-scenarios.h"
#include "fixtures.hpp"

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <vector>
#if defined(__linux__)
#include <sched.h>
#endif

using namespace fixtures;
using iol::Notify;
using iol::NotifyResult;

namespace {

// The kqueue emulation before it has EVFILT_VNODE: adding a watch is refused with EINVAL.
bool vnode_missing(NotifyResult r)
{
	return r == NotifyResult::not_supported && errno == EINVAL &&
	       std::string(io_loop_get_notify_backend()) == "kqueue";
}
constexpr const char *no_vnode = "this kqueue has no EVFILT_VNODE: io_add_notify says NOSUPPORT (EINVAL)";

// Long enough for any backend to have seen a change: a polling one twice over.
ms settle_time()
{
	return ms(200 + 3 * io_loop_get_notify_poll_msecs());
}
ms change_deadline()
{
	return ms(5000 + 3 * io_loop_get_notify_poll_msecs());
}

struct TempDir {
	std::string path;
	TempDir()
	{
		const char *tmp = std::getenv("TMPDIR");
		std::string templ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/notify-XXXXXX";
		std::vector<char> buf(templ.begin(), templ.end());
		buf.push_back('\0');
		if (mkdtemp(buf.data()) == nullptr)
			throw std::runtime_error("mkdtemp");
		path = buf.data();
	}
	~TempDir()
	{
		std::string cmd = "chmod -R u+rwx '" + path + "' 2>/dev/null; rm -rf '" + path + "'";
		int ignored = std::system(cmd.c_str());
		(void)ignored;
	}
	std::string operator/(const char *name) const { return path + "/" + name; }
};

void append(const std::string &path, const char *data = "x")
{
	Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
	if (fd < 0)
		throw std::runtime_error("open " + path);
	put(fd, data);
}

// Counts calls; waits for the next one with a generous deadline.
struct Watched {
	iol::IoLoop &loop;
	int calls = 0;
	Notify n;
	NotifyResult result = NotifyResult::not_supported;
	int err = 0;
	Watched(iol::IoLoop &l, const std::string &path) : loop(l)
	{
		result = loop.add_notify(path, n, [this] { calls++; });
		err = result == NotifyResult::added ? 0 : errno;
	}
	bool called_after(int before) { return run_until(loop, [&] { return calls > before; }, change_deadline()); }
};

// A forked check's exit code: 0 passed, 124 no VNODE on this build, 125 the child could not set
// itself up (why_not says how), anything else the failed step.
void check_child(int rc, const char *why_not)
{
	if (rc == 124)
		WARN("not checked on this build: " << no_vnode);
	else if (rc == 125)
		WARN("not checked: " << why_not);
	else
		CHECK(rc == 0);
}

// Runs the loop for settle_time(), returning the calls seen meanwhile.
int calls_while_settling(iol::IoLoop &loop, const int &calls)
{
	int before = calls;
	bool expired = false;
	iol::Timeout t = loop.add_oneshot(settle_time(), [&] { expired = true; });
	while (!expired)
		loop.run_once();
	return calls - before;
}

} // namespace

TEST_CASE("14. notify: a watched file that is written calls its watch", "[semantic14][notify]")
{
	iol::IoLoop loop;
	TempDir dir;
	append(dir / "f");
	Watched w(loop, dir / "f");
	if (vnode_missing(w.result)) {
		WARN("not checked on this build: " << no_vnode);
		return;
	}
	REQUIRE(w.result == NotifyResult::added);
	REQUIRE(w.n);
	// nothing changed: nothing is called
	CHECK(calls_while_settling(loop, w.calls) == 0);
	append(dir / "f", "more");
	CHECK(w.called_after(0));
	// an attribute change calls it too
	int before = w.calls;
	calls_while_settling(loop, w.calls);
	before = w.calls;
	REQUIRE(chmod((dir / "f").c_str(), 0600) == 0);
	CHECK(w.called_after(before));
}

TEST_CASE("14. notify: an entry created, renamed or removed in a watched directory", "[semantic14][notify]")
{
	iol::IoLoop loop;
	TempDir dir;
	Watched w(loop, dir.path);
	if (vnode_missing(w.result)) {
		WARN("not checked on this build: " << no_vnode);
		return;
	}
	REQUIRE(w.result == NotifyResult::added);
	append(dir / "new");
	CHECK(w.called_after(0));
	calls_while_settling(loop, w.calls);
	int before = w.calls;
	REQUIRE(std::rename((dir / "new").c_str(), (dir / "renamed").c_str()) == 0);
	CHECK(w.called_after(before));
	calls_while_settling(loop, w.calls);
	before = w.calls;
	REQUIRE(unlink((dir / "renamed").c_str()) == 0);
	CHECK(w.called_after(before));
	// the directory itself lives on, so its watch does too
	calls_while_settling(loop, w.calls);
	before = w.calls;
	append(dir / "again");
	CHECK(w.called_after(before));
}

TEST_CASE("14. notify: a missing path is NOTFOUND with ENOENT", "[semantic14][notify]")
{
	iol::IoLoop loop;
	TempDir dir;
	Notify n;
	errno = 0;
	CHECK(loop.add_notify(dir / "missing", n, [] {}) == NotifyResult::not_found);
	CHECK(errno == ENOENT);
	CHECK(!n);
	struct io *io = reinterpret_cast<struct io *>(&n); // any non-null value: must become NULL
	errno = 0;
	CHECK(io_add_notify_to(loop.c_loop(), (dir / "missing").c_str(), [](void *) {}, nullptr, &io) ==
	      IO_NOTIFY_NOTFOUND);
	CHECK(errno == ENOENT);
	CHECK(io == nullptr);
	// bad input: NOSUPPORT with EINVAL, never an abort
	errno = 0;
	CHECK(io_add_notify_to(loop.c_loop(), dir.path.c_str(), nullptr, nullptr, &io) == IO_NOTIFY_NOSUPPORT);
	CHECK(errno == EINVAL);
	CHECK(io == nullptr);
}

TEST_CASE("14. notify: many changes before the loop runs give one call", "[semantic14][notify]")
{
	iol::IoLoop loop;
	TempDir dir;
	append(dir / "f");
	Watched file(loop, dir / "f");
	Watched d(loop, dir.path);
	if (vnode_missing(file.result)) {
		WARN("not checked on this build: " << no_vnode);
		return;
	}
	REQUIRE(file.result == NotifyResult::added);
	REQUIRE(d.result == NotifyResult::added);
	for (int i = 0; i < 300; i++)
		append(dir / "f");
	REQUIRE(chmod((dir / "f").c_str(), 0600) == 0);
	for (int i = 0; i < 100; i++) {
		std::string name = dir / "e" + std::to_string(i);
		append(name);
		REQUIRE(unlink(name.c_str()) == 0);
	}
	CHECK(file.called_after(0));
	CHECK(run_until(loop, [&] { return d.calls > 0; }, change_deadline()));
	calls_while_settling(loop, file.calls);
	CHECK(file.calls == 1);
	CHECK(d.calls == 1);
	// and the watches go on
	append(dir / "f");
	CHECK(file.called_after(1));
}

TEST_CASE("14. notify: a callback may remove its own watch or another", "[semantic14][notify][semantic4]")
{
	iol::IoLoop loop;
	TempDir dir;
	append(dir / "a");
	append(dir / "b");
	SECTION("its own: never called again")
	{
		int calls = 0;
		Notify n;
		NotifyResult r = loop.add_notify(dir / "a", n, [&] {
			calls++;
			n.remove();
		});
		if (vnode_missing(r)) {
			WARN("not checked on this build: " << no_vnode);
			return;
		}
		REQUIRE(r == NotifyResult::added);
		append(dir / "a");
		CHECK(run_until(loop, [&] { return calls > 0; }, change_deadline()));
		CHECK(!n);
		append(dir / "a");
		calls_while_settling(loop, calls);
		CHECK(calls == 1);
	}
	SECTION("another, changed in the same iteration: it is not called")
	{
		int calls_a = 0, calls_b = 0;
		Notify a, b;
		NotifyResult r = loop.add_notify(dir / "a", a, [&] {
			calls_a++;
			b.remove();
		});
		if (vnode_missing(r)) {
			WARN("not checked on this build: " << no_vnode);
			return;
		}
		REQUIRE(r == NotifyResult::added);
		REQUIRE(loop.add_notify(dir / "b", b, [&] {
			calls_b++;
			a.remove();
		}) == NotifyResult::added);
		append(dir / "a");
		append(dir / "b");
		CHECK(run_until(loop, [&] { return calls_a + calls_b > 0; }, change_deadline()));
		calls_while_settling(loop, calls_a);
		CHECK(calls_a + calls_b == 1);
		// the survivor is still watching
		int before = calls_a + calls_b;
		append(dir / "a");
		append(dir / "b");
		CHECK(run_until(loop, [&] { return calls_a + calls_b > before; }, change_deadline()));
	}
}

TEST_CASE("14. notify: one path watched twice calls both; removing one keeps the other",
	  "[semantic14][notify]")
{
	iol::IoLoop loop;
	TempDir dir;
	append(dir / "f");
	Watched one(loop, dir / "f");
	Watched two(loop, dir / "f");
	if (vnode_missing(one.result)) {
		WARN("not checked on this build: " << no_vnode);
		return;
	}
	REQUIRE(one.result == NotifyResult::added);
	REQUIRE(two.result == NotifyResult::added);
	append(dir / "f");
	CHECK(run_until(loop, [&] { return one.calls > 0 && two.calls > 0; }, change_deadline()));
	calls_while_settling(loop, one.calls);
	CHECK(one.calls == 1);
	CHECK(two.calls == 1);
	one.n.remove();
	append(dir / "f");
	CHECK(two.called_after(1));
	CHECK(one.calls == 1);
	// a third added after the removal shares the path with the survivor
	Watched three(loop, dir / "f");
	REQUIRE(three.result == NotifyResult::added);
	calls_while_settling(loop, two.calls);
	int before = two.calls;
	append(dir / "f");
	CHECK(run_until(loop, [&] { return two.calls > before && three.calls > 0; }, change_deadline()));
}

TEST_CASE("14. notify: a deleted path calls once; the handle lives on; re-adding watches the new file",
	  "[semantic14][notify]")
{
	iol::IoLoop loop;
	TempDir dir;
	append(dir / "f");
	Watched w(loop, dir / "f");
	if (vnode_missing(w.result)) {
		WARN("not checked on this build: " << no_vnode);
		return;
	}
	REQUIRE(w.result == NotifyResult::added);
	REQUIRE(unlink((dir / "f").c_str()) == 0);
	CHECK(w.called_after(0));
	calls_while_settling(loop, w.calls);
	CHECK(w.calls == 1);
	CHECK(w.n); // still a handle
	// a new file at the path is not the watched one
	append(dir / "f");
	append(dir / "f", "more");
	calls_while_settling(loop, w.calls);
	CHECK(w.calls == 1);
	// the caller re-adds
	Watched again(loop, dir / "f");
	REQUIRE(again.result == NotifyResult::added);
	append(dir / "f", "and more");
	CHECK(again.called_after(0));
	CHECK(w.calls == 1);
	w.n.remove(); // removing the dead handle is still fine
}

namespace {

// Runs fn in a child process and returns its exit code (125: could not run there).
template <class F> int in_child(F fn)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(fn());
	int status = 0;
	if (wait_child(pid, status) != pid || !WIFEXITED(status))
		return 126;
	return WEXITSTATUS(status);
}

[[maybe_unused]] bool write_file(const char *path, const std::string &s)
{
	Fd fd(::open(path, O_WRONLY | O_CLOEXEC));
	return fd >= 0 && ::write(fd, s.data(), s.size()) == static_cast<ssize_t>(s.size());
}

} // namespace

TEST_CASE("14. notify: a directory without permission is NOSUPPORT with EACCES", "[semantic14][notify]")
{
	TempDir dir;
	REQUIRE(mkdir((dir / "closed").c_str(), 0700) == 0);
	append(dir / "closed/f");
	REQUIRE(mkdir((dir / "open").c_str(), 0700) == 0);
	// Root reads anything; a child that is nobody does not.
	if (geteuid() == 0)
		REQUIRE(chmod(dir.path.c_str(), 0755) == 0);
	int rc = in_child([&] {
		if (geteuid() == 0) {
			if (setgid(65534) < 0 || setuid(65534) < 0)
				return 125;
		} else if (chmod((dir / "closed").c_str(), 0) < 0) {
			return 20;
		}
		iol::IoLoop loop;
		Notify n;
		if (vnode_missing(loop.add_notify(dir.path, n, [] {})))
			return 124;
		errno = 0;
		NotifyResult r = loop.add_notify(dir / "closed", n, [] {});
		if (r != NotifyResult::not_supported || errno != EACCES || n)
			return 1;
		errno = 0;
		r = loop.add_notify(dir / "closed/f", n, [] {});
		if (r != NotifyResult::not_supported || errno != EACCES || n)
			return 2;
		return 0;
	});
	check_child(rc, "root could not become nobody to lose the permission");
}

TEST_CASE("14. notify: past the kernel's limit, NOSUPPORT with why, and the loop goes on",
	  "[semantic14][notify]")
{
	std::string backend = io_loop_get_notify_backend();
	if (backend == "stat") {
		WARN("not checked on this build: the stat backend has no limit but memory");
		return;
	}
	TempDir dir;
	for (int i = 0; i < 8; i++)
		append(dir / ("f" + std::to_string(i)).c_str());
	int rc = in_child([&] {
		int expected = 0;
		if (backend == "inotify") {
#if defined(__linux__)
			// A user namespace of our own has its own max_inotify_watches: lowering it there
			// touches no other process.
			uid_t uid = geteuid();
			gid_t gid = getegid();
			if (unshare(CLONE_NEWUSER) < 0)
				return 125;
			write_file("/proc/self/setgroups", "deny");
			if (!write_file("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1\n") ||
			    !write_file("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1\n") ||
			    !write_file("/proc/sys/user/max_inotify_watches", "3"))
				return 125;
			expected = ENOSPC;
#else
			return 125;
#endif
		}
		iol::IoLoop loop;
		Pipe p;
		int reads = 0;
		auto io = loop.add_io(p.r, iol::Cond::read, [&] { reads++; get_byte(p.r); });
		if (backend == "kqueue") {
			// one fd a watch (and the backend's kqueue): room for a few
			int next = ::dup(p.r);
			if (next < 0)
				return 125;
			::close(next);
			struct rlimit rl {};
			getrlimit(RLIMIT_NOFILE, &rl);
			rl.rlim_cur = static_cast<rlim_t>(next + 3);
			if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
				return 125;
			expected = EMFILE;
		}
		std::vector<Notify> watches(8);
		int added = 0;
		NotifyResult r = NotifyResult::added;
		for (int i = 0; i < 8 && r == NotifyResult::added; i++) {
			r = loop.add_notify(dir / ("f" + std::to_string(i)).c_str(), watches[static_cast<std::size_t>(i)], [] {});
			if (r == NotifyResult::added)
				added++;
		}
		if (vnode_missing(r))
			return 124;
		if (r != NotifyResult::not_supported)
			return 1;
		if (errno != expected)
			return 2;
		if (added == 0)
			return 3;
		// the loop goes on serving ios
		put(p.w);
		if (!run_until(loop, [&] { return reads > 0; }))
			return 4;
		// and a freed slot can be used again
		watches[0].remove();
		Notify again;
		if (loop.add_notify(dir / "f7", again, [] {}) != NotifyResult::added)
			return 5;
		return 0;
	});
	check_child(rc, "no user namespace (or rlimit) here to lower the limit without touching other processes");
}

TEST_CASE("14. notify: io_loop_extract_notify_fd hands the fd over and the watches go quiet",
	  "[semantic14][notify]")
{
	iol::IoLoop loop;
	TempDir dir;
	append(dir / "f");
	CHECK(io_loop_extract_notify_fd(loop.c_loop()) == -1); // nothing yet
	Watched w(loop, dir / "f");
	if (vnode_missing(w.result)) {
		WARN("not checked on this build: " << no_vnode);
		return;
	}
	REQUIRE(w.result == NotifyResult::added);
	int fd = io_loop_extract_notify_fd(loop.c_loop());
	if (std::string(io_loop_get_notify_backend()) != "inotify") {
		// stat polls, kqueue shares the handler's kqueue: no fd of their own, nothing changes
		CHECK(fd == -1);
		append(dir / "f");
		CHECK(w.called_after(0));
		return;
	}
	REQUIRE(fd >= 0);
	CHECK(fcntl(fd, F_GETFD) >= 0); // open, and ours now
	CHECK(io_loop_extract_notify_fd(loop.c_loop()) == -1); // handed over once
	append(dir / "f");
	calls_while_settling(loop, w.calls);
	CHECK(w.calls == 0);
	w.n.remove();
	CHECK(::close(fd) == 0);
	// a new watch gets a new fd
	Watched again(loop, dir / "f");
	REQUIRE(again.result == NotifyResult::added);
	append(dir / "f");
	CHECK(again.called_after(0));
}

TEST_CASE("14. notify: after fork and io_loop_recreate the child's watches are its own", "[semantic14][notify][fork]")
{
	iol::IoLoop loop;
	TempDir dir;
	append(dir / "f");
	Watched w(loop, dir / "f");
	if (vnode_missing(w.result)) {
		WARN("not checked on this build: " << no_vnode);
		return;
	}
	REQUIRE(w.result == NotifyResult::added);
	int rc = in_child([&] {
		loop.recreate();
		append(dir / "f");
		if (!w.called_after(0))
			return 1;
		return 0;
	});
	CHECK(rc == 0);
	// the parent's watch saw the child's change too, and still works
	CHECK(w.called_after(0));
	calls_while_settling(loop, w.calls);
	int before = w.calls;
	append(dir / "f");
	CHECK(w.called_after(before));
}

TEST_CASE("14. notify: a loop destroyed with watches left frees them", "[semantic14][notify]")
{
	TempDir dir;
	append(dir / "f");
	struct ioloop *loop = io_loop_create();
	REQUIRE(loop != nullptr);
	struct io *a = nullptr, *b = nullptr, *c = nullptr;
	enum io_notify_result r = io_add_notify_to(loop, (dir / "f").c_str(), [](void *) {}, nullptr, &a);
	if (r == IO_NOTIFY_NOSUPPORT && errno == EINVAL) {
		io_loop_destroy(&loop);
		WARN("not checked on this build: " << no_vnode);
		return;
	}
	CHECK(r == IO_NOTIFY_ADDED);
	CHECK(io_add_notify_to(loop, (dir / "f").c_str(), [](void *) {}, nullptr, &b) == IO_NOTIFY_ADDED);
	CHECK(io_add_notify_to(loop, dir.path.c_str(), [](void *) {}, nullptr, &c) == IO_NOTIFY_ADDED);
	append(dir / "f"); // pending changes too
	io_loop_destroy(&loop); // ASan: no leak, no use after free
	CHECK(loop == nullptr);
}

TEST_CASE("14. notify: a watch cannot move to another loop; it stays where it is", "[semantic14][notify]")
{
	iol::IoLoop loop;
	TempDir dir;
	append(dir / "f");
	int calls = 0;
	struct io *watch = nullptr;
	enum io_notify_result r = io_add_notify_to(loop.c_loop(), (dir / "f").c_str(),
						   [](void *p) { ++*static_cast<int *>(p); }, &calls, &watch);
	if (r == IO_NOTIFY_NOSUPPORT && errno == EINVAL) {
		WARN("not checked on this build: " << no_vnode);
		return;
	}
	REQUIRE(r == IO_NOTIFY_ADDED);
	struct ioloop *other = io_loop_create();
	REQUIRE(other != nullptr);
	errno = 0;
	CHECK(io_loop_move_io_to(other, &watch) == nullptr); // Dovecot asserts here; we refuse
	CHECK(errno == EINVAL);
	REQUIRE(watch != nullptr);
	io_loop_destroy(&other);
	io_loop_set_current(loop.c_loop());
	append(dir / "f", "more");
	CHECK(run_until(loop, [&] { return calls > 0; }, change_deadline()));
	io_remove(&watch);
}

TEST_CASE("14. notify: a watch added under an ioloop context runs under it", "[semantic14][notify][dovecot-api]")
{
	iol::IoLoop loop;
	TempDir dir;
	append(dir / "f");
	struct Seen {
		ioloop *loop;
		ioloop_context *ctx = nullptr;
		int calls = 0;
	} seen{loop.c_loop()}, early{loop.c_loop()};
	auto probe = [](void *p) {
		auto *s = static_cast<Seen *>(p);
		s->ctx = io_loop_get_current_context(s->loop);
		s->calls++;
	};
	// One watch from before the loop had a context, one added while it is active.
	struct io *before = nullptr, *under = nullptr;
	enum io_notify_result r = io_add_notify_to(loop.c_loop(), (dir / "f").c_str(), probe, &early, &before);
	if (r == IO_NOTIFY_NOSUPPORT && errno == EINVAL) {
		WARN("not checked on this build: " << no_vnode);
		return;
	}
	REQUIRE(r == IO_NOTIFY_ADDED);
	ioloop_context *ctx = io_loop_context_new(loop.c_loop());
	io_loop_context_switch(ctx);
	REQUIRE(io_add_notify_to(loop.c_loop(), (dir / "f").c_str(), probe, &seen, &under) == IO_NOTIFY_ADDED);
	io_loop_context_deactivate(ctx);
	append(dir / "f", "more");
	REQUIRE(run_until(loop, [&] { return seen.calls > 0 && early.calls > 0; }, change_deadline()));
	CHECK(seen.ctx == ctx);
	CHECK(early.ctx == nullptr);
	CHECK(io_loop_get_current_context(loop.c_loop()) == nullptr);
	io_remove(&under);
	io_remove(&before);
	io_loop_context_unref(&ctx);
}

TEST_CASE("14. notify: the C API from C", "[semantic14][notify][c-api]")
{
	TempDir dir;
	int rc = c_scenario_notify(dir.path.c_str());
	if (rc == -1) {
		WARN("not checked on this build: " << no_vnode);
		return;
	}
	CHECK(rc == 0);
}

TEST_CASE("14. notify: the backend is named and says whether it polls", "[semantic14][notify]")
{
	std::string name = io_loop_get_notify_backend();
	CHECK((name == "inotify" || name == "kqueue" || name == "stat"));
	CHECK((io_loop_get_notify_poll_msecs() == 0) == (name != "stat"));
}
