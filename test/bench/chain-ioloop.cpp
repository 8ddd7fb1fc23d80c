// chain workload against the C++ API: RAII handles, callbacks are lambdas.
#include "bench.h"

#include <ioloop/ioloop.hpp>

#include <chrono>
#include <sys/socket.h>
#include <system_error>
#include <vector>

namespace {

struct Chain {
	explicit Chain(const chain_params &params) : p(params) {}
	const chain_params &p;
	long count = 0, fired = 0, writes_left = 0, failures = 0;
	std::vector<iol::Timeout> idle;

	void on_read(int i)
	{
		unsigned char ch;
		if (recv(p.fds[2 * i], &ch, 1, 0) == 1)
			count++;
		else
			failures++;
		if (!idle.empty())
			idle[static_cast<std::size_t>(i)].reset();
		chain_pass_on(&p, i, &writes_left, &fired, &failures);
	}
};

} // namespace

extern "C" int chain_ioloop_cpp(const chain_params *p, chain_result *r)
{
	try {
		iol::IoLoop loop;
		Chain c{*p};
		c.writes_left = p->writes;
		std::vector<iol::Io> ios;
		ios.reserve(static_cast<std::size_t>(p->npairs));
		for (int i = 0; i < p->npairs; i++) {
			ios.push_back(loop.add_io(p->fds[2 * i], iol::Cond::read, [&c, i] { c.on_read(i); }));
			if (p->idle_timeouts)
				c.idle.push_back(loop.add_timeout(std::chrono::milliseconds(p->timeout_ms[i]),
								  [&c] { c.failures++; }));
		}

		std::int64_t start = bench_now_ns();
		for (int i = 0; i < p->active; i++, c.fired++)
			if (send(p->fds[2 * chain_start_pair(p, i) + 1], "e", 1, 0) != 1)
				c.failures++;
		while (c.count != c.fired && c.failures == 0)
			loop.run_once();
		r->elapsed_ns = bench_now_ns() - start;
		r->events = c.count;
		r->failures = c.failures;
		c.idle.clear(); // handles go before the loop
		ios.clear();
		return 0;
	} catch (const std::system_error &e) {
		errno = e.code().value();
		return -1;
	}
}
