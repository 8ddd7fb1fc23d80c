#include "mail/crlf.hpp"

#include <algorithm>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace maild {

// Converting line ends was about a fifth of maild's CPU in the IMAP load benchmark: a memchr and a
// memcpy per line (~70 bytes of mail text), twice for a FETCH (once to size the literal, once to
// send it). Where SSE2 exists (every x86-64) both walk 16 bytes at a time; elsewhere the per-line
// form below stays (it is also what the 16-byte loops leave to finish a view).

namespace {

// The bare LFs in [p, end), the byte before p being a CR when `cr_before`: one memchr per line,
// the whole view where SSE2 is missing, only the last 15 bytes where it is not.
std::uint64_t bare_lfs(const char *p, const char *end, bool cr_before)
{
	std::uint64_t n = 0;
	const char *const start = p;
	while (const void *found = p < end ? std::memchr(p, '\n', static_cast<std::size_t>(end - p)) : nullptr) {
		const char *nl = static_cast<const char *>(found);
		if (!(nl == start ? cr_before : nl[-1] == '\r'))
			n++;
		p = nl + 1;
	}
	return n;
}

} // namespace

std::uint64_t crlf_size(std::string_view raw)
{
	if (raw.empty())
		return 0; // an empty view may have no data pointer
	const char *p = raw.data(), *end = p + raw.size();
	std::uint64_t bare = 0;
	bool cr_before = false; // an LF first in the view is bare
#if defined(__SSE2__)
	// Per block: LF bytes whose previous byte (the one before the block for byte 0) is not a
	// CR, counted in 16 byte-wide lanes (an all-ones compare result subtracted is one added),
	// which psadbw sums into two 64-bit counters before any lane can pass 255.
	const __m128i lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
	__m128i sums = _mm_setzero_si128(), cr_last = _mm_setzero_si128();
	while (end - p >= 16) {
		std::ptrdiff_t blocks = std::min<std::ptrdiff_t>((end - p) / 16, 255);
		const char *stop = p + 16 * blocks;
		__m128i lanes = _mm_setzero_si128();
		for (; p < stop; p += 16) {
			__m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
			__m128i is_cr = _mm_cmpeq_epi8(v, cr);
			__m128i cr_prev = _mm_or_si128(_mm_slli_si128(is_cr, 1), _mm_srli_si128(cr_last, 15));
			lanes = _mm_sub_epi8(lanes, _mm_andnot_si128(cr_prev, _mm_cmpeq_epi8(v, lf)));
			cr_last = is_cr;
		}
		sums = _mm_add_epi64(sums, _mm_sad_epu8(lanes, _mm_setzero_si128()));
	}
	bare = static_cast<std::uint64_t>(_mm_cvtsi128_si64(sums)) +
	       static_cast<std::uint64_t>(_mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums)));
	cr_before = p != raw.data() && p[-1] == '\r';
#endif
	return raw.size() + bare + bare_lfs(p, end, cr_before);
}

char *copy_crlf(std::string_view raw, char *out, bool &last_was_cr)
{
	if (raw.empty())
		return out;
	const char *const begin = raw.data(), *p = begin, *end = p + raw.size();
	// Whether the byte before p is a CR: the carried state at the start, else the byte itself.
	auto cr_before = [&](const char *at) { return at == begin ? last_was_cr : at[-1] == '\r'; };
#if defined(__SSE2__)
	// Each block is stored whole, then the first LF in it (if any) is given its CR and the next
	// block starts after that LF. Room: a byte in gives at most two out and out has 2 * size, so
	// while 16 bytes remain in, out has at least 16 past what it wrote.
	const __m128i lf = _mm_set1_epi8('\n');
	while (end - p >= 16) {
		__m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
		_mm_storeu_si128(reinterpret_cast<__m128i *>(out), v);
		auto m = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, lf)));
		if (m == 0) {
			p += 16;
			out += 16;
			continue;
		}
		auto i = static_cast<unsigned>(__builtin_ctz(m));
		if (!cr_before(p + i)) {
			out[i] = '\r';
			out[i + 1] = '\n';
			out += i + 2;
		} else {
			out += i + 1;
		}
		p += i + 1;
	}
#endif
	// One memchr and one memcpy per line: libc's vectorised memchr beat a byte loop on mail text.
	while (p < end) {
		const void *found = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
		const char *nl = found != nullptr ? static_cast<const char *>(found) : end;
		auto run = static_cast<std::size_t>(nl - p);
		std::memcpy(out, p, run);
		out += run;
		if (nl == end)
			break;
		if (!cr_before(nl))
			*out++ = '\r';
		*out++ = '\n';
		p = nl + 1;
	}
	last_was_cr = raw.back() == '\r';
	return out;
}

void append_crlf(std::string_view raw, std::string &out, bool &last_was_cr)
{
	std::size_t old = out.size();
	out.resize(old + 2 * raw.size());
	char *end = copy_crlf(raw, out.data() + old, last_was_cr);
	out.resize(static_cast<std::size_t>(end - out.data()));
}

void CrlfSizeCounter::feed(std::string_view chunk)
{
	if (chunk.empty())
		return;
	// crlf_size counts an LF first in its view as bare: correct that for a CR carried over.
	size_ += crlf_size(chunk);
	if (last_was_cr_ && chunk.front() == '\n')
		size_--;
	last_was_cr_ = chunk.back() == '\r';
}

} // namespace maild
