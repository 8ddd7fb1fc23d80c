// churn workload against the C++ API: RAII handles in a vector, cleared each iteration.
#include "bench.h"

#include <ioloop/ioloop.hpp>

#include <system_error>
#include <vector>

extern "C" int churn_ioloop_cpp(const churn_params *p, churn_result *r)
{
	try {
		iol::IoLoop loop;
		iol::Io ticker = loop.add_io(p->fds[p->n], iol::Cond::read, [] {});
		std::vector<iol::Io> ios;
		ios.reserve(static_cast<std::size_t>(p->n));
		std::int64_t start = bench_now_ns();
		for (long it = 0; it < p->iterations; it++) {
			for (int i = 0; i < p->n; i++)
				ios.push_back(loop.add_io(p->fds[i], iol::Cond::read, [] {}));
			loop.run_once();
			ios.clear();
		}
		r->elapsed_ns = bench_now_ns() - start;
		r->ops = 2L * p->n * p->iterations;
		r->failures = 0;
		return 0;
	} catch (const std::system_error &e) {
		errno = e.code().value();
		return -1;
	}
}
