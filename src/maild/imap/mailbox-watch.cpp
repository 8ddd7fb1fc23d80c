#include "imap/mailbox-watch.hpp"

#include "base/log.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <sys/stat.h>
#include <utility>
#include <vector>

namespace maild {

struct MailboxWatch::Entry {
	iol::IoLoop *loop = nullptr;
	std::string dir;
	// The mailbox's directory (the uidlist is renamed into it), cur/ and new/.
	static constexpr const char *parts[3] = {"", "/cur", "/new"};
	iol::Notify notify[3];
	// What each watch watches: a directory replaced or removed leaves its watch dead.
	std::pair<dev_t, ino_t> ids[3]{};
	iol::Timeout poll; // while not all three are watched
	std::vector<MailboxWatcher *> subs;
	std::size_t live = 0;
	int dispatching = 0;

	void arm();
	bool replaced() const;
	void changed();
	void drop_if_unused();
};

namespace {

using Key = std::pair<iol::IoLoop *, std::string>;
// Per thread, as each loop (one per --workers thread) runs in its own: a watch's callback runs
// in the loop that added it, and so does every session that subscribes to it.
thread_local std::map<Key, std::unique_ptr<MailboxWatch::Entry>> registry;

std::atomic<bool> warned{false};

std::pair<dev_t, ino_t> id_of(const std::string &path)
{
	struct stat st {};
	if (stat(path.c_str(), &st) < 0)
		return {0, 0};
	return {st.st_dev, st.st_ino};
}

} // namespace

void MailboxWatch::Entry::arm()
{
	int error = 0;
	bool all = true;
	for (int i = 0; i < 3 && all; i++) {
		std::string path = dir + parts[i];
		// Before the watch: a directory replaced in between then shows as replaced at the next
		// change, and is watched again.
		ids[i] = id_of(path);
		auto r = loop->add_notify(path, notify[i], [e = this] { e->changed(); });
		if (r != iol::NotifyResult::added) {
			all = false;
			error = errno;
		}
	}
	if (all) {
		poll.remove();
		return;
	}
	for (auto &n : notify)
		n.remove();
	// A mailbox that is gone (deleted by another session) is polled until it is back; anything
	// else is worth one line, as every IDLE session then polls.
	if (error != ENOENT && !warned.exchange(true))
		log_line(LogLevel::warn, {}, "cannot watch " + dir + " for changes (" + std::strerror(error) +
						 "): IDLE polls such mailboxes every " +
						 std::to_string(poll_interval.count()) + " ms");
	if (!poll)
		poll = loop->add_timeout(poll_interval, [e = this] {
			e->arm();
			e->changed();
		});
}

bool MailboxWatch::Entry::replaced() const
{
	for (int i = 0; i < 3; i++) {
		if (id_of(dir + parts[i]) != ids[i])
			return true;
	}
	return false;
}

// May destroy this entry (when the last subscriber stopped meanwhile): nothing may follow it.
void MailboxWatch::Entry::changed()
{
	if (!poll && replaced())
		arm();
	dispatching++;
	// Subscribers that join meanwhile looked at the mailbox themselves; those that leave are
	// nulled, not erased, so the indexes stay.
	MailboxSnapshot snapshot;
	std::size_t n = subs.size();
	for (std::size_t i = 0; i < n; i++) {
		if (subs[i] != nullptr)
			subs[i]->mailbox_changed(snapshot);
	}
	dispatching--;
	drop_if_unused();
}

void MailboxWatch::Entry::drop_if_unused()
{
	if (dispatching > 0)
		return;
	std::erase(subs, nullptr);
	if (live == 0)
		registry.erase(Key(loop, dir));
}

void MailboxWatch::start(iol::IoLoop &loop, const std::string &dir, MailboxWatcher &w)
{
	stop();
	auto &slot = registry[Key(&loop, dir)];
	if (!slot) {
		slot = std::make_unique<Entry>();
		slot->loop = &loop;
		slot->dir = dir;
		slot->arm();
	}
	entry_ = slot.get();
	watcher_ = &w;
	entry_->subs.push_back(&w);
	entry_->live++;
}

void MailboxWatch::stop()
{
	Entry *e = std::exchange(entry_, nullptr);
	if (e == nullptr)
		return;
	auto it = std::find(e->subs.begin(), e->subs.end(), watcher_);
	if (it != e->subs.end())
		*it = nullptr;
	e->live--;
	e->drop_if_unused();
}

std::string MailboxWatch::describe(iol::IoLoop &loop, const std::string &probe)
{
	std::string text = std::string("notify backend ") + io_loop_get_notify_backend();
	if (unsigned ms = io_loop_get_notify_poll_msecs(); ms != 0)
		text += ", which polls every " + std::to_string(ms) + " ms";
	iol::Notify n;
	if (loop.add_notify(probe, n, [] {}) == iol::NotifyResult::not_supported)
		text += std::string(", cannot watch (") + std::strerror(errno) + "): IDLE polls every " +
			std::to_string(poll_interval.count()) + " ms";
	return text;
}

} // namespace maild
