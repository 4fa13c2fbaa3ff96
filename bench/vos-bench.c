/*
 * vos-bench - libvirtuos against its baselines, measured in the same run.
 *
 * Part 1: per-operation cost (ns/op, median of --reps runs) of NOP, a 4 KiB
 * pread from tmpfs and a 32 B pwrite to tmpfs, at batch 1 and batch 32.
 * The reads and writes come twice: at sequential offsets (each starts where
 * the one before ended: vos merges such runs into one vectored call) and
 * at scattered ones (no two adjacent: nothing to merge).  Every column does
 * the same calls at the same offsets.  Columns:
 *   syscall      the blocking system call (NOP: getppid)
 *   liburing     raw liburing, submit + wait per batch
 *   vos          vos on io_uring-local, uring backend, routing as shipped
 *   vos-ring     the same, but punted file I/O forced through the ring
 *                (VOS_LOCAL_PUNTED=ring): the same kernel work as the
 *                liburing column, so the ratio is the API's own overhead
 *   vos-compat   vos on the compat backend (libaio + worker threads)
 * Ratios: vos-ring/liburing (overhead on the same path), and
 * vos/best(syscall, liburing) (what a user gets vs the best they could do).
 *
 * Part 2: the paper's Figure 3/4 sweep: 16 MiB written to a fresh tmpfs
 * file in chunks of 32 B .. 2 MiB; MB/s for write(2), vos at batch 1 (the
 * blocking wrapper) and vos at batch 32, and their ratio to write(2).
 *
 * Before both, a cross-core cache-line ping-pong says what state the two
 * vCPUs were in (see reference/machine-limits.md: it changes every few
 * tens of seconds, and cross-core figures with it).
 *
 * --csv DIR also writes part 1 as DIR/local_ops.csv (bench/run draws it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <virtuos/virtuos.h>

#include "bench_stats.h"

#define MAXB 32

static int reps = 9;
static int ops_per_rep = 8192;
static const char *csv_dir; /* --csv DIR */
static double pp_ns = -1;   /* the ping-pong of this run */

static void die(const char *what, int err)
{
	fprintf(stderr, "vos-bench: %s: %s\n", what, strerror(err));
	exit(1);
}

/* ---- machine state --------------------------------------------------- */

static _Atomic int pp_line __attribute__((aligned(64)));

static void *pong(void *arg)
{
	cpu_set_t set;
	int n = *(int *)arg;

	CPU_ZERO(&set);
	CPU_SET(1, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	for (int i = 0; i < n; i++) {
		/* acquire/release: each side sees the other's last write */
		while (atomic_load_explicit(&pp_line, memory_order_acquire) !=
		       2 * i + 1)
			;
		atomic_store_explicit(&pp_line, 2 * i + 2, memory_order_release);
	}
	return NULL;
}

/* Median round trip of a cache line between CPU 0 and CPU 1, in ns. */
static double pingpong_ns(void)
{
	enum { N = 20000, R = 5 };
	double v[R];
	cpu_set_t set, old;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return -1;
	sched_getaffinity(0, sizeof(old), &old);
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);
	for (int r = 0; r < R; r++) {
		pthread_t th;
		int n = N;
		int64_t t0;

		atomic_store(&pp_line, 0);
		pthread_create(&th, NULL, pong, &n);
		t0 = now_ns();
		for (int i = 0; i < N; i++) {
			atomic_store_explicit(&pp_line, 2 * i + 1,
					      memory_order_release);
			while (atomic_load_explicit(&pp_line,
						    memory_order_acquire) !=
			       2 * i + 2)
				;
		}
		v[r] = (double)(now_ns() - t0) / N;
		pthread_join(th, NULL);
	}
	sched_setaffinity(0, sizeof(old), &old);
	return median(v, R);
}

/* ---- part 1: per-op costs -------------------------------------------- */

enum op { OP_NOP, OP_PREAD, OP_PREAD_SCAT, OP_PWRITE, OP_PWRITE_SCAT, NOPS };
static const char *const op_names[NOPS] = {
	"nop", "pread 4 KiB tmpfs, sequential", "pread 4 KiB tmpfs, scattered",
	"pwrite 32 B tmpfs, sequential", "pwrite 32 B tmpfs, scattered",
};
static const char *const op_csv[NOPS] = { /* (no commas) */
	"nop", "pread_4k_seq", "pread_4k_scattered", "pwrite_32b_seq",
	"pwrite_32b_scattered",
};
#define FILE_SIZE (1u << 20)

static int bench_fd;
static char bench_buf[MAXB][4096];

static void reset_file(void)
{
	static char zero[FILE_SIZE];

	if (ftruncate(bench_fd, 0) < 0 ||
	    pwrite(bench_fd, zero, FILE_SIZE, 0) != FILE_SIZE)
		die("tmpfs file", errno);
}

