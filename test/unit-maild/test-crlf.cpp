// Line-end conversion against a byte-at-a-time model: the block loops (16 bytes at a time where
// SSE2 exists) must give exactly what the model gives for every placement of CR and LF, at block
// boundaries, at the ends of views and across the chunks a FETCH sends a message in.
#include "mail/crlf.hpp"

#include <catch2/catch.hpp>

#include <random>

using namespace maild;

namespace {

// What each function promises, one byte at a time.
std::string model_copy(std::string_view raw, bool &last_was_cr)
{
	std::string out;
	for (char c : raw) {
		if (c == '\n' && !last_was_cr)
			out += '\r';
		out += c;
		last_was_cr = c == '\r';
	}
	return out;
}

std::string copy_in_chunks(std::string_view raw, std::size_t chunk, bool &last_was_cr)
{
	std::string out;
	for (std::size_t i = 0; i < raw.size(); i += chunk)
		append_crlf(raw.substr(i, chunk), out, last_was_cr);
	return out;
}

// Text with CR, LF and CRLF at random places, and runs long enough for whole blocks without either.
std::string random_text(std::mt19937 &rng, std::size_t size)
{
	std::string s(size, 'x');
	std::uniform_int_distribution<int> pick(0, 99);
	for (auto &c : s) {
		int r = pick(rng);
		c = r < 4 ? '\n' : r < 7 ? '\r' : r < 9 ? '\0' : static_cast<char>('a' + r % 26);
	}
	return s;
}

} // namespace

TEST_CASE("crlf_size and copy_crlf agree with the byte model on random text", "[crlf]")
{
	std::mt19937 rng(20261204);
	for (int round = 0; round < 3000; round++) {
		std::size_t size = static_cast<std::size_t>(rng() % 200);
		std::string raw = random_text(rng, size);
		bool start_cr = (rng() & 1) != 0;
		bool model_cr = start_cr;
		std::string want = model_copy(raw, model_cr);

		bool cr = start_cr;
		std::string got(2 * raw.size(), '\0');
		char *end = copy_crlf(raw, got.data(), cr);
		got.resize(static_cast<std::size_t>(end - got.data()));
		REQUIRE(got == want);
		REQUIRE(cr == (raw.empty() ? start_cr : raw.back() == '\r'));

		// crlf_size counts an LF first in the view as bare (no byte before it).
		bool no_cr = false;
		REQUIRE(crlf_size(raw) == model_copy(raw, no_cr).size());

		std::size_t chunk = 1 + rng() % 40;
		cr = start_cr;
		REQUIRE(copy_in_chunks(raw, chunk, cr) == want);
	}
}

TEST_CASE("a CR and its LF split by a block edge or a chunk edge stay one line end", "[crlf]")
{
	for (std::size_t at = 0; at < 40; at++) {
		std::string raw(48, 'a');
		raw[at] = '\r';
		raw[at + 1] = '\n';
		CHECK(crlf_size(raw) == raw.size());
		bool cr = false;
		CHECK(copy_in_chunks(raw, 16, cr) == raw);
		cr = false;
		CHECK(copy_in_chunks(raw, at + 1, cr) == raw); // the CR ends a chunk, the LF starts the next
		std::string bare(48, 'a');
		bare[at + 1] = '\n';
		CHECK(crlf_size(bare) == bare.size() + 1);
	}
}

TEST_CASE("long runs of bare LFs are all counted (more than a byte-wide counter holds)", "[crlf]")
{
	for (std::size_t size : {4079u, 4080u, 4096u, 70000u}) {
		std::string lfs(size, '\n');
		CHECK(crlf_size(lfs) == 2 * size);
		std::string text;
		for (std::size_t i = 0; text.size() < size; i++)
			text += i % 3 == 0 ? "line\r\n" : "some text of a line\n";
		bool no_cr = false;
		CHECK(crlf_size(text) == model_copy(text, no_cr).size());
	}
}

TEST_CASE("the size counter fed in chunks matches the size of the whole", "[crlf]")
{
	std::mt19937 rng(7);
	for (int round = 0; round < 500; round++) {
		std::string raw = random_text(rng, rng() % 300);
		std::size_t chunk = 1 + rng() % 70;
		CrlfSizeCounter c;
		for (std::size_t i = 0; i < raw.size(); i += chunk)
			c.feed(std::string_view(raw).substr(i, chunk));
		REQUIRE(c.size() == crlf_size(raw));
	}
}
