#include "imap/sort-cache.hpp"

namespace maild {

namespace {

// Map nodes and the shared_ptr's control block, beyond what footprint() counts.
constexpr std::size_t entry_overhead = 96;

std::size_t cost(const SortFields &f)
{
	return f.footprint() + entry_overhead;
}

} // namespace

SortCache &SortCache::of_this_loop()
{
	// Each loop runs on a thread of its own (the workers), so this is the loop's.
	thread_local SortCache cache;
	return cache;
}

SortCache::Box &SortCache::box(const std::string &dir, std::uint32_t uidvalidity)
{
	auto it = boxes_.find(dir);
	if (it != boxes_.end() && it->second.uidvalidity != uidvalidity) {
		drop(it);
		it = boxes_.end();
	}
	if (it == boxes_.end())
		it = boxes_.emplace(dir, Box{}).first;
	it->second.uidvalidity = uidvalidity;
	it->second.last_use = ++clock_;
	return it->second;
}

void SortCache::drop(std::map<std::string, Box>::iterator it)
{
	bytes_ -= it->second.bytes;
	boxes_.erase(it);
}

std::shared_ptr<const SortFields> SortCache::find(const std::string &dir, std::uint32_t uidvalidity, std::uint32_t uid)
{
	auto it = boxes_.find(dir);
	if (it == boxes_.end() || it->second.uidvalidity != uidvalidity)
		return nullptr;
	it->second.last_use = ++clock_;
	auto m = it->second.messages.find(uid);
	return m == it->second.messages.end() ? nullptr : m->second;
}

void SortCache::insert(const std::string &dir, std::uint32_t uidvalidity, std::uint32_t uid,
		       std::shared_ptr<const SortFields> fields)
{
	if (fields == nullptr)
		return;
	std::size_t n = cost(*fields);
	if (n > budget_)
		return;
	// Room first, from the mailboxes used longest ago, never the one inserted into.
	while (bytes_ + n > budget_) {
		auto victim = boxes_.end();
		for (auto it = boxes_.begin(); it != boxes_.end(); ++it) {
			if (it->first != dir && (victim == boxes_.end() || it->second.last_use < victim->second.last_use))
				victim = it;
		}
		if (victim == boxes_.end())
			return; // this mailbox alone fills the budget
		drop(victim);
	}
	Box &b = box(dir, uidvalidity);
	auto [it, added] = b.messages.try_emplace(uid, std::move(fields));
	if (!added)
		return;
	b.bytes += n;
	bytes_ += n;
}

void SortCache::retain(const std::string &dir, std::uint32_t uidvalidity, const std::function<bool(std::uint32_t)> &present)
{
	auto it = boxes_.find(dir);
	if (it == boxes_.end())
		return;
	if (it->second.uidvalidity != uidvalidity) {
		drop(it);
		return;
	}
	Box &b = it->second;
	for (auto m = b.messages.begin(); m != b.messages.end();) {
		if (present(m->first)) {
			++m;
			continue;
		}
		std::size_t n = cost(*m->second);
		b.bytes -= n;
		bytes_ -= n;
		m = b.messages.erase(m);
	}
	if (b.messages.empty())
		drop(it);
}

std::size_t SortCache::entries() const
{
	std::size_t n = 0;
	for (const auto &[dir, b] : boxes_)
		n += b.messages.size();
	return n;
}

} // namespace maild
