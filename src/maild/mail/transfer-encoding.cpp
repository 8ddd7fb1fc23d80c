#include "mail/transfer-encoding.hpp"

#include "mail/crlf.hpp"
#include "mail/mime.hpp"

#include <cstring>
#include <vector>

namespace maild {

namespace {

// Sextet values of the base64 alphabet (RFC 2045 table 1); -1 elsewhere.
constexpr auto base64_values = [] {
	struct Table {
		signed char v[256];
	} t{};
	for (auto &x : t.v)
		x = -1;
	const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (int i = 0; i < 64; i++)
		t.v[static_cast<unsigned char>(alphabet[i])] = static_cast<signed char>(i);
	return t;
}();

int hex_value(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	return -1;
}

bool is_wsp(char ch)
{
	return ch == ' ' || ch == '\t';
}

char *put(char *out, std::string_view s)
{
	if (!s.empty())
		std::memcpy(out, s.data(), s.size());
	return out + s.size();
}

// The whole bytes of a base64 group of n sextets (n < 4 only at '=' or the end).
char *base64_flush(char *out, std::uint32_t bits, unsigned n)
{
	if (n == 4) {
		*out++ = static_cast<char>(bits >> 16);
		*out++ = static_cast<char>(bits >> 8);
		*out++ = static_cast<char>(bits);
	} else if (n == 3) {
		*out++ = static_cast<char>(bits >> 10);
		*out++ = static_cast<char>(bits >> 2);
	} else if (n == 2) {
		*out++ = static_cast<char>(bits >> 4);
	}
	return out;
}

} // namespace

TransferEncoding transfer_encoding(std::optional<std::string_view> field_value)
{
	if (!field_value)
		return TransferEncoding::identity;
	std::string token = first_token(*field_value);
	if (token.empty() || token == "7BIT" || token == "8BIT" || token == "BINARY")
		return TransferEncoding::identity;
	if (token == "BASE64")
		return TransferEncoding::base64;
	if (token == "QUOTED-PRINTABLE")
		return TransferEncoding::quoted_printable;
	return TransferEncoding::unknown;
}

TransferDecoder::TransferDecoder(TransferEncoding e) : enc_(e)
{
}

char *TransferDecoder::qp_line_end(char *out)
{
	held_.clear(); // white space before a line end was added in transport (RFC 2045 6.7 rule 3)
	*out++ = '\r';
	*out++ = '\n';
	return out;
}

// One byte of quoted-printable; loops while a byte ends a pending sequence and must be looked
// at again in the plain state.
char *TransferDecoder::qp_byte(char ch, char *out)
{
	for (;;) {
		switch (qp_state_) {
		case 0:
			if (is_wsp(ch)) {
				if (held_.size() >= max_held) {
					out = put(out, held_);
					held_.clear();
				}
				held_ += ch;
			} else if (ch == '\r') {
				qp_state_ = 4;
			} else if (ch == '\n') {
				out = qp_line_end(out);
			} else {
				out = put(out, held_);
				held_.clear();
				if (ch == '=') {
					held_.assign(1, '=');
					qp_state_ = 1;
				} else {
					*out++ = ch;
				}
			}
			return out;
		case 1: // "=" held
			if (hex_value(ch) >= 0) {
				qp_hex_ = ch;
				qp_state_ = 2;
				return out;
			}
			if (is_wsp(ch)) {
				held_ += ch;
				qp_state_ = 3;
				return out;
			}
			if (ch == '\r') {
				qp_state_ = 5;
				return out;
			}
			if (ch == '\n') { // soft line break
				held_.clear();
				qp_state_ = 0;
				return out;
			}
			break; // a lone '=' stays as it is
		case 2: { // "=" and one hex digit
			int lo = hex_value(ch);
			if (lo >= 0) {
				*out++ = static_cast<char>(hex_value(qp_hex_) * 16 + lo);
				held_.clear();
				qp_state_ = 0;
				return out;
			}
			held_ += qp_hex_;
			break;
		}
		case 3: // "=" and white space held: a soft line break if a line end follows
			if (is_wsp(ch) && held_.size() < max_held) {
				held_ += ch;
				return out;
			}
			if (ch == '\r') {
				qp_state_ = 5;
				return out;
			}
			if (ch == '\n') {
				held_.clear();
				qp_state_ = 0;
				return out;
			}
			break;
		case 4: // CR after plain text
			qp_state_ = 0;
			if (ch == '\n')
				return qp_line_end(out);
			out = put(out, held_); // a CR alone is no line end: white space before it stays
			held_.clear();
			*out++ = '\r';
			continue;
		case 5: // "=" [white space] CR
			if (ch == '\n') {
				held_.clear();
				qp_state_ = 0;
				return out;
			}
			held_ += '\r';
			break;
		}
		// The pending sequence is not an escape: it goes out as it came, then ch as plain text.
		out = put(out, held_);
		held_.clear();
		qp_state_ = 0;
	}
}

char *TransferDecoder::decode(std::string_view in, char *out)
{
	switch (enc_) {
	case TransferEncoding::identity:
	case TransferEncoding::unknown:
		return copy_crlf(in, out, last_cr_);
	case TransferEncoding::base64:
		for (char ch : in) {
			if (ch == '=') {
				out = base64_flush(out, bits_, nbits_);
				bits_ = 0;
				nbits_ = 0;
				continue;
			}
			int v = base64_values.v[static_cast<unsigned char>(ch)];
			if (v < 0)
				continue;
			bits_ = (bits_ << 6) | static_cast<std::uint32_t>(v);
			if (++nbits_ == 4) {
				out = base64_flush(out, bits_, 4);
				bits_ = 0;
				nbits_ = 0;
			}
		}
		return out;
	case TransferEncoding::quoted_printable:
		for (char ch : in)
			out = qp_byte(ch, out);
		return out;
	}
	return out;
}

char *TransferDecoder::finish(char *out)
{
	if (enc_ == TransferEncoding::base64) {
		out = base64_flush(out, bits_, nbits_);
		bits_ = 0;
		nbits_ = 0;
	} else if (enc_ == TransferEncoding::quoted_printable) {
		switch (qp_state_) {
		case 1: // "=" at the very end: kept
			out = put(out, held_);
			break;
		case 2: // "=" and one hex digit at the end: kept
			out = put(out, held_);
			*out++ = qp_hex_;
			break;
		case 4: // a last CR: white space before it was at a line's end
			*out++ = '\r';
			break;
		default: // trailing white space, or a soft line break missing its line end: dropped
			break;
		}
		held_.clear();
		qp_state_ = 0;
	}
	return out;
}

std::string decode_transfer(TransferEncoding e, std::string_view in)
{
	TransferDecoder d(e);
	std::string out(TransferDecoder::max_output(in.size()), '\0');
	char *end = d.decode(in, out.data());
	end = d.finish(end);
	out.resize(static_cast<std::size_t>(end - out.data()));
	return out;
}

DecodedShape measure_decoded(TransferEncoding e, std::string_view in)
{
	constexpr std::size_t chunk = 16 * 1024;
	DecodedShape shape;
	if (e == TransferEncoding::identity || e == TransferEncoding::unknown) {
		shape.size = crlf_size(in);
		shape.has_nul = !in.empty() && std::memchr(in.data(), '\0', in.size()) != nullptr;
		return shape;
	}
	TransferDecoder d(e);
	std::vector<char> buf(TransferDecoder::max_output(chunk));
	auto count = [&](const char *end) {
		auto n = static_cast<std::size_t>(end - buf.data());
		shape.size += n;
		if (!shape.has_nul && n > 0 && std::memchr(buf.data(), '\0', n) != nullptr)
			shape.has_nul = true;
	};
	for (std::size_t pos = 0; pos < in.size(); pos += chunk)
		count(d.decode(in.substr(pos, chunk), buf.data()));
	count(d.finish(buf.data()));
	return shape;
}

} // namespace maild
