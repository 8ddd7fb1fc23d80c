// NOTIFY (RFC 5465): the command, and sending what the watches (imap-notify.hpp) marked.
//
// Notifications go out only between commands (never inside another command's output, never
// while a command line or literal is half read) and only while the output is under its bound:
// a client that does not read holds a mark per mailbox, not a queue. The selected mailbox is
// reported as sync() reports it after any command (EXISTS, FETCH FLAGS, and EXPUNGE unless the
// filter is SELECTED-DELAYED: RFC 5465 lets NOTIFY send EXPUNGE outside a command, which RFC
// 3501 7.4.1 otherwise forbids); other mailboxes as STATUS, names and subscriptions as LIST.
#include "imap/imap-notify.hpp"

#include "base/log.hpp"
#include "imap/imap-flags.hpp"
#include "imap/imap-session.hpp"
#include "storage/mail-folders.hpp"

#include <algorithm>
#include <sys/stat.h>
#include <utility>

namespace maild {

namespace {

using Group = NotifyGroup;

constexpr unsigned message_events = Group::message_new | Group::message_expunge | Group::flag_change;
constexpr unsigned unsupported_events =
	Group::annotation_change | Group::mailbox_metadata_change | Group::server_metadata_change;

bool is_selected(const Group &g)
{
	return g.filter == Group::Filter::selected || g.filter == Group::Filter::selected_delayed;
}

bool under(const std::string &name, const std::string &top)
{
	return name == top ||
	       (name.size() > top.size() && name.compare(0, top.size(), top) == 0 && name[top.size()] == mailbox_delimiter);
}

// The events of the first group other than SELECTED whose filter takes `name`.
unsigned events_for(const std::vector<Group> &groups, const std::string &name, const std::set<std::string> &subscribed)
{
	for (const auto &g : groups) {
		bool match = false;
		switch (g.filter) {
		case Group::Filter::selected:
		case Group::Filter::selected_delayed:
			continue;
		case Group::Filter::inboxes:
			match = name == "INBOX"; // the only mailbox mail is delivered to
			break;
		case Group::Filter::personal:
			match = true;
			break;
		case Group::Filter::subscribed:
			match = subscribed.count(name) > 0;
			break;
		case Group::Filter::subtree:
			match = std::any_of(g.mailboxes.begin(), g.mailboxes.end(),
					    [&](const std::string &top) { return under(name, top); });
			break;
		case Group::Filter::mailboxes:
			match = std::find(g.mailboxes.begin(), g.mailboxes.end(), name) != g.mailboxes.end();
			break;
		}
		if (match)
			return g.events;
	}
	return 0;
}

std::pair<dev_t, ino_t> dir_id(const std::optional<std::string> &path)
{
	struct stat st {};
	if (!path || stat(path->c_str(), &st) < 0)
		return {0, 0};
	return {st.st_dev, st.st_ino};
}

std::string list_line(const char *attributes, const std::string &name)
{
	return std::string("LIST (") + attributes + ") \".\" " + imap_quote(name);
}

} // namespace

void ImapSession::notify(const ImapCommand &cmd)
{
	const NotifyParams &p = cmd.notify;
	if (p.none) {
		notify_.reset();
		notify_wait_output_ = false;
		done_ok(cmd, "NOTIFY completed");
		return;
	}
	// RFC 5465 5: events this server cannot send are refused with the list of those it can.
	for (const auto &g : p.groups) {
		if ((g.events & unsupported_events) || !g.unknown_events.empty()) {
			tagged(cmd.tag, "NO",
			       "[BADEVENT (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange)] "
			       "Event not supported");
			return;
		}
	}
	bool selected_seen = false;
	for (const auto &g : p.groups) {
		bool both = (g.events & Group::message_new) && (g.events & Group::message_expunge);
		// RFC 5465 5.2, 5.3: MessageNew and MessageExpunge together or not at all; 5.1:
		// FlagChange only with both.
		if ((g.events & (Group::message_new | Group::message_expunge)) && !both) {
			tagged(cmd.tag, "BAD", "MessageNew and MessageExpunge must be given together");
			return;
		}
		if ((g.events & Group::flag_change) && !both) {
			tagged(cmd.tag, "BAD", "FlagChange needs MessageNew and MessageExpunge");
			return;
		}
		if (g.new_fetch_given && !is_selected(g)) {
			tagged(cmd.tag, "BAD", "MessageNew fetch attributes are only for the selected mailbox");
			return;
		}
		if (is_selected(g) && std::exchange(selected_seen, true)) {
			tagged(cmd.tag, "BAD", "SELECTED given twice");
			return;
		}
		for (const auto &a : g.new_fetch) {
			if (a.kind != FetchAtt::Kind::uid && a.kind != FetchAtt::Kind::flags && a.kind != FetchAtt::Kind::modseq) {
				tagged(cmd.tag, "NO", "[CANNOT] MessageNew sends only UID, FLAGS and MODSEQ here");
				return;
			}
		}
		for (const auto &name : g.mailboxes) {
			if (!mailbox_dir(cmd, name))
				return;
			if (!mailbox_exists(user_root_, name)) {
				tagged(cmd.tag, "NO", "[NONEXISTENT] No such mailbox");
				return;
			}
		}
	}

	auto st = std::make_unique<NotifyState>();
	st->groups = p.groups;
	bool others = false;
	for (const auto &g : p.groups) {
		if (is_selected(g)) {
			st->selected_events = g.events;
			st->selected_delayed = g.filter == Group::Filter::selected_delayed;
			st->new_fetch = g.new_fetch;
			continue;
		}
		others = true;
		st->names = st->names || (g.events & Group::mailbox_name);
		st->subscriptions = st->subscriptions || (g.events & Group::subscription_change);
	}
	st->selected.on_change = [this] { notify_schedule(); };
	st->root.on_change = [this] { notify_schedule(); };
	if (others) {
		// The root's watch first: a mailbox created meanwhile is then seen by the next look.
		st->root.watch.start(conn_.loop(), user_root_, st->root);
		for (const auto &name : list_mailboxes(user_root_))
			st->known_names[name] = dir_id(mailbox_directory(user_root_, name));
		auto subs = load_subscriptions(user_root_);
		st->known_subscriptions.insert(subs.begin(), subs.end());
	}
	// NOTIFY SET replaces what was set before (RFC 5465 3); refused, it leaves it.
	auto previous = std::move(notify_);
	notify_ = std::move(st);
	if (!notify_rescan(p.status)) {
		notify_ = std::move(previous);
		tagged(cmd.tag, "NO",
		       "[LIMIT] NOTIFY watches at most " + std::to_string(NotifyState::max_mailboxes) + " mailboxes");
		return;
	}
	notify_wait_output_ = false;
	notify_selected_changed();
	done_ok(cmd, "NOTIFY completed");
}

// Watches every mailbox the groups give message events to, and no other; with `initial_status`
// sends each one's STATUS (RFC 5465 3.1: NOTIFY SET STATUS). False, changing nothing, when that
// is more mailboxes than a session may watch.
bool ImapSession::notify_rescan(bool initial_status)
{
	NotifyState &st = *notify_;
	std::map<std::string, unsigned> want;
	bool any = std::any_of(st.groups.begin(), st.groups.end(),
			       [](const Group &g) { return !is_selected(g) && (g.events & message_events); });
	if (any) {
		std::set<std::string> subscribed;
		for (auto &s : load_subscriptions(user_root_))
			subscribed.insert(std::move(s));
		for (const auto &name : list_mailboxes(user_root_)) {
			unsigned ev = events_for(st.groups, name, subscribed) & message_events;
			if (ev == 0)
				continue;
			if (want.size() >= NotifyState::max_mailboxes)
				return false;
			want[name] = ev;
		}
	}
	std::erase_if(st.boxes, [&](const auto &b) { return want.count(b.first) == 0; });
	for (const auto &[name, ev] : want) {
		auto &slot = st.boxes[name];
		if (!slot) {
			auto dir = mailbox_directory(user_root_, name);
			if (!dir)
				continue;
			slot = std::make_unique<NotifyWatched>();
			slot->name = name;
			slot->on_change = [this] { notify_schedule(); };
			// Watching before reading: a change in between is reported, not lost.
			slot->watch.start(conn_.loop(), *dir, *slot);
		}
		slot->events = ev;
		if (!slot->known || initial_status)
			notify_status(*slot, initial_status);
	}
	return true;
}

// STATUS for a mailbox other than the selected one (RFC 5465 5.2, 5.3: MESSAGES, UIDNEXT and
// UIDVALIDITY; UNSEEN too, which is what FlagChange changes), when it changed or `always`.
void ImapSession::notify_status(NotifyWatched &box, bool always)
{
	box.dirty = false;
	auto dir = mailbox_directory(user_root_, box.name);
	Mailbox mb;
	std::string error;
	if (!dir || !Mailbox::open(*dir, mb, error))
		return; // gone: MailboxName tells of that
	std::uint64_t unseen = 0;
	for (const auto &m : mb.messages())
		unseen += m.flags.find('S') == std::string::npos ? 1 : 0;
	bool changed = !box.known || box.messages != mb.messages().size() || box.uidnext != mb.next_uid() ||
		       box.uidvalidity != mb.uidvalidity() || ((box.events & Group::flag_change) && box.unseen != unseen);
	bool first = !box.known;
	box.known = true;
	box.messages = mb.messages().size();
	box.uidnext = mb.next_uid();
	box.uidvalidity = mb.uidvalidity();
	box.unseen = unseen;
	// The selected mailbox has its own responses; a first look only sets what later ones compare.
	if ((state_ == State::selected && box.name == mailbox_name_) || (first && !always) || !(always || changed))
		return;
	untagged("STATUS " + imap_quote(box.name) + " (MESSAGES " + std::to_string(box.messages) + " UIDNEXT " +
		 std::to_string(box.uidnext) + " UIDVALIDITY " + std::to_string(box.uidvalidity) + " UNSEEN " +
		 std::to_string(box.unseen) + ")");
}

// MailboxName and SubscriptionChange (RFC 5465 5.4, 5.5): what changed in the root since the
// client was last told, as LIST responses. A folder renamed keeps its directory, so a name gone
// and a name come with the same directory are one rename (LIST ... ("OLDNAME" (old)), RFC 5258).
void ImapSession::notify_names()
{
	NotifyState &st = *notify_;
	std::map<std::string, std::pair<dev_t, ino_t>> now;
	for (const auto &name : list_mailboxes(user_root_))
		now[name] = dir_id(mailbox_directory(user_root_, name));
	std::set<std::string> subs_now;
	for (auto &s : load_subscriptions(user_root_))
		subs_now.insert(std::move(s));
	std::set<std::string> subs_any = subs_now;
	subs_any.insert(st.known_subscriptions.begin(), st.known_subscriptions.end());
	auto wants = [&](const std::string &name, unsigned event) {
		return (events_for(st.groups, name, subs_any) & event) != 0;
	};
	if (st.names) {
		std::vector<std::string> gone;
		for (const auto &[name, id] : st.known_names) {
			if (now.count(name) == 0)
				gone.push_back(name);
		}
		for (const auto &entry : now) {
			const std::string &name = entry.first;
			if (st.known_names.count(name) != 0)
				continue;
			auto id = entry.second;
			auto old = std::find_if(gone.begin(), gone.end(), [&](const std::string &g) {
				return id.second != 0 && st.known_names.at(g) == id;
			});
			if (old != gone.end()) {
				if (wants(name, Group::mailbox_name) || wants(*old, Group::mailbox_name))
					untagged(list_line("", name) + " (\"OLDNAME\" (" + imap_quote(*old) + "))");
				gone.erase(old);
			} else if (wants(name, Group::mailbox_name)) {
				untagged(list_line("", name));
			}
		}
		for (const auto &name : gone) {
			if (wants(name, Group::mailbox_name))
				untagged(list_line("\\NonExistent", name));
		}
	}
	st.known_names = std::move(now);
	if (st.subscriptions) {
		for (const auto &name : subs_now) {
			if (st.known_subscriptions.count(name) == 0 && wants(name, Group::subscription_change))
				untagged(list_line("\\Subscribed", name));
		}
		for (const auto &name : st.known_subscriptions) {
			if (subs_now.count(name) == 0 && wants(name, Group::subscription_change))
				untagged(list_line("", name));
		}
	}
	st.known_subscriptions = std::move(subs_now);
	if (!notify_rescan(false))
		notify_overflow();
}

void ImapSession::notify_overflow()
{
	// RFC 5465 5.8: the server stops notifying, as after NOTIFY NONE, and says so.
	untagged("OK [NOTIFICATIONOVERFLOW] Too many mailboxes to watch; notifications are off");
	notify_.reset();
	notify_wait_output_ = false;
}

void ImapSession::notify_local_change()
{
	if (!notify_ || (!notify_->names && !notify_->subscriptions))
		return;
	// What this session changed is told before its tagged OK; the root's watch then finds
	// nothing new.
	notify_->root.dirty = false;
	notify_names();
}

void ImapSession::notify_selected_changed()
{
	if (!notify_)
		return;
	notify_->selected.watch.stop();
	notify_->selected.dirty = false;
	if (state_ == State::selected && notify_->selected_events != 0)
		notify_->selected.watch.start(conn_.loop(), mailbox_.dir(), notify_->selected);
}

bool ImapSession::notify_between_commands() const
{
	return (state_ == State::authenticated || state_ == State::selected) &&
	       (input_ == Input::command || input_ == Input::idle) && cmd_.empty() && !append_active_ &&
	       rejected_reply_.empty() && !busy();
}

void ImapSession::notify_schedule()
{
	if (!notify_ || notify_->flush_timer)
		return;
	notify_->flush_timer = conn_.loop().add_oneshot(NotifyState::coalesce, [this] {
		ImapSession *self = this; // the closure goes with the handle
		self->notify_->flush_timer.remove();
		self->notify_flush();
	});
}

void ImapSession::notify_flush()
{
	notify_wait_output_ = false;
	if (!notify_)
		return;
	if (state_ == State::logout) {
		notify_.reset();
		return;
	}
	if (!notify_between_commands()) {
		notify_schedule(); // a command is running: after it
		return;
	}
	if (conn_.output_full()) {
		// produce() calls again once the client has read.
		notify_wait_output_ = true;
		conn_.pump();
		return;
	}
	if (notify_->selected.dirty) {
		notify_->selected.dirty = false;
		if (state_ == State::selected) {
			std::uint32_t known = view_max_uid_;
			sync(!notify_->selected_delayed && (notify_->selected_events & Group::message_expunge));
			if (sync_pending_)
				notify_->selected.dirty = true;
			// MessageNew's fetch-att (RFC 5465 5.2): for each message the EXISTS announced.
			for (std::size_t i = 0; !notify_->new_fetch.empty() && i < view_.size(); i++) {
				if (view_[i].uid <= known)
					continue;
				std::string items;
				for (const auto &a : notify_->new_fetch) {
					items += items.empty() ? "" : " ";
					if (a.kind == FetchAtt::Kind::uid)
						items += "UID " + std::to_string(view_[i].uid);
					else if (a.kind == FetchAtt::Kind::flags)
						items += "FLAGS (" + flags_of(view_[i]) + ")";
					else
						items += modseq_item(view_[i].modseq);
				}
				untagged(std::to_string(i + 1) + " FETCH (" + items + ")");
			}
		}
	}
	if (notify_->root.dirty) {
		notify_->root.dirty = false;
		notify_names();
		if (!notify_) {
			conn_.pump();
			return;
		}
	}
	for (auto &[name, box] : notify_->boxes) {
		if (!box->dirty)
			continue;
		if (conn_.output_full())
			break;
		notify_status(*box, false);
	}
	bool left = notify_->selected.dirty ||
		    std::any_of(notify_->boxes.begin(), notify_->boxes.end(), [](const auto &b) { return b.second->dirty; });
	if (left)
		notify_wait_output_ = true;
	conn_.pump();
}

} // namespace maild
