// doc/design.md, semantic 13, as far as a test can show it: no heap allocation per dispatched event
// or fired timeout (counted by replacing operator new), and a randomized check of the timeout
// heap against a simple reference model. Speed itself is shown by test/bench, never here.
#include "fixtures.hpp"
#include "timeout-heap.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <random>
#include <vector>

using namespace fixtures;
using iol::Cond;

long allocation_count(); // alloc-counter.cpp

TEST_CASE("13. dispatching events and firing timeouts allocates nothing", "[semantic13]")
{
	iol::IoLoop loop;
	constexpr int pairs = 50;
	std::vector<SocketPair> sp(pairs);
	std::vector<iol::Io> ios;
	long events = 0, fired = 0;
	for (auto &p : sp) {
		ios.push_back(loop.add_io(p.a, Cond::read, [&events, fd = p.a.get(), peer = p.b.get()] {
			events++;
			get_byte(fd);
			put(peer); // keep it readable from the other side forever
		}));
		put(p.b);
	}
	auto rep = loop.add_timeout(ms(0), [&] { fired++; });
	iol::Timeout idle = loop.add_oneshot(ms(60000), [] {});
	auto rearm = loop.add_timeout(ms(0), [&] { idle.reset(); }); // the per-event idle re-arm
	iterate(loop, 5); // let vectors reach their working size
	long before = allocation_count();
	long ev0 = events, f0 = fired;
	for (int i = 0; i < 200; i++)
		loop.run_once();
	long during = allocation_count() - before;
	CHECK(events - ev0 >= 200 * pairs / 2);
	CHECK(fired - f0 >= 200);
	CHECK(during == 0);
	// the counter itself works: adding a timeout does allocate
	long probe = allocation_count();
	auto extra = loop.add_oneshot(ms(1), [] {});
	CHECK(allocation_count() > probe);
}

namespace {

// A TimeoutHeap beside the order it must keep: (deadline, arming sequence) -> entry.
struct HeapModel {
	ioloop_detail::TimeoutHeap heap;
	std::map<std::pair<std::int64_t, std::uint64_t>, ioloop_detail::TimeoutHeap::Entry *> model;

	static std::pair<std::int64_t, std::uint64_t> key(const ioloop_detail::TimeoutHeap::Entry &e)
	{
		return {e.deadline_us, e.seq()};
	}
	void arm(ioloop_detail::TimeoutHeap::Entry &e, std::int64_t deadline)
	{
		if (e.queued()) {
			model.erase(key(e));
			heap.rearm(&e, deadline);
		} else {
			heap.push(&e, deadline);
		}
		model[key(e)] = &e;
	}
	void remove(ioloop_detail::TimeoutHeap::Entry &e)
	{
		if (e.queued()) {
			model.erase(key(e));
			heap.erase(&e);
		}
	}
	// Takes what is due at `now`, which must be the model's first; re-armed at `again(due)` when
	// that is given (a repeating timeout firing), else removed.
	template <class Again> void fire(std::int64_t now, bool rearm, Again again)
	{
		ioloop_detail::TimeoutHeap::Entry *due = heap.first_due(now);
		auto first = model.begin();
		bool model_due = first != model.end() && first->first.first <= now;
		REQUIRE((due != nullptr) == model_due);
		if (due == nullptr)
			return;
		REQUIRE(due == first->second);
		model.erase(first);
		if (rearm) {
			heap.rearm_first(due, again(*due));
			model[key(*due)] = due;
		} else {
			heap.erase(due);
		}
	}
	// Everything comes out in the model's order.
	void drain()
	{
		while (!model.empty()) {
			REQUIRE(heap.top() == model.begin()->second);
			heap.erase(heap.top());
			model.erase(model.begin());
		}
		CHECK(heap.empty());
	}
};

} // namespace

