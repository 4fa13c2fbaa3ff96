/*
 * vecho - an event-driven TCP echo server on one thread, on the vos API.
 *
 * Each connection has exactly one request in flight: a recv, then a send of
 * what came, then a recv again.  One accept is always in flight while there
 * is room for another connection.  The request's user_data is the
 * connection's address; the listener and the stop signal have their own.
 */
#define _GNU_SOURCE /* accept4, signalfd, statx, strcasestr */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "number_arg.h"
#include "request_queue.h"
#include "server_lifecycle.h"

#define BUF_SIZE 16384

enum { UD_ACCEPT = 1, UD_STOP = 2 };

struct conn {
	struct conn *prev, *next; /* all connections, for stopping */
	int fd;
	uint32_t len, sent;
	bool closing;
	char buf[BUF_SIZE];
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: vecho [options]\n"
"An event-driven TCP echo server on one thread (libvirtuos async API).\n"
"\n"
"  -b, --bind ADDR        IPv4 address to listen on (default 127.0.0.1)\n"
"  -p, --port N           port (default 7007; 0: any free port)\n"
"  -c, --max-conns N      connections at once (default 1024)\n"
"  -r, --ready-fd FD      when listening, write the port and a newline to\n"
"                         FD and close it\n"
"  -h, --help             this text\n"
"\n"
"The transport comes from $VOS_TRANSPORT; by default it is io_uring-local,\n"
"or routed to netd/stord when a routes file ($VOS_ROUTES) exists.\n"
"SIGINT or SIGTERM stops the server; it prints its totals and exits 0.\n");
}

struct server {
	struct vos_ctx *ctx;
	int lfd, max_conns, nconns;
	bool accepting, stopping, failed;
	unsigned long long accepted, bytes;
	struct conn *conns;        /* list of open connections */
	struct request_queue next; /* to submit at the end of this round */
};

static void queue_accept(struct server *s)
{
	struct vos_req r;

	if (s->accepting || s->stopping || s->nconns >= s->max_conns)
		return;
	vos_prep_accept(&r, s->lfd, NULL, NULL, SOCK_CLOEXEC);
	rq_add(&s->next, &r, UD_ACCEPT);
	s->accepting = true;
}

static void queue_recv(struct server *s, struct conn *c)
{
	struct vos_req r;

	vos_prep_recv(&r, c->fd, c->buf, BUF_SIZE, 0);
	rq_add(&s->next, &r, (uint64_t)(uintptr_t)c);
}

static void queue_close(struct server *s, struct conn *c)
{
	struct vos_req r;

	c->closing = true;
	vos_prep_close(&r, c->fd);
	rq_add(&s->next, &r, (uint64_t)(uintptr_t)c);
}

static void on_conn(struct server *s, struct conn *c, int64_t res)
{
	struct vos_req r;

	if (c->closing) {
		if (c->prev)
			c->prev->next = c->next;
		else
			s->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		free(c);
		s->nconns--;
		queue_accept(s);
		return;
	}
	if (res <= 0 || s->stopping) { /* EOF, error, or shutting down */
		queue_close(s, c);
		return;
	}
	if (c->len == 0) { /* a recv finished: echo it */
		c->len = (uint32_t)res;
		c->sent = 0;
		s->bytes += (unsigned long long)res;
	} else { /* a send finished */
		c->sent += (uint32_t)res;
		if (c->sent == c->len) {
			c->len = 0;
			queue_recv(s, c);
			return;
		}
	}
	vos_prep_send(&r, c->fd, c->buf + c->sent, c->len - c->sent,
		      MSG_NOSIGNAL);
	rq_add(&s->next, &r, (uint64_t)(uintptr_t)c);
}

/* Stop: no new connections; every open one sees EOF on its recv (or an
 * error on its send) and closes through the usual path. */
static void stop(struct server *s)
{
	s->stopping = true;
	if (s->accepting)
		vos_cancel(s->ctx, UD_ACCEPT);
	for (struct conn *c = s->conns; c; c = c->next)
		if (!c->closing)
			vos_shutdown(s->ctx, c->fd, SHUT_RDWR);
}

