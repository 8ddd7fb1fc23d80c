// ImapSession's selected state: keeping the client's view in step with the Maildir, and the
// commands that change or search messages. FETCH is in imap-fetch.cpp, COPY in imap-copy.cpp.
#include "base/ascii.hpp"
#include "base/log.hpp"
#include "base/posix.hpp"
#include "imap/imap-fetch-job.hpp"
#include "imap/imap-flags.hpp"
#include "imap/imap-message.hpp"
#include "imap/imap-session.hpp"
#include "mail/address.hpp"
#include "mail/calendar.hpp"
#include "storage/mail-folders.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace maild {

std::string ImapSession::flags_of(const ViewMessage &v) const
{
	return imap_flag_list(v.letters, keywords_, v.recent);
}

std::optional<HeldMessage> ImapSession::held(const ViewMessage &v) const
{
	return viewer_.held(mailbox_.uidvalidity(), v.uid);
}

// Only while the output is under its bound: a session that never reads (IDLE on a mailbox where
// another session flips flags on thousands of messages) then holds no more than the bound and
// one line. What is not reported stays pending without being lost, because the next call
// compares the view, which changes only with what is sent, with the store again.
bool ImapSession::sync(bool allow_expunge, bool reload)
{
	sync_pending_ = false;
	if (state_ != State::selected)
		return false;
	// A change reported while the output was full is read once there is room: there may be no
	// other report of it.
	reload = reload || reload_pending_;
	if (conn_.output_full()) {
		// Nothing could be reported: the disk is not even looked at, so a session that never
		// reads costs next to nothing however often its mailbox changes.
		sync_pending_ = true;
		reload_pending_ = reload;
		return false;
	}
	reload_pending_ = false;
	if (reload && !sync_reload())
		return false;
	// Without a reload the mailbox is the one the last call compared against, so that call's
	// messages before where it stopped need no second look: an IDLE client draining a long
	// backlog line by line costs one comparison per line, not a pass over the mailbox.
	std::size_t i = reload ? 0 : std::min(sync_resume_, view_.size());
	auto full = [&] {
		if (conn_.output_full()) {
			sync_pending_ = true;
			sync_resume_ = i;
		}
		return sync_pending_;
	};
	const auto &messages = mailbox_.messages();
	// After ENABLE QRESYNC, expunges go out as one VANISHED line (RFC 7162 3.2.10), before
	// any line that numbers messages after them; the UIDs are out of the view once collected.
	std::vector<std::uint32_t> vanished;
	auto flush_vanished = [&] {
		if (!vanished.empty())
			untagged("VANISHED " + sequence_set_text(vanished));
		vanished.clear();
	};
	while (i < view_.size()) {
		ViewMessage &v = view_[i];
		auto at = mailbox_.find(v.uid);
		if (!at) {
			if (allow_expunge && qresync_) {
				vanished.push_back(v.uid);
				view_.erase(view_.begin() + static_cast<std::ptrdiff_t>(i));
				continue;
			}
			if (allow_expunge) {
				if (full())
					return false;
				untagged(std::to_string(i + 1) + " EXPUNGE");
				view_.erase(view_.begin() + static_cast<std::ptrdiff_t>(i));
				continue;
			}
			v.expunged = true;
		} else if (messages[*at].flags != v.letters || (condstore_ && messages[*at].modseq > v.modseq)) {
			flush_vanished();
			if (full())
				return false;
			v.letters = messages[*at].flags;
			v.modseq = messages[*at].modseq;
			// Once CONDSTORE is enabled, flag updates carry the modseq (RFC 7162 3.1.4).
			untagged(std::to_string(i + 1) + " FETCH (FLAGS (" + flags_of(v) + ")" +
				 (condstore_ ? " " + modseq_item(v.modseq) : std::string()) + ")");
		} else {
			v.modseq = std::max(v.modseq, messages[*at].modseq);
		}
		i++;
	}
	flush_vanished();
	// Whatever another session expunged and this client has now been told of (or never saw) is
	// no longer kept for it.
	if (allow_expunge)
		viewer_.release_unless([this](std::uint32_t uid) {
			auto it = std::lower_bound(view_.begin(), view_.end(), uid,
						   [](const ViewMessage &v, std::uint32_t u) { return v.uid < u; });
			return it != view_.end() && it->uid == uid;
		});
	auto fresh = std::upper_bound(messages.begin(), messages.end(), view_max_uid_,
				      [](std::uint32_t u, const MessageFile &m) { return u < m.uid; });
	if (fresh != messages.end() && !full())
		sync_new(static_cast<std::size_t>(fresh - messages.begin()));
	// RETURN (UPDATE) searches (RFC 5267 4.3) follow what the lines above told the client.
	report_search_updates();
	return reload && !sync_pending_;
}

