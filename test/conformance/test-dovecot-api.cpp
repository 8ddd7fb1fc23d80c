// The part of Dovecot's ioloop.h beyond io/timeout/signal basics: typed callbacks, contexts,
// moving between loops, wait accounting and the loop's state (doc/design.md, "Dovecot's
// ioloop.h, function by function"). Compiled with -Werror: the C++ side of the typed macros
// must take these callbacks without a cast or a warning.
#include "dovecot-api-scenarios.h"
#include "fixtures.hpp"

#include <catch2/catch.hpp>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

using namespace fixtures;

namespace {

struct Counter {
	int calls = 0;
	Counter *self = this;
};

void count(Counter *c)
{
	if (c->self == c)
		c->calls++;
}

struct Trace {
	std::vector<std::string> events;
	ioloop_context *ctx = nullptr;
};

// Context callbacks: record what happened, in order.
struct Named {
	Trace *trace;
	std::string name;
};
void named_activate(Named *n)
{
	n->trace->events.push_back("+" + n->name);
}
void named_deactivate(Named *n)
{
	n->trace->events.push_back("-" + n->name);
}

// Which context is active in the loop while a callback runs.
struct Probe {
	ioloop *loop;
	ioloop_context *seen = nullptr;
	int calls = 0;
};
void probe(Probe *p)
{
	p->seen = io_loop_get_current_context(p->loop);
	p->calls++;
}

template <class Done> bool run_c_until(iol::IoLoop &loop, Done done)
{
	return run_until(loop, done);
}

} // namespace

TEST_CASE("Dovecot API: typed callbacks from C, under -Werror", "[dovecot-api]")
{
	CHECK(c_typed_callbacks() == 0);
}

TEST_CASE("Dovecot API: a daemon ported from Dovecot runs unchanged", "[dovecot-api]")
{
	CHECK(port_daemon_run() == 0);
}

TEST_CASE("Dovecot API: typed callbacks from C++: functions, lambdas, void *", "[dovecot-api]")
{
	iol::IoLoop loop;
	SocketPair sp;
	Counter r, t[4];
	struct io *io = io_add(sp.a, IO_READ, count, &r);
	REQUIRE(io != nullptr);
	// a lambda whose parameter is the context's type; commas in it do not split the macro
	struct timeout *to0 = timeout_add(1, [](Counter *c) { int a = 1, b = 0; c->calls += a + b; }, &t[0]);
	void (*fp)(Counter *) = count; // a pointer to a function, not only its name
	struct timeout *to1 = timeout_add_to(loop.c_loop(), 1, fp, &t[1]);
	struct timeout *to2 = timeout_add_short_to(loop.c_loop(), 1, count, &t[2]);
	const Counter konst{};
	int const_calls = 0;
	static int *const_counter;
	const_counter = &const_calls;
	struct timeout *to3 = timeout_add_short(1, [](const Counter *) { (*const_counter)++; }, &konst);
	int plain = 0;
	struct timeout *to4 = timeout_add(1, [](void *p) { (*static_cast<int *>(p))++; }, &plain);
	put(sp.b);
	REQUIRE(run_c_until(loop, [&] {
		return r.calls > 0 && t[0].calls > 0 && t[1].calls > 0 && t[2].calls > 0 &&
		       const_calls > 0 && plain > 0;
	}));
	io_remove(&io);
	for (struct timeout **p : {&to0, &to1, &to2, &to3, &to4})
		timeout_remove(p);
	// the plain function, reached unchecked by parenthesizing its name
	struct timeout *raw = (timeout_add)(1, nullptr, nullptr);
	CHECK(raw == nullptr);
}

TEST_CASE("Dovecot API: a fired one-shot stays a valid handle until timeout_remove", "[dovecot-api]")
{
	iol::IoLoop loop;
	io_loop_time_refresh();
	timeval now = ioloop_timeval;
	Counter c;
	struct timeout *t = timeout_add_absolute(&now, count, &c);
	REQUIRE(t != nullptr);
	REQUIRE(run_until(loop, [&] { return c.calls == 1; }));
	iterate(loop, 3);
	CHECK(c.calls == 1);
	timeout_reset(t); // our extension: re-arms it (Dovecot asserts)
	REQUIRE(run_until(loop, [&] { return c.calls == 2; }));
	timeout_remove(&t); // under ASan: no use after free, no leak
	CHECK(t == nullptr);
}

