// maild-load: a POP3 / IMAP load generator on our loop (C++ API), for maild and any other server.
//
//   maild-load --proto=pop3|imap --port=P --manifest=FILE [--host=127.0.0.1] [--concurrency=16]
//              [--sessions=100000] [--duration=10] [--timeout=30] [--max-errors=50] [--label=NAME]
//   maild-load --proto=imap --port=P --manifest=FILE --idle=9000 [--select] [--parallel=64]
//              [--hold=120] [--wait-stdin]
//
// Load mode: C sessions run at once, each slot starting its next session as soon as the last one
// ended, until --duration seconds have passed or --sessions have started (whichever comes first);
// sessions in flight then finish. A session is
//   POP3: USER, PASS, STAT, RETR 1..n, QUIT
//   IMAP: LOGIN, SELECT INBOX, UID FETCH 1:* BODY.PEEK[], LOGOUT
// and counts only if every reply was positive and what came back is the user's mailbox: STAT's
// count and octets, and the multiset of (size, byte sum) of the messages received (after
// undoing POP3's dot-stuffing, CRLF line ends) equal the manifest's. Anything else is an error,
// so a broken server cannot look fast. Slot i always logs in as user i % users, so POP3 needs
// at least as many users as sessions at once (a POP3 server may lock the maildrop).
// Latency: from connect() to the final positive reply. The session then waits for the server to
// close (so TIME_WAIT stays on the server's side) before its slot starts the next one.
//
// Idle mode: N IMAP connections log in (and SELECT INBOX with --select), --parallel at a time,
// and stay idle. Prints "idle ready ..." once all are up, holds them for --hold seconds or until
// stdin is readable or closed (--wait-stdin), then prints "idle done ..." and closes them.
//
// Manifest (written by maild-load.py):   user NAME PASSWORD   then one   msg SIZE SUM   per message,
// SIZE in octets with CRLF line ends, SUM the sum of those octets' values.
//
// Output: human-readable lines, then one "result key=value ..." line for scripts. Exit status 1
// when any session failed, 2 on bad usage.
#include "driver.hpp"

#include <ioloop/ioloop.hpp>

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <csignal>
#include <compare>
#include <fcntl.h>
#include <memory>
#include <netinet/in.h>
#include <string>
#include <string_view>
#include <sys/resource.h>
#include <sys/socket.h>
#include <system_error>
#include <unistd.h>
#include <vector>

extern "C" {
const char *bench_peer_backend = "none";
}

namespace {

using std::string;
using std::string_view;

struct Msg {
	std::uint64_t size = 0, sum = 0;
	auto operator<=>(const Msg &) const = default;
};

struct Account {
	string user, pass;
	std::vector<Msg> msgs; // sorted
	std::uint64_t total = 0;
};

bool load_manifest(const string &path, std::vector<Account> &out, string &error)
{
	FILE *f = std::fopen(path.c_str(), "r");
	if (f == nullptr) {
		error = path + ": " + std::strerror(errno);
		return false;
	}
	char line[1024];
	int lineno = 0;
	while (std::fgets(line, sizeof line, f) != nullptr) {
		lineno++;
		char a[256], b[256];
		unsigned long long size, sum;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (std::sscanf(line, "user %255s %255s", a, b) == 2) {
			out.push_back({a, b, {}, 0});
		} else if (std::sscanf(line, "msg %llu %llu", &size, &sum) == 2 && !out.empty()) {
			out.back().msgs.push_back({size, sum});
			out.back().total += size;
		} else {
			error = path + ":" + std::to_string(lineno) + ": bad line";
			std::fclose(f);
			return false;
		}
	}
	std::fclose(f);
	for (Account &a : out)
		std::sort(a.msgs.begin(), a.msgs.end());
	if (out.empty())
		error = path + ": no users";
	return !out.empty();
}

inline std::uint64_t byte_sum(const char *p, std::size_t n)
{
	const auto *u = reinterpret_cast<const unsigned char *>(p);
	std::uint64_t s = 0;
	for (std::size_t i = 0; i < n; i++)
		s += u[i];
	return s;
}

struct Config {
	string host = "127.0.0.1";
	int port = 0;
	bool imap = false;
	int concurrency = 16;
	long max_sessions = 100000;
	double duration = 10;
	double timeout = 30;
	long max_errors = 50;
	string label;
	// idle mode
	long idle = 0;
	bool select = false;
	int parallel = 64;
	double hold = 120;
	bool wait_stdin = false;
};

class Load;

class Session {
public:
	Session(Load &load, int slot) : load_(load), slot_(slot) {}
	Session(const Session &) = delete;
	Session &operator=(const Session &) = delete;
	~Session() { close_fd(); }

