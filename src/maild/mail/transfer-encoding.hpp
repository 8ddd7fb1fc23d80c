// Content-Transfer-Encoding decoding (RFC 2045 6): what IMAP's FETCH BINARY (RFC 3516) sends.
// Streaming and bounded: a decoder takes its input in chunks of any size, keeps a few bytes of
// state between them (never more than max_held), and writes at most max_output(n) bytes per
// chunk of n, so a part of any size is decoded in pieces into a bounded buffer. Pure: views in,
// bytes out; the result does not depend on where the input is cut into chunks.
//
// Malformed input degrades instead of failing, since the bytes are already stored and RFC 3516
// keeps NO [UNKNOWN-CTE] for encodings the server does not know:
// - base64: bytes outside the alphabet (line ends, spaces, junk) are skipped (RFC 2045 6.8);
//   '=' ends the current 4-character group, its complete bytes kept and a lone leftover sextet
//   dropped; decoding resumes after it, so concatenated encoded blocks decode as one.
// - quoted-printable: "=" followed by two hex digits (either case) is that byte; "=" at a line's
//   end (after optional white space) is a soft line break; any other "=" is kept as itself
//   (RFC 2045 6.7 note 1); white space before a line end is dropped (rule 3) unless a run of it
//   exceeds max_held, which then goes through as is; line ends become CRLF.
// - identity (7bit, 8bit, binary, or none given): the bytes with bare LFs made CRLF, exactly as
//   BODY[] sends them, so BINARY and BODY agree on unencoded parts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace maild {

enum class TransferEncoding : std::uint8_t { identity, base64, quoted_printable, unknown };

// The encoding a Content-Transfer-Encoding field value names (its first token, case-insensitive,
// comments allowed); an absent field is 7bit (RFC 2045 6.1), so identity.
TransferEncoding transfer_encoding(std::optional<std::string_view> field_value);

class TransferDecoder {
public:
	// White space held back by quoted-printable while it may precede a line end.
	static constexpr std::size_t max_held = 1024;

	explicit TransferDecoder(TransferEncoding e);
	// The most decode(in) followed by finish() writes for in.size() == n.
	static constexpr std::size_t max_output(std::size_t n) { return 2 * n + max_held + 8; }
	// Decodes the next chunk to out (room for max_output(in.size())); returns the end written.
	char *decode(std::string_view in, char *out);
	// Writes what the end of the input releases (a partial base64 group, held QP bytes).
	char *finish(char *out);

private:
	char *qp_byte(char ch, char *out);
	char *qp_line_end(char *out);

	TransferEncoding enc_;
	bool last_cr_ = false;   // identity: the chunk before ended in CR
	std::uint32_t bits_ = 0; // base64: sextets of the current group
	unsigned nbits_ = 0;     // base64: how many
	// quoted-printable: 0 = plain, 1 = after '=', 2 = after '=' and one hex digit, 3 = after '='
	// and white space (a soft line break if a line end follows), 4 = a CR seen after plain text
	unsigned qp_state_ = 0;
	char qp_hex_ = 0;
	std::string held_;       // quoted-printable white space (after "=" in state 3 too)
};

// Decodes all of `in` at once (tests, small parts).
std::string decode_transfer(TransferEncoding e, std::string_view in);

// The decoded size and whether it holds a NUL, computed in pieces without keeping the output.
struct DecodedShape {
	std::uint64_t size = 0;
	bool has_nul = false;
};
DecodedShape measure_decoded(TransferEncoding e, std::string_view in);

} // namespace maild