TEST_CASE("Dovecot API: contexts: new, ref/unref, callbacks, activate, switch", "[dovecot-api]")
{
	iol::IoLoop loop;
	ioloop *l = loop.c_loop();
	Trace tr;
	Named a{&tr, "a"}, a2{&tr, "a2"}, b{&tr, "b"};
	ioloop_context *ca = io_loop_context_new(l);
	ioloop_context *cb = io_loop_context_new(l);
	REQUIRE(ca != nullptr);
	CHECK(io_loop_get_current_context(l) == nullptr); // new does not activate
	io_loop_context_add_callbacks(ca, named_activate, named_deactivate, &a);
	io_loop_context_add_callbacks(ca, named_activate, named_deactivate, &a2);
	io_loop_context_add_callbacks(cb, named_activate, named_deactivate, &b);
	io_loop_context_activate(ca);
	CHECK(io_loop_get_current_context(l) == ca);
	io_loop_context_activate(ca); // already active: nothing
	io_loop_context_switch(cb);
	CHECK(io_loop_get_current_context(l) == cb);
	io_loop_context_deactivate(ca); // not active: nothing
	io_loop_context_deactivate(cb);
	CHECK(io_loop_get_current_context(l) == nullptr);
	CHECK(tr.events == std::vector<std::string>{"+a", "+a2", "-a", "-a2", "+b", "-b"});

	// removed: no longer called; unknown: nothing
	tr.events.clear();
	io_loop_context_remove_callbacks(ca, named_activate, named_deactivate, &a);
	io_loop_context_remove_callbacks(ca, named_activate, named_deactivate, &b);
	io_loop_context_activate(ca);
	io_loop_context_deactivate(ca);
	CHECK(tr.events == std::vector<std::string>{"+a2", "-a2"});

	// an extra reference keeps it; the last one frees it (ASan: no leak, no use after free)
	io_loop_context_ref(ca);
	ioloop_context *extra = ca;
	io_loop_context_unref(&ca);
	CHECK(ca == nullptr);
	io_loop_context_switch(extra);
	CHECK(io_loop_get_current_context(l) == extra);
	io_loop_context_unref(&extra); // the active context holds its own reference
	tr.events.clear();
	io_loop_context_deactivate(io_loop_get_current_context(l));
	CHECK(tr.events == std::vector<std::string>{"-a2"});
	io_loop_context_unref(&cb);
}

TEST_CASE("Dovecot API: a callback added under a context runs under it", "[dovecot-api]")
{
	iol::IoLoop loop;
	ioloop *l = loop.c_loop();
	Trace tr;
	Named n{&tr, "c"};
	ioloop_context *ctx = io_loop_context_new(l);
	io_loop_context_add_callbacks(ctx, named_activate, named_deactivate, &n);
	SocketPair sp;
	Probe in{l}, plain{l}, tp{l}, sp_probe{l};
	io_loop_context_switch(ctx);
	struct io *io = io_add(sp.a, IO_READ, probe, &in);
	struct timeout *to = timeout_add(1, probe, &tp);
	struct io_signal *sig = signal_add(SIGUSR2, [](int, Probe *p) { probe(p); }, &sp_probe);
	REQUIRE(sig != nullptr);
	io_loop_context_deactivate(ctx);
	struct io *pio = io_add(sp.b, IO_WRITE, probe, &plain); // added under none
	io_loop_context_unref(&ctx); // the io, timeout and watcher keep it
	tr.events.clear();
	put(sp.b);
	kill(getpid(), SIGUSR2);
	REQUIRE(run_until(loop, [&] { return in.calls > 0 && tp.calls > 0 && plain.calls > 0 && sp_probe.calls > 0; }));
	CHECK(in.seen != nullptr);
	CHECK(tp.seen == in.seen);
	CHECK(sp_probe.seen == in.seen);
	CHECK(plain.seen == nullptr);
	CHECK(io_loop_get_current_context(l) == nullptr); // deactivated after each
	CHECK(tr.events.size() >= 6);
	CHECK(tr.events[0] == "+c");
	CHECK(tr.events[1] == "-c");
	// a callback without a context that leaves one active: the loop ends it as it returns
	struct Leave {
		ioloop_context *ctx;
		bool ran;
	} leave{io_loop_context_new(l), false};
	io_loop_time_refresh();
	timeval now = ioloop_timeval;
	struct timeout *once = timeout_add_absolute(&now, [](Leave *lv) {
		io_loop_context_switch(lv->ctx);
		lv->ran = true;
	}, &leave);
	REQUIRE(run_until(loop, [&] { return leave.ran; }));
	CHECK(io_loop_get_current_context(l) == nullptr);
	Probe after{l};
	struct timeout *probe_to = timeout_add(1, probe, &after);
	REQUIRE(run_until(loop, [&] { return after.calls > 0; }));
	CHECK(after.seen == nullptr);
	timeout_remove(&probe_to);
	timeout_remove(&once);
	ioloop_context *left = leave.ctx;
	io_loop_context_unref(&left);
	io_remove(&io);
	io_remove(&pio);
	timeout_remove(&to);
	signal_remove(&sig); // the context's last references go here
}

