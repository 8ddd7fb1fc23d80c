#include "storage/expunge-hold.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <dirent.h>
#include <map>
#include <memory>
#include <mutex>
#include <signal.h>
#include <string_view>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace maild {

struct MailboxViewer::State {
	std::string dir;
	// How many holds list this viewer: changed under the registry's mutex, read without it by
	// the viewer's own thread, where a stale 0 only puts a release off to its next look.
	std::atomic<std::size_t> holds{0};
};

namespace {

constexpr std::string_view held_prefix = "maild-held.";

struct Hold {
	std::string path;
	std::uint64_t vsize = 0;
	std::vector<MailboxViewer::State *> holders;
	bool placed = false; // the file has been renamed to path
};

struct Box {
	std::vector<MailboxViewer::State *> viewers;
	std::map<std::pair<std::uint32_t, std::uint32_t>, Hold> holds; // by (uidvalidity, uid)
};

struct Registry {
	std::mutex mutex;
	std::unordered_map<std::string, Box> boxes;
	// The mailboxes whose tmp/ this process has swept: leftovers are a crash's, so once per
	// process is enough (what another process leaves later, the 36-hour tmp/ rule takes), and a
	// session that selects a mailbox nobody else here has open costs no readdir. Forgotten
	// wholesale past swept_max names (a sweep more, never a memory that grows with the store).
	std::unordered_set<std::string> swept;
};
constexpr std::size_t swept_max = 65536;

Registry &registry()
{
	// Never destroyed: a worker thread's sessions may still end while static objects are
	// being destroyed at exit.
	static Registry *r = new Registry;
	return *r;
}

using BoxIt = std::unordered_map<std::string, Box>::iterator;

void drop_if_unused(Registry &r, BoxIt it)
{
	if (it->second.viewers.empty() && it->second.holds.empty())
		r.boxes.erase(it);
}

using HoldIt = std::map<std::pair<std::uint32_t, std::uint32_t>, Hold>::iterator;

// The hold of message (uidvalidity, uid) of the mailbox at `dir`, with its mailbox's entry, or
// nothing. Under r.mutex.
std::optional<std::pair<BoxIt, HoldIt>> find_hold(Registry &r, const std::string &dir, std::uint32_t uidvalidity,
						  std::uint32_t uid)
{
	auto it = r.boxes.find(dir);
	if (it == r.boxes.end())
		return std::nullopt;
	auto h = it->second.holds.find({uidvalidity, uid});
	if (h == it->second.holds.end())
		return std::nullopt;
	return std::make_pair(it, h);
}

// Takes `viewer` off `hold`; true when that was the last holder of a file already in place,
// which is then the caller's to remove.
bool let_go(Hold &hold, MailboxViewer::State *viewer)
{
	auto me = std::find(hold.holders.begin(), hold.holders.end(), viewer);
	if (me == hold.holders.end())
		return false;
	hold.holders.erase(me);
	viewer->holds.fetch_sub(1, std::memory_order_relaxed);
	return hold.holders.empty() && hold.placed;
}

// The pid in "maild-held.<pid>.<uidvalidity>.<uid>"; nothing for any other name.
std::optional<pid_t> held_pid(std::string_view name)
{
	if (!name.starts_with(held_prefix))
		return std::nullopt;
	name.remove_prefix(held_prefix.size());
	long pid = 0;
	const char *end = name.data() + name.size();
	auto [p, ec] = std::from_chars(name.data(), end, pid);
	if (ec != std::errc() || p == name.data() || p == end || *p != '.' || pid <= 0)
		return std::nullopt;
	return static_cast<pid_t>(pid);
}

// Held files a crash left in dir/tmp/: those of processes that no longer run, and those of this
// pid that the registry does not know (an earlier maild that had the same pid, as in a
// container where it is always the same). Files of other running processes are theirs.
void sweep_leftovers(const std::string &dir)
{
	std::string tmp = dir + "/tmp";
	DIR *d = opendir(tmp.c_str());
	if (d == nullptr)
		return;
	while (dirent *e = readdir(d)) {
		auto pid = held_pid(e->d_name);
		if (!pid)
			continue;
		if (*pid != getpid()) {
			if (kill(*pid, 0) < 0 && errno == ESRCH)
				unlinkat(dirfd(d), e->d_name, 0);
			continue;
		}
		// Under the mutex: a hold of ours being made now is registered before its file appears.
		Registry &r = registry();
		std::lock_guard lock(r.mutex);
		std::string path = tmp + "/" + e->d_name;
		auto it = r.boxes.find(dir);
		bool known = it != r.boxes.end() &&
			     std::any_of(it->second.holds.begin(), it->second.holds.end(),
					 [&](const auto &h) { return h.second.path == path; });
		if (!known)
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

} // namespace

MailboxViewer::MailboxViewer(const std::string &dir)
{
	auto state = std::make_unique<State>();
	state->dir = dir;
	bool sweep = false;
	{
		Registry &r = registry();
		std::lock_guard lock(r.mutex);
		auto [it, inserted] = r.boxes.try_emplace(dir);
		it->second.viewers.push_back(state.get());
		if (inserted && !r.swept.contains(dir)) {
			if (r.swept.size() >= swept_max)
				r.swept.clear();
			r.swept.insert(dir);
			sweep = true;
		}
	}
	state_ = state.release();
	if (sweep)
		sweep_leftovers(dir);
}

MailboxViewer &MailboxViewer::operator=(MailboxViewer &&other) noexcept
{
	if (this != &other) {
		reset();
		state_ = other.state_;
		other.state_ = nullptr;
	}
	return *this;
}

std::optional<HeldMessage> MailboxViewer::held(std::uint32_t uidvalidity, std::uint32_t uid) const
{
	if (state_ == nullptr)
		return std::nullopt;
	Registry &r = registry();
	std::lock_guard lock(r.mutex);
	auto found = find_hold(r, state_->dir, uidvalidity, uid);
	if (!found)
		return std::nullopt;
	const Hold &h = found->second->second;
	if (!h.placed || std::find(h.holders.begin(), h.holders.end(), state_) == h.holders.end())
		return std::nullopt;
	return HeldMessage{h.path, h.vsize};
}

void MailboxViewer::release_unless(const std::function<bool(std::uint32_t uid)> &shown)
{
	if (state_ == nullptr || state_->holds.load(std::memory_order_acquire) == 0)
		return;
	std::vector<std::string> doomed;
	{
		Registry &r = registry();
		std::lock_guard lock(r.mutex);
		auto it = r.boxes.find(state_->dir);
		if (it == r.boxes.end())
			return;
		auto &holds = it->second.holds;
		for (auto h = holds.begin(); h != holds.end();) {
			if (!shown(h->first.second) && let_go(h->second, state_)) {
				doomed.push_back(std::move(h->second.path));
				h = holds.erase(h);
			} else {
				++h;
			}
		}
	}
	// The last holder is gone: nobody can look the path up any more.
	for (const auto &path : doomed)
		unlink(path.c_str());
}

void MailboxViewer::reset()
{
	if (state_ == nullptr)
		return;
	std::vector<std::string> doomed;
	{
		Registry &r = registry();
		std::lock_guard lock(r.mutex);
		auto it = r.boxes.find(state_->dir);
		if (it != r.boxes.end()) {
			auto &viewers = it->second.viewers;
			viewers.erase(std::remove(viewers.begin(), viewers.end(), state_), viewers.end());
			auto &holds = it->second.holds;
			for (auto h = holds.begin(); h != holds.end();) {
				if (let_go(h->second, state_)) {
					doomed.push_back(std::move(h->second.path));
					h = holds.erase(h);
				} else {
					++h;
				}
			}
			drop_if_unused(r, it);
		}
	}
	delete state_;
	state_ = nullptr;
	for (const auto &path : doomed)
		unlink(path.c_str());
}

namespace expunge_hold {

std::optional<std::string> begin(const std::string &dir, std::uint32_t uidvalidity, std::uint32_t uid,
				 std::uint64_t vsize, const MailboxViewer *by)
{
	Registry &r = registry();
	std::lock_guard lock(r.mutex);
	auto it = r.boxes.find(dir);
	if (it == r.boxes.end())
		return std::nullopt;
	Hold hold;
	for (MailboxViewer::State *v : it->second.viewers) {
		if (by == nullptr || v != by->state())
			hold.holders.push_back(v);
	}
	// A second hold of one message cannot happen (its file is gone from cur/ after the first);
	// should it anyway, the file is removed rather than the first hold's record overwritten.
	if (hold.holders.empty() || it->second.holds.count({uidvalidity, uid}) != 0)
		return std::nullopt;
	for (MailboxViewer::State *v : hold.holders)
		v->holds.fetch_add(1, std::memory_order_release);
	hold.path = dir + "/tmp/" + std::string(held_prefix) + std::to_string(getpid()) + "." +
		    std::to_string(uidvalidity) + "." + std::to_string(uid);
	hold.vsize = vsize;
	std::string path = hold.path;
	it->second.holds.emplace(std::make_pair(uidvalidity, uid), std::move(hold));
	return path;
}

void placed(const std::string &dir, std::uint32_t uidvalidity, std::uint32_t uid)
{
	std::string doomed;
	{
		Registry &r = registry();
		std::lock_guard lock(r.mutex);
		auto found = find_hold(r, dir, uidvalidity, uid);
		if (!found)
			return;
		auto [it, h] = *found;
		h->second.placed = true;
		if (!h->second.holders.empty())
			return;
		// Every holder deselected between begin() and the rename.
		doomed = std::move(h->second.path);
		it->second.holds.erase(h);
		drop_if_unused(r, it);
	}
	unlink(doomed.c_str());
}

void cancel(const std::string &dir, std::uint32_t uidvalidity, std::uint32_t uid)
{
	Registry &r = registry();
	std::lock_guard lock(r.mutex);
	auto found = find_hold(r, dir, uidvalidity, uid);
	if (!found)
		return;
	auto [it, h] = *found;
	for (MailboxViewer::State *v : h->second.holders)
		v->holds.fetch_sub(1, std::memory_order_relaxed);
	it->second.holds.erase(h);
	drop_if_unused(r, it);
}

std::size_t holds()
{
	Registry &r = registry();
	std::lock_guard lock(r.mutex);
	std::size_t n = 0;
	for (const auto &[dir, box] : r.boxes)
		n += box.holds.size();
	return n;
}

std::size_t mailboxes()
{
	Registry &r = registry();
	std::lock_guard lock(r.mutex);
	return r.boxes.size();
}

} // namespace expunge_hold

} // namespace maild
