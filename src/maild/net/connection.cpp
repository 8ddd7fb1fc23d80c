#include "net/connection.hpp"

#include "base/log.hpp"
#include "base/posix.hpp"
#if MAILD_HAVE_ZLIB
#include "net/deflate-stream.hpp"
#endif

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <unistd.h>

namespace maild {

namespace {
constexpr std::size_t read_chunk = 4096;
// Bytes one pump may write before it yields to other connections.
constexpr std::size_t write_budget = 256 * 1024;
// Raw (literal) input counts as progress for the idle timeout only in steps this large, so a
// client cannot keep a connection by trickling a huge literal a byte at a time.
constexpr std::uint64_t raw_progress_step = 64 * 1024;
#if MAILD_HAVE_ZLIB
// With compression: the input buffer holds at most a line's limit and this much more, so an
// over-long line is seen as such; one pump inflates at most inflate_budget bytes, a few reads'
// worth, so a compressed flood of small commands holds the loop for a bounded time per
// iteration, as a plain client's reads do.
constexpr std::size_t inflate_step = 16 * 1024;
constexpr std::size_t inflate_budget = 64 * 1024;
#endif
} // namespace

#if MAILD_HAVE_ZLIB
struct Connection::Compression {
	Deflater out;
	Inflater in;
	OutputQueue plain;  // send_reserve()'s room, deflated at send_commit()
	std::string zin;    // received, not yet inflated
	std::size_t zin_pos = 0;
	bool full = false;  // the last inflate filled its room: zlib may hold more
	bool failed = false;
};
#else
struct Connection::Compression {};
#endif

Connection::Connection(iol::IoLoop &loop, int fd, std::string peer, const ConnectionLimits &limits,
		       std::function<void(Connection &)> on_closed)
	: loop_(loop), fd_(fd), peer_(std::move(peer)), limits_(limits), on_closed_(std::move(on_closed))
{
	idle_ = loop_.add_oneshot(limits_.idle_timeout, [this] { on_idle(); });
}

Connection::~Connection()
{
	read_io_.remove();
	write_io_.remove();
	resume_.remove();
}

void Connection::set_handler(std::unique_ptr<ConnectionHandler> handler)
{
	handler_ = std::move(handler);
	pump();
}

void Connection::send(std::string_view data)
{
	if (closed())
		return;
#if MAILD_HAVE_ZLIB
	if (z_) {
		z_->out.write(data, out_);
		unsynced_ = z_->out.unsynced();
		return;
	}
#endif
	out_.append(data);
}

char *Connection::send_reserve(std::size_t n)
{
#if MAILD_HAVE_ZLIB
	if (z_) {
		z_->plain.clear();
		return z_->plain.reserve(n);
	}
#endif
	return out_.reserve(n);
}

void Connection::send_commit(std::size_t n)
{
	if (closed())
		return;
#if MAILD_HAVE_ZLIB
	if (z_) {
		z_->plain.commit(n);
		send(z_->plain.front());
		z_->plain.clear();
		return;
	}
#endif
	out_.commit(n);
}

bool Connection::compression_available()
{
#if MAILD_HAVE_ZLIB
	return true;
#else
	return false;
#endif
}

bool Connection::start_compression()
{
#if MAILD_HAVE_ZLIB
	if (z_ || closed())
		return false;
	try {
		z_ = std::make_unique<Compression>();
	} catch (const std::bad_alloc &) {
		return false;
	}
	// RFC 4978: the client compresses from the end of its COMPRESS command on, so whatever it
	// sent after that line is deflate already.
	z_->zin.assign(in_, in_pos_, std::string::npos);
	in_.clear();
	in_pos_ = 0;
	return true;
#else
	return false;
#endif
}

void Connection::sync_output()
{
#if MAILD_HAVE_ZLIB
	if (z_ && unsynced_ > 0) {
		z_->out.sync(out_);
		unsynced_ = 0;
	}
#endif
}

bool Connection::input_backlog() const
{
#if MAILD_HAVE_ZLIB
	return z_ && !z_->failed && (z_->zin_pos < z_->zin.size() || z_->full);
#else
	return false;
#endif
}

bool Connection::inflate_input()
{
	bool added = false;
#if MAILD_HAVE_ZLIB
	while (!closed() && !closing_ && input_backlog()) {
		if (inflated_in_pump_ >= inflate_budget) {
			if (!resume_) {
				resume_ = loop_.add_oneshot(std::chrono::microseconds(0), [this] {
					resume_.remove();
					pump();
				});
			}
			break;
		}
		if (in_pos_ > 0) {
			in_.erase(0, in_pos_);
			in_pos_ = 0;
		}
		std::size_t cap = limits_.max_line + inflate_step;
		if (in_.size() >= cap)
			break;
		std::size_t room = cap - in_.size();
		if (room > inflate_budget - inflated_in_pump_)
			room = inflate_budget - inflated_in_pump_;
		std::string_view zin(z_->zin);
		auto r = z_->in.inflate(zin.substr(z_->zin_pos), in_, room);
		z_->zin_pos += r.consumed;
		if (z_->zin_pos == z_->zin.size()) {
			z_->zin.clear();
			z_->zin_pos = 0;
		}
		z_->full = r.full;
		inflated_in_pump_ += r.produced;
		added = added || r.produced > 0;
		if (r.error) {
			// Reported once the lines inflated before it have been handled (pump).
			z_->failed = true;
			z_->zin.clear();
			z_->zin_pos = 0;
			z_->full = false;
			break;
		}
		if (r.produced == 0 && r.consumed == 0)
			break;
	}
#endif
	return added;
}

void Connection::input_failed(std::string_view why)
{
	log_line(LogLevel::debug, peer_, "input stopped: " + std::string(why));
#if MAILD_HAVE_ZLIB
	if (z_) {
		z_->failed = true;
		z_->zin.clear();
		z_->zin_pos = 0;
		z_->full = false;
	}
#endif
	if (handler_)
		handler_->on_input_error(why);
	close_after_output();
}

void Connection::close(std::string_view reason)
{
	if (closed())
		return;
	log_line(LogLevel::debug, peer_, "closed: " + std::string(reason));
	read_io_.remove();
	write_io_.remove();
	idle_.remove();
	fd_.reset();
	out_.clear();
	unsynced_ = 0;
	resume_.remove();
	if (handler_)
		handler_->on_closed();
	if (on_closed_)
		on_closed_(*this);
}

void Connection::close_after_output()
{
	closing_ = true;
	if (!in_pump_)
		pump();
}

void Connection::on_idle()
{
	if (handler_)
		handler_->on_idle_timeout();
	if (closed())
		return;
	flush(write_budget); // one try: an idle client may not read at all
	close("idle timeout");
}

void Connection::progress()
{
	raw_since_progress_ = 0;
	idle_.reset();
}

void Connection::on_readable()
{
	if (in_pos_ > 0) {
		in_.erase(0, in_pos_);
		in_pos_ = 0;
	}
	char buf[read_chunk];
	ssize_t n = recv(fd_.get(), buf, sizeof buf, 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		close(std::string("read error: ") + std::strerror(errno));
		return;
	}
	if (n == 0) {
		eof_ = true; // lines already received still run (a half-closed client's QUIT counts)
#if MAILD_HAVE_ZLIB
	} else if (z_) {
		z_->zin.append(buf, static_cast<std::size_t>(n)); // inflated in pump(), as room allows
#endif
	} else {
		// Bytes alone are no progress: the idle timer restarts only when they complete a line
		// or a literal step (handle_lines), so a trickle that never does is timed out.
		in_.append(buf, static_cast<std::size_t>(n));
	}
	pump();
}

bool Connection::input_stopped() const
{
#if MAILD_HAVE_ZLIB
	return z_ && z_->failed;
#else
	return false;
#endif
}

bool Connection::input_error_due() const
{
	// Corrupt input is reported once what was inflated before it has been handled, and while
	// nothing else is being sent, so the last words do not land inside another reply.
	return input_stopped() && !closing_ && handler_ && !handler_->busy() && !handler_->streaming() &&
	       !output_full();
}

void Connection::on_writable()
{
	pump();
}

bool Connection::flush(std::size_t budget)
{
	for (;;) {
		if (handler_ && handler_->streaming() && !output_full()) {
			handler_->produce();
			if (closed())
				return false;
		}
		sync_output();
		if (unsent() == 0 || budget == 0)
			return true;
		std::size_t len = unsent() < budget ? unsent() : budget;
		ssize_t n = ::send(fd_.get(), out_.front().data(), len, send_flags);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return true;
			close(std::string("write error: ") + std::strerror(errno));
			return false;
		}
		out_.consume(static_cast<std::size_t>(n));
		budget -= static_cast<std::size_t>(n);
		if (n > 0)
			progress();
	}
}