	void start(const Account &account);
	bool busy() const { return fd_ >= 0; }
	int slot() const { return slot_; }
	// Idle mode: still logged in and nothing heard since.
	bool alive() const { return fd_ >= 0 && step_ == Step::idle; }
	void abort(const string &why) { fail(why); }
	void close_quietly() { close_fd(); }

private:
	enum class Step {
		greeting, user, pass, stat, retr, quit,           // POP3
		login, select, fetch, logout,                     // IMAP
		idle,                                             // idle mode: logged in, waiting
		closing,                                          // done, waiting for the server's EOF
	};
	static const char *name(Step s)
	{
		static const char *const names[] = {"greeting", "USER", "PASS", "STAT", "RETR", "QUIT",
						    "LOGIN", "SELECT", "FETCH", "LOGOUT", "idle", "closing"};
		return names[static_cast<int>(s)];
	}

	void on_read();
	void on_write();
	void send_cmd(string cmd);
	bool process();
	bool pop3_status(string_view line);
	bool pop3_body_line(string_view line);
	bool imap_line(string_view line);
	bool imap_tagged_ok(string_view line);
	bool verify(string &why);
	void fail(const string &why);
	void succeeded();
	void close_fd();

	Load &load_;
	const int slot_;
	const Account *account_ = nullptr;
	int fd_ = -1;
	iol::Io read_io_, write_io_;
	iol::Timeout deadline_;
	Step step_ = Step::greeting;
	std::int64_t t0_ = 0;
	string in_;
	std::size_t pos_ = 0;
	string out_;
	std::size_t out_pos_ = 0;
	std::vector<Msg> got_;
	// POP3
	std::uint64_t stat_count_ = 0, next_retr_ = 0;
	bool in_body_ = false;
	Msg cur_;
	// IMAP
	std::uint64_t exists_ = 0;
	bool exists_seen_ = false;
	std::uint64_t literal_left_ = 0;
	bool literal_is_body_ = false;
	char tag_[16] = "";
	unsigned tagno_ = 0;
	void next_tag() { std::snprintf(tag_, sizeof tag_, "a%u", ++tagno_ % 1000000u); }
	// Idle mode: the session stays open as it is, with no deadline, and counts as established.
	void stay_idle();
};

struct Stats {
	long started = 0, ok = 0, errors = 0;
	std::vector<double> latency_ms;
	std::uint64_t messages = 0, msg_bytes = 0, wire_bytes = 0;
	std::int64_t first_ns = 0, last_ns = 0;
	std::vector<string> samples; // the first few errors
};

class Load {
public:
	Load(iol::IoLoop &loop, const Config &cfg, const std::vector<Account> &accounts)
		: loop_(loop), cfg_(cfg), accounts_(accounts)
	{
		std::memset(&addr_, 0, sizeof addr_);
		addr_.sin_family = AF_INET;
		addr_.sin_port = htons(static_cast<std::uint16_t>(cfg.port));
		if (inet_pton(AF_INET, cfg.host.c_str(), &addr_.sin_addr) != 1) {
			std::fprintf(stderr, "--host: not a numeric IPv4 address: %s\n", cfg.host.c_str());
			std::exit(2);
		}
	}

	iol::IoLoop &loop() { return loop_; }
	const Config &cfg() const { return cfg_; }
	const sockaddr_in &addr() const { return addr_; }
	Stats &stats() { return st_; }
	bool idle_mode() const { return cfg_.idle > 0; }

	int run_load();
	int run_idle();

