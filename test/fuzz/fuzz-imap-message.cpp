// ImapMessage (imap-message.hpp) on arbitrary bytes: it never fails, and what FETCH would send is
// well-formed. ENVELOPE and BODY/BODYSTRUCTURE are each exactly one IMAP list (balanced; quoted
// strings without CR, LF, NUL or 8-bit bytes; literals of exactly the announced size); HEADER +
// TEXT is the whole message; BODY[] is the whole message; ranges are views of the raw bytes;
// synthesized texts have CRLF line ends only; crlf_size agrees with append_crlf, also when the
// input is converted in two chunks; section lookups on arbitrary part paths are safe. The transfer
// decoders (FETCH BINARY) on the raw bytes and on each part: the same output whether decoded at
// once or in two pieces, within the announced output bound, measure_decoded agreeing with it.
#include "fuzz-check.hpp"
#include "imap-syntax.hpp"
#include "imap/imap-message.hpp"

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

using namespace maild;

namespace {

bool inside(std::string_view part, std::string_view whole)
{
	return part.empty() ||
	       (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

void check_list(const std::string &s)
{
	imap_syntax::Node n;
	if (!imap_syntax::Reader(s).whole_list(n)) {
		std::fprintf(stderr, "not one IMAP list: %s\n", s.c_str());
		FUZZ_CHECK(false);
	}
}

void check_crlf_only(std::string_view s)
{
	for (std::size_t i = 0; i < s.size(); i++)
		if (s[i] == '\n')
			FUZZ_CHECK(i > 0 && s[i - 1] == '\r');
}

// Decodes `in` at once and cut at `cut`, checking the bound on each piece and that they agree.
void check_decoder(TransferEncoding e, std::string_view in, std::size_t cut)
{
	std::string whole = decode_transfer(e, in);
	FUZZ_CHECK(whole.size() <= TransferDecoder::max_output(in.size()));
	auto shape = measure_decoded(e, in);
	FUZZ_CHECK(shape.size == whole.size());
	FUZZ_CHECK(shape.has_nul == (whole.find('\0') != std::string::npos));
	cut = in.empty() ? 0 : cut % (in.size() + 1);
	TransferDecoder d(e);
	std::string a(TransferDecoder::max_output(cut), '\0'), b(TransferDecoder::max_output(in.size() - cut), '\0');
	auto na = static_cast<std::size_t>(d.decode(in.substr(0, cut), a.data()) - a.data());
	char *end = d.decode(in.substr(cut), b.data());
	auto nb = static_cast<std::size_t>(d.finish(end) - b.data());
	FUZZ_CHECK(na <= a.size() && nb <= b.size());
	FUZZ_CHECK(na + nb == whole.size());
	FUZZ_CHECK(std::memcmp(whole.data(), a.data(), na) == 0 && std::memcmp(whole.data() + na, b.data(), nb) == 0);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
	// The first byte picks the part paths to look up; the rest is the message.
	if (size == 0)
		return 0;
	std::uint8_t pick = data[0];
	std::string_view raw(reinterpret_cast<const char *>(data) + 1, size - 1);

	std::string conv;
	bool cr = false;
	append_crlf(raw, conv, cr);
	FUZZ_CHECK(conv.size() == crlf_size(raw));
	check_crlf_only(conv);
	std::string conv2;
	cr = false;
	std::size_t cut = raw.empty() ? 0 : pick % (raw.size() + 1);
	append_crlf(raw.substr(0, cut), conv2, cr);
	append_crlf(raw.substr(cut), conv2, cr);
	FUZZ_CHECK(conv2 == conv);

	ImapMessage m(raw);
	FUZZ_CHECK(m.header().data() == raw.data() || m.header().empty());
	FUZZ_CHECK(inside(m.header(), raw) && inside(m.body(), raw));
	FUZZ_CHECK(m.header().size() + m.body().size() == raw.size());

	check_list(m.envelope());
	check_list(m.bodystructure(true));
	check_list(m.bodystructure(false));
	(void)m.date();
	if (auto d = m.date_with_zone())
		FUZZ_CHECK(d->zone_offset > -100 * 3600 && d->zone_offset < 100 * 3600);
	(void)m.header_value("Subject");

	auto whole = m.section({}, SectionPart::whole, {});
	FUZZ_CHECK(whole && whole->is_range && whole->range.data() == raw.data() &&
		   whole->range.size() == raw.size());
	auto text = m.section({}, SectionPart::text, {});
	FUZZ_CHECK(text && text->is_range && text->range.size() == m.body().size());
	FUZZ_CHECK(!m.section({}, SectionPart::mime, {}));

	for (TransferEncoding e : {TransferEncoding::base64, TransferEncoding::quoted_printable, TransferEncoding::identity})
		check_decoder(e, raw, pick);

	std::vector<std::vector<std::uint32_t>> parts = {{}, {1}, {2}, {1, 1}, {1, 2}, {2, 1},
							 {pick}, {1, 1, 1}, {0}, {4294967295u}};
	const std::vector<std::string> fields = {"SUBJECT", "from", "Content-Type", "X"};
	for (const auto &p : parts) {
		if (auto b = m.binary_section(p)) {
			FUZZ_CHECK(inside(b->range, raw));
			if (b->encoding != TransferEncoding::unknown)
				check_decoder(b->encoding, b->range, pick * 7u);
		}
		for (SectionPart what : {SectionPart::whole, SectionPart::header, SectionPart::header_fields,
					 SectionPart::header_fields_not, SectionPart::text, SectionPart::mime}) {
			auto s = m.section(p, what, fields);
			if (!s)
				continue;
			if (s->is_range)
				FUZZ_CHECK(inside(s->range, raw));
			else
				check_crlf_only(s->text);
		}
	}
	return 0;
}
