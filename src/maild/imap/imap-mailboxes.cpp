// ImapSession's mailbox commands: SELECT/EXAMINE, LIST/LSUB, STATUS, CREATE/DELETE/RENAME and
// SUBSCRIBE/UNSUBSCRIBE.
#include "imap/imap-session.hpp"

#include "base/ascii.hpp"
#include "base/log.hpp"
#include "imap/imap-flags.hpp"
#include "storage/mail-folders.hpp"

#include <algorithm>
#include <set>

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
	if (state_ == State::selected)
		close_mailbox();
	std::string name = cmd.args[0];
	Mailbox mb;
	auto dir = open_mailbox(cmd, mb);
	if (!dir)
		return;
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
		ViewMessage v{m.uid, m.flags, m.uid >= first_recent, false};
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
	tagged(cmd.tag, "OK", read_only ? "[READ-ONLY] Examine completed" : "[READ-WRITE] Select completed");
}

void ImapSession::close_mailbox()
{
	state_ = State::authenticated;
	view_.clear();
	mailbox_ = Mailbox();
	mailbox_name_.clear();
	view_max_uid_ = 0;
	saved_uids_.clear();
}

// LIST and LSUB answer one line per mailbox, queued while the output is under its bound, in
// slices: a user with many thousands of folders neither fills memory nor holds the loop.
class ImapSession::ListJob final : public SlicedCommand {
public:
	ListJob(ImapSession &s, const ImapCommand &cmd, bool lsub) : s_(s), cmd_(cmd), lsub_(lsub)
	{
		full_ = cmd_.args[0] + cmd_.args[1];
		all_ = list_mailboxes(s_.user_root_);
		names_ = lsub_ ? load_subscriptions(s_.user_root_) : all_;
		if (lsub_)
			subscribed_.insert(names_.begin(), names_.end());
		// Sorted, the children of a name are the run of names after it that start with it
		// and the delimiter: one binary search each instead of a pass over every name.
		std::sort(all_.begin(), all_.end());
	}
	bool step(std::chrono::steady_clock::time_point until) override;

private:
	bool has_children(const std::string &name) const
	{
		std::string prefix = name + mailbox_delimiter;
		auto it = std::lower_bound(all_.begin(), all_.end(), prefix);
		return it != all_.end() && it->compare(0, prefix.size(), prefix) == 0 && it->size() > prefix.size();
	}

	// RFC 3501 6.3.9: a subscribed name that "%" stops short of shows as its unsubscribed
	// parent the pattern does match, flagged \Noselect, once.
	void lsub_parents(const std::string &name)
	{
		for (std::size_t at = name.find(mailbox_delimiter); at != std::string::npos;
		     at = name.find(mailbox_delimiter, at + 1)) {
			std::string parent = name.substr(0, at);
			if (subscribed_.count(parent) == 0 && list_pattern_matches(full_, parent, mailbox_delimiter) &&
			    parents_sent_.insert(parent).second)
				s_.untagged("LSUB (\\Noselect) \".\" " + imap_quote(parent));
		}
	}

	ImapSession &s_;
	ImapCommand cmd_;
	bool lsub_;
	std::string full_;
	std::vector<std::string> all_, names_;
	std::set<std::string> subscribed_, parents_sent_; // LSUB only; both bounded by the subscriptions
	std::size_t next_ = 0;
};

bool ImapSession::ListJob::step(std::chrono::steady_clock::time_point until)
{
	const char *kind = lsub_ ? "LSUB" : "LIST";
	while (next_ < names_.size()) {
		if (s_.conn_.output_full() || std::chrono::steady_clock::now() >= until)
			return false;
		const std::string &name = names_[next_++];
		bool match = list_pattern_matches(full_, name, mailbox_delimiter);
		if (!match && name == "INBOX") {
			std::string upper = full_;
			for (std::size_t i = 0; i < upper.size() && i < 5; i++)
				upper[i] = ascii_upper(upper[i]);
			match = list_pattern_matches(upper, name, mailbox_delimiter);
		}
		if (!match && lsub_)
			lsub_parents(name);
		if (!match)
			continue;
		std::string attrs;
		if (!lsub_)
			attrs = has_children(name) ? "\\HasChildren" : "\\HasNoChildren";
		s_.untagged(std::string(kind) + " (" + attrs + ") \".\" " + imap_quote(name));
	}
	s_.done_ok(cmd_, lsub_ ? "Lsub completed" : "List completed");
	return true;
}

void ImapSession::list(const ImapCommand &cmd)
{
	bool lsub = cmd.verb == ImapVerb::lsub;
	if (cmd.args[1].empty() && !lsub) {
		// The hierarchy delimiter and root (RFC 3501 6.3.8).
		untagged("LIST (\\Noselect) \".\" \"\"");
		done_ok(cmd, "List completed");
		return;
	}
	sliced_ = std::make_unique<ListJob>(*this, cmd, lsub);
}

void ImapSession::status(const ImapCommand &cmd)
{
	std::string name = cmd.args[0];
	Mailbox mb;
	if (!open_mailbox(cmd, mb))
		return;
	std::size_t recent = 0, unseen = 0;
	for (const auto &m : mb.messages()) {
		recent += m.uid >= mb.first_recent_uid() ? 1 : 0;
		unseen += m.flags.find('S') == std::string::npos ? 1 : 0;
	}
	std::string items;
	for (const auto &item : cmd.status_items) {
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
		else
			continue;
		items += (items.empty() ? "" : " ") + item + " " + std::to_string(value);
	}
	untagged("STATUS " + imap_quote(name) + " (" + items + ")");
	done_ok(cmd, "Status completed");
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
	done_ok(cmd, on ? "Subscribe completed" : "Unsubscribe completed");
}

} // namespace maild