	// Called by a session when it ends; ok only for a verified one.
	void session_done(Session &s, bool ok, double latency_ms, const string &why);
	void session_wire(std::size_t n) { st_.wire_bytes += n; }
	void session_messages(const std::vector<Msg> &m)
	{
		st_.messages += m.size();
		for (const Msg &x : m)
			st_.msg_bytes += x.size;
	}
	void idle_established();

private:
	bool may_start() const
	{
		return !stopping_ && st_.started < cfg_.max_sessions && st_.errors < cfg_.max_errors &&
		       bench_now_ns() < end_ns_;
	}
	void start_slot(Session &s);
	void retry_later(Session &s);
	void maybe_finish();
	void idle_fill();
	void idle_finish(const char *why);

	iol::IoLoop &loop_;
	const Config &cfg_;
	const std::vector<Account> &accounts_;
	sockaddr_in addr_{};
	Stats st_;
	std::vector<std::unique_ptr<Session>> slots_;
	std::vector<iol::Timeout> retries_;
	std::int64_t end_ns_ = 0;
	bool stopping_ = false;
	int busy_ = 0;
	// idle mode
	long established_ = 0, idle_failed_ = 0;
	std::size_t next_idle_ = 0;
	bool idle_ready_ = false;
	iol::Io stdin_io_;
	iol::Timeout hold_;
};

// ---- Session -------------------------------------------------------------------------------

void Session::start(const Account &account)
{
	account_ = &account;
	step_ = Step::greeting;
	in_.clear();
	pos_ = 0;
	out_.clear();
	out_pos_ = 0;
	got_.clear();
	got_.reserve(account.msgs.size());
	stat_count_ = next_retr_ = 0;
	in_body_ = false;
	exists_ = 0;
	exists_seen_ = false;
	literal_left_ = 0;
	tagno_ = 0;
	tag_[0] = '\0';
	t0_ = bench_now_ns();

	fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd_ < 0) {
		fail(string("socket: ") + std::strerror(errno));
		return;
	}
	const sockaddr_in &a = load_.addr();
	if (connect(fd_, reinterpret_cast<const sockaddr *>(&a), sizeof a) < 0 && errno != EINPROGRESS) {
		fail(string("connect: ") + std::strerror(errno));
		return;
	}
	// A failed connect shows up as a readable socket whose recv() reports the error.
	read_io_ = load_.loop().add_io(fd_, iol::Cond::read, [this] { on_read(); });
	// The whole session (in idle mode: until logged in) must fit in --timeout.
	deadline_ = load_.loop().add_oneshot(
		std::chrono::milliseconds(static_cast<long>(load_.cfg().timeout * 1000)), [this] {
			if (step_ == Step::closing) { // verified already; the server just did not close
				close_fd();
				load_.session_done(*this, true, -1, {});
			} else {
				fail(string("timeout in ") + name(step_));
			}
		});
}

void Session::close_fd()
{
	read_io_.remove();
	write_io_.remove();
	deadline_.remove();
	if (fd_ >= 0) {
		::close(fd_);
		fd_ = -1;
	}
}

void Session::fail(const string &why)
{
	bool was_idle = step_ == Step::idle;
	close_fd();
	string msg = (account_ != nullptr ? account_->user : string("?")) + ": " + why;
	if (was_idle)
		msg = "idle connection lost: " + msg;
	load_.session_done(*this, false, 0, msg);
}

void Session::succeeded()
{
	double ms = static_cast<double>(bench_now_ns() - t0_) / 1e6;
	string why;
	if (!verify(why)) {
		fail(why);
		return;
	}
	load_.session_messages(got_);
	step_ = Step::closing;
	load_.session_done(*this, true, ms, {});
}

bool Session::verify(string &why)
{
	std::sort(got_.begin(), got_.end());
	if (got_ == account_->msgs)
		return true;
	std::uint64_t bytes = 0;
	for (const Msg &m : got_)
		bytes += m.size;
	why = "mailbox mismatch: got " + std::to_string(got_.size()) + " messages, " +
	      std::to_string(bytes) + " octets; expected " + std::to_string(account_->msgs.size()) +
	      ", " + std::to_string(account_->total);
	if (got_.size() == account_->msgs.size())
		why += " (same count: sizes or contents differ)";
	return false;
}

void Session::send_cmd(string cmd)
{
	if (out_pos_ < out_.size()) { // still sending the previous command: queue
		out_ += cmd;
		return;
	}
	out_ = std::move(cmd);
	out_pos_ = 0;
	on_write();
}