TEST_CASE("timeout heap matches a reference model under random operations", "[timeouts][heap]")
{
	std::mt19937 rng(12345);
	for (int round = 0; round < 20; round++) {
		std::vector<ioloop_detail::TimeoutHeap::Entry> entries(300);
		HeapModel m;
		m.heap.reserve(entries.size());
		for (int op = 0; op < 5000; op++) {
			auto &e = entries[rng() % entries.size()];
			std::int64_t deadline = rng() % 50; // many equal deadlines
			switch (rng() % 4) {
			case 0:
			case 1:
				m.arm(e, deadline);
				break;
			case 2:
				m.remove(e);
				break;
			case 3:
				if (!m.model.empty()) {
					REQUIRE(m.heap.top() == m.model.begin()->second);
					ioloop_detail::TimeoutHeap::Entry *top = m.heap.top();
					m.model.erase(m.model.begin());
					m.heap.erase(top);
				}
				break;
			}
			REQUIRE(m.heap.size() == m.model.size());
			if (!m.model.empty())
				REQUIRE(m.heap.top() == m.model.begin()->second);
		}
		m.drain(); // in exactly the model's order
	}
}

// The queue's second structure (a FIFO run for keys that arrive in order, timeout-heap.hpp) and
// its lazy re-arms: timeouts that share intervals and are re-armed as "now + interval", fired and
// re-armed as repeating ones, pushed back, pulled forward and removed, checked at every step
// against the same model. Enough of them to grow the run and to squeeze its holes out.
TEST_CASE("timeout queue matches a reference model with in-order re-arms", "[timeouts][heap]")
{
	std::mt19937 rng(777);
	for (int round = 0; round < 6; round++) {
		std::vector<ioloop_detail::TimeoutHeap::Entry> entries(round < 3 ? 200 : 3000);
		HeapModel m;
		m.heap.reserve(entries.size());
		// the later rounds: one interval (all of it fits the run) and more removals (holes)
		const std::vector<std::int64_t> intervals =
		    round % 2 == 0 ? std::vector<std::int64_t>{0, 10, 10, 10, 250, 250}
				   : std::vector<std::int64_t>{10};
		const unsigned removals = round % 2 == 0 ? 2 : 4;
		std::int64_t now = 1000;
		for (int op = 0; op < 40000; op++) {
			auto &e = entries[rng() % entries.size()];
			unsigned what = rng() % 16;
			if (what < 7) { // in order: now + one of a few intervals
				m.arm(e, now + intervals[rng() % intervals.size()]);
			} else if (what < 8) { // anywhere, earlier or later
				m.arm(e, now + std::int64_t(rng() % 400) - 100);
			} else if (what < 8 + removals) {
				m.remove(e);
			} else if (what < 14) { // fire what is due, re-arming some as repeating timeouts do
				m.fire(now, rng() % 2 != 0, [&](const ioloop_detail::TimeoutHeap::Entry &due) {
					return std::max(due.deadline_us, now) + intervals[rng() % intervals.size()];
				});
			} else {
				now += rng() % 8;
			}
			REQUIRE(m.heap.size() == m.model.size());
			if (!m.model.empty()) {
				REQUIRE(m.heap.earliest_bound() <= m.model.begin()->first.first);
				if (rng() % 4 == 0) // not always: stale nodes should pile up between looks
					REQUIRE(m.heap.top() == m.model.begin()->second);
			}
		}
		m.drain();
	}
}

