#include "net/deflate-stream.hpp"

#define ZLIB_CONST
#include <zlib.h>

#include <climits>
#include <new>

namespace maild {

namespace {
// Raw deflate, the largest window: what RFC 4978 asks of both sides.
constexpr int window_bits = -15;
// Output room asked of the queue per deflate() call.
constexpr std::size_t deflate_step = 16 * 1024;
// zlib counts in uInt; longer inputs go in pieces.
constexpr std::size_t max_piece = 1u << 30;
} // namespace

Deflater::Deflater(int level) : zs_(std::make_unique<z_stream_s>())
{
	if (deflateInit2(zs_.get(), level, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		throw std::bad_alloc();
}

Deflater::~Deflater()
{
	deflateEnd(zs_.get());
}

void Deflater::run(int flush, OutputQueue &out)
{
	// With room left after a call, deflate() has taken all input and, for a flush, written all
	// of it; a call that filled the room may have more, so it goes on.
	for (;;) {
		char *room = out.reserve(deflate_step);
		zs_->next_out = reinterpret_cast<Bytef *>(room);
		zs_->avail_out = static_cast<uInt>(deflate_step);
		int rc = deflate(zs_.get(), flush);
		out.commit(deflate_step - zs_->avail_out);
		// Z_BUF_ERROR: nothing to do (no input, nothing pending); not an error of the stream.
		if (rc == Z_BUF_ERROR || (zs_->avail_out > 0 && zs_->avail_in == 0))
			return;
	}
}

void Deflater::write(std::string_view in, OutputQueue &out)
{
	unsynced_ += in.size();
	while (!in.empty()) {
		std::size_t n = in.size() < max_piece ? in.size() : max_piece;
		zs_->next_in = reinterpret_cast<const Bytef *>(in.data());
		zs_->avail_in = static_cast<uInt>(n);
		run(Z_NO_FLUSH, out);
		in.remove_prefix(n);
	}
	zs_->next_in = nullptr;
}

void Deflater::sync(OutputQueue &out)
{
	if (unsynced_ == 0)
		return;
	unsynced_ = 0;
	zs_->avail_in = 0;
	run(Z_SYNC_FLUSH, out);
}

Inflater::Inflater() : zs_(std::make_unique<z_stream_s>())
{
	if (inflateInit2(zs_.get(), window_bits) != Z_OK)
		throw std::bad_alloc();
}

Inflater::~Inflater()
{
	inflateEnd(zs_.get());
}

Inflater::Result Inflater::inflate(std::string_view in, std::string &out, std::size_t room)
{
	Result r;
	if (failed_ || (ended_ && !in.empty())) {
		failed_ = true;
		r.error = true;
		return r;
	}
	if (room == 0 || ended_)
		return r;
	std::size_t old = out.size();
	out.resize(old + room);
	std::size_t in_n = in.size() < max_piece ? in.size() : max_piece;
	zs_->next_in = reinterpret_cast<const Bytef *>(in.data());
	zs_->avail_in = static_cast<uInt>(in_n);
	zs_->next_out = reinterpret_cast<Bytef *>(out.data() + old);
	zs_->avail_out = static_cast<uInt>(room < max_piece ? room : max_piece);
	uInt avail_out_before = zs_->avail_out;
	int rc = ::inflate(zs_.get(), Z_SYNC_FLUSH);
	r.consumed = in_n - zs_->avail_in;
	r.produced = avail_out_before - zs_->avail_out;
	out.resize(old + r.produced);
	zs_->next_in = nullptr;
	zs_->next_out = nullptr;
	if (rc == Z_STREAM_END) {
		ended_ = true;
		if (r.consumed < in.size()) {
			failed_ = true;
			r.error = true;
		}
	} else if (rc != Z_OK && rc != Z_BUF_ERROR) {
		// Z_DATA_ERROR (not deflate), Z_NEED_DICT (impossible for raw deflate), Z_MEM_ERROR.
		failed_ = true;
		r.error = true;
	} else {
		r.full = zs_->avail_out == 0;
	}
	return r;
}

} // namespace maild
