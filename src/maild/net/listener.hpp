// A listening TCP socket on the loop. Accepts until EAGAIN; when the process runs out of file
// descriptors (EMFILE, ENFILE) it stops watching the socket and retries after a short delay or
// as soon as the owner calls resume() (a connection closed), instead of spinning on it.
#pragma once

#include "base/fd.hpp"

#include <ioloop/ioloop.hpp>

#include <functional>
#include <sys/socket.h>
#include <string>

namespace maild {

struct ListenAddress {
	std::string host; // numeric IPv4 or IPv6, without brackets
	unsigned port = 0;
	std::string text() const; // "127.0.0.1:110", "[::1]:110"
};

class Listener {
public:
	// peer: "ADDR:PORT" for logs; address: the client's IP alone (see peer_address).
	using AcceptFn = std::function<void(int fd, std::string peer, std::string address)>;

	// Binds and listens; -1 with `error` set. `bound` gets the real address (port 0 resolved).
	// reuse_port: SO_REUSEPORT, so each --workers loop has its own socket on the same port.
	static int open_socket(const ListenAddress &address, ListenAddress &bound, std::string &error,
			       bool reuse_port = false);

	Listener(iol::IoLoop &loop, int fd, std::string protocol, ListenAddress bound, AcceptFn on_accept);
	~Listener();
	Listener(const Listener &) = delete;
	Listener &operator=(const Listener &) = delete;

	// Watches the socket again if accepting was paused for lack of descriptors.
	void resume();
	const ListenAddress &address() const { return bound_; }
	const std::string &protocol() const { return protocol_; }

private:
	void on_readable();

	iol::IoLoop &loop_;
	Fd fd_;
	std::string protocol_;
	ListenAddress bound_;
	AcceptFn on_accept_;
	iol::Io io_;
	iol::Timeout retry_;
	bool paused_logged_ = false; // one log line per EMFILE episode, not one per retry
};

std::string peer_name(const sockaddr_storage &ss);
// The IP address without the port ("127.0.0.1", "::1"): what connections are counted by.
std::string peer_address(const sockaddr_storage &ss);

} // namespace maild
