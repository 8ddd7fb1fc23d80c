// SASL PLAIN (sasl-plain.hpp): base64_decode against a strict RFC 4648 model (padding only at
// the end, length a multiple of 4), encode/decode round trips, and parse_sasl_plain against
// RFC 4616's three NUL-separated fields with the no-proxy rule.
#include "auth/sasl-plain.hpp"
#include "fuzz-check.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

int sextet(char c)
{
	static const std::string_view alphabet =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	auto p = alphabet.find(c);
	return p == std::string_view::npos ? -1 : static_cast<int>(p);
}

std::optional<std::string> model_decode(std::string_view s)
{
	if (s.size() % 4 != 0)
		return std::nullopt;
	std::size_t pad = 0;
	while (pad < 2 && pad < s.size() && s[s.size() - 1 - pad] == '=')
		pad++;
	std::string bits_out;
	unsigned acc = 0;
	int bits = 0;
	for (std::size_t i = 0; i < s.size() - pad; i++) {
		int v = sextet(s[i]);
		if (v < 0)
			return std::nullopt;
		acc = (acc << 6) | static_cast<unsigned>(v);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			bits_out += static_cast<char>((acc >> bits) & 0xff);
		}
	}
	return bits_out;
}

void check_plain(std::string_view decoded)
{
	auto got = maild::parse_sasl_plain(decoded);
	std::vector<std::string_view> fields;
	std::size_t start = 0;
	for (;;) {
		auto nul = decoded.find('\0', start);
		fields.push_back(decoded.substr(start, nul == std::string_view::npos ? nul : nul - start));
		if (nul == std::string_view::npos)
			break;
		start = nul + 1;
	}
	bool ok = fields.size() == 3 && !fields[1].empty() && !fields[2].empty() &&
		  (fields[0].empty() || fields[0] == fields[1]);
	FUZZ_CHECK(got.has_value() == ok);
	if (got) {
		FUZZ_CHECK(got->user == fields[1]);
		FUZZ_CHECK(got->password == fields[2]);
	}
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	std::string_view in(reinterpret_cast<const char *>(data), size);

	auto got = maild::base64_decode(in);
	auto want = model_decode(in);
	FUZZ_CHECK(got.has_value() == want.has_value());
	if (got) {
		FUZZ_CHECK(*got == *want);
		// Canonical up to the unused low bits of the last sextet.
		std::string again = maild::base64_encode(*got);
		FUZZ_CHECK(again.size() == in.size());
		FUZZ_CHECK(maild::base64_decode(again) == got);
		check_plain(*got);
	}

	std::string enc = maild::base64_encode(in);
	FUZZ_CHECK(enc.size() == (size + 2) / 3 * 4);
	FUZZ_CHECK(maild::base64_decode(enc) == std::optional<std::string>(std::string(in)));
	check_plain(in);
	return 0;
}