static bool is_read(enum op op)
{
	return op == OP_PREAD || op == OP_PREAD_SCAT;
}

static uint32_t op_size(enum op op)
{
	return is_read(op) ? 4096 : 32;
}

/* Offset of the i-th op: sequential, or every other slot (never
 * adjacent), wrapping inside the file. */
static uint64_t op_off(enum op op, int i)
{
	uint64_t size = op_size(op), slots = FILE_SIZE / size;

	if (op == OP_PREAD_SCAT || op == OP_PWRITE_SCAT)
		return ((uint64_t)i * 2 % slots) * size;
	return ((uint64_t)i % slots) * size;
}

static double run_syscall(enum op op, int batch)
{
	int64_t t0 = now_ns();

	/* a system call has no batches, but it gets the same buffers as
	 * the batched columns, so that caches treat them alike */
	for (int i = 0; i < ops_per_rep; i++) {
		char *buf = bench_buf[i % batch];
		long r;

		if (op == OP_NOP)
			r = syscall(SYS_getppid);
		else if (is_read(op))
			r = pread(bench_fd, buf, 4096, (off_t)op_off(op, i));
		else
			r = pwrite(bench_fd, buf, 32, (off_t)op_off(op, i));
		if (r < 0)
			die("syscall", errno);
	}
	return (double)(now_ns() - t0) / ops_per_rep;
}

static double run_liburing(struct io_uring *ring, enum op op, int batch)
{
	int64_t t0 = now_ns();

	for (int i = 0; i < ops_per_rep; i += batch) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		for (int b = 0; b < batch; b++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

			if (op == OP_NOP)
				io_uring_prep_nop(sqe);
			else if (is_read(op))
				io_uring_prep_read(sqe, bench_fd, bench_buf[b],
						   4096, op_off(op, i + b));
			else
				io_uring_prep_write(sqe, bench_fd, bench_buf[b],
						    32, op_off(op, i + b));
		}
		if (io_uring_submit_and_wait(ring, (unsigned)batch) < 0)
			die("io_uring_submit_and_wait", EIO);
		io_uring_for_each_cqe(ring, head, cqe) {
			if (cqe->res < 0)
				die("liburing op", -cqe->res);
			seen++;
		}
		io_uring_cq_advance(ring, seen);
		if ((int)seen != batch) { /* wait for stragglers */
			for (; (int)seen < batch; seen++) {
				if (io_uring_wait_cqe(ring, &cqe) < 0)
					die("io_uring_wait_cqe", EIO);
				io_uring_cqe_seen(ring, cqe);
			}
		}
	}
	return (double)(now_ns() - t0) / ops_per_rep;
}

static double run_vos(struct vos_ctx *ctx, enum op op, int batch)
{
	struct vos_req reqs[MAXB];
	struct vos_cqe cqes[MAXB];
	int64_t t0 = now_ns();

	for (int i = 0; i < ops_per_rep; i += batch) {
		int got = 0;

		for (int b = 0; b < batch; b++) {
			if (op == OP_NOP)
				vos_prep_nop(&reqs[b]);
			else if (is_read(op))
				vos_prep_pread(&reqs[b], bench_fd, bench_buf[b],
					       4096, op_off(op, i + b));
			else
				vos_prep_pwrite(&reqs[b], bench_fd,
						bench_buf[b], 32,
						op_off(op, i + b));
		}
		if (vos_submit(ctx, reqs, (unsigned)batch) != batch)
			die("vos_submit", EIO);
		while (got < batch) {
			int n = vos_wait(ctx, cqes, MAXB, (unsigned)(batch - got),
					 -1);

			if (n < 0)
				die("vos_wait", -n);
			for (int k = 0; k < n; k++)
				if (cqes[k].res < 0)
					die("vos op", (int)-cqes[k].res);
			got += n;
		}
	}
	return (double)(now_ns() - t0) / ops_per_rep;
}

static struct vos_ctx *make_ctx(const char *backend, const char *punted)
{
	struct vos_config cfg;
	struct vos_ctx *ctx;
	char opt[64];
	int r;

	if (punted)
		setenv("VOS_LOCAL_PUNTED", punted, 1);
	vos_config_init(&cfg);
	cfg.transport = "io_uring-local";
	snprintf(opt, sizeof(opt), "backend=%s", backend);
	cfg.options = opt;
	r = vos_ctx_create(&cfg, &ctx);
	unsetenv("VOS_LOCAL_PUNTED");
	if (r < 0)
		die("vos_ctx_create", -r);
	return ctx;
}

enum { C_SYS, C_URING, C_VOS, C_VOSRING, C_COMPAT, NCOL };