TEST_CASE("Dovecot API: destroying a loop deactivates its context", "[dovecot-api]")
{
	Trace tr;
	Named n{&tr, "d"};
	ioloop_context *ctx;
	{
		iol::IoLoop loop;
		ctx = io_loop_context_new(loop.c_loop());
		io_loop_context_add_callbacks(ctx, named_activate, named_deactivate, &n);
		io_loop_context_switch(ctx);
	}
	CHECK(tr.events == std::vector<std::string>{"+d", "-d"});
	io_loop_context_unref(&ctx);
}

TEST_CASE("Dovecot API: io_loop_move_io continues in the other loop", "[dovecot-api]")
{
	iol::IoLoop one;
	iol::IoLoop two; // current now
	SocketPair sp;
	Counter c;
	struct io *io = io_add_to(one.c_loop(), sp.a, IO_READ, count, &c);
	CHECK(io_loop_move_io_to(one.c_loop(), &io) == io); // already there
	io_set_pending(io);
	struct io *moved = io_loop_move_io(&io);
	REQUIRE(moved != nullptr);
	CHECK(io == nullptr);
	two.run_once(); // pending came along: called without data
	CHECK(c.calls == 1);
	iterate(one, 2);
	CHECK(c.calls == 1); // the old loop no longer watches it
	put(sp.b);
	REQUIRE(run_until(two, [&] { return c.calls >= 2; }));
	get_byte(sp.a);
	// the target already has a reader on that fd: refused, the old handle untouched
	Counter other;
	struct io *in_one = io_add_to(one.c_loop(), sp.a, IO_READ, count, &other);
	errno = 0;
	CHECK(io_loop_move_io_to(one.c_loop(), &moved) == nullptr);
	CHECK(errno == EEXIST);
	CHECK(moved != nullptr);
	io_remove(&in_one);
	io_remove(&moved);
}

TEST_CASE("Dovecot API: io_loop_move_timeout keeps the time left", "[dovecot-api]")
{
	iol::IoLoop one;
	iol::IoLoop two;
	Counter due, later, fired;
	struct timeout *a = timeout_add_to(one.c_loop(), 100, count, &due);
	struct timeout *b = timeout_add_to(one.c_loop(), 10000, count, &later);
	std::this_thread::sleep_for(ms(150)); // a is due, not yet run
	a = io_loop_move_timeout_to(two.c_loop(), &a);
	b = io_loop_move_timeout(&b);
	REQUIRE(a != nullptr);
	auto start = Clock::now();
	REQUIRE(run_until(two, [&] { return due.calls > 0; }));
	CHECK(ms_since(start) < 90); // what was left (nothing), not a new 100 ms
	iterate(two, 3);
	CHECK(later.calls == 0);
	int due_calls = due.calls;
	iterate(one, 2);
	CHECK(due.calls == due_calls); // the old loop runs neither
	CHECK(later.calls == 0);
	// a fired one-shot moves unarmed and stays a valid handle
	io_loop_time_refresh();
	timeval now = ioloop_timeval;
	struct timeout *once = timeout_add_absolute_to(one.c_loop(), &now, count, &fired);
	REQUIRE(run_until(one, [&] { return fired.calls == 1; }));
	once = io_loop_move_timeout_to(two.c_loop(), &once);
	iterate(two, 3);
	CHECK(fired.calls == 1);
	// a timeout that moves itself from inside its callback
	static iol::IoLoop *target;
	target = &two;
	struct Self {
		struct timeout *to;
		int calls;
	} self{nullptr, 0};
	self.to = timeout_add_to(one.c_loop(), 1, [](Self *s) {
		s->calls++;
		if (s->calls == 1)
			s->to = io_loop_move_timeout_to(target->c_loop(), &s->to);
	}, &self);
	REQUIRE(run_until(one, [&] { return self.calls == 1; }));
	REQUIRE(run_until(two, [&] { return self.calls >= 2; }));
	for (struct timeout **p : {&a, &b, &once, &self.to})
		timeout_remove(p);
}