bool ImapSession::sync_reload()
{
	if (!mailbox_.stale())
		return true;
	std::string error;
	if (!mailbox_.reload(error)) {
		log_line(LogLevel::warn, conn_.peer(), "user=" + user_ + ": " + error);
		return false;
	}
	std::size_t known = keywords_.names.size();
	keywords_ = Keywords::load(mailbox_.dir());
	announce_keywords(known);
	return true;
}

void ImapSession::sync_adopt(const Mailbox &mailbox, const Keywords &keywords)
{
	mailbox_ = mailbox;
	std::size_t known = keywords_.names.size();
	keywords_ = keywords;
	announce_keywords(known);
	// Another mailbox than the one a pending report stopped in.
	sync_resume_ = 0;
	reload_pending_ = false;
}

void ImapSession::announce_keywords(std::size_t known)
{
	if (keywords_.names.size() == known)
		return;
	// One short line (26 keywords at most), sent even over the bound: the flag lists that
	// follow may name the new keywords.
	std::string names;
	for (const auto &k : keywords_.names)
		names += " " + k;
	untagged("FLAGS (" + imap_system_flags() + names + ")");
}

void ImapSession::sync_new(std::size_t first)
{
	const auto &messages = mailbox_.messages();
	std::size_t recent = 0;
	for (auto it = messages.begin() + static_cast<std::ptrdiff_t>(first); it != messages.end(); ++it) {
		bool is_recent = it->uid >= mailbox_.first_recent_uid();
		view_.push_back({it->uid, it->flags, is_recent, false, it->modseq});
		recent += is_recent ? 1 : 0;
	}
	view_max_uid_ = view_.back().uid;
	if (recent > 0 && !read_only_) {
		if (defer_claim_)
			claim_due_ = true;
		else
			claim_recent();
	}
	std::size_t all_recent = 0;
	for (const auto &v : view_)
		all_recent += v.recent ? 1 : 0;
	untagged(std::to_string(view_.size()) + " EXISTS");
	untagged(std::to_string(all_recent) + " RECENT");
}

void ImapSession::claim_recent()
{
	std::string error;
	if (!mailbox_.claim_recent(error))
		log_line(LogLevel::warn, conn_.peer(), "user=" + user_ + ": " + error);
}

bool ImapSession::resolve(const ImapCommand &cmd, std::vector<std::size_t> &out)
{
	out.clear();
	if (cmd.set.saved) { // "$" names messages, whether by UID or sequence number (RFC 5182)
		for (std::size_t i = 0; i < view_.size(); i++) {
			if (std::binary_search(saved_uids_.begin(), saved_uids_.end(), view_[i].uid))
				out.push_back(i);
		}
		return true;
	}
	if (cmd.uid) {
		std::uint32_t star = view_.empty() ? 0 : view_.back().uid;
		for (std::size_t i = 0; i < view_.size(); i++) {
			if (cmd.set.contains(view_[i].uid, star))
				out.push_back(i);
		}
		return true;
	}
	auto count = static_cast<std::uint32_t>(view_.size());
	for (const auto &r : cmd.set.ranges) {
		if (r.first > count || r.last > count) {
			tagged(cmd.tag, "BAD", "Invalid message sequence number");
			return false;
		}
	}
	for (std::uint32_t n = 1; n <= count; n++) {
		if (cmd.set.contains(n, count))
			out.push_back(n - 1);
	}
	return true;
}

