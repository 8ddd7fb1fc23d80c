#include "imap/imap-mutf7.hpp"

#include <cstdint>
#include <vector>

namespace maild {

namespace {

int base64_value(char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == ',') // modified base64: ',' instead of '/'
		return 63;
	return -1;
}

// The base64 run starting at name[i] (after its '&'), up to and including its '-': true when it
// is the canonical spelling of whole UTF-16 characters none of which is ASCII; i ends past it.
bool valid_run(std::string_view name, std::size_t &i)
{
	std::uint32_t bits = 0;
	int nbits = 0;
	bool high_surrogate = false;
	for (; i < name.size() && name[i] != '-'; i++) {
		int v = base64_value(name[i]);
		if (v < 0)
			return false;
		bits = (bits << 6) | static_cast<std::uint32_t>(v);
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		std::uint32_t unit = (bits >> nbits) & 0xffff;
		bits &= (1u << nbits) - 1;
		if (high_surrogate) {
			if (unit < 0xdc00 || unit > 0xdfff)
				return false;
			high_surrogate = false;
		} else if (unit >= 0xd800 && unit <= 0xdbff) {
			high_surrogate = true;
		} else if (unit >= 0xdc00 && unit <= 0xdfff) {
			return false;
		} else if (unit < 0x80) {
			return false; // ASCII represents itself ('&' as "&-"); controls are no names
		}
	}
	// The run must end in '-' (no implicit shift back), whole, and with zero padding bits.
	if (i == name.size() || high_surrogate || nbits >= 6 || bits != 0)
		return false;
	i++;
	return true;
}

const char base64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

void flush_run(std::vector<std::uint16_t> &units, std::string &out)
{
	if (units.empty())
		return;
	out += '&';
	std::uint32_t bits = 0;
	int nbits = 0;
	for (std::uint16_t u : units) {
		bits = (bits << 16) | u;
		nbits += 16;
		while (nbits >= 6) {
			nbits -= 6;
			out += base64_chars[(bits >> nbits) & 0x3f];
		}
		bits &= (1u << nbits) - 1;
	}
	if (nbits > 0)
		out += base64_chars[(bits << (6 - nbits)) & 0x3f];
	out += '-';
	units.clear();
}

} // namespace

bool valid_mailbox_name(std::string_view name)
{
	if (name.empty())
		return false;
	bool after_run = false;
	std::size_t i = 0;
	while (i < name.size()) {
		auto ch = static_cast<unsigned char>(name[i]);
		if (ch < 0x20 || ch > 0x7e)
			return false;
		i++;
		if (ch != '&') {
			after_run = false;
			continue;
		}
		if (i < name.size() && name[i] == '-') { // "&-" is '&'
			i++;
			after_run = false;
			continue;
		}
		if (after_run) // "-&": a null shift, which RFC 3501 5.1.3 forbids
			return false;
		if (!valid_run(name, i))
			return false;
		after_run = true;
	}
	return true;
}

std::optional<std::string> utf8_to_mutf7(std::string_view s)
{
	std::string out;
	std::vector<std::uint16_t> run;
	std::size_t i = 0;
	while (i < s.size()) {
		auto b = static_cast<unsigned char>(s[i]);
		if (b >= 0x20 && b < 0x7f) {
			flush_run(run, out);
			out += static_cast<char>(b);
			if (b == '&')
				out += '-';
			i++;
			continue;
		}
		std::uint32_t cp = 0;
		std::size_t len = 0;
		if (b < 0x80) {
			cp = b;
			len = 1;
		} else if ((b & 0xe0) == 0xc0) {
			cp = b & 0x1f;
			len = 2;
		} else if ((b & 0xf0) == 0xe0) {
			cp = b & 0x0f;
			len = 3;
		} else if ((b & 0xf8) == 0xf0) {
			cp = b & 0x07;
			len = 4;
		} else {
			return std::nullopt;
		}
		if (i + len > s.size())
			return std::nullopt;
		for (std::size_t k = 1; k < len; k++) {
			auto c = static_cast<unsigned char>(s[i + k]);
			if ((c & 0xc0) != 0x80)
				return std::nullopt;
			cp = (cp << 6) | (c & 0x3f);
		}
		static const std::uint32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
		if (cp < min_for_len[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return std::nullopt;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			run.push_back(static_cast<std::uint16_t>(0xd800 + (cp >> 10)));
			run.push_back(static_cast<std::uint16_t>(0xdc00 + (cp & 0x3ff)));
		} else {
			run.push_back(static_cast<std::uint16_t>(cp));
		}
		i += len;
	}
	flush_run(run, out);
	return out;
}

} // namespace maild
