/*
 * vos-bench-services - the paper's experiments over the shm transport,
 * each beside its native baseline measured in the same run.  It starts
 * its own netd and stord (from the build tree, or --sbin DIR).
 *
 *  1. ring round trip: a NOP through netd's ring (both sides spinning)
 *     vs a raw two-thread cache-line ping-pong (the floor) and a
 *     request/response ping-pong on two lines;
 *  2. fcntl(F_GETFL) dispatch through netd, spinning and with forced
 *     wake-ups (client spin 0, daemon --spin-us 0), vs the system call
 *     (paper, Fig. 7: 0.7x and 1/14x of native speed);
 *  3. the tmpfs write sweep through stord (16 MiB per chunk size) at batch
 *     1 and batch 32, from an ordinary buffer (copied through the data
 *     slot) and from a vos_buf_alloc one (zero copy), vs write(2) (paper,
 *     Fig. 3/4);
 *  4. fork N processes that each attach to netd, make one call and exit,
 *     vs the same with a local call, N = 1..64 (paper, Fig. 10);
 *  5. TCP 1-byte round trip on loopback through netd vs native;
 *  6. N = 1..8 client processes at once: NOP throughput through netd,
 *     and 4 KiB preads through stord vs pread(2) per process.
 *
 * Medians of --reps runs; every figure is printed with its baseline and
 * their ratio.  Never part of `make check`.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <virtuos/virtuos.h>

#include "bench_stats.h"

static int reps = 7;
static char sbin[512] = "servers";
static const char *csv_dir; /* --csv DIR: one CSV per figure there */
static char work[128];
static pid_t netd_pid, stord_pid;

static void cleanup(void);

static void die(const char *what, long err)
{
	fprintf(stderr, "vos-bench-services: %s: %s\n", what,
		strerror((int)(err < 0 ? -err : err)));
	exit(1);
}

/* A figure's CSV file in --csv DIR, with its header line, or NULL when
 * no --csv was given.  Every row also says the machine's state: the
 * one-line ping-pong of that run where the figure has one. */
static FILE *csv_open(const char *name, const char *header)
{
	char path[700];
	FILE *f;

	if (!csv_dir)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s.csv", csv_dir, name);
	f = fopen(path, "w");
	if (!f)
		die(path, errno);
	fprintf(f, "%s\n", header);
	return f;
}

/* ---- daemons -------------------------------------------------------------- */

static char cleanup_root[128];

