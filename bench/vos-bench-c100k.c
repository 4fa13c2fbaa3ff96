/*
 * vos-bench-c100k.c - one context holding 100,000 idle connections and
 * 1,000 active ones (multishot accept, a multishot recv per connection
 * into a buffer pool, an echo per message), next to an epoll server doing
 * the same, in the same run, on the same machine.
 *
 * Printed: the echo rate of the active connections (round trips per
 * second, median of --runs runs of --secs seconds), as a ratio to the
 * epoll server's; the memory an idle connection costs in this process
 * (RSS growth while the idle connections were accepted and armed, per
 * connection: the kernel's socket is not in it) and, when /proc/slabinfo
 * is readable, in the kernel's io_uring / epoll caches; and the floor: one
 * connection's blocking round trip between the same two threads.
 *
 * Usage: vos-bench-c100k [--idle N] [--active N] [--runs N] [--secs S]
 *        [--msg BYTES] [--csv DIR]
 * --csv DIR also writes the table as DIR/c100k.csv (bench/run).
 * It raises RLIMIT_NOFILE (2 fds per connection; as root the hard limit
 * too) and holds fewer idle connections if it cannot, saying so.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <virtuos/virtuos.h>

#include "bench_stats.h"

#define POOL_GROUP 1
#define POOL_COUNT 8192u
#define POOL_SIZE 2048u
#define UD_ACCEPT (1ull << 56)
/* connections per listening port (the ephemeral ports of one source
 * address towards one destination run out near 28k) */
#define PER_LISTENER 20000u
#define MAX_LISTENERS 16
#define UD_RECV (2ull << 56)
#define UD_SEND (3ull << 56)
#define UD_KIND(u) ((u) & (0xffull << 56))

static unsigned n_idle = 100000, n_active = 1000, n_runs = 5, msg_len = 64;
static double secs = 2.0;

static int *cli;       /* client ends: [0, n_active) active, then idle */
static unsigned n_cli;
static atomic_bool stop;
static atomic_ullong trips;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, res = 0;

	if (f) {
		if (fscanf(f, "%ld %ld", &size, &res) != 2)
			res = 0;
		fclose(f);
	}
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Bytes in the kernel caches an io_uring request or an epoll entry
 * lives in, or -1 if /proc/slabinfo cannot be read. */
static long long slab_bytes(void)
{
	static const char *const names[] = { "io_kiocb", "eventpoll_epi",
					     "eventpoll_pwq", NULL };
	FILE *f = fopen("/proc/slabinfo", "r");
	char line[512];
	long long sum = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char name[64];
		long long active, num, size;

		if (sscanf(line, "%63s %lld %lld %lld", name, &active, &num,
			   &size) != 4)
			continue;
		for (int i = 0; names[i]; i++)
			if (strcmp(name, names[i]) == 0)
				sum += active * size;
	}
	fclose(f);
	return sum;
}

static int listener(struct sockaddr_in *sin)
{
	socklen_t sl = sizeof(*sin);
	int one = 1;
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l < 0 || bind(l, (struct sockaddr *)sin, sizeof(*sin)) < 0 ||
	    listen(l, 4096) < 0 ||
	    getsockname(l, (struct sockaddr *)sin, &sl) < 0)
		die("listener");
	return l;
}

static int connect_one(const struct sockaddr_in *sin)
{
	int one = 1;
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (c < 0 || connect(c, (const struct sockaddr *)sin, sizeof(*sin)) < 0)
		die("connect");
	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return c;
}

/* ---- the client: drives the active connections ------------------------ */

