#include "storage/mail-folders.hpp"

#include "base/error.hpp"
#include "storage/file-io.hpp"
#include "storage/maildir.hpp"
#include "storage/uidlist.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

namespace maild {

namespace {

bool is_dir(const std::string &path)
{
	struct stat st {};
	return lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool is_inbox(std::string_view name)
{
	return name.size() == 5 && (name[0] | 0x20) == 'i' && (name[1] | 0x20) == 'n' && (name[2] | 0x20) == 'b' &&
	       (name[3] | 0x20) == 'o' && (name[4] | 0x20) == 'x';
}

// Removes the files directly in dir (a Maildir holds no deeper trees), then dir.
bool remove_flat_dir(const std::string &dir)
{
	DIR *d = opendir(dir.c_str());
	if (d == nullptr)
		return errno == ENOENT;
	while (dirent *e = readdir(d)) {
		if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0)
			continue;
		unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
	return rmdir(dir.c_str()) == 0 || errno == ENOENT;
}

} // namespace

std::vector<std::string> list_mailboxes(const std::string &user_root)
{
	std::vector<std::string> names;
	if (DIR *d = opendir(user_root.c_str())) {
		while (dirent *e = readdir(d)) {
			std::string_view n = e->d_name;
			if (n.size() < 2 || n[0] != '.' || n == "..")
				continue;
			std::string name(n.substr(1));
			if (mailbox_directory(user_root, name) && is_dir(user_root + "/" + std::string(n)))
				names.push_back(std::move(name));
		}
		closedir(d);
	}
	std::sort(names.begin(), names.end());
	names.insert(names.begin(), "INBOX");
	return names;
}

bool mailbox_exists(const std::string &user_root, std::string_view name)
{
	if (is_inbox(name))
		return true;
	auto dir = mailbox_directory(user_root, name);
	return dir && is_dir(*dir);
}

bool create_mailbox(const std::string &user_root, std::string_view name, std::string &error)
{
	if (!name.empty() && name.back() == mailbox_delimiter)
		name.remove_suffix(1); // "a." declares that "a" will have children
	if (is_inbox(name) || mailbox_exists(user_root, name)) {
		error = "[ALREADYEXISTS] Mailbox exists";
		return false;
	}
	auto dir = mailbox_directory(user_root, name);
	if (!dir) {
		error = "[CANNOT] Invalid mailbox name";
		return false;
	}
	for (std::size_t pos = 0;; pos++) {
		pos = name.find(mailbox_delimiter, pos);
		std::string_view prefix = name.substr(0, pos);
		if (!mailbox_exists(user_root, prefix)) {
			Mailbox mb;
			if (!Mailbox::open(*mailbox_directory(user_root, prefix), mb, error))
				return false;
		}
		if (pos == std::string_view::npos)
			return true;
	}
}

bool delete_mailbox(const std::string &user_root, std::string_view name, std::string &error)
{
	if (is_inbox(name)) {
		error = "[CANNOT] INBOX cannot be deleted";
		return false;
	}
	if (!mailbox_exists(user_root, name)) {
		error = "[NONEXISTENT] No such mailbox";
		return false;
	}
	std::string prefix = std::string(name) + mailbox_delimiter;
	for (const auto &other : list_mailboxes(user_root)) {
		if (other.compare(0, prefix.size(), prefix) == 0) {
			error = "[INUSE] Mailbox has children; delete them first";
			return false;
		}
	}
	std::string dir = *mailbox_directory(user_root, name);
	// The uidlist goes first: a half-deleted folder then reopens with a new UIDVALIDITY.
	for (const std::string &sub : {"/" + std::string(Uidlist::file_name), std::string("/cur"),
				       std::string("/new"), std::string("/tmp")}) {
		std::string path = dir + sub;
		if (is_dir(path) ? !remove_flat_dir(path) : (unlink(path.c_str()) < 0 && errno != ENOENT)) {
			error = errno_text(path);
			return false;
		}
	}
	if (!remove_flat_dir(dir)) {
		error = errno_text(dir);
		return false;
	}
	set_subscribed(user_root, name, false, error);
	error.clear();
	return true;
}

bool rename_mailbox(const std::string &user_root, std::string_view from, std::string_view to, std::string &error)
{
	if (is_inbox(from) || is_inbox(to)) {
		error = "[CANNOT] Renaming INBOX is not supported";
		return false;
	}
	auto from_dir = mailbox_directory(user_root, from);
	auto to_dir = mailbox_directory(user_root, to);
	if (!from_dir || !to_dir) {
		error = "[CANNOT] Invalid mailbox name";
		return false;
	}
	if (!mailbox_exists(user_root, from)) {
		error = "[NONEXISTENT] No such mailbox";
		return false;
	}
	if (mailbox_exists(user_root, to)) {
		error = "[ALREADYEXISTS] Target mailbox exists";
		return false;
	}
	std::string prefix = std::string(from) + mailbox_delimiter;
	std::string to_s(to);
	if (to_s.compare(0, prefix.size(), prefix) == 0) {
		error = "[CANNOT] Cannot move a mailbox into itself";
		return false;
	}
	// Parents of the new name must exist as mailboxes too.
	if (auto dot = to_s.rfind(mailbox_delimiter); dot != std::string::npos) {
		std::string parent = to_s.substr(0, dot);
		if (!mailbox_exists(user_root, parent) && !create_mailbox(user_root, parent, error))
			return false;
	}
	std::vector<std::pair<std::string, std::string>> moves{{from_dir.value(), to_dir.value()}};
	for (const auto &other : list_mailboxes(user_root)) {
		if (other.compare(0, prefix.size(), prefix) == 0)
			moves.push_back({*mailbox_directory(user_root, other),
					 *mailbox_directory(user_root, to_s + other.substr(prefix.size() - 1))});
	}
	for (const auto &[a, b] : moves) {
		if (rename(a.c_str(), b.c_str()) < 0) {
			error = errno_text(a);
			return false;
		}
	}
	return true;
}

namespace {

// The subscriptions file is the user's to grow, one SUBSCRIBE at a time; past this it is refused.
constexpr std::size_t subscriptions_limit = 1 << 20;

// False only for a list too long to hold; a link or an odd file in its place is not the user's
// list and reads as none (SUBSCRIBE then replaces it with a real file).
bool read_subscriptions(const std::string &user_root, std::vector<std::string> &names)
{
	names.clear();
	std::string text;
	if (!read_regular_file(user_root + "/subscriptions", text, subscriptions_limit))
		return errno != EFBIG && errno != EIO;
	std::string_view rest = text;
	while (!rest.empty()) {
		std::string_view line = rest.substr(0, rest.find('\n'));
		rest.remove_prefix(line.size() < rest.size() ? line.size() + 1 : line.size());
		if (!line.empty() && std::find(names.begin(), names.end(), line) == names.end())
			names.emplace_back(line);
	}
	return true;
}

} // namespace

std::vector<std::string> load_subscriptions(const std::string &user_root)
{
	std::vector<std::string> names;
	read_subscriptions(user_root, names);
	return names;
}

bool set_subscribed(const std::string &user_root, std::string_view name, bool on, std::string &error)
{
	std::vector<std::string> names;
	if (!read_subscriptions(user_root, names)) {
		error = errno_text(user_root + "/subscriptions");
		return false;
	}
	auto it = std::find(names.begin(), names.end(), name);
	if (on == (it != names.end()))
		return true;
	if (on)
		names.emplace_back(name);
	else
		names.erase(it);
	std::string text;
	for (const auto &n : names)
		text += n + "\n";
	if (text.size() > subscriptions_limit) {
		error = "[LIMIT] Too many subscriptions";
		return false;
	}
	if (!write_file_atomically(user_root, "subscriptions", text)) {
		error = errno_text(user_root + "/subscriptions");
		return false;
	}
	return true;
}

} // namespace maild
