#include "storage/uidlist.hpp"

#include "base/fd.hpp"

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdint>
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

std::string uidlist_flags(std::string_view maildir_flags)
{
	std::string out;
	for (char c : maildir_flags) {
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))
			out += c;
	}
	return out;
}

namespace {

// The modseqs are RFC 7162's mod-sequence-value: 1 to 2^63 - 1.
bool parse_modseq(std::string_view s, std::uint64_t &out)
{
	return parse_number(s, out) && out >= 1 && out <= INT64_MAX;
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
			// V<n> N<n> [R<n> [M<n>]]
			std::vector<std::string_view> fields;
			for (std::size_t from = 0; from <= line.size();) {
				auto sp = line.find(' ', from);
				if (sp == std::string_view::npos)
					sp = line.size();
				fields.push_back(line.substr(from, sp - from));
				from = sp + 1;
			}
			bool recent = false;
			if (fields.size() < 2 || fields.size() > 4 || fields[0].size() < 2 || fields[0][0] != 'V' ||
			    fields[1].size() < 2 || fields[1][0] != 'N' ||
			    !parse_number(fields[0].substr(1), list.uidvalidity) ||
			    !parse_number(fields[1].substr(1), list.next_uid))
				return false;
			if (fields.size() >= 3) {
				if (fields[2].size() < 2 || fields[2][0] != 'R' ||
				    !parse_number(fields[2].substr(1), list.first_recent_uid))
					return false;
				recent = true;
			}
			if (fields.size() == 4 &&
			    (fields[3].size() < 2 || fields[3][0] != 'M' || !parse_modseq(fields[3].substr(1), list.highest_modseq)))
				return false;
			if (list.uidvalidity == 0 || list.next_uid == 0 || list.first_recent_uid > list.next_uid)
				return false;
			if (!recent)
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
		// W<size> [M<modseq> F<flags>]
		std::string_view ext = line.substr(sp1 + 1, colon - sp1 - 1);
		std::string_view size = ext.substr(0, ext.find(' '));
		if (size.size() < 2 || size[0] != 'W' || !parse_number(size.substr(1), e.vsize))
			return false;
		if (size.size() < ext.size()) {
			std::string_view rest = ext.substr(size.size() + 1);
			auto sp = rest.find(' ');
			if (sp == std::string_view::npos || sp < 2 || rest[0] != 'M' ||
			    !parse_modseq(rest.substr(1, sp - 1), e.modseq))
				return false;
			std::string_view flags = rest.substr(sp + 1);
			if (flags.empty() || flags[0] != 'F' || uidlist_flags(flags.substr(1)) != flags.substr(1))
				return false;
			e.has_flags = true;
			e.flags.assign(flags.substr(1));
		}
		e.base = std::string(line.substr(colon + 2));
		if (e.base.empty() || e.base.find('/') != std::string::npos)
			return false;
		if (e.modseq > list.highest_modseq)
			list.highest_modseq = e.modseq; // an old list, or a hand-edited one
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
			std::to_string(first_recent_uid) + " M" + std::to_string(highest_modseq) + "\n";
	for (const auto &e : entries) {
		s += std::to_string(e.uid) + " W" + std::to_string(e.vsize);
		if (e.has_flags)
			s += " M" + std::to_string(e.modseq) + " F" + e.flags;
		s += " :" + e.base + "\n";
	}
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
