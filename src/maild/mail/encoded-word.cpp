#include "mail/encoded-word.hpp"

#include "base/ascii.hpp"
#include "mail/header.hpp"
#include "mail/transfer-encoding.hpp"

#include <array>
#include <cstdint>
#include <optional>

namespace maild {

namespace {

enum class Charset : std::uint8_t { utf8, ascii, latin1, latin9, cp1252 };

std::optional<Charset> charset_named(std::string_view name)
{
	// "utf-8*en": RFC 2231 lets a language follow the charset.
	name = name.substr(0, name.find('*'));
	struct Alias {
		std::string_view name;
		Charset charset;
	};
	static constexpr Alias aliases[] = {
		{"utf-8", Charset::utf8},	  {"utf8", Charset::utf8},	  {"us-ascii", Charset::ascii},
		{"ascii", Charset::ascii},	  {"iso-8859-1", Charset::latin1}, {"iso8859-1", Charset::latin1},
		{"latin1", Charset::latin1},	  {"iso-8859-15", Charset::latin9}, {"iso8859-15", Charset::latin9},
		{"windows-1252", Charset::cp1252}, {"cp1252", Charset::cp1252},
	};
	for (const Alias &a : aliases) {
		if (equal_nocase(name, a.name))
			return a.charset;
	}
	return std::nullopt;
}

constexpr char32_t replacement = 0xFFFD;

void put_utf8(std::string &out, char32_t c)
{
	if (c < 0x80) {
		out += static_cast<char>(c);
	} else if (c < 0x800) {
		out += static_cast<char>(0xC0 | (c >> 6));
		out += static_cast<char>(0x80 | (c & 0x3F));
	} else if (c < 0x10000) {
		out += static_cast<char>(0xE0 | (c >> 12));
		out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
		out += static_cast<char>(0x80 | (c & 0x3F));
	} else {
		out += static_cast<char>(0xF0 | (c >> 18));
		out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
		out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
		out += static_cast<char>(0x80 | (c & 0x3F));
	}
}

// The length of the valid UTF-8 sequence at s[i] (no overlongs, surrogates or values past
// U+10FFFF), or 0.
std::size_t utf8_sequence(std::string_view s, std::size_t i)
{
	auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
	unsigned char c = b(0);
	if (c < 0x80)
		return 1;
	std::size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
	if (n == 0 || c > 0xF4 || i + n > s.size())
		return 0;
	for (std::size_t k = 1; k < n; k++) {
		if ((b(k) & 0xC0) != 0x80)
			return 0;
	}
	if ((c == 0xE0 && b(1) < 0xA0) || (c == 0xED && b(1) >= 0xA0) || (c == 0xF0 && b(1) < 0x90) ||
	    (c == 0xF4 && b(1) >= 0x90))
		return 0;
	return n;
}

// Windows-1252's 0x80-0x9F; 0 where the code page leaves a byte undefined.
constexpr std::array<char16_t, 32> cp1252_high = {
	0x20AC, 0,	0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
	0x2039, 0x0152, 0,	0x017D, 0,	0,	0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
	0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,	0x017E, 0x0178,
};

char32_t single_byte(Charset cs, unsigned char c)
{
	if (c < 0x80)
		return c;
	switch (cs) {
	case Charset::latin1:
		return c;
	case Charset::latin9:
		// ISO-8859-15 is Latin-1 with eight code points replaced.
		switch (c) {
		case 0xA4: return 0x20AC;
		case 0xA6: return 0x0160;
		case 0xA8: return 0x0161;
		case 0xB4: return 0x017D;
		case 0xB8: return 0x017E;
		case 0xBC: return 0x0152;
		case 0xBD: return 0x0153;
		case 0xBE: return 0x0178;
		default: return c;
		}
	case Charset::cp1252:
		if (c < 0xA0)
			return cp1252_high[c - 0x80] ? cp1252_high[c - 0x80] : replacement;
		return c;
	default:
		return replacement;
	}
}

void convert(Charset cs, std::string_view bytes, std::string &out)
{
	for (std::size_t i = 0; i < bytes.size();) {
		if (cs == Charset::utf8) {
			std::size_t n = utf8_sequence(bytes, i);
			if (n == 0) {
				put_utf8(out, replacement);
				i++;
			} else {
				out.append(bytes.substr(i, n));
				i += n;
			}
			continue;
		}
		put_utf8(out, single_byte(cs, static_cast<unsigned char>(bytes[i++])));
	}
}

int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = ascii_lower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

// RFC 2047 4.2: "_" is a space, "=XX" a byte; anything else stands for itself.
std::string decode_q(std::string_view text)
{
	std::string out;
	for (std::size_t i = 0; i < text.size(); i++) {
		int hi = 0, lo = 0;
		if (text[i] == '_') {
			out += ' ';
		} else if (text[i] == '=' && i + 2 < text.size() && (hi = hex_value(text[i + 1])) >= 0 &&
			   (lo = hex_value(text[i + 2])) >= 0) {
			out += static_cast<char>(hi * 16 + lo);
			i += 2;
		} else {
			out += text[i];
		}
	}
	return out;
}

struct Word {
	std::size_t length = 0; // of "=?...?=" in the text
	Charset charset = Charset::utf8;
	std::string bytes; // decoded, still in charset
};

// The encoded word at the start of s, if s starts with a well-formed one in a known charset.
std::optional<Word> encoded_word_at(std::string_view s)
{
	if (s.substr(0, 2) != "=?")
		return std::nullopt;
	std::size_t q1 = s.find('?', 2);
	if (q1 == std::string_view::npos || q1 == 2 || q1 + 2 >= s.size() || s[q1 + 2] != '?')
		return std::nullopt;
	std::size_t end = s.find("?=", q1 + 3);
	if (end == std::string_view::npos)
		return std::nullopt;
	std::string_view charset = s.substr(2, q1 - 2), text = s.substr(q1 + 3, end - q1 - 3);
	for (char c : s.substr(0, end)) {
		if (is_wsp(c) || c == '\r' || c == '\n')
			return std::nullopt;
	}
	auto cs = charset_named(charset);
	if (!cs)
		return std::nullopt;
	Word w;
	w.length = end + 2;
	w.charset = *cs;
	switch (ascii_lower(s[q1 + 1])) {
	case 'b': w.bytes = decode_transfer(TransferEncoding::base64, text); break;
	case 'q': w.bytes = decode_q(text); break;
	default: return std::nullopt;
	}
	return w;
}

} // namespace

std::string decode_encoded_words(std::string_view text)
{
	std::string out;
	// Bytes of adjacent words in one charset, converted together when the run ends.
	std::string pending;
	Charset pending_charset = Charset::utf8;
	auto flush = [&] {
		convert(pending_charset, pending, out);
		pending.clear();
	};
	bool after_word = false;
	for (std::size_t i = 0; i < text.size();) {
		if (after_word) {
			// White space between two encoded words is not part of the text (RFC 2047 6.2).
			std::size_t j = i;
			while (j < text.size() && (is_wsp(text[j]) || text[j] == '\r' || text[j] == '\n'))
				j++;
			if (j > i && encoded_word_at(text.substr(j)))
				i = j;
		}
		if (auto w = encoded_word_at(text.substr(i))) {
			if (!pending.empty() && w->charset != pending_charset)
				flush();
			pending_charset = w->charset;
			pending += w->bytes;
			i += w->length;
			after_word = true;
			continue;
		}
		if (!pending.empty())
			flush();
		after_word = false;
		out += text[i++];
	}
	if (!pending.empty())
		flush();
	return out;
}

} // namespace maild