// STORE renames one file per message: thousands of them run in slices, and the FETCH lines of
// a non-silent STORE are queued only while the output is under its bound.
class ImapSession::StoreJob final : public SlicedCommand {
public:
	StoreJob(ImapSession &s, const ImapCommand &cmd, std::vector<std::size_t> indexes, std::string letters)
		: s_(s), cmd_(cmd), indexes_(std::move(indexes)), letters_(std::move(letters))
	{
	}
	bool step(std::chrono::steady_clock::time_point until) override;

private:
	std::string next_flags(const std::string &current) const;
	// Gives the changes stored_ holds their modseqs (one uidlist write), then reports them.
	void commit_slice();
	void finish();

	ImapSession &s_;
	ImapCommand cmd_;
	std::vector<std::size_t> indexes_;
	std::size_t next_ = 0;
	std::string letters_;
	bool expunged_ = false; // some message is gone from the store
	int failure_ = 0;       // errno of a rename that failed for another reason
	std::vector<std::size_t> stored_;    // view indexes stored since the last commit_slice()
	std::vector<std::uint32_t> modified_; // UNCHANGEDSINCE failed: sequence numbers, or UIDs for UID STORE
};

std::string ImapSession::StoreJob::next_flags(const std::string &current) const
{
	switch (cmd_.store_mode) {
	case ImapCommand::StoreMode::replace:
		return letters_;
	case ImapCommand::StoreMode::add:
		return current + letters_;
	case ImapCommand::StoreMode::remove:
		break;
	}
	std::string next;
	for (char c : current) {
		if (letters_.find(c) == std::string::npos)
			next += c;
	}
	return next;
}

// Renames first, then one uidlist write for up to `batch` of them, then their FETCH lines: a
// modseq reaches the client only once it is on disk, so a crash never takes back one a client
// has seen (renames cut off by a crash get new modseqs at the next open()). The batch bounds
// what one write queues past the output's bound (about 50 KiB); a silent STORE without
// CONDSTORE reports nothing and writes the uidlist once, at its end. So a STORE on n messages
// costs its n renames plus ceil(n / 1024) rewrites of the uidlist (1 when silent), each a read,
// a write and an fsync of a list of O(messages) bytes.
bool ImapSession::StoreJob::step(std::chrono::steady_clock::time_point until)
{
	constexpr std::size_t batch = 1024;
	Mailbox &mailbox = s_.mailbox_;
	bool reports = !cmd_.silent || s_.condstore_;
	while (next_ < indexes_.size()) {
		if (reports && stored_.size() >= batch)
			commit_slice();
		if (s_.conn_.output_full() || std::chrono::steady_clock::now() >= until)
			return false;
		std::size_t i = indexes_[next_++];
		ViewMessage &v = s_.view_[i];
		auto at = mailbox.find(v.uid);
		// One expunged by another session that this client has not been told of: the STORE
		// succeeds and changes nothing, without a FETCH reply (RFC 2180 4.2).
		if (v.expunged || !at) {
			expunged_ = expunged_ || !s_.held(v);
			continue;
		}
		// RFC 7162 3.1.3: a message changed since the client's modseq is left as it is.
		if (cmd_.unchangedsince && mailbox.messages()[*at].modseq > *cmd_.unchangedsince) {
			modified_.push_back(static_cast<std::uint32_t>(cmd_.uid ? v.uid : i + 1));
			continue;
		}
		// A rename that fails with ENOENT means someone else renamed (a flag change) or
		// expunged the file a moment ago: look again, twice at most. Only a message no longer in
		// the store is "expunged"; a rename refused for another reason (read-only file system,
		// permissions) is reported as what it is.
		bool done = false;
		for (int attempt = 0; !done; attempt++) {
			std::string error;
			if (mailbox.set_flags(*at, next_flags(mailbox.messages()[*at].flags), error)) {
				done = true;
				break;
			}
			int e = errno;
			if (e != ENOENT || attempt == 2) {
				log_line(LogLevel::warn, s_.conn_.peer(), "user=" + s_.user_ + ": " + error);
				failure_ = e != 0 ? e : EIO;
				break;
			}
			if (!mailbox.refresh(error)) {
				log_line(LogLevel::error, s_.conn_.peer(), "user=" + s_.user_ + ": " + error);
				failure_ = EIO;
				break;
			}
			if (!(at = mailbox.find(v.uid))) {
				expunged_ = expunged_ || !s_.held(v);
				break;
			}
		}
		if (done)
			stored_.push_back(i);
	}
	commit_slice();
	finish();
	return true;
}

