// What the connection limits and a passwd reload rest on: the client address connections are
// counted by, --max-connections-per-address and its default, PasswdFile::load refusing what is
// not a readable regular file.
#include "auth/passwd-file.hpp"
#include "net/listener.hpp"
#include "options.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <cstdio>
#include <cstdlib>
#include <netinet/in.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <variant>

using namespace maild;

namespace {

sockaddr_storage v4(const char *ip, unsigned port)
{
	sockaddr_storage ss{};
	auto &a = reinterpret_cast<sockaddr_in &>(ss);
	a.sin_family = AF_INET;
	a.sin_port = htons(static_cast<std::uint16_t>(port));
	inet_pton(AF_INET, ip, &a.sin_addr);
	return ss;
}

sockaddr_storage v6(const char *ip, unsigned port)
{
	sockaddr_storage ss{};
	auto &a = reinterpret_cast<sockaddr_in6 &>(ss);
	a.sin6_family = AF_INET6;
	a.sin6_port = htons(static_cast<std::uint16_t>(port));
	inet_pton(AF_INET6, ip, &a.sin6_addr);
	return ss;
}

std::variant<Options, OptionsError> parse(std::vector<std::string> extra)
{
	std::vector<std::string> args = {"--mail-root", "m", "--passwd", "p"};
	args.insert(args.end(), extra.begin(), extra.end());
	return parse_options(args, nullptr);
}

unsigned per_address(std::vector<std::string> extra)
{
	auto r = parse(std::move(extra));
	REQUIRE(std::holds_alternative<Options>(r));
	return std::get<Options>(r).max_connections_per_address;
}

// A fresh directory under TMPDIR (or /tmp), removed with what the test put in it.
struct TempDir {
	std::string path;
	TempDir()
	{
		const char *base = std::getenv("TMPDIR");
		std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/maild-unit.XXXXXX";
		REQUIRE(mkdtemp(tmpl.data()) != nullptr);
		path = tmpl;
	}
	~TempDir()
	{
		for (const char *name : {"/passwd", "/fifo"})
			std::remove((path + name).c_str());
		rmdir((path + "/dir").c_str());
		rmdir(path.c_str());
	}
};

} // namespace

TEST_CASE("peer_address: the IP without the port, so one host's connections share a count", "[net]")
{
	CHECK(peer_address(v4("127.0.0.1", 40000)) == "127.0.0.1");
	CHECK(peer_address(v4("127.0.0.1", 40001)) == peer_address(v4("127.0.0.1", 40000)));
	CHECK(peer_address(v4("127.0.0.2", 40000)) != peer_address(v4("127.0.0.1", 40000)));
	CHECK(peer_address(v6("2001:db8::1", 143)) == "2001:db8::1");
	CHECK(peer_address(v6("2001:db8::1", 144)) == peer_address(v6("2001:db8::1", 143)));
	CHECK(peer_name(v6("2001:db8::1", 143)) == "[2001:db8::1]:143");
}

TEST_CASE("--max-connections-per-address: a quarter of --max-connections unless given", "[net]")
{
	CHECK(per_address({}) == 250);
	CHECK(per_address({"--max-connections", "2000"}) == 500);
	CHECK(per_address({"--max-connections", "7"}) == 1);
	CHECK(per_address({"--max-connections", "1"}) == 1);
	CHECK(per_address({"--max-connections-per-address", "0"}) == 0);
	CHECK(per_address({"--max-connections-per-address=3", "--max-connections", "8"}) == 3);
	for (const char *bad : {"-1", "", "x", "1000001", "3k"}) {
		auto r = parse({"--max-connections-per-address", bad});
		REQUIRE(std::holds_alternative<OptionsError>(r));
		CHECK(std::get<OptionsError>(r).message.find("--max-connections-per-address") == 0);
	}
}

TEST_CASE("PasswdFile::load fails for what is not a readable regular file", "[passwd]")
{
	TempDir tmp;
	PasswdFile pf;
	std::vector<std::string> warnings;
	std::string error;

	std::string file = tmp.path + "/passwd";
	FILE *f = std::fopen(file.c_str(), "w");
	REQUIRE(f != nullptr);
	std::fputs("alice:{PLAIN}secret\n", f);
	std::fclose(f);
	REQUIRE(PasswdFile::load(file, pf, warnings, error));
	CHECK(pf.verify("alice", "secret"));

	// What a failed load leaves: `out` untouched, so a reload keeps the old accounts.
	std::string dir = tmp.path + "/dir";
	REQUIRE(mkdir(dir.c_str(), 0700) == 0);
	CHECK_FALSE(PasswdFile::load(dir, pf, warnings, error));
	CHECK(error.find("is a directory") != std::string::npos);
	CHECK(pf.verify("alice", "secret"));

	// A FIFO: refused at once, not read (an open without O_NONBLOCK would wait for a writer).
	std::string fifo = tmp.path + "/fifo";
	REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
	error.clear();
	CHECK_FALSE(PasswdFile::load(fifo, pf, warnings, error));
	CHECK(error.find("not a regular file") != std::string::npos);

	error.clear();
	CHECK_FALSE(PasswdFile::load(tmp.path + "/missing", pf, warnings, error));
	CHECK(error.find("No such file") != std::string::npos);
	CHECK(pf.size() == 1);
}
