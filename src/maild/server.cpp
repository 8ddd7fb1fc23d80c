#include "server.hpp"

#include "log.hpp"
#include "pop3-session.hpp"

#include <cstdio>
#include <sys/socket.h>
#include <unistd.h>

namespace maild {

Server::Server(iol::IoLoop &loop, const Options &options, PasswdFile passwd)
	: loop_(loop), options_(options), passwd_(std::move(passwd))
{
}

Server::~Server()
{
	// Sessions and connections go before the listeners and the loop they use.
	reaper_.remove();
	live_.clear();
	dead_.clear();
	listeners_.clear();
}

bool Server::listen(std::string &error)
{
	for (const auto &address : options_.pop3) {
		ListenAddress bound;
		int fd = Listener::open_socket(address, bound, error);
		if (fd < 0)
			return false;
		listeners_.push_back(std::make_unique<Listener>(
			loop_, fd, "pop3", bound, [this](int cfd, std::string peer) { accept_pop3(cfd, std::move(peer)); }));
	}
	for (const auto &l : listeners_) {
		std::printf("maild: listening %s %s\n", l->protocol().c_str(), l->address().text().c_str());
		log_line(LogLevel::info, {}, "listening " + l->protocol() + " " + l->address().text());
	}
	std::fflush(stdout);
	return true;
}

std::vector<ListenAddress> Server::addresses() const
{
	std::vector<ListenAddress> out;
	for (const auto &l : listeners_)
		out.push_back(l->address());
	return out;
}

void Server::accept_pop3(int fd, std::string peer)
{
	if (live_.size() >= options_.max_connections) {
		static const char refusal[] = "-ERR [SYS/TEMP] too many connections, try later\r\n";
		ssize_t ignored = ::send(fd, refusal, sizeof refusal - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
		(void)ignored;
		::close(fd);
		log_line(LogLevel::warn, peer, "refused: too many connections (" + std::to_string(live_.size()) + ")");
		return;
	}
	log_line(LogLevel::debug, peer, "connected (pop3)");
	ConnectionLimits limits;
	limits.idle_timeout = options_.idle_timeout;
	auto conn = std::make_unique<Connection>(loop_, fd, std::move(peer), limits,
						 [this](Connection &c) { connection_closed(c); });
	Connection &c = *conn;
	live_.emplace(&c, std::move(conn));
	auto session = std::make_unique<Pop3Session>(c, *this);
	session->start();
	c.set_handler(std::move(session));
}

void Server::connection_closed(Connection &conn)
{
	auto it = live_.find(&conn);
	if (it == live_.end())
		return;
	// Destroyed later: this call may come from inside one of the connection's callbacks.
	dead_.push_back(std::move(it->second));
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
		live_.begin()->second->close("server shutdown");
}

} // namespace maild
