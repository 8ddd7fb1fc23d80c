// The queue of a loop's timeouts, ordered by (deadline, sequence): earliest deadline first, and
// equal deadlines in the order they were armed. Each entry knows where it is, so removal needs no
// search, and nothing here allocates once the arrays have grown to the number of timeouts.
//
// Two structures share the order (why: test/bench/bench-timers and callgrind; the figures are in
// doc/performance.md, "The timeout queue's measured choices"):
// - A 4-ary min-heap for any deadline: O(log n).
//   - A node is {deadline, entry}: 16 bytes, so the four children of a node, keys and entries
//     together, are one 64-byte line (the array is aligned so that every family starts on one).
//     A sift reads one line per level, plus the entry of a node it moves (whose index changes).
//     Keys of 16 bytes in an array parallel to the entry pointers cost a second line per level
//     (libev's nodes are the same {time, watcher}).
//   - The sequence that breaks ties is not in the node but in the entry (Entry::node_seq), read
//     only when two deadlines are equal, which is rare in the heap: timeouts sharing an interval
//     arm in order and go to the run. It is the sequence the node was placed with, and it does
//     not change while the node is queued: a tie-break that changed under a queued node would
//     break the order among its equal deadlines, and fire them out of arming order.
// - A run: a FIFO ring of entries whose keys were appended in non-decreasing order, O(1). An
//   entry goes there when its key is at least the last one appended, which is what "now +
//   interval" gives for timeouts sharing an interval (every session's idle timeout), and for a
//   timeout re-armed as it fires (the heap would sift it from the root to a leaf every time).
//   Random deadlines mostly go to the heap. Removing from the middle leaves a hole that is
//   skipped at the head; holes are squeezed out when the ring is full, so it stays within twice
//   its live entries.
// - A re-arm to the same or a later deadline (timeout_reset, the common case by far) only writes
//   the new deadline into the entry and counts its new sequence as a lead over node_seq. Its node
//   keeps the old, smaller key, still a valid lower bound, so both structures stay ordered; the
//   node is brought up to date only when it becomes the earliest (first_due, top), told stale by
//   a lead that is not zero. An idle timeout reset on every command then costs no sift at all,
//   and at most one move each time it comes first instead of one per reset. The price: the
//   earliest key may be before any real deadline, so the loop may wake once early for a timeout
//   that was pushed back (see earliest_bound). A lead that would not fit its 32 bits (2^32 arms
//   while the node waited) is not taken: that re-arm moves the node at once.
// - A removal from the heap is lazy too: the node stays where it is with its key, its entry
//   pointer replaced by the entry's node_seq with the low bit set (the entry may be freed and
//   reused at once). No sift, and no moved node whose entry must learn its new index: the removal
//   writes one heap line and reads nothing that waits on a cache miss, where a sift read the
//   parent's and the children's lines after the entry's. A removed node goes when it comes first
//   (first_due), when it is the last node, or all at once when the heap is full (purge: O(n)).
//   The heap has room for twice the timeouts that exist (reserve), so they are half of it then,
//   and the rebuild is paid for by as many removals. Figures (bench-timers, mix and
//   cancel, also over many rounds of mix, where purges are paid): doc/performance.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>

#include "slot-pool.hpp"

namespace ioloop_detail {

// The members kept out of line ([[gnu::noinline]]) keep a caller's usual path short; each one
// stays so only because callgrind counts more instructions without it (doc/performance.md,
// "Attributes in the timeout queue").
// They are also hidden: called directly, not through the PLT as the shared library's exported
// symbols are (the conformance test has its own copy).
class TimeoutHeap {
public:
	// Embedded in each timeout: 24 of its 48 bytes (loop-core.hpp).
	// What a removal reads, first: 16 bytes that no 48-byte slot splits across cache lines.
	struct Entry {
		std::uint32_t index = not_queued; // heap index, or run_bit | position in the run
		std::uint32_t seq_lead = 0; // arming order is node_seq + seq_lead; not 0: node stale
		std::uint64_t node_seq = 0; // the sequence its node was placed with: the tie-break
		std::int64_t deadline_us = 0; // the real one; its node's may be earlier (stale)
		bool queued() const { return index != not_queued; }
		// Arming order: unique, and only grows.
		std::uint64_t seq() const { return node_seq + seq_lead; }
	};
	static constexpr std::uint32_t not_queued = ~0u;