static pid_t start(const char *prog, const char *sock, const char *a1,
		   const char *a2, const char *a3, const char *a4)
{
	char bin[700], rd[8] = { 0 };
	int p[2];
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/%s/%s", sbin, prog, prog);
	if (access(bin, X_OK) < 0)
		snprintf(bin, sizeof(bin), "%s/%s", sbin, prog);
	if (pipe(p) < 0)
		die("pipe", errno);
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 3);
		execl(bin, bin, "-f", "-c", "/dev/null", "-s", sock,
		      "--ready-fd", "3", "--log-level", "0", a1, a2, a3, a4,
		      (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	if (read(p[0], rd, sizeof(rd) - 1) <= 0) {
		fprintf(stderr, "vos-bench-services: %s did not start (give "
			"--sbin DIR: the build's servers/ or an sbin dir)\n",
			bin);
		exit(1);
	}
	close(p[0]);
	return pid;
}

static void stop(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGTERM);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

/* At exit, die() included: the daemons stopped, the files removed (only
 * in the parent: forked clients leave with _exit). */
static pid_t main_pid;

static void cleanup(void)
{
	char cmd[512];

	if (getpid() != main_pid)
		return;
	stop(&netd_pid);
	stop(&stord_pid);
	if (!work[0])
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf %s %s", work, cleanup_root);
	if (system(cmd) != 0)
		fprintf(stderr, "vos-bench-services: cleanup failed\n");
}

/* (Re)start netd with a spin budget; start stord once. */
static void daemons(const char *netd_spin_us)
{
	char s[256], root[256];

	stop(&netd_pid);
	snprintf(s, sizeof(s), "%s/netd.sock", work);
	netd_pid = start("netd", s, "--spin-us", netd_spin_us, NULL, NULL);
	if (!stord_pid) {
		snprintf(s, sizeof(s), "%s/stord.sock", work);
		snprintf(root, sizeof(root), "/dev/shm/vos-bench-%d",
			 (int)getpid());
		mkdir(root, 0755);
		stord_pid = start("stord", s, "--root", root, NULL, NULL);
	}
}

static struct vos_ctx *ctx_spin(int64_t spin_ns)
{
	struct vos_config cfg;
	struct vos_ctx *ctx;
	int r;

	vos_config_init(&cfg);
	cfg.spin_ns = spin_ns;
	r = vos_ctx_create(&cfg, &ctx);
	if (r < 0)
		die("vos_ctx_create (routes)", r);
	return ctx;
}

/* ---- 1: ring round trip vs ping-pong --------------------------------------- */

static _Atomic uint64_t line_a __attribute__((aligned(64)));
static _Atomic uint64_t line_b __attribute__((aligned(64)));
static _Atomic int pp_stop;

/* one line: odd values are requests, the next even value the answer;
 * two lines: the request in line_a, the answer copied into line_b */
static void *ponger(void *arg)
{
	bool two = arg != NULL;
	uint64_t seen = 0;

	while (!atomic_load_explicit(&pp_stop, memory_order_relaxed)) {
		uint64_t v = atomic_load_explicit(&line_a, memory_order_acquire);

		if (v == seen || (!two && !(v & 1)))
			continue;
		seen = v;
		if (two)
			atomic_store_explicit(&line_b, v, memory_order_release);
		else
			atomic_store_explicit(&line_a, v + 1,
					      memory_order_release);
	}
	return NULL;
}

/* ns per round trip, one run of n: one line (request and answer in it)
 * or two. */
static double pingpong_once(bool two, uint64_t n)
{
	pthread_t t;
	int64_t t0;
	double ns;

	atomic_store(&line_a, 0);
	atomic_store(&line_b, 0);
	atomic_store(&pp_stop, 0);
	pthread_create(&t, NULL, ponger, two ? &t : NULL);
	t0 = now_ns();
	for (uint64_t i = 0; i < n; i++) {
		if (two) {
			atomic_store_explicit(&line_a, i + 1,
					      memory_order_release);
			while (atomic_load_explicit(&line_b,
						    memory_order_acquire) != i + 1)
				;
		} else {
			atomic_store_explicit(&line_a, 2 * i + 1,
					      memory_order_release);
			while (atomic_load_explicit(&line_a,
						    memory_order_acquire) !=
			       2 * i + 2)
				;
		}
	}
	ns = (double)(now_ns() - t0) / (double)n;
	atomic_store(&pp_stop, 1);
	pthread_join(t, NULL);
	return ns;
}

/* ns per call, one run of n calls; batch > 1: fcntls submitted batch at a
 * time, all reaped before the next batch (kind 2). */
static double vos_once(struct vos_ctx *ctx, int fd, int n, int kind,
		       int batch)
{
	int64_t t0 = now_ns();

	if (kind == 2) {
		struct vos_req r[64];
		struct vos_cqe c[64];

		for (int i = 0; i < n; i += batch) {
			int got = 0;

			for (int j = 0; j < batch; j++) {
				vos_prep_fcntl(&r[j], fd, F_GETFL, 0);
				r[j].user_data = (uint64_t)j;
			}
			if (vos_submit(ctx, r, (unsigned)batch) != batch)
				die("vos_submit", -EBUSY);
			while (got < batch) {
				int k = vos_wait(ctx, c, 64, 1, -1);

				if (k < 0)
					die("vos_wait", k);
				for (int j = 0; j < k; j++)
					if (c[j].res < 0)
						die("fcntl through netd",
						    c[j].res);
				got += k;
			}
		}
		return (double)(now_ns() - t0) / n;
	}
	for (int i = 0; i < n; i++) {
		int x = kind == 0 ? vos_nop(ctx) :
			vos_fcntl(ctx, fd, F_GETFL, 0);

		if (x < 0)
			die("call through netd", x);
	}
	return (double)(now_ns() - t0) / n;
}

static double native_fcntl_once(int fd, int n)
{
	int64_t t0 = now_ns();

	for (int i = 0; i < n; i++)
		if (fcntl(fd, F_GETFL) < 0)
			die("fcntl", errno);
	return (double)(now_ns() - t0) / n;
}

/*
 * Parts 1 and 2 run interleaved: each of the reps measures the floors,
 * the native call and the calls through netd back to back (a few ms
 * each), and the ratios are taken within each rep, then their median.
 * The vCPUs of this machine kind move between near and far states every
 * few tens of seconds; a ratio of figures taken a minute apart would
 * compare two machines.
 */
static void part1_2(void)
{
	struct vos_config cfg;
	struct vos_ctx *ring, *ctx;
	char o[300];
	double pp1[15], pp2[15], nop[15], fcn[15], fcs[15], fcb[15];
	double r_nop1[15], r_nop2[15], r_fcs[15], r_fcb[15];
	double fc_wake[15], fcn_w[15], r_wake[15];
	int sfd, nfd, r;

	daemons("50");
	/* the ring itself: a NOP carried to netd (the shm transport alone) */
	vos_config_init(&cfg);
	snprintf(o, sizeof(o), "path=%s/netd.sock", work);
	cfg.transport = "shm";
	cfg.options = o;
	r = vos_ctx_create(&cfg, &ring);
	if (r < 0)
		die("shm context", r);
	/* fcntl(F_GETFL) dispatch on a netd socket */
	ctx = ctx_spin(-1);
	sfd = vos_socket(ctx, AF_INET, SOCK_STREAM, 0);
	nfd = socket(AF_INET, SOCK_STREAM, 0);
	if (sfd < 0 || nfd < 0)
		die("socket", sfd < 0 ? sfd : errno);
	vos_once(ring, -1, 20000, 0, 1); /* warm */
	vos_once(ctx, sfd, 20000, 1, 1);
	for (int i = 0; i < reps; i++) {
		pp1[i] = pingpong_once(false, 30000);
		pp2[i] = pingpong_once(true, 30000);
		nop[i] = vos_once(ring, -1, 30000, 0, 1);
		fcn[i] = native_fcntl_once(nfd, 60000);
		fcs[i] = vos_once(ctx, sfd, 30000, 1, 1);
		fcb[i] = vos_once(ctx, sfd, 64000, 2, 32);
		r_nop1[i] = nop[i] / pp1[i];
		r_nop2[i] = nop[i] / pp2[i];
		r_fcs[i] = fcn[i] / fcs[i];
		r_fcb[i] = fcn[i] / fcb[i];
	}
	vos_ctx_destroy(ring);
	vos_ctx_destroy(ctx);
	printf("\n1. Ring round trip (NOP through netd, both sides spinning; "
	       "medians of %d interleaved runs, ratios within each run)\n",
	       reps);
	printf("   %-34s %9.0f ns\n", "cache-line ping-pong, one line",
	       median(pp1, reps));
	printf("   %-34s %9.0f ns\n", "request/answer on two lines",
	       median(pp2, reps));
	printf("   %-34s %9.0f ns   %.2fx the one-line floor, %.2fx two "
	       "lines\n", "vos NOP through netd's ring", median(nop, reps),
	       median(r_nop1, reps), median(r_nop2, reps));

	daemons("0");
	ctx = ctx_spin(0);
	sfd = vos_socket(ctx, AF_INET, SOCK_STREAM, 0);
	if (sfd < 0)
		die("socket", sfd);
	for (int i = 0; i < reps; i++) {
		fcn_w[i] = native_fcntl_once(nfd, 20000);
		fc_wake[i] = vos_once(ctx, sfd, 1000, 1, 1);
		r_wake[i] = fc_wake[i] / fcn_w[i];
	}
	vos_ctx_destroy(ctx);
	close(nfd);
	daemons("50");
	printf("\n2. fcntl(F_GETFL) dispatch (paper: 0.7x native speed "
	       "spinning, 1/14x with wake-ups)\n");
	printf("   %-34s %9.0f ns   (ping-pong floor in the same runs: "
	       "%.0f ns)\n", "fcntl(2), native", median(fcn, reps),
	       median(pp1, reps));
	printf("   %-34s %9.0f ns   speed %.2fx native\n",
	       "through netd, spinning, batch 1", median(fcs, reps),
	       median(r_fcs, reps));
	printf("   %-34s %9.0f ns   speed %.2fx native\n",
	       "through netd, batch 32 (per call)", median(fcb, reps),
	       median(r_fcb, reps));
	printf("   %-34s %9.0f ns   speed 1/%.0f native\n",
	       "through netd, forced wake-ups", median(fc_wake, reps),
	       median(r_wake, reps));
	{
		FILE *f = csv_open("ring_dispatch", "figure,vos_ns,baseline,"
				   "baseline_ns,ratio,paper,pingpong_ns");

		if (f) {
			double p1 = median(pp1, reps);

			fprintf(f, "NOP round trip,%.0f,two-line ping-pong,%.0f,"
				"%.3f,,%.0f\n", median(nop, reps),
				median(pp2, reps), median(r_nop2, reps), p1);
			fprintf(f, "fcntl b=1,%.0f,fcntl(2),%.0f,"
				"%.3f,0.7,%.0f\n", median(fcs, reps),
				median(fcn, reps), median(r_fcs, reps), p1);
			fprintf(f, "fcntl b=32,%.0f,fcntl(2),%.0f,"
				"%.3f,,%.0f\n", median(fcb, reps),
				median(fcn, reps), median(r_fcb, reps), p1);
			fprintf(f, "fcntl wake-ups,%.0f,fcntl(2),"
				"%.0f,%.5f,%.5f,%.0f\n", median(fc_wake, reps),
				median(fcn_w, reps), 1.0 / median(r_wake, reps),
				1.0 / 14, p1);
			fclose(f);
		}
	}
}

/* ---- 3: tmpfs write sweep through stord ------------------------------------ */

#define SWEEP_TOTAL (16u << 20)

static double sweep_native(const char *path, uint32_t size, const char *buf)
{
	double v[1];

	for (int r = 0; r < 1; r++) {
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int64_t t0 = now_ns();

		for (uint32_t done = 0; done < SWEEP_TOTAL; done += size)
			if (write(fd, buf, size) != (ssize_t)size)
				die("write", errno);
		v[r] = (double)SWEEP_TOTAL / 1e6 /
		       ((double)(now_ns() - t0) / 1e9);
		close(fd);
	}
	return v[0];
}

static double sweep_vos(struct vos_ctx *ctx, const char *path, uint32_t size,
			const char *buf, int batch)
{
	double v[1];

	for (int r = 0; r < 1; r++) {
		int fd = vos_openat(ctx, AT_FDCWD, path,
				    O_WRONLY | O_CREAT | O_TRUNC, 0644);
		uint64_t off = 0;
		int inflight = 0;
		int64_t t0;

		if (fd < 0)
			die("open through stord", fd);
		t0 = now_ns();
		while (off < SWEEP_TOTAL) {
			if (batch == 1) {
				ssize_t n = vos_write(ctx, fd, buf, size);

				if (n <= 0)
					die("write through stord", n);
				off += (uint64_t)n;
				continue;
			}
			{
				/* batches of 32, two in flight: the next batch
				 * is queued while the service runs this one */
				struct vos_req q[32];
				struct vos_cqe c[64];
				int k = 0;

				while (inflight + batch <= 2 * batch &&
				       off < SWEEP_TOTAL) {
					for (k = 0; k < batch && off < SWEEP_TOTAL;
					     k++) {
						vos_prep_pwrite(&q[k], fd, buf, size,
								off);
						off += size;
					}
					if (vos_submit(ctx, q, (unsigned)k) != k)
						die("submit", EIO);
					inflight += k;
				}
				while (inflight > (off < SWEEP_TOTAL ? batch : 0)) {
					int n = vos_wait(ctx, c, 64, 1, -1);

					if (n < 0)
						die("wait", n);
					for (int i = 0; i < n; i++)
						if (c[i].res != (int64_t)size)
							die("short write", EIO);
					inflight -= n;
				}
			}
		}
		v[r] = (double)SWEEP_TOTAL / 1e6 /
		       ((double)(now_ns() - t0) / 1e9);
		vos_close(ctx, fd);
	}
	return v[0];
}

static void part3(void)
{
	static const uint32_t sizes[] = { 32, 256, 4096, 32768, 65536,
					  262144, 1u << 20, 2u << 20 };
	char native[256], routed[256];
	struct vos_ctx *ctx = ctx_spin(-1);
	char *buf = malloc(2u << 20), *zbuf;
	FILE *csv;
	int zfd;

	memset(buf, 'w', 2u << 20);
	snprintf(native, sizeof(native), "/dev/shm/vos-bench-%d/native",
		 (int)getpid());
	snprintf(routed, sizeof(routed), "/dev/shm/vos-bench-%d/routed",
		 (int)getpid());
	/* a zero-copy buffer: shared with stord (vos_buf_alloc) */
	zfd = vos_openat(ctx, AT_FDCWD, routed, O_WRONLY | O_CREAT, 0644);
	if (zfd < 0)
		die("open through stord", zfd);
	if (vos_buf_alloc(ctx, zfd, 2u << 20, (void **)&zbuf) < 0)
		die("vos_buf_alloc", ENOMEM);
	memset(zbuf, 'w', 2u << 20);
	printf("\n3. tmpfs write sweep, 16 MiB per size, MB/s (paper: >1x "
	       "below 64 KiB, 0.8x at 2 MiB; ratios within each run)\n"
	       "   b=1: the blocking wrapper; b=32: batches of 32 pwrites, two "
	       "batches in flight;\n   zc: the same from a vos_buf_alloc "
	       "buffer (zero copy)\n");
	printf("   %8s %9s %9s %6s %9s %6s %9s %6s %9s %6s\n", "chunk",
	       "write(2)", "b=1", "ratio", "b=32", "ratio", "zc b=1", "ratio",
	       "zc b=32", "ratio");
	csv = csv_open("tmpfs_write", "chunk,native_MBps,b1_MBps,b1_ratio,"
		       "b32_MBps,b32_ratio,zc_b1_MBps,zc_b1_ratio,zc_b32_MBps,"
		       "zc_b32_ratio");
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint32_t sz = sizes[i];
		double nv[15], b1v[15], b32v[15], z1v[15], z32v[15];
		double r1[15], r32[15], rz1[15], rz32[15];
		double n, b1, b32, z1, z32;

		/* interleaved: each run measures write(2) and the four ways
		 * back to back, and the ratios are taken within it */
		for (int r = 0; r < reps; r++) {
			nv[r] = sweep_native(native, sz, buf);
			b1v[r] = sweep_vos(ctx, routed, sz, buf, 1);
			b32v[r] = sweep_vos(ctx, routed, sz, buf, 32);
			z1v[r] = sweep_vos(ctx, routed, sz, zbuf, 1);
			z32v[r] = sweep_vos(ctx, routed, sz, zbuf, 32);
			r1[r] = b1v[r] / nv[r];
			r32[r] = b32v[r] / nv[r];
			rz1[r] = z1v[r] / nv[r];
			rz32[r] = z32v[r] / nv[r];
		}
		n = median(nv, reps);
		b1 = median(b1v, reps);
		b32 = median(b32v, reps);
		z1 = median(z1v, reps);
		z32 = median(z32v, reps);
		printf("   %8u %9.0f %9.0f %5.2fx %9.0f %5.2fx %9.0f %5.2fx "
		       "%9.0f %5.2fx\n", sz, n, b1, median(r1, reps), b32,
		       median(r32, reps), z1, median(rz1, reps), z32,
		       median(rz32, reps));
		if (csv)
			fprintf(csv, "%u,%.0f,%.0f,%.3f,%.0f,%.3f,%.0f,%.3f,"
				"%.0f,%.3f\n", sz, n, b1, median(r1, reps),
				b32, median(r32, reps), z1, median(rz1, reps),
				z32, median(rz32, reps));
	}
	printf("   (b=1, b=32: each chunk is copied into the 1 MiB data slot,\n"
	       "    larger chunks in slot-sized pieces; zc: the chunk is\n"
	       "    written from the shared buffer in place, one request)\n");
	vos_buf_free(ctx, zbuf);
	vos_close(ctx, zfd);
	vos_ctx_destroy(ctx);
	free(buf);
	if (csv)
		fclose(csv);
}