void ImapSession::StoreJob::commit_slice()
{
	Mailbox &mailbox = s_.mailbox_;
	std::string error;
	bool committed = mailbox.commit_flags(error);
	if (!committed) {
		// The files carry the new flags; the next open() gives them their modseqs, which
		// sync() then reports. No modseq goes out before that: it would be the old one.
		log_line(LogLevel::error, s_.conn_.peer(), "user=" + s_.user_ + ": " + error);
		failure_ = EIO;
	}
	for (std::size_t i : stored_) {
		ViewMessage &v = s_.view_[i];
		auto at = mailbox.find(v.uid);
		if (!at)
			continue;
		const MessageFile &m = mailbox.messages()[*at];
		v.letters = m.flags;
		if (committed)
			v.modseq = m.modseq;
		std::string uid = cmd_.uid ? "UID " + std::to_string(v.uid) : std::string();
		std::string modseq = s_.condstore_ && committed ? modseq_item(v.modseq) : std::string();
		std::string items;
		if (!cmd_.silent)
			items = "FLAGS (" + s_.flags_of(v) + ")";
		// RFC 7162 3.1.3: with CONDSTORE the FETCH goes out even for .SILENT, with MODSEQ.
		for (const std::string *part : {&uid, &modseq}) {
			if (!part->empty())
				items += (items.empty() ? "" : " ") + *part;
		}
		if (!cmd_.silent || !modseq.empty())
			s_.untagged(std::to_string(i + 1) + " FETCH (" + items + ")");
	}
	stored_.clear();
}

// The reply: a failure other than a vanished message comes first, as it is what the client
// cannot fix by looking again. EACCES, EPERM and EROFS (a read-only store, a file owned by
// someone else) are [NOPERM]; ENOSPC and EDQUOT [OVERQUOTA]; anything else [SERVERBUG].
void ImapSession::StoreJob::finish()
{
	s_.sync(expunge_allowed(cmd_));
	if (failure_ == EACCES || failure_ == EPERM || failure_ == EROFS)
		s_.tagged(cmd_.tag, "NO", "[NOPERM] The mailbox's messages cannot be changed");
	else if (failure_ == ENOSPC || failure_ == EDQUOT)
		s_.tagged(cmd_.tag, "NO", "[OVERQUOTA] No space left to change flags");
	else if (failure_ != 0)
		s_.tagged(cmd_.tag, "NO", "[SERVERBUG] Cannot change flags");
	else if (expunged_)
		s_.tagged(cmd_.tag, "NO", "[EXPUNGEISSUED] Some messages were expunged meanwhile");
	else if (!modified_.empty())
		s_.tagged(cmd_.tag, "OK", "[MODIFIED " + sequence_set_text(modified_) + "] Conditional STORE failed");
	else
		s_.tagged(cmd_.tag, "OK", "Store completed");
}

// Refused in a read-only mailbox by execute() (the table's read_write flag).
void ImapSession::store(const ImapCommand &cmd)
{
	std::vector<std::size_t> indexes;
	if (!resolve(cmd, indexes))
		return;
	if (cmd.unchangedsince)
		condstore_ = true; // RFC 7162 3.1: a CONDSTORE enabling command
	std::string error;
	std::size_t known = keywords_.names.size();
	auto letters = letters_for_flags(cmd.flags, keywords_, mailbox_.dir(),
					 cmd.store_mode != ImapCommand::StoreMode::remove, error);
	if (!letters) {
		// A syntax error is BAD; a limit or a failure to save the new keyword NO.
		tagged(cmd.tag, error.starts_with('[') ? "NO" : "BAD", error);
		return;
	}
	if (keywords_.names.size() != known) {
		std::string names;
		for (const auto &k : keywords_.names)
			names += " " + k;
		untagged("FLAGS (" + imap_system_flags() + names + ")");
		untagged("OK [PERMANENTFLAGS (" + imap_system_flags() + names + " \\*)] Flags permitted");
	}
	if (!mailbox_.refresh(error)) {
		log_line(LogLevel::error, conn_.peer(), "user=" + user_ + ": " + error);
		tagged(cmd.tag, "NO", "[SERVERBUG] Cannot read the mailbox");
		return;
	}
	sliced_ = std::make_unique<StoreJob>(*this, cmd, std::move(indexes), std::move(*letters));
}

