// The queue of a loop's timeouts, ordered by (deadline, sequence): earliest deadline first, and
// equal deadlines in the order they were armed. Each entry knows where it is, so removal needs no
// search, and nothing here allocates once the arrays have grown to the number of timeouts.
//
// Two structures share the order (why, as measured with test/bench/bench-timers and callgrind):
// - A 4-ary min-heap for any deadline: O(log n).
//   - The keys live in the heap array, not only in the entries. A sift compares a node with its
//     children; reading their keys from the array costs one cache line per level, where following
//     pointers to the entries costs a miss per child. An entry is touched only when its node
//     moves (its index changes).
//   - Four children: half the levels of a binary heap, and the four 16-byte keys of a family fill
//     one 64-byte line, because the key array is aligned so that every family starts on one. Keys
//     and entry pointers are parallel arrays, so that a line holds four keys, not two and a half.
// - A run: a FIFO ring of entries whose keys were appended in non-decreasing order, O(1). An
//   entry goes there when its key is at least the last one appended, which is what "now +
//   interval" gives for timeouts sharing an interval (every session's idle timeout), and for a
//   timeout re-armed as it fires (the heap would sift it from the root to a leaf every time).
//   Random deadlines mostly go to the heap. Removing from the middle leaves a hole that is
//   skipped at the head; holes are squeezed out when the ring is full, so it stays within twice
//   its live entries.
// - A re-arm to a later deadline (timeout_reset, the common case by far) only writes the new key
//   into the entry. Its node keeps the old, smaller key, still a valid lower bound, so both
//   structures stay ordered; the node is brought up to date only when it becomes the earliest
//   (first_due, top). An idle timeout reset on every command then costs no sift at all, and at
//   most one move each time it comes first instead of one per reset. The price: the earliest key
//   may be before any real deadline, so the loop may wake once early for a timeout that was
//   pushed back (see earliest_bound).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>

// With AddressSanitizer, free slots are poisoned, so a timeout used after it was freed is still
// reported although its memory stays in the pool. Without, the macros do nothing.
#if defined(__has_include)
#if __has_include(<sanitizer/asan_interface.h>)
#include <sanitizer/asan_interface.h>
#endif
#endif
#ifndef ASAN_POISON_MEMORY_REGION
#define ASAN_POISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#define ASAN_UNPOISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#endif

namespace ioloop_detail {

// Members that may be out of line are [[gnu::visibility("hidden")]]: called directly, not through
// the PLT as the shared library's exported symbols are (the conformance test has its own copy).
class TimeoutHeap {
public:
	// Embedded in each timeout; its deadline and sequence are the real ones.
	struct Entry {
		std::int64_t deadline_us = 0;
		std::uint64_t seq = 0; // arming order: unique, so it also tells a stale node from a fresh one
		std::uint32_t index = not_queued; // heap index, or run_bit | position in the run
		bool queued() const { return index != not_queued; }
	};
	static constexpr std::uint32_t not_queued = ~0u;

	// Where a loop's timeouts live: line-sized, line-aligned slots carved from blocks that
	// grow geometrically and are freed with the loop. Taking or returning a slot is a few
	// instructions (malloc and free were half the cost of timeout_add and of a cancel + add), and
	// a timeout is exactly one cache line. A block is not returned to the system before the loop
	// goes: a loop keeps the memory of the most timeouts it had at once, 64 bytes each.
	class Slots {
	public:
		static constexpr std::size_t slot_size = 64;
		Slots() = default;
		Slots(const Slots &) = delete;
		Slots &operator=(const Slots &) = delete;
		~Slots()
		{
			while (Block *b = blocks_) {
				blocks_ = b->next;
				ASAN_UNPOISON_MEMORY_REGION(b, b->bytes);
				::operator delete(b, std::align_val_t{slot_size});
			}
		}
		// Throws bad_alloc.
		void *get()
		{
			void *p;
			if (Free *f = free_) { // the most recently freed: likely still in the cache
				ASAN_UNPOISON_MEMORY_REGION(f, slot_size);
				free_ = f->next;
				p = f;
			} else {
				if (fresh_ == fresh_end_)
					add_block();
				p = fresh_;
				fresh_ += slot_size;
				ASAN_UNPOISON_MEMORY_REGION(p, slot_size);
			}
			in_use_++;
			return p;
		}
		std::size_t in_use() const { return in_use_; }
		void put(void *p)
		{
			auto *f = static_cast<Free *>(p);
			f->next = free_;
			free_ = f;
			in_use_--;
			ASAN_POISON_MEMORY_REGION(p, slot_size);
		}

