// What SORT and THREAD read from each message's header (SortFields), kept between commands: a
// message file in a Maildir never changes its bytes (a flag change renames it), so the fields of
// (mailbox, UIDVALIDITY, UID) stay true until the message is expunged. One cache per loop (the
// sessions of one loop share it, as they share mailbox watches), bounded in bytes: mailboxes
// not used for the longest go first, and a mailbox that cannot fit alone is read again by each
// command rather than let the cache grow.
#pragma once

#include "imap/imap-sort.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace maild {

class SortCache {
public:
	// 32 MiB: about 100,000 messages of ordinary headers (SortFields::footprint() is a few
	// hundred bytes each), per loop.
	static constexpr std::size_t default_budget = 32u * 1024 * 1024;

	explicit SortCache(std::size_t budget = default_budget) : budget_(budget) {}

	// The cache of the calling thread's loop.
	static SortCache &of_this_loop();

	std::shared_ptr<const SortFields> find(const std::string &dir, std::uint32_t uidvalidity, std::uint32_t uid);
	// Keeps `fields` when it fits in the budget, making room by dropping other mailboxes.
	void insert(const std::string &dir, std::uint32_t uidvalidity, std::uint32_t uid,
		    std::shared_ptr<const SortFields> fields);
	// Drops the UIDs of `dir` for which `present` is false (expunged), and everything of `dir`
	// under another UIDVALIDITY.
	void retain(const std::string &dir, std::uint32_t uidvalidity, const std::function<bool(std::uint32_t)> &present);

	std::size_t bytes() const { return bytes_; }
	std::size_t entries() const;
	std::size_t budget() const { return budget_; }

private:
	struct Box {
		std::uint32_t uidvalidity = 0;
		std::map<std::uint32_t, std::shared_ptr<const SortFields>> messages;
		std::size_t bytes = 0;
		std::uint64_t last_use = 0;
	};
	Box &box(const std::string &dir, std::uint32_t uidvalidity);
	void drop(std::map<std::string, Box>::iterator it);

	std::size_t budget_;
	std::size_t bytes_ = 0;
	std::uint64_t clock_ = 0;
	std::map<std::string, Box> boxes_;
};

} // namespace maild