void ImapSession::expunge_deleted(const std::vector<std::uint32_t> *only)
{
	std::string error;
	if (!mailbox_.refresh(error)) {
		log_line(LogLevel::error, conn_.peer(), "user=" + user_ + ": " + error);
		return;
	}
	std::vector<std::uint32_t> doomed;
	for (const auto &v : view_) {
		auto at = mailbox_.find(v.uid);
		if (!at || mailbox_.messages()[*at].flags.find('T') == std::string::npos)
			continue;
		if (only == nullptr || std::binary_search(only->begin(), only->end(), v.uid))
			doomed.push_back(v.uid);
	}
	if (doomed.empty())
		return;
	if (mailbox_.expunge(doomed, error, &viewer_) > 0 || !error.empty())
		log_line(LogLevel::error, conn_.peer(), "user=" + user_ + ": " + error);
}

void ImapSession::expunge(const ImapCommand &cmd)
{
	if (cmd.uid) {
		std::vector<std::size_t> indexes;
		resolve(cmd, indexes);
		std::vector<std::uint32_t> uids;
		for (std::size_t i : indexes)
			uids.push_back(view_[i].uid);
		expunge_deleted(&uids);
	} else {
		expunge_deleted(nullptr);
	}
	done_ok(cmd, "Expunge completed");
}

namespace {

// One message as SEARCH sees it; the file is loaded only when a key needs its text, into the
// bytes one SEARCH shares between its messages.
struct SearchTarget {
	explicit SearchTarget(MessageBytes &b) : bytes(b) {}

	const MessageFile *file = nullptr;
	std::string path;
	std::uint32_t seq = 0;
	std::string letters;
	bool recent = false;
	std::uint32_t max_seq = 0, max_uid = 0;
	MessageBytes &bytes;
	std::optional<ImapMessage> parsed;
	bool loaded = false, readable = false;

