// NOTIFY (RFC 5465): what one session asked to be told of, and the watches that tell it. The
// session's side (the command, sending the notifications) is in imap-notify.cpp.
//
// Every mailbox with message events is watched through mailbox-watch.hpp (the loop's file-change
// watches, shared with IDLE and other sessions); mailbox names and subscriptions through a watch
// on the user's root (INBOX's Maildir, which holds the folders and the subscriptions file). A
// watch only marks what changed; a short timer then sends what is due in one go, so a burst of
// deliveries gives a few STATUS lines, not one per message, and nothing is queued but a mark per
// mailbox: what is sent is read from the disk when it is sent.
#pragma once

#include "imap/imap-parser.hpp"
#include "imap/mailbox-watch.hpp"

#include <ioloop/ioloop.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <sys/types.h>
#include <vector>

namespace maild {

// One watched mailbox, or the root.
struct NotifyWatched final : MailboxWatcher {
	std::function<void()> on_change;
	std::string name;
	unsigned events = 0; // NotifyGroup::Event bits that apply to it
	MailboxWatch watch;
	bool dirty = false;
	// The STATUS values the client was last given (or that NOTIFY SET found).
	bool known = false;
	std::uint64_t messages = 0, uidnext = 0, uidvalidity = 0, unseen = 0;

	void mailbox_changed(MailboxSnapshot &) override
	{
		dirty = true;
		on_change();
	}
};

struct NotifyState {
	// At most this many mailboxes watched per session (each is three watches, and with kqueue
	// three descriptors, shared with other sessions on the same mailbox): NOTIFY SET over it is
	// refused with NO [LIMIT]; mailboxes created later beyond it end the notifications with
	// [NOTIFICATIONOVERFLOW] (RFC 5465 5.8).
	static constexpr std::size_t max_mailboxes = 256;
	// Changes that come within this long of the first are sent together.
	static constexpr std::chrono::milliseconds coalesce{100};

	std::vector<NotifyGroup> groups;
	// The SELECTED or SELECTED-DELAYED group's events (0: none), and its MessageNew fetch-att.
	unsigned selected_events = 0;
	bool selected_delayed = false;
	std::vector<FetchAtt> new_fetch;
	NotifyWatched selected; // the selected mailbox, while there is one

	// Every mailbox with message events, by name.
	std::map<std::string, std::unique_ptr<NotifyWatched>> boxes;

	// MailboxName / SubscriptionChange: the root, and what the client was last told of it.
	bool names = false, subscriptions = false;
	NotifyWatched root;
	std::map<std::string, std::pair<dev_t, ino_t>> known_names;
	std::set<std::string> known_subscriptions;

	iol::Timeout flush_timer;
};

} // namespace maild
