// timers: many idle timeouts added, re-armed, replaced and cancelled, and a flood of 0 ms ones.
//
//   bench-timers [--n=1000,10000,100000] [--fire=1000000] [--armed=1000] [--rounds=9] [--csv=FILE]
//
// Phases, each in ns per operation (the first four run inside a callback, as in a daemon):
//   add     arm N timeouts with delays of 1-60 s (pseudo-random, the same for every contender)
//   reset   N restarts of randomly picked timeouts (timeout_reset / ev_timer_again / event_add)
//   mix     N operations on random timeouts: half restarts, half cancel + add with a new delay
//   cancel  remove all N
//   fire    `armed` 0 ms timeouts, each re-armed as it fires, until `fire` have fired
#include "driver.hpp"

#include <ioloop/ioloop.h>

extern "C" {
const char *bench_peer_backend = "epoll";
}

namespace {

struct Contender {
	const char *name;
	timers_fn *fn;
};

const Contender contenders[] = {
	{"ioloop-c", timers_ioloop_c},
	{"libev", timers_libev},
	{"libevent", timers_libevent},
};

const char *const phase_names[] = {"add", "reset", "mix", "cancel", "fire"};

} // namespace

int main(int argc, char **argv)
{
	bench::Options opt(argc, argv);
	if (opt.help) {
		std::printf("bench-timers [--n=LIST] [--fire=TOTAL] [--armed=K] [--rounds=R] [--csv=FILE]\n");
		return 0;
	}
	const char *handler = io_loop_get_handler_name();
	static std::string peers = opt.str("peers", handler);
	if (peers != "poll" && peers != "select")
		peers = "epoll";
	bench_peer_backend = peers.c_str();

	std::vector<long> ns_list = opt.list("n", "1000,10000,100000");
	long fire_total = opt.num("fire", 1000000);
	int armed = static_cast<int>(opt.num("armed", 1000));
	int rounds = static_cast<int>(opt.num("rounds", 9));
	std::string csv = opt.str("csv", "");

	bench::print_machine(handler);
	std::printf("# %d rounds after one not counted, each started by the next contender; fire: %d "
		    "armed at once, %ld in total\n",
		    rounds, armed, fire_total);

	for (long n : ns_list) {
		std::uint64_t seed = 0xfeedbeef + static_cast<std::uint64_t>(n);
		std::vector<unsigned> delay(static_cast<std::size_t>(n));
		std::vector<std::uint32_t> picks(delay.size()), ops(delay.size());
		for (std::size_t i = 0; i < delay.size(); i++) {
			delay[i] = 1000 + static_cast<unsigned>(bench_rand(&seed) % 59001);
			picks[i] = static_cast<std::uint32_t>(bench_rand(&seed) % std::uint64_t(n));
			std::uint64_t x = bench_rand(&seed);
			ops[i] = static_cast<std::uint32_t>(((x >> 1) % std::uint64_t(n)) << 1 | (x & 1));
		}
		timers_params p{static_cast<int>(n), delay.data(), ops.data(), picks.data(), armed, fire_total};

		std::vector<std::vector<bench::Series>> per_phase(5);
		for (auto &s : per_phase)
			for (const Contender &c : contenders)
				s.push_back({c.name, {}, false, {}});
		// Round 0 is not counted, and each round starts with the next contender. A process's
		// first big allocations are page faults the later ones are not (glibc keeps freed
		// blocks once its mmap threshold has risen), and a fault costs about 10 us on this VM:
		// in a fixed order, whoever ran first paid them in its first two rounds and the others
		// never did (N=100,000 add: 1,881 and 1,581 faults, then none; libev run first took
		// 1,590 in its first round).
		const std::size_t count = std::size(contenders);
		for (int r = 0; r <= rounds; r++) {
			for (std::size_t j = 0; j < count; j++) {
				std::size_t k = (j + static_cast<std::size_t>(r)) % count;
				timers_result res{};
				if (contenders[k].fn(&p, &res) < 0) {
					for (auto &s : per_phase)
						s[k].unavailable = true, s[k].why = "could not create a loop";
					continue;
				}
				if (res.failures != 0 || res.fired != fire_total) {
					std::fprintf(stderr, "%s: %ld failures, %ld of %ld fired\n",
						     contenders[k].name, res.failures, res.fired, fire_total);
					return 1;
				}
				if (r == 0)
					continue;
				const std::int64_t ns[5] = {res.add_ns, res.reset_ns, res.mix_ns, res.cancel_ns,
							    res.fire_ns};
				for (int ph = 0; ph < 5; ph++)
					per_phase[static_cast<std::size_t>(ph)][k].samples.push_back(
					    double(ns[ph]) / double(ph == 4 ? fire_total : n));
			}
		}
		for (int ph = 0; ph < 5; ph++) {
			char title[160];
			std::snprintf(title, sizeof title, "timers %s: N=%ld (%s)", phase_names[ph], n, handler);
			bench::print_table(title, per_phase[static_cast<std::size_t>(ph)], {"libev"}, "ns/op");
			char key[160];
			std::snprintf(key, sizeof key, "timers,%s,%s,%ld,%d,%ld", handler, phase_names[ph], n,
				      armed, fire_total);
			bench::write_csv(csv, key, per_phase[static_cast<std::size_t>(ph)]);
		}
	}
	return 0;
}
