// The inflate side of COMPRESS=DEFLATE as a connection uses it: arbitrary bytes arrive as
// compressed input in reads of any size and are inflated only into the room a small input
// buffer has, whose complete lines are then taken out; the buffer never holds more than its
// bound, each call stays within its room, and an error is final. The first input byte also
// chooses a round trip instead: the rest is deflated in pieces with syncs and must inflate,
// through small rooms, to exactly itself.
#include "fuzz-check.hpp"
#include "net/deflate-stream.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

using namespace maild;

namespace {

constexpr std::size_t max_line = 64;
constexpr std::size_t cap = max_line + 32; // the connection's max_line + inflate_step, scaled down
// Bytes one input may inflate to: a bomb of a few KB could otherwise take the fuzzer's time.
constexpr std::size_t max_total = 1 << 20;

void as_connection(std::string_view in, std::size_t read_size)
{
	Inflater inf;
	std::string buf;
	std::string_view unread; // the current read, not yet all inflated
	std::size_t total = 0;
	bool full = false;
	while (total < max_total) {
		if (unread.empty() && !full) {
			if (in.empty())
				return;
			std::size_t n = in.size() < read_size ? in.size() : read_size;
			unread = in.substr(0, n);
			in.remove_prefix(n);
		}
		FUZZ_CHECK(buf.size() <= cap);
		std::size_t room = cap - buf.size();
		std::size_t before = buf.size();
		auto r = inf.inflate(unread, buf, room);
		FUZZ_CHECK(r.produced <= room);
		FUZZ_CHECK(buf.size() == before + r.produced);
		FUZZ_CHECK(buf.size() <= cap);
		FUZZ_CHECK(r.consumed <= unread.size());
		if (r.error) {
			FUZZ_CHECK(inf.failed());
			auto again = inf.inflate("x", buf, room);
			FUZZ_CHECK(again.error && again.produced == 0);
			return;
		}
		unread.remove_prefix(r.consumed);
		full = r.full;
		total += r.produced;
		// The connection takes out complete lines; a line over the limit ends it.
		auto nl = buf.rfind('\n');
		if (nl != std::string::npos)
			buf.erase(0, nl + 1);
		else if (buf.size() > max_line)
			return;
		if (r.produced == 0 && r.consumed == 0 && !unread.empty())
			FUZZ_CHECK(room == 0); // with room and input, zlib always moves
	}
}

void round_trip(std::string_view plain, std::size_t piece, std::size_t room)
{
	Deflater def(1 + static_cast<int>(piece % 9));
	OutputQueue q;
	Inflater inf;
	std::string got;
	std::string_view rest = plain;
	while (!rest.empty()) {
		std::size_t n = rest.size() < piece ? rest.size() : piece;
		def.write(rest.substr(0, n), q);
		rest.remove_prefix(n);
		def.sync(q);
		std::string wire(q.front());
		q.consume(wire.size());
		std::string_view w = wire;
		for (;;) {
			std::size_t before = got.size();
			auto r = inf.inflate(w, got, room);
			FUZZ_CHECK(!r.error);
			FUZZ_CHECK(got.size() - before == r.produced && r.produced <= room);
			w.remove_prefix(r.consumed);
			if (w.empty() && !r.full)
				break;
		}
		// After each sync the peer has every byte written so far.
		FUZZ_CHECK(got == plain.substr(0, got.size()) && got.size() == plain.size() - rest.size());
	}
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	if (size < 2)
		return 0;
	std::string_view in(reinterpret_cast<const char *>(data + 2), size - 2);
	if (data[0] & 0x80)
		round_trip(in, 1 + data[1], 1 + (data[0] & 0x7f));
	else
		as_connection(in, 1 + data[1] + 256u * (data[0] & 0x0f));
	return 0;
}