	// Where the timeouts live (slot-pool.hpp).
	using Slots = SlotPool;
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
		delete[] run_;
	}

	bool empty() const { return size() == 0; }
	std::size_t size() const { return size_ - dead_ + run_live_; }

	// Not after the earliest deadline, and equal to it unless that timeout was pushed back
	// lazily. Only for a non-empty queue.
	std::int64_t earliest_bound() const
	{
		bool in_run;
		return least_node(in_run)->deadline_us;
	}

	// The entry with the earliest (deadline, sequence), or null when empty.
	Entry *top() { return first_due(std::numeric_limits<std::int64_t>::max()); }

	// Some entry, or null when empty: the cheapest to erase, for emptying the queue.
	Entry *last()
	{
		while (size_ != 0 && dead(nodes_[size_ - 1])) {
			size_--;
			dead_--;
		}
		if (size_ != 0)
			return nodes_[size_ - 1].e;
		return run_live_ != 0 ? run_cell(run_head_).e : nullptr;
	}

	// The earliest entry if its deadline is at or before now_us, else null. Brings stale nodes up
	// to date on the way, which is where the moves that lazy re-arms skipped are paid.
	[[gnu::always_inline]] Entry *first_due(std::int64_t now_us)
	{
		for (;;) {
			while (size_ != 0 && dead(nodes_[0])) [[unlikely]]
				drop_dead_root();
			bool in_run;
			const Node *n = least_node(in_run);
			if (n == nullptr || n->deadline_us > now_us)
				return nullptr;
			Entry *e = n->e;
			if (e->seq_lead == 0)
				return e;
			e->node_seq += e->seq_lead;
			e->seq_lead = 0;
			requeue_first(e, in_run);
		}
	}

	// Arms from now on belong to a new iteration of the loop: called once an iteration, before it
	// waits, rather than by every arm (which measured as a dozen instructions more in each
	// timeout_add and timeout_reset: callgrind, bench-timers).
	void new_epoch() { epoch_first_seq_ = next_seq_; }
	// Armed since the last new_epoch(). Sequence numbers only grow, so one mark per iteration
	// says it for every entry, and a timeout needs no field of its own for it.
	bool armed_this_epoch(const Entry *e) const { return e->seq() >= epoch_first_seq_; }

	// Grows the heap now so that it can hold `n` entries: a push or re-arm of up to `n` entries
	// then cannot fail nor allocate, since the heap takes whatever the run has no room for
	// (throws bad_alloc). Room for half as many again, so that the nodes of removed entries fill
	// at least a third of it before it is full: then it drops them (purge), paid for by as many
	// removals, and never grows for them. Pages of the array that no node reached cost no memory.
	void reserve(std::size_t n)
	{
		if (n + n / 2 > cap_)
			grow(n + n / 2);
		if (size_ == cap_) // full, nodes of removed entries being a third of it or more
			purge();
	}
	// A slot for a new timeout, the heap grown first for every slot the pool may hold after
	// this (throws bad_alloc). So a slot the pool hands out without allocating (try_take, on
	// timeout_add's usual path) needs no check of the heap's room, which that check cost in
	// every call (callgrind: with the tail-called purge, 10 instructions of 94).
	void *new_slot(void *owner)
	{
		return slots.get(owner, [this](std::size_t n) { reserve(n); });
	}

