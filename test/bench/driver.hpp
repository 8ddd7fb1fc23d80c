// What the three benchmark drivers share: options, the file limit, medians, ratio tables, CSV.
#pragma once

#include "bench.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <vector>

namespace bench {

// --name=value options; a bare --flag is "1".
class Options {
public:
	Options(int argc, char **argv)
	{
		for (int i = 1; i < argc; i++) {
			std::string a = argv[i];
			if (a == "-h" || a == "--help") {
				help = true;
				continue;
			}
			if (a.rfind("--", 0) != 0) {
				std::fprintf(stderr, "unexpected argument: %s\n", a.c_str());
				std::exit(2);
			}
			auto eq = a.find('=');
			if (eq == std::string::npos)
				values_.insert_or_assign(a.substr(2), std::string(1, '1'));
			else
				values_.insert_or_assign(a.substr(2, eq - 2), a.substr(eq + 1));
		}
	}
	bool help = false;

	bool has(const std::string &k) const { return values_.count(k) != 0; }
	std::string str(const std::string &k, const std::string &def) const
	{
		auto it = values_.find(k);
		return it == values_.end() ? def : it->second;
	}
	long num(const std::string &k, long def) const
	{
		auto it = values_.find(k);
		return it == values_.end() ? def : std::strtol(it->second.c_str(), nullptr, 10);
	}
	std::vector<long> list(const std::string &k, const std::string &def) const
	{
		std::vector<long> out;
		std::string s = str(k, def);
		for (char *p = s.data(); *p != '\0';) {
			out.push_back(std::strtol(p, &p, 10));
			while (*p == ',')
				p++;
		}
		return out;
	}
	std::vector<std::string> names(const std::string &k, const std::string &def) const
	{
		std::vector<std::string> out;
		std::string s = str(k, def);
		std::size_t pos = 0;
		while (pos <= s.size()) {
			std::size_t c = s.find(',', pos);
			if (c == std::string::npos)
				c = s.size();
			if (c > pos)
				out.push_back(s.substr(pos, c - pos));
			pos = c + 1;
		}
		return out;
	}

private:
	std::map<std::string, std::string> values_;
};

// Raises the soft limit on open files to the hard limit; returns the limit now in force.
inline long raise_nofile()
{
	rlimit rl{};
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur == RLIM_INFINITY ? 1L << 20 : static_cast<long>(rl.rlim_cur);
}

inline double median(std::vector<double> v)
{
	if (v.empty())
		return 0;
	std::sort(v.begin(), v.end());
	std::size_t m = v.size() / 2;
	return v.size() % 2 != 0 ? v[m] : (v[m - 1] + v[m]) / 2;
}

inline std::string cpu_model()
{
	std::ifstream in("/proc/cpuinfo");
	std::string line;
	while (std::getline(in, line))
		if (line.rfind("model name", 0) == 0) {
			auto c = line.find(':');
			return c == std::string::npos ? line : line.substr(c + 2);
		}
	return "unknown CPU";
}

inline void print_machine(const char *handler)
{
	utsname u{};
	uname(&u);
	std::printf("# handler %s; peers on %s; %ld cpus, %s; %s %s\n", handler, bench_peer_backend,
		    sysconf(_SC_NPROCESSORS_ONLN), cpu_model().c_str(), u.sysname, u.release);
}

// One measured quantity per contender, many rounds; prints medians and ratios.
struct Series {
	std::string contender;
	std::vector<double> samples; // ns per op
	bool unavailable = false;
	std::string why;
};

inline const Series *find(const std::vector<Series> &s, const std::string &name)
{
	for (const Series &x : s)
		if (x.contender == name && !x.unavailable && !x.samples.empty())
			return &x;
	return nullptr;
}

// Prints one table: median, min and max ns/op, and each median as a ratio to the reference
// contenders that are present (e.g. the floor and libev).
inline void print_table(const std::string &title, const std::vector<Series> &series,
			const std::vector<std::string> &refs, const char *unit = "ns/event")
{
	std::printf("\n%s\n", title.c_str());
	std::printf("  %-12s %10s %10s %10s   (%s)", "contender", "median", "min", "max", unit);
	for (const std::string &r : refs)
		std::printf("  /%-12s", r.c_str());
	std::printf("\n");
	for (const Series &s : series) {
		if (s.unavailable || s.samples.empty()) {
			std::printf("  %-12s %10s   (%s)\n", s.contender.c_str(), "n/a", s.why.c_str());
			continue;
		}
		double med = median(s.samples);
		std::printf("  %-12s %10.1f %10.1f %10.1f", s.contender.c_str(), med,
			    *std::min_element(s.samples.begin(), s.samples.end()),
			    *std::max_element(s.samples.begin(), s.samples.end()));
		for (const std::string &r : refs) {
			const Series *ref = find(series, r);
			if (ref == nullptr)
				std::printf("  %13s", "-");
			else
				std::printf("  %13.2f", med / median(ref->samples));
		}
		std::printf("\n");
	}
	std::fflush(stdout);
}

// Appends rows: key columns, contender, median, min, max, rounds.
inline void write_csv(const std::string &path, const std::string &key,
		      const std::vector<Series> &series)
{
	if (path.empty())
		return;
	FILE *f = std::fopen(path.c_str(), "a");
	if (f == nullptr) {
		std::perror(path.c_str());
		return;
	}
	for (const Series &s : series) {
		if (s.unavailable || s.samples.empty()) {
			std::fprintf(f, "%s,%s,,,,0\n", key.c_str(), s.contender.c_str());
			continue;
		}
		std::fprintf(f, "%s,%s,%.2f,%.2f,%.2f,%zu\n", key.c_str(), s.contender.c_str(),
			     median(s.samples), *std::min_element(s.samples.begin(), s.samples.end()),
			     *std::max_element(s.samples.begin(), s.samples.end()), s.samples.size());
	}
	std::fclose(f);
}

} // namespace bench