	bool load()
	{
		if (!loaded) {
			loaded = true;
			readable = bytes.open(AT_FDCWD, path);
			if (readable)
				parsed.emplace(bytes.data());
		}
		return readable;
	}
	std::int64_t internal_day() const;
};

std::int64_t SearchTarget::internal_day() const
{
	struct stat st {};
	return stat(path.c_str(), &st) == 0 ? day_of(stat_mtime(st).tv_sec) : 0;
}

// The flag keys, from the message's Maildir letters and the view's \Recent.
bool matches_flag(const SearchKey &key, const SearchTarget &t)
{
	using Op = SearchKey::Op;
	auto has = [&](char c) { return t.letters.find(c) != std::string::npos; };
	switch (key.op) {
	case Op::answered:
		return has('R');
	case Op::deleted:
		return has('T');
	case Op::draft:
		return has('D');
	case Op::flagged:
		return has('F');
	case Op::seen:
		return has('S');
	case Op::recent:
		return t.recent;
	case Op::new_:
		return t.recent && !has('S');
	case Op::old:
		return !t.recent;
	case Op::unanswered:
		return !has('R');
	case Op::undeleted:
		return !has('T');
	case Op::undraft:
		return !has('D');
	case Op::unflagged:
		return !has('F');
	case Op::unseen:
		return !has('S');
	case Op::keyword:
	case Op::unkeyword: {
		bool set = false;
		// key.str is matched against the mailbox's keywords by the caller's letter (see search()).
		if (!key.value.empty())
			set = has(key.value[0]);
		return key.op == Op::keyword ? set : !set;
	}
	default:
		return false;
	}
}

// The size and date keys.
bool matches_size_or_date(const SearchKey &key, SearchTarget &t)
{
	using Op = SearchKey::Op;
	switch (key.op) {
	case Op::larger:
		return t.file->vsize > key.number;
	case Op::smaller:
		return t.file->vsize < key.number;
	case Op::since:
		return t.internal_day() >= key.day;
	case Op::before:
		return t.internal_day() < key.day;
	case Op::on:
		return t.internal_day() == key.day;
	default:
		break;
	}
	if (!t.load())
		return false;
	// The sender's own calendar day, "disregarding time and timezone" (RFC 3501 6.4.4).
	auto date = t.parsed->date_with_zone();
	if (!date)
		return false;
	std::int64_t d = day_of(date->unix_time + date->zone_offset);
	return key.op == Op::sentsince ? d >= key.day : key.op == Op::sentbefore ? d < key.day : d == key.day;
}

// FROM, TO, CC, BCC: the text in any field of that name, as written or as its addresses read
// without comments and folding ("Name <user@host>" each, a group by its name), so that
// "user@example.org" finds "<user (comment)@ example.org>".
bool address_has(const ImapMessage &m, std::string_view field, std::string_view value)
{
	return m.any_header_value(field, [&](const std::string &raw) {
		if (contains_nocase(raw, value))
			return true;
		std::string plain;
		parse_address_list(raw, [&](const MailAddress &a) {
			if (a.name)
				plain += *a.name + " ";
			if (a.mailbox && a.host && !a.host->empty())
				plain += "<" + *a.mailbox + "@" + *a.host + "> ";
			else if (a.mailbox)
				plain += *a.mailbox + " ";
		});
		return contains_nocase(plain, value);
	});
}

// The keys that look for text in the header or the body, ignoring case.
bool matches_text(const SearchKey &key, SearchTarget &t)
{
	using Op = SearchKey::Op;
	if (!t.load())
		return false;
	auto header_has = [&](std::string_view field, std::string_view value) {
		return t.parsed->any_header_value(field, [&](const std::string &v) { return contains_nocase(v, value); });
	};
	switch (key.op) {
	case Op::header:
		return header_has(key.str, key.value); // an empty value matches any field of that name
	case Op::from:
		return address_has(*t.parsed, "From", key.str);
	case Op::to:
		return address_has(*t.parsed, "To", key.str);
	case Op::cc:
		return address_has(*t.parsed, "Cc", key.str);
	case Op::bcc:
		return address_has(*t.parsed, "Bcc", key.str);
	case Op::subject:
		return header_has("Subject", key.str);
	case Op::body:
		return contains_nocase(t.parsed->body(), key.str);
	default: // Op::text
		return contains_nocase(t.bytes.data(), key.str);
	}
}

bool matches(const SearchKey &key, SearchTarget &t)
{
	using Op = SearchKey::Op;
	switch (key.op) {
	case Op::all:
		return true;
	case Op::larger: case Op::smaller: case Op::since: case Op::before: case Op::on:
	case Op::sentsince: case Op::sentbefore: case Op::senton:
		return matches_size_or_date(key, t);
	case Op::header: case Op::from: case Op::to: case Op::cc: case Op::bcc: case Op::subject:
	case Op::body: case Op::text:
		return matches_text(key, t);
	case Op::not_:
		return key.children.empty() || !matches(key.children[0], t);
	case Op::or_:
		return key.children.size() == 2 && (matches(key.children[0], t) || matches(key.children[1], t));
	case Op::and_:
		for (const auto &c : key.children) {
			if (!matches(c, t))
				return false;
		}
		return true;
	case Op::sequence:
		return key.set.contains(t.seq, t.max_seq);
	case Op::uid:
		return key.set.contains(t.file->uid, t.max_uid);
	case Op::modseq:
		return t.file->modseq >= key.number;
	case Op::nothing:
		return false;
	default:
		return matches_flag(key, t);
	}
}

// Keyword keys name keywords; messages carry letters. Resolve once per SEARCH: an unknown
// keyword matches nothing (value stays empty, a letter no message has). "$" becomes the saved
// UIDs, whether written as a sequence set or after UID.
void resolve_search_key(SearchKey &key, const Keywords &keywords, const std::vector<std::uint32_t> &saved)
{
	if (key.op == SearchKey::Op::keyword || key.op == SearchKey::Op::unkeyword) {
		std::optional<char> c = keywords.find(key.str);
		key.value = c ? std::string(1, *c) : std::string("!");
	}
	if ((key.op == SearchKey::Op::sequence || key.op == SearchKey::Op::uid) && key.set.saved) {
		key.op = SearchKey::Op::uid;
		key.set = SequenceSet{};
		for (std::uint32_t uid : saved)
			key.set.ranges.push_back({uid, uid});
		if (saved.empty())
			key.op = SearchKey::Op::nothing;
	}
	for (auto &child : key.children)
		resolve_search_key(child, keywords, saved);
}

} // namespace

