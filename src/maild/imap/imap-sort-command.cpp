// SORT and THREAD (RFC 5256, RFC 5957's DISPLAYFROM and DISPLAYTO, THREAD=REFS): the messages
// SEARCH's keys choose, ordered by what their headers say. The keys of each message come from
// the loop's SortCache, so a mailbox's headers are read once, not at every command. SORT with
// RETURN (...) answers in ESEARCH (ESORT and CONTEXT=SORT, RFC 5267).
#include "imap/imap-session.hpp"
#include "imap/imap-sort.hpp"
#include "imap/imap-thread.hpp"
#include "imap/sort-cache.hpp"

#include "mail/header.hpp"
#include "storage/message-bytes.hpp"

#include <fcntl.h>

namespace maild {

// In slices, like SEARCH: choosing the messages may read every file of a large mailbox, and so
// does filling the cache the first time. The answer is one line, sent in pieces as the output
// bound allows.
class ImapSession::SortJob final : public SlicedCommand {
public:
	SortJob(ImapSession &s, const ImapCommand &cmd, SearchKey key)
		: s_(s), cmd_(cmd), key_(std::move(key)), start_modseq_(s.mailbox_.highest_modseq())
	{
	}
	bool step(std::chrono::steady_clock::time_point until) override;

private:
	struct Found {
		std::uint32_t number; // sequence number or UID, as the reply gives it
		std::shared_ptr<const SortFields> fields;
	};
	bool collect(std::chrono::steady_clock::time_point until);
	std::string answer();
	std::string extended_answer(const std::vector<std::size_t> &order);