/* ---- 4: fork N attaching processes ------------------------------------------ */

static double fork_n(int n, bool routed)
{
	double v[15];

	for (int r = 0; r < reps; r++) {
		int64_t t0 = now_ns();

		for (int i = 0; i < n; i++) {
			pid_t p = fork();

			if (p == 0) {
				struct vos_ctx *ctx;
				int s;

				if (!routed) {
					s = socket(AF_INET, SOCK_STREAM, 0);
					_exit(s < 0);
				}
				if (vos_ctx_create(NULL, &ctx) < 0)
					_exit(1);
				s = vos_socket(ctx, AF_INET, SOCK_STREAM, 0);
				_exit(s < 0);
			}
		}
		for (int i = 0; i < n; i++) {
			int st;

			if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
				die("child", EIO);
		}
		v[r] = (double)(now_ns() - t0) / 1e3;
	}
	return median(v, reps);
}

static void part4(void)
{
	static const int ns[] = { 1, 2, 4, 8, 16, 32, 64 };
	FILE *csv = csv_open("fork_attach", "n,native_us,vos_us,ratio");

	printf("\n4. fork N processes that each make one socket and exit, us "
	       "(paper: 52x falling to 8x)\n");
	printf("   %4s %12s %14s %8s\n", "N", "native", "through netd",
	       "ratio");
	for (unsigned i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		double a = fork_n(ns[i], false), b = fork_n(ns[i], true);

		printf("   %4d %12.0f %14.0f %7.1fx\n", ns[i], a, b, b / a);
		if (csv)
			fprintf(csv, "%d,%.0f,%.0f,%.3f\n", ns[i], a, b, b / a);
	}
	if (csv)
		fclose(csv);
}