void Session::on_write()
{
	while (out_pos_ < out_.size()) {
		ssize_t n = ::send(fd_, out_.data() + out_pos_, out_.size() - out_pos_, MSG_NOSIGNAL);
		if (n > 0) {
			out_pos_ += static_cast<std::size_t>(n);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!write_io_)
				write_io_ = load_.loop().add_io(fd_, iol::Cond::write, [this] { on_write(); });
			return;
		}
		fail(string("send: ") + std::strerror(errno));
		return;
	}
	write_io_.remove();
}

void Session::on_read()
{
	static char buf[256 * 1024];
	for (;;) {
		ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
		if (n > 0) {
			load_.session_wire(static_cast<std::size_t>(n));
			if (step_ == Step::closing)
				continue; // anything after the final reply is of no interest
			in_.append(buf, static_cast<std::size_t>(n));
			if (!process())
				return; // the session ended inside
			if (static_cast<std::size_t>(n) < sizeof buf)
				return; // drained; level-triggered, so more data wakes us again
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0 && errno == EINTR)
			continue;
		if (step_ == Step::closing) { // the server closed after the final reply: done
			close_fd();
			load_.session_done(*this, true, -1, {});
			return;
		}
		fail(n == 0 ? string("connection closed by the server in ") + name(step_)
			    : string("recv in ") + name(step_) + ": " + std::strerror(errno));
		return;
	}
}

// Consumes complete lines (and IMAP literals) from in_. Returns false when the session ended.
bool Session::process()
{
	const char *base = in_.data();
	std::size_t end = in_.size();
	while (pos_ < end) {
		if (literal_left_ > 0) {
			std::size_t take = std::min<std::uint64_t>(literal_left_, end - pos_);
			if (literal_is_body_) {
				cur_.size += take;
				cur_.sum += byte_sum(base + pos_, take);
			}
			pos_ += take;
			literal_left_ -= take;
			if (literal_left_ == 0 && literal_is_body_)
				got_.push_back(cur_);
			continue;
		}
		const void *nl = std::memchr(base + pos_, '\n', end - pos_);
		if (nl == nullptr)
			break;
		std::size_t len = static_cast<const char *>(nl) - (base + pos_) + 1;
		string_view line(base + pos_, len);
		pos_ += len;
		bool go_on;
		if (load_.cfg().imap)
			go_on = imap_line(line);
		else if (in_body_)
			go_on = pop3_body_line(line);
		else
			go_on = pop3_status(line);
		if (!go_on || fd_ < 0) // failed, possibly inside send_cmd()
			return false;
		if (step_ == Step::closing)
			return true;
	}
	// Keep the unconsumed tail only.
	if (pos_ == in_.size()) {
		in_.clear();
	} else if (pos_ > 0) {
		in_.erase(0, pos_);
	}
	pos_ = 0;
	return true;
}

// ---- POP3 -----------------------------------------------------------------------------------

bool Session::pop3_status(string_view line)
{
	if (line.substr(0, 3) != "+OK") {
		while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
			line.remove_suffix(1);
		fail(string(name(step_)) + ": " + string(line.substr(0, 200)));
		return false;
	}
	const Account &a = *account_;
	switch (step_) {
	case Step::greeting:
		step_ = Step::user;
		send_cmd("USER " + a.user + "\r\n");
		break;
	case Step::user:
		step_ = Step::pass;
		send_cmd("PASS " + a.pass + "\r\n");
		break;
	case Step::pass:
		step_ = Step::stat;
		send_cmd("STAT\r\n");
		break;
	case Step::stat: {
		unsigned long long count = 0, octets = 0;
		string s(line);
		if (std::sscanf(s.c_str(), "+OK %llu %llu", &count, &octets) != 2) {
			fail("STAT: unparsable reply");
			return false;
		}
		if (count != a.msgs.size() || octets != a.total) {
			fail("STAT says " + std::to_string(count) + " " + std::to_string(octets) + ", expected " +
			     std::to_string(a.msgs.size()) + " " + std::to_string(a.total));
			return false;
		}
		stat_count_ = count;
		next_retr_ = 1;
		if (stat_count_ == 0) {
			step_ = Step::quit;
			send_cmd("QUIT\r\n");
		} else {
			step_ = Step::retr;
			send_cmd("RETR 1\r\n");
		}
		break;
	}
	case Step::retr:
		in_body_ = true;
		cur_ = {};
		break;
	case Step::quit:
		succeeded();
		return fd_ >= 0 || step_ == Step::closing;
	default:
		fail(string("unexpected +OK in ") + name(step_));
		return false;
	}
	return true;
}