	// Queues an entry that is not queued. The caller has reserved room for it. `may_grow`: the
	// run may allocate to take it (for a new timeout: timeout_add allocates anyway), else it goes
	// to the heap when the run is full. Returns e, so that a caller may end with a tail call.
	Entry *push(Entry *e, std::int64_t deadline_us, bool may_grow = true)
	{
		*e = armed(deadline_us);
		return push_armed(e, may_grow);
	}
	// push in two steps, for a timeout being built: its entry is written with the rest of it.
	Entry armed(std::int64_t deadline_us) { return Entry{not_queued, 0, next_seq_++, deadline_us}; }
	Entry *push_armed(Entry *e, bool may_grow)
	{
		// The newest sequence: in order after the run's last key unless its deadline is earlier.
		if (e->deadline_us < run_last_deadline_)
			return heap_insert(e);
		if (run_tail_ - run_head_ < run_cap_) {
			run_put(e, e->deadline_us);
			return e;
		}
		return push_run_full(e, may_grow);
	}

	void erase(Entry *e)
	{
		std::uint32_t at = e->index;
		e->index = not_queued;
		erase_at(at, e->node_seq);
	}
	// Takes out the entry whose index was `at` and node_seq `seq`, without touching that entry:
	// it may be freed already. In the heap, its node stays, marked removed (see the top).
	void erase_at(std::uint32_t at, std::uint64_t seq)
	{
		if (at & run_bit)
			run_remove(at);
		else
			heap_kill(at, seq);
	}

	// Moves a queued entry to a new deadline, behind every entry already armed for that deadline.
	// The same or later than its current deadline: lazy (see the top of this file). Earlier: its
	// node may hold a key above the new one, so the entry is queued again at once.
	void rearm(Entry *e, std::int64_t deadline_us)
	{
		bool earlier = deadline_us < e->deadline_us;
		std::uint64_t lead = next_seq_++ - e->node_seq;
		e->deadline_us = deadline_us;
		e->seq_lead = static_cast<std::uint32_t>(lead);
		if (earlier || lead > std::numeric_limits<std::uint32_t>::max())
			requeue(e, next_seq_ - 1);
	}

	// The entry first_due just returned, re-armed at a deadline no earlier than its own (a
	// repeating timeout as it fires): it moves now, since it would at once anyway.
	void rearm_first(Entry *e, std::int64_t deadline_us)
	{
		e->deadline_us = deadline_us;
		e->node_seq = next_seq_++;
		e->seq_lead = 0;
		requeue_first(e, (e->index & run_bit) != 0);
	}

	// Calls f(entry) for each queued entry, in no order; f must not change the queue.
	template <class F> void for_each(F f)
	{
		for (std::size_t i = 0; i < size_; i++)
			if (!dead(nodes_[i]))
				f(nodes_[i].e);
		for (std::size_t p = run_head_; p != run_tail_; p++)
			if (Entry *e = run_cell(p).e)
				f(e);
	}

	// For tests: as if `n` timeouts had been armed meanwhile (to reach a lead of 2^32).
	void skip_seq(std::uint64_t n) { next_seq_ += n; }

private:
	// A heap node or a run cell. Its key is (deadline_us, e->node_seq).
	struct Node {
		std::int64_t deadline_us;
		// In the run, null: a hole left by a removal. In the heap, with the low bit set: the
		// node of a removed entry, whose node_seq is in the other bits (dead, seq_of).
		Entry *e;
	};
	static bool dead(const Node &n) { return (reinterpret_cast<std::uintptr_t>(n.e) & 1) != 0; }
	static std::uint64_t seq_of(const Node &n)
	{
		if (dead(n))
			return reinterpret_cast<std::uintptr_t>(n.e) >> 1;
		return n.e->node_seq;
	}
	static constexpr std::size_t arity = 4;
	static constexpr std::size_t line = 64;
	static_assert(arity * sizeof(Node) == line, "a family of nodes fills one cache line");
	// Entry::index of a run member: this bit plus its position modulo 2^30, which locates its
	// cell for any ring capacity up to 2^30 and never equals not_queued.
	static constexpr std::uint32_t run_bit = 0x80000000u;
	static constexpr std::size_t run_position_mask = 0x3fffffff;

	// Equal deadlines are rare in the heap (see the top), so the entries are read only then.
	static bool less(const Node &a, const Node &b)
	{
		if (a.deadline_us != b.deadline_us) [[likely]]
			return a.deadline_us < b.deadline_us;
		return seq_of(a) < seq_of(b);
	}