TEST_CASE("Dovecot API: a moved timeout takes the target loop's context", "[dovecot-api]")
{
	iol::IoLoop one;
	iol::IoLoop two;
	ioloop_context *c1 = io_loop_context_new(one.c_loop());
	ioloop_context *c2 = io_loop_context_new(two.c_loop());
	Probe p{two.c_loop()};
	io_loop_context_switch(c1);
	struct timeout *t = timeout_add_to(one.c_loop(), 1, probe, &p);
	io_loop_context_deactivate(c1);
	io_loop_context_switch(c2);
	t = io_loop_move_timeout_to(two.c_loop(), &t);
	io_loop_context_deactivate(c2);
	REQUIRE(run_until(two, [&] { return p.calls > 0; }));
	CHECK(p.seen == c2);
	timeout_remove(&t);
	io_loop_context_unref(&c1);
	io_loop_context_unref(&c2);
}

TEST_CASE("Dovecot API: wait usecs and wait timers", "[dovecot-api]")
{
	iol::IoLoop one;
	iol::IoLoop two;
	CHECK(io_loop_get_wait_usecs(one.c_loop()) == 0); // starts counting now
	io_wait_timer *w = io_wait_timer_add_to(one.c_loop());
	REQUIRE(w != nullptr);
	bool done = false;
	struct timeout *t = timeout_add_to(one.c_loop(), 60, [](bool *d) { *d = true; }, &done);
	while (!done)
		one.run_once();
	timeout_remove(&t);
	std::uint64_t waited = io_loop_get_wait_usecs(one.c_loop());
	CHECK(waited >= 40000);
	CHECK(waited < 10000000);
	CHECK(io_wait_timer_get_usecs(w) == waited);
	// moved to the current loop (two): one's waits no longer count, two's do
	w = io_wait_timer_move(&w);
	REQUIRE(w != nullptr);
	std::uint64_t before = io_wait_timer_get_usecs(w);
	iterate(one, 3, ms(20));
	CHECK(io_wait_timer_get_usecs(w) == before);
	iterate(two, 3, ms(20));
	CHECK(io_wait_timer_get_usecs(w) >= before + 30000);
	io_wait_timer *w2 = io_wait_timer_add();
	w2 = io_wait_timer_move_to(&w2, one.c_loop());
	io_wait_timer_remove(&w);
	CHECK(w == nullptr);
	io_wait_timer_remove(&w2);
}

TEST_CASE("Dovecot API: have_ios, is_empty, have_immediate_timeouts", "[dovecot-api]")
{
	iol::IoLoop loop;
	ioloop *l = loop.c_loop();
	CHECK(!io_loop_have_ios(l));
	CHECK(io_loop_is_empty(l));
	CHECK(!io_loop_have_immediate_timeouts(l));
	SocketPair sp;
	Counter c;
	struct io *io = io_add(sp.a, IO_READ, count, &c);
	CHECK(io_loop_have_ios(l));
	CHECK(!io_loop_is_empty(l));
	CHECK(io_loop_find_fd_conditions(l, sp.a) == IO_READ);
	CHECK(io_loop_find_fd_conditions(l, sp.b) == 0);
	CHECK(!io_is_pending(io));
	io_set_pending(io);
	CHECK(io_is_pending(io));
	loop.run_once();
	CHECK(!io_is_pending(io));
	CHECK(c.calls == 1);
	CHECK(io_loop_get_root() != nullptr);
	io_remove(&io);
	CHECK(io_loop_is_empty(l));
	struct timeout *later = timeout_add(10000, count, &c);
	CHECK(!io_loop_is_empty(l));
	CHECK(!io_loop_have_ios(l));
	CHECK(!io_loop_have_immediate_timeouts(l));
	struct timeout *now = timeout_add(0, count, &c);
	CHECK(io_loop_have_immediate_timeouts(l));
	timeout_remove(&now);
	timeout_remove(&later);
	CHECK(io_loop_is_empty(l));
	struct io_signal *s = signal_add(SIGUSR2, [](int, Counter *) {}, &c);
	CHECK(!io_loop_is_empty(l));
	CHECK(!io_loop_have_ios(l)); // its pipe is the loop's own
	signal_remove(&s);
	CHECK(io_loop_is_empty(l));
}

