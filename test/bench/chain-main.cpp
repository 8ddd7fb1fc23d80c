// chain: libevent's bench.c workload, every contender side by side in one process.
//
//   bench-chain [--n=100,1000,5000,9900] [--a=1,100,1000] [--w=200000] [--rounds=9]
//               [--timeouts=both|off|on] [--contenders=LIST] [--csv=FILE] [--peers=BACKEND]
//               [--nonblock]   peers and floor step with a zero wait, as bench.c (see bench.h)
//               [--ring=R]     the chains travel the first R pairs only; the other N - R are
//                              watched but idle (does a loop's cost grow with idle fds?)
//   bench-chain --only=CONTENDER --n=N --a=A --w=W [--timeouts=on] [--ring=R]   one run, for callgrind
//
// W is raised to 10 x A when lower (except with --only, where W=0 is the baseline run).
#include "driver.hpp"

#include <ioloop/ioloop.h>

#include <cerrno>
#include <fcntl.h>
#include <sys/socket.h>

extern "C" {
const char *bench_peer_backend = "epoll";
}

namespace {

struct Contender {
	const char *name;
	chain_fn *fn;
};

const Contender contenders[] = {
	{"ioloop-c", chain_ioloop_c},   {"ioloop-cpp", chain_ioloop_cpp},
	{"libev", chain_libev},         {"libevent", chain_libevent},
	{"epoll-floor", chain_epoll_floor},
};

struct Pairs {
	std::vector<int> fds;
	std::vector<unsigned> timeout_ms;

	explicit Pairs(int n)
	{
		fds.resize(2 * static_cast<std::size_t>(n));
		for (int i = 0; i < n; i++) {
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, &fds[2 * i]) < 0) {
				std::perror("socketpair");
				std::exit(1);
			}
		}
		std::uint64_t seed = 0x1234567;
		for (int i = 0; i < n; i++)
			timeout_ms.push_back(10000 + static_cast<unsigned>(bench_rand(&seed) % 10000));
	}
	~Pairs()
	{
		for (int fd : fds)
			close(fd);
	}
	Pairs(const Pairs &) = delete;
	Pairs &operator=(const Pairs &) = delete;
};

const Contender *lookup(const std::string &name)
{
	for (const Contender &c : contenders)
		if (name == c.name)
			return &c;
	std::fprintf(stderr, "unknown contender %s\n", name.c_str());
	std::exit(2);
}

// One run; returns ns per event, or a negative value when the contender cannot run here.
double run_one(const Contender &c, const chain_params &p, std::string &why)
{
	chain_result r{};
	errno = 0;
	if (c.fn(&p, &r) < 0) {
		why = std::strerror(errno);
		return -1;
	}
	if (r.failures != 0) {
		std::fprintf(stderr, "%s: %ld failures (N=%d A=%d W=%ld)\n", c.name, r.failures,
			     p.npairs, p.active, p.writes);
		why = std::to_string(r.failures) + " failed recv/send or expired timeouts";
		return -1;
	}
	return r.events > 0 ? double(r.elapsed_ns) / double(r.events) : 0;
}

void usage()
{
	std::printf("bench-chain [--n=LIST] [--a=LIST] [--w=W] [--rounds=R] [--timeouts=both|off|on]\n"
		    "            [--contenders=LIST] [--csv=FILE] [--peers=epoll|poll|select] [--nonblock]\n"
		    "            [--ring=R]\n"
		    "bench-chain --only=CONTENDER --n=N --a=A --w=W [--timeouts=on] [--ring=R]\n"
		    "contenders: ioloop-c ioloop-cpp libev libevent epoll-floor\n");
}

} // namespace

