/* libev set up as the build's handler asks (see bench_peer_backend). */
#include "bench.h"

#include <ev.h>
#include <string.h>

unsigned bench_libev_backend(void);

unsigned bench_libev_backend(void)
{
	if (strcmp(bench_peer_backend, "poll") == 0)
		return EVBACKEND_POLL;
	if (strcmp(bench_peer_backend, "select") == 0)
		return EVBACKEND_SELECT;
	return EVBACKEND_EPOLL;
}