bool Session::pop3_body_line(string_view line)
{
	if (line.size() >= 1 && line[0] == '.') {
		if (line == ".\r\n") { // end of the message
			in_body_ = false;
			got_.push_back(cur_);
			if (next_retr_ < stat_count_) {
				next_retr_++;
				send_cmd("RETR " + std::to_string(next_retr_) + "\r\n");
			} else {
				step_ = Step::quit;
				send_cmd("QUIT\r\n");
			}
			return true;
		}
		line.remove_prefix(1); // dot-stuffed
	}
	cur_.size += line.size();
	cur_.sum += byte_sum(line.data(), line.size());
	return true;
}

// ---- IMAP -----------------------------------------------------------------------------------

bool Session::imap_tagged_ok(string_view line)
{
	string_view rest = line.substr(std::strlen(tag_) + 1);
	if (rest.substr(0, 3) == "OK ")
		return true;
	while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
		line.remove_suffix(1);
	fail(string(name(step_)) + ": " + string(line.substr(0, 200)));
	return false;
}

bool Session::imap_line(string_view line)
{
	// A line ending in {n} announces an n-octet literal; the response goes on after it.
	if (line.size() >= 4 && line.substr(line.size() - 3) == "}\r\n") {
		std::size_t open = line.rfind('{');
		if (open != string_view::npos) {
			std::uint64_t n = 0;
			bool digits = open + 1 < line.size() - 3;
			for (std::size_t i = open + 1; i < line.size() - 3; i++) {
				if (line[i] < '0' || line[i] > '9') {
					digits = false;
					break;
				}
				n = n * 10 + static_cast<std::uint64_t>(line[i] - '0');
			}
			if (digits) {
				literal_left_ = n;
				literal_is_body_ = step_ == Step::fetch && line.find("BODY[] {") != string_view::npos;
				cur_ = {};
				if (n == 0 && literal_is_body_)
					got_.push_back(cur_);
			}
		}
	}

	const Account &a = *account_;
	if (line.substr(0, 2) == "* ") {
		if (step_ == Step::greeting) {
			if (line.substr(0, 5) != "* OK ") {
				fail("greeting: " + string(line.substr(0, 200)));
				return false;
			}
			next_tag();
			step_ = Step::login;
			send_cmd(string(tag_) + " LOGIN \"" + a.user + "\" \"" + a.pass + "\"\r\n");
			return true;
		}
		if (line.substr(0, 5) == "* BYE" && step_ != Step::logout) {
			fail(string("BYE in ") + name(step_) + ": " + string(line.substr(0, 200)));
			return false;
		}
		if (step_ == Step::idle) {
			fail("untagged data while idle: " + string(line.substr(0, 200)));
			return false;
		}
		if (step_ == Step::select) {
			unsigned long long n;
			char word[16];
			if (std::sscanf(string(line.substr(0, 64)).c_str(), "* %llu %15s", &n, word) == 2 &&
			    std::strcmp(word, "EXISTS") == 0) {
				exists_ = n;
				exists_seen_ = true;
			}
		}
		return true;
	}
	std::size_t tl = std::strlen(tag_);
	if (tl == 0 || line.size() <= tl || line.substr(0, tl) != tag_ || line[tl] != ' ')
		return true; // the rest of a response after a literal, or a continuation: not ours
	if (!imap_tagged_ok(line))
		return false;
	switch (step_) {
	case Step::login:
		if (load_.idle_mode() && !load_.cfg().select) { // logged in is enough
			stay_idle();
			break;
		}
		next_tag();
		step_ = Step::select;
		send_cmd(string(tag_) + " SELECT INBOX\r\n");
		break;
	case Step::select:
		if (!exists_seen_ || exists_ != a.msgs.size()) {
			fail("SELECT: EXISTS " + std::to_string(exists_) + ", expected " + std::to_string(a.msgs.size()));
			return false;
		}
		if (load_.idle_mode()) {
			stay_idle();
			break;
		}
		next_tag();
		step_ = Step::fetch;
		send_cmd(string(tag_) + " UID FETCH 1:* BODY.PEEK[]\r\n");
		break;
	case Step::fetch:
		next_tag();
		step_ = Step::logout;
		send_cmd(string(tag_) + " LOGOUT\r\n");
		break;
	case Step::logout:
		succeeded();
		return fd_ >= 0 || step_ == Step::closing;
	default:
		fail(string("unexpected tagged reply in ") + name(step_));
		return false;
	}
	return true;
}

