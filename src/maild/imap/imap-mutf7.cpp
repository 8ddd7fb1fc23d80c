#include "imap/imap-mutf7.hpp"

#include <cstdint>

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

} // namespace maild
