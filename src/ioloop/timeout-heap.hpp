// A binary min-heap of timeouts keyed by (deadline, sequence): earliest deadline first, and equal
// deadlines in the order they were armed. Each node knows its index, so removal is O(log n) with
// no search, and nothing here allocates once the vector has grown to the number of timeouts.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace ioloop_detail {

class TimeoutHeap {
public:
	struct Entry {
		std::int64_t deadline_us = 0;
		std::uint64_t seq = 0;
		std::uint32_t index = not_queued;
		bool queued() const { return index != not_queued; }
	};
	static constexpr std::uint32_t not_queued = ~0u;

	bool empty() const { return nodes_.empty(); }
	std::size_t size() const { return nodes_.size(); }
	Entry *top() const { return nodes_.empty() ? nullptr : nodes_.front(); }

	void push(Entry *e, std::int64_t deadline_us)
	{
		e->deadline_us = deadline_us;
		e->seq = next_seq_++;
		e->index = static_cast<std::uint32_t>(nodes_.size());
		nodes_.push_back(e);
		sift_up(e->index);
	}

	void erase(Entry *e)
	{
		std::uint32_t i = e->index;
		e->index = not_queued;
		Entry *last = nodes_.back();
		nodes_.pop_back();
		if (last == e)
			return;
		nodes_[i] = last;
		last->index = i;
		if (i > 0 && less(last, nodes_[parent(i)]))
			sift_up(i);
		else
			sift_down(i);
	}

	// Moves a queued entry to a new deadline, behind every entry already armed for that deadline.
	// In place: a new key and one sift (a reset only moves later, so usually down).
	void rearm(Entry *e, std::int64_t deadline_us)
	{
		bool earlier = deadline_us < e->deadline_us;
		e->deadline_us = deadline_us;
		e->seq = next_seq_++;
		if (earlier)
			sift_up(e->index);
		else
			sift_down(e->index);
	}

private:
	static std::uint32_t parent(std::uint32_t i) { return (i - 1) / 2; }
	static bool less(const Entry *a, const Entry *b)
	{
		return a->deadline_us < b->deadline_us ||
		       (a->deadline_us == b->deadline_us && a->seq < b->seq);
	}
	void place(std::uint32_t i, Entry *e)
	{
		nodes_[i] = e;
		e->index = i;
	}
	void sift_up(std::uint32_t i)
	{
		Entry *e = nodes_[i];
		while (i > 0 && less(e, nodes_[parent(i)])) {
			place(i, nodes_[parent(i)]);
			i = parent(i);
		}
		place(i, e);
	}
	void sift_down(std::uint32_t i)
	{
		Entry *e = nodes_[i];
		auto n = static_cast<std::uint32_t>(nodes_.size());
		for (;;) {
			std::uint32_t child = 2 * i + 1;
			if (child >= n)
				break;
			if (child + 1 < n && less(nodes_[child + 1], nodes_[child]))
				child++;
			if (!less(nodes_[child], e))
				break;
			place(i, nodes_[child]);
			i = child;
		}
		place(i, e);
	}

	std::vector<Entry *> nodes_;
	std::uint64_t next_seq_ = 0;
};

} // namespace ioloop_detail
