/*
 * vecho-load - the load client for vecho: many connections in flight at
 * once on one thread, each sending messages and checking every byte that
 * comes back.  Exits 0 only if every message came back intact in time.
 */
#define _GNU_SOURCE /* accept4, signalfd, statx, strcasestr */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <virtuos/virtuos.h>

#include "number_arg.h"

enum { ST_CONNECT, ST_SEND, ST_RECV, ST_DONE };

struct conn {
	int fd, id, state;
	int msg;          /* messages finished */
	uint32_t off;     /* bytes of the current message sent/received */
	char *out, *in;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: vecho-load [options]\n"
"Load client for vecho: N connections in flight at once on one thread,\n"
"each sending M messages and checking that each comes back byte for byte.\n"
"\n"
"  -H, --host ADDR        server IPv4 address (default 127.0.0.1)\n"
"  -p, --port N           server port (default 7007)\n"
"  -c, --conns N          connections at once (default 128)\n"
"  -m, --msgs N           messages per connection (default 100)\n"
"  -s, --size BYTES       message size (default 64)\n"
"  -t, --timeout SECONDS  give up after this long (default 30)\n"
"  -h, --help             this text\n"
"\n"
"Prints what it did and exits 0 if every message came back intact, 1 if\n"
"not (or on timeout), 2 on bad usage.\n");
}

static void fill(char *p, uint32_t size, int id, int msg)
{
	for (uint32_t i = 0; i < size; i++)
		p[i] = (char)((unsigned)id * 31u + (unsigned)msg * 7u + i);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "conns", required_argument, NULL, 'c' },
		{ "msgs", required_argument, NULL, 'm' },
		{ "size", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *host = "127.0.0.1";
	int port = 7007, nconns = 128, msgs = 100, timeout = 30, opt, ret;
	uint32_t size = 64;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct vos_config cfg;
	struct vos_ctx *ctx;
	struct conn *conns;
	struct vos_req *reqs;
	struct vos_cqe *cqes;
	int done = 0, in_flight = 0, max_in_flight = 0, bad = 0;
	unsigned nreq = 0;
	double t0, deadline;

	while ((opt = getopt_long(argc, argv, "H:p:c:m:s:t:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'H': host = optarg; break;
		case 'p': port = number_arg("--port", optarg, 1, 65535); break;
		case 'c': nconns = number_arg("--conns", optarg, 1, 4000); break;
		case 'm': msgs = number_arg("--msgs", optarg, 1, 1000000); break;
		case 's': size = (uint32_t)number_arg("--size", optarg, 1, 1 << 20); break;
		case 't': timeout = number_arg("--timeout", optarg, 1, 3600); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
		usage(stderr);
		return 2;
	}
	sin.sin_port = htons((uint16_t)port);

	vos_config_init(&cfg);
	cfg.queue_depth = (uint32_t)nconns;
	ret = vos_ctx_create(&cfg, &ctx);
	if (ret < 0) {
		fprintf(stderr, "vecho-load: vos_ctx_create: %s\n", strerror(-ret));
		return 1;
	}
	conns = calloc((size_t)nconns, sizeof(*conns));
	reqs = calloc((size_t)nconns, sizeof(*reqs));
	cqes = calloc((size_t)nconns, sizeof(*cqes));
	if (!conns || !reqs || !cqes)
		return 1;

	t0 = now_s();
	deadline = t0 + timeout;
	/* every connection's connect goes out in one submission */
	for (int i = 0; i < nconns; i++) {
		struct conn *c = &conns[i];

		c->id = i;
		c->out = malloc(size);
		c->in = malloc(size);
		c->fd = vos_socket(ctx, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (!c->out || !c->in || c->fd < 0) {
			fprintf(stderr, "vecho-load: socket: %s\n",
				strerror(c->fd < 0 ? -c->fd : ENOMEM));
			return 1;
		}
		c->state = ST_CONNECT;
		vos_prep_connect(&reqs[nreq], c->fd, (struct sockaddr *)&sin,
				 sizeof(sin));
		reqs[nreq++].user_data = (uint64_t)i;
	}

	while (done < nconns) {
		int n;

		if (nreq) {
			ret = vos_submit(ctx, reqs, nreq);
			if (ret != (int)nreq) {
				fprintf(stderr, "vecho-load: submit: %d\n", ret);
				return 1;
			}
			in_flight += ret;
			nreq = 0;
			if (in_flight > max_in_flight)
				max_in_flight = in_flight;
		}
		n = vos_wait(ctx, cqes, (unsigned)nconns, 1,
			     (int64_t)((deadline - now_s()) * 1e9));
		if (n == -ETIME || now_s() > deadline) {
			fprintf(stderr, "vecho-load: timed out after %d s with "
				"%d of %d connections done\n", timeout, done,
				nconns);
			return 1;
		}
		if (n < 0) {
			fprintf(stderr, "vecho-load: wait: %s\n", strerror(-n));
			return 1;
		}
		in_flight -= n;
		for (int k = 0; k < n; k++) {
			struct conn *c = &conns[cqes[k].user_data];
			int64_t res = cqes[k].res;
			struct vos_req *r = &reqs[nreq];

			if (res < 0 || (res == 0 && c->state == ST_RECV)) {
				fprintf(stderr, "vecho-load: connection %d, "
					"message %d: %s\n", c->id, c->msg,
					res < 0 ? strerror((int)-res)
						: "closed by the server");
				return 1;
			}
			switch (c->state) {
			case ST_CONNECT:
				c->state = ST_SEND;
				c->off = 0;
				fill(c->out, size, c->id, c->msg);
				break;
			case ST_SEND:
				c->off += (uint32_t)res;
				if (c->off == size) {
					c->state = ST_RECV;
					c->off = 0;
				}
				break;
			case ST_RECV:
				c->off += (uint32_t)res;
				if (c->off < size)
					break;
				if (memcmp(c->in, c->out, size) != 0)
					bad++;
				c->state = ++c->msg == msgs ? ST_DONE : ST_SEND;
				c->off = 0;
				fill(c->out, size, c->id, c->msg);
				break;
			}
			if (c->state == ST_SEND)
				vos_prep_send(r, c->fd, c->out + c->off,
					      size - c->off, MSG_NOSIGNAL);
			else if (c->state == ST_RECV)
				vos_prep_recv(r, c->fd, c->in + c->off,
					      size - c->off, 0);
			else {
				vos_close(ctx, c->fd);
				done++;
				continue;
			}
			r->user_data = (uint64_t)c->id;
			nreq++;
		}
	}

	{
		double secs = now_s() - t0;
		long long total = (long long)nconns * msgs;

		printf("vecho-load: %d connections x %d messages of %u bytes: "
		       "%lld round trips in %.3f s (%.0f/s), %d requests in "
		       "flight at most, %d corrupted\n",
		       nconns, msgs, size, total, secs, (double)total / secs,
		       max_in_flight, bad);
	}
	for (int i = 0; i < nconns; i++) {
		free(conns[i].out);
		free(conns[i].in);
	}
	free(conns);
	free(reqs);
	free(cqes);
	vos_ctx_destroy(ctx);
	return bad ? 1 : 0;
}