static void part1(void)
{
	struct io_uring ring;
	struct vos_ctx *ctx[NCOL] = { 0 };
	FILE *csv = NULL;
	static const int batches[2] = { 1, 32 };

	if (io_uring_queue_init(64, &ring, 0) < 0)
		die("io_uring_queue_init", EIO);
	ctx[C_VOS] = make_ctx("uring", NULL);
	ctx[C_VOSRING] = make_ctx("uring", "ring");
	ctx[C_COMPAT] = make_ctx("compat", NULL);
	if (csv_dir) {
		char path[700];

		snprintf(path, sizeof(path), "%s/local_ops.csv", csv_dir);
		csv = fopen(path, "w");
		if (!csv)
			die(path, errno);
		fprintf(csv, "op,batch,syscall_ns,liburing_ns,vos_ns,"
			"vos_ring_ns,vos_compat_ns,ring_vs_liburing,"
			"vos_vs_best,pingpong_ns\n");
	}

	printf("\n## Per-operation cost, ns/op (median of %d runs of %d ops)\n\n",
	       reps, ops_per_rep);
	printf("| op | batch | syscall | liburing | vos | vos-ring | "
	       "vos-compat | vos-ring / liburing | vos / best baseline |\n");
	printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (int op = 0; op < NOPS; op++) {
		for (int bi = 0; bi < 2; bi++) {
			int batch = batches[bi];
			double v[NCOL][64], med[NCOL], best;

			/* interleave the columns run by run, so a change of
			 * machine state hits them all alike */
			reset_file();
			for (int r = 0; r < reps; r++) {
				for (int c = 0; c < NCOL; c++) {
					if (c == C_SYS)
						v[c][r] = run_syscall(op, batch);
					else if (c == C_URING)
						v[c][r] = run_liburing(&ring, op,
								       batch);
					else
						v[c][r] = run_vos(ctx[c], op,
								  batch);
				}
			}
			for (int c = 0; c < NCOL; c++)
				med[c] = median(v[c], reps);
			best = med[C_SYS] < med[C_URING] ? med[C_SYS]
							 : med[C_URING];
			printf("| %s | %d | %.0f | %.0f | %.0f | %.0f | %.0f | "
			       "%.2fx | %.2fx |\n",
			       op_names[op], batch, med[C_SYS], med[C_URING],
			       med[C_VOS], med[C_VOSRING], med[C_COMPAT],
			       med[C_VOSRING] / med[C_URING], med[C_VOS] / best);
			fflush(stdout);
			if (csv)
				fprintf(csv, "%s,%d,%.0f,%.0f,%.0f,%.0f,%.0f,"
					"%.3f,%.3f,%.0f\n", op_csv[op], batch,
					med[C_SYS], med[C_URING], med[C_VOS],
					med[C_VOSRING], med[C_COMPAT],
					med[C_VOSRING] / med[C_URING],
					med[C_VOS] / best, pp_ns);
		}
	}
	printf("\nvos-ring / liburing: the API's overhead on the same kernel "
	       "path (1.10x = 10%% more time).\nvos / best baseline: time "
	       "relative to the faster of syscall and liburing (below 1: vos "
	       "is faster).\nSequential: vos merges each batch into one "
	       "preadv/pwritev; scattered: one call per op.\nvos NOP "
	       "completes in the transport without a "
	       "system call: it measures the API alone.\n");
	if (csv)
		fclose(csv);
	for (int c = C_VOS; c < NCOL; c++)
		vos_ctx_destroy(ctx[c]);
	io_uring_queue_exit(&ring);

}

/* ---- part 2: the Figure 3/4 sweep ------------------------------------- */

#define SWEEP_TOTAL (16u << 20)

/* MB/s writing SWEEP_TOTAL to a fresh tmpfs file in chunks of size. */
static double sweep_write(uint32_t size, const char *buf)
{
	int fd = memfd_create("vos-sweep", MFD_CLOEXEC);
	int64_t t0 = now_ns(), dt;

	for (uint64_t off = 0; off < SWEEP_TOTAL; off += size)
		if (write(fd, buf, size) != (ssize_t)size)
			die("write", errno);
	dt = now_ns() - t0;
	close(fd);
	return (double)SWEEP_TOTAL / ((double)dt / 1e9) / 1e6;
}

