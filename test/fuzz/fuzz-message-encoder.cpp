// Pop3MessageEncoder and CrlfSizeCounter against a line-by-line model written from
// message-encoder.hpp and RFC 1939: CRLF line ends only, dot-stuffing, ".\r\n" at the end and
// nowhere before, TOP's header + N body lines, and the same bytes whether the message comes in
// one chunk or split at arbitrary points.
#include "fuzz-check.hpp"
#include "mail/crlf.hpp"
#include "pop3/pop3-encoder.hpp"

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using maild::CrlfSizeCounter;
using maild::Pop3MessageEncoder;

namespace {

// What RETR/TOP must send for `msg`, built one line at a time.
std::string model(std::string_view msg, std::uint64_t body_lines, bool dot_stuff)
{
	std::string out;
	bool in_header = true;
	std::uint64_t left = body_lines;
	bool stop = false;
	while (!msg.empty() && !stop) {
		auto nl = msg.find('\n');
		std::string_view line = msg.substr(0, nl);
		msg = nl == std::string_view::npos ? std::string_view{} : msg.substr(nl + 1);
		// CR LF is one line end; a last line ending in CR (no LF) gets only the LF added.
		if (!line.empty() && line.back() == '\r')
			line.remove_suffix(1);
		if (dot_stuff && !line.empty() && line.front() == '.')
			out += '.';
		out += line;
		out += "\r\n";
		if (in_header) {
			if (line.empty()) {
				in_header = false;
				stop = left == 0;
			}
		} else if (left != Pop3MessageEncoder::all_lines) {
			stop = --left == 0;
		}
	}
	if (dot_stuff)
		out += ".\r\n";
	return out;
}

void check_line_ends(const std::string &out, bool dot_stuff)
{
	for (std::size_t i = 0; i < out.size(); i++)
		if (out[i] == '\n')
			FUZZ_CHECK(i > 0 && out[i - 1] == '\r');
	if (!out.empty())
		FUZZ_CHECK(out.size() >= 2 && out.compare(out.size() - 2, 2, "\r\n") == 0);
	if (dot_stuff) {
		// The terminator only at the very end; no earlier line is a lone dot.
		FUZZ_CHECK(out.size() >= 3 && out.compare(out.size() - 3, 3, ".\r\n") == 0);
		FUZZ_CHECK(out.size() == 3 || out.compare(out.size() - 5, 5, "\r\n.\r\n") == 0);
		auto first = out.find("\r\n.\r\n");
		FUZZ_CHECK(first == std::string::npos || first + 5 == out.size());
		FUZZ_CHECK(out.size() == 3 || out.compare(0, 3, ".\r\n") != 0);
	}
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	FuzzedDataProvider in(data, size);
	bool dot_stuff = in.ConsumeBool();
	std::uint64_t body_lines = in.ConsumeBool() ? Pop3MessageEncoder::all_lines
						    : in.ConsumeIntegralInRange<std::uint64_t>(0, 4);
	std::vector<std::size_t> cuts(in.ConsumeIntegralInRange<std::size_t>(0, 8));
	for (auto &c : cuts)
		c = in.ConsumeIntegral<std::uint16_t>();
	std::string msg = in.ConsumeRemainingBytesAsString();

	// Whole.
	Pop3MessageEncoder whole(body_lines, dot_stuff);
	std::string out1;
	whole.feed(msg, out1);
	bool done1 = whole.done();
	whole.finish(out1);

	// Split at the cut points (taken modulo the length, in order, empty chunks allowed).
	Pop3MessageEncoder split(body_lines, dot_stuff);
	CrlfSizeCounter counter;
	std::string out2;
	std::string_view rest = msg;
	for (std::size_t c : cuts) {
		std::size_t n = rest.empty() ? 0 : c % (rest.size() + 1);
		split.feed(rest.substr(0, n), out2);
		counter.feed(rest.substr(0, n));
		rest.remove_prefix(n);
	}
	split.feed(rest, out2);
	counter.feed(rest);
	FUZZ_CHECK(split.done() == done1);
	split.finish(out2);
	FUZZ_CHECK(out1 == out2);

	FUZZ_CHECK(out1 == model(msg, body_lines, dot_stuff));
	check_line_ends(out1, dot_stuff);

	// LIST's size: the message with CRLF line ends, which is exactly what an unstuffed,
	// unlimited encoder produces before finish().
	Pop3MessageEncoder plain(Pop3MessageEncoder::all_lines, false);
	std::string raw;
	plain.feed(msg, raw);
	FUZZ_CHECK(counter.size() == raw.size());
	return 0;
}
