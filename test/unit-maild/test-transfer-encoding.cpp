// Unit tests for mail/transfer-encoding: base64 and quoted-printable decoding as FETCH BINARY
// sends it, the malformed-input rules the header documents, chunk-independence (FETCH decodes a
// big part in pieces) and the output bound the session reserves room by.
#include "imap/imap-message.hpp"
#include "mail/transfer-encoding.hpp"

#include <catch2/catch.hpp>
#include <random>

using namespace maild;

namespace {

using TE = TransferEncoding;

// Decodes `in` cut into pieces of `step` bytes, checking each piece against the output bound.
std::string in_pieces(TE e, std::string_view in, std::size_t step)
{
	TransferDecoder d(e);
	std::string out;
	for (std::size_t pos = 0; pos <= in.size(); pos += step) {
		std::string_view piece = in.substr(std::min(pos, in.size()), step);
		bool last = pos + step > in.size();
		std::string buf(TransferDecoder::max_output(piece.size()), '\0');
		char *end = d.decode(piece, buf.data());
		if (last)
			end = d.finish(end);
		auto n = static_cast<std::size_t>(end - buf.data());
		REQUIRE(n <= buf.size());
		out.append(buf.data(), n);
		if (last)
			break;
	}
	return out;
}

} // namespace

TEST_CASE("Content-Transfer-Encoding names", "[transfer-encoding]")
{
	CHECK(transfer_encoding(std::nullopt) == TE::identity);
	CHECK(transfer_encoding(" 7bit") == TE::identity);
	CHECK(transfer_encoding("8BIT") == TE::identity);
	CHECK(transfer_encoding("Binary (raw)") == TE::identity);
	CHECK(transfer_encoding("(comment) Base64") == TE::base64);
	CHECK(transfer_encoding("\r\n quoted-printable") == TE::quoted_printable);
	CHECK(transfer_encoding("x-uuencode") == TE::unknown);
	CHECK(transfer_encoding("base64x") == TE::unknown);
}

TEST_CASE("base64 decoding", "[transfer-encoding]")
{
	CHECK(decode_transfer(TE::base64, "") == "");
	CHECK(decode_transfer(TE::base64, "aGVsbG8=") == "hello");
	CHECK(decode_transfer(TE::base64, "aGVs\r\nbG8h\n") == "hello!");
	CHECK(decode_transfer(TE::base64, "AAEC/w==") == std::string("\0\1\2\xff", 4));
	// Junk outside the alphabet is skipped; '=' ends a group and decoding goes on after it.
	CHECK(decode_transfer(TE::base64, "a G*V\tsbG8=") == "hello");
	CHECK(decode_transfer(TE::base64, "aGk=aGk=") == "hihi");
	// A missing pad still gives the whole bytes; a lone leftover sextet gives nothing.
	CHECK(decode_transfer(TE::base64, "aGVsbG8") == "hello");
	CHECK(decode_transfer(TE::base64, "aGVsbA==Z") == "hell");
	CHECK(decode_transfer(TE::base64, "====") == "");
}

TEST_CASE("quoted-printable decoding", "[transfer-encoding]")
{
	CHECK(decode_transfer(TE::quoted_printable, "caf=C3=a9") == "caf\xc3\xa9");
	// Soft line breaks, with or without CR, and with white space after the '='.
	CHECK(decode_transfer(TE::quoted_printable, "ab=\r\ncd=\nef= \t\r\ngh") == "abcdefgh");
	// Hard line breaks become CRLF; white space before them is dropped, elsewhere kept.
	CHECK(decode_transfer(TE::quoted_printable, "a  \nb\t\r\n c=20\n") == "a\r\nb\r\n c \r\n");
	// A malformed '=' stays as it came.
	CHECK(decode_transfer(TE::quoted_printable, "1=2 =ZZ =A") == "1=2 =ZZ =A");
	CHECK(decode_transfer(TE::quoted_printable, "=") == "=");
	CHECK(decode_transfer(TE::quoted_printable, "= x") == "= x");
	CHECK(decode_transfer(TE::quoted_printable, "a=\rb") == "a=\rb");
	CHECK(decode_transfer(TE::quoted_printable, "a \rb") == "a \rb");
	CHECK(decode_transfer(TE::quoted_printable, "=00") == std::string(1, '\0'));
	// White space at the very end, and a soft break missing its line end, are dropped.
	CHECK(decode_transfer(TE::quoted_printable, "end  ") == "end");
	CHECK(decode_transfer(TE::quoted_printable, "end= ") == "end");
	// A run of white space longer than the decoder holds goes through as it is.
	std::string ws(3 * TransferDecoder::max_held, ' ');
	CHECK(decode_transfer(TE::quoted_printable, ws + "x") == ws + "x");
}

TEST_CASE("identity: bare LF made CRLF, as BODY sends it", "[transfer-encoding]")
{
	CHECK(decode_transfer(TE::identity, std::string_view("a\nb\r\nc\0d", 8)) == std::string("a\r\nb\r\nc\0d", 9));
	auto shape = measure_decoded(TE::identity, std::string("x\n\0", 3));
	CHECK(shape.size == 4);
	CHECK(shape.has_nul);
}

TEST_CASE("decoding in pieces gives the same bytes within the bound", "[transfer-encoding]")
{
	std::mt19937 rng(3516);
	std::string samples[] = {
		"aGVs\r\nbG8h\n=Zm9v==YmFy", "ab=\r\ncd=\nef= \t\r\ngh  \r\n=4 =4x =\r=", std::string(5000, ' ') + "=\nz",
		"caf=C3=A9\r\n\r\n  \n=",
	};
	std::string random(20000, '\0');
	for (auto &ch : random)
		ch = "=AZaz09+/ \t\r\n\0"[rng() % 15];
	for (TE e : {TE::base64, TE::quoted_printable, TE::identity}) {
		for (const std::string &s : {samples[0], samples[1], samples[2], samples[3], random}) {
			std::string whole = decode_transfer(e, s);
			auto shape = measure_decoded(e, s);
			CHECK(shape.size == whole.size());
			CHECK(shape.has_nul == (whole.find('\0') != std::string::npos));
			for (std::size_t step : {1, 2, 3, 7, 1000})
				CHECK(in_pieces(e, s, step) == whole);
		}
	}
}

TEST_CASE("ImapMessage::binary_section: the part's body and its encoding", "[transfer-encoding]")
{
	std::string raw = "Content-Type: multipart/mixed; boundary=b\n\n"
			  "--b\nContent-Transfer-Encoding: base64\n\naGVsbG8=\n"
			  "--b\nContent-Transfer-Encoding: x-foo\n\nzz\n"
			  "--b\n\nplain\n--b--\n";
	ImapMessage m(raw);
	auto whole = m.binary_section({});
	REQUIRE(whole);
	CHECK(whole->range == raw);
	CHECK(whole->encoding == TE::identity);
	auto one = m.binary_section({1});
	REQUIRE(one);
	CHECK(one->encoding == TE::base64);
	CHECK(decode_transfer(one->encoding, one->range) == "hello");
	CHECK(m.binary_section({2})->encoding == TE::unknown);
	CHECK(m.binary_section({3})->range == "plain");
	CHECK(m.binary_section({3})->encoding == TE::identity);
	CHECK_FALSE(m.binary_section({4}));
	CHECK_FALSE(m.binary_section({1, 1}));
}