// ---- Load mode ------------------------------------------------------------------------------

void Load::start_slot(Session &s)
{
	st_.started++;
	busy_++;
	s.start(accounts_[static_cast<std::size_t>(s.slot()) % accounts_.size()]);
}

void Load::retry_later(Session &s)
{
	// After a failure the slot waits 10 ms, so a server that refuses at once does not turn the
	// run into a tight loop of errors (the error cap stops it anyway).
	auto &t = retries_[static_cast<std::size_t>(s.slot())];
	t = loop_.add_oneshot(std::chrono::milliseconds(10), [this, &s] {
		retries_[static_cast<std::size_t>(s.slot())].remove();
		if (may_start())
			start_slot(s);
		else
			maybe_finish();
	});
}

void Load::maybe_finish()
{
	if (busy_ == 0) {
		for (const auto &t : retries_)
			if (t)
				return;
		loop_.stop();
	}
}

void Load::session_done(Session &s, bool ok, double latency_ms, const string &why)
{
	if (idle_mode()) {
		if (!ok) {
			if (st_.samples.size() < 5)
				st_.samples.push_back(why);
			st_.errors++;
			if (idle_ready_)
				return; // a connection lost while holding: counted at the end
			idle_failed_++;
			busy_--;
			idle_fill();
		}
		return;
	}
	if (ok && latency_ms >= 0) { // the final reply, verified: the slot waits for EOF
		st_.ok++;
		st_.latency_ms.push_back(latency_ms);
		return;
	}
	st_.last_ns = bench_now_ns();
	busy_--;
	if (!ok) {
		st_.errors++;
		if (st_.samples.size() < 5)
			st_.samples.push_back(why);
		if (may_start()) {
			retry_later(s);
			return;
		}
	} else if (may_start()) {
		start_slot(s);
		return;
	}
	maybe_finish();
}

