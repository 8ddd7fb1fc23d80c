// The daemon around one loop: listeners, live connections, the passwd file. With --workers
// there is one Server per loop and thread; what must be shared between them (POP3's per-user
// locks, the connection count) lives in ServerShared.
#pragma once

#include "auth/passwd-file.hpp"
#include "auth/session-host.hpp"
#include "net/connection.hpp"
#include "net/listener.hpp"
#include "options.hpp"

#include <ioloop/ioloop.hpp>

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace maild {

struct ServerShared {
	std::mutex mutex;
	std::unordered_set<std::string> locked_users; // under mutex
	// All workers' live connections, in total and per client address. Under slots_mutex, so
	// that checking a limit and taking the slot are one step across workers.
	std::mutex slots_mutex;
	unsigned connections = 0;
	std::unordered_map<std::string, unsigned> per_address; // no entry for a count of 0
};

class Server final : public SessionHost {
public:
	Server(iol::IoLoop &loop, const Options &options, PasswdFile passwd, ServerShared &shared);
	~Server();

	// Opens every listener; when `announce`, prints "maild: listening pop3|imap ADDR:PORT" for
	// each to stdout, POP3 listeners first. reuse_port: see Listener::open_socket.
	bool listen(std::string &error, bool reuse_port = false, bool announce = true);
	// The bound addresses (ports resolved) of one protocol's listeners.
	std::vector<ListenAddress> bound(const std::string &protocol) const;
	// The first listener's address for `protocol` ("pop3", "imap"); empty text when none.
	std::string address_of(const std::string &protocol) const;
	// SIGHUP: re-reads the passwd file; keeps the old accounts when the new file is unreadable.
	void reload_passwd();
	// SIGTERM/SIGINT: stops accepting and ends every session without its UPDATE state.
	void shutdown();

	const PasswdFile &passwd() const override { return passwd_; }
	const std::string &mail_root() const override { return options_.mail_root; }
	std::chrono::milliseconds auth_fail_delay() const override { return options_.auth_fail_delay; }
	bool lock_user(const std::string &user) override
	{
		std::lock_guard<std::mutex> hold(shared_.mutex);
		return shared_.locked_users.insert(user).second;
	}
	void unlock_user(const std::string &user) override
	{
		std::lock_guard<std::mutex> hold(shared_.mutex);
		shared_.locked_users.erase(user);
	}

private:
	enum class Protocol { pop3, imap };
	enum class Slot { taken, server_full, address_full };
	struct Live {
		std::unique_ptr<Connection> conn;
		std::string address; // whose per-address slot it holds
	};
	void accept(Protocol protocol, int fd, std::string peer, std::string address);
	// Checks --max-connections and --max-connections-per-address and counts the connection
	// in both, or neither; `count` gets the count that was over its limit.
	Slot take_slot(const std::string &address, unsigned &count);
	void release_slot(const std::string &address);
	void connection_closed(Connection &conn);
	void reap();

	iol::IoLoop &loop_;
	Options options_;
	PasswdFile passwd_;
	std::vector<std::unique_ptr<Listener>> listeners_;
	std::unordered_map<Connection *, Live> live_;
	std::vector<std::unique_ptr<Connection>> dead_;
	iol::Timeout reaper_;
	ServerShared &shared_;
};

} // namespace maild
