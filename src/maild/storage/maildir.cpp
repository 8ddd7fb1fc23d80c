#include "storage/maildir.hpp"

#include "base/ascii.hpp"
#include "base/error.hpp"
#include "base/fd.hpp"
#include "base/posix.hpp"
#include "mail/crlf.hpp"
#include "storage/file-io.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <map>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_set>

namespace maild {

std::string_view maildir_base_name(std::string_view file_name)
{
	return file_name.substr(0, file_name.find(':'));
}

std::string maildir_flags(std::string_view file_name)
{
	auto info = file_name.find(":2,");
	if (info == std::string_view::npos)
		return {};
	std::string flags(file_name.substr(info + 3));
	std::sort(flags.begin(), flags.end());
	flags.erase(std::unique(flags.begin(), flags.end()), flags.end());
	return flags;
}

std::string maildir_file_name(std::string_view base, std::string_view flags)
{
	std::string f(flags);
	std::sort(f.begin(), f.end());
	f.erase(std::unique(f.begin(), f.end()), f.end());
	std::string name(base);
	name += ":2,";
	name += f;
	return name;
}

namespace {

// The number after `field` (",W=" or ",S=") in a Maildir base name.
std::optional<std::uint64_t> maildir_name_number(std::string_view base, std::string_view field)
{
	auto at = base.find(field);
	if (at == std::string_view::npos)
		return std::nullopt;
	std::string_view digits = base.substr(at + field.size());
	digits = digits.substr(0, digits.find_first_not_of("0123456789"));
	std::uint64_t v = 0;
	auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
	if (digits.empty() || ec != std::errc())
		return std::nullopt;
	return v;
}

} // namespace

std::optional<std::uint64_t> maildir_name_vsize(std::string_view base)
{
	return maildir_name_number(base, ",W=");
}

std::optional<std::uint64_t> maildir_name_size(std::string_view base)
{
	return maildir_name_number(base, ",S=");
}

std::optional<std::string> mailbox_directory(const std::string &user_root, std::string_view name)
{
	if (equal_nocase(name, "INBOX"))
		return user_root;
	if (name.empty() || name.front() == '.' || name.back() == '.' ||
	    name.find("..") != std::string_view::npos)
		return std::nullopt;
	for (char c : name) {
		auto u = static_cast<unsigned char>(c);
		if (c == '/' || u < 0x20 || u == 0x7f)
			return std::nullopt;
	}
	return user_root + "/." + std::string(name);
}

namespace {

bool ensure_dir(const std::string &path, std::string &error)
{
	struct stat st {};
	if (lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
		return true; // the usual case: no mkdir system call
	if (mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) {
		if (lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
			return true;
		error = path + ": not a directory";
		return false;
	}
	error = errno_text(path);
	return false;
}

// Regular files in dir whose names do not start with '.'.
bool list_files(const std::string &dir, std::vector<std::string> &names, std::string &error)
{
	DIR *d = opendir(dir.c_str());
	if (d == nullptr) {
		error = errno_text(dir);
		return false;
	}
	int dfd = dirfd(d);
	while (dirent *e = readdir(d)) {
		if (e->d_name[0] == '.')
			continue;
		// The directory entry's type saves a stat per message where the file system gives it.
		struct stat st {};
		if (e->d_type == DT_REG ||
		    (e->d_type == DT_UNKNOWN && fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		     S_ISREG(st.st_mode)))
			names.emplace_back(e->d_name);
	}
	closedir(d);
	return true;
}

bool compute_vsize(const std::string &path, std::uint64_t &out)
{
	Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
	if (!fd)
		return false;
	CrlfSizeCounter counter;
	char buf[65536];
	for (;;) {
		ssize_t n = read_full(fd.get(), buf, sizeof buf);
		if (n < 0)
			return false;
		if (n == 0)
			break;
		counter.feed({buf, static_cast<std::size_t>(n)});
	}
	out = counter.size();
	return true;
}

// Delivery order: the leading seconds of a Maildir name numerically, then the whole name.
bool delivery_order(const std::string &a, const std::string &b)
{
	auto secs = [](const std::string &s) {
		std::uint64_t v = 0;
		std::from_chars(s.data(), s.data() + s.size(), v);
		return v;
	};
	auto sa = secs(a), sb = secs(b);
	return sa != sb ? sa < sb : a < b;
}

} // namespace

// Serialises the read-modify-write of one mailbox's uidlist between the loops of --workers
// (and any other process that uses it): flock on <dir>/maild-uidlist.lock, held for one open()
// or one change. Without a lock file (read-only store) the change goes ahead unlocked.
class MailboxLock {
public:
	explicit MailboxLock(const std::string &dir)
		: fd_(::open((dir + "/maild-uidlist.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600))
	{
		while (fd_ && flock(fd_.get(), LOCK_EX) < 0 && errno == EINTR) {
		}
	}

private:
	Fd fd_;
};

bool Mailbox::prepare(const std::string &dir, std::string &error)
{
	for (const char *sub : {"", "/cur", "/new", "/tmp"}) {
		if (!ensure_dir(dir + sub, error))
			return false;
	}
	return true;
}

bool Mailbox::prepare_once(const std::string &dir, std::string &error)
{
	thread_local std::unordered_set<std::string> prepared;
	if (prepared.count(dir) != 0)
		return true;
	if (!prepare(dir, error))
		return false;
	if (prepared.size() >= 4096)
		prepared.clear();
	prepared.insert(dir);
	return true;
}

bool Mailbox::open(const std::string &dir, Mailbox &out, std::string &error)
{
	if (open_cached(dir, out))
		return true;
	if (!prepare(dir, error))
		return false;
	MailboxLock lock(dir);
	if (!open_locked(dir, out, error))
		return false;
	remember_read(out);
	return true;
}

namespace {

// Each thread's (each worker loop's) latest clean reads of the mailboxes it opened. A SELECT,
// STATUS or POP3 login of a mailbox nobody changed since then costs the three stats of stale()
// and a copy, where a read is the lock, both directory scans and the uidlist (about 20 system
// calls, and parsing every file name). Only a clean read is kept: one whose times were taken
// after it and more than a clock tick after the last change, so equal times later mean the same
// messages, as stale() already relies on. Bounded: the oldest reads go first.
struct ReadCache {
	static constexpr std::size_t max_reads = 64, max_messages = 50000;
	std::vector<Mailbox> reads; // oldest first
	std::size_t messages = 0;

	void drop(std::size_t i)
	{
		messages -= reads[i].messages().size();
		reads.erase(reads.begin() + static_cast<std::ptrdiff_t>(i));
	}
	std::size_t find(const std::string &dir) const
	{
		for (std::size_t i = 0; i < reads.size(); i++)
			if (reads[i].dir() == dir)
				return i;
		return reads.size();
	}
};

thread_local ReadCache read_cache;

} // namespace

bool Mailbox::open_cached(const std::string &dir, Mailbox &out)
{
	ReadCache &c = read_cache;
	std::size_t i = c.find(dir);
	if (i == c.reads.size())
		return false;
	if (c.reads[i].stale()) {
		c.drop(i);
		return false;
	}
	out = c.reads[i];
	return true;
}

void Mailbox::remember_read(const Mailbox &read)
{
	ReadCache &c = read_cache;
	std::size_t i = c.find(read.dir_);
	if (i != c.reads.size())
		c.drop(i);
	std::size_t n = read.messages_.size();
	if (read.dirty_ || n > ReadCache::max_messages)
		return;
	while (!c.reads.empty() && (c.reads.size() >= ReadCache::max_reads || c.messages + n > ReadCache::max_messages))
		c.drop(0);
	c.reads.push_back(read);
	c.messages += n;
}

namespace {

// True when someone holds an flock on dirfd/name (a MailboxBatch's lock). Only tests: a lock
// nobody holds is taken for an instant and let go.
bool flock_held(int dirfd, const char *name)
{
	Fd fd(openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
	return fd && flock(fd.get(), LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
}

// What a crash (kill -9 during an APPEND, a COPY or a rewrite) leaves in tmp/ is removed once
// it is 36 hours old, the age maildir(5) gives for abandoned files; younger ones may be in use.
// The age is the inode's change time: a message COPY links into tmp/ keeps its old mtime (its
// internal date), while link() and every write set the ctime to now.
void sweep_tmp(const std::string &dir)
{
	DIR *d = opendir((dir + "/tmp").c_str());
	if (d == nullptr)
		return;
	time_t cutoff = std::time(nullptr) - 36 * 3600;
	while (dirent *e = readdir(d)) {
		struct stat st {};
		if (e->d_name[0] != '.' && fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && st.st_ctime < cutoff && !flock_held(dirfd(d), e->d_name))
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

// False when the list is missing or damaged.
bool read_uidlist(const std::string &dir, Uidlist &out)
{
	std::string text;
	// A read error parses what came before it: damaged, so the list is rebuilt. A link or an
	// odd file (a FIFO would block the loop in open()) reads as no list.
	read_regular_file(dir + "/" + Uidlist::file_name, text);
	return Uidlist::parse(text, out);
}

// Whether the batch with `prefix` still runs: its owner holds tmp/<prefix>lock.
bool batch_running(const std::string &dir, std::string_view prefix)
{
	Fd dfd(::open((dir + "/tmp").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	return dfd && flock_held(dfd.get(), (std::string(prefix) + "lock").c_str());
}

// new/ -> cur/ with empty info: from now on the message has been seen by a client.
bool move_new_to_cur(const std::string &dir, std::string &error)
{
	std::vector<std::string> fresh;
	if (!list_files(dir + "/new", fresh, error))
		return false;
	for (const auto &name : fresh) {
		std::string target = maildir_file_name(maildir_base_name(name), maildir_flags(name));
		if (rename((dir + "/new/" + name).c_str(), (dir + "/cur/" + target).c_str()) < 0 &&
		    errno != ENOENT) {
			error = errno_text(dir + "/new/" + name);
			return false;
		}
	}
	return true;
}

// The base names in cur/ the uidlist does not know, in delivery order, without the files of a
// MailboxBatch still running: they are not messages yet (one test per batch).
std::vector<std::string> unknown_in_order(const std::string &dir,
					  const std::map<std::string, std::string, std::less<>> &by_base)
{
	std::map<std::string, bool, std::less<>> running;
	auto in_running_batch = [&](std::string_view base) {
		std::string_view prefix = MailboxBatch::prefix_of(base);
		if (prefix.empty())
			return false;
		auto it = running.find(prefix);
		if (it == running.end())
			it = running.emplace(std::string(prefix), batch_running(dir, prefix)).first;
		return it->second;
	};
	std::vector<std::string> unknown;
	for (const auto &[base, flags] : by_base) {
		if (!in_running_batch(base))
			unknown.push_back(base);
	}
	std::sort(unknown.begin(), unknown.end(), delivery_order);
	return unknown;
}

// The size in CRLF form of a message file new to the uidlist; nothing when it vanished. A name's
// size is taken only when the file could have it: LF -> CRLF at most doubles the bytes. Anything
// else (",W=99999999999" on a small file) is computed.
std::optional<std::uint64_t> message_vsize(const std::string &path, std::string_view base)
{
	struct stat st {};
	if (stat(path.c_str(), &st) < 0)
		return std::nullopt;
	auto bytes = static_cast<std::uint64_t>(st.st_size);
	auto w = maildir_name_vsize(base);
	if (w && *w >= bytes && *w - bytes <= bytes)
		return w;
	std::uint64_t computed = 0;
	if (!compute_vsize(path, computed))
		return std::nullopt;
	return computed;
}

} // namespace

bool Mailbox::open_locked(const std::string &dir, Mailbox &out, std::string &error)
{
	Mailbox mb;
	mb.dir_ = dir;

	if (!move_new_to_cur(dir, error))
		return false;
	std::vector<std::string> files;
	if (!list_files(dir + "/cur", files, error))
		return false;
	std::map<std::string, std::string, std::less<>> by_base; // base -> flags
	for (const auto &name : files)
		by_base.emplace(std::string(maildir_base_name(name)), maildir_flags(name));

	bool changed = false;
	if (!read_uidlist(dir, mb.list_)) {
		// No list or a damaged one: UIDs start over, and the new UIDVALIDITY tells clients.
		mb.list_ = Uidlist{};
		if (!next_uidvalidity(dir, mb.list_.uidvalidity)) {
			error = errno_text(dir + ": " + uidvalidity_file_name);
			return false;
		}
		changed = true;
	}

	std::vector<UidlistEntry> kept;
	std::uint64_t &highest = mb.list_.highest_modseq;
	bool gone = false;
	for (auto &e : mb.list_.entries) {
		auto it = by_base.find(e.base);
		if (it == by_base.end()) {
			changed = gone = true; // expunged by someone else
			continue;
		}
		// A flag change nobody gave a modseq yet: someone renamed the file behind our back,
		// or a session's change did not reach commit_flags() (a crash in between).
		std::string now = uidlist_flags(it->second);
		if (!e.has_flags || e.flags != now) {
			// In a list from before modseqs, the flags as they are now are those of modseq 1,
			// written at once so that the next rename is seen as a change.
			if (e.has_flags)
				e.modseq = ++highest;
			e.has_flags = true;
			e.flags = std::move(now);
			changed = true;
		}
		MessageFile m{e.uid, e.vsize, e.base, it->second};
		m.modseq = e.modseq;
		m.modseq_flags = e.flags;
		mb.messages_.push_back(std::move(m));
		by_base.erase(it);
		kept.push_back(std::move(e));
	}
	if (gone)
		++highest; // RFC 7162: an expunge is a change of the mailbox

	for (const auto &base : unknown_in_order(dir, by_base)) {
		MessageFile m{0, 0, base, by_base[base]};
		auto vsize = message_vsize(dir + "/cur/" + m.file_name(), base);
		if (!vsize)
			continue; // vanished meanwhile
		m.vsize = *vsize;
		if (mb.list_.next_uid == UINT32_MAX) {
			error = dir + ": UIDs exhausted";
			return false;
		}
		m.uid = mb.list_.next_uid++;
		m.modseq = ++highest;
		m.modseq_flags = uidlist_flags(m.flags);
		kept.push_back({m.uid, m.vsize, m.modseq, m.modseq_flags, m.base});
		mb.messages_.push_back(std::move(m));
		changed = true;
	}
	mb.list_.entries = std::move(kept);
	if (changed && !mb.save(error))
		return false;
	mb.remember_times();
	out = std::move(mb);
	return true;
}

bool Mailbox::refresh(std::string &error)
{
	return !stale() || reload(error);
}

bool Mailbox::reload(std::string &error)
{
	struct stat st {};
	if (lstat(dir_.c_str(), &st) < 0 && errno == ENOENT) {
		// Deleted by another session: it is empty now, and must not be created again here.
		messages_.clear();
		remember_times();
		return true;
	}
	Mailbox fresh;
	if (!open(dir_, fresh, error))
		return false;
	*this = std::move(fresh);
	return true;
}

bool Mailbox::refresh_locked(std::string &error)
{
	if (!stale())
		return true;
	Mailbox fresh;
	if (!open_locked(dir_, fresh, error))
		return false;
	*this = std::move(fresh);
	return true;
}

namespace {

bool stamp_of(const std::string &path, std::int64_t &sec, std::int64_t &nsec, std::int64_t &ino)
{
	struct stat st {};
	if (stat(path.c_str(), &st) < 0) {
		sec = nsec = ino = -1;
		return false;
	}
	sec = stat_mtime(st).tv_sec;
	nsec = stat_mtime(st).tv_nsec;
	ino = static_cast<std::int64_t>(st.st_ino);
	return true;
}

} // namespace

void Mailbox::remember_times()
{
	const std::string paths[3] = {dir_ + "/cur", dir_ + "/new", dir_ + "/" + Uidlist::file_name};
	struct timespec now {};
	clock_gettime(CLOCK_REALTIME, &now);
	dirty_ = false;
	for (int i = 0; i < 3; i++) {
		stamp_of(paths[i], stamps_[i].sec, stamps_[i].nsec, stamps_[i].ino);
		// A change later in the same clock tick would leave the time as it is now.
		if (stamps_[i].sec >= now.tv_sec - 1)
			dirty_ = true;
	}
}

bool Mailbox::stale() const
{
	if (dirty_ || dir_.empty())
		return true;
	const std::string paths[3] = {dir_ + "/cur", dir_ + "/new", dir_ + "/" + Uidlist::file_name};
	for (int i = 0; i < 3; i++) {
		Stamp now;
		stamp_of(paths[i], now.sec, now.nsec, now.ino);
		if (now.sec != stamps_[i].sec || now.nsec != stamps_[i].nsec || now.ino != stamps_[i].ino)
			return true;
	}
	return false;
}

bool Mailbox::same_read_as(const Mailbox &other) const
{
	if (dirty_ || other.dirty_ || dir_ != other.dir_)
		return false;
	for (int i = 0; i < 3; i++) {
		const Stamp &a = stamps_[i], &b = other.stamps_[i];
		if (a.sec != b.sec || a.nsec != b.nsec || a.ino != b.ino)
			return false;
	}
	return true;
}

std::optional<std::size_t> Mailbox::find(std::uint32_t uid) const
{
	auto it = std::lower_bound(messages_.begin(), messages_.end(), uid,
				   [](const MessageFile &m, std::uint32_t u) { return m.uid < u; });
	if (it == messages_.end() || it->uid != uid)
		return std::nullopt;
	return static_cast<std::size_t>(it - messages_.begin());
}

namespace {

// "<sec>.M<usec>P<pid>Q<n>": n counts the names this process made, in all its threads (the
// loops of --workers), so no two are alike even within one microsecond.
std::string unique_stem()
{
	static std::atomic<unsigned long> counter{0};
	struct timespec now {};
	clock_gettime(CLOCK_REALTIME, &now);
	return std::to_string(now.tv_sec) + ".M" + std::to_string(now.tv_nsec / 1000) + "P" +
	       std::to_string(getpid()) + "Q" + std::to_string(counter.fetch_add(1, std::memory_order_relaxed) + 1);
}

std::string host_part()
{
	char host[256] = "localhost";
	if (gethostname(host, sizeof host - 1) < 0)
		std::strcpy(host, "localhost");
	host[sizeof host - 1] = '\0';
	std::string h;
	for (const char *p = host; *p; p++)
		h += (*p == '/' || *p == ':' || *p == ',') ? '_' : *p; // Maildir's rule for host names
	return h;
}

} // namespace

std::string Mailbox::unique_base(std::uint64_t vsize)
{
	return unique_stem() + "." + host_part() + ",W=" + std::to_string(vsize);
}

bool Mailbox::add(const std::string &file, std::uint64_t vsize, std::string_view flags, std::int64_t mtime,
		  std::uint32_t &uid, std::string &error)
{
	MailboxLock lock(dir_);
	if (!refresh_locked(error))
		return false;
	if (list_.next_uid == UINT32_MAX) {
		error = dir_ + ": UIDs exhausted";
		return false;
	}
	struct timespec times[2] = {{static_cast<time_t>(mtime), 0}, {static_cast<time_t>(mtime), 0}};
	utimensat(AT_FDCWD, file.c_str(), times, 0); // only the internal date is lost on failure
	MessageFile m{list_.next_uid, vsize, unique_base(vsize), maildir_flags(maildir_file_name("", flags))};
	m.modseq = list_.highest_modseq + 1;
	m.modseq_flags = uidlist_flags(m.flags);
	std::string path = path_of(m);
	if (rename(file.c_str(), path.c_str()) < 0) {
		error = errno_text(file);
		return false;
	}
	list_.next_uid++;
	list_.highest_modseq++;
	uid = m.uid;
	messages_.push_back(std::move(m));
	if (!save(error)) {
		// Still under the lock: nobody has seen the file, and the list on disk is the old one.
		unlink(path.c_str());
		messages_.pop_back();
		list_.entries.pop_back();
		list_.highest_modseq--;
		dirty_ = true;
		return false;
	}
	remember_times();
	return true;
}

bool Mailbox::add_many(const std::vector<MessageFile> &files, std::vector<std::uint32_t> &uids, std::string &error)
{
	uids.clear();
	if (files.empty())
		return true;
	MailboxLock lock(dir_);
	// The list as it is now (others may have given UIDs or expunged since this object's
	// snapshot), extended: cur/ is not read again, which keeps this short for a large mailbox.
	// What cur/ or new/ holds that the list does not name gets its UID at the next open(), as
	// always; an entry whose file is gone is dropped there.
	Uidlist list;
	if (!read_uidlist(dir_, list)) {
		// Missing or damaged: open() makes a new one first (a new UIDVALIDITY).
		Mailbox fresh;
		if (!open_locked(dir_, fresh, error))
			return false;
		*this = std::move(fresh);
		save_entries();
		list = list_;
	}
	if (UINT32_MAX - list.next_uid < files.size()) {
		error = dir_ + ": UIDs exhausted";
		return false;
	}
	// A file the list names already was taken in by a reader that did not see it hidden.
	std::unordered_set<std::string_view> adding;
	for (const auto &f : files)
		adding.insert(f.base);
	for (const auto &e : list.entries) {
		if (adding.count(e.base) != 0) {
			error = dir_ + ": " + e.base + " is listed already";
			return false;
		}
	}
	std::uint32_t first = list.next_uid;
	for (const auto &f : files)
		list.entries.push_back({list.next_uid++, f.vsize, ++list.highest_modseq, uidlist_flags(f.flags), f.base});
	if (!write_list(list, error))
		return false;
	// This object now lags behind the disk (others' changes, the new messages' flags): the
	// next refresh() reads it all again.
	list_.uidvalidity = list.uidvalidity;
	list_.next_uid = list.next_uid;
	list_.highest_modseq = list.highest_modseq;
	dirty_ = true;
	for (std::size_t i = 0; i < files.size(); i++)
		uids.push_back(first + static_cast<std::uint32_t>(i));
	return true;
}

bool Mailbox::claim_recent(std::string &error)
{
	// Nothing recent in the list this caller read: nothing it shows is to claim; no lock, no
	// rewrite, and no stat to see whether more came (a message that arrived since stays recent
	// for the session that first shows it, which is what RFC 3501 asks).
	if (list_.first_recent_uid == list_.next_uid)
		return true;
	MailboxLock lock(dir_);
	if (!refresh_locked(error))
		return false;
	if (list_.first_recent_uid == list_.next_uid)
		return true;
	list_.first_recent_uid = list_.next_uid;
	if (!save(error))
		return false;
	remember_times();
	return true;
}

Keywords Keywords::load(const std::string &dir)
{
	Keywords k;
	std::string text;
	// 26 names of a few hundred bytes at most; a link or an odd file is not ours: no keywords.
	if (!read_regular_file(dir + "/" + file_name, text, 64 * 1024))
		return k;
	std::string_view rest = text;
	while (k.names.size() < 26 && !rest.empty()) {
		std::string_view line = rest.substr(0, rest.find('\n'));
		rest.remove_prefix(line.size() < rest.size() ? line.size() + 1 : line.size());
		k.names.emplace_back(line);
	}
	return k;
}

std::optional<char> Keywords::find(std::string_view name) const
{
	for (std::size_t i = 0; i < names.size(); i++) {
		if (equal_nocase(names[i], name))
			return static_cast<char>('a' + i);
	}
	return std::nullopt;
}

bool Keywords::add(std::string_view name, const std::string &dir, char &letter)
{
	if (full()) {
		errno = EMLINK;
		return false;
	}
	names.emplace_back(name);
	std::string text;
	for (const auto &n : names)
		text += n + "\n";
	if (!write_file_atomically(dir, file_name, text)) {
		int saved = errno != 0 ? errno : EIO;
		names.pop_back();
		errno = saved;
		return false;
	}
	letter = static_cast<char>('a' + names.size() - 1);
	return true;
}

void Mailbox::save_entries()
{
	list_.entries.clear();
	for (const auto &m : messages_)
		list_.entries.push_back({m.uid, m.vsize, m.modseq, m.modseq_flags, m.base});
}

bool Mailbox::save(std::string &error)
{
	save_entries();
	return write_list(list_, error);
}

bool Mailbox::write_list(const Uidlist &list, std::string &error)
{
	// Leftovers of writes cut by a crash go when the list is next written (under the lock, as
	// they were made): a write is what leaves them, and a mailbox only read has none to sweep.
	// Every open used to do this, 6 system calls of about 110 per IMAP session.
	sweep_tmp(dir_);
	// Where rewrites of the list went before they moved into tmp/.
	unlink((dir_ + "/" + Uidlist::file_name + ".tmp").c_str());
	if (!write_file_atomically(dir_, Uidlist::file_name, list.format())) {
		error = errno_text(dir_ + "/" + Uidlist::file_name);
		return false;
	}
	return true;
}

bool Mailbox::set_flags(std::size_t index, std::string_view flags, std::string &error)
{
	MessageFile &m = messages_.at(index);
	std::string from = path_of(m);
	std::string old = m.flags;
	m.flags = maildir_flags(maildir_file_name("", flags));
	if (m.flags == old)
		return true;
	if (rename(from.c_str(), path_of(m).c_str()) < 0) {
		error = errno_text(from);
		m.flags = old;
		return false;
	}
	pending_.push_back(m.uid);
	return true;
}

bool Mailbox::commit_flags(std::string &error)
{
	if (pending_.empty())
		return true;
	std::vector<std::uint32_t> uids = std::move(pending_);
	pending_.clear();
	std::sort(uids.begin(), uids.end());
	uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
	MailboxLock lock(dir_);
	Uidlist list;
	if (!read_uidlist(dir_, list) || list.uidvalidity != list_.uidvalidity) {
		// Damaged or made anew meanwhile: open() gives the changed files their modseqs.
		Mailbox fresh;
		if (!open_locked(dir_, fresh, error))
			return false;
		*this = std::move(fresh);
		return true;
	}
	list.highest_modseq = std::max(list.highest_modseq, list_.highest_modseq);
	for (std::uint32_t uid : uids) {
		auto i = find(uid);
		auto e = std::lower_bound(list.entries.begin(), list.entries.end(), uid,
					  [](const UidlistEntry &x, std::uint32_t u) { return x.uid < u; });
		if (!i || e == list.entries.end() || e->uid != uid)
			continue; // expunged meanwhile
		MessageFile &m = messages_[*i];
		std::string now = uidlist_flags(m.flags);
		// Another session's open() may have seen the rename and given the modseq already.
		if (!e->has_flags || e->flags != now) {
			e->modseq = ++list.highest_modseq;
			e->has_flags = true;
			e->flags = now;
		}
		m.modseq = e->modseq;
		m.modseq_flags = std::move(now);
	}
	if (!write_list(list, error))
		return false;
	list_.highest_modseq = list.highest_modseq;
	// Others' changes in the list just read are not in messages_: the next refresh() reads.
	dirty_ = true;
	return true;
}

std::size_t Mailbox::expunge(const std::vector<std::uint32_t> &uids, std::string &error, const MailboxViewer *by)
{
	MailboxLock lock(dir_);
	if (!refresh_locked(error))
		return uids.size();
	std::unordered_set<std::uint32_t> gone;
	std::size_t failed = 0;
	for (std::uint32_t uid : uids) {
		// A flag change elsewhere renames the file without the lock: a file missing under the
		// name read is looked for again (twice at most) before it counts as removed already.
		for (int attempt = 0;; attempt++) {
			auto i = find(uid);
			if (!i || gone.count(uid) != 0)
				break;
			std::string path = path_of(messages_[*i]);
			// Registered before the rename: a reader who finds the file gone finds the hold.
			auto held = expunge_hold::begin(dir_, list_.uidvalidity, uid, messages_[*i].vsize, by);
			int rc = -1;
			if (held) {
				rc = rename(path.c_str(), held->c_str());
				if (rc == 0) {
					expunge_hold::placed(dir_, list_.uidvalidity, uid);
				} else {
					int e = errno;
					expunge_hold::cancel(dir_, list_.uidvalidity, uid);
					errno = e;
				}
			}
			// No other viewer, or the rename failed while the file is still there (tmp/ missing
			// or on another file system): the message goes as it always did, and a reader still
			// showing it gets EXPUNGEISSUED.
			if (rc < 0 && (!held || errno != ENOENT || access(path.c_str(), F_OK) == 0))
				rc = unlink(path.c_str());
			if (rc == 0) {
				gone.insert(uid);
				break;
			}
			if (errno == ENOENT) {
				std::string ignored;
				if (attempt < 2 && stale() && refresh_locked(ignored))
					continue;
				gone.insert(uid);
				break;
			}
			error = errno_text(path);
			failed++;
			break;
		}
	}
	std::vector<MessageFile> rest;
	for (auto &m : messages_) {
		if (gone.count(m.uid) == 0)
			rest.push_back(std::move(m));
	}
	messages_ = std::move(rest);
	if (!gone.empty())
		list_.highest_modseq++; // RFC 7162: an expunge is a change of the mailbox
	std::string save_error;
	if (!save(save_error) && error.empty())
		error = save_error;
	remember_times();
	return failed;
}

// --- MailboxBatch ---------------------------------------------------------------------------

MailboxBatch::MailboxBatch(std::string dir)
	: dir_(std::move(dir)), prefix_(unique_stem() + "_"), host_(host_part())
{
}

MailboxBatch::~MailboxBatch()
{
	if (!finished_)
		abort();
}

std::string_view MailboxBatch::prefix_of(std::string_view base)
{
	// <digits>.M<digits>P<digits>Q<digits>_ followed by <digits>.
	std::size_t i = 0;
	auto digits = [&] {
		std::size_t start = i;
		while (i < base.size() && base[i] >= '0' && base[i] <= '9')
			i++;
		return i > start;
	};
	auto mark = [&](char c) {
		if (i < base.size() && base[i] == c) {
			i++;
			return true;
		}
		return false;
	};
	if (!digits() || !mark('.') || !mark('M') || !digits() || !mark('P') || !digits() || !mark('Q') ||
	    !digits() || !mark('_'))
		return {};
	std::size_t end = i;
	if (!digits() || !mark('.'))
		return {};
	return base.substr(0, end);
}

std::string MailboxBatch::next_base(std::uint64_t vsize) const
{
	return prefix_ + std::to_string(files_.size()) + "." + host_ + ",W=" + std::to_string(vsize);
}

void MailboxBatch::add(std::uint64_t vsize, std::string_view flags)
{
	files_.push_back({0, vsize, next_base(vsize), maildir_flags(maildir_file_name("", flags))});
}

MailboxBatch::Stage MailboxBatch::stage(std::chrono::steady_clock::time_point until, std::string &error)
{
	if (staged_ < files_.size() && !lock_fd_) {
		// Before the first file shows in cur/: from here on readers pass over them.
		std::string path = dir_ + "/tmp/" + prefix_ + "lock";
		lock_fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
		if (!lock_fd_) {
			error = errno_text(path);
			return Stage::failed;
		}
		// A new file of a name nobody knows yet: nobody else can hold it, so this never waits.
		if (flock(lock_fd_.get(), LOCK_EX | LOCK_NB) < 0) {
			error = errno_text(path);
			return Stage::failed;
		}
	}
	while (staged_ < files_.size()) {
		const MessageFile &f = files_[staged_];
		std::string from = dir_ + "/tmp/" + f.base;
		if (rename(from.c_str(), (dir_ + "/cur/" + f.file_name()).c_str()) < 0) {
			error = errno_text(from);
			return Stage::failed;
		}
		staged_++;
		if (staged_ < files_.size() && std::chrono::steady_clock::now() >= until)
			return Stage::more;
	}
	return Stage::done;
}

bool MailboxBatch::commit(Mailbox &target, std::vector<std::uint32_t> &uids, std::string &error)
{
	if (stage(std::chrono::steady_clock::time_point::max(), error) != Stage::done ||
	    !target.add_many(files_, uids, error)) {
		abort();
		return false;
	}
	finished_ = true;
	release();
	return true;
}

void MailboxBatch::abort()
{
	// The lock is still held: readers keep passing over what is left in cur/ until it is gone.
	for (std::size_t i = 0; i < files_.size(); i++) {
		std::string path = i < staged_ ? dir_ + "/cur/" + files_[i].file_name() : dir_ + "/tmp/" + files_[i].base;
		unlink(path.c_str());
	}
	finished_ = true;
	release();
}

void MailboxBatch::release()
{
	if (!lock_fd_)
		return;
	unlink((dir_ + "/tmp/" + prefix_ + "lock").c_str());
	lock_fd_.reset();
}

} // namespace maild