TEST_CASE("timeout queue: a full run squeezes out its holes or leaves the rest to the heap",
	  "[timeouts][heap]")
{
	using ioloop_detail::TimeoutHeap;
	TimeoutHeap heap;
	std::vector<TimeoutHeap::Entry> e(200);
	heap.reserve(e.size());
	std::vector<TimeoutHeap::Entry *> expected;
	for (int i = 0; i < 64; i++) // in order: all in the run, which is then full
		heap.push(&e[i], 100 + i);
	heap.push(&e[64], 50); // earlier than the run's last: to the heap
	// due first; re-armed after the run's last, but a full run without holes cannot take it
	REQUIRE(heap.first_due(50) == &e[64]);
	heap.rearm_first(&e[64], 1000);
	for (int i = 0; i < 64; i++)
		if (i % 4 != 0)
			heap.erase(&e[i]); // 48 holes
	for (int i = 65; i < 200; i++) // the first of these finds the run full: squeezed, then grown
		heap.push(&e[i], 200 + i);
	for (int i = 0; i < 64; i += 4)
		expected.push_back(&e[i]);
	for (int i = 65; i < 200; i++)
		expected.push_back(&e[i]);
	expected.push_back(&e[64]);
	REQUIRE(heap.size() == expected.size());
	for (TimeoutHeap::Entry *want : expected) {
		REQUIRE(heap.top() == want);
		heap.erase(want);
	}
	CHECK(heap.empty());
}

// Ties in the heap: its nodes carry only deadlines, and an equal deadline is ordered by the
// sequence frozen in the entry (timeout-heap.hpp). Few deadlines, armed out of order so that
// they go to the heap, re-armed to the same deadline (lazy, behind the others) and to others,
// looked at rarely so that stale nodes pile up; now and then 2^32 arms pass, so that a re-arm
// finds its lead too long to keep lazy. Checked against the model at every look.
TEST_CASE("timeout queue keeps arming order among equal deadlines through lazy re-arms",
	  "[timeouts][heap]")
{
	std::mt19937 rng(4242);
	for (int round = 0; round < 8; round++) {
		std::vector<ioloop_detail::TimeoutHeap::Entry> entries(round < 4 ? 60 : 2000);
		HeapModel m;
		m.heap.reserve(entries.size());
		std::int64_t now = 0;
		for (int op = 0; op < 30000; op++) {
			auto &e = entries[rng() % entries.size()];
			unsigned what = rng() % 32;
			std::int64_t deadline = now + std::int64_t(rng() % 6) * 10; // many equal
			if (what < 10) {
				m.arm(e, what < 5 && e.queued() ? e.deadline_us : deadline); // same: lazy
			} else if (what < 14) {
				m.remove(e);
			} else if (what < 20) {
				m.fire(now, rng() % 2 != 0, [&](const ioloop_detail::TimeoutHeap::Entry &) {
					return now + std::int64_t(rng() % 6) * 10;
				});
			} else if (what < 21) {
				now += 10;
			} else if (what < 22 && rng() % 64 == 0) {
				m.heap.skip_seq(std::uint64_t(1) << 32);
			}
			REQUIRE(m.heap.size() == m.model.size());
			if (!m.model.empty() && rng() % 16 == 0) {
				REQUIRE(m.heap.earliest_bound() <= m.model.begin()->first.first);
				REQUIRE(m.heap.top() == m.model.begin()->second);
			}
		}
		m.drain();
	}
}

TEST_CASE("timeout queue: a re-arm to the same deadline goes behind the others armed for it",
	  "[timeouts][heap]")
{
	using ioloop_detail::TimeoutHeap;
	TimeoutHeap heap;
	std::vector<TimeoutHeap::Entry> e(5);
	heap.reserve(e.size());
	heap.push(&e[4], 20); // the run's last: the pushes at 10 go to the heap
	heap.push(&e[0], 10);
	heap.push(&e[1], 10);
	heap.push(&e[2], 10);
	heap.rearm(&e[0], 10);                 // lazy: its node stays first, stale
	heap.skip_seq(std::uint64_t(1) << 32); // 2^32 arms later ...
	heap.push(&e[3], 10);
	heap.rearm(&e[1], 10); // ... a lead too long to keep: moved at once, behind e[3]
	for (auto *want : {&e[2], &e[0], &e[3], &e[1], &e[4]}) {
		REQUIRE(heap.top() == want);
		heap.erase(want);
	}
	CHECK(heap.empty());
}