// SORT and THREAD (imap-sort-command.cpp) choose their messages as SEARCH does.
// SEARCH in slices: SEARCH TEXT over a large mailbox reads every file, so a step reads messages
// for at most a slice (plus one message's matching) and lets the loop serve others. The result
// line is streamed: "* SEARCH" first, then each match as it is found, while the output is under
// its bound.
class ImapSession::SearchJob final : public SlicedCommand {
public:
	SearchJob(ImapSession &s, const ImapCommand &cmd, SearchKey key)
		: s_(s), cmd_(cmd), key_(std::move(key)), modseq_(has_modseq_key(key_)),
		  start_modseq_(s.mailbox_.highest_modseq())
	{
	}
	bool step(std::chrono::steady_clock::time_point until) override;

private:
	ImapSession &s_;
	ImapCommand cmd_;
	SearchKey key_;
	std::size_t next_ = 0;
	bool started_ = false;
	MessageBytes bytes_; // one read buffer for every message
	// With RETURN (ESEARCH, SAVE) the matches are kept, as sequence numbers or UIDs, for the
	// one ESEARCH line at the end: at most one per message in view.
	std::vector<std::uint32_t> found_;
	// With a MODSEQ key, the reply ends in the highest modseq of what it returns (RFC 7162
	// 3.1.5): of every match, or (ESEARCH) of each match in found_.
	bool modseq_ = false;
	std::uint64_t max_modseq_ = 0;
	std::vector<std::uint64_t> found_modseqs_;
	// RETURN (UPDATE): flag changes after this are looked at again once the context is live.
	std::uint64_t start_modseq_ = 0;
	void finish_esearch();
};

void ImapSession::SearchJob::finish_esearch()
{
	unsigned want = cmd_.search_return;
	std::vector<bool> named = esearch_named(cmd_, found_.size());
	if (want & ImapCommand::ret_save) {
		// SAVE with MIN, MAX or PARTIAL alone saves just those (RFC 5182 2.4).
		std::vector<std::uint32_t> uids;
		for (std::size_t k = 0; k < found_.size(); k++) {
			if (named[k])
				uids.push_back(cmd_.uid ? found_[k] : s_.view_[found_[k] - 1].uid);
		}
		s_.saved_uids_ = std::move(uids);
	}
	if (want & ImapCommand::ret_update)
		s_.keep_search_context(cmd_, key_, found_, {}, start_modseq_);
	constexpr unsigned data = ImapCommand::ret_min | ImapCommand::ret_max | ImapCommand::ret_all |
				  ImapCommand::ret_count | ImapCommand::ret_partial;
	if ((want & ImapCommand::ret_save) && !(want & data))
		return; // SAVE without MIN, MAX, ALL, COUNT or PARTIAL answers no ESEARCH
	std::string line = "ESEARCH (TAG " + imap_quote(cmd_.tag) + ")";
	if (cmd_.uid)
		line += " UID";
	line += esearch_data(cmd_, found_);
	if (modseq_ && !found_.empty()) {
		// Of the messages the reply names: MIN and MAX alone name just those two.
		std::uint64_t highest = 0;
		for (std::size_t k = 0; k < found_.size(); k++) {
			if (named[k])
				highest = std::max(highest, found_modseqs_[k]);
		}
		if (highest > 0)
			line += " MODSEQ " + std::to_string(highest);
	}
	s_.untagged(line);
}

