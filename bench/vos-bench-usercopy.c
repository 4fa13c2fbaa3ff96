/*
 * vos-bench-usercopy - what a valid buffer pays for the guarded copies
 * that turn a bad pointer into -EFAULT (libvirtuos/wire/user_mem.c,
 * doc/semantics.md "Bad buffers").
 *
 * Per size, in one run: libc's memcpy called through a pointer (what the
 * client did before: its baseline), vos__user_read (a guarded memcpy) and
 * vos__user_probe_write (what a read's buffer pays before it is sent);
 * each a median of --reps runs of --iters copies, ns per copy, and the
 * guarded copy's extra ns and ratio to the baseline.  A copy is work on
 * one CPU, not a round trip: there is no ping-pong floor to put beside it.
 * Never part of `make check`.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_stats.h"
#include "user_mem.h"

static void *(*volatile plain)(void *, const void *, size_t) = memcpy;

enum what { PLAIN, GUARDED, PROBE };

static double once(enum what w, char *dst, const char *src, size_t n,
		   long iters)
{
	int64_t t0 = now_ns();

	for (long i = 0; i < iters; i++) {
		switch (w) {
		case PLAIN:
			plain(dst, src, n);
			break;
		case GUARDED:
			if (vos__user_read(dst, src, n))
				abort();
			break;
		case PROBE:
			if (vos__user_probe_write(dst, n))
				abort();
			break;
		}
		__asm__ __volatile__("" : : "r"(dst) : "memory");
	}
	return (double)(now_ns() - t0) / (double)iters;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 8, 64, 512, 4096, 65536 };
	int reps = 7;
	long iters = 200000;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--iters") && i + 1 < argc)
			iters = atol(argv[++i]);
		else {
			printf("usage: vos-bench-usercopy [--reps N] "
			       "[--iters N]\n");
			return strcmp(argv[i], "--help") ? 2 : 0;
		}
	}
	if (reps < 5 || reps > 99 || iters < 1000) {
		fprintf(stderr, "vos-bench-usercopy: --reps 5..99, "
				"--iters >= 1000\n");
		return 2;
	}
	printf("guarded copies (ns per copy, median of %d runs of %ld; "
	       "baseline: memcpy)\n", reps, iters);
	printf("%8s %10s %10s %8s %8s %10s\n", "bytes", "memcpy", "guarded",
	       "extra", "ratio", "probe");
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t n = sizes[s];
		char *src = calloc(1, n), *dst = calloc(1, n);
		double p[99], g[99], q[99], mp, mg, mq;
		long it = n >= 4096 ? iters / 10 : iters;

		if (!src || !dst)
			return 1;
		/* interleaved, so a slow moment of the host hits all three */
		for (int r = 0; r < reps; r++) {
			p[r] = once(PLAIN, dst, src, n, it);
			g[r] = once(GUARDED, dst, src, n, it);
			q[r] = once(PROBE, dst, src, n, it);
		}
		mp = median(p, reps);
		mg = median(g, reps);
		mq = median(q, reps);
		printf("%8zu %10.1f %10.1f %8.1f %7.2fx %10.1f\n", n, mp, mg,
		       mg - mp, mg / mp, mq);
		free(src);
		free(dst);
	}
	return 0;
}
