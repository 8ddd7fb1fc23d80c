#include "server.hpp"

#include "base/log.hpp"
#include "base/posix.hpp"
#include "imap/imap-session.hpp"
#include "imap/mailbox-watch.hpp"
#include "pop3/pop3-session.hpp"

#include <cstdio>
#include <cstring>
#include <system_error>
#include <sys/socket.h>
#include <unistd.h>

namespace maild {

Server::Server(iol::IoLoop &loop, const Options &options, PasswdFile passwd, ServerShared &shared)
	: loop_(loop), options_(options), passwd_(std::move(passwd)), shared_(shared)
{
}

Server::~Server()
{
	// Sessions and connections go before the listeners and the loop they use.
	reaper_.remove();
	for (const auto &entry : live_)
		release_slot(entry.second.address);
	live_.clear();
	dead_.clear();
	listeners_.clear();
}

bool Server::listen(std::string &error, bool reuse_port, bool announce)
{
	auto open_all = [&](const std::vector<ListenAddress> &addresses, Protocol protocol, const char *name) {
		for (const auto &address : addresses) {
			ListenAddress bound;
			int fd = Listener::open_socket(address, bound, error, reuse_port);
			if (fd < 0)
				return false;
			listeners_.push_back(std::make_unique<Listener>(
				loop_, fd, name, bound,
				[this, protocol](int cfd, std::string peer, std::string address) {
					accept(protocol, cfd, std::move(peer), std::move(address));
				}));
		}
		return true;
	};
	if (!open_all(options_.pop3, Protocol::pop3, "pop3") || !open_all(options_.imap, Protocol::imap, "imap"))
		return false;
	for (const auto &l : listeners_) {
		if (!announce)
			break;
		std::printf("maild: listening %s %s\n", l->protocol().c_str(), l->address().text().c_str());
		log_line(LogLevel::info, {}, "listening " + l->protocol() + " " + l->address().text());
	}
	std::fflush(stdout);
	if (announce && !options_.imap.empty())
		log_line(LogLevel::info, {}, "mailbox changes: " + MailboxWatch::describe(loop_, options_.mail_root));
	return true;
}

std::vector<ListenAddress> Server::bound(const std::string &protocol) const
{
	std::vector<ListenAddress> out;
	for (const auto &l : listeners_) {
		if (l->protocol() == protocol)
			out.push_back(l->address());
	}
	return out;
}

std::string Server::address_of(const std::string &protocol) const
{
	for (const auto &l : listeners_) {
		if (l->protocol() == protocol)
			return l->address().text();
	}
	return {};
}

Server::Slot Server::take_slot(const std::string &address, unsigned &count)
{
	std::lock_guard<std::mutex> hold(shared_.slots_mutex);
	if (shared_.connections >= options_.max_connections) {
		count = shared_.connections;
		return Slot::server_full;
	}
	auto it = shared_.per_address.find(address);
	unsigned from_address = it == shared_.per_address.end() ? 0 : it->second;
	unsigned limit = options_.max_connections_per_address;
	if (limit > 0 && from_address >= limit) {
		count = from_address;
		return Slot::address_full;
	}
	shared_.connections++;
	if (it == shared_.per_address.end())
		shared_.per_address.emplace(address, 1);
	else
		it->second++;
	return Slot::taken;
}

void Server::release_slot(const std::string &address)
{
	std::lock_guard<std::mutex> hold(shared_.slots_mutex);
	shared_.connections--;
	auto it = shared_.per_address.find(address);
	if (it != shared_.per_address.end() && --it->second == 0)
		shared_.per_address.erase(it);
}

void Server::accept(Protocol protocol, int fd, std::string peer, std::string address)
{
	bool imap = protocol == Protocol::imap;
	unsigned count = 0;
	Slot slot = take_slot(address, count);
	if (slot != Slot::taken) {
		bool whole = slot == Slot::server_full;
		const char *refusal =
			imap ? (whole ? "* BYE [UNAVAILABLE] Too many connections, try later\r\n"
				      : "* BYE [UNAVAILABLE] Too many connections from your address, try later\r\n")
			     : (whole ? "-ERR [SYS/TEMP] too many connections, try later\r\n"
				      : "-ERR [SYS/TEMP] too many connections from your address, try later\r\n");
		ssize_t ignored = ::send(fd, refusal, std::strlen(refusal), send_flags);
		(void)ignored;
		::close(fd);
		log_line(LogLevel::warn, peer,
			 whole ? "refused: too many connections (" + std::to_string(count) + ")"
			       : "refused: too many connections from " + address + " (" + std::to_string(count) + ")");
		return;
	}
	log_line(LogLevel::debug, peer, imap ? "connected (imap)" : "connected (pop3)");
	ConnectionLimits limits;
	limits.idle_timeout = imap ? options_.imap_idle_timeout : options_.idle_timeout;
	if (imap)
		limits.max_line = 64 * 1024; // long UID sets from synchronising clients
	auto conn = std::make_unique<Connection>(loop_, fd, std::move(peer), limits,
						 [this](Connection &c) { connection_closed(c); });
	Connection &c = *conn;
	live_.emplace(&c, Live{std::move(conn), std::move(address)});
	try {
		if (imap) {
			ImapLimits il;
			il.append_limit = options_.append_limit;
			auto session = std::make_unique<ImapSession>(c, *this, il);
			session->start();
			c.set_handler(std::move(session));
		} else {
			auto session = std::make_unique<Pop3Session>(c, *this);
			session->start();
			c.set_handler(std::move(session));
		}
	} catch (const std::system_error &e) {
		// The loop cannot watch this descriptor (select: fd >= FD_SETSIZE). Only a connection's
		// first io_add can fail so; the daemon goes on with the others.
		log_line(LogLevel::warn, c.peer(), std::string("refused: ") + e.what());
		c.close("cannot watch the socket");
	}
}

void Server::connection_closed(Connection &conn)
{
	auto it = live_.find(&conn);
	if (it == live_.end())
		return;
	// Destroyed later: this call may come from inside one of the connection's callbacks.
	dead_.push_back(std::move(it->second.conn));
	release_slot(it->second.address);
	live_.erase(it);
	if (!reaper_)
		reaper_ = loop_.add_oneshot(std::chrono::milliseconds(0), [this] { reap(); });
	for (auto &l : listeners_)
		l->resume();
}

void Server::reap()
{
	dead_.clear();
	reaper_.remove();
}

void Server::reload_passwd()
{
	PasswdFile fresh;
	std::vector<std::string> warnings;
	std::string error;
	if (!PasswdFile::load(options_.passwd_file, fresh, warnings, error)) {
		log_line(LogLevel::error, {}, "SIGHUP: " + error + "; keeping the old accounts");
		return;
	}
	for (const auto &w : warnings)
		log_line(LogLevel::warn, {}, options_.passwd_file + ": " + w);
	passwd_ = std::move(fresh);
	log_line(LogLevel::info, {}, "SIGHUP: reloaded " + options_.passwd_file + " (" +
				     std::to_string(passwd_.size()) + " users)");
}

void Server::shutdown()
{
	log_line(LogLevel::info, {}, "shutting down: " + std::to_string(live_.size()) + " sessions end without UPDATE");
	listeners_.clear();
	while (!live_.empty())
		live_.begin()->second.conn->close("server shutdown");
}

} // namespace maild