// Each timeout finds its loop through the head of its slot's page (slot-pool.hpp): a slot that
// overlapped a head, or a page whose head named no owner, would lose the loop of the timeouts
// in it. Enough slots for several blocks, each written whole, as a timeout is. And the pool
// tells, before it grows, how many slots it may hold until it next grows: the heap is sized by
// that (TimeoutHeap::new_slot), so a slot handed out beyond it would have no heap room.
TEST_CASE("slot pool: slots are distinct, apart from the page heads, and name their owner",
	  "[timeouts][heap]")
{
	using ioloop_detail::SlotPool;
	int owner_a = 0, owner_b = 0;
	SlotPool a, b;
	std::vector<unsigned char *> slots;
	std::map<unsigned char *, int *> owner;
	std::map<SlotPool *, std::size_t> handed, promised;
	for (int i = 0; i < 30000; i++) { // blocks of 1, 2, 4 ... 64 pages of 84 slots
		for (SlotPool *pool : {&a, &b}) {
			int *o = pool == &a ? &owner_a : &owner_b;
			auto *p = static_cast<unsigned char *>(pool->get(o, [&](std::size_t n) {
				REQUIRE(n >= promised[pool]);
				promised[pool] = n;
			}));
			REQUIRE(++handed[pool] <= promised[pool]);
			REQUIRE(reinterpret_cast<std::uintptr_t>(p) % 8 == 0); // a timeout's fields
			REQUIRE(owner.emplace(p, o).second);
			std::fill(p, p + SlotPool::slot_size, static_cast<unsigned char>(i));
			slots.push_back(p);
		}
	}
	CHECK(a.capacity_after_growth() >= 30000);
	// no two overlap: sorted, each ends before the next begins
	std::vector<unsigned char *> sorted(slots);
	std::sort(sorted.begin(), sorted.end());
	for (std::size_t i = 1; i < sorted.size(); i++)
		REQUIRE(sorted[i - 1] + SlotPool::slot_size <= sorted[i]);
	for (unsigned char *p : slots)
		REQUIRE(SlotPool::owner_of(p) == owner[p]);
	// a freed slot comes back first, still in its pool's pages
	a.put(slots[0]);
	CHECK(a.get(&owner_a, [](std::size_t) { FAIL("a freed slot is there: no growing"); }) == slots[0]);
	CHECK(SlotPool::owner_of(slots[0]) == &owner_a);
}

// Removals from the heap leave their nodes behind, marked (timeout-heap.hpp): those must keep
// their place among equal deadlines until they go, and go when the heap fills, whether it then
// grows (reserve, as timeout_add does) or rebuilds itself without them (a push without reserve,
// as a re-arm does). Many equal deadlines, and far more removals than live entries.
TEST_CASE("timeout queue: removed heap nodes keep the order and give their room back",
	  "[timeouts][heap]")
{
	std::mt19937 rng(777);
	for (int round = 0; round < 6; round++) {
		std::vector<ioloop_detail::TimeoutHeap::Entry> entries(round < 3 ? 100 : 2000);
		HeapModel m;
		bool reserve_first = round % 2 == 0;
		m.heap.reserve(entries.size());
		for (int op = 0; op < 40000; op++) {
			auto &e = entries[rng() % entries.size()];
			// descending deadlines keep them out of the run, in the heap
			std::int64_t deadline = 1000000 - op / 8 - std::int64_t(rng() % 3);
			if (e.queued() && rng() % 2 == 0) {
				m.remove(e);
			} else {
				m.remove(e);
				if (reserve_first)
					m.heap.reserve(m.heap.size() + 1);
				m.arm(e, deadline);
			}
			REQUIRE(m.heap.size() == m.model.size());
			if (op % 97 == 0 && !m.model.empty())
				REQUIRE(m.heap.top() == m.model.begin()->second);
		}
		m.drain();
	}
}
