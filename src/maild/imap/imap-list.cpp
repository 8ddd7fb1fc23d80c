// LIST and LSUB: RFC 3501's, with LIST-EXTENDED (RFC 5258: SUBSCRIBED, RECURSIVEMATCH, several
// patterns, RETURN options), LIST-STATUS (RFC 5819) and SPECIAL-USE (RFC 6154).
#include "imap/imap-session.hpp"

#include "base/ascii.hpp"
#include "storage/mail-folders.hpp"

#include <algorithm>
#include <iterator>
#include <set>

namespace maild {

namespace {

// The special use of a top-level mailbox, by the names clients and other servers give them.
const char *special_use_of(const std::string &name)
{
	static constexpr std::pair<const char *, const char *> names[] = {
		{"Sent", "\\Sent"},     {"Sent Items", "\\Sent"}, {"Sent Messages", "\\Sent"},
		{"Drafts", "\\Drafts"}, {"Trash", "\\Trash"},     {"Deleted Items", "\\Trash"},
		{"Junk", "\\Junk"},     {"Spam", "\\Junk"},       {"Archive", "\\Archive"},
	};
	auto it = std::find_if(std::begin(names), std::end(names),
			       [&](const auto &n) { return equal_nocase(name, n.first); });
	return it == std::end(names) ? nullptr : it->second;
}

} // namespace

// One line per mailbox, queued while the output is under its bound, in slices: a user with many
// thousands of folders neither fills memory nor holds the loop.
class ImapSession::ListJob final : public SlicedCommand {
public:
	ListJob(ImapSession &s, const ImapCommand &cmd) : s_(s), cmd_(cmd), lsub_(cmd.verb == ImapVerb::lsub)
	{
		unsigned asked = cmd_.list_select | cmd_.list_return;
		subscribed_only_ = lsub_ || (cmd_.list_select & ImapCommand::list_subscribed);
		subscribed_attr_ = !lsub_ && (asked & ImapCommand::list_subscribed);
		special_only_ = cmd_.list_select & ImapCommand::list_special_use;
		special_attr_ = asked & ImapCommand::list_special_use;
		recursive_ = (cmd_.list_select & ImapCommand::list_recursivematch) && subscribed_only_;
		for (const auto &p : cmd_.list_patterns)
			patterns_.push_back(cmd_.args[0] + p);
		all_ = list_mailboxes(s_.user_root_);
		// Sorted, the children of a name are the run of names after it that start with it
		// and the delimiter: one binary search each instead of a pass over every name.
		std::sort(all_.begin(), all_.end());
		if (subscribed_only_ || subscribed_attr_) {
			std::vector<std::string> subs = load_subscriptions(s_.user_root_);
			subscribed_.insert(subs.begin(), subs.end());
			if (subscribed_only_)
				names_ = std::move(subs);
		}
		if (!subscribed_only_)
			names_ = all_;
	}
	bool step(std::chrono::steady_clock::time_point until) override;

private:
	static bool under(const std::string &name, const std::string &prefix)
	{
		return name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0;
	}
	bool has_children(const std::string &name) const
	{
		std::string prefix = name + mailbox_delimiter;
		auto it = std::lower_bound(all_.begin(), all_.end(), prefix);
		return it != all_.end() && under(*it, prefix);
	}
	bool has_subscribed_child(const std::string &name) const
	{
		std::string prefix = name + mailbox_delimiter;
		auto it = subscribed_.lower_bound(prefix);
		return it != subscribed_.end() && under(*it, prefix);
	}
	bool exists(const std::string &name) const { return std::binary_search(all_.begin(), all_.end(), name); }

	bool matches(const std::string &name) const
	{
		for (const auto &p : patterns_) {
			if (list_pattern_matches(p, name, mailbox_delimiter))
				return true;
			if (name == "INBOX") { // INBOX in any case (RFC 3501 5.1)
				std::string upper = p;
				for (std::size_t i = 0; i < upper.size() && i < 5; i++)
					upper[i] = ascii_upper(upper[i]);
				if (list_pattern_matches(upper, name, mailbox_delimiter))
					return true;
			}
		}
		return false;
	}