/* ---- 5: TCP 1-byte round trip ---------------------------------------------- */

static double tcp_rtt(struct vos_ctx *ctx)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	int one = 1, l, s, a;
	double v[15];
	char c = 'x';

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (ctx) {
		l = vos_socket(ctx, AF_INET, SOCK_STREAM, 0);
		vos_bind(ctx, l, (struct sockaddr *)&sin, sizeof(sin));
		vos_listen(ctx, l, 1);
		vos_getsockname(ctx, l, (struct sockaddr *)&sin, &sl);
		s = vos_socket(ctx, AF_INET, SOCK_STREAM, 0);
		vos_connect(ctx, s, (struct sockaddr *)&sin, sizeof(sin));
		a = vos_accept(ctx, l, NULL, NULL, 0);
		vos_setsockopt(ctx, s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		vos_setsockopt(ctx, a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	} else {
		l = socket(AF_INET, SOCK_STREAM, 0);
		bind(l, (struct sockaddr *)&sin, sizeof(sin));
		listen(l, 1);
		getsockname(l, (struct sockaddr *)&sin, &sl);
		s = socket(AF_INET, SOCK_STREAM, 0);
		if (connect(s, (struct sockaddr *)&sin, sizeof(sin)) < 0)
			die("connect", errno);
		a = accept(l, NULL, NULL);
		setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (l < 0 || s < 0 || a < 0)
		die("tcp setup", EIO);
	for (int r = 0; r < reps; r++) {
		enum { N = 5000 };
		int64_t t0 = now_ns();

		for (int i = 0; i < N; i++) {
			/* one side sends, the other echoes: one round trip */
			if (ctx) {
				if (vos_send(ctx, s, &c, 1, 0) != 1 ||
				    vos_recv(ctx, a, &c, 1, 0) != 1 ||
				    vos_send(ctx, a, &c, 1, 0) != 1 ||
				    vos_recv(ctx, s, &c, 1, 0) != 1)
					die("tcp through netd", EIO);
			} else if (send(s, &c, 1, 0) != 1 ||
				   recv(a, &c, 1, 0) != 1 ||
				   send(a, &c, 1, 0) != 1 ||
				   recv(s, &c, 1, 0) != 1) {
				die("tcp", errno);
			}
		}
		v[r] = (double)(now_ns() - t0) / N;
	}
	if (ctx) {
		vos_close(ctx, a);
		vos_close(ctx, s);
		vos_close(ctx, l);
	} else {
		close(a);
		close(s);
		close(l);
	}
	return median(v, reps);
}

static void part5(void)
{
	struct vos_ctx *ctx = ctx_spin(-1);
	double n = tcp_rtt(NULL), v = tcp_rtt(ctx);

	vos_ctx_destroy(ctx);
	printf("\n5. TCP 1-byte round trip on loopback (one process plays both "
	       "ends: 4 calls per round trip)\n");
	printf("   %-34s %9.0f ns\n", "native", n);
	printf("   %-34s %9.0f ns   %.2fx native\n", "through netd", v, v / n);
	{
		FILE *f = csv_open("tcp_rtt", "native_ns,vos_ns,ratio,paper");

		if (f) {
			fprintf(f, "%.0f,%.0f,%.3f,1.0\n", n, v, v / n);
			fclose(f);
		}
	}
}

/* ---- 6: N client processes at once ------------------------------------------ */

/*
 * One client process's work for part 6, until the end time the parent
 * sends (the same for all): kind 0, NOPs through netd in batches of 32; kind 1, 4 KiB
 * preads through stord (batch 1, the blocking wrapper) of a 1 MiB file;
 * kind 2, the same preads with pread(2).  Writes its count to out.
 */
static void scale_child(int kind, int go, int out, const char *file)
{
	struct vos_ctx *ctx = NULL;
	char buf[4096];
	uint64_t count = 0;
	int fd = -1;
	int64_t end;

	if (kind == 0) {
		struct vos_config cfg;
		char o[300];

		vos_config_init(&cfg);
		snprintf(o, sizeof(o), "path=%s/netd.sock", work);
		cfg.transport = "shm";
		cfg.options = o;
		if (vos_ctx_create(&cfg, &ctx) < 0 || vos_nop(ctx) < 0)
			_exit(1);
	} else if (kind == 1) {
		struct vos_config cfg;

		/* a shallow queue: stord's 1 MiB slots (the routes) times
		 * 8 processes must stay within its bound per uid */
		vos_config_init(&cfg);
		cfg.queue_depth = 8;
		if (vos_ctx_create(&cfg, &ctx) < 0)
			_exit(1);
		fd = vos_openat(ctx, AT_FDCWD, file, O_RDONLY, 0);
	} else {
		fd = open(file, O_RDONLY);
	}
	if (fd < 0 && kind)
		_exit(1);
	/* the same window for all: the parent sends its end (8 bytes, one
	 * atomic pipe write per child) */
	if (read(go, &end, sizeof(end)) != sizeof(end))
		_exit(1);
	while (now_ns() < end) {
		for (int k = 0; k < 16; k++) {
			if (kind == 0) {
				struct vos_req r[32];
				struct vos_cqe cq[32];
				int got = 0;

				for (int j = 0; j < 32; j++) {
					vos_prep_nop(&r[j]);
					r[j].user_data = (uint64_t)j;
				}
				if (vos_submit(ctx, r, 32) != 32)
					_exit(1);
				while (got < 32) {
					int n = vos_wait(ctx, cq, 32, 1, -1);

					if (n < 0)
						_exit(1);
					got += n;
				}
				count += 32;
			} else {
				off_t off = (off_t)((count * 4096) % (1u << 20));
				ssize_t n = kind == 1
					? vos_pread(ctx, fd, buf, 4096, off)
					: pread(fd, buf, 4096, off);

				if (n != 4096)
					_exit(1);
				count++;
			}
		}
	}
	if (write(out, &count, sizeof(count)) != sizeof(count))
		_exit(1);
	if (ctx)
		vos_ctx_destroy(ctx);
	_exit(0);
}

/* Operations per second of n processes of kind together (one run). */
static double scale_once(int kind, int n, const char *file)
{
	enum { DUR_MS = 300 };
	int go[2], out[2];
	pid_t pids[16];
	uint64_t total = 0;

	if (pipe(go) < 0 || pipe(out) < 0)
		die("pipe", errno);
	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0)
			die("fork", errno);
		if (pids[i] == 0) {
			close(go[1]);
			close(out[0]);
			scale_child(kind, go[0], out[1], file);
		}
	}
	close(go[0]);
	close(out[1]);
	/* (the children attach first; then one window, the same end, for
	 * all of them) */
	usleep(100000);
	{
		int64_t end = now_ns() + (int64_t)DUR_MS * 1000000;

		for (int i = 0; i < n; i++)
			if (write(go[1], &end, sizeof(end)) != sizeof(end))
				die("start", errno);
	}
	for (int i = 0; i < n; i++) {
		uint64_t c = 0;
		int st;

		if (read(out[0], &c, sizeof(c)) != sizeof(c))
			die("a client process failed", EIO);
		total += c;
		waitpid(pids[i], &st, 0);
	}
	close(go[1]);
	close(out[0]);
	return (double)total / ((double)DUR_MS / 1000.0);
}

