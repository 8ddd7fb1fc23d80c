// ImapSession's mailbox commands: SELECT/EXAMINE, STATUS, CREATE/DELETE/RENAME and
// SUBSCRIBE/UNSUBSCRIBE (LIST and LSUB: imap-list.cpp).
#include "imap/imap-session.hpp"

#include "base/ascii.hpp"
#include "base/log.hpp"
#include "imap/imap-flags.hpp"
#include "storage/mail-folders.hpp"

#include <algorithm>

namespace maild {

std::optional<std::string> ImapSession::mailbox_dir(const ImapCommand &cmd, const std::string &name)
{
	auto dir = valid_mailbox_name(name) ? mailbox_directory(user_root_, name) : std::nullopt;
	if (!dir)
		tagged(cmd.tag, "NO", "[CANNOT] Invalid mailbox name");
	return dir;
}

std::optional<std::string> ImapSession::open_mailbox(const ImapCommand &cmd, Mailbox &mb)
{
	const std::string &name = cmd.args[0];
	auto dir = mailbox_dir(cmd, name);
	if (!dir)
		return std::nullopt;
	if (!mailbox_exists(user_root_, name)) {
		tagged(cmd.tag, "NO", "[NONEXISTENT] No such mailbox");
		return std::nullopt;
	}
	std::string error;
	if (!Mailbox::open(*dir, mb, error)) {
		log_line(LogLevel::error, conn_.peer(), "user=" + user_ + ": " + error);
		tagged(cmd.tag, "NO", "[SERVERBUG] Cannot open the mailbox");
		return std::nullopt;
	}
	return dir;
}

void ImapSession::select(const ImapCommand &cmd)
{
	bool read_only = cmd.verb == ImapVerb::examine;
	if (cmd.qresync && !qresync_) {
		tagged(cmd.tag, "BAD", "QRESYNC is not enabled"); // RFC 7162 3.2.5
		return;
	}
	if (state_ == State::selected) {
		close_mailbox();
		// RFC 7162 3.2.11: the responses that follow are the new mailbox's.
		untagged("OK [CLOSED] Previous mailbox closed");
	}
	if (cmd.select_condstore || cmd.qresync)
		condstore_ = true;
	std::string name = cmd.args[0];
	// A viewer before the mailbox is read: an expunge from then on is held for what this
	// session is about to show.
	MailboxViewer viewer;
	if (auto d = valid_mailbox_name(name) ? mailbox_directory(user_root_, name) : std::nullopt)
		viewer = MailboxViewer(*d);
	Mailbox mb;
	auto dir = open_mailbox(cmd, mb);
	if (!dir)
		return;
	viewer_ = std::move(viewer);
	std::string error;
	std::uint32_t first_recent = mb.first_recent_uid();
	if (!read_only && !mb.claim_recent(error))
		log_line(LogLevel::warn, conn_.peer(), "user=" + user_ + ": " + error);
	mailbox_ = std::move(mb);
	keywords_ = Keywords::load(*dir);
	mailbox_name_ = name;
	read_only_ = read_only;
	view_.clear();
	std::size_t recent = 0, first_unseen = 0;
	for (const auto &m : mailbox_.messages()) {
		ViewMessage v{m.uid, m.flags, m.uid >= first_recent, false, m.modseq};
		recent += v.recent ? 1 : 0;
		view_.push_back(std::move(v));
		if (first_unseen == 0 && m.flags.find('S') == std::string::npos)
			first_unseen = view_.size();
	}
	view_max_uid_ = mailbox_.next_uid() - 1;
	state_ = State::selected;

	std::string keywords;
	for (const auto &k : keywords_.names)
		keywords += " " + k;
	untagged("FLAGS (" + imap_system_flags() + keywords + ")");
	untagged(std::to_string(view_.size()) + " EXISTS");
	untagged(std::to_string(recent) + " RECENT");
	if (first_unseen != 0)
		untagged("OK [UNSEEN " + std::to_string(first_unseen) + "] First unseen");
	untagged("OK [UIDVALIDITY " + std::to_string(mailbox_.uidvalidity()) + "] UIDs valid");
	untagged("OK [UIDNEXT " + std::to_string(mailbox_.next_uid()) + "] Predicted next UID");
	untagged("OK [PERMANENTFLAGS (" + (read_only ? std::string() : imap_system_flags() + keywords + " \\*") +
		 ")] Flags permitted");
	untagged("OK [HIGHESTMODSEQ " + std::to_string(mailbox_.highest_modseq()) + "] Highest");
	if (cmd.qresync && cmd.qresync->uidvalidity == mailbox_.uidvalidity()) {
		// RFC 7162 3.2.5: what was expunged, then what changed since the client's modseq.
		// seq-match-data only helps a server that would otherwise have to guess which UIDs the
		// client knows; here every UID the mailbox does not hold is reported, so it is unused.
		SequenceSet all;
		all.ranges.push_back({1, 0});
		std::string gone = vanished_uids(cmd.qresync->known_uids ? *cmd.qresync->known_uids : all);
		if (!gone.empty())
			untagged("VANISHED (EARLIER) " + gone);
		for (std::size_t i = 0; i < view_.size(); i++) {
			if (view_[i].modseq > cmd.qresync->modseq)
				untagged(std::to_string(i + 1) + " FETCH (UID " + std::to_string(view_[i].uid) + " FLAGS (" +
					 flags_of(view_[i]) + ") " + modseq_item(view_[i].modseq) + ")");
		}
	}
	notify_selected_changed(); // NOTIFY SELECTED follows the selected mailbox
	tagged(cmd.tag, "OK", read_only ? "[READ-ONLY] Examine completed" : "[READ-WRITE] Select completed");
}

void ImapSession::close_mailbox()
{
	state_ = State::authenticated;
	view_.clear();
	viewer_.reset();
	mailbox_ = Mailbox();
	mailbox_name_.clear();
	view_max_uid_ = 0;
	saved_uids_.clear();
	contexts_.clear(); // RFC 5267 4.3: updates end when the mailbox is no longer selected
	notify_selected_changed();
}

void ImapSession::status(const ImapCommand &cmd)
{
	std::string name = cmd.args[0];
	Mailbox mb;
	if (!open_mailbox(cmd, mb))
		return;
	if (std::find(cmd.status_items.begin(), cmd.status_items.end(), "HIGHESTMODSEQ") != cmd.status_items.end())
		condstore_ = true; // RFC 7162 3.1: a CONDSTORE enabling command
	untagged("STATUS " + imap_quote(name) + " (" + status_values(mb, cmd.status_items) + ")");
	done_ok(cmd, "Status completed");
}

std::string ImapSession::status_values(const Mailbox &mb, const std::vector<std::string> &names)
{
	std::size_t recent = 0, unseen = 0;
	for (const auto &m : mb.messages()) {
		recent += m.uid >= mb.first_recent_uid() ? 1 : 0;
		unseen += m.flags.find('S') == std::string::npos ? 1 : 0;
	}
	std::string items;
	for (const auto &item : names) {
		std::uint64_t value = 0;
		if (item == "MESSAGES")
			value = mb.messages().size();
		else if (item == "RECENT")
			value = recent;
		else if (item == "UIDNEXT")
			value = mb.next_uid();
		else if (item == "UIDVALIDITY")
			value = mb.uidvalidity();
		else if (item == "UNSEEN")
			value = unseen;
		else if (item == "HIGHESTMODSEQ")
			value = mb.highest_modseq();
		else
			continue;
		items += (items.empty() ? "" : " ") + item + " " + std::to_string(value);
	}
	return items;
}

void ImapSession::create_delete_rename(const ImapCommand &cmd)
{
	for (const auto &name : cmd.args) {
		std::string n = name;
		if (cmd.verb == ImapVerb::create && !n.empty() && n.back() == mailbox_delimiter)
			n.pop_back();
		if (!mailbox_dir(cmd, n))
			return;
	}
	std::string error;
	bool ok = false;
	const char *done = "";
	switch (cmd.verb) {
	case ImapVerb::create:
		ok = create_mailbox(user_root_, cmd.args[0], error);
		done = "Create completed";
		break;
	case ImapVerb::delete_:
		if (state_ == State::selected && cmd.args[0] == mailbox_name_) {
			error = "[INUSE] Mailbox is selected";
			break;
		}
		ok = delete_mailbox(user_root_, cmd.args[0], error);
		done = "Delete completed";
		break;
	default:
		if (state_ == State::selected && cmd.args[0] == mailbox_name_) {
			error = "[INUSE] Mailbox is selected";
			break;
		}
		ok = rename_mailbox(user_root_, cmd.args[0], cmd.args[1], error);
		done = "Rename completed";
		break;
	}
	if (!ok) {
		if (error.empty() || error[0] != '[') {
			log_line(LogLevel::error, conn_.peer(), "user=" + user_ + ": " + error);
			error = "[SERVERBUG] Operation failed";
		}
		tagged(cmd.tag, "NO", error);
		return;
	}
	notify_local_change(); // NOTIFY MailboxName: LIST before the OK
	done_ok(cmd, done);
}

void ImapSession::subscribe(const ImapCommand &cmd)
{
	bool on = cmd.verb == ImapVerb::subscribe;
	std::string name = cmd.args[0];
	if (!mailbox_dir(cmd, name))
		return;
	std::string error;
	if (!set_subscribed(user_root_, name, on, error)) {
		if (error.rfind("[LIMIT]", 0) == 0) {
			tagged(cmd.tag, "NO", error);
			return;
		}
		log_line(LogLevel::error, conn_.peer(), "user=" + user_ + ": " + error);
		tagged(cmd.tag, "NO", "[SERVERBUG] Cannot save subscriptions");
		return;
	}
	notify_local_change(); // NOTIFY SubscriptionChange: LIST before the OK
	done_ok(cmd, on ? "Subscribe completed" : "Unsubscribe completed");
}

} // namespace maild