	// The least of the heap's root and the run's head, or null when both are empty.
	const Node *least_node(bool &in_run) const
	{
		const Node *h = size_ != 0 ? &nodes_[0] : nullptr;
		const Node *r = run_live_ != 0 ? &run_cell(run_head_) : nullptr;
		in_run = r != nullptr && (h == nullptr || less(*r, *h));
		return in_run ? r : h;
	}

	// Whether a fresh entry's key keeps the run in order after its last key.
	bool fits_run(const Entry *e) const
	{
		return e->deadline_us > run_last_deadline_ ||
		       (e->deadline_us == run_last_deadline_ && e->node_seq > run_last_seq_);
	}

	// Queues a fresh entry that is in neither structure: into the run when it keeps the run in
	// order and the run has room, else into the heap (whose capacity reserve() guarantees). Only
	// a push of a new timeout may grow the run: firing and re-arming allocate nothing.
	void insert(Entry *e, bool may_grow = false)
	{
		if (fits_run(e) && run_has_room(may_grow))
			run_put(e, e->deadline_us);
		else
			heap_insert(e);
	}

	// push_armed's way when the key fits the run but the ring is full. Out of line:
	// callgrind counts more instructions inlined (doc/performance.md, "Attributes in
	// the timeout queue").
	[[gnu::noinline, gnu::visibility("hidden")]] Entry *push_run_full(Entry *e, bool may_grow)
	{
		if (run_make_room(may_grow))
			run_put(e, e->deadline_us);
		else
			heap_insert(e);
		return e;
	}

	// The first entry (heap root or run head), fresh under a key no earlier than its node's.
	[[gnu::always_inline]] void requeue_first(Entry *e, bool in_run)
	{
		if (in_run) {
			run_pop_head();
			insert(e);
		} else if (fits_run(e) && run_has_room(false)) {
			heap_remove(0); // to the run: paid once, then O(1) for as long as it stays there
			run_put(e, e->deadline_us);
		} else {
			sift_down<true>(0, Node{e->deadline_us, e});
		}
	}

	// Any queued entry under its real key, `seq` its arming order. Its node is not compared
	// while it moves, so its tie-break may change first. Out of line:
	// callgrind counts more instructions inlined (doc/performance.md, "Attributes in
	// the timeout queue").
	[[gnu::noinline, gnu::visibility("hidden")]] void requeue(Entry *e, std::uint64_t seq)
	{
		e->node_seq = seq;
		e->seq_lead = 0;
		if (e->index & run_bit) {
			run_remove(e->index);
			insert(e);
		} else {
			std::size_t i = e->index;
			Node n{e->deadline_us, e};
			if (i > 0 && less(n, nodes_[parent(i)]))
				sift_up(i, n);
			else
				sift_down(i, n);
		}
	}

	// ---- the heap: nodes_[i]; children of i at 4i+1 .. 4i+4 ----

	static std::size_t parent(std::size_t i) { return (i - 1) / arity; }

	// Index (0-3) of the least key of a full family: the least of each pair, then of those two.
	// As arithmetic: written with ?: (or with the nodes instead of indexes), compilers branch or
	// repeat the compares, which callgrind counted as more instructions per sift.
	static std::size_t least_of_four(const Node *f)
	{
		std::size_t b01 = std::size_t(less(f[1], f[0]));
		std::size_t b23 = 2 + std::size_t(less(f[3], f[2]));
		return b01 ^ ((b01 ^ b23) & -std::size_t(less(f[b23], f[b01])));
	}

	void place(std::size_t i, const Node &n)
	{
		nodes_[i] = n;
		if (!dead(n))
			n.e->index = static_cast<std::uint32_t>(i);
	}

	Entry *heap_insert(Entry *e)
	{
		if (size_ == cap_) [[unlikely]] // removed nodes fill the room reserved for live ones
			return purge_and_insert(e);
		sift_up_live(size_++, Node{e->deadline_us, e});
		return e;
	}
	// Out of line and reached by a tail call: a call to purge() in heap_insert made
	// timeout_add save and restore four registers every time (callgrind).
	[[gnu::noinline, gnu::visibility("hidden")]] Entry *purge_and_insert(Entry *e)
	{
		purge();
		sift_up_live(size_++, Node{e->deadline_us, e});
		return e;
	}

