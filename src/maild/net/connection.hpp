// One client connection: a non-blocking socket, a bounded input buffer split into lines, an
// output queue with backpressure and an idle timeout. The protocol lives in a ConnectionHandler.
//
// Backpressure: while unsent output is at or over `output_bound`, no further line is handed to
// the handler and the socket's read io is removed, so a client that sends but never reads holds
// at most the bound plus one line. A handler that streams (RETR) is asked for more output only
// while the queue is below the bound, i.e. as fast as the socket drains.
//
// Idle timeout: it counts time without progress, not time without bytes. Progress is a line
// handed to the handler (an over-long one too), a literal completed or each 64 KiB of it, or
// output written to the socket. Bytes that never complete a line do not count, so a client
// that trickles a byte at a time is closed like a silent one.
//
// Compression (start_compression(), IMAP COMPRESS=DEFLATE): output is deflated as it is queued
// and synced (Z_SYNC_FLUSH) before every write to the socket; what deflate holds back counts
// toward the output bound. Input is inflated only into the room the input buffer has (a line's
// limit plus a step), so a small compressed input that inflates to gigabytes waits in zlib and
// in the socket: nothing more is read while it does. One pump inflates a bounded amount and
// leaves the rest to the loop's next iteration. An over-long line ends the connection (skipping
// it, as without compression, would have the server inflate whatever the client chose at a
// thousand times its size), as does input that is not deflate: the handler says why
// (on_input_error) and the connection closes once that is sent.
#pragma once

#include "base/fd.hpp"
#include "net/output-queue.hpp"

#include <ioloop/ioloop.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace maild {

class ConnectionHandler {
public:
	virtual ~ConnectionHandler() = default;
	// One line without its CRLF (or bare LF). The view is valid only during the call.
	virtual void on_line(std::string_view line) = 0;
	// A line went over the limit; its rest, up to the next LF, is skipped.
	virtual void on_line_too_long() = 0;
	// While busy (e.g. a delayed login reply, a message being streamed) no line is handed over.
	virtual bool busy() const = 0;
	// While streaming, produce() is called whenever the output queue has room.
	virtual bool streaming() const = 0;
	virtual void produce() = 0;
	virtual void on_idle_timeout() = 0;
	// The connection has just closed (the handler itself is destroyed later, outside the
	// callbacks): what another session may be waiting for, such as a user's lock, is released
	// here, before the loop serves anything else.
	virtual void on_closed() {}
	// After Connection::read_raw(n): the next n bytes arrive here, in order, in chunks, instead
	// of as lines; `last` marks the chunk that completes them. Lines resume after it.
	virtual void on_raw(std::string_view chunk, bool last)
	{
		(void)chunk;
		(void)last;
	}
	// The input cannot go on (corrupt compressed data, an over-long compressed line): the last
	// words to the client, if any; the connection closes once its output is sent.
	virtual void on_input_error(std::string_view why) { (void)why; }
};

struct ConnectionLimits {
	std::size_t max_line = 8192;
	std::size_t output_bound = 64 * 1024;
	std::chrono::seconds idle_timeout{600};
};

class Connection {
public:
	// Takes ownership of fd. on_closed runs once, when the connection closes; the owner must
	// not destroy the Connection inside that call (defer it: the call may come from deep inside
	// one of the connection's own callbacks).
	Connection(iol::IoLoop &loop, int fd, std::string peer, const ConnectionLimits &limits,
		   std::function<void(Connection &)> on_closed);
	~Connection();
	Connection(const Connection &) = delete;
	Connection &operator=(const Connection &) = delete;

	void set_handler(std::unique_ptr<ConnectionHandler> handler);
	ConnectionHandler *handler() const { return handler_.get(); }

	void send(std::string_view data);
	// Room for up to n bytes of output, to be filled in place and then queued with
	// send_commit(m), m <= n; nothing else may be sent in between. Saves a copy for output that
	// is produced by converting something (FETCH, RETR).
	char *send_reserve(std::size_t n);
	void send_commit(std::size_t n);
	// Queued bytes, and with compression the bytes deflate has not yet written out.
	std::size_t unsent() const { return out_.size() + unsynced_; }
	bool output_full() const { return unsent() >= limits_.output_bound; }
	const ConnectionLimits &limits() const { return limits_; }

	// Processes what can be processed and writes what can be written. Handlers call it after
	// they stop being busy outside a connection callback (a timer ran out).
	void pump();
	// Only writes what is queued, as far as the socket takes it now: for a handler that has news
	// to send before slow work of its own, outside a connection callback. No input is handled
	// and nothing is asked of the handler; pump() afterwards sees to the rest.
	void write_queued();
	// The next n input bytes go to the handler's on_raw() instead of being split into lines
	// (IMAP literals). Call it from on_line(); busy() and the output bound still apply.
	void read_raw(std::uint64_t n) { raw_left_ = n; }
	bool reading_raw() const { return raw_left_ > 0; }
	// Reads nothing more; closes once the output is sent.
	void close_after_output();
	// Closes now; unsent output is dropped. `reason` goes to the debug log.
	void close(std::string_view reason);
	bool closed() const { return !fd_; }

	// Whether this build has compression (zlib).
	static bool compression_available();
	// From now on output is deflated and input inflated (raw deflate, RFC 4978); what is queued
	// already goes out as it is, and input received after the current line is taken as
	// compressed. False when the build has no zlib or compression is already on.
	bool start_compression();
	bool compressed() const { return z_ != nullptr; }

	const std::string &peer() const { return peer_; }
	iol::IoLoop &loop() const { return loop_; }

private:
	void on_readable();
	void on_writable();
	void on_idle();
	bool flush(std::size_t budget);
	bool handle_lines();
	void update_ios();
	// Restarts the idle timer: a line or a step of a literal reached the handler, or output
	// reached the socket.
	void progress();
	// Compression: deflates what is pending so the socket gets all of it; inflates what fits
	// into the input buffer (true when it added bytes); the input waiting in zlib or unread.
	void sync_output();
	bool inflate_input();
	bool input_backlog() const;
	bool input_stopped() const;
	bool input_error_due() const;
	void input_failed(std::string_view why);

	iol::IoLoop &loop_;
	Fd fd_;
	std::string peer_;
	ConnectionLimits limits_;
	std::function<void(Connection &)> on_closed_;
	std::unique_ptr<ConnectionHandler> handler_;

	std::string in_;
	std::size_t in_pos_ = 0;
	bool skipping_ = false; // inside an over-long line, dropping up to its LF
	std::uint64_t raw_left_ = 0;
	std::uint64_t raw_since_progress_ = 0;
	bool eof_ = false;
	bool closing_ = false;
	bool in_pump_ = false;

	OutputQueue out_;
	struct Compression; // defined where zlib is
	std::unique_ptr<Compression> z_;
	std::size_t unsynced_ = 0;
	std::size_t inflated_in_pump_ = 0;
	iol::Timeout resume_; // goes on inflating in the loop's next iteration

	iol::Io read_io_;
	iol::Io write_io_;
	iol::Timeout idle_;
};

} // namespace maild