static void *client(void *arg)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	char *msg = calloc(1, msg_len), *in = malloc(msg_len);
	unsigned *have = calloc(n_active, sizeof(*have));
	struct epoll_event ev[256];

	(void)arg;
	memset(msg, 'e', msg_len);
	for (unsigned i = 0; i < n_active; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.u32 = i };

		epoll_ctl(ep, EPOLL_CTL_ADD, cli[i], &e);
		if (write(cli[i], msg, msg_len) != (ssize_t)msg_len)
			die("client write");
	}
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		int n = epoll_wait(ep, ev, 256, 10);

		for (int k = 0; k < n; k++) {
			unsigned i = ev[k].data.u32;
			ssize_t r = read(cli[i], in, msg_len - have[i]);

			if (r <= 0)
				die("client read");
			have[i] += (unsigned)r;
			if (have[i] < msg_len)
				continue;
			have[i] = 0;
			atomic_fetch_add_explicit(&trips, 1,
						  memory_order_relaxed);
			if (write(cli[i], msg, msg_len) != (ssize_t)msg_len)
				die("client write");
		}
	}
	/* drain what is still coming back, so the next run starts clean */
	for (unsigned i = 0; i < n_active; i++) {
		while (have[i] < msg_len) {
			ssize_t r = read(cli[i], in, msg_len - have[i]);

			if (r <= 0)
				die("client drain");
			have[i] += (unsigned)r;
		}
		have[i] = 0;
	}
	close(ep);
	free(msg);
	free(in);
	free(have);
	return NULL;
}

/* Run the client for one measured interval while serve() runs; returns
 * round trips per second. */
struct server {
	void (*pump)(struct server *s, int timeout_ms);
	void *priv;
};

static double one_run(struct server *s)
{
	pthread_t t;
	int64_t t0, t1;
	unsigned long long n;

	atomic_store(&stop, false);
	atomic_store(&trips, 0);
	if (pthread_create(&t, NULL, client, NULL))
		die("pthread_create");
	t0 = now_ns();
	while (now_ns() - t0 < (int64_t)(secs * 1e9))
		s->pump(s, 5);
	n = atomic_load(&trips);
	t1 = now_ns();
	atomic_store(&stop, true);
	/* serve until the client has had its last echoes */
	for (;;) {
		struct timespec ts = { 0, 0 };

		if (pthread_tryjoin_np(t, NULL) == 0)
			break;
		s->pump(s, 1);
		nanosleep(&ts, NULL);
	}
	return (double)n * 1e9 / (double)(t1 - t0);
}

static unsigned n_lis;

/* Connect every client (client i to listener i % n_lis), letting the
 * server accept (and arm) as it goes: a listen backlog holds 4096. */
static void connect_all(struct server *s, const struct sockaddr_in *sin,
			unsigned *accepted)
{
	for (unsigned i = 0; i < n_cli; i++) {
		cli[i] = connect_one(&sin[i % n_lis]);
		if (i % 256 == 255 || i + 1 == n_cli)
			while (*accepted < i + 1)
				s->pump(s, 10);
	}
}

/* ---- the libvirtuos server -------------------------------------------- */

struct vsrv {
	struct vos_ctx *ctx;
	char *base;
	int l[MAX_LISTENERS];
	unsigned accepted;
	int *srv;
	unsigned nsrv;
};

static void v_submit(struct vsrv *v, struct vos_req *r)
{
	/* the queue is sized for every connection, every buffer's send and
	 * their completions */
	int ret = vos_submit(v->ctx, r, 1);

	if (ret != 1) {
		fprintf(stderr, "vos_submit: %s\n", strerror(-ret));
		exit(1);
	}
}

static void v_arm(struct vsrv *v, int fd)
{
	struct vos_req r;

	vos_prep_recv_multishot(&r, fd, POOL_GROUP, 0, 0);
	r.deadline_ms = VOS_NO_DEADLINE;
	r.user_data = UD_RECV | (uint64_t)fd;
	v_submit(v, &r);
}