namespace {
std::vector<ioloop *> switched_from;
void on_switch(ioloop *prev)
{
	switched_from.push_back(prev);
}
} // namespace

TEST_CASE("Dovecot API: switch callbacks see each change of current_ioloop", "[dovecot-api]")
{
	switched_from.clear();
	ioloop *before = current_ioloop;
	io_loop_add_switch_callback(on_switch);
	ioloop *one = io_loop_create();
	ioloop *two = io_loop_create();
	ioloop *const first = one, *const second = two; // destroy sets the handles to NULL
	io_loop_set_current(two); // no change: not called
	io_loop_set_current(one);
	io_loop_set_current(two);
	io_loop_destroy(&two); // back to one
	io_loop_remove_switch_callback(on_switch);
	io_loop_destroy(&one);
	CHECK(switched_from == std::vector<ioloop *>{before, first, second, first, second});
	io_loop_remove_switch_callback(on_switch); // unknown: nothing
	CHECK(current_ioloop == before);
}

TEST_CASE("Dovecot API from C++: iol::Context and IoLoop::move", "[dovecot-api]")
{
	iol::IoLoop one;
	std::vector<std::string> trace;
	int fired = 0;
	iol::Timeout t;
	{
		iol::Context client(one);
		client.add_callbacks([&] { trace.push_back("+"); }, [&] { trace.push_back("-"); });
		client.switch_to();
		CHECK(client.active());
		t = one.add_timeout(ms(1), [&] {
			fired++;
			trace.push_back("t");
		});
		client.deactivate();
		CHECK(!client.active());
		REQUIRE(run_until(one, [&] { return fired > 0; }));
		// "+" "-" by hand, then "+" "t" "-" around each call
		REQUIRE(trace.size() >= 5);
		CHECK(trace[0] == "+");
		CHECK(trace[1] == "-");
		CHECK(trace[2] == "+");
		CHECK(trace[3] == "t");
		CHECK(trace[4] == "-");
	}
	// the Context object is gone: its pairs with it, the timeout still runs
	trace.clear();
	int before = fired;
	REQUIRE(run_until(one, [&] { return fired > before; }));
	CHECK(trace == std::vector<std::string>(trace.size(), "t"));
	iol::IoLoop two;
	two.move(t);
	before = fired;
	iterate(one, 3);
	CHECK(fired == before);
	REQUIRE(run_until(two, [&] { return fired > before; }));
	SocketPair sp;
	int reads = 0;
	iol::Io io = one.add_io(sp.a, iol::Cond::read, [&] {
		get_byte(sp.a);
		reads++;
	});
	two.move(io);
	put(sp.b);
	REQUIRE(run_until(two, [&] { return reads == 1; }));
	iol::Io taken = one.add_io(sp.a, iol::Cond::read, [] {});
	CHECK_THROWS_AS(one.move(io), std::system_error); // one already has a reader on sp.a
	CHECK(static_cast<bool>(io));
	// handles go before their loops: t and io are two's now, which is destroyed before t
	io.remove();
	t.remove();
}

TEST_CASE("Dovecot API: the loop's first context, made in a callback, ends with the iteration", "[dovecot-api]")
{
	iol::IoLoop loop;
	ioloop *l = loop.c_loop();
	SocketPair sp;
	// added before the loop had any context, like a daemon's listener
	struct Listener {
		ioloop *loop;
		ioloop_context *ctx = nullptr;
	} listener{l};
	struct io *io = io_add(sp.a, IO_READ, [](Listener *li) {
		if (li->ctx == nullptr) {
			li->ctx = io_loop_context_new(li->loop);
			io_loop_context_switch(li->ctx); // left active as it returns
		}
	}, &listener);
	put(sp.b);
	REQUIRE(run_until(loop, [&] { return listener.ctx != nullptr; }));
	CHECK(io_loop_get_current_context(l) == nullptr);
	get_byte(sp.a);
	io_remove(&io);
	io_loop_context_unref(&listener.ctx);
}