int Load::run_load()
{
	if (!cfg_.imap && static_cast<std::size_t>(cfg_.concurrency) > accounts_.size()) {
		std::fprintf(stderr, "POP3 with %d sessions at once needs at least as many users (manifest has %zu)\n",
			     cfg_.concurrency, accounts_.size());
		return 2;
	}
	rusage ru0{};
	getrusage(RUSAGE_SELF, &ru0);
	for (int i = 0; i < cfg_.concurrency; i++)
		slots_.push_back(std::make_unique<Session>(*this, i));
	retries_.resize(slots_.size());
	st_.first_ns = bench_now_ns();
	end_ns_ = st_.first_ns + static_cast<std::int64_t>(cfg_.duration * 1e9);
	// The hard stop: sessions still running then are errors.
	auto hard = loop_.add_oneshot(
		std::chrono::milliseconds(static_cast<long>((cfg_.duration + cfg_.timeout + 5) * 1000)), [this] {
			stopping_ = true;
			for (auto &s : slots_)
				if (s->busy())
					s->abort("hard deadline");
			loop_.stop();
		});
	for (auto &s : slots_)
		if (may_start())
			start_slot(*s);
	if (busy_ > 0 || std::any_of(retries_.begin(), retries_.end(), [](const iol::Timeout &t) { return bool(t); }))
		loop_.run();
	if (st_.last_ns == 0)
		st_.last_ns = bench_now_ns();
	slots_.clear();
	retries_.clear();
	hard.remove();

	rusage ru1{};
	getrusage(RUSAGE_SELF, &ru1);
	auto tv = [](const timeval &t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
	double cpu = tv(ru1.ru_utime) - tv(ru0.ru_utime) + tv(ru1.ru_stime) - tv(ru0.ru_stime);

	double elapsed = static_cast<double>(st_.last_ns - st_.first_ns) / 1e9;
	std::vector<double> lat = st_.latency_ms;
	std::sort(lat.begin(), lat.end());
	auto pct = [&](double p) {
		if (lat.empty())
			return 0.0;
		std::size_t i = static_cast<std::size_t>(std::ceil(p * static_cast<double>(lat.size()))) - 1;
		return lat[std::min(i, lat.size() - 1)];
	};
	double rate = elapsed > 0 ? static_cast<double>(st_.ok) / elapsed : 0;
	double mbs = elapsed > 0 ? static_cast<double>(st_.msg_bytes) / elapsed / 1e6 : 0;
	double wire = elapsed > 0 ? static_cast<double>(st_.wire_bytes) / elapsed / 1e6 : 0;
	const char *proto = cfg_.imap ? "imap" : "pop3";
	std::printf("%s %s: %ld sessions ok, %ld errors in %.2f s (C=%d): %.1f sessions/s, latency p50 %.2f ms "
		    "p99 %.2f ms, %.1f MB/s of messages (%.1f MB/s on the wire), generator cpu %.2f s\n",
		    cfg_.label.empty() ? "server" : cfg_.label.c_str(), proto, st_.ok, st_.errors, elapsed,
		    cfg_.concurrency, rate, pct(0.5), pct(0.99), mbs, wire, cpu);
	for (const string &e : st_.samples)
		std::printf("  error: %s\n", e.c_str());
	std::printf("result label=%s proto=%s concurrency=%d sessions=%ld errors=%ld elapsed_s=%.4f "
		    "sessions_per_s=%.2f p50_ms=%.3f p99_ms=%.3f msg_mb_per_s=%.3f wire_mb_per_s=%.3f "
		    "messages=%" PRIu64 " msg_bytes=%" PRIu64 " gen_cpu_s=%.3f\n",
		    cfg_.label.empty() ? "-" : cfg_.label.c_str(), proto, cfg_.concurrency, st_.ok, st_.errors,
		    elapsed, rate, pct(0.5), pct(0.99), mbs, wire, st_.messages, st_.msg_bytes, cpu);
	std::fflush(stdout);
	return st_.errors == 0 && st_.ok > 0 ? 0 : 1;
}

// ---- Idle mode ------------------------------------------------------------------------------

void Session::stay_idle()
{
	step_ = Step::idle;
	deadline_.remove();
	load_.idle_established();
}

void Load::idle_established()
{
	established_++;
	busy_--;
	idle_fill();
}

void Load::idle_fill()
{
	if (idle_ready_)
		return;
	while (busy_ < cfg_.parallel && next_idle_ < static_cast<std::size_t>(cfg_.idle) &&
	       st_.errors < cfg_.max_errors) {
		slots_.push_back(std::make_unique<Session>(*this, static_cast<int>(next_idle_)));
		next_idle_++;
		start_slot(*slots_.back());
	}
	if (busy_ > 0)
		return;
	idle_ready_ = true;
	std::printf("idle ready established=%ld failed=%ld target=%ld\n", established_, idle_failed_, cfg_.idle);
	for (const string &e : st_.samples)
		std::printf("  error: %s\n", e.c_str());
	std::fflush(stdout);
	hold_ = loop_.add_oneshot(std::chrono::milliseconds(static_cast<long>(cfg_.hold * 1000)),
				  [this] { idle_finish("hold time over"); });
	if (cfg_.wait_stdin)
		stdin_io_ = loop_.add_io(0, iol::Cond::read, [this] { idle_finish("stdin"); });
}

void Load::idle_finish(const char *why)
{
	long alive = 0;
	for (auto &s : slots_)
		if (s->alive())
			alive++;
	std::printf("idle done (%s): alive=%ld of established=%ld\n", why, alive, established_);
	std::printf("result label=%s proto=imap idle_target=%ld established=%ld failed=%ld alive=%ld select=%d\n",
		    cfg_.label.empty() ? "-" : cfg_.label.c_str(), cfg_.idle, established_, idle_failed_, alive,
		    cfg_.select ? 1 : 0);
	std::fflush(stdout);
	stdin_io_.remove();
	hold_.remove();
	for (auto &s : slots_)
		s->close_quietly();
	loop_.stop();
}

int Load::run_idle()
{
	long limit = bench::raise_nofile();
	if (cfg_.idle + 32 > limit) {
		std::printf("note: RLIMIT_NOFILE is %ld: idle connections limited to %ld (asked for %ld)\n", limit,
			    limit - 32, cfg_.idle);
		const_cast<Config &>(cfg_).idle = limit - 32;
	}
	slots_.reserve(static_cast<std::size_t>(cfg_.idle));
	// Bounded: setting up, holding and closing take at most 3 x --timeout + --hold seconds.
	auto hard = loop_.add_oneshot(
		std::chrono::milliseconds(static_cast<long>((cfg_.timeout * 3 + cfg_.hold + 5) * 1000)), [this] {
			std::printf("idle: hard deadline\n");
			idle_finish("hard deadline");
		});
	idle_fill();
	loop_.run();
	hard.remove();
	slots_.clear();
	return established_ == cfg_.idle ? 0 : 1;
}

} // namespace