int main(int argc, char **argv)
{
	bench::Options opt(argc, argv);
	if (opt.help) {
		usage();
		return 0;
	}
	const char *handler = io_loop_get_handler_name();
	std::string peers = opt.str("peers", handler);
	if (peers != "poll" && peers != "select")
		peers = "epoll";
	static std::string peers_keep = peers;
	bench_peer_backend = peers_keep.c_str();

	long nofile = bench::raise_nofile();
	long max_pairs = (nofile - 32) / 2; // stdio, epoll fds, libevent's internal fds
	// --ring=R: the chains stay on the first R pairs, the rest are idle watchers.
	const int ring = static_cast<int>(opt.num("ring", 0));
	if (ring < 0) {
		std::fprintf(stderr, "--ring must be positive\n");
		return 2;
	}
	auto ring_of = [ring](int n) { return ring > 0 && ring < n ? ring : n; };
	auto ring_note = [&](int n) {
		return ring > 0 ? " ring=" + std::to_string(ring_of(n)) + " (" + std::to_string(n - ring_of(n)) + " idle)"
				: std::string();
	};

	if (opt.has("only")) {
		const Contender *c = lookup(opt.str("only", ""));
		int n = static_cast<int>(std::min(opt.num("n", 1000), max_pairs));
		Pairs pairs(n);
		chain_params p{n, pairs.fds.data(), static_cast<int>(opt.num("a", 100)), opt.num("w", 20000),
			       opt.str("timeouts", "off") == "on", pairs.timeout_ms.data(),
			       opt.has("nonblock"), ring_of(n)};
		std::string why;
		double ns = run_one(*c, p, why);
		if (ns < 0) {
			std::printf("%s: n/a (%s)\n", c->name, why.c_str());
			return 1;
		}
		std::printf("%s N=%d A=%d W=%ld: %.1f ns/event\n", c->name, n, p.active, p.writes, ns);
		return 0;
	}

	std::vector<long> ns_list = opt.list("n", "100,1000,5000,9900");
	std::vector<long> as = opt.list("a", "1,100,1000");
	long w_min = opt.num("w", 200000);
	int rounds = static_cast<int>(opt.num("rounds", 9));
	std::string tmode = opt.str("timeouts", "both");
	std::vector<int> variants;
	if (tmode != "on")
		variants.push_back(0);
	if (tmode != "off")
		variants.push_back(1);
	std::vector<const Contender *> chosen;
	for (const std::string &name :
	     opt.names("contenders", "ioloop-c,ioloop-cpp,libev,libevent,epoll-floor"))
		chosen.push_back(lookup(name));
	std::string csv = opt.str("csv", "");
	int nonblock = opt.has("nonblock") ? 1 : 0;

	bench::print_machine(handler);
	std::printf("# RLIMIT_NOFILE %ld: at most %ld pairs; %d rounds, contenders alternate; %s\n",
		    nofile, max_pairs, rounds,
		    nonblock ? "peers and floor step with a zero wait (--nonblock, as bench.c)"
			     : "every contender steps with a wait that may block");

	for (long n_req : ns_list) {
		int n = static_cast<int>(std::min(n_req, max_pairs));
		Pairs pairs(n);
		for (int timeouts : variants) {
			for (long a : as) {
				long w = std::max(w_min, 10 * a);
				chain_params p{n, pairs.fds.data(), static_cast<int>(a), w, timeouts,
					       pairs.timeout_ms.data(), nonblock, ring_of(n)};
				std::vector<bench::Series> series;
				for (const Contender *c : chosen)
					series.push_back({c->name, {}, false, {}});
				for (int r = 0; r < rounds; r++) {
					for (std::size_t k = 0; k < chosen.size(); k++) {
						if (series[k].unavailable)
							continue;
						double ns = run_one(*chosen[k], p, series[k].why);
						if (ns < 0)
							series[k].unavailable = true;
						else
							series[k].samples.push_back(ns);
					}
				}
				char title[200];
				std::snprintf(title, sizeof title, "chain %s: N=%d A=%ld W=%ld%s (%s)",
					      timeouts ? "with idle-timeout re-arm" : "plain", n, a, w,
					      ring_note(n).c_str(), handler);
				bench::print_table(title, series, {"epoll-floor", "libev"});
				char key[200];
				std::snprintf(key, sizeof key, "chain,%s,%s%s,%d,%ld,%ld", handler,
					      timeouts ? "rearm" : "plain", ring > 0 ? "-ring" : "", n, a, w);
				bench::write_csv(csv, key, series);
			}
		}
	}
	return 0;
}
