/* A small line daemon written the way a Dovecot daemon is: typed callbacks with no casts, an
 * ioloop context per client whose activate callback sets the "current client" (Dovecot's log
 * prefix and user), and a blocking lookup that runs a second loop with the client's timeout
 * moved into it and back. Compiled with -Wall -Wextra -Wpedantic -Werror; port_daemon_run()
 * drives it over 127.0.0.1 and returns 0, or the number of the check that failed. */
#define _GNU_SOURCE
#include <ioloop/ioloop.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dovecot-api-scenarios.h"

struct server {
	int listen_fd;
	struct io *io;
	int nclients, next_id;
};

struct client {
	struct server *server;
	int fd, id;
	struct io *io;
	struct timeout *to_idle, *to_tick;
	struct ioloop_context *ctx;
	int ticks, lookup_ticks;
	unsigned idle_msecs;
};

struct lookup {
	struct client *client;
	struct ioloop *loop;
	int start_ticks;
};

/* What the context callbacks maintain, as a Dovecot daemon's log prefix. */
static struct client *current_client, *lookup_client;
static int activations, deactivations, failures;

static void client_activate(struct client *client)
{
	if (current_client != NULL)
		failures++; /* one context at a time */
	current_client = client;
	activations++;
}

static void client_deactivate(struct client *client)
{
	if (current_client != client)
		failures++;
	current_client = NULL;
	deactivations++;
}

/* Every client callback runs under its own client's context. */
static void expect_current(struct client *client)
{
	if (current_client != client ||
	    io_loop_get_current_context(current_ioloop) != client->ctx)
		failures++;
}

static void client_destroy(struct client *client)
{
	io_remove(&client->io);
	timeout_remove(&client->to_idle);
	timeout_remove(&client->to_tick);
	close(client->fd);
	client->server->nclients--;
	/* ends "current client" before the client goes (no-op when another context is active) */
	io_loop_context_deactivate(client->ctx);
	io_loop_context_remove_callbacks(client->ctx, client_activate, client_deactivate, client);
	/* the active context holds its own reference: this is not yet the last one */
	io_loop_context_unref(&client->ctx);
	free(client);
}

static void client_reply(struct client *client, const char *line)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "%d %s\n", client->id, line);
	if (write(client->fd, buf, (size_t)n) != n)
		failures++;
}

static void client_idle(struct client *client)
{
	expect_current(client);
	client_reply(client, "BYE idle");
	client_destroy(client);
}

static void client_tick(struct client *client)
{
	/* In the lookup loop no context is active there (contexts are per loop), but the main
	 * loop's, which runs the lookup, still is. */
	if (current_client != client)
		failures++;
	client->ticks++;
}

static void lookup_check(struct lookup *lookup)
{
	struct client *client = lookup->client;
	if (client->ticks >= lookup->start_ticks + 3)
		io_loop_stop(lookup->loop);
}

/* A blocking lookup, Dovecot's way: a loop of its own, with the client's timeouts in it. */
static void client_lookup(struct client *client)
{
	struct ioloop *prev_ioloop = current_ioloop;
	struct lookup lookup = {client, io_loop_create(), client->ticks};
	if (lookup.loop == NULL) {
		failures++;
		return;
	}
	client->to_tick = io_loop_move_timeout(&client->to_tick);
	client->to_idle = io_loop_move_timeout(&client->to_idle);
	struct timeout *check = timeout_add(1, lookup_check, &lookup);
	struct timeout *guard = timeout_add(3000, io_loop_stop, lookup.loop);
	io_loop_run(lookup.loop);
	client->lookup_ticks = client->ticks - lookup.start_ticks;
	timeout_remove(&check);
	timeout_remove(&guard);
	io_loop_set_current(prev_ioloop);
	client->to_tick = io_loop_move_timeout(&client->to_tick);
	client->to_idle = io_loop_move_timeout(&client->to_idle);
	io_loop_set_current(lookup.loop);
	io_loop_destroy(&lookup.loop);
}

static void client_input(struct client *client)
{
	expect_current(client);
	char buf[64];
	ssize_t n = read(client->fd, buf, sizeof(buf) - 1);
	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		client_destroy(client);
		return;
	}
	buf[n] = '\0';
	timeout_reset(client->to_idle);
	if (strcmp(buf, "PING\n") == 0) {
		client_reply(client, "PONG");
	} else if (strcmp(buf, "LOOKUP\n") == 0) {
		client_lookup(client);
		lookup_client = client;
		client_reply(client, client->lookup_ticks >= 3 ? "FOUND" : "MISSING");
	} else if (strcmp(buf, "QUIT\n") == 0) {
		client_reply(client, "BYE");
		client_destroy(client);
	} else {
		client_reply(client, "BAD");
	}
}