	private:
		struct Free {
			Free *next;
		};
		struct Block { // in the block's first slot
			Block *next;
			std::size_t bytes;
		};
		[[gnu::noinline, gnu::visibility("hidden")]] void add_block()
		{
			// 15 slots, then twice as many each time up to 4095 (256 KiB blocks). Handed out
			// by bumping a pointer, so a slot is first written when it is used.
			std::size_t n = next_block_slots_;
			void *mem = ::operator new(n * slot_size, std::align_val_t{slot_size});
			if (next_block_slots_ < 4096)
				next_block_slots_ *= 2;
			auto *b = static_cast<Block *>(mem);
			b->next = blocks_;
			b->bytes = n * slot_size;
			blocks_ = b;
			fresh_ = static_cast<char *>(mem) + slot_size;
			fresh_end_ = static_cast<char *>(mem) + n * slot_size;
			ASAN_POISON_MEMORY_REGION(fresh_, std::size_t(fresh_end_ - fresh_));
		}
		Free *free_ = nullptr;
		char *fresh_ = nullptr, *fresh_end_ = nullptr;
		Block *blocks_ = nullptr;
		std::size_t next_block_slots_ = 16, in_use_ = 0;
	};
	Slots slots;
	// The entry whose callback is running (timeouts.cpp): the one timeout that may not be freed
	// the moment it is removed.
	const Entry *running = nullptr;

	TimeoutHeap() = default;
	TimeoutHeap(const TimeoutHeap &) = delete;
	TimeoutHeap &operator=(const TimeoutHeap &) = delete;
	~TimeoutHeap()
	{
		if (block_ != nullptr)
			::operator delete(block_, std::align_val_t{line});
		delete[] entries_;
		delete[] run_;
	}

	bool empty() const { return size() == 0; }
	std::size_t size() const { return size_ + run_live_; }

	// Not after the earliest deadline, and equal to it unless that timeout was pushed back
	// lazily. Only for a non-empty queue.
	std::int64_t earliest_bound() const
	{
		bool in_run;
		return least_key(in_run)->deadline_us();
	}

	// The entry with the earliest (deadline, sequence), or null when empty.
	Entry *top() { return first_due(std::numeric_limits<std::int64_t>::max()); }

	// Some entry, or null when empty: the cheapest to erase, for emptying the queue.
	Entry *last() const
	{
		if (size_ != 0)
			return entries_[size_ - 1];
		return run_live_ != 0 ? run_cell(run_head_).e : nullptr;
	}

	// The earliest entry if its deadline is at or before now_us, else null. Brings stale nodes up
	// to date on the way, which is where the moves that lazy re-arms skipped are paid.
	[[gnu::visibility("hidden")]] Entry *first_due(std::int64_t now_us)
	{
		for (;;) {
			bool in_run;
			const Key *k = least_key(in_run);
			if (k == nullptr || k->deadline_us() > now_us)
				return nullptr;
			Entry *e = in_run ? run_cell(run_head_).e : entries_[0];
			if (k->seq == e->seq)
				return e;
			requeue_first(e, in_run);
		}
	}

	// Arms from now on belong to `epoch` (the loop's wait_count): call before push and the rearms.
	void set_epoch(std::uint64_t epoch)
	{
		if (epoch != epoch_) {
			epoch_ = epoch;
			epoch_first_seq_ = next_seq_;
		}
	}
	// Armed during `epoch`. Sequence numbers only grow, so one mark per epoch says it for every
	// entry, and a timeout needs no field of its own for it.
	bool armed_in(const Entry *e, std::uint64_t epoch) const
	{
		return epoch == epoch_ && e->seq >= epoch_first_seq_;
	}

	// Grows the heap now so that it can hold `n` entries: a push or re-arm of up to `n` entries
	// then cannot fail nor allocate, since the heap takes whatever the run has no room for
	// (throws bad_alloc).
	void reserve(std::size_t n)
	{
		if (n > cap_)
			grow(n);
	}

