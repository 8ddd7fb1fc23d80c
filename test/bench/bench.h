/* Shared declarations for the benchmark contenders. Every contender is a plain function with the
 * same signature, so one driver runs them side by side in one process and the machine's noise
 * falls on all of them alike. C, so the peers' headers (which clash: libev and libevent both
 * define EV_READ) each stay in their own translation unit. */
#ifndef IOLOOP_BENCH_H
#define IOLOOP_BENCH_H

#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

static inline int64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A small deterministic generator (xorshift64*), so every contender sees the same "random"
 * delays and the same sequence of operations. */
static inline uint64_t bench_rand(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 2685821657736338717ull;
}

/* ---- chain: libevent's test/bench.c workload ------------------------------------------------
 * fds[2*i] is the read end of pair i, fds[2*i+1] its write end. Every read end has a persistent,
 * level-triggered read watcher. The run sends one byte into each of `active` pairs spread over
 * the ring, the first `ring` pairs (chain_start_pair); each callback recv()s one byte from its
 * pair and, while writes are left, send()s one byte to pair (i + 1) % ring. The loop is stepped
 * one iteration at a time until every byte sent has been received. Pairs past the ring are
 * watched but never written: idle connections. */
struct chain_params {
	int npairs;
	const int *fds;
	int active;
	long writes;
	/* Non-zero: every pair also has an idle timeout (10-20 s, never reached) that each event
	 * restarts, as libev's benchmark does. */
	int idle_timeouts;
	/* Idle timeout of pair i in milliseconds; same for every contender. */
	const unsigned *timeout_ms;
	/* Non-zero: peers and the floor step with a zero wait (EVRUN_NOWAIT, EVLOOP_NONBLOCK,
	 * epoll_wait(..., 0)) exactly as bench.c does. Zero (the default): every contender steps with
	 * a wait that may block (EVRUN_ONCE, EVLOOP_ONCE, the timeout the next timer asks for), which is
	 * all our API offers (io_loop_handler_run). The difference matters for poll and select: with a
	 * non-zero timeout the kernel queues a waiter on every fd before it finds the ready ones. */
	int nonblock;
	/* Pairs the chains travel, the first ones: npairs (bench.c), or fewer, so that the events
	 * touch the same sockets however many idle ones are watched beside them. */
	int ring;
};

struct chain_result {
	int64_t elapsed_ns; /* from the first send to the last receive; setup is not timed */
	long events;        /* callbacks run = bytes received */
	long failures;      /* recv/send errors or a timeout that fired: the run is not valid */
};

/* Where chain i starts: pair i * (ring / active) as in bench.c, but when active > ring the
 * chains wrap around the ring instead of all starting on pair 0 (bench.c's space of 0), which
 * would queue more one-byte messages on one AF_UNIX socket than its send buffer holds. */
static inline int chain_start_pair(const struct chain_params *p, int i)
{
	int space = p->ring / p->active;
	if (space < 1)
		space = 1;
	return (int)(((long)i * space) % p->ring);
}

/* The second half of every contender's read callback, one copy so the work is the same for all:
 * while writes are left, pass the chain on to the next pair. */
static inline void chain_pass_on(const struct chain_params *p, long i, long *writes_left,
				 long *fired, long *failures)
{
	if (*writes_left > 0) {
		long next = i + 1 == p->ring ? 0 : i + 1;
		if (send(p->fds[2 * next + 1], "e", 1, 0) != 1)
			(*failures)++;
		(*writes_left)--;
		(*fired)++;
	}
}

/* Returns 0, or -1 (errno set) if this contender cannot run these parameters here, e.g. select
 * with an fd >= FD_SETSIZE. */
/* The kernel interface the peers (libev, libevent) are told to use: the build's handler name, so
 * a poll build compares against libev's and libevent's poll backends. "kevent" has no peer backend
 * on Linux and means epoll. The epoll floor is always epoll. Set by the driver. */
extern const char *bench_peer_backend;

typedef int chain_fn(const struct chain_params *p, struct chain_result *r);

chain_fn chain_ioloop_c, chain_ioloop_cpp, chain_libev, chain_libevent, chain_epoll_floor;

/* ---- timers: add, re-arm, cancel, fire --------------------------------------------------------
 * The phases are timed separately; see timers-main.cpp for their definitions. */
struct timers_params {
	int count;            /* N timeouts armed at once */
	const unsigned *delay_ms; /* count delays, 1-60 s */
	const uint32_t *ops;  /* count operations for the mix phase: index << 1 | (1: replace, 0: reset) */
	const uint32_t *picks; /* count random indexes for the reset phase */
	int fire_armed;       /* how many 0 ms timeouts are armed at once in the fire phase */
	long fire_total;      /* how many fire in total */
};

struct timers_result {
	int64_t add_ns, reset_ns, mix_ns, cancel_ns, fire_ns;
	long fired;
	long failures;
};

typedef int timers_fn(const struct timers_params *p, struct timers_result *r);

timers_fn timers_ioloop_c, timers_libev, timers_libevent;

/* ---- churn: watchers added and removed ------------------------------------------------------
 * Each iteration adds a read watcher on each of n idle fds, steps the loop once (fds[n] is kept
 * readable, so the step never blocks), then removes the n watchers again. */
struct churn_params {
	int n;
	const int *fds; /* n idle read ends, then one that always has data */
	long iterations;
};

struct churn_result {
	int64_t elapsed_ns;
	long ops; /* adds + removes */
	long failures;
};

typedef int churn_fn(const struct churn_params *p, struct churn_result *r);

churn_fn churn_ioloop_c, churn_ioloop_cpp, churn_libev, churn_libevent, churn_epoll_floor;

#ifdef __cplusplus
}
#endif

#endif