	ImapSession &s_;
	ImapCommand cmd_;
	SearchKey key_;
	std::size_t next_ = 0;
	bool started_ = false;
	MessageBytes bytes_; // one read buffer for every message
	std::vector<Found> found_; // at most one per message in view
	std::string reply_;
	std::size_t sent_ = 0;
	bool collected_ = false;
	std::uint64_t start_modseq_ = 0; // as SearchJob's
	std::uint64_t max_modseq_ = 0;   // of what SORT returns, for (MODSEQ n) after a MODSEQ key
};

std::shared_ptr<const SortFields> ImapSession::sort_fields_of(const MessageFile &file, MessageBytes &bytes)
{
	SortCache &cache = SortCache::of_this_loop();
	if (auto f = cache.find(mailbox_.dir(), mailbox_.uidvalidity(), file.uid))
		return f;
	if (!bytes.open(AT_FDCWD, mailbox_.path_of(file))) {
		// Expunged or renamed by another session a moment ago: it still has a place in this
		// session's view, with empty keys, and nothing is cached for it.
		return std::make_shared<const SortFields>(sort_fields("", 0, file.vsize));
	}
	auto f = std::make_shared<const SortFields>(sort_fields(split_entity(bytes.data()).first, bytes.mtime(), file.vsize));
	bytes.release();
	cache.insert(mailbox_.dir(), mailbox_.uidvalidity(), file.uid, f);
	return f;
}

// The matching messages and their keys, in view order; true once all are in.
bool ImapSession::SortJob::collect(std::chrono::steady_clock::time_point until)
{
	Mailbox &mailbox = s_.mailbox_;
	bool resumed = started_;
	if (!started_) {
		started_ = true;
		// What was expunged since the last SORT leaves the cache.
		SortCache::of_this_loop().retain(mailbox.dir(), mailbox.uidvalidity(),
						 [&](std::uint32_t uid) { return mailbox.find(uid).has_value(); });
	}
	return s_.search_slice(key_, resumed, next_, bytes_, until, [&](std::size_t i, const MessageFile &file) {
		bytes_.release();
		auto number = static_cast<std::uint32_t>(cmd_.uid ? file.uid : i + 1);
		found_.push_back({number, s_.sort_fields_of(file, bytes_)});
		max_modseq_ = std::max(max_modseq_, file.modseq);
	});
}

// ESORT (RFC 5267 3): the ESEARCH items over the result in sort order; SAVE and UPDATE as in
// SEARCH. An empty answer when SAVE is all that was asked.
std::string ImapSession::SortJob::extended_answer(const std::vector<std::size_t> &order)
{
	std::vector<std::uint32_t> result;
	result.reserve(order.size());
	for (std::size_t i : order)
		result.push_back(found_[i].number);
	unsigned want = cmd_.search_return;
	if (want & ImapCommand::ret_save) {
		std::vector<bool> named = esearch_named(cmd_, result.size());
		std::vector<std::uint32_t> uids;
		for (std::size_t k = 0; k < result.size(); k++) {
			if (named[k])
				uids.push_back(cmd_.uid ? result[k] : s_.view_[result[k] - 1].uid);
		}
		std::sort(uids.begin(), uids.end()); // "$" is a set, kept ascending
		s_.saved_uids_ = std::move(uids);
	}
	if (want & ImapCommand::ret_update) {
		std::vector<std::shared_ptr<const SortFields>> fields;
		fields.reserve(order.size());
		for (std::size_t i : order)
			fields.push_back(found_[i].fields);
		s_.keep_search_context(cmd_, key_, result, std::move(fields), start_modseq_);
	}
	constexpr unsigned data = ImapCommand::ret_min | ImapCommand::ret_max | ImapCommand::ret_all |
				  ImapCommand::ret_count | ImapCommand::ret_partial;
	if ((want & ImapCommand::ret_save) && !(want & data))
		return std::string();
	return "* ESEARCH (TAG " + imap_quote(cmd_.tag) + ")" + (cmd_.uid ? " UID" : "") + esearch_data(cmd_, result) + "\r\n";
}

std::string ImapSession::SortJob::answer()
{
	if (cmd_.verb == ImapVerb::sort) {
		std::vector<const SortFields *> keys;
		keys.reserve(found_.size());
		for (const auto &f : found_)
			keys.push_back(f.fields.get());
		std::vector<std::size_t> order = sort_order(keys, cmd_.sort_criteria);
		if (cmd_.search_return_given)
			return extended_answer(order);
		std::string line = "* SORT";
		for (std::size_t i : order)
			line += " " + std::to_string(found_[i].number);
		if (has_modseq_key(key_) && max_modseq_ > 0) // RFC 7162 3.1.5, as for SEARCH
			line += " (MODSEQ " + std::to_string(max_modseq_) + ")";
		return line + "\r\n";
	}
	std::vector<ThreadMessage> messages;
	messages.reserve(found_.size());
	for (const auto &f : found_)
		messages.push_back(thread_message(*f.fields, f.number));
	ThreadForest forest = cmd_.thread_algorithm == ThreadAlgorithm::orderedsubject ? thread_orderedsubject(messages)
			      : cmd_.thread_algorithm == ThreadAlgorithm::refs		 ? thread_refs(messages)
										 : thread_references(messages);
	std::string threads = forest.format();
	return "* THREAD" + (threads.empty() ? std::string() : " " + threads) + "\r\n";
}

bool ImapSession::SortJob::step(std::chrono::steady_clock::time_point until)
{
	if (!collected_) {
		if (!collect(until))
			return false;
		collected_ = true;
		reply_ = answer();
		found_.clear();
		found_.shrink_to_fit();
	}
	// A reply for 10,000 messages is some 60 KB: queued a piece at a time, under the bound.
	constexpr std::size_t piece = 16 * 1024;
	while (sent_ < reply_.size()) {
		if (s_.conn_.output_full())
			return false;
		std::size_t n = std::min(piece, reply_.size() - sent_);
		s_.conn_.send(std::string_view(reply_).substr(sent_, n));
		sent_ += n;
	}
	s_.done_ok(cmd_, cmd_.verb == ImapVerb::sort ? "Sort completed" : "Thread completed");
	return true;
}

// SORT and THREAD.
void ImapSession::sort(const ImapCommand &cmd)
{
	if (update_tag_taken(cmd))
		return;
	if (cmd.search_return & ImapCommand::ret_save)
		saved_uids_.clear(); // as SEARCH's (RFC 5182 2.1)
	if (auto key = search_keys(cmd))
		sliced_ = std::make_unique<SortJob>(*this, cmd, std::move(*key));
}

} // namespace maild
