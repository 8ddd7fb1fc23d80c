#include "net/connection.hpp"

#include "base/log.hpp"
#include "base/posix.hpp"

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
} // namespace

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
	out_.append(data);
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
	} else {
		// Bytes alone are no progress: the idle timer restarts only when they complete a line
		// or a literal step (handle_lines), so a trickle that never does is timed out.
		in_.append(buf, static_cast<std::size_t>(n));
	}
	pump();
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
	bool ok = true;
	for (;;) {
		ok = flush(write_budget);
		if (!ok)
			break;
		if (!handle_lines() || closed())
			break;
	}
	in_pump_ = false;
	if (!ok || closed())
		return;

	bool idle_handler = !handler_ || (!handler_->busy() && !handler_->streaming());
	bool lines_pending = (raw_left_ > 0 && in_pos_ < in_.size()) ||
			     (!skipping_ && in_.find('\n', in_pos_) != std::string::npos);
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
	bool want_read = !closing_ && !eof_ && handler_ && !handler_->busy() && !output_full();
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