	// `may_grow`: the run may allocate to take it (for a new timeout: timeout_add allocates
	// anyway), else it goes to the heap when the run is full.
	[[gnu::visibility("hidden")]] void push(Entry *e, std::int64_t deadline_us, bool may_grow = true)
	{
		reserve(size() + 1);
		e->deadline_us = deadline_us;
		e->seq = next_seq_++;
		insert(e, Key{deadline_us, e->seq}, may_grow);
	}

	[[gnu::visibility("hidden")]] void erase(Entry *e)
	{
		std::uint32_t at = e->index;
		e->index = not_queued;
		if (at & run_bit)
			run_remove(at);
		else
			heap_remove(at);
	}

	// Moves a queued entry to a new deadline, behind every entry already armed for that deadline.
	// Later than its current deadline: lazy (see the top of this file). Earlier: its node may hold
	// a key above the new one, so the entry is queued again at once.
	[[gnu::visibility("hidden")]] void rearm(Entry *e, std::int64_t deadline_us)
	{
		bool later = deadline_us >= e->deadline_us;
		e->deadline_us = deadline_us;
		e->seq = next_seq_++;
		if (!later)
			requeue(e);
	}

	// The entry first_due just returned, re-armed at a deadline no earlier than its own (a
	// repeating timeout as it fires): it moves now, since it would at once anyway.
	[[gnu::visibility("hidden")]] void rearm_first(Entry *e, std::int64_t deadline_us)
	{
		e->deadline_us = deadline_us;
		e->seq = next_seq_++;
		requeue_first(e, (e->index & run_bit) != 0);
	}

private:
	// (deadline, seq) as one unsigned 128-bit number, seq in the low half: ordering two keys is
	// then one wide compare (cmp + sbb), with no branch on which half decides.
	struct Key {
		Key() = default;
		Key(std::int64_t deadline_us, std::uint64_t s)
		    : seq(s), biased_deadline(std::uint64_t(deadline_us) ^ sign)
		{
		}
		std::int64_t deadline_us() const { return std::int64_t(biased_deadline ^ sign); }
		static constexpr std::uint64_t sign = std::uint64_t(1) << 63; // signed order as unsigned
		std::uint64_t seq;
		std::uint64_t biased_deadline;
	};
	struct RunCell {
		Key key;
		Entry *e; // null: a hole left by a removal
	};
	static constexpr std::size_t arity = 4;
	static constexpr std::size_t line = 64;
	static_assert(arity * sizeof(Key) == line, "a family of keys fills one cache line");
	// Entry::index of a run member: this bit plus its position modulo 2^30, which locates its
	// cell for any ring capacity up to 2^30 and never equals not_queued.
	static constexpr std::uint32_t run_bit = 0x80000000u;
	static constexpr std::size_t run_position_mask = 0x3fffffff;

	// Branch-free: which child is least is data-dependent and would mispredict half the time.
	static bool less(const Key &a, const Key &b)
	{
#ifdef __SIZEOF_INT128__
		__extension__ using u128 = unsigned __int128;
		return ((u128(a.biased_deadline) << 64) | a.seq) < ((u128(b.biased_deadline) << 64) | b.seq);
#else
		return (a.biased_deadline < b.biased_deadline) |
		       ((a.biased_deadline == b.biased_deadline) & (a.seq < b.seq));
#endif
	}

	// The least key of the heap's root and the run's head, or null when both are empty.
	[[gnu::visibility("hidden")]] const Key *least_key(bool &in_run) const
	{
		const Key *h = size_ != 0 ? &keys_[0] : nullptr;
		const Key *r = run_live_ != 0 ? &run_cell(run_head_).key : nullptr;
		in_run = r != nullptr && (h == nullptr || less(*r, *h));
		return in_run ? r : h;
	}

	// Queues an entry that is in neither structure: into the run when it keeps the run in order
	// and the run has room, else into the heap (whose capacity reserve() guarantees). Only a push
	// of a new timeout may grow the run: firing and re-arming allocate nothing.
	[[gnu::visibility("hidden")]] void insert(Entry *e, const Key &k, bool may_grow = false)
	{
		if ((run_live_ == 0 || !less(k, run_last_)) && run_append(e, k, may_grow))
			return;
		heap_insert(e, k);
	}