static void v_pump(struct server *s, int timeout_ms)
{
	struct vsrv *v = s->priv;
	struct vos_cqe c[256];
	int n = vos_wait(v->ctx, c, 256, 1, (int64_t)timeout_ms * 1000000);

	for (int k = 0; k < n; k++) {
		uint64_t ud = c[k].user_data;

		if (UD_KIND(ud) == UD_ACCEPT) {
			if (c[k].res < 0) {
				fprintf(stderr, "accept: %s\n",
					strerror((int)-c[k].res));
				exit(1);
			}
			v->srv[v->nsrv++] = (int)c[k].res;
			v->accepted++;
			v_arm(v, (int)c[k].res);
		} else if (UD_KIND(ud) == UD_RECV) {
			int fd = (int)(ud & 0xffffffffu);
			unsigned bid = vos_cqe_buffer(&c[k]);
			struct vos_req r;

			if (!(c[k].flags & VOS_CQE_F_MORE)) {
				if (c[k].res == -ENOBUFS ||
				    c[k].res == -ECANCELED) {
					if (c[k].res == -ENOBUFS)
						v_arm(v, fd);
					continue;
				}
				if (c[k].res <= 0)
					continue; /* the end of the stream */
			}
			vos_prep_send(&r, fd, v->base + (size_t)bid * POOL_SIZE,
				      (uint32_t)c[k].res, 0);
			r.user_data = UD_SEND | ((uint64_t)fd << 16) | bid;
			v_submit(v, &r);
		} else if (UD_KIND(ud) == UD_SEND) {
			vos_buf_return(v->ctx, POOL_GROUP,
				       (uint32_t)(ud & 0xffff));
		}
	}
}

/* ---- the epoll server --------------------------------------------------- */

struct esrv {
	int ep, l[MAX_LISTENERS];
	unsigned accepted;
	int *srv;
	unsigned nsrv;
	char buf[POOL_SIZE];
};

static void e_pump(struct server *s, int timeout_ms)
{
	struct esrv *e = s->priv;
	struct epoll_event ev[256];
	int n = epoll_wait(e->ep, ev, 256, timeout_ms);

	for (int k = 0; k < n; k++) {
		int fd = (int)(ev[k].data.u64 & 0xffffffffu);

		if (ev[k].data.u64 >> 32) { /* a listener */
			for (;;) {
				int a = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
				struct epoll_event x = { .events = EPOLLIN };

				if (a < 0)
					break;
				x.data.u64 = (uint32_t)a;
				if (epoll_ctl(e->ep, EPOLL_CTL_ADD, a, &x) < 0)
					die("epoll_ctl");
				e->srv[e->nsrv++] = a;
				e->accepted++;
			}
			continue;
		}
		{
			ssize_t r = read(fd, e->buf, sizeof(e->buf));

			if (r > 0 && write(fd, e->buf, (size_t)r) != r)
				die("epoll server write");
		}
	}
}

/* ---- the floor: one connection, blocking, between the two threads ----- */

static int pp_fd;

static void *pp_echo(void *arg)
{
	char b[4096];

	(void)arg;
	for (;;) {
		ssize_t r = read(pp_fd, b, sizeof(b));

		if (r <= 0 || write(pp_fd, b, (size_t)r) != r)
			return NULL;
	}
}

