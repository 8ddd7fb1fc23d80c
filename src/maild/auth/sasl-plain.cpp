#include "auth/sasl-plain.hpp"

namespace maild {

namespace {
constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int value_of(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}
} // namespace

std::optional<std::string> base64_decode(std::string_view text)
{
	if (text.size() % 4 != 0)
		return std::nullopt;
	std::string out;
	out.reserve(text.size() / 4 * 3);
	for (std::size_t i = 0; i < text.size(); i += 4) {
		bool last = i + 4 == text.size();
		int v[4];
		int pad = 0;
		for (int k = 0; k < 4; k++) {
			char c = text[i + static_cast<std::size_t>(k)];
			if (c == '=' && last && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad > 0)
				return std::nullopt; // data after '='
			v[k] = value_of(c);
			if (v[k] < 0)
				return std::nullopt;
		}
		unsigned n = (static_cast<unsigned>(v[0]) << 18) | (static_cast<unsigned>(v[1]) << 12) |
			     (static_cast<unsigned>(v[2]) << 6) | static_cast<unsigned>(v[3]);
		out += static_cast<char>((n >> 16) & 0xff);
		if (pad < 2)
			out += static_cast<char>((n >> 8) & 0xff);
		if (pad < 1)
			out += static_cast<char>(n & 0xff);
	}
	return out;
}

std::string base64_encode(std::string_view data)
{
	std::string out;
	for (std::size_t i = 0; i < data.size(); i += 3) {
		unsigned n = static_cast<unsigned char>(data[i]) << 16;
		if (i + 1 < data.size())
			n |= static_cast<unsigned char>(data[i + 1]) << 8;
		if (i + 2 < data.size())
			n |= static_cast<unsigned char>(data[i + 2]);
		out += alphabet[(n >> 18) & 63];
		out += alphabet[(n >> 12) & 63];
		out += i + 1 < data.size() ? alphabet[(n >> 6) & 63] : '=';
		out += i + 2 < data.size() ? alphabet[n & 63] : '=';
	}
	return out;
}

std::optional<SaslPlain> parse_sasl_plain(std::string_view decoded)
{
	auto first = decoded.find('\0');
	if (first == std::string_view::npos)
		return std::nullopt;
	auto second = decoded.find('\0', first + 1);
	if (second == std::string_view::npos)
		return std::nullopt;
	std::string_view authzid = decoded.substr(0, first);
	std::string_view user = decoded.substr(first + 1, second - first - 1);
	std::string_view password = decoded.substr(second + 1);
	if (password.find('\0') != std::string_view::npos || user.empty() || password.empty())
		return std::nullopt;
	if (!authzid.empty() && authzid != user)
		return std::nullopt;
	return SaslPlain{std::string(user), std::string(password)};
}

} // namespace maild
