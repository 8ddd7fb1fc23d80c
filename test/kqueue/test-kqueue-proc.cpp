// EVFILT_PROC: NOTE_EXIT with the wait status in data, the process left unreaped, and the
// notes Linux cannot tell refused (doc/kqueue-linux.md).
#include "kq-test.hpp"

#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <atomic>
#include <thread>

using namespace kqt;

namespace {

// A child that waits for a byte on a pipe, then exits with `code` (or is killed).
struct Child {
	pid_t pid = -1;
	int go = -1;
	explicit Child(int code)
	{
		int p[2];
		REQUIRE(pipe(p) == 0);
		pid = fork();
		REQUIRE(pid >= 0);
		if (pid == 0) {
			close(p[1]);
			char c;
			ssize_t n = read(p[0], &c, 1);
			_exit(n == 1 ? code : 100);
		}
		close(p[0]);
		go = p[1];
	}
	~Child()
	{
		if (go >= 0)
			close(go);
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, nullptr, 0);
		}
	}
	Child(const Child &) = delete;
	Child &operator=(const Child &) = delete;
	void release() { put(go, "x", 1); }
	uintptr_t id() const { return static_cast<uintptr_t>(pid); }
	// Waits until the child is a zombie, without reaping it.
	void wait_exited() const
	{
		siginfo_t si {};
		REQUIRE(waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOWAIT) == 0);
	}
	int reap()
	{
		int status = -1;
		REQUIRE(waitpid(pid, &status, 0) == pid);
		pid = -1;
		return status;
	}
};

// Waits (bounded) for the event of `ident`.
const struct kevent *wait_for(int kq, uintptr_t ident, std::vector<struct kevent> &evs)
{
	for (int i = 0; i < 100; i++) {
		evs = wait(kq, 8, 100);
		if (const struct kevent *e = find(evs, ident, EVFILT_PROC))
			return e;
	}
	return nullptr;
}

} // namespace

TEST_CASE("EVFILT_PROC: NOTE_EXIT with the exit status, the child left to be reaped", "[kqueue][proc]")
{
	Kq kq;
	Child child(7);
	REQUIRE(change(kq, child.id(), EVFILT_PROC, EV_ADD, NOTE_EXIT) == 0);
	CHECK(wait(kq, 8).empty());
	child.release();
	std::vector<struct kevent> evs;
	const struct kevent *e = wait_for(kq, child.id(), evs);
	REQUIRE(e != nullptr);
	CHECK(e->fflags == NOTE_EXIT);
	CHECK((e->flags & EV_EOF) != 0);
	CHECK(WIFEXITED(static_cast<int>(e->data)));
	CHECK(WEXITSTATUS(static_cast<int>(e->data)) == 7);
	// One-shot in effect: the knote is gone.
	CHECK(wait(kq, 8).empty());
	CHECK(change_err(kq, child.id(), EVFILT_PROC, EV_DELETE) == ENOENT);
	// Not reaped: the parent still gets the status.
	int status = child.reap();
	CHECK(WIFEXITED(status));
	CHECK(WEXITSTATUS(status) == 7);
}

TEST_CASE("EVFILT_PROC: a child killed by a signal", "[kqueue][proc]")
{
	Kq kq;
	Child child(0);
	REQUIRE(change(kq, child.id(), EVFILT_PROC, EV_ADD, NOTE_EXIT) == 0);
	REQUIRE(kill(child.pid, SIGKILL) == 0);
	std::vector<struct kevent> evs;
	const struct kevent *e = wait_for(kq, child.id(), evs);
	REQUIRE(e != nullptr);
	CHECK(WIFSIGNALED(static_cast<int>(e->data)));
	CHECK(WTERMSIG(static_cast<int>(e->data)) == SIGKILL);
	CHECK(WIFSIGNALED(child.reap()));
}

TEST_CASE("EVFILT_PROC: a child that already exited is reported at once", "[kqueue][proc]")
{
	Kq kq;
	Child child(3);
	child.release();
	child.wait_exited();
	REQUIRE(change(kq, child.id(), EVFILT_PROC, EV_ADD, NOTE_EXIT) == 0);
	std::vector<struct kevent> evs;
	const struct kevent *e = wait_for(kq, child.id(), evs);
	REQUIRE(e != nullptr);
	CHECK(WEXITSTATUS(static_cast<int>(e->data)) == 3);
	CHECK(WEXITSTATUS(child.reap()) == 3);
}

