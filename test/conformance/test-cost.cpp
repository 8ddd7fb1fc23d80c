// Semantic 13 of DESIGN.md, as far as a test can show it: no heap allocation per dispatched event
// or fired timeout (counted by replacing operator new), and a randomized check of the timeout
// heap against a simple reference model. Speed itself is shown by test/bench, never here.
#include "fixtures.hpp"
#include "timeout-heap.hpp"

#include <catch2/catch.hpp>
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

TEST_CASE("timeout heap matches a reference model under random operations", "[timeouts][heap]")
{
	using ioloop_detail::TimeoutHeap;
	std::mt19937 rng(12345);
	for (int round = 0; round < 20; round++) {
		TimeoutHeap heap;
		std::vector<TimeoutHeap::Entry> entries(300);
		std::map<std::pair<std::int64_t, std::uint64_t>, TimeoutHeap::Entry *> model;
		auto key = [](TimeoutHeap::Entry &e) { return std::make_pair(e.deadline_us, e.seq); };
		for (int op = 0; op < 5000; op++) {
			auto &e = entries[rng() % entries.size()];
			std::int64_t deadline = rng() % 50; // many equal deadlines
			switch (rng() % 4) {
			case 0:
			case 1:
				if (e.queued()) {
					model.erase(key(e));
					heap.rearm(&e, deadline);
				} else {
					heap.push(&e, deadline);
				}
				model[key(e)] = &e;
				break;
			case 2:
				if (e.queued()) {
					model.erase(key(e));
					heap.erase(&e);
				}
				break;
			case 3:
				if (!model.empty()) {
					REQUIRE(heap.top() == model.begin()->second);
					TimeoutHeap::Entry *top = heap.top();
					model.erase(model.begin());
					heap.erase(top);
				}
				break;
			}
			REQUIRE(heap.size() == model.size());
			if (!model.empty())
				REQUIRE(heap.top() == model.begin()->second);
		}
		while (!model.empty()) { // drains in exactly the model's order
			REQUIRE(heap.top() == model.begin()->second);
			heap.erase(heap.top());
			model.erase(model.begin());
		}
		CHECK(heap.empty());
	}
}