	// The first entry (heap root or run head) under a key no earlier than its node's.
	[[gnu::visibility("hidden")]] void requeue_first(Entry *e, bool in_run)
	{
		Key k{e->deadline_us, e->seq};
		if (in_run) {
			run_pop_head();
			insert(e, k);
		} else if ((run_live_ == 0 || !less(k, run_last_)) && run_has_room(false)) {
			heap_remove(0); // to the run: paid once, then O(1) for as long as it stays there
			run_append(e, k, false);
		} else {
			sift_down<true>(0, k, e);
		}
	}

	// Any queued entry under its (new) real key.
	[[gnu::noinline, gnu::visibility("hidden")]] void requeue(Entry *e)
	{
		Key k{e->deadline_us, e->seq};
		if (e->index & run_bit) {
			run_remove(e->index);
			insert(e, k);
		} else {
			std::size_t i = e->index;
			if (less(k, keys_[i]))
				sift_up(i, k, e);
			else
				sift_down(i, k, e);
		}
	}

	// ---- the heap: keys_[i], entries_[i]; children of i at 4i+1 .. 4i+4 ----

	static std::size_t parent(std::size_t i) { return (i - 1) / arity; }

	// Index (0-3) of the least key of a full family: the least of each pair, then of those two.
	// As arithmetic: written with ?: (or with the keys instead of indexes), compilers branch or
	// repeat the compares, measured 20-70 instructions more per sift under callgrind.
	static std::size_t least_of_four(const Key *f)
	{
		std::size_t b01 = std::size_t(less(f[1], f[0]));
		std::size_t b23 = 2 + std::size_t(less(f[3], f[2]));
		return b01 ^ ((b01 ^ b23) & -std::size_t(less(f[b23], f[b01])));
	}

	void place(std::size_t i, const Key &k, Entry *e)
	{
		keys_[i] = k;
		entries_[i] = e;
		e->index = static_cast<std::uint32_t>(i);
	}

	// Out of line: inlined into insert (and so into push and timeout_add), its registers made
	// those save six of their own, about ten instructions on every call.
	[[gnu::noinline, gnu::visibility("hidden")]] void heap_insert(Entry *e, const Key &k)
	{
		sift_up(size_++, k, e);
	}

	[[gnu::visibility("hidden")]] void heap_remove(std::size_t i)
	{
		std::size_t last = --size_;
		if (i == last)
			return;
		// The last node fills the hole; its (possibly stale) key orders it like any other.
		Key k = keys_[last];
		Entry *moved = entries_[last];
		if (i > 0 && less(k, keys_[parent(i)]))
			sift_up(i, k, moved);
		else
			sift_down(i, k, moved);
	}

	[[gnu::visibility("hidden")]] void sift_up(std::size_t i, Key k, Entry *e)
	{
		while (i > 0) {
			std::size_t p = parent(i);
			if (!less(k, keys_[p]))
				break;
			place(i, keys_[p], entries_[p]);
			i = p;
		}
		place(i, k, e);
	}

	// Moves k down from i. Floyd's variant (`to_leaf`) moves the least child up at every level
	// without comparing it with k, then sifts k up from the leaf it reached: for a key known to be
	// among the latest (a stale root brought up to date) that saves a compare per level and the
	// sift up stops at once. For a removal's moved last node it measured worse, so not there.
	template <bool to_leaf = false>
	[[gnu::visibility("hidden")]] void sift_down(std::size_t i, Key k, Entry *e)
	{
		const std::size_t n = size_;
		for (;;) {
			std::size_t c = arity * i + 1;
			std::size_t best = c;
			if (c + arity <= n) { // the usual case: a full family, one cache line
				best = c + least_of_four(keys_ + c);
			} else if (c < n) {
				for (std::size_t j = c + 1; j < n; j++)
					if (less(keys_[j], keys_[best]))
						best = j;
			} else {
				break;
			}
			if (!to_leaf && !less(keys_[best], k))
				break;
			place(i, keys_[best], entries_[best]);
			i = best;
		}
		if (to_leaf)
			sift_up(i, k, e);
		else
			place(i, k, e);
	}