int main(int argc, char **argv)
{
	bench::Options o(argc, argv);
	if (o.help || !o.has("port") || !o.has("manifest")) {
		std::printf("usage: maild-load --proto=pop3|imap --port=P --manifest=FILE [--host=127.0.0.1]\n"
			    "                  [--concurrency=16] [--sessions=100000] [--duration=10] [--timeout=30]\n"
			    "                  [--max-errors=50] [--label=NAME]\n"
			    "       maild-load --proto=imap --port=P --manifest=FILE --idle=N [--select] [--parallel=64]\n"
			    "                  [--hold=120] [--wait-stdin]\n");
		return o.help ? 0 : 2;
	}
	Config cfg;
	cfg.host = o.str("host", cfg.host);
	cfg.port = static_cast<int>(o.num("port", 0));
	string proto = o.str("proto", "imap");
	if (proto != "pop3" && proto != "imap") {
		std::fprintf(stderr, "--proto: pop3 or imap\n");
		return 2;
	}
	cfg.imap = proto == "imap";
	cfg.concurrency = static_cast<int>(o.num("concurrency", cfg.concurrency));
	cfg.max_sessions = o.num("sessions", cfg.max_sessions);
	cfg.duration = std::strtod(o.str("duration", "10").c_str(), nullptr);
	cfg.timeout = std::strtod(o.str("timeout", "30").c_str(), nullptr);
	cfg.max_errors = o.num("max-errors", cfg.max_errors);
	cfg.label = o.str("label", "");
	cfg.idle = o.num("idle", 0);
	cfg.select = o.has("select");
	cfg.parallel = static_cast<int>(o.num("parallel", cfg.parallel));
	cfg.hold = std::strtod(o.str("hold", "120").c_str(), nullptr);
	cfg.wait_stdin = o.has("wait-stdin");
	if (cfg.port <= 0 || cfg.port > 65535 || cfg.concurrency < 1 || cfg.max_sessions < 1 ||
	    cfg.duration <= 0 || cfg.timeout <= 0 || cfg.parallel < 1 || cfg.hold < 0) {
		std::fprintf(stderr, "bad arguments (see --help)\n");
		return 2;
	}
	if (cfg.idle > 0 && !cfg.imap) {
		std::fprintf(stderr, "--idle is IMAP only\n");
		return 2;
	}
	std::vector<Account> accounts;
	string error;
	if (!load_manifest(o.str("manifest", ""), accounts, error)) {
		std::fprintf(stderr, "%s\n", error.c_str());
		return 2;
	}
	std::signal(SIGPIPE, SIG_IGN);
	bench::raise_nofile();
	try {
		iol::IoLoop loop;
		Load load(loop, cfg, accounts);
		return cfg.idle > 0 ? load.run_idle() : load.run_load();
	} catch (const std::system_error &e) {
		std::fprintf(stderr, "maild-load: %s\n", e.what());
		return 1;
	}
}