static void part6(void)
{
	static const int ns[] = { 1, 2, 4, 8 };
	char file[256];
	char *buf = calloc(1, 1u << 20);
	double base = 0;
	FILE *csv;
	int fd;

	snprintf(file, sizeof(file), "/dev/shm/vos-bench-%d/scale",
		 (int)getpid());
	fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || !buf || write(fd, buf, 1u << 20) != 1 << 20)
		die("scale file", errno);
	close(fd);
	free(buf);
	printf("\n6. N client processes at once on %ld CPUs (medians of %d "
	       "runs of 300 ms)\n", sysconf(_SC_NPROCESSORS_ONLN), reps);
	printf("   NOP batches of 32 through netd, aggregate Mops/s "
	       "(and vs one process)\n");
	csv = csv_open("scale_nop", "n,Mops,vs_one");
	for (unsigned i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		double v[15];

		for (int r = 0; r < reps; r++)
			v[r] = scale_once(0, ns[i], file);
		if (i == 0)
			base = median(v, reps);
		printf("      N=%d %8.2f Mops/s   %.2fx one process\n", ns[i],
		       median(v, reps) / 1e6, median(v, reps) / base);
		if (csv)
			fprintf(csv, "%d,%.3f,%.3f\n", ns[i],
				median(v, reps) / 1e6, median(v, reps) / base);
	}
	if (csv)
		fclose(csv);
	csv = csv_open("scale_pread", "n,native_kops_per_proc,"
		       "vos_kops_per_proc,ratio");
	printf("   4 KiB pread of a tmpfs file, batch 1: per-process kops/s, "
	       "through stord vs pread(2) (ratio within each run)\n");
	for (unsigned i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		double v[15], nat[15], ratio[15];

		for (int r = 0; r < reps; r++) {
			nat[r] = scale_once(2, ns[i], file) / ns[i];
			v[r] = scale_once(1, ns[i], file) / ns[i];
			ratio[r] = v[r] / nat[r];
		}
		printf("      N=%d  pread(2) %8.1f   stord %8.1f   %.2fx\n",
		       ns[i], median(nat, reps) / 1e3, median(v, reps) / 1e3,
		       median(ratio, reps));
		if (csv)
			fprintf(csv, "%d,%.1f,%.1f,%.3f\n", ns[i],
				median(nat, reps) / 1e3, median(v, reps) / 1e3,
				median(ratio, reps));
	}
	if (csv)
		fclose(csv);
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: vos-bench-services [options]\n"
"The paper's experiments over the shm transport, each beside its native\n"
"baseline from the same run.  Starts its own netd and stord.\n\n"
"  --sbin DIR   where netd and stord are (default: ./servers, the build\n"
"               tree; or an installed sbin directory)\n"
"  --reps N     runs per figure; the median is printed (default 7)\n"
"  --only LIST  parts to run, e.g. 1,2,5 (default all: 1..6)\n"
"  --csv DIR    also write each figure as DIR/<figure>.csv (bench/run\n"
"               draws them)\n"
"  -h, --help   this text\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "sbin", required_argument, NULL, 's' },
		{ "reps", required_argument, NULL, 'r' },
		{ "only", required_argument, NULL, 'o' },
		{ "csv", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *only = "123456";
	char routes[256], root[128];
	FILE *f;
	int c;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 's': snprintf(sbin, sizeof(sbin), "%s", optarg); break;
		case 'r': reps = atoi(optarg); break;
		case 'o': only = optarg; break;
		case 'c': csv_dir = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (reps < 1 || reps > 15) {
		fprintf(stderr, "vos-bench-services: --reps takes 1..15\n");
		return 2;
	}
	main_pid = getpid();
	snprintf(work, sizeof(work), "/tmp/vos-bench-XXXXXX");
	if (!mkdtemp(work))
		die("mkdtemp", errno);
	snprintf(root, sizeof(root), "/dev/shm/vos-bench-%d", (int)getpid());
	snprintf(routes, sizeof(routes), "%s/routes.conf", work);
	f = fopen(routes, "w");
	if (!f)
		die("routes file", errno);
	fprintf(f, "service netd shm path=%s/netd.sock\n"
		   "service stord shm path=%s/stord.sock,slot=1048576\n"
		   "family inet netd\npath %s stord\n", work, work, root);
	fclose(f);
	setenv("VOS_ROUTES", routes, 1);
	snprintf(cleanup_root, sizeof(cleanup_root), "%s", root);
	atexit(cleanup);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	daemons("50");
	printf("vos-bench-services: medians of %d runs; CPUs online: %ld\n",
	       reps, sysconf(_SC_NPROCESSORS_ONLN));
	if (strchr(only, '1') || strchr(only, '2'))
		part1_2();
	if (strchr(only, '3'))
		part3();
	if (strchr(only, '4'))
		part4();
	if (strchr(only, '5'))
		part5();
	if (strchr(only, '6'))
		part6();
	return 0; /* cleanup() stops the daemons and removes the files */
}