static void client_create(struct server *server, int fd)
{
	struct client *client = calloc(1, sizeof(*client));
	if (client == NULL) {
		close(fd);
		failures++;
		return;
	}
	client->server = server;
	client->fd = fd;
	client->id = ++server->next_id;
	client->idle_msecs = client->id == 1 ? 60000 : 200;
	client->ctx = io_loop_context_new(current_ioloop);
	io_loop_context_add_callbacks(client->ctx, client_activate, client_deactivate, client);
	/* Left active when this returns: the loop deactivates it after the listener's callback. */
	io_loop_context_switch(client->ctx);
	expect_current(client);
	client->io = io_add(fd, IO_READ, client_input, client);
	client->to_idle = timeout_add(client->idle_msecs, client_idle, client);
	client->to_tick = timeout_add(2, client_tick, client);
	server->nclients++;
}

static void server_accept(struct server *server)
{
	if (current_client != NULL)
		failures++; /* the listener has no context */
	int fd = accept(server->listen_fd, NULL, NULL);
	if (fd < 0)
		return;
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		close(fd);
		return;
	}
	client_create(server, fd);
}

/* ---- the driver: a test client in the same process ---- */

static void stop_loop(struct ioloop *loop)
{
	io_loop_stop(loop);
}

/* Runs the loop until fd has a line to read (or the daemon has `clients` clients), bounded. */
static int run_until(struct ioloop *loop, int fd, struct server *server, int clients)
{
	struct timeout *guard = timeout_add_to(loop, 3000, stop_loop, loop);
	io_loop_set_running(loop);
	for (;;) {
		if (fd >= 0) {
			struct pollfd p = {fd, POLLIN, 0};
			if (poll(&p, 1, 0) == 1)
				break;
		} else if (server->nclients == clients) {
			break;
		}
		if (!io_loop_is_running(loop))
			break;
		io_loop_handler_run(loop);
	}
	int ok = io_loop_is_running(loop);
	timeout_remove(&guard);
	return ok;
}

static int request(struct ioloop *loop, int fd, const char *req, const char *want)
{
	char buf[64];
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req) || !run_until(loop, fd, NULL, 0))
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strcmp(buf, want) == 0;
}

static int connect_to(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	while (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
		/* interrupted: the connection goes on; wait until it is writable */
		struct pollfd p = {fd, POLLOUT, 0};
		while (poll(&p, 1, 3000) < 0 && errno == EINTR) {
		}
		break;
	}
	return fd;
}

int port_daemon_run(void)
{
	current_client = lookup_client = NULL;
	activations = deactivations = failures = 0;
	struct ioloop *loop = io_loop_create();
	if (loop == NULL)
		return 1;
	struct server server = {-1, NULL, 0, 0};
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(sa);
	server.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (server.listen_fd < 0 || bind(server.listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(server.listen_fd, 8) < 0 ||
	    getsockname(server.listen_fd, (struct sockaddr *)&sa, &len) < 0)
		return 2;
	server.io = io_add(server.listen_fd, IO_READ, server_accept, &server);
	if (server.io == NULL || !io_loop_have_ios(loop))
		return 3;

	int a = connect_to(&sa);
	if (a < 0 || !run_until(loop, -1, &server, 1))
		return 4;
	int b = connect_to(&sa);
	if (b < 0 || !run_until(loop, -1, &server, 2))
		return 5;
	/* between callbacks no context is active */
	if (io_loop_get_current_context(loop) != NULL || current_client != NULL)
		return 6;

	if (!request(loop, a, "PING\n", "1 PONG\n"))
		return 7;
	/* b's tick timeout goes to the lookup loop, ticks there, and comes back */
	if (!request(loop, b, "LOOKUP\n", "2 FOUND\n") || lookup_client == NULL)
		return 8;
	/* back in the main loop it ticks again (client_tick checks b's context is active) */
	int ticks = lookup_client->ticks;
	for (int i = 0; i < 1000 && lookup_client->ticks < ticks + 3; i++)
		if (!request(loop, a, "PING\n", "1 PONG\n"))
			return 9;
	if (lookup_client->ticks < ticks + 3)
		return 15;
	if (!request(loop, a, "QUIT\n", "1 BYE\n"))
		return 10;
	/* b's idle timeout (200 ms, its remaining time carried through the moves) ends it */
	if (!run_until(loop, b, &server, 0))
		return 11;
	char buf[32];
	ssize_t n = read(b, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 12;
	buf[n] = '\0';
	if (strcmp(buf, "2 BYE idle\n") != 0)
		return 13;
	if (server.nclients != 0)
		return 14;

	if (failures != 0)
		return 20;
	if (activations == 0 || activations != deactivations || current_client != NULL)
		return 21;
	io_remove(&server.io);
	if (!io_loop_is_empty(loop))
		return 22;
	close(server.listen_fd);
	close(a);
	close(b);
	io_loop_destroy(&loop);
	return 0;
}