	// A subscribed name the patterns stop short of shows as its parents that they do match,
	// once each: LSUB's as \Noselect (RFC 3501 6.3.9), LIST (SUBSCRIBED RECURSIVEMATCH)'s with
	// CHILDINFO (RFC 5258 3.5).
	void show_parents(const std::string &name)
	{
		for (std::size_t at = name.find(mailbox_delimiter); at != std::string::npos;
		     at = name.find(mailbox_delimiter, at + 1)) {
			std::string parent = name.substr(0, at);
			if (subscribed_.count(parent) == 0 && matches(parent) && parents_sent_.insert(parent).second)
				send(parent, false);
		}
	}

	void send(const std::string &name, bool listed);

	ImapSession &s_;
	ImapCommand cmd_;
	bool lsub_;
	bool subscribed_only_ = false, subscribed_attr_ = false, special_only_ = false, special_attr_ = false;
	bool recursive_ = false;
	std::vector<std::string> patterns_; // reference + pattern
	std::vector<std::string> all_, names_;
	std::set<std::string> subscribed_, parents_sent_; // both bounded by the subscriptions
	std::size_t next_ = 0;
};

// `listed`: the name matched itself (else it is a parent shown for a subscribed child).
void ImapSession::ListJob::send(const std::string &name, bool listed)
{
	std::vector<std::string> attrs;
	bool real = exists(name);
	if (lsub_) {
		if (!listed)
			attrs.emplace_back("\\Noselect");
	} else {
		if (!real)
			attrs.emplace_back("\\NonExistent"); // RFC 5258: implies \Noselect
		else
			attrs.emplace_back(has_children(name) ? "\\HasChildren" : "\\HasNoChildren");
		if (subscribed_attr_ && subscribed_.count(name))
			attrs.emplace_back("\\Subscribed");
		if (const char *use = special_attr_ ? special_use_of(name) : nullptr)
			attrs.emplace_back(use);
	}
	std::string line = std::string(lsub_ ? "LSUB (" : "LIST (");
	for (std::size_t i = 0; i < attrs.size(); i++)
		line += (i ? " " : "") + attrs[i];
	line += ") \".\" " + imap_quote(name);
	if (recursive_ && !lsub_ && has_subscribed_child(name))
		line += " (\"CHILDINFO\" (\"SUBSCRIBED\"))";
	s_.untagged(line);
	if (!(cmd_.list_return & ImapCommand::list_status) || !real)
		return;
	// RFC 5819: the STATUS of each selectable mailbox listed, right after its LIST line.
	Mailbox mb;
	std::string error;
	auto dir = mailbox_directory(s_.user_root_, name);
	if (dir && Mailbox::open(*dir, mb, error))
		s_.untagged("STATUS " + imap_quote(name) + " (" + status_values(mb, cmd_.status_items) + ")");
}

bool ImapSession::ListJob::step(std::chrono::steady_clock::time_point until)
{
	while (next_ < names_.size()) {
		if (s_.conn_.output_full() || std::chrono::steady_clock::now() >= until)
			return false;
		const std::string &name = names_[next_++];
		if (!matches(name)) {
			if (lsub_ || recursive_)
				show_parents(name);
			continue;
		}
		if (special_only_ && special_use_of(name) == nullptr)
			continue;
		send(name, true);
	}
	s_.done_ok(cmd_, lsub_ ? "Lsub completed" : "List completed");
	return true;
}

void ImapSession::list(const ImapCommand &cmd)
{
	bool lsub = cmd.verb == ImapVerb::lsub;
	if (cmd.list_patterns.size() == 1 && cmd.args[1].empty() && !lsub) {
		// The hierarchy delimiter and root (RFC 3501 6.3.8).
		untagged("LIST (\\Noselect) \".\" \"\"");
		done_ok(cmd, "List completed");
		return;
	}
	sliced_ = std::make_unique<ListJob>(*this, cmd);
}

} // namespace maild
