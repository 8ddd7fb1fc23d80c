#include "options.hpp"

#include <arpa/inet.h>
#include <charconv>
#include <netinet/in.h>

namespace maild {

const char usage_text[] =
	"usage: maild --mail-root DIR --passwd FILE [--pop3 ADDR:PORT]... [--imap ADDR:PORT]...\n"
	"             [--max-connections N] [--max-connections-per-address N] [--idle-timeout SECS]\n"
	"             [--append-limit BYTES] [--workers N]\n"
	"             [--log-level error|warn|info|debug]\n"
	"       maild --demo [--pop3 ADDR:PORT] [--imap ADDR:PORT] [--log-level LEVEL]\n"
	"       maild --help | --version\n"
	"\n"
	"  --mail-root DIR        Maildirs live in DIR/USER (created on first login)\n"
	"  --passwd FILE          Dovecot-style passwd-file (user:{SCHEME}password:...); SIGHUP re-reads it\n"
	"  --pop3 ADDR:PORT       POP3 listener (repeatable; port 0 picks a free port;\n"
	"                         IPv6 as [::1]:110)\n"
	"  --imap ADDR:PORT       IMAP listener (repeatable). With neither --pop3 nor --imap:\n"
	"                         POP3 on 127.0.0.1:110 and IMAP on 127.0.0.1:143\n"
	"  --max-connections N    connections beyond N are refused (default 1000)\n"
	"  --max-connections-per-address N\n"
	"                         connections beyond N from one client IP address are refused;\n"
	"                         0 = no limit (default: a quarter of --max-connections, at least 1)\n"
	"  --idle-timeout SECS    close a session after SECS without progress (a complete line,\n"
	"                         a literal or 64 KiB of one, output written; default 600 for POP3,\n"
	"                         1800 for IMAP)\n"
	"  --append-limit BYTES   largest message IMAP APPEND takes (default 67108864)\n"
	"  --workers N            N event loops on N threads sharing the ports (default 1)\n"
	"  --log-level LEVEL      error, warn, info (default) or debug; logs go to stderr\n"
	"  --demo                 sample mail root in a temp dir, user demo / password demo,\n"
	"                         POP3 on 127.0.0.1:1110, IMAP on 127.0.0.1:1143\n";

namespace {

bool parse_unsigned(std::string_view s, unsigned long long max, unsigned long long &out)
{
	if (s.empty() || s.size() > 19)
		return false;
	unsigned long long v = 0;
	auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
	if (ec != std::errc() || p != s.data() + s.size() || v > max)
		return false;
	out = v;
	return true;
}

} // namespace

bool parse_listen_address(std::string_view text, ListenAddress &out)
{
	std::string_view host, port;
	if (!text.empty() && text.front() == '[') {
		auto close = text.find(']');
		if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
			return false;
		host = text.substr(1, close - 1);
		port = text.substr(close + 2);
		in6_addr a6{};
		if (inet_pton(AF_INET6, std::string(host).c_str(), &a6) != 1)
			return false;
	} else {
		auto colon = text.rfind(':');
		if (colon == std::string_view::npos)
			return false;
		host = text.substr(0, colon);
		port = text.substr(colon + 1);
		if (host == "*")
			host = "0.0.0.0";
		in_addr a4{};
		if (inet_pton(AF_INET, std::string(host).c_str(), &a4) != 1)
			return false;
	}
	unsigned long long p = 0;
	if (!parse_unsigned(port, 65535, p))
		return false;
	out.host = std::string(host);
	out.port = static_cast<unsigned>(p);
	return true;
}

std::variant<Options, OptionsError> parse_options(const std::vector<std::string> &args,
						  const char *auth_delay_env)
{
	Options o;
	bool demo = false, help = false, version = false;
	bool per_address_given = false;
	auto err = [](std::string m) { return OptionsError{std::move(m)}; };

	for (std::size_t i = 0; i < args.size(); i++) {
		std::string name = args[i];
		std::string value;
		bool has_value = false;
		if (auto eq = name.find('='); name.rfind("--", 0) == 0 && eq != std::string::npos) {
			value = name.substr(eq + 1);
			name = name.substr(0, eq);
			has_value = true;
		}
		auto flag = [&](bool &target) -> bool {
			if (has_value)
				return false;
			target = true;
			return true;
		};
		if (name == "--demo") {
			if (!flag(demo))
				return err("--demo takes no value");
			continue;
		}
		if (name == "--help" || name == "-h") {
			if (!flag(help))
				return err("--help takes no value");
			continue;
		}
		if (name == "--version") {
			if (!flag(version))
				return err("--version takes no value");
			continue;
		}
		static const char *const with_value[] = {"--mail-root", "--passwd", "--pop3", "--imap",
							 "--max-connections", "--max-connections-per-address", "--idle-timeout",
							 "--append-limit", "--workers", "--log-level"};
		bool known = false;
		for (const char *w : with_value)
			known = known || name == w;
		if (!known)
			return err("unknown option '" + printable(name) + "' (see --help)");
		if (!has_value) {
			if (i + 1 >= args.size())
				return err(name + " needs a value");
			value = args[++i];
		}
		unsigned long long n = 0;
		if (name == "--mail-root") {
			if (value.empty())
				return err("--mail-root: empty path");
			o.mail_root = value;
		} else if (name == "--passwd") {
			if (value.empty())
				return err("--passwd: empty path");
			o.passwd_file = value;
		} else if (name == "--pop3" || name == "--imap") {
			ListenAddress a;
			if (!parse_listen_address(value, a))
				return err(name + ": '" + printable(value) + "' is not ADDR:PORT with a numeric address");
			(name == "--pop3" ? o.pop3 : o.imap).push_back(a);
		} else if (name == "--max-connections") {
			if (!parse_unsigned(value, 1000000, n) || n == 0)
				return err("--max-connections: expected a number from 1 to 1000000");
			o.max_connections = static_cast<unsigned>(n);
		} else if (name == "--max-connections-per-address") {
			if (!parse_unsigned(value, 1000000, n))
				return err("--max-connections-per-address: expected a number from 0 (no limit) to 1000000");
			o.max_connections_per_address = static_cast<unsigned>(n);
			per_address_given = true;
		} else if (name == "--idle-timeout") {
			if (!parse_unsigned(value, 86400 * 7, n) || n == 0)
				return err("--idle-timeout: expected seconds from 1 to 604800");
			o.idle_timeout = std::chrono::seconds(n);
			o.imap_idle_timeout = std::chrono::seconds(n);
		} else if (name == "--workers") {
			if (!parse_unsigned(value, 64, n) || n == 0)
				return err("--workers: expected a number from 1 to 64");
			o.workers = static_cast<unsigned>(n);
		} else if (name == "--append-limit") {
			if (!parse_unsigned(value, 1ull << 40, n) || n == 0)
				return err("--append-limit: expected bytes from 1 to 1099511627776");
			o.append_limit = n;
		} else if (name == "--log-level") {
			auto l = parse_log_level(value);
			if (!l)
				return err("--log-level: expected error, warn, info or debug");
			o.log_level = *l;
		}
	}
	if (!per_address_given)
		o.max_connections_per_address = o.max_connections / 4 > 0 ? o.max_connections / 4 : 1;
	if (auth_delay_env != nullptr) {
		unsigned long long ms = 0;
		if (!parse_unsigned(auth_delay_env, 60000, ms))
			return err("MAILD_AUTH_FAIL_DELAY_MS: expected milliseconds from 0 to 60000");
		o.auth_fail_delay = std::chrono::milliseconds(ms);
	}
	if (help) {
		o.mode = Options::Mode::help;
		return o;
	}
	if (version) {
		o.mode = Options::Mode::version;
		return o;
	}
	if (demo) {
		if (!o.mail_root.empty() || !o.passwd_file.empty())
			return err("--demo makes its own mail root and passwd file; drop --mail-root/--passwd");
		o.mode = Options::Mode::demo;
		if (o.pop3.empty() && o.imap.empty()) {
			o.pop3.push_back({"127.0.0.1", 1110});
			o.imap.push_back({"127.0.0.1", 1143});
		}
		return o;
	}
	if (o.mail_root.empty())
		return err("--mail-root is required (see --help)");
	if (o.passwd_file.empty())
		return err("--passwd is required (see --help)");
	if (o.pop3.empty() && o.imap.empty()) {
		o.pop3.push_back({"127.0.0.1", 110});
		o.imap.push_back({"127.0.0.1", 143});
	}
	return o;
}

} // namespace maild
