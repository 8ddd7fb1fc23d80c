#include "imap/imap-search-update.hpp"
#include "imap/imap-session.hpp"

#include "storage/message-bytes.hpp"

#include <algorithm>

namespace maild {

namespace {

constexpr unsigned result_options = ImapCommand::ret_min | ImapCommand::ret_max | ImapCommand::ret_all |
				    ImapCommand::ret_count | ImapCommand::ret_partial;

} // namespace

std::pair<std::size_t, std::size_t> partial_window(std::int64_t first, std::int64_t last, std::size_t n)
{
	auto count = static_cast<std::int64_t>(n);
	// Negative positions count back from the last result: -1 is position n.
	std::int64_t a = first < 0 ? count + 1 + first : first;
	std::int64_t b = last < 0 ? count + 1 + last : last;
	if (a > b)
		std::swap(a, b);
	a = std::max<std::int64_t>(a, 1);
	b = std::min(b, count);
	if (a > b)
		return {0, 0};
	return {static_cast<std::size_t>(a - 1), static_cast<std::size_t>(b)};
}

std::vector<bool> esearch_named(const ImapCommand &cmd, std::size_t n)
{
	unsigned want = cmd.search_return;
	if ((want & (ImapCommand::ret_all | ImapCommand::ret_count)) || !(want & result_options))
		return std::vector<bool>(n, true);
	std::vector<bool> named(n, false);
	if (n > 0 && (want & ImapCommand::ret_min))
		named.front() = true;
	if (n > 0 && (want & ImapCommand::ret_max))
		named.back() = true;
	if (want & ImapCommand::ret_partial) {
		auto [begin, end] = partial_window(cmd.partial_first, cmd.partial_last, n);
		for (std::size_t k = begin; k < end; k++)
			named[k] = true;
	}
	return named;
}

std::string esearch_data(const ImapCommand &cmd, const std::vector<std::uint32_t> &result)
{
	unsigned want = cmd.search_return;
	if (!(want & result_options))
		want |= ImapCommand::ret_all; // RETURN () is RETURN (ALL); CONTEXT, UPDATE, SAVE ask for no data
	std::string out;
	if (!result.empty() && (want & ImapCommand::ret_min))
		out += " MIN " + std::to_string(result.front());
	if (!result.empty() && (want & ImapCommand::ret_max))
		out += " MAX " + std::to_string(result.back());
	if (!result.empty() && (want & ImapCommand::ret_all))
		out += " ALL " + sequence_set_text(result);
	if (want & ImapCommand::ret_count)
		out += " COUNT " + std::to_string(result.size());
	if (want & ImapCommand::ret_partial) {
		// The range as the client wrote it, then what of the result lies in it (RFC 5267 4.4).
		auto [begin, end] = partial_window(cmd.partial_first, cmd.partial_last, result.size());
		std::vector<std::uint32_t> part(result.begin() + static_cast<std::ptrdiff_t>(begin),
						result.begin() + static_cast<std::ptrdiff_t>(end));
		out += " PARTIAL (" + std::to_string(cmd.partial_first) + ":" + std::to_string(cmd.partial_last) + " " +
		       (part.empty() ? std::string("NIL") : sequence_set_text(part)) + ")";
	}
	return out;
}

bool key_reads_flags(const SearchKey &key)
{
	using Op = SearchKey::Op;
	switch (key.op) {
	case Op::answered: case Op::deleted: case Op::draft: case Op::flagged: case Op::seen: case Op::recent:
	case Op::new_: case Op::old: case Op::unanswered: case Op::undeleted: case Op::undraft:
	case Op::unflagged: case Op::unseen: case Op::keyword: case Op::unkeyword: case Op::modseq:
		return true;
	default:
		return std::any_of(key.children.begin(), key.children.end(), key_reads_flags);
	}
}

std::size_t sort_position(const SearchContext &ctx, const SortFields &fields, std::uint32_t uid)
{
	// The result is sorted, so the first entry the new one sorts ahead of is found by halving.
	std::size_t lo = 0, hi = ctx.uids.size();
	while (lo < hi) {
		std::size_t mid = lo + (hi - lo) / 2;
		if (sort_before(fields, uid, *ctx.fields[mid], ctx.uids[mid], ctx.criteria))
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

std::string context_changes_text(const char *name, bool sort, const std::vector<ContextChange> &changes)
{
	std::string out = std::string(" ") + name + " (";
	if (!sort) {
		std::vector<std::uint32_t> uids;
		uids.reserve(changes.size());
		for (const auto &c : changes)
			uids.push_back(c.uid);
		std::sort(uids.begin(), uids.end());
		return out + "0 " + sequence_set_text(uids) + ")";
	}
	for (std::size_t k = 0; k < changes.size(); k++)
		out += (k ? " " : "") + std::to_string(changes[k].position) + " " + std::to_string(changes[k].uid);
	return out + ")";
}

// ---- the session's contexts -----------------------------------------------------------------

bool ImapSession::update_tag_taken(const ImapCommand &cmd)
{
	if (!(cmd.search_return & ImapCommand::ret_update))
		return false;
	bool taken = std::any_of(contexts_.begin(), contexts_.end(), [&](const SearchContext &c) { return c.tag == cmd.tag; });
	// RFC 5267 4.3: a tag that names a live context cannot start another.
	if (taken)
		tagged(cmd.tag, "BAD", "Tag already names an updating search");
	return taken;
}

void ImapSession::keep_search_context(const ImapCommand &cmd, const SearchKey &key, std::vector<std::uint32_t> uids,
				      std::vector<std::shared_ptr<const SortFields>> fields, std::uint64_t seen_modseq)
{
	auto refuse = [&](std::string_view why) { untagged("NO [NOUPDATE " + imap_quote(cmd.tag) + "] " + std::string(why)); };
	// Sequence numbers in ADDTO and REMOVEFROM would have to go out between EXISTS and EXPUNGE
	// lines in a set order; the RFC's own advice to a refused client is UID SEARCH, which is all
	// this server keeps.
	if (!cmd.uid)
		return refuse("UPDATE needs UID SEARCH or UID SORT");
	if (contexts_.size() >= max_search_contexts)
		return refuse("Too many updating searches");
	if (uids.size() > max_context_results)
		return refuse("Too many results to keep up to date");
	SearchContext ctx;
	ctx.tag = cmd.tag;
	ctx.sort = cmd.verb == ImapVerb::sort;
	ctx.criteria = cmd.sort_criteria;
	ctx.key = key;
	ctx.reads_flags = key_reads_flags(key);
	ctx.uids = std::move(uids);
	ctx.fields = std::move(fields);
	ctx.seen_uid = view_.empty() ? 0 : view_.back().uid;
	ctx.seen_modseq = seen_modseq;
	ctx.view_size = view_.size();
	contexts_.push_back(std::move(ctx));
}

void ImapSession::cancelupdate(const ImapCommand &cmd)
{
	for (const std::string &tag : cmd.args) {
		contexts_.erase(std::remove_if(contexts_.begin(), contexts_.end(),
					       [&](const SearchContext &c) { return c.tag == tag; }),
				contexts_.end());
	}
	tagged(cmd.tag, "OK", "Updates cancelled");
}

// Runs where sync() has told the client of everything: the view is what the client knows, so
// the changes go out after the EXISTS, EXPUNGE and FETCH lines they follow from (with UIDs the
// order does not matter to RFC 5267 4.3.3 and 4.3.4, but a client reads them more easily so).
void ImapSession::report_search_updates()
{
	if (contexts_.empty() || state_ != State::selected)
		return;
	MessageBytes bytes;
	auto in_view = [&](std::uint32_t uid) {
		auto it = std::lower_bound(view_.begin(), view_.end(), uid,
					   [](const ViewMessage &v, std::uint32_t u) { return v.uid < u; });
		return it != view_.end() && it->uid == uid;
	};
	std::uint64_t highest = mailbox_.highest_modseq();
	for (auto it = contexts_.begin(); it != contexts_.end();) {
		SearchContext &ctx = *it;
		auto member = [&](std::uint32_t uid) -> std::optional<std::size_t> {
			if (ctx.sort) {
				auto at = std::find(ctx.uids.begin(), ctx.uids.end(), uid);
				return at == ctx.uids.end() ? std::nullopt : std::optional(static_cast<std::size_t>(at - ctx.uids.begin()));
			}
			auto at = std::lower_bound(ctx.uids.begin(), ctx.uids.end(), uid);
			return at == ctx.uids.end() || *at != uid ? std::nullopt : std::optional(static_cast<std::size_t>(at - ctx.uids.begin()));
		};
		auto fresh = std::upper_bound(view_.begin(), view_.end(), ctx.seen_uid,
					      [](std::uint32_t u, const ViewMessage &v) { return u < v.uid; });
		auto seen = static_cast<std::size_t>(fresh - view_.begin());
		std::vector<std::uint32_t> gone;
		std::vector<std::size_t> joined; // view indexes
		// Fewer of the messages it saw than it saw: some were expunged (and the client told).
		if (seen < ctx.view_size) {
			for (std::uint32_t uid : ctx.uids) {
				if (!in_view(uid))
					gone.push_back(uid);
			}
		}
		auto verdict = [&](std::size_t i) -> std::optional<bool> {
			if (view_[i].expunged)
				return std::nullopt;
			return search_matches(ctx.key, i, bytes);
		};
		if (ctx.reads_flags && highest > ctx.seen_modseq) {
			for (std::size_t i = 0; i < seen; i++) {
				if (view_[i].modseq <= ctx.seen_modseq)
					continue;
				std::optional<bool> hit = verdict(i);
				if (!hit)
					continue;
				bool was = member(view_[i].uid).has_value();
				if (was && !*hit)
					gone.push_back(view_[i].uid);
				else if (!was && *hit)
					joined.push_back(i);
			}
		}
		for (std::size_t i = seen; i < view_.size(); i++) {
			if (verdict(i).value_or(false))
				joined.push_back(i);
		}
		ctx.seen_uid = std::max(ctx.seen_uid, view_.empty() ? 0 : view_.back().uid);
		ctx.view_size = view_.size();
		ctx.seen_modseq = std::max(ctx.seen_modseq, highest);
		if (gone.empty() && joined.empty()) {
			++it;
			continue;
		}
		if (ctx.uids.size() - std::min(gone.size(), ctx.uids.size()) + joined.size() > max_context_results) {
			// RFC 5267 4.3.1 lets a server refuse updates; it stops them here the same way.
			untagged("NO [NOUPDATE " + imap_quote(ctx.tag) + "] Too many results to keep up to date");
			it = contexts_.erase(it);
			continue;
		}
		std::vector<ContextChange> removed, added;
		for (std::uint32_t uid : gone) {
			std::optional<std::size_t> at = member(uid);
			if (!at)
				continue;
			removed.push_back({*at + 1, uid});
			ctx.uids.erase(ctx.uids.begin() + static_cast<std::ptrdiff_t>(*at));
			if (ctx.sort)
				ctx.fields.erase(ctx.fields.begin() + static_cast<std::ptrdiff_t>(*at));
		}
		for (std::size_t i : joined) {
			std::uint32_t uid = view_[i].uid;
			std::size_t at;
			if (ctx.sort) {
				auto file = mailbox_.find(uid);
				if (!file)
					continue;
				auto f = sort_fields_of(mailbox_.messages()[*file], bytes);
				at = sort_position(ctx, *f, uid);
				ctx.fields.insert(ctx.fields.begin() + static_cast<std::ptrdiff_t>(at), std::move(f));
			} else {
				at = static_cast<std::size_t>(std::lower_bound(ctx.uids.begin(), ctx.uids.end(), uid) - ctx.uids.begin());
			}
			ctx.uids.insert(ctx.uids.begin() + static_cast<std::ptrdiff_t>(at), uid);
			added.push_back({at + 1, uid});
		}
		std::string line = "ESEARCH (TAG " + imap_quote(ctx.tag) + ") UID";
		if (!removed.empty())
			line += context_changes_text("REMOVEFROM", ctx.sort, removed);
		if (!added.empty())
			line += context_changes_text("ADDTO", ctx.sort, added);
		if (!removed.empty() || !added.empty())
			untagged(line);
		++it;
	}
}

} // namespace maild