static void on_accept(struct server *s, int64_t res)
{
	struct conn *c;

	s->accepting = false;
	if (res < 0) {
		if (res != -ECANCELED)
			fprintf(stderr, "vecho: accept: %s\n", strerror((int)-res));
		if (lc_listener_gone(res)) {
			fprintf(stderr, "vecho: the listening socket is gone; "
				"stopping\n");
			s->stopping = s->failed = true;
			return;
		}
		queue_accept(s);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		vos_close(s->ctx, (int)res);
		queue_accept(s);
		return;
	}
	c->fd = (int)res;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->nconns++;
	s->accepted++;
	queue_recv(s, c);
	queue_accept(s);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bind", required_argument, NULL, 'b' },
		{ "port", required_argument, NULL, 'p' },
		{ "max-conns", required_argument, NULL, 'c' },
		{ "ready-fd", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *bind_addr = "127.0.0.1";
	int port = 7007, ready_fd = -1, opt, stopfd, ret;
	struct signalfd_siginfo si;
	struct vos_config cfg;
	struct server s = { .max_conns = 1024 };
	struct vos_cqe cqes[256];
	struct vos_req r;

	while ((opt = getopt_long(argc, argv, "b:p:c:r:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'b': bind_addr = optarg; break;
		case 'p': port = number_arg("--port", optarg, 0, 65535); break;
		case 'c':
			s.max_conns = number_arg("--max-conns", optarg, 1, 4000);
			break;
		case 'r':
			ready_fd = number_arg("--ready-fd", optarg, 0, 1 << 20);
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	vos_config_init(&cfg);
	/* one request per connection, the accept, the stop read */
	cfg.queue_depth = (uint32_t)s.max_conns + 2;
	ret = vos_ctx_create(&cfg, &s.ctx);
	if (ret < 0) {
		fprintf(stderr, "vecho: vos_ctx_create: %s\n", strerror(-ret));
		return 1;
	}
	ret = rq_init(&s.next, cfg.queue_depth);
	stopfd = lc_stop_fd();
	s.lfd = lc_listen(s.ctx, bind_addr, port, 1024, &port);
	if (ret < 0 || stopfd < 0 || s.lfd < 0) {
		fprintf(stderr, "vecho: cannot listen on %s: %s\n", bind_addr,
			strerror(s.lfd < 0 ? -s.lfd : ENOMEM));
		return 1;
	}
	fprintf(stderr, "vecho: listening on %s:%d (%s)\n", bind_addr, port,
		vos_ctx_describe(s.ctx));
	lc_announce(ready_fd, port);

	vos_prep_read(&r, stopfd, &si, sizeof(si));
	rq_add(&s.next, &r, UD_STOP);
	queue_accept(&s);

	while (!s.stopping || s.nconns > 0 || s.accepting || s.next.n) {
		int n;

		ret = rq_submit(s.ctx, &s.next);
		if (ret < 0) {
			fprintf(stderr, "vecho: submit: %s\n", strerror(-ret));
			return 1;
		}
		n = vos_wait(s.ctx, cqes, 256, 1, -1);
		if (n < 0 && n != -EINTR) {
			fprintf(stderr, "vecho: wait: %s\n", strerror(-n));
			return 1;
		}
		for (int i = 0; i < n; i++) {
			uint64_t ud = cqes[i].user_data;

			if (ud == UD_STOP) {
				stop(&s);
			} else if (ud == UD_ACCEPT) {
				on_accept(&s, cqes[i].res);
				if (s.stopping) /* accepted as we stopped */
					stop(&s);
			} else {
				on_conn(&s, (struct conn *)(uintptr_t)ud,
					cqes[i].res);
			}
		}
	}
	fprintf(stderr, "vecho: stopped: %llu connections, %llu bytes echoed\n",
		s.accepted, s.bytes);
	vos_close(s.ctx, s.lfd);
	vos_ctx_destroy(s.ctx);
	rq_free(&s.next);
	return s.failed ? 1 : 0;
}