TEST_CASE("EVFILT_PROC: EV_DISABLE keeps the exit until EV_ENABLE", "[kqueue][proc]")
{
	Kq kq;
	Child child(5);
	REQUIRE(change(kq, child.id(), EVFILT_PROC, EV_ADD | EV_DISABLE, NOTE_EXIT) == 0);
	child.release();
	child.wait_exited();
	CHECK(wait(kq, 8, 50).empty());
	REQUIRE(change(kq, child.id(), EVFILT_PROC, EV_ENABLE, NOTE_EXIT) == 0);
	std::vector<struct kevent> evs;
	const struct kevent *e = wait_for(kq, child.id(), evs);
	REQUIRE(e != nullptr);
	CHECK(WEXITSTATUS(static_cast<int>(e->data)) == 5);
}

TEST_CASE("EVFILT_PROC without NOTE_EXIT: the knote goes silently at exit", "[kqueue][proc]")
{
	Kq kq;
	Child child(0);
	REQUIRE(change(kq, child.id(), EVFILT_PROC, EV_ADD, 0) == 0);
	child.release();
	child.wait_exited();
	CHECK(wait(kq, 8, 50).empty());
	CHECK(change_err(kq, child.id(), EVFILT_PROC, EV_DELETE) == ENOENT);
}

TEST_CASE("EVFILT_PROC: EV_DELETE before exit", "[kqueue][proc]")
{
	Kq kq;
	Child child(0);
	REQUIRE(change(kq, child.id(), EVFILT_PROC, EV_ADD, NOTE_EXIT) == 0);
	REQUIRE(change(kq, child.id(), EVFILT_PROC, EV_DELETE) == 0);
	child.release();
	child.wait_exited();
	CHECK(wait(kq, 8, 50).empty());
}

TEST_CASE("EVFILT_PROC: errors", "[kqueue][proc]")
{
	Kq kq;
	SECTION("a process that is gone: ESRCH") {
		Child gone(0);
		pid_t reaped = gone.pid;
		gone.release();
		gone.reap();
		CHECK(change_err(kq, static_cast<uintptr_t>(reaped), EVFILT_PROC, EV_ADD, NOTE_EXIT) == ESRCH);
		CHECK(change_err(kq, 0, EVFILT_PROC, EV_ADD, NOTE_EXIT) == ESRCH);
		CHECK(change_err(kq, UINTPTR_MAX, EVFILT_PROC, EV_ADD, NOTE_EXIT) == ESRCH);
	}
	SECTION("a thread that is not a process: ESRCH") {
		std::atomic<long> tid{0};
		std::atomic<bool> done{false};
		std::thread t([&] {
			tid = syscall(SYS_gettid);
			while (!done)
				usleep(1000);
		});
		while (tid == 0)
			usleep(1000);
		CHECK(change_err(kq, static_cast<uintptr_t>(tid.load()), EVFILT_PROC, EV_ADD, NOTE_EXIT) == ESRCH);
		done = true;
		t.join();
	}
	SECTION("NOTE_FORK, NOTE_EXEC and NOTE_TRACK cannot be told on Linux: EINVAL") {
		Child child(0);
		for (unsigned note : {NOTE_FORK, NOTE_EXEC, NOTE_TRACK}) {
			INFO("fflags " << note);
			CHECK(change_err(kq, child.id(), EVFILT_PROC, EV_ADD, NOTE_EXIT | note) == EINVAL);
		}
		CHECK(change_err(kq, child.id(), EVFILT_PROC, EV_DELETE) == ENOENT);
	}
	SECTION("no knote: ENOENT") {
		CHECK(change_err(kq, static_cast<uintptr_t>(getpid()), EVFILT_PROC, EV_DELETE) == ENOENT);
	}
	SECTION("a process that is not our child can be watched") {
		CHECK(change_err(kq, 1, EVFILT_PROC, EV_ADD, NOTE_EXIT) == 0);
		CHECK(change_err(kq, 1, EVFILT_PROC, EV_DELETE) == 0);
	}
}
