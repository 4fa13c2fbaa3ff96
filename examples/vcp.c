/*
 * vcp - copy a file with batched, pipelined reads and writes.
 *
 * Up to DEPTH chunks are in flight at once: each chunk is read with pread
 * and, as soon as the read completes, written with pwrite at the same
 * offset from the same buffer; when the write completes the buffer takes
 * the next unread chunk.  Short reads and writes are continued, so the
 * copy is exact whatever the file system does.
 */
#define _GNU_SOURCE /* accept4, signalfd, statx, strcasestr */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <virtuos/virtuos.h>

#include "number_arg.h"

struct chunk {
	uint64_t off;     /* where this chunk starts */
	uint32_t len;     /* bytes in this chunk */
	uint32_t done;    /* bytes read (while reading) or written */
	bool writing;
	char *buf;
};

static void usage(FILE *f)
{
	fprintf(f,
"usage: vcp [options] SOURCE DEST\n"
"Copy SOURCE to DEST with pipelined reads and writes (libvirtuos).\n"
"\n"
"  -C, --chunk BYTES   size of one read/write (default 1048576)\n"
"  -d, --depth N       chunks in flight at once (default 16)\n"
"  -s, --sync          fsync DEST before finishing\n"
"  -v, --verbose       print bytes and throughput to stderr\n"
"  -h, --help          this text\n"
"\n"
"DEST is created (with SOURCE's permission bits) or truncated.\n"
"Exit status: 0 copied, 1 an I/O error (named on stderr), 2 bad usage.\n");
}

static void prep(struct vos_req *r, int in, int out, struct chunk *c,
		 unsigned idx)
{
	if (c->writing)
		vos_prep_pwrite(r, out, c->buf + c->done, c->len - c->done,
				c->off + c->done);
	else
		vos_prep_pread(r, in, c->buf + c->done, c->len - c->done,
			       c->off + c->done);
	r->user_data = idx;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "chunk", required_argument, NULL, 'C' },
		{ "depth", required_argument, NULL, 'd' },
		{ "sync", no_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t chunk = 1 << 20;
	unsigned depth = 16, nreq = 0, busy = 0;
	bool sync = false, verbose = false;
	struct vos_config cfg;
	struct vos_ctx *ctx;
	struct statx stx;
	struct chunk *chunks;
	struct vos_req *reqs;
	struct vos_cqe *cqes;
	uint64_t size, next = 0;
	struct timespec t0, t1;
	int in, out, opt, ret;

	while ((opt = getopt_long(argc, argv, "C:d:svh", opts, NULL)) != -1) {
		switch (opt) {
		case 'C':
			chunk = (uint32_t)number_arg("--chunk", optarg, 512, 1 << 30);
			break;
		case 'd': depth = (unsigned)number_arg("--depth", optarg, 1, 1024); break;
		case 's': sync = true; break;
		case 'v': verbose = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}

	vos_config_init(&cfg);
	cfg.queue_depth = depth;
	ret = vos_ctx_create(&cfg, &ctx);
	if (ret < 0) {
		fprintf(stderr, "vcp: vos_ctx_create: %s\n", strerror(-ret));
		return 1;
	}
	in = vos_openat(ctx, AT_FDCWD, argv[optind], O_RDONLY | O_CLOEXEC, 0);
	if (in < 0) {
		fprintf(stderr, "vcp: %s: %s\n", argv[optind], strerror(-in));
		return 1;
	}
	ret = vos_statx(ctx, in, "", AT_EMPTY_PATH, STATX_SIZE | STATX_MODE,
			&stx);
	if (ret < 0 || !S_ISREG(stx.stx_mode)) {
		fprintf(stderr, "vcp: %s: %s\n", argv[optind],
			ret < 0 ? strerror(-ret) : "not a regular file");
		return 1;
	}
	size = stx.stx_size;
	out = vos_openat(ctx, AT_FDCWD, argv[optind + 1],
			 O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			 stx.stx_mode & 07777);
	if (out < 0) {
		fprintf(stderr, "vcp: %s: %s\n", argv[optind + 1],
			strerror(-out));
		return 1;
	}

	chunks = calloc(depth, sizeof(*chunks));
	reqs = calloc(depth, sizeof(*reqs));
	cqes = calloc(depth, sizeof(*cqes));
	if (!chunks || !reqs || !cqes)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < depth && next < size; i++) {
		struct chunk *c = &chunks[i];

		c->buf = malloc(chunk);
		if (!c->buf)
			return 1;
		c->off = next;
		c->len = (uint32_t)(size - next < chunk ? size - next : chunk);
		next += c->len;
		prep(&reqs[nreq++], in, out, c, i);
		busy++;
	}

	while (busy) {
		int n;

		if (nreq) {
			ret = vos_submit(ctx, reqs, nreq);
			if (ret != (int)nreq) {
				fprintf(stderr, "vcp: submit: %d\n", ret);
				return 1;
			}
			nreq = 0;
		}
		n = vos_wait(ctx, cqes, depth, 1, -1);
		if (n < 0) {
			fprintf(stderr, "vcp: wait: %s\n", strerror(-n));
			return 1;
		}
		for (int k = 0; k < n; k++) {
			unsigned idx = (unsigned)cqes[k].user_data;
			struct chunk *c = &chunks[idx];
			int64_t res = cqes[k].res;

			if (res < 0 || (res == 0 && !c->writing)) {
				fprintf(stderr, "vcp: %s at offset %llu: %s\n",
					c->writing ? "write" : "read",
					(unsigned long long)(c->off + c->done),
					res < 0 ? strerror((int)-res)
						: "source shrank while copying");
				return 1;
			}
			c->done += (uint32_t)res;
			if (c->done == c->len) {
				if (c->writing) {
					/* this buffer takes the next chunk */
					if (next >= size) {
						busy--;
						continue;
					}
					c->off = next;
					c->len = (uint32_t)(size - next < chunk
								    ? size - next
								    : chunk);
					next += c->len;
				}
				c->writing = !c->writing;
				c->done = 0;
			}
			prep(&reqs[nreq++], in, out, c, idx);
		}
	}
	if (sync && (ret = vos_fsync(ctx, out)) < 0) {
		fprintf(stderr, "vcp: fsync: %s\n", strerror(-ret));
		return 1;
	}
	if ((ret = vos_close(ctx, out)) < 0) {
		fprintf(stderr, "vcp: close: %s\n", strerror(-ret));
		return 1;
	}
	vos_close(ctx, in);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (verbose) {
		double s = (double)(t1.tv_sec - t0.tv_sec) +
			   (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

		fprintf(stderr, "vcp: %llu bytes in %.3f s (%.1f MB/s) on %s\n",
			(unsigned long long)size, s,
			s > 0 ? (double)size / s / 1e6 : 0.0,
			vos_ctx_describe(ctx));
	}
	for (unsigned i = 0; i < depth; i++)
		free(chunks[i].buf);
	free(chunks);
	free(reqs);
	free(cqes);
	vos_ctx_destroy(ctx);
	return 0;
}
