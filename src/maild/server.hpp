// The daemon around the loop: listeners, live connections, the passwd file, per-user locks.
#pragma once

#include "connection.hpp"
#include "listener.hpp"
#include "options.hpp"
#include "passwd-file.hpp"
#include "session-host.hpp"

#include <ioloop/ioloop.hpp>

#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace maild {

class Server final : public SessionHost {
public:
	Server(iol::IoLoop &loop, const Options &options, PasswdFile passwd);
	~Server();

	// Opens every listener and prints "maild: listening pop3 ADDR:PORT" for each to stdout.
	bool listen(std::string &error);
	std::vector<ListenAddress> addresses() const;
	// SIGHUP: re-reads the passwd file; keeps the old accounts when the new file is unreadable.
	void reload_passwd();
	// SIGTERM/SIGINT: stops accepting and ends every session without its UPDATE state.
	void shutdown();

	const PasswdFile &passwd() const override { return passwd_; }
	const std::string &mail_root() const override { return options_.mail_root; }
	std::chrono::milliseconds auth_fail_delay() const override { return options_.auth_fail_delay; }
	bool lock_user(const std::string &user) override { return locked_.insert(user).second; }
	void unlock_user(const std::string &user) override { locked_.erase(user); }

private:
	void accept_pop3(int fd, std::string peer);
	void connection_closed(Connection &conn);
	void reap();

	iol::IoLoop &loop_;
	Options options_;
	PasswdFile passwd_;
	std::vector<std::unique_ptr<Listener>> listeners_;
	std::unordered_map<Connection *, std::unique_ptr<Connection>> live_;
	std::vector<std::unique_ptr<Connection>> dead_;
	iol::Timeout reaper_;
	std::unordered_set<std::string> locked_;
};

} // namespace maild
