// churn: watchers added and removed. Each iteration adds a read watcher on each of N idle fds,
// steps the loop once (one extra fd is always readable, so no step blocks), and removes them.
// Every contender steps with a wait that may block (our API has no zero-wait step).
//
//   bench-churn [--n=100,1000] [--ops=2000000] [--rounds=9] [--csv=FILE]
//   bench-churn --only=CONTENDER --n=N --iters=I      one run, for strace -c (syscalls per op)
//
// The fds are eventfds (one fd per watcher), so N=1000 stays below FD_SETSIZE for select.
#include "driver.hpp"

#include <ioloop/ioloop.h>

#include <cerrno>
#include <sys/eventfd.h>

extern "C" {
const char *bench_peer_backend = "epoll";
}

namespace {

struct Contender {
	const char *name;
	churn_fn *fn;
};

const Contender contenders[] = {
	{"ioloop-c", churn_ioloop_c},   {"ioloop-cpp", churn_ioloop_cpp},
	{"libev", churn_libev},         {"libevent", churn_libevent},
	{"epoll-floor", churn_epoll_floor},
};

struct Fds {
	std::vector<int> fds;
	explicit Fds(int n)
	{
		for (int i = 0; i <= n; i++) {
			int fd = eventfd(i == n ? 1 : 0, EFD_NONBLOCK | EFD_CLOEXEC);
			if (fd < 0) {
				std::perror("eventfd");
				std::exit(1);
			}
			fds.push_back(fd);
		}
	}
	~Fds()
	{
		for (int fd : fds)
			close(fd);
	}
	Fds(const Fds &) = delete;
	Fds &operator=(const Fds &) = delete;
};

} // namespace

int main(int argc, char **argv)
{
	bench::Options opt(argc, argv);
	if (opt.help) {
		std::printf("bench-churn [--n=LIST] [--ops=TOTAL] [--rounds=R] [--csv=FILE]\n"
			    "bench-churn --only=CONTENDER --n=N --iters=I\n");
		return 0;
	}
	const char *handler = io_loop_get_handler_name();
	static std::string peers = opt.str("peers", handler);
	if (peers != "poll" && peers != "select")
		peers = "epoll";
	bench_peer_backend = peers.c_str();
	bench::raise_nofile();

	if (opt.has("only")) {
		std::string name = opt.str("only", "");
		int n = static_cast<int>(opt.num("n", 1000));
		Fds fds(n);
		churn_params p{n, fds.fds.data(), opt.num("iters", 100)};
		for (const Contender &c : contenders) {
			if (name != c.name)
				continue;
			churn_result r{};
			if (c.fn(&p, &r) < 0) {
				std::printf("%s: n/a (%s)\n", c.name, std::strerror(errno));
				return 1;
			}
			std::printf("%s N=%d iterations=%ld: %.1f ns/op\n", c.name, n, p.iterations,
				    r.ops > 0 ? double(r.elapsed_ns) / double(r.ops) : 0.0);
			return 0;
		}
		std::fprintf(stderr, "unknown contender %s\n", name.c_str());
		return 2;
	}

	std::vector<long> ns_list = opt.list("n", "100,1000");
	long total_ops = opt.num("ops", 2000000);
	int rounds = static_cast<int>(opt.num("rounds", 9));
	std::string csv = opt.str("csv", "");
	bench::print_machine(handler);
	std::printf("# %d rounds, contenders alternate; about %ld adds + removes per run\n", rounds,
		    total_ops);

	for (long n : ns_list) {
		Fds fds(static_cast<int>(n));
		churn_params p{static_cast<int>(n), fds.fds.data(), std::max(1L, total_ops / (2 * n))};
		std::vector<bench::Series> series;
		for (const Contender &c : contenders)
			series.push_back({c.name, {}, false, {}});
		for (int r = 0; r < rounds; r++) {
			for (std::size_t k = 0; k < std::size(contenders); k++) {
				if (series[k].unavailable)
					continue;
				churn_result res{};
				errno = 0;
				if (contenders[k].fn(&p, &res) < 0) {
					series[k].unavailable = true;
					series[k].why = std::strerror(errno);
					continue;
				}
				if (res.failures != 0) {
					std::fprintf(stderr, "%s: %ld failures\n", contenders[k].name, res.failures);
					return 1;
				}
				series[k].samples.push_back(double(res.elapsed_ns) / double(res.ops));
			}
		}
		char title[160];
		std::snprintf(title, sizeof title, "churn: N=%ld, %ld iterations (%s)", n, p.iterations,
			      handler);
		bench::print_table(title, series, {"epoll-floor", "libev"}, "ns/op");
		char key[160];
		std::snprintf(key, sizeof key, "churn,%s,ns,%ld,%ld", handler, n, p.iterations);
		bench::write_csv(csv, key, series);
	}
	return 0;
}
