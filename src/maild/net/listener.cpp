#include "net/listener.hpp"

#include "base/log.hpp"
#include "base/posix.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace maild {

std::string ListenAddress::text() const
{
	if (host.find(':') != std::string::npos)
		return "[" + host + "]:" + std::to_string(port);
	return host + ":" + std::to_string(port);
}


namespace {
constexpr int accepts_per_wakeup = 64;
constexpr std::chrono::milliseconds emfile_retry{100};
// Thousands of clients may connect at once; the kernel caps this at net.core.somaxconn.
constexpr int listen_backlog = 4096;
} // namespace

std::string peer_name(const sockaddr_storage &ss)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (ss.ss_family == AF_INET) {
		const auto &a = reinterpret_cast<const sockaddr_in &>(ss);
		inet_ntop(AF_INET, &a.sin_addr, host, sizeof host);
		port = ntohs(a.sin_port);
		return std::string(host) + ":" + std::to_string(port);
	}
	if (ss.ss_family == AF_INET6) {
		const auto &a = reinterpret_cast<const sockaddr_in6 &>(ss);
		inet_ntop(AF_INET6, &a.sin6_addr, host, sizeof host);
		port = ntohs(a.sin6_port);
	}
	return "[" + std::string(host) + "]:" + std::to_string(port);
}

std::string peer_address(const sockaddr_storage &ss)
{
	char host[INET6_ADDRSTRLEN] = "?";
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in &>(ss).sin_addr, host, sizeof host);
	else if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6 &>(ss).sin6_addr, host, sizeof host);
	return host;
}

int Listener::open_socket(const ListenAddress &address, ListenAddress &bound, std::string &error, bool reuse_port)
{
	sockaddr_storage ss{};
	socklen_t len = 0;
	bool v6 = address.host.find(':') != std::string::npos;
	if (v6) {
		auto &a = reinterpret_cast<sockaddr_in6 &>(ss);
		a.sin6_family = AF_INET6;
		a.sin6_port = htons(static_cast<std::uint16_t>(address.port));
		inet_pton(AF_INET6, address.host.c_str(), &a.sin6_addr);
		len = sizeof a;
	} else {
		auto &a = reinterpret_cast<sockaddr_in &>(ss);
		a.sin_family = AF_INET;
		a.sin_port = htons(static_cast<std::uint16_t>(address.port));
		inet_pton(AF_INET, address.host.c_str(), &a.sin_addr);
		len = sizeof a;
	}
	Fd sock(socket_nonblocking(ss.ss_family, SOCK_STREAM, 0));
	int fd = sock.get();
	if (!sock) {
		error = std::string("socket: ") + std::strerror(errno);
		return -1;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	// Only with --workers: otherwise a second maild on the same port must fail, not share it.
	if (reuse_port)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
	if (v6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, reinterpret_cast<sockaddr *>(&ss), len) < 0 || listen(fd, listen_backlog) < 0) {
		error = "cannot listen on " + address.text() + ": " + std::strerror(errno);
		return -1;
	}
	sockaddr_storage actual{};
	socklen_t alen = sizeof actual;
	getsockname(fd, reinterpret_cast<sockaddr *>(&actual), &alen);
	bound = address;
	bound.port = actual.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6 &>(actual).sin6_port)
						  : ntohs(reinterpret_cast<sockaddr_in &>(actual).sin_port);
	return sock.release();
}

Listener::Listener(iol::IoLoop &loop, int fd, std::string protocol, ListenAddress bound, AcceptFn on_accept)
	: loop_(loop), fd_(fd), protocol_(std::move(protocol)), bound_(std::move(bound)),
	  on_accept_(std::move(on_accept))
{
	io_ = loop_.add_io(fd_.get(), iol::Cond::read, [this] { on_readable(); });
}

Listener::~Listener()
{
	io_.remove();
	retry_.remove();
}

void Listener::resume()
{
	if (io_)
		return;
	retry_.remove();
	io_ = loop_.add_io(fd_.get(), iol::Cond::read, [this] { on_readable(); });
}

void Listener::on_readable()
{
	for (int i = 0; i < accepts_per_wakeup; i++) {
		sockaddr_storage ss{};
		socklen_t len = sizeof ss;
		int fd = accept_nonblocking(fd_.get(), reinterpret_cast<sockaddr *>(&ss), &len);
		if (fd < 0) {
			int e = errno;
			if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR || e == ECONNABORTED || e == EPROTO)
				return;
			if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
				// The pending connection stays in the backlog; watching the socket would spin.
				if (!paused_logged_)
					log_line(LogLevel::warn, {},
						 "accept on " + bound_.text() + ": " + std::strerror(e) + "; pausing accepts");
				paused_logged_ = true;
				io_.remove();
				retry_ = loop_.add_oneshot(emfile_retry, [this] { resume(); });
				return;
			}
			log_line(LogLevel::error, {}, "accept on " + bound_.text() + ": " + std::strerror(e));
			return;
		}
		paused_logged_ = false;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		on_accept_(fd, peer_name(ss), peer_address(ss));
		if (!io_)
			return; // the owner paused or is shutting down
	}
}

} // namespace maild
