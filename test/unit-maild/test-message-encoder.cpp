#include "mail/crlf.hpp"
#include "pop3/pop3-encoder.hpp"

#include <catch2/catch.hpp>

using namespace maild;

namespace {
std::string encode(std::string_view in, std::size_t chunk, std::uint64_t lines = Pop3MessageEncoder::all_lines)
{
	Pop3MessageEncoder e(lines);
	std::string out;
	for (std::size_t i = 0; i < in.size() && !e.done(); i += chunk)
		e.feed(in.substr(i, chunk), out);
	e.finish(out);
	return out;
}

std::uint64_t crlf_size(std::string_view in, std::size_t chunk)
{
	CrlfSizeCounter c;
	for (std::size_t i = 0; i < in.size(); i += chunk)
		c.feed(in.substr(i, chunk));
	return c.size();
}
} // namespace

TEST_CASE("LF and CRLF both go out as CRLF, in chunks of any size", "[encoder]")
{
	std::string lf = "A: b\n\nline\n.dot\n..two\nend\n";
	std::string crlf = "A: b\r\n\r\nline\r\n.dot\r\n..two\r\nend\r\n";
	std::string wire = "A: b\r\n\r\nline\r\n..dot\r\n...two\r\nend\r\n.\r\n";
	for (std::size_t chunk : {1u, 2u, 3u, 5u, 1000u}) {
		CHECK(encode(lf, chunk) == wire);
		CHECK(encode(crlf, chunk) == wire);
		CHECK(crlf_size(lf, chunk) == crlf.size());
		CHECK(crlf_size(crlf, chunk) == crlf.size());
	}
}

TEST_CASE("A last line without newline gets CRLF before the terminator", "[encoder]")
{
	CHECK(encode("A: b\n\nlast", 4) == "A: b\r\n\r\nlast\r\n.\r\n");
	CHECK(encode(".", 1) == "..\r\n.\r\n");
	CHECK(encode("", 1) == ".\r\n");
	CHECK(crlf_size("A: b\n\nlast", 3) == 12);
}

TEST_CASE("A bare CR inside a line passes through", "[encoder]")
{
	CHECK(encode("a\rb\n", 1) == "a\rb\r\n.\r\n");
	CHECK(crlf_size("a\rb\n", 1) == 5);
}

TEST_CASE("TOP: header, blank line, then n body lines", "[encoder]")
{
	std::string msg = "A: 1\nB: 2\n\none\ntwo\nthree\n";
	for (std::size_t chunk : {1u, 4u, 100u}) {
		CHECK(encode(msg, chunk, 0) == "A: 1\r\nB: 2\r\n\r\n.\r\n");
		CHECK(encode(msg, chunk, 2) == "A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\n.\r\n");
		CHECK(encode(msg, chunk, 99999999) == "A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\nthree\r\n.\r\n");
	}
	CHECK(encode("A: 1\r\n\r\n.x\r\ny\r\n", 3, 1) == "A: 1\r\n\r\n..x\r\n.\r\n");
	CHECK(encode("only: header\n", 2, 0) == "only: header\r\n.\r\n");
}