	// A removal from the heap: the node stays, keeping its key, until it comes first or the
	// heap fills (see the top). The last node goes at once.
	void heap_kill(std::size_t i, std::uint64_t seq)
	{
		if (i + 1 == size_) {
			size_--;
		} else {
			nodes_[i].e = reinterpret_cast<Entry *>(std::uintptr_t(seq << 1 | 1));
			dead_++;
		}
		if (dead_ == size_) // nothing but removed nodes: all go
			size_ = dead_ = 0;
	}

	[[gnu::noinline, gnu::visibility("hidden")]] void drop_dead_root()
	{
		dead_--;
		heap_remove(0);
	}

	// Drops every removed node and rebuilds the heap from the rest: O(n).
	[[gnu::noinline, gnu::visibility("hidden")]] void purge()
	{
		std::size_t to = 0;
		for (std::size_t from = 0; from < size_; from++)
			if (!dead(nodes_[from]))
				place(to++, nodes_[from]);
		size_ = to;
		dead_ = 0;
		for (std::size_t i = size_ / arity + 1; i-- > 0;)
			if (i < size_)
				sift_down(i, nodes_[i]);
	}

	void heap_remove(std::size_t i)
	{
		std::size_t last = --size_;
		if (i == last)
			return;
		// The last node fills the hole; its (possibly stale) key orders it like any other.
		Node n = nodes_[last];
		if (i > 0 && less(n, nodes_[parent(i)]))
			sift_up_out(i, n);
		else if (arity * i + 1 < last)
			sift_down_out(i, n);
		else // a leaf, as three nodes in four are: no sift, and none of the registers it needs
			place(i, n);
	}
	// Out of line, the pair: callgrind counts more instructions inlined (doc/performance.md, "Attributes in
	// the timeout queue").
	[[gnu::noinline, gnu::visibility("hidden")]] void sift_up_out(std::size_t i, Node n)
	{
		sift_up(i, n);
	}
	[[gnu::noinline, gnu::visibility("hidden")]] void sift_down_out(std::size_t i, Node n)
	{
		sift_down(i, n);
	}

	// sift_up for a node known to be live (an entry being queued): its own tag is never tested,
	// and the compiler no longer makes two copies of the loop for it (callgrind, bench-timers
	// --n=1000: 2 instructions fewer a timeout_add).
	void sift_up_live(std::size_t i, Node n)
	{
		while (i > 0) {
			std::size_t p = parent(i);
			const Node &m = nodes_[p];
			if (n.deadline_us != m.deadline_us ? n.deadline_us > m.deadline_us
							   : n.e->node_seq > seq_of(m))
				break;
			place(i, m);
			i = p;
		}
		nodes_[i] = n;
		n.e->index = static_cast<std::uint32_t>(i);
	}

	void sift_up(std::size_t i, Node n)
	{
		while (i > 0) {
			std::size_t p = parent(i);
			if (!less(n, nodes_[p]))
				break;
			place(i, nodes_[p]);
			i = p;
		}
		place(i, n);
	}

	// Moves n down from i. Floyd's variant (`to_leaf`) moves the least child up at every level
	// without comparing it with n, then sifts n up from the leaf it reached: for a key known to be
	// among the latest (a stale root brought up to date) that saves a compare per level and the
	// sift up stops at once. For a removal's moved last node it measured worse, so not there.
	template <bool to_leaf = false>
	void sift_down(std::size_t i, Node n)
	{
		const std::size_t size = size_;
		for (;;) {
			std::size_t c = arity * i + 1;
			std::size_t best = c;
			if (c + arity <= size) { // the usual case: a full family, one cache line
				best = c + least_of_four(nodes_ + c);
			} else if (c < size) {
				for (std::size_t j = c + 1; j < size; j++)
					if (less(nodes_[j], nodes_[best]))
						best = j;
			} else {
				break;
			}
			if (!to_leaf && !less(nodes_[best], n))
				break;
			place(i, nodes_[best]);
			i = best;
		}
		if (to_leaf)
			sift_up(i, n);
		else
			place(i, n);
	}