static double floor_rate(void)
{
	struct sockaddr_in sin;
	int l = listener(&sin), c, one = 1;
	char *m = calloc(1, msg_len), *in = malloc(msg_len);
	double runs[16];
	pthread_t t;

	c = connect_one(&sin);
	for (;;) {
		pp_fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (pp_fd >= 0)
			break;
	}
	setsockopt(pp_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	pthread_create(&t, NULL, pp_echo, NULL);
	for (unsigned r = 0; r < n_runs; r++) {
		int64_t t0 = now_ns();
		unsigned long n = 0;

		while (now_ns() - t0 < 500000000) {
			unsigned have = 0;

			if (write(c, m, msg_len) != (ssize_t)msg_len)
				die("floor write");
			while (have < msg_len) {
				ssize_t k = read(c, in, msg_len - have);

				if (k <= 0)
					die("floor read");
				have += (unsigned)k;
			}
			n++;
		}
		runs[r] = (double)n * 1e9 / (double)(now_ns() - t0);
	}
	close(c);
	pthread_join(t, NULL);
	close(pp_fd);
	close(l);
	free(m);
	free(in);
	return median(runs, (int)n_runs);
}

/* ---- main ---------------------------------------------------------------- */

struct result {
	double rate;       /* median round trips / s */
	double user_bytes; /* per idle connection */
	double kern_bytes; /* per idle connection, or < 0 */
};

static void measure(struct server *s, struct result *res, long rss0,
		    long long slab0)
{
	double runs[16];
	long rss1 = rss_kib();
	long long slab1 = slab_bytes();
	unsigned n = n_cli;

	res->user_bytes = (double)(rss1 - rss0) * 1024.0 / n;
	res->kern_bytes = slab0 >= 0 && slab1 >= 0
				  ? (double)(slab1 - slab0) / n : -1;
	for (unsigned r = 0; r < n_runs; r++)
		runs[r] = one_run(s);
	res->rate = median(runs, (int)n_runs);
}

static void run_vos(struct result *res)
{
	struct vsrv v = { 0 };
	struct server s = { v_pump, &v };
	struct vos_config cfg;
	struct sockaddr_in sin[MAX_LISTENERS];
	struct vos_req r;
	/* what connections cost, everything the context holds for them
	 * included (its per-request arrays, its io_uring; the pool's pages
	 * are touched only by traffic, after this is measured) */
	long rss0 = rss_kib();
	long long slab0 = slab_bytes();
	int ret;

	vos_config_init(&cfg);
	cfg.transport = "io_uring-local";
	cfg.queue_depth = n_cli + 2 * POOL_COUNT + 256 + n_lis;
	ret = vos_ctx_create(&cfg, &v.ctx);
	if (ret < 0) {
		fprintf(stderr, "vos_ctx_create: %s\n", strerror(-ret));
		exit(1);
	}
	ret = vos_buf_pool_create(v.ctx, POOL_GROUP, POOL_COUNT, POOL_SIZE,
				  (void **)&v.base);
	if (ret < 0) {
		fprintf(stderr, "vos_buf_pool_create: %s\n", strerror(-ret));
		exit(1);
	}
	v.srv = calloc(n_cli, sizeof(*v.srv));
	for (unsigned i = 0; i < n_lis; i++) {
		v.l[i] = listener(&sin[i]);
		vos_prep_accept_multishot(&r, v.l[i], SOCK_CLOEXEC);
		r.user_data = UD_ACCEPT | i;
		r.deadline_ms = VOS_NO_DEADLINE;
		v_submit(&v, &r);
	}
	connect_all(&s, sin, &v.accepted);
	printf("  libvirtuos (%s): %u connections accepted and armed\n",
	       vos_ctx_describe(v.ctx), v.accepted);
	measure(&s, res, rss0, slab0);
	for (unsigned i = 0; i < n_cli; i++)
		close(cli[i]);
	for (unsigned i = 0; i < v.nsrv; i++)
		close(v.srv[i]);
	for (unsigned i = 0; i < n_lis; i++)
		close(v.l[i]);
	vos_ctx_destroy(v.ctx);
	free(v.srv);
}

static void run_epoll(struct result *res)
{
	static struct esrv e;
	struct server s = { e_pump, &e };
	struct sockaddr_in sin[MAX_LISTENERS];
	struct epoll_event x = { .events = EPOLLIN };
	long rss0;
	long long slab0;

	memset(&e, 0, sizeof(e));
	e.ep = epoll_create1(EPOLL_CLOEXEC);
	e.srv = calloc(n_cli, sizeof(*e.srv));
	rss0 = rss_kib();
	slab0 = slab_bytes();
	for (unsigned i = 0; i < n_lis; i++) {
		e.l[i] = listener(&sin[i]);
		x.data.u64 = (1ull << 32) | (uint32_t)e.l[i];
		epoll_ctl(e.ep, EPOLL_CTL_ADD, e.l[i], &x);
	}
	connect_all(&s, sin, &e.accepted);
	printf("  epoll: %u connections accepted and watched\n", e.accepted);
	measure(&s, res, rss0, slab0);
	for (unsigned i = 0; i < n_cli; i++)
		close(cli[i]);
	for (unsigned i = 0; i < e.nsrv; i++)
		close(e.srv[i]);
	for (unsigned i = 0; i < n_lis; i++)
		close(e.l[i]);
	close(e.ep);
	free(e.srv);
}

static void print_row(FILE *csv, const char *name, const struct result *r,
		      double base, double fl)
{
	char k[32] = "n/a";

	if (r->kern_bytes >= 0)
		snprintf(k, sizeof(k), "%.0f", r->kern_bytes);
	printf("| %s | %.0f | %.2f | %.2f | %.0f | %s |\n", name, r->rate,
	       r->rate / base, r->rate / fl, r->user_bytes, k);
	if (csv)
		fprintf(csv, "%s,%.0f,%.3f,%.3f,%.0f,%s,%u,%u\n", name,
			r->rate, r->rate / base, r->rate / fl, r->user_bytes,
			r->kern_bytes >= 0 ? k : "", n_idle, n_active);
}

static void usage(void)
{
	printf("usage: vos-bench-c100k [--idle N] [--active N] [--runs N] "
	       "[--secs S] [--msg BYTES] [--csv DIR]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct result rv, re;
	struct rlimit rl;
	unsigned long need;
	const char *csv_dir = NULL;
	FILE *csv = NULL;
	double fl;

	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			usage();
		if (strcmp(a, "--idle") == 0)
			n_idle = (unsigned)atoi(v);
		else if (strcmp(a, "--active") == 0)
			n_active = (unsigned)atoi(v);
		else if (strcmp(a, "--runs") == 0)
			n_runs = (unsigned)atoi(v);
		else if (strcmp(a, "--secs") == 0)
			secs = atof(v);
		else if (strcmp(a, "--msg") == 0)
			msg_len = (unsigned)atoi(v);
		else if (strcmp(a, "--csv") == 0)
			csv_dir = v;
		else
			usage();
	}
	if (n_active == 0 || n_runs < 1 || n_runs > 15 || msg_len == 0 ||
	    msg_len > POOL_SIZE || secs <= 0)
		usage();
	need = 2ul * (n_idle + n_active) + 256;
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_max < need) {
		struct rlimit up = { need, need };

		if (setrlimit(RLIMIT_NOFILE, &up) == 0)
			rl = up;
	}
	rl.rlim_cur = rl.rlim_max < need ? rl.rlim_max : need;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < need) {
		unsigned fit = (unsigned)((rl.rlim_cur - 256) / 2);

		printf("note: RLIMIT_NOFILE allows %lu fds: holding %u idle "
		       "connections, not %u\n", (unsigned long)rl.rlim_cur,
		       fit > n_active ? fit - n_active : 0, n_idle);
		n_idle = fit > n_active ? fit - n_active : 0;
	}
	n_cli = n_idle + n_active;
	n_lis = (n_cli + PER_LISTENER - 1) / PER_LISTENER;
	if (n_lis > MAX_LISTENERS) {
		printf("at most %u connections\n", MAX_LISTENERS * PER_LISTENER);
		return 2;
	}
	cli = calloc(n_cli, sizeof(*cli));
	if (csv_dir) {
		char path[700];

		snprintf(path, sizeof(path), "%s/c100k.csv", csv_dir);
		csv = fopen(path, "w");
		if (!csv)
			die(path);
		fprintf(csv, "server,round_trips_per_s,vs_epoll,vs_floor,"
			"user_bytes_per_conn,kernel_bytes_per_conn,idle,active\n");
	}
	printf("C100K: %u idle + %u active connections, %u-byte echoes, "
	       "median of %u runs of %.1f s\n", n_idle, n_active, msg_len,
	       n_runs, secs);
	fl = floor_rate();
	run_vos(&rv);
	run_epoll(&re);
	printf("\n| server | echo round trips/s | vs epoll | vs floor | "
	       "user bytes per conn | kernel cache bytes per conn |\n");
	printf("|---|---|---|---|---|---|\n");
	printf("| floor: 1 connection, blocking | %.0f | | 1.00 | | |\n", fl);
	print_row(csv, "epoll", &re, re.rate, fl);
	print_row(csv, "libvirtuos multishot", &rv, re.rate, fl);
	if (csv) {
		fprintf(csv, "floor,%.0f,,1.000,,,0,1\n", fl);
		fclose(csv);
	}
	return 0;
}