void Connection::write_queued()
{
	if (!closed() && !in_pump_)
		sync_output();
	while (!closed() && !in_pump_ && unsent() > 0) {
		ssize_t n = ::send(fd_.get(), out_.front().data(), unsent(), send_flags);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				close(std::string("write error: ") + std::strerror(errno));
			return;
		}
		out_.consume(static_cast<std::size_t>(n));
		if (n > 0)
			progress();
	}
}

bool Connection::handle_lines()
{
	bool handled = false;
	while (!closed() && !closing_ && handler_ && !handler_->busy() && !output_full()) {
		std::string_view pending(in_.data() + in_pos_, in_.size() - in_pos_);
		if (raw_left_ > 0) {
			if (pending.empty())
				break;
			std::size_t n = pending.size() < raw_left_ ? pending.size() : static_cast<std::size_t>(raw_left_);
			in_pos_ += n;
			raw_left_ -= n;
			raw_since_progress_ += n;
			if (raw_left_ == 0 || raw_since_progress_ >= raw_progress_step)
				progress();
			handled = true;
			handler_->on_raw(pending.substr(0, n), raw_left_ == 0);
			continue;
		}
		auto nl = pending.find('\n');
		if (skipping_) {
			if (nl == std::string_view::npos) {
				in_.clear();
				in_pos_ = 0;
				break;
			}
			in_pos_ += nl + 1;
			skipping_ = false;
			continue;
		}
		if (nl == std::string_view::npos) {
			if (pending.size() <= limits_.max_line)
				break;
			if (compressed()) {
				handled = true;
				input_failed("Line too long");
				continue;
			}
			in_.clear();
			in_pos_ = 0;
			skipping_ = true;
			handled = true;
			progress();
			handler_->on_line_too_long();
			continue;
		}
		in_pos_ += nl + 1;
		handled = true;
		progress();
		if (nl > limits_.max_line) {
			if (compressed()) {
				input_failed("Line too long");
				continue;
			}
			handler_->on_line_too_long();
			continue;
		}
		std::string_view line = pending.substr(0, nl);
		if (!line.empty() && line.back() == '\r')
			line.remove_suffix(1);
		handler_->on_line(line);
	}
	return handled;
}