	[[gnu::noinline, gnu::visibility("hidden")]] void grow(std::size_t want)
	{
		std::size_t cap = cap_ == 0 ? 64 : cap_;
		while (cap < want)
			cap *= 2;
		if (cap > std::size_t(run_bit))
			throw std::bad_alloc(); // heap indexes are 31 bits
		// Keys start `arity - 1` slots into a line-aligned block: the root sits alone at the end
		// of the first line and every family 4i+1 .. 4i+4 fills one line.
		void *block = ::operator new((cap + arity - 1) * sizeof(Key), std::align_val_t{line});
		Entry **entries;
		try {
			entries = new Entry *[cap];
		} catch (...) {
			::operator delete(block, std::align_val_t{line});
			throw;
		}
		Key *keys = static_cast<Key *>(block) + (arity - 1);
		for (std::size_t i = 0; i < size_; i++) {
			keys[i] = keys_[i];
			entries[i] = entries_[i];
		}
		if (block_ != nullptr)
			::operator delete(block_, std::align_val_t{line});
		delete[] entries_;
		block_ = block;
		keys_ = keys;
		entries_ = entries;
		cap_ = cap;
	}

	// ---- the run: cells run_head_ .. run_tail_ (positions count up forever; the cell of
	// position p is run_[p & (run_cap_ - 1)]), keys non-decreasing, holes allowed ----

	RunCell &run_cell(std::size_t position) const { return run_[position & (run_cap_ - 1)]; }

	[[gnu::visibility("hidden")]] bool run_has_room(bool may_grow)
	{
		return run_tail_ - run_head_ < run_cap_ || run_make_room(may_grow);
	}

	[[gnu::visibility("hidden")]] bool run_append(Entry *e, const Key &k, bool may_grow)
	{
		if (!run_has_room(may_grow))
			return false;
		run_cell(run_tail_) = RunCell{k, e};
		e->index = run_bit | static_cast<std::uint32_t>(run_tail_ & run_position_mask);
		run_tail_++;
		run_live_++;
		run_last_ = k;
		return true;
	}

	[[gnu::visibility("hidden")]] void run_pop_head()
	{
		run_head_++;
		run_live_--;
		run_skip_holes();
	}

	[[gnu::visibility("hidden")]] void run_remove(std::uint32_t at)
	{
		run_cell(at & run_position_mask).e = nullptr;
		run_live_--;
		run_skip_holes();
	}

	[[gnu::visibility("hidden")]] void run_skip_holes()
	{
		if (run_live_ == 0) { // empty: any key may start the next run
			run_head_ = run_tail_;
			return;
		}
		while (run_cell(run_head_).e == nullptr)
			run_head_++;
	}

	// The ring is full: squeezes the holes out if they are at least half of it (so the copying
	// is paid for by the removals that made them), else doubles it if allowed. Never throws: when
	// there is no room, the caller queues in the heap instead.
	[[gnu::noinline, gnu::visibility("hidden")]] bool run_make_room(bool may_grow)
	{
		if (run_cap_ != 0 && run_live_ <= run_cap_ / 2) {
			std::size_t to = run_head_;
			for (std::size_t from = run_head_; from != run_tail_; from++) {
				RunCell c = run_cell(from);
				if (c.e == nullptr)
					continue;
				c.e->index = run_bit | static_cast<std::uint32_t>(to & run_position_mask);
				run_cell(to++) = c;
			}
			run_tail_ = to;
			return true;
		}
		if (!may_grow)
			return false;
		std::size_t cap = run_cap_ == 0 ? 64 : run_cap_ * 2;
		auto *cells = cap <= run_position_mask + 1 ? new (std::nothrow) RunCell[cap] : nullptr;
		if (cells == nullptr)
			return false;
		// Positions do not change, so neither do the entries' indexes.
		for (std::size_t p = run_head_; p != run_tail_; p++)
			cells[p & (cap - 1)] = run_cell(p);
		delete[] run_;
		run_ = cells;
		run_cap_ = cap;
		return true;
	}

	void *block_ = nullptr;
	Key *keys_ = nullptr;
	Entry **entries_ = nullptr;
	std::size_t size_ = 0, cap_ = 0;

	RunCell *run_ = nullptr;
	std::size_t run_cap_ = 0, run_head_ = 0, run_tail_ = 0, run_live_ = 0;
	Key run_last_{};

	std::uint64_t next_seq_ = 0;
	std::uint64_t epoch_ = ~std::uint64_t(0), epoch_first_seq_ = 0;
};

} // namespace ioloop_detail
