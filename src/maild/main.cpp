// maild: a small POP3 and IMAP daemon over Maildir, on one ioloop.
#include "auth/passwd-file.hpp"
#include "base/log.hpp"
#include "demo.hpp"
#include "options.hpp"
#include "server.hpp"

#include <ioloop/ioloop.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <thread>
#include <utility>
#include <vector>
#include <sys/stat.h>
#include <system_error>

#ifndef MAILD_VERSION
#define MAILD_VERSION "unknown"
#endif

namespace {

// A --workers loop: owned by its thread; loop and server are set once it listens.
struct Worker {
	std::thread thread;
	iol::IoLoop *loop = nullptr;
	maild::Server *server = nullptr;
};

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

	ServerShared shared;
	iol::IoLoop loop;
	Server server(loop, options, passwd, shared);
	if (!server.listen(error, options.workers > 1))
		return usage_error(error);

	// Signals are watched before any worker thread starts, so the threads inherit whatever
	// mask the handler set up (the kevent handler blocks them for EVFILT_SIGNAL).
	std::vector<std::unique_ptr<Worker>> workers;
	bool stopping = false;
	auto stop = [&](int signo) {
		if (std::exchange(stopping, true))
			return; // a second signal: the workers' loops may be gone already
		log_line(LogLevel::info, {}, std::string("signal ") + (signo == SIGTERM ? "TERM" : "INT"));
		for (auto &w : workers)
			w->loop->post([&w = *w] {
				w.server->shutdown();
				w.loop->stop();
			});
		server.shutdown();
		loop.stop();
	};
	iol::SignalWatch term = loop.add_signal(SIGTERM, stop);
	iol::SignalWatch intr = loop.add_signal(SIGINT, stop);
	iol::SignalWatch hup = loop.add_signal(SIGHUP, [&](int) {
		server.reload_passwd();
		for (auto &w : workers)
			w->loop->post([&w = *w] { w.server->reload_passwd(); });
	});

	// More loops, each on its own thread with its own sockets on the same ports (SO_REUSEPORT:
	// the kernel spreads new connections over them).
	Options worker_options = options;
	worker_options.pop3 = server.bound("pop3");
	worker_options.imap = server.bound("imap");
	for (unsigned i = 1; i < options.workers; i++) {
		auto w = std::make_unique<Worker>();
		std::promise<std::string> ready;
		auto started = ready.get_future();
		w->thread = std::thread([&worker_options, &passwd, &shared, &ready, &w = *w] {
			iol::IoLoop wloop;
			Server wserver(wloop, worker_options, passwd, shared);
			std::string werror;
			if (!wserver.listen(werror, true, false)) {
				ready.set_value(werror);
				return;
			}
			w.loop = &wloop;
			w.server = &wserver;
			ready.set_value({});
			wloop.run();
		});
		std::string failed = started.get();
		if (!failed.empty()) {
			w->thread.join();
			for (auto &other : workers)
				other->loop->post([&o = *other] { o.loop->stop(); });
			for (auto &other : workers)
				other->thread.join();
			return usage_error(failed);
		}
		workers.push_back(std::move(w));
	}

	if (demo)
		std::fputs(demo->instructions(server.address_of("pop3"), server.address_of("imap")).c_str(), stdout);
	std::fflush(stdout);
	loop.run();
	for (auto &w : workers)
		w->thread.join();
	return 0;
}

} // namespace

int main(int argc, char **argv)
{
	// Peers that vanish must give EPIPE, not kill the daemon (sends also ask for no SIGPIPE: base/posix.hpp).
	std::signal(SIGPIPE, SIG_IGN);
#if defined(M_TRIM_THRESHOLD) && defined(M_MMAP_THRESHOLD)
	// Every session allocates and frees its buffers (input, output queue, message reads: a few
	// hundred KiB for a FETCH), so the heap's top keeps growing and shrinking by megabytes, and
	// glibc's defaults hand it back to the kernel each time: under the IMAP load benchmark that
	// was 11-15 page faults and a brk or munmap per session, a third of maild's CPU on this VM.
	// Up to 8 MiB of free heap is kept instead (so memory stays bounded: the peak plus that),
	// and buffers under 1 MiB come from the heap rather than from a mapping each.
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	mallopt(M_TRIM_THRESHOLD, 8 << 20);
#endif

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