void Connection::pump()
{
	if (closed() || in_pump_)
		return;
	in_pump_ = true;
	inflated_in_pump_ = 0;
	bool ok = true;
	for (;;) {
		ok = flush(write_budget);
		if (!ok)
			break;
		bool fed = inflate_input();
		bool handled = handle_lines();
		if (closed())
			break;
		if (input_error_due()) {
			input_failed("Corrupt compressed input");
			handled = true; // once more round: the last words go out now
		}
		if (!handled && !fed)
			break;
	}
	in_pump_ = false;
	if (!ok || closed())
		return;

	bool idle_handler = !handler_ || (!handler_->busy() && !handler_->streaming());
	bool lines_pending = (raw_left_ > 0 && in_pos_ < in_.size()) ||
			     (!skipping_ && in_.find('\n', in_pos_) != std::string::npos) || input_backlog();
	if (eof_ && idle_handler && !lines_pending && !closing_) {
		// Everything the client sent before its EOF has been handled; a half-closed client
		// still gets the replies.
		log_line(LogLevel::debug, peer_, "client closed its side");
		closing_ = true;
	}
	if (closing_ && unsent() == 0 && idle_handler) {
		close(eof_ ? "client closed the connection" : "done");
		return;
	}
	update_ios();
}

void Connection::update_ios()
{
	// With compression, nothing is read while zlib or the unread input still hold more than the
	// input buffer took: that is what bounds a decompression bomb.
	bool want_read = !closing_ && !eof_ && handler_ && !handler_->busy() && !output_full() &&
			 !input_backlog() && !input_stopped();
	bool want_write = unsent() > 0 || (handler_ && handler_->streaming());
	if (want_read && !read_io_)
		read_io_ = loop_.add_io(fd_.get(), iol::Cond::read, [this] { on_readable(); });
	else if (!want_read && read_io_)
		read_io_.remove();
	if (want_write && !write_io_)
		write_io_ = loop_.add_io(fd_.get(), iol::Cond::write, [this] { on_writable(); });
	else if (!want_write && write_io_)
		write_io_.remove();
}

} // namespace maild
