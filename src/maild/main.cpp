// maild: a small POP3 daemon over Maildir, on one ioloop.
#include "demo.hpp"
#include "log.hpp"
#include "options.hpp"
#include "passwd-file.hpp"
#include "server.hpp"

#include <ioloop/ioloop.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <sys/stat.h>
#include <system_error>

#ifndef MAILD_VERSION
#define MAILD_VERSION "unknown"
#endif

namespace {

int usage_error(const std::string &message)
{
	std::fprintf(stderr, "maild: %s\n", message.c_str());
	return 2;
}

int run(maild::Options options)
{
	using namespace maild;
	std::unique_ptr<DemoRoot> demo;
	if (options.mode == Options::Mode::demo) {
		demo = std::make_unique<DemoRoot>();
		std::string error;
		if (!demo->create(error))
			return usage_error("--demo: " + error);
		options.mail_root = demo->mail_root();
		options.passwd_file = demo->passwd_file();
	}

	struct stat st {};
	if (stat(options.mail_root.c_str(), &st) < 0 || !S_ISDIR(st.st_mode))
		return usage_error("--mail-root " + options.mail_root + ": not a directory");

	PasswdFile passwd;
	std::vector<std::string> warnings;
	std::string error;
	if (!PasswdFile::load(options.passwd_file, passwd, warnings, error))
		return usage_error(error);
	for (const auto &w : warnings)
		log_line(LogLevel::warn, {}, options.passwd_file + ": " + w);

	iol::IoLoop loop;
	Server server(loop, options, std::move(passwd));
	if (!server.listen(error))
		return usage_error(error);

	auto stop = [&](int signo) {
		log_line(LogLevel::info, {}, std::string("signal ") + (signo == SIGTERM ? "TERM" : "INT"));
		server.shutdown();
		loop.stop();
	};
	iol::SignalWatch term = loop.add_signal(SIGTERM, stop);
	iol::SignalWatch intr = loop.add_signal(SIGINT, stop);
	iol::SignalWatch hup = loop.add_signal(SIGHUP, [&](int) { server.reload_passwd(); });

	if (demo) {
		std::fputs(demo->instructions(server.addresses().front().text()).c_str(), stdout);
	}
	std::fflush(stdout);
	loop.run();
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	// Peers that vanish must give EPIPE, not kill the daemon (sends use MSG_NOSIGNAL too).
	std::signal(SIGPIPE, SIG_IGN);

	std::vector<std::string> args(argv + 1, argv + argc);
	auto parsed = maild::parse_options(args, std::getenv("MAILD_AUTH_FAIL_DELAY_MS"));
	if (auto *e = std::get_if<maild::OptionsError>(&parsed))
		return usage_error(e->message);
	auto &options = std::get<maild::Options>(parsed);
	switch (options.mode) {
	case maild::Options::Mode::help:
		std::fputs(maild::usage_text, stdout);
		return 0;
	case maild::Options::Mode::version:
		std::printf("maild %s (ioloop, %s handler)\n", MAILD_VERSION, iol::IoLoop::handler_name());
		return 0;
	default:
		break;
	}
	maild::set_log_level(options.log_level);
	try {
		return run(options);
	} catch (const std::system_error &e) {
		std::fprintf(stderr, "maild: %s\n", e.what());
		return 1;
	}
}