static double sweep_vos(struct vos_ctx *ctx, uint32_t size, int batch,
			const char *buf)
{
	int fd = memfd_create("vos-sweep", MFD_CLOEXEC);
	uint64_t off = 0;
	int64_t t0 = now_ns(), dt;
	struct vos_req reqs[MAXB];
	struct vos_cqe cqes[MAXB];

	while (off < SWEEP_TOTAL) {
		int n = 0, got = 0;

		if (batch == 1) {
			if (vos_pwrite(ctx, fd, buf, size, (off_t)off) !=
			    (ssize_t)size)
				die("vos_pwrite", EIO);
			off += size;
			continue;
		}
		for (; n < batch && off < SWEEP_TOTAL; n++, off += size) {
			vos_prep_pwrite(&reqs[n], fd, buf, size, off);
		}
		if (vos_submit(ctx, reqs, (unsigned)n) != n)
			die("vos_submit", EIO);
		while (got < n) {
			int k = vos_wait(ctx, cqes, MAXB, (unsigned)(n - got), -1);

			if (k < 0)
				die("vos_wait", -k);
			for (int i = 0; i < k; i++)
				if (cqes[i].res != size)
					die("vos pwrite", EIO);
			got += k;
		}
	}
	dt = now_ns() - t0;
	close(fd);
	return (double)SWEEP_TOTAL / ((double)dt / 1e9) / 1e6;
}

static void part2(void)
{
	int sreps = reps < 3 ? reps : 3;
	struct vos_ctx *ctx = make_ctx("uring", NULL);
	char *buf = malloc(2u << 20);

	memset(buf, 'w', 2u << 20);
	printf("\n## Figure 3/4 sweep: 16 MiB to a fresh tmpfs file, MB/s "
	       "(median of %d)\n\n", sreps);
	printf("| chunk | write(2) | vos batch 1 | vos batch 32 | "
	       "batch 1 / write(2) | batch 32 / write(2) |\n");
	printf("|---:|---:|---:|---:|---:|---:|\n");
	for (uint32_t size = 32; size <= (2u << 20); size *= 2) {
		double w[3], v1[3], v32[3], mw, m1, m32;

		for (int r = 0; r < sreps; r++) {
			w[r] = sweep_write(size, buf);
			v1[r] = sweep_vos(ctx, size, 1, buf);
			v32[r] = sweep_vos(ctx, size, 32, buf);
		}
		mw = median(w, sreps);
		m1 = median(v1, sreps);
		m32 = median(v32, sreps);
		if (size < 1024)
			printf("| %u B", size);
		else if (size < (1u << 20))
			printf("| %u KiB", size >> 10);
		else
			printf("| %u MiB", size >> 20);
		printf(" | %.0f | %.0f | %.0f | %.2fx | %.2fx |\n", mw, m1, m32,
		       m1 / mw, m32 / mw);
		fflush(stdout);
	}
	free(buf);
	vos_ctx_destroy(ctx);
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: vos-bench [options]\n"
"libvirtuos against native system calls and raw liburing, in one run.\n"
"\n"
"  -r, --reps N      runs per figure; the median is printed (default 9)\n"
"  -n, --ops N       operations per run in part 1 (default 8192)\n"
"  -1, --ops-only    part 1 only (per-operation costs)\n"
"  -2, --sweep-only  part 2 only (the Figure 3/4 write sweep)\n"
"      --csv DIR     also write part 1 as DIR/local_ops.csv\n"
"  -h, --help        this text\n"
"\n"
"Prints Markdown tables: each figure with its baselines and the ratios.\n"
"Not part of the test suite; figures depend on the machine's state.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reps", required_argument, NULL, 'r' },
		{ "ops", required_argument, NULL, 'n' },
		{ "ops-only", no_argument, NULL, '1' },
		{ "sweep-only", no_argument, NULL, '2' },
		{ "csv", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool do1 = true, do2 = true;
	double pp;
	char path[] = "/dev/shm/vos-bench-XXXXXX";
	int opt;

	while ((opt = getopt_long(argc, argv, "r:n:12h", opts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			reps = atoi(optarg);
			if (reps < 1 || reps > 64) {
				fprintf(stderr, "--reps: 1 to 64\n");
				return 2;
			}
			break;
		case 'n':
			ops_per_rep = atoi(optarg);
			if (ops_per_rep < MAXB || ops_per_rep % MAXB) {
				fprintf(stderr, "--ops: a multiple of %d\n", MAXB);
				return 2;
			}
			break;
		case '1': do2 = false; break;
		case '2': do1 = false; break;
		case 'c': csv_dir = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	bench_fd = mkstemp(path);
	if (bench_fd < 0)
		die(path, errno);
	unlink(path);
	setenv("VOS_LOG", "error", 0);

	pp = pp_ns = pingpong_ns();
	{
		char date[64];
		time_t t = time(NULL);

		strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&t));
		printf("# vos-bench, %s, %ld CPUs\n\n", date,
		       sysconf(_SC_NPROCESSORS_ONLN));
	}
	if (pp < 0)
		printf("cross-core ping-pong: one CPU only\n");
	else
		printf("cross-core cache-line ping-pong: %.0f ns round trip "
		       "(%s)\n", pp,
		       pp < 300 ? "both vCPUs running together"
				: "vCPUs not co-scheduled: cross-core figures "
				  "are worse than usual");
	if (do1)
		part1();
	if (do2)
		part2();
	close(bench_fd);
	return 0;
}
