// The connection's output queue against a std::string model, and MessageBytes' read/map split.
#include "net/output-queue.hpp"
#include "storage/message-bytes.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <unistd.h>

using namespace maild;

TEST_CASE("output queue: appends, reserve/commit and partial writes keep the byte order")
{
	OutputQueue q;
	std::string model;
	std::uint64_t seed = 12345;
	auto next = [&seed](std::uint64_t n) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		return (seed >> 33) % n;
	};
	char fill = 'a';
	for (int step = 0; step < 20000; step++) {
		switch (next(3)) {
		case 0: { // append
			std::string s(next(700), fill);
			fill = fill == 'z' ? 'a' : static_cast<char>(fill + 1);
			q.append(s);
			model += s;
			break;
		}
		case 1: { // reserve room, write in place, keep part of it
			std::size_t room = next(5000) + 1, keep = next(room + 1);
			char *p = q.reserve(room);
			std::memset(p, fill, room); // the whole room is writable
			fill = fill == 'z' ? 'a' : static_cast<char>(fill + 1);
			q.commit(keep);
			model.append(keep, p[0]);
			break;
		}
		default: { // the socket took some
			std::size_t n = next(q.size() + 1);
			q.consume(n);
			model.erase(0, n);
		}
		}
		REQUIRE(q.size() == model.size());
		REQUIRE(q.front() == model);
	}
	q.clear();
	CHECK(q.empty());
}

namespace {
std::string write_temp(const std::string &bytes)
{
	char path[] = "/tmp/maild-bytes-XXXXXX";
	int fd = mkstemp(path);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
	close(fd);
	return path;
}
} // namespace

TEST_CASE("message bytes: small files are read, big ones mapped, both byte-exact")
{
	MessageBytes b;
	for (std::size_t size : {std::size_t(0), std::size_t(1), std::size_t(4096),
				 MessageBytes::read_limit, MessageBytes::read_limit + 1, std::size_t(1) << 20}) {
		std::string bytes(size, '\0');
		for (std::size_t i = 0; i < size; i++)
			bytes[i] = static_cast<char>('A' + i % 53);
		std::string path = write_temp(bytes);
		REQUIRE(b.open(AT_FDCWD, path));
		CHECK(b.data() == bytes);
		unlink(path.c_str());
	}
	errno = 0;
	CHECK_FALSE(b.open(AT_FDCWD, "/tmp/maild-bytes-does-not-exist"));
	CHECK(errno == ENOENT);
	CHECK(b.data().empty());
}
