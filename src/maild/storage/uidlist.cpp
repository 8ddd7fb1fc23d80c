#include "storage/uidlist.hpp"

#include "base/fd.hpp"

#include <atomic>
#include <cerrno>
#include <charconv>
#include <ctime>
#include <fcntl.h>
#include <string>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace maild {

namespace {

template <class T> bool parse_number(std::string_view s, T &out)
{
	if (s.empty())
		return false;
	auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
	return ec == std::errc() && p == s.data() + s.size();
}

} // namespace

bool Uidlist::parse(std::string_view text, Uidlist &out)
{
	Uidlist list;
	bool header = true;
	while (!text.empty()) {
		auto nl = text.find('\n');
		if (nl == std::string_view::npos)
			return false; // a list always ends in '\n'; a torn one is not trusted
		std::string_view line = text.substr(0, nl);
		text = text.substr(nl + 1);
		if (header) {
			auto sp = line.find(' ');
			if (line.size() < 4 || line[0] != 'V' || sp == std::string_view::npos ||
			    sp + 1 >= line.size() || line[sp + 1] != 'N')
				return false;
			std::string_view next = line.substr(sp + 2);
			std::string_view recent;
			if (auto sp2 = next.find(' '); sp2 != std::string_view::npos) {
				recent = next.substr(sp2 + 1);
				next = next.substr(0, sp2);
				if (recent.size() < 2 || recent[0] != 'R' ||
				    !parse_number(recent.substr(1), list.first_recent_uid))
					return false;
			}
			if (!parse_number(line.substr(1, sp - 1), list.uidvalidity) ||
			    !parse_number(next, list.next_uid) || list.uidvalidity == 0 ||
			    list.next_uid == 0 || list.first_recent_uid > list.next_uid)
				return false;
			if (recent.empty())
				list.first_recent_uid = list.next_uid; // a POP3-only list: nothing recent
			header = false;
			continue;
		}
		auto sp1 = line.find(' ');
		auto colon = line.find(" :");
		if (sp1 == std::string_view::npos || colon == std::string_view::npos || colon < sp1)
			return false;
		UidlistEntry e;
		if (!parse_number(line.substr(0, sp1), e.uid) || e.uid == 0 || e.uid >= list.next_uid)
			return false;
		if (!list.entries.empty() && e.uid <= list.entries.back().uid)
			return false;
		std::string_view ext = line.substr(sp1 + 1, colon - sp1 - 1);
		if (ext.size() < 2 || ext[0] != 'W' || !parse_number(ext.substr(1), e.vsize))
			return false;
		e.base = std::string(line.substr(colon + 2));
		if (e.base.empty() || e.base.find('/') != std::string::npos)
			return false;
		list.entries.push_back(std::move(e));
	}
	if (header)
		return false;
	out = std::move(list);
	return true;
}

std::string Uidlist::format() const
{
	std::string s = "V" + std::to_string(uidvalidity) + " N" + std::to_string(next_uid) + " R" +
			std::to_string(first_recent_uid) + "\n";
	for (const auto &e : entries)
		s += std::to_string(e.uid) + " W" + std::to_string(e.vsize) + " :" + e.base + "\n";
	return s;
}

bool write_file_atomically(const std::string &dir, const std::string &name, std::string_view data)
{
	// The temporary file goes into the Maildir's tmp/ when there is one: a crash between write
	// and rename then leaves nothing beside the real files, and tmp/ is swept (maildir.cpp).
	static std::atomic<unsigned> counter{0};
	struct stat st {};
	std::string tmp = stat((dir + "/tmp").c_str(), &st) == 0 && S_ISDIR(st.st_mode)
				  ? dir + "/tmp/" + name + "." + std::to_string(getpid()) + "." + std::to_string(++counter)
				  : dir + "/" + name + ".tmp";
	Fd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
	if (!fd)
		return false;
	// fsync, then close: a write-back error can show at either.
	if (!write_full(fd.get(), data) || fsync(fd.get()) < 0 || !fd.close() ||
	    rename(tmp.c_str(), (dir + "/" + name).c_str()) < 0) {
		int e = errno;
		fd.reset();
		unlink(tmp.c_str());
		errno = e;
		return false;
	}
	// The rename itself reaches the disk with the directory.
	if (Fd dfd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)); dfd)
		fsync(dfd.get());
	return true;
}

bool next_uidvalidity(const std::string &dir, std::uint32_t &out)
{
	std::string root = dir;
	if (auto slash = dir.rfind('/'); slash != std::string::npos && slash + 1 < dir.size() && dir[slash + 1] == '.')
		root.resize(slash);
	Fd fd(open((root + "/" + uidvalidity_file_name).c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
	if (!fd)
		return false;
	struct stat st {};
	if (flock(fd.get(), LOCK_EX) < 0 || fstat(fd.get(), &st) < 0)
		return false;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return false;
	}
	char buf[16];
	ssize_t n = pread(fd.get(), buf, sizeof buf, 0);
	if (n < 0)
		return false;
	std::uint32_t last = 0; // a missing or damaged file: the clock alone, as before the file
	std::string_view text(buf, static_cast<std::size_t>(n));
	parse_number(text.substr(0, text.find('\n')), last);
	auto now = static_cast<std::uint32_t>(std::time(nullptr));
	// At 2^32 - 1 there is no value above every one given; 1 is the least bad wrap.
	std::uint32_t next = last == UINT32_MAX ? 1 : now > last ? now : last + 1;
	std::string line = std::to_string(next) + "\n";
	if (pwrite(fd.get(), line.data(), line.size(), 0) != static_cast<ssize_t>(line.size()) ||
	    ftruncate(fd.get(), static_cast<off_t>(line.size())) < 0 || fsync(fd.get()) < 0)
		return false;
	out = next;
	return fd.close();
}

} // namespace maild
