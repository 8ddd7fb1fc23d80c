#include "net/output-queue.hpp"

#include <cstring>

namespace maild {

char *OutputQueue::reserve(std::size_t n)
{
	if (cap_ - end_ >= n)
		return buf_.get() + end_;
	std::size_t queued = size();
	if (queued <= cap_ / 2 && cap_ - queued >= n) {
		// Drop the written part. At most half the buffer moves, and it leaves at least half
		// free, so the bytes moved are never more than the bytes appended since the last move.
		if (queued > 0) // reserve(0) on a queue that never had a buffer: no null to memmove
			std::memmove(buf_.get(), buf_.get() + begin_, queued);
	} else {
		// Grows geometrically, so a long stream of small appends reallocates rarely; at least
		// twice what is queued, so the next time there is room the move above applies.
		std::size_t cap = cap_ < 256 ? 256 : cap_;
		while (cap < 2 * queued || cap - queued < n)
			cap *= 2;
		std::unique_ptr<char[]> bigger(new char[cap]);
		if (queued > 0)
			std::memcpy(bigger.get(), buf_.get() + begin_, queued);
		buf_ = std::move(bigger);
		cap_ = cap;
	}
	begin_ = 0;
	end_ = queued;
	return buf_.get() + end_;
}

void OutputQueue::append(std::string_view data)
{
	if (data.empty())
		return;
	std::memcpy(reserve(data.size()), data.data(), data.size());
	commit(data.size());
}

void OutputQueue::consume(std::size_t n)
{
	begin_ += n;
	if (begin_ == end_)
		begin_ = end_ = 0;
}

} // namespace maild