	// Out of line: callgrind counts more instructions inlined (doc/performance.md, "Attributes in
	// the timeout queue").
	[[gnu::noinline, gnu::visibility("hidden")]] void grow(std::size_t want)
	{
		std::size_t cap = cap_ == 0 ? 64 : cap_;
		while (cap < want)
			cap *= 2;
		if (cap > std::size_t(run_bit))
			throw std::bad_alloc(); // heap indexes are 31 bits
		// Nodes start `arity - 1` slots into a line-aligned block: the root sits alone at the end
		// of the first line and every family 4i+1 .. 4i+4 fills one line.
		void *block = ::operator new((cap + arity - 1) * sizeof(Node), std::align_val_t{line});
		Node *nodes = static_cast<Node *>(block) + (arity - 1);
		for (std::size_t i = 0; i < size_; i++)
			nodes[i] = nodes_[i];
		if (block_ != nullptr)
			::operator delete(block_, std::align_val_t{line});
		block_ = block;
		nodes_ = nodes;
		cap_ = cap;
	}

	// ---- the run: cells run_head_ .. run_tail_ (positions count up forever; the cell of
	// position p is run_[p & (run_cap_ - 1)]), keys non-decreasing, holes allowed ----

	Node &run_cell(std::size_t position) const { return run_[position & (run_cap_ - 1)]; }

	bool run_has_room(bool may_grow)
	{
		return run_tail_ - run_head_ < run_cap_ || run_make_room(may_grow);
	}

	// Appends a fresh entry whose key is not before the run's last: the run has room.
	void run_put(Entry *e, std::int64_t deadline_us)
	{
		run_cell(run_tail_) = Node{deadline_us, e};
		e->index = run_bit | static_cast<std::uint32_t>(run_tail_ & run_position_mask);
		run_tail_++;
		run_live_++;
		run_last_deadline_ = deadline_us;
		run_last_seq_ = e->node_seq;
	}

	void run_pop_head()
	{
		run_head_++;
		run_live_--;
		run_skip_holes();
	}

	void run_remove(std::uint32_t at)
	{
		run_cell(at & run_position_mask).e = nullptr;
		run_live_--;
		run_skip_holes();
	}

	void run_skip_holes()
	{
		if (run_live_ == 0) { // empty: any key may start the next run
			run_head_ = run_tail_;
			run_last_deadline_ = std::numeric_limits<std::int64_t>::min();
			run_last_seq_ = 0;
			return;
		}
		while (run_cell(run_head_).e == nullptr)
			run_head_++;
	}

	// The ring is full: squeezes the holes out if they are at least half of it (so the copying
	// is paid for by the removals that made them), else doubles it if allowed. Never throws: when
	// there is no room, the caller queues in the heap instead. Out of line:
	// callgrind counts more instructions inlined (doc/performance.md, "Attributes in
	// the timeout queue").
	[[gnu::noinline, gnu::visibility("hidden")]] bool run_make_room(bool may_grow)
	{
		if (run_cap_ != 0 && run_live_ <= run_cap_ / 2) {
			std::size_t to = run_head_;
			for (std::size_t from = run_head_; from != run_tail_; from++) {
				Node c = run_cell(from);
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
		auto *cells = cap <= run_position_mask + 1 ? new (std::nothrow) Node[cap] : nullptr;
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
	Node *nodes_ = nullptr;
	// size_ nodes, dead_ of them of removed entries
	std::size_t size_ = 0, cap_ = 0, dead_ = 0;

	Node *run_ = nullptr;
	std::size_t run_cap_ = 0, run_head_ = 0, run_tail_ = 0, run_live_ = 0;
	// The key last appended to the run (or the least possible, when the run is empty).
	std::int64_t run_last_deadline_ = std::numeric_limits<std::int64_t>::min();
	std::uint64_t run_last_seq_ = 0;

	std::uint64_t next_seq_ = 0;
	std::uint64_t epoch_first_seq_ = 0;
};

} // namespace ioloop_detail
