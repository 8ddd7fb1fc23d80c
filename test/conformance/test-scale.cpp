// Many registered fds: every event is delivered exactly once, none lost, none duplicated.
#include "fixtures.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <sys/resource.h>
#include <sys/select.h>
#include <vector>

using namespace fixtures;
using iol::Cond;

TEST_CASE("10,000 socketpairs (select: up to FD_SETSIZE): each event once, none lost", "[scale]")
{
	rlimit rl{};
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	bool select_handler = std::string(iol::IoLoop::handler_name()) == "select";
	std::size_t want = select_handler ? (FD_SETSIZE - 64) / 2 : 10000;
	std::size_t fit = rl.rlim_cur > 64 ? (rl.rlim_cur - 64) / 2 : 0;
	std::size_t n = std::min(want, fit);
	INFO("pairs: " << n << " (RLIMIT_NOFILE " << rl.rlim_cur << ")");
	REQUIRE(n >= std::min<std::size_t>(want, 400));

	iol::IoLoop loop;
	std::vector<SocketPair> sp(n);
	std::vector<int> calls(n, 0);
	std::vector<iol::Io> ios;
	ios.reserve(n);
	for (std::size_t i = 0; i < n; i++)
		ios.push_back(loop.add_io(sp[i].a, Cond::read, [&, i] {
			calls[i]++;
			get_byte(sp[i].a);
		}));
	// every other pair gets a byte; the idle half must stay silent
	std::size_t sent = 0;
	for (std::size_t i = 0; i < n; i += 2, sent++)
		put(sp[i].b);
	std::size_t seen = 0;
	REQUIRE(run_until(loop, [&] {
		seen = 0;
		for (int c : calls)
			seen += c > 0;
		return seen == sent;
	}, ms(20000)));
	iterate(loop, 3);
	for (std::size_t i = 0; i < n; i++) {
		if (calls[i] != (i % 2 == 0 ? 1 : 0)) {
			FAIL("pair " << i << " called " << calls[i] << " times");
		}
	}
	// and a second wave through the same registrations
	for (std::size_t i = 1; i < n; i += 2)
		put(sp[i].b);
	REQUIRE(run_until(loop, [&] {
		for (int c : calls)
			if (c != 1)
				return false;
		return true;
	}, ms(20000)));
}