std::optional<bool> ImapSession::search_matches(const SearchKey &key, std::size_t i, MessageBytes &bytes)
{
	const ViewMessage &v = view_[i];
	auto at = mailbox_.find(v.uid);
	if (v.expunged || !at)
		return std::nullopt;
	const MessageFile &file = mailbox_.messages()[*at];
	SearchTarget t(bytes);
	t.file = &file;
	t.path = mailbox_.path_of(file);
	t.seq = static_cast<std::uint32_t>(i + 1);
	t.letters = file.flags;
	t.recent = v.recent;
	t.max_seq = static_cast<std::uint32_t>(view_.size());
	t.max_uid = view_.empty() ? 0 : view_.back().uid;
	return matches(key, t);
}

bool ImapSession::search_slice(const SearchKey &key, bool resumed, std::size_t &next, MessageBytes &bytes,
				std::chrono::steady_clock::time_point until,
				const std::function<void(std::size_t, const MessageFile &)> &found)
{
	std::string error;
	if (resumed && !mailbox_.refresh(error))
		log_line(LogLevel::warn, conn_.peer(), "user=" + user_ + ": " + error);
	while (next < view_.size()) {
		if (conn_.output_full() || std::chrono::steady_clock::now() >= until)
			return false;
		std::size_t i = next++;
		// Done with the parsed message before found() may reuse `bytes`.
		if (search_matches(key, i, bytes).value_or(false))
			found(i, mailbox_.messages()[*mailbox_.find(view_[i].uid)]);
	}
	return true;
}

bool ImapSession::SearchJob::step(std::chrono::steady_clock::time_point until)
{
	bool esearch = cmd_.search_return_given;
	bool resumed = started_;
	if (!started_) {
		started_ = true;
		if (!esearch)
			s_.conn_.send("* SEARCH");
	}
	bool done = s_.search_slice(key_, resumed, next_, bytes_, until, [&](std::size_t i, const MessageFile &file) {
		auto number = static_cast<std::uint32_t>(cmd_.uid ? s_.view_[i].uid : i + 1);
		max_modseq_ = std::max(max_modseq_, file.modseq);
		if (esearch) {
			found_.push_back(number);
			if (modseq_)
				found_modseqs_.push_back(file.modseq);
		} else {
			s_.conn_.send(" " + std::to_string(number));
		}
	});
	if (!done)
		return false;
	if (esearch)
		finish_esearch();
	else
		s_.conn_.send(modseq_ && max_modseq_ > 0 ? " (MODSEQ " + std::to_string(max_modseq_) + ")\r\n" : "\r\n");
	s_.done_ok(cmd_, "Search completed");
	return true;
}

std::optional<SearchKey> ImapSession::search_keys(const ImapCommand &cmd)
{
	if (!cmd.charset.empty() && cmd.charset != "US-ASCII" && cmd.charset != "UTF-8") {
		tagged(cmd.tag, "NO", "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset");
		return std::nullopt;
	}
	std::string error;
	if (!mailbox_.refresh(error)) {
		log_line(LogLevel::error, conn_.peer(), "user=" + user_ + ": " + error);
		tagged(cmd.tag, "NO", "[SERVERBUG] Cannot read the mailbox");
		return std::nullopt;
	}
	SearchKey key = cmd.search;
	if (has_modseq_key(key))
		condstore_ = true; // RFC 7162 3.1: a CONDSTORE enabling command
	resolve_search_key(key, keywords_, saved_uids_);
	return key;
}

void ImapSession::search(const ImapCommand &cmd)
{
	if (update_tag_taken(cmd))
		return;
	if (cmd.search_return & ImapCommand::ret_save)
		saved_uids_.clear(); // a SEARCH ... SAVE that fails leaves "$" empty (RFC 5182 2.1)
	if (auto key = search_keys(cmd))
		sliced_ = std::make_unique<SearchJob>(*this, cmd, std::move(*key));
}

} // namespace maild
