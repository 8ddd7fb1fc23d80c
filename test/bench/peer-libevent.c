/* libevent set up as the build's handler asks (see bench_peer_backend). */
#include "bench.h"

#include <event2/event.h>
#include <string.h>

struct event_base *bench_libevent_base(void);

struct event_base *bench_libevent_base(void)
{
	static const char *const methods[] = {"epoll", "poll", "select"};
	const char *want = bench_peer_backend;
	if (strcmp(want, "poll") != 0 && strcmp(want, "select") != 0)
		want = "epoll";
	struct event_config *cfg = event_config_new();
	for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++)
		if (strcmp(methods[m], want) != 0)
			event_config_avoid_method(cfg, methods[m]);
	struct event_base *base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}
