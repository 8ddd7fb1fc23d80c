// EVFILT_VNODE: the notes of kqueue(2) for files and directories, the knote flags, knotes
// sharing an inode, close(), and a lost inotify queue (doc/kqueue-linux.md).
#include "kq-test.hpp"

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstring>
#include <filesystem>
#include <string>

using namespace kqt;

namespace {

// A fresh directory, removed with everything in it at scope exit.
struct TempDir {
	std::string path;
	TempDir()
	{
		const char *base = getenv("TMPDIR");
		std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") +
				   "/kqt-vnode-XXXXXX";
		REQUIRE(mkdtemp(tmpl.data()) != nullptr);
		path = tmpl;
	}
	~TempDir()
	{
		std::error_code ec;
		std::filesystem::remove_all(path, ec);
	}
	TempDir(const TempDir &) = delete;
	TempDir &operator=(const TempDir &) = delete;
	std::string operator/(const char *name) const { return path + "/" + name; }
};

// An open descriptor closed at scope exit (unless closed early with reset()).
struct Fd {
	int fd;
	explicit Fd(int f) : fd(f) { REQUIRE(fd >= 0); }
	~Fd()
	{
		if (fd >= 0)
			close(fd);
	}
	Fd(const Fd &) = delete;
	Fd &operator=(const Fd &) = delete;
	void reset()
	{
		close(fd);
		fd = -1;
	}
	operator int() const { return fd; }
	uintptr_t id() const { return static_cast<uintptr_t>(fd); }
};

int make_file(const std::string &path, const char *content = "hello")
{
	int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	REQUIRE(fd >= 0);
	put(fd, content, strlen(content));
	return fd;
}

int open_dir(const std::string &path)
{
	return open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

// The notes of the one event `ident` has now (0 if none), with its flags in `flags`.
unsigned notes(int kq, uintptr_t ident, unsigned short *flags = nullptr)
{
	auto evs = wait(kq, 8);
	const struct kevent *e = find(evs, ident, EVFILT_VNODE);
	if (e == nullptr)
		return 0;
	CHECK(e->data == 0);
	if (flags != nullptr)
		*flags = e->flags;
	return e->fflags;
}

constexpr unsigned all_notes = NOTE_DELETE | NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB | NOTE_LINK |
			       NOTE_RENAME | NOTE_REVOKE;

} // namespace

TEST_CASE("EVFILT_VNODE on a file: NOTE_WRITE, NOTE_EXTEND, NOTE_ATTRIB", "[kqueue][vnode]")
{
	Kq kq;
	TempDir dir;
	Fd f(make_file(dir / "f"));
	REQUIRE(change(kq, f.id(), EVFILT_VNODE, EV_ADD | EV_CLEAR, all_notes) == 0);
	CHECK(notes(kq, f.id()) == 0);

	SECTION("an append writes and extends") {
		put(f, "more", 4);
		CHECK(notes(kq, f.id()) == (NOTE_WRITE | NOTE_EXTEND));
		CHECK(notes(kq, f.id()) == 0); // EV_CLEAR
	}
	SECTION("an overwrite in place only writes") {
		REQUIRE(pwrite(f, "J", 1, 0) == 1);
		CHECK(notes(kq, f.id()) == NOTE_WRITE);
	}
	SECTION("chmod is NOTE_ATTRIB") {
		REQUIRE(fchmod(f, 0600) == 0);
		CHECK(notes(kq, f.id()) == NOTE_ATTRIB);
	}
	SECTION("notes accumulate until delivered") {
		put(f, "x", 1);
		REQUIRE(fchmod(f, 0600) == 0);
		CHECK(notes(kq, f.id()) == (NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB));
	}
	SECTION("the file is not opened by the emulation: nothing to report without a change") {
		for (int i = 0; i < 3; i++)
			CHECK(notes(kq, f.id()) == 0);
	}
}

TEST_CASE("EVFILT_VNODE on a file: NOTE_LINK, NOTE_DELETE, NOTE_RENAME", "[kqueue][vnode]")
{
	Kq kq;
	TempDir dir;
	Fd f(make_file(dir / "f"));
	REQUIRE(change(kq, f.id(), EVFILT_VNODE, EV_ADD | EV_CLEAR, all_notes) == 0);

	SECTION("link() is NOTE_LINK alone; unlink() of a link NOTE_DELETE, as FreeBSD's unlink") {
		REQUIRE(link((dir / "f").c_str(), (dir / "g").c_str()) == 0);
		CHECK(notes(kq, f.id()) == NOTE_LINK);
		REQUIRE(unlink((dir / "g").c_str()) == 0);
		CHECK(notes(kq, f.id()) == (NOTE_DELETE | NOTE_LINK));
	}
	SECTION("unlink() of the last name while open is NOTE_DELETE") {
		REQUIRE(unlink((dir / "f").c_str()) == 0);
		CHECK((notes(kq, f.id()) & NOTE_DELETE) != 0);
		// The file lives on through the fd, and so does the knote.
		put(f, "x", 1);
		CHECK(notes(kq, f.id()) == (NOTE_WRITE | NOTE_EXTEND));
	}
	SECTION("rename() is NOTE_RENAME") {
		REQUIRE(rename((dir / "f").c_str(), (dir / "h").c_str()) == 0);
		CHECK(notes(kq, f.id()) == NOTE_RENAME);
	}
	SECTION("being renamed over is NOTE_DELETE") {
		Fd other(make_file(dir / "o"));
		REQUIRE(rename((dir / "o").c_str(), (dir / "f").c_str()) == 0);
		CHECK((notes(kq, f.id()) & NOTE_DELETE) != 0);
	}
}

TEST_CASE("EVFILT_VNODE reports only the notes asked for", "[kqueue][vnode]")
{
	Kq kq;
	TempDir dir;
	Fd f(make_file(dir / "f"));
	REQUIRE(change(kq, f.id(), EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_ATTRIB) == 0);
	put(f, "more", 4);
	REQUIRE(link((dir / "f").c_str(), (dir / "g").c_str()) == 0);
	CHECK(notes(kq, f.id()) == 0);
	REQUIRE(fchmod(f, 0600) == 0);
	CHECK(notes(kq, f.id()) == NOTE_ATTRIB);

	SECTION("EV_ADD again changes the set; notes already seen stay") {
		REQUIRE(fchmod(f, 0640) == 0);
		REQUIRE(change(kq, f.id(), EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_WRITE) == 0);
		put(f, "x", 1);
		CHECK(notes(kq, f.id()) == (NOTE_ATTRIB | NOTE_WRITE));
		REQUIRE(fchmod(f, 0600) == 0);
		CHECK(notes(kq, f.id()) == 0);
	}
}

TEST_CASE("EVFILT_VNODE: NOTE_OPEN, NOTE_CLOSE, NOTE_CLOSE_WRITE, NOTE_READ", "[kqueue][vnode]")
{
	Kq kq;
	TempDir dir;
	Fd f(make_file(dir / "f"));
	REQUIRE(change(kq, f.id(), EVFILT_VNODE, EV_ADD | EV_CLEAR,
		       NOTE_OPEN | NOTE_CLOSE | NOTE_CLOSE_WRITE | NOTE_READ) == 0);
	CHECK(notes(kq, f.id()) == 0);
	int r = open((dir / "f").c_str(), O_RDONLY | O_CLOEXEC);
	REQUIRE(r >= 0);
	CHECK(notes(kq, f.id()) == NOTE_OPEN);
	char buf[4];
	REQUIRE(read(r, buf, sizeof buf) > 0);
	CHECK(notes(kq, f.id()) == NOTE_READ);
	close(r);
	CHECK(notes(kq, f.id()) == NOTE_CLOSE);
	int w = open((dir / "f").c_str(), O_WRONLY | O_CLOEXEC);
	REQUIRE(w >= 0);
	close(w);
	CHECK(notes(kq, f.id()) == (NOTE_OPEN | NOTE_CLOSE_WRITE));
}

TEST_CASE("EVFILT_VNODE on a directory", "[kqueue][vnode]")
{
	Kq kq;
	TempDir dir;
	TempDir elsewhere;
	REQUIRE(mkdir((dir / "d").c_str(), 0755) == 0);
	Fd d(open_dir(dir / "d"));
	REQUIRE(change(kq, d.id(), EVFILT_VNODE, EV_ADD | EV_CLEAR, all_notes) == 0);
	std::string d_ = dir / "d";

	SECTION("an entry created or removed: NOTE_WRITE") {
		Fd f(make_file(d_ + "/f"));
		CHECK(notes(kq, d.id()) == NOTE_WRITE);
		// A change to an entry's file is not one of the directory.
		put(f, "x", 1);
		REQUIRE(fchmod(f, 0600) == 0);
		CHECK(notes(kq, d.id()) == 0);
		REQUIRE(unlink((d_ + "/f").c_str()) == 0);
		CHECK(notes(kq, d.id()) == NOTE_WRITE);
	}
	SECTION("a subdirectory created or removed: NOTE_WRITE | NOTE_LINK") {
		REQUIRE(mkdir((d_ + "/sub").c_str(), 0755) == 0);
		CHECK(notes(kq, d.id()) == (NOTE_WRITE | NOTE_LINK));
		REQUIRE(rmdir((d_ + "/sub").c_str()) == 0);
		CHECK(notes(kq, d.id()) == (NOTE_WRITE | NOTE_LINK));
	}
	SECTION("a rename inside: NOTE_WRITE; moved out or in: NOTE_EXTEND too") {
		Fd f(make_file(d_ + "/a"));
		CHECK(notes(kq, d.id()) == NOTE_WRITE);
		REQUIRE(rename((d_ + "/a").c_str(), (d_ + "/b").c_str()) == 0);
		CHECK(notes(kq, d.id()) == NOTE_WRITE);
		REQUIRE(rename((d_ + "/b").c_str(), (elsewhere / "b").c_str()) == 0);
		CHECK(notes(kq, d.id()) == (NOTE_WRITE | NOTE_EXTEND));
		REQUIRE(rename((elsewhere / "b").c_str(), (d_ + "/c").c_str()) == 0);
		CHECK(notes(kq, d.id()) == (NOTE_WRITE | NOTE_EXTEND));
	}
	SECTION("the directory renamed, or its mode changed") {
		REQUIRE(rename(d_.c_str(), (dir / "e").c_str()) == 0);
		CHECK(notes(kq, d.id()) == NOTE_RENAME);
		REQUIRE(fchmod(d, 0700) == 0);
		CHECK(notes(kq, d.id()) == NOTE_ATTRIB);
	}
}

TEST_CASE("EVFILT_VNODE without EV_CLEAR is reported on every call", "[kqueue][vnode][flags]")
{
	Kq kq;
	TempDir dir;
	Fd f(make_file(dir / "f"));
	REQUIRE(change(kq, f.id(), EVFILT_VNODE, EV_ADD, NOTE_WRITE) == 0);
	put(f, "x", 1);
	for (int i = 0; i < 3; i++)
		CHECK(notes(kq, f.id()) == NOTE_WRITE);
	REQUIRE(change(kq, f.id(), EVFILT_VNODE, EV_DELETE) == 0);
	CHECK(notes(kq, f.id()) == 0);
	CHECK(change_err(kq, f.id(), EVFILT_VNODE, EV_DELETE) == ENOENT);
}

TEST_CASE("EVFILT_VNODE: EV_ONESHOT, EV_DISPATCH, EV_DISABLE", "[kqueue][vnode][flags]")
{
	Kq kq;
	TempDir dir;
	Fd f(make_file(dir / "f"));

	SECTION("EV_ONESHOT: one report, then the knote is gone") {
		REQUIRE(change(kq, f.id(), EVFILT_VNODE, EV_ADD | EV_ONESHOT, NOTE_WRITE) == 0);
		put(f, "x", 1);
		unsigned short flags = 0;
		CHECK(notes(kq, f.id(), &flags) == NOTE_WRITE);
		CHECK((flags & EV_ONESHOT) != 0);
		put(f, "x", 1);
		CHECK(notes(kq, f.id()) == 0);
		CHECK(change_err(kq, f.id(), EVFILT_VNODE, EV_DELETE) == ENOENT);
	}
	SECTION("EV_DISPATCH: disabled after a report; changes meanwhile come with EV_ENABLE") {
		REQUIRE(change(kq, f.id(), EVFILT_VNODE, EV_ADD | EV_DISPATCH | EV_CLEAR,
			       NOTE_WRITE | NOTE_ATTRIB) == 0);
		put(f, "x", 1);
		CHECK(notes(kq, f.id()) == NOTE_WRITE);
		REQUIRE(fchmod(f, 0600) == 0);
		CHECK(notes(kq, f.id()) == 0);
		REQUIRE(change(kq, f.id(), EVFILT_VNODE, EV_ENABLE, NOTE_WRITE | NOTE_ATTRIB) == 0);
		CHECK(notes(kq, f.id()) == NOTE_ATTRIB);
		CHECK(notes(kq, f.id()) == 0);
	}
	SECTION("added disabled: nothing until EV_ENABLE, then what happened") {
		REQUIRE(change(kq, f.id(), EVFILT_VNODE, EV_ADD | EV_DISABLE | EV_CLEAR, NOTE_WRITE) == 0);
		put(f, "x", 1);
		CHECK(notes(kq, f.id()) == 0);
		REQUIRE(change(kq, f.id(), EVFILT_VNODE, EV_ENABLE, NOTE_WRITE) == 0);
		CHECK(notes(kq, f.id()) == NOTE_WRITE);
	}
	SECTION("the kqueue fd is readable while an event waits") {
		REQUIRE(change(kq, f.id(), EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_WRITE) == 0);
		struct pollfd pfd {kq.fd, POLLIN, 0};
		CHECK(poll(&pfd, 1, 0) == 0);
		put(f, "x", 1);
		CHECK(poll(&pfd, 1, 2000) == 1);
		CHECK(notes(kq, f.id()) == NOTE_WRITE);
	}
}

TEST_CASE("EVFILT_VNODE: several knotes on one file", "[kqueue][vnode]")
{
	Kq kq;
	Kq kq2;
	TempDir dir;
	Fd a(make_file(dir / "f"));
	Fd b(open((dir / "f").c_str(), O_RDONLY | O_CLOEXEC));
	REQUIRE(change(kq, a.id(), EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_WRITE) == 0);
	REQUIRE(change(kq, b.id(), EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_WRITE | NOTE_ATTRIB) == 0);
	REQUIRE(change(kq2, a.id(), EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_ATTRIB) == 0);
	put(a, "x", 1);
	REQUIRE(fchmod(a, 0600) == 0);
	auto evs = wait(kq, 8);
	REQUIRE(evs.size() == 2);
	REQUIRE(find(evs, a.id(), EVFILT_VNODE) != nullptr);
	CHECK(find(evs, a.id(), EVFILT_VNODE)->fflags == NOTE_WRITE);
	REQUIRE(find(evs, b.id(), EVFILT_VNODE) != nullptr);
	CHECK(find(evs, b.id(), EVFILT_VNODE)->fflags == (NOTE_WRITE | NOTE_ATTRIB));
	CHECK(notes(kq2, a.id()) == NOTE_ATTRIB);

	// One knote going leaves the shared watch to the others.
	REQUIRE(change(kq, a.id(), EVFILT_VNODE, EV_DELETE) == 0);
	put(a, "x", 1);
	evs = wait(kq, 8);
	REQUIRE(evs.size() == 1);
	CHECK(evs[0].ident == b.id());
	REQUIRE(fchmod(a, 0640) == 0);
	CHECK(notes(kq2, a.id()) == NOTE_ATTRIB);
}

TEST_CASE("EVFILT_VNODE: close() drops the knote", "[kqueue][vnode][close]")
{
	Kq kq;
	TempDir dir;
	Fd keep(make_file(dir / "f"));
	Fd f(open((dir / "f").c_str(), O_RDONLY | O_CLOEXEC));
	uintptr_t number = f.id();
	REQUIRE(change(kq, number, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_WRITE) == 0);

	SECTION("changes after close() are not reported") {
		f.reset();
		put(keep, "x", 1);
		CHECK(wait(kq, 8).empty());
		CHECK(change_err(kq, number, EVFILT_VNODE, EV_DELETE) == EBADF);
	}
	SECTION("an event queued before close() is not reported") {
		put(keep, "x", 1);
		f.reset();
		CHECK(wait(kq, 8).empty());
	}
	SECTION("the number reused by another file: the old knote is gone") {
		f.reset();
		Fd g(make_file(dir / "g"));
		REQUIRE(g.id() == number);
		put(keep, "x", 1);
		CHECK(wait(kq, 8).empty());
		CHECK(change_err(kq, number, EVFILT_VNODE, EV_DELETE) == ENOENT);
		REQUIRE(change(kq, number, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_WRITE) == 0);
		put(g, "x", 1);
		CHECK(notes(kq, number) == NOTE_WRITE);
	}
}

TEST_CASE("EVFILT_VNODE: errors", "[kqueue][vnode]")
{
	Kq kq;
	Pipe p;
	CHECK(change_err(kq, static_cast<uintptr_t>(p.rd), EVFILT_VNODE, EV_ADD, NOTE_WRITE) == EINVAL);
	CHECK(change_err(kq, 4093, EVFILT_VNODE, EV_ADD, NOTE_WRITE) == EBADF);
	CHECK(change_err(kq, 4093, EVFILT_VNODE, EV_DELETE) == EBADF);
	CHECK(change_err(kq, static_cast<uintptr_t>(p.rd), EVFILT_VNODE, EV_DELETE) == ENOENT);
	CHECK(change_err(kq, UINTPTR_MAX, EVFILT_VNODE, EV_ADD, NOTE_WRITE) == EBADF);
}

TEST_CASE("EVFILT_VNODE: a lost inotify queue is reported to every knote", "[kqueue][vnode]")
{
	long max_queued = 0;
	if (FILE *f = fopen("/proc/sys/fs/inotify/max_queued_events", "r")) {
		if (fscanf(f, "%ld", &max_queued) != 1)
			max_queued = 0;
		fclose(f);
	}
	if (max_queued <= 0 || max_queued > 100000) {
		WARN("inotify's queue limit is " << max_queued << ": too costly to overflow here");
		return;
	}
	Kq kq;
	TempDir dir;
	Fd a(make_file(dir / "a"));
	Fd b(make_file(dir / "b"));
	Fd c(make_file(dir / "c"));
	REQUIRE(change(kq, a.id(), EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_WRITE) == 0);
	REQUIRE(change(kq, b.id(), EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_WRITE) == 0);
	REQUIRE(change(kq, c.id(), EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_ATTRIB | NOTE_LINK) == 0);
	// Alternating files so that inotify cannot merge the events.
	for (long i = 0; i <= max_queued / 2 + 8; i++) {
		REQUIRE(pwrite(a, "x", 1, 0) == 1);
		REQUIRE(pwrite(b, "x", 1, 0) == 1);
	}
	// Lost in the full queue, and to be reported nonetheless.
	REQUIRE(fchmod(c, 0600) == 0);
	REQUIRE(link((dir / "c").c_str(), (dir / "c2").c_str()) == 0);
	auto evs = wait(kq, 8);
	REQUIRE(find(evs, c.id(), EVFILT_VNODE) != nullptr);
	CHECK(find(evs, c.id(), EVFILT_VNODE)->fflags == (NOTE_ATTRIB | NOTE_LINK));
	CHECK(find(evs, a.id(), EVFILT_VNODE) != nullptr);
	CHECK(find(evs, b.id(), EVFILT_VNODE) != nullptr);
	// Afterwards, events are exact again.
	CHECK(wait(kq, 8).empty());
	REQUIRE(fchmod(c, 0640) == 0);
	evs = wait(kq, 8);
	REQUIRE(evs.size() == 1);
	CHECK(evs[0].fflags == NOTE_ATTRIB);
}

TEST_CASE("an inotify event no knote asked for does not hide a ready fd from a 1-slot poll",
	  "[kqueue][vnode][queue]")
{
	Kq kq;
	TempDir dir;
	Pipe p;
	Fd f(make_file(dir / "f"));
	REQUIRE(change(kq, f.id(), EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_ATTRIB) == 0);
	REQUIRE(change(kq, static_cast<uintptr_t>(p.rd), EVFILT_READ, EV_ADD) == 0);
	// The inotify fd becomes ready first, for a write that gives no note.
	put(f, "x", 1);
	put(p.wr, "x", 1);
	auto evs = wait(kq, 1);
	REQUIRE(evs.size() == 1);
	CHECK(evs[0].ident == static_cast<uintptr_t>(p.rd));

	SECTION("nor does the IN_IGNORED of a deleted knote's watch") {
		char c;
		REQUIRE(read(p.rd, &c, 1) == 1);
		CHECK(wait(kq, 1).empty());
		REQUIRE(change(kq, f.id(), EVFILT_VNODE, EV_DELETE) == 0);
		put(p.wr, "x", 1);
		evs = wait(kq, 1);
		REQUIRE(evs.size() == 1);
		CHECK(evs[0].ident == static_cast<uintptr_t>(p.rd));
	}
}
