#include "maildir.hpp"

#include "message-encoder.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <map>
#include <sys/stat.h>
#include <unistd.h>

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

std::optional<std::uint64_t> maildir_name_vsize(std::string_view base)
{
	auto w = base.find(",W=");
	if (w == std::string_view::npos)
		return std::nullopt;
	std::string_view digits = base.substr(w + 3);
	digits = digits.substr(0, digits.find_first_not_of("0123456789"));
	std::uint64_t v = 0;
	auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
	if (digits.empty() || ec != std::errc())
		return std::nullopt;
	return v;
}

std::optional<std::string> mailbox_directory(const std::string &user_root, std::string_view name)
{
	std::string upper(name);
	for (char &c : upper)
		c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
	if (upper == "INBOX")
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

std::string errno_text(const std::string &what)
{
	return what + ": " + std::strerror(errno);
}

bool ensure_dir(const std::string &path, std::string &error)
{
	if (mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) {
		struct stat st {};
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
		struct stat st {};
		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
			names.emplace_back(e->d_name);
	}
	closedir(d);
	return true;
}

bool compute_vsize(const std::string &path, std::uint64_t &out)
{
	int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	CrlfSizeCounter counter;
	char buf[65536];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return false;
		}
		if (n == 0)
			break;
		counter.feed({buf, static_cast<std::size_t>(n)});
	}
	close(fd);
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

bool Mailbox::open(const std::string &dir, Mailbox &out, std::string &error)
{
	Mailbox mb;
	mb.dir_ = dir;
	for (const char *sub : {"", "/cur", "/new", "/tmp"}) {
		if (!ensure_dir(dir + sub, error))
			return false;
	}

	// new/ -> cur/ with empty info: from now on the message has been seen by a client.
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

	std::vector<std::string> files;
	if (!list_files(dir + "/cur", files, error))
		return false;
	std::map<std::string, std::string, std::less<>> by_base; // base -> flags
	for (const auto &name : files)
		by_base.emplace(std::string(maildir_base_name(name)), maildir_flags(name));

	bool changed = false;
	std::string text;
	{
		int fd = ::open((dir + "/" + Uidlist::file_name).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd >= 0) {
			char buf[65536];
			ssize_t n;
			while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
				if (n > 0)
					text.append(buf, static_cast<std::size_t>(n));
			}
			close(fd);
		}
	}
	if (!Uidlist::parse(text, mb.list_)) {
		// No list or a damaged one: UIDs start over, and the new UIDVALIDITY tells clients.
		mb.list_ = Uidlist{};
		mb.list_.uidvalidity = static_cast<std::uint32_t>(std::time(nullptr));
		changed = true;
	}

	std::vector<UidlistEntry> kept;
	for (auto &e : mb.list_.entries) {
		auto it = by_base.find(e.base);
		if (it == by_base.end()) {
			changed = true; // expunged by someone else
			continue;
		}
		mb.messages_.push_back({e.uid, e.vsize, e.base, it->second});
		by_base.erase(it);
		kept.push_back(std::move(e));
	}

	std::vector<std::string> unknown;
	for (const auto &[base, flags] : by_base)
		unknown.push_back(base);
	std::sort(unknown.begin(), unknown.end(), delivery_order);
	for (const auto &base : unknown) {
		MessageFile m{0, 0, base, by_base[base]};
		if (auto w = maildir_name_vsize(base))
			m.vsize = *w;
		else if (!compute_vsize(dir + "/cur/" + m.file_name(), m.vsize))
			continue; // vanished meanwhile
		if (mb.list_.next_uid == UINT32_MAX) {
			error = dir + ": UIDs exhausted";
			return false;
		}
		m.uid = mb.list_.next_uid++;
		kept.push_back({m.uid, m.vsize, m.base});
		mb.messages_.push_back(std::move(m));
		changed = true;
	}
	mb.list_.entries = std::move(kept);
	if (changed && !mb.save(error))
		return false;
	out = std::move(mb);
	return true;
}

bool Mailbox::save(std::string &error)
{
	list_.entries.clear();
	for (const auto &m : messages_)
		list_.entries.push_back({m.uid, m.vsize, m.base});
	if (!write_file_atomically(dir_, Uidlist::file_name, list_.format())) {
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
	return true;
}

std::size_t Mailbox::expunge(const std::vector<std::size_t> &indexes, std::string &error)
{
	std::vector<bool> gone(messages_.size(), false);
	std::size_t failed = 0;
	for (std::size_t i : indexes) {
		if (i >= messages_.size() || gone[i])
			continue;
		if (unlink(path_of(messages_[i]).c_str()) == 0 || errno == ENOENT) {
			gone[i] = true;
		} else {
			error = errno_text(path_of(messages_[i]));
			failed++;
		}
	}
	std::vector<MessageFile> rest;
	for (std::size_t i = 0; i < messages_.size(); i++) {
		if (!gone[i])
			rest.push_back(std::move(messages_[i]));
	}
	messages_ = std::move(rest);
	std::string save_error;
	if (!save(save_error) && error.empty())
		error = save_error;
	return failed;
}

} // namespace maild
