// The command line. parse_options() is pure: it reads argv and the environment it is given,
// touches nothing else, and reports the first problem as one line.
#pragma once

#include "base/log.hpp"
#include "net/listener.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace maild {

struct Options {
	enum class Mode { serve, demo, help, version };
	Mode mode = Mode::serve;
	std::string mail_root;
	std::string passwd_file;
	std::vector<ListenAddress> pop3;
	std::vector<ListenAddress> imap;
	unsigned max_connections = 1000;
	// 0: no limit. Unless given, a quarter of max_connections (at least 1): one address (one
	// host, or one NAT) cannot take the whole server, while an office behind one NAT still gets
	// hundreds of sessions.
	unsigned max_connections_per_address = 250;
	unsigned workers = 1; // loops, one thread each, each with its own SO_REUSEPORT listeners
	std::chrono::seconds idle_timeout{600};       // POP3
	std::chrono::seconds imap_idle_timeout{1800}; // RFC 3501 5.4: at least 30 minutes
	std::uint64_t append_limit = 64ull * 1024 * 1024;
	LogLevel log_level = LogLevel::info;
	// Reply delay after a failed login. MAILD_AUTH_FAIL_DELAY_MS overrides it (tests).
	std::chrono::milliseconds auth_fail_delay{1000};
};

struct OptionsError {
	std::string message;
};

// args excludes argv[0]; auth_delay_env is getenv("MAILD_AUTH_FAIL_DELAY_MS") or nullptr.
std::variant<Options, OptionsError> parse_options(const std::vector<std::string> &args,
						  const char *auth_delay_env);

bool parse_listen_address(std::string_view text, ListenAddress &out);

extern const char usage_text[];

} // namespace maild
