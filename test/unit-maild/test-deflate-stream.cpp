// The deflate wrapper of COMPRESS=DEFLATE: what the compressor syncs the peer can inflate whole,
// the decompressor never fills more than the room it is given, and input that is not a raw
// deflate stream (or goes on after its end) fails for good.
#if MAILD_HAVE_ZLIB
#include "net/deflate-stream.hpp"

#define ZLIB_CONST
#include <zlib.h>

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

using namespace maild;

namespace {

// Takes everything queued, as a socket that reads it all would.
std::string drain(OutputQueue &q)
{
	std::string s(q.front());
	q.consume(s.size());
	return s;
}

// Inflates `in` whole, `room` bytes at a time, as the connection does.
std::string inflate_all(Inflater &inf, std::string_view in, std::size_t room)
{
	std::string out;
	for (int guard = 0; guard < 10000000; guard++) {
		std::size_t before = out.size();
		auto r = inf.inflate(in, out, room);
		REQUIRE(!r.error);
		REQUIRE(out.size() - before == r.produced);
		REQUIRE(r.produced <= room);
		in.remove_prefix(r.consumed);
		if (in.empty() && !r.full)
			return out;
		if (r.consumed == 0 && r.produced == 0)
			FAIL("no progress");
	}
	FAIL("does not end");
	return out;
}

// A raw deflate stream ended with Z_FINISH, as zlib's one-shot API makes it.
std::string finished_stream(std::string_view plain)
{
	z_stream zs{};
	REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK);
	std::string out(deflateBound(&zs, plain.size()), '\0');
	zs.next_in = reinterpret_cast<const Bytef *>(plain.data());
	zs.avail_in = static_cast<uInt>(plain.size());
	zs.next_out = reinterpret_cast<Bytef *>(out.data());
	zs.avail_out = static_cast<uInt>(out.size());
	REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
	out.resize(zs.total_out);
	deflateEnd(&zs);
	return out;
}

} // namespace

TEST_CASE("deflate stream: what sync() ends can be inflated whole, piece by piece")
{
	Deflater def;
	Inflater inf;
	OutputQueue q;
	std::uint64_t seed = 4978;
	auto next = [&seed](std::uint64_t n) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		return (seed >> 33) % n;
	};
	for (int round = 0; round < 200; round++) {
		std::string plain;
		for (int pieces = static_cast<int>(next(5)) + 1; pieces > 0; pieces--) {
			std::string piece(next(20000), '\0');
			for (auto &c : piece) // text-like, some runs, some noise
				c = next(4) == 0 ? static_cast<char>(next(256)) : "* 1 FETCH (UID 7)\r\n"[next(19)];
			def.write(piece, q);
			plain += piece;
		}
		CHECK(def.unsynced() == plain.size());
		def.sync(q);
		CHECK(def.unsynced() == 0);
		// Every byte written comes out of the peer without waiting for more input.
		CHECK(inflate_all(inf, drain(q), next(3000) + 1) == plain);
	}
}

TEST_CASE("deflate stream: sync() with nothing new writes nothing")
{
	Deflater def;
	OutputQueue q;
	def.sync(q);
	CHECK(q.empty());
	def.write("a1 OK done\r\n", q);
	def.sync(q);
	std::string once = drain(q);
	CHECK(!once.empty());
	def.sync(q);
	CHECK(q.empty());
	Inflater inf;
	CHECK(inflate_all(inf, once, 100) == "a1 OK done\r\n");
}

TEST_CASE("inflate: a bomb comes out no faster than the room given")
{
	std::string plain(8 * 1024 * 1024, 'A');
	Deflater def;
	OutputQueue q;
	def.write(plain, q);
	def.sync(q);
	std::string bomb = drain(q);
	CHECK(bomb.size() < plain.size() / 500);

	Inflater inf;
	std::string out;
	std::string_view in = bomb;
	auto r = inf.inflate(in, out, 1000);
	CHECK(r.produced == 1000);
	CHECK(out.size() == 1000);
	CHECK(r.full); // more is there, whether or not input is left
	in.remove_prefix(r.consumed);
	// The rest comes in later calls, each within its room, also once all input is consumed.
	std::size_t total = out.size();
	while (r.full || !in.empty()) {
		out.clear();
		r = inf.inflate(in, out, 4096);
		REQUIRE(!r.error);
		REQUIRE(out.size() <= 4096);
		REQUIRE(out.find_first_not_of('A') == std::string::npos);
		in.remove_prefix(r.consumed);
		total += r.produced;
		if (r.produced == 0 && r.consumed == 0)
			break;
	}
	CHECK(total == plain.size());
	CHECK(in.empty());
}

TEST_CASE("inflate: corrupt input fails, and so does everything after it")
{
	Inflater inf;
	std::string out;
	// 0xff: BFINAL with the reserved block type 11.
	auto r = inf.inflate(std::string(16, '\xff'), out, 1000);
	CHECK(r.error);
	CHECK(inf.failed());
	Deflater def;
	OutputQueue q;
	def.write("a NOOP\r\n", q);
	def.sync(q);
	r = inf.inflate(drain(q), out, 1000);
	CHECK(r.error);
	CHECK(out.empty());
}

TEST_CASE("inflate: a stream that ends, then goes on, fails")
{
	std::string ended = finished_stream("a LOGOUT\r\n");
	{
		Inflater inf;
		std::string out;
		auto r = inf.inflate(ended, out, 100);
		CHECK(!r.error);
		CHECK(out == "a LOGOUT\r\n");
		r = inf.inflate("more", out, 100);
		CHECK(r.error);
	}
	{
		Inflater inf;
		std::string out;
		auto r = inf.inflate(ended + "x", out, 100);
		CHECK(r.error);
	}
}

TEST_CASE("inflate: an empty room takes nothing")
{
	Deflater def;
	OutputQueue q;
	def.write("a NOOP\r\n", q);
	def.sync(q);
	std::string in = drain(q);
	Inflater inf;
	std::string out;
	auto r = inf.inflate(in, out, 0);
	CHECK(r.consumed == 0);
	CHECK(r.produced == 0);
	CHECK(!r.error);
	CHECK(inflate_all(inf, in, 3) == "a NOOP\r\n");
}
#endif
