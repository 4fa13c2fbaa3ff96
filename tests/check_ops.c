/*
 * check_ops.c - every operation, through both the async API and the
 * blocking wrappers, on tmpfs and on a disk file system, on sockets,
 * pipes, with poll, timeouts and cancellation.  `make check` runs this
 * once per backend ($VOS_LOCAL_BACKEND).
 */
#include "config.h"

#include <dirent.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "testutil.h"

/* ---- files ------------------------------------------------------------ */

static void file_ops_in(const char *base)
{
	struct vos_ctx *ctx = tu_ctx();
	char dir[256], path[300], buf[64] = { 0 }, a[8], b[8];
	struct iovec iov[2];
	struct statx stx;
	int dfd, fd;

	dfd = tu_dir(base, dir, sizeof(dir));
	fd = vos_openat(ctx, dfd, "f", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
			0640);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vos_openat(ctx, dfd, "f", O_RDWR | O_CREAT | O_EXCL,
				    0640), -EEXIST);

	/* write/read at the file position */
	ck_assert_int_eq(vos_write(ctx, fd, "hello ", 6), 6);
	ck_assert_int_eq(vos_write(ctx, fd, "world", 5), 5);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(vos_read(ctx, fd, buf, 6), 6);
	ck_assert_int_eq(vos_read(ctx, fd, buf + 6, sizeof(buf) - 6), 5);
	ck_assert_str_eq(buf, "hello world");
	ck_assert_int_eq(vos_read(ctx, fd, buf, sizeof(buf)), 0); /* EOF */

	/* positional */
	ck_assert_int_eq(vos_pwrite(ctx, fd, "W", 1, 6), 1);
	memset(buf, 0, sizeof(buf));
	ck_assert_int_eq(vos_pread(ctx, fd, buf, 5, 6), 5);
	ck_assert_str_eq(buf, "World");

	/* vectored, at an offset and at the position */
	iov[0] = (struct iovec){ "ab", 2 };
	iov[1] = (struct iovec){ "cd", 2 };
	ck_assert_int_eq(vos_writev(ctx, fd, iov, 2, 100), 4);
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	iov[0] = (struct iovec){ a, 3 };
	iov[1] = (struct iovec){ b, 1 };
	ck_assert_int_eq(vos_readv(ctx, fd, iov, 2, 100), 4);
	ck_assert_str_eq(a, "abc");
	ck_assert_str_eq(b, "d");
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	ck_assert_int_eq(vos_readv(ctx, fd, iov, 2, -1), 4);
	ck_assert_str_eq(a, "hel");
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 4);

	ck_assert_int_eq(vos_fsync(ctx, fd), 0);
	ck_assert_int_eq(vos_fdatasync(ctx, fd), 0);

	ck_assert_int_eq(vos_statx(ctx, dfd, "f", 0, STATX_SIZE | STATX_MODE,
				   &stx), 0);
	ck_assert_uint_eq(stx.stx_size, 104);
	ck_assert_uint_eq(stx.stx_mode & 0777, 0640);
	ck_assert_int_eq(vos_statx(ctx, dfd, "nope", 0, STATX_SIZE, &stx),
			 -ENOENT);

	ck_assert_int_eq(vos_ftruncate(ctx, fd, 3), 0);
	ck_assert_int_eq(vos_statx(ctx, fd, "", AT_EMPTY_PATH, STATX_SIZE,
				   &stx), 0);
	ck_assert_uint_eq(stx.stx_size, 3);
	ck_assert_int_eq(vos_fallocate(ctx, fd, 0, 0, 8192), 0);
	ck_assert_int_eq(vos_statx(ctx, fd, "", AT_EMPTY_PATH, STATX_SIZE,
				   &stx), 0);
	ck_assert_uint_eq(stx.stx_size, 8192);

	/* directories and names */
	ck_assert_int_eq(vos_mkdirat(ctx, dfd, "sub", 0700), 0);
	ck_assert_int_eq(vos_mkdirat(ctx, dfd, "sub", 0700), -EEXIST);
	ck_assert_int_eq(vos_renameat(ctx, dfd, "f", dfd, "sub/g", 0), 0);
	ck_assert_int_eq(vos_renameat(ctx, dfd, "f", dfd, "h", 0), -ENOENT);
	ck_assert_int_eq(vos_unlinkat(ctx, dfd, "sub", AT_REMOVEDIR),
			 -ENOTEMPTY);
	ck_assert_int_eq(vos_unlinkat(ctx, dfd, "sub/g", 0), 0);
	ck_assert_int_eq(vos_unlinkat(ctx, dfd, "sub", AT_REMOVEDIR), 0);
	ck_assert_int_eq(vos_openat(ctx, dfd, "f", O_RDONLY, 0), -ENOENT);

	ck_assert_int_eq(vos_close(ctx, fd), 0);
	ck_assert_int_eq(vos_close(ctx, fd), -EBADF);
	close(dfd);
	snprintf(path, sizeof(path), "%s", dir);
	ck_assert_int_eq(rmdir(path), 0);
	vos_ctx_destroy(ctx);
}

START_TEST(file_ops_tmpfs)
{
	file_ops_in("/dev/shm");
}
END_TEST

START_TEST(file_ops_disk)
{
	file_ops_in(tu_diskbase());
}
END_TEST

/* 32 writes then 32 reads in one submission each; every byte checked. */
static void batch_in(const char *base)
{
	enum { N = 32, SZ = 4096 };
	struct vos_ctx *ctx = tu_ctx();
	static char out[N][SZ], in[N][SZ];
	struct vos_req r[N];
	struct vos_cqe c[N];
	char dir[256];
	int dfd, fd, got;

	dfd = tu_dir(base, dir, sizeof(dir));
	fd = openat(dfd, "batch", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	for (int i = 0; i < N; i++) {
		memset(out[i], 'A' + i % 26, SZ);
		vos_prep_pwrite(&r[i], fd, out[i], SZ, (uint64_t)i * SZ);
		r[i].user_data = (uint64_t)i;
	}
	ck_assert_int_eq(vos_submit(ctx, r, N), N);
	for (got = 0; got < N;) {
		int n = vos_wait(ctx, c, N, 1, 10LL * 1000000000);

		ck_assert_int_gt(n, 0);
		for (int i = 0; i < n; i++)
			ck_assert_int_eq(c[i].res, SZ);
		got += n;
	}
	for (int i = 0; i < N; i++) {
		vos_prep_pread(&r[i], fd, in[N - 1 - i], SZ,
			       (uint64_t)(N - 1 - i) * SZ);
		r[i].user_data = (uint64_t)(N - 1 - i);
	}
	ck_assert_int_eq(vos_submit(ctx, r, N), N);
	ck_assert_int_eq(vos_wait(ctx, c, N, N, 10LL * 1000000000), N);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(c[i].res, SZ);
	ck_assert_int_eq(memcmp(in, out, sizeof(in)), 0);
	close(fd);
	unlinkat(dfd, "batch", 0);
	close(dfd);
	rmdir(dir);
	vos_ctx_destroy(ctx);
}

START_TEST(file_batch_tmpfs)
{
	batch_in("/dev/shm");
}
END_TEST

START_TEST(file_batch_disk)
{
	batch_in(tu_diskbase());
}
END_TEST

/* Adjacent reads and writes in one batch run as one vectored call (see
 * local.c): results must be exactly what separate calls would give. */
static void coalesce_in(const char *base)
{
	struct vos_ctx *ctx = tu_ctx();
	static char data[64][100], back[64][100];
	char dir[256], pos[3][8], *bad = (char *)(uintptr_t)8;
	struct vos_req r[64];
	struct vos_cqe c[64];
	int64_t res[64];
	int dfd = tu_dir(base, dir, sizeof(dir));
	int fd = openat(dfd, "m", O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	ck_assert_int_ge(fd, 0);
	/* learn the file's routing first, as a long-running program has */
	ck_assert_int_eq(vos_pwrite(ctx, fd, "x", 1, 0), 1);
	ck_assert_int_eq(vos_pread(ctx, fd, pos[0], 1, 0), 1);

	/* 64 contiguous writes, then 64 contiguous reads */
	for (int i = 0; i < 64; i++) {
		memset(data[i], 'a' + i % 26, 100);
		vos_prep_pwrite(&r[i], fd, data[i], 100, (uint64_t)i * 100);
		r[i].user_data = (uint64_t)i;
	}
	ck_assert_int_eq(vos_submit(ctx, r, 64), 64);
	ck_assert_int_eq(vos_wait(ctx, c, 64, 64, 10LL * 1000000000), 64);
	for (int i = 0; i < 64; i++) {
		ck_assert_uint_eq(c[i].user_data, (uint64_t)i);
		ck_assert_int_eq(c[i].res, 100);
		vos_prep_pread(&r[i], fd, back[i], 100, (uint64_t)i * 100);
		r[i].user_data = (uint64_t)i;
	}
	ck_assert_int_eq(vos_submit(ctx, r, 64), 64);
	ck_assert_int_eq(vos_wait(ctx, c, 64, 64, 10LL * 1000000000), 64);
	for (int i = 0; i < 64; i++)
		ck_assert_int_eq(c[i].res, 100);
	ck_assert_int_eq(memcmp(data, back, sizeof(data)), 0);

	/* past the end: 6400 bytes in the file; reads at 6300..6600 */
	for (int i = 0; i < 4; i++) {
		vos_prep_pread(&r[i], fd, back[i], 100, 6300 + (uint64_t)i * 100);
		r[i].user_data = (uint64_t)i;
	}
	r[1].len = 50; /* 6400..6450: nothing there */
	r[2].off = 6450;
	r[3].off = 6550;
	ck_assert_int_eq(vos_submit(ctx, r, 4), 4);
	ck_assert_int_eq(vos_wait(ctx, c, 4, 4, 10LL * 1000000000), 4);
	for (int i = 0; i < 4; i++)
		res[c[i].user_data] = c[i].res;
	ck_assert_int_eq(res[0], 100);
	ck_assert_int_eq(res[1], 0);
	ck_assert_int_eq(res[2], 0);
	ck_assert_int_eq(res[3], 0);

	/* a bad buffer in the middle fails alone; the others are served */
	vos_prep_pwrite(&r[0], fd, data[0], 100, 0);
	vos_prep_pwrite(&r[1], fd, bad, 100, 100);
	vos_prep_pwrite(&r[2], fd, data[2], 100, 200);
	vos_prep_pread(&r[3], fd, back[0], 100, 0);
	vos_prep_pread(&r[4], fd, bad, 100, 100);
	vos_prep_pread(&r[5], fd, back[2], 100, 200);
	for (int i = 0; i < 6; i++)
		r[i].user_data = (uint64_t)i;
	ck_assert_int_eq(vos_submit(ctx, r, 6), 6);
	ck_assert_int_eq(vos_wait(ctx, c, 6, 6, 10LL * 1000000000), 6);
	for (int i = 0; i < 6; i++)
		res[c[i].user_data] = c[i].res;
	ck_assert_int_eq(res[0], 100);
	ck_assert_int_eq(res[1], -EFAULT);
	ck_assert_int_eq(res[2], 100);
	ck_assert_int_eq(res[3], 100);
	ck_assert_int_eq(res[4], -EFAULT);
	ck_assert_int_eq(res[5], 100);

	/* at the file position: 4 + 4 + 2 of 10 bytes, position ends at 10 */
	ck_assert_int_eq(ftruncate(fd, 0), 0);
	ck_assert_int_eq(pwrite(fd, "abcdefghij", 10, 0), 10);
	ck_assert_int_eq(lseek(fd, 0, SEEK_SET), 0);
	for (int i = 0; i < 3; i++) {
		memset(pos[i], 0, sizeof(pos[i]));
		vos_prep_read(&r[i], fd, pos[i], 4);
		r[i].user_data = (uint64_t)i;
	}
	ck_assert_int_eq(vos_submit(ctx, r, 3), 3);
	ck_assert_int_eq(vos_wait(ctx, c, 3, 3, 10LL * 1000000000), 3);
	for (int i = 0; i < 3; i++)
		res[c[i].user_data] = c[i].res;
	ck_assert_int_eq(res[0], 4);
	ck_assert_int_eq(res[1], 4);
	ck_assert_int_eq(res[2], 2);
	ck_assert_str_eq(pos[0], "abcd");
	ck_assert_str_eq(pos[1], "efgh");
	ck_assert_str_eq(pos[2], "ij");
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 10);

	close(fd);
	unlinkat(dfd, "m", 0);
	close(dfd);
	rmdir(dir);
	vos_ctx_destroy(ctx);
}

START_TEST(coalesced_tmpfs)
{
	coalesce_in("/dev/shm");
}
END_TEST

START_TEST(coalesced_disk)
{
	coalesce_in(tu_diskbase());
}
END_TEST

/* Data not in the page cache: the no-wait attempt says EAGAIN and the
 * read must take the asynchronous path, and still be right. */
START_TEST(file_read_uncached)
{
	enum { SZ = 1 << 20 };
	struct vos_ctx *ctx = tu_ctx();
	char dir[256], *buf = malloc(SZ), *back = malloc(SZ);
	int dfd = tu_dir(tu_diskbase(), dir, sizeof(dir));
	int fd = openat(dfd, "cold", O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	ck_assert_int_ge(fd, 0);
	for (int i = 0; i < SZ; i++)
		buf[i] = (char)(i * 7);
	ck_assert_int_eq(write(fd, buf, SZ), SZ);
	ck_assert_int_eq(fsync(fd), 0);
	posix_fadvise(fd, 0, SZ, POSIX_FADV_DONTNEED);
	ck_assert_int_eq(vos_pread(ctx, fd, back, SZ, 0), SZ);
	ck_assert_int_eq(memcmp(buf, back, SZ), 0);
	close(fd);
	unlinkat(dfd, "cold", 0);
	close(dfd);
	rmdir(dir);
	free(buf);
	free(back);
	vos_ctx_destroy(ctx);
}
END_TEST

/* Evict file kfd (size sz) from the page cache, then cache its first
 * page alone (readahead off); whether the page at 60 KiB is still out
 * (map: the file, mapped, for mincore). */
static bool cache_first_page(int kfd, void *map, size_t sz, char *tmp)
{
	unsigned char vec[16];

	ck_assert_int_eq(posix_fadvise(kfd, 0, (off_t)sz, POSIX_FADV_DONTNEED),
			 0);
	ck_assert_int_eq(posix_fadvise(kfd, 0, (off_t)sz, POSIX_FADV_RANDOM),
			 0);
	ck_assert_int_eq(pread(kfd, tmp, 4096, 0), 4096);
	ck_assert_int_eq(mincore(map, 16 * 4096, vec), 0);
	return (vec[0] & 1) && !(vec[15] & 1);
}

/* A read whose first page alone is cached: the non-blocking first try
 * gets that page; the call must still return all it asked for, as
 * pread(2) does (it returned 4096 of 65536, on every route).  Locally and
 * through stord (tests/services/ops.test): the file is made and evicted
 * through the kernel, read through the context. */
START_TEST(file_read_partly_cached)
{
	enum { SZ = 1 << 20, N = 65536, TRIES = 8 };
	struct vos_ctx *ctx = tu_ctx();
	char dir[256], path[300], *buf = malloc(SZ), *back = malloc(N);
	int dfd = tu_dir(tu_diskbase(), dir, sizeof(dir)), kfd, vfd;
	int cold = 0, rounds = 0;
	struct statfs sf;
	void *map;

	ck_assert_ptr_nonnull(buf);
	ck_assert_ptr_nonnull(back);
	snprintf(path, sizeof(path), "%s/partly", dir);
	kfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(kfd, 0);
	for (int i = 0; i < SZ; i++)
		buf[i] = (char)(i * 7 + i / 4096);
	ck_assert_int_eq(write(kfd, buf, SZ), SZ);
	ck_assert_int_eq(fsync(kfd), 0);
	map = mmap(NULL, SZ, PROT_READ, MAP_SHARED, kfd, 0);
	ck_assert_ptr_ne(map, MAP_FAILED);
	for (int t = 0; t < TRIES; t++) {
		struct iovec iov[3] = { { back, 100 }, { back + 100, N / 2 },
					{ back + 100 + N / 2, N / 2 - 100 } };
		ssize_t n;

		/* pread */
		cold += cache_first_page(kfd, map, SZ, back);
		memset(back, 0, N);
		vfd = vos_openat(ctx, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
		ck_assert_int_ge(vfd, 0);
		n = vos_pread(ctx, vfd, back, N, 0);
		ck_assert_msg(n == N, "try %d: pread said %zd of %d", t, n, N);
		ck_assert_int_eq(memcmp(back, buf, N), 0);
		/* preadv, three pieces (the first shorter than the page) */
		cold += cache_first_page(kfd, map, SZ, back);
		memset(back, 0, N);
		n = vos_readv(ctx, vfd, iov, 3, 0);
		ck_assert_msg(n == N, "try %d: preadv said %zd of %d", t, n, N);
		ck_assert_int_eq(memcmp(back, buf, N), 0);
		/* read at the file position (0: just opened), which then
		 * stands at N */
		cold += cache_first_page(kfd, map, SZ, back);
		memset(back, 0, N);
		n = vos_read(ctx, vfd, back, N);
		ck_assert_msg(n == N, "try %d: read said %zd of %d", t, n, N);
		ck_assert_int_eq(memcmp(back, buf, N), 0);
		ck_assert_int_eq(vos_read(ctx, vfd, back, 10), 10);
		ck_assert_int_eq(memcmp(back, buf + N, 10), 0);
		ck_assert_int_eq(vos_close(ctx, vfd), 0);
		rounds += 3;
	}
	/* and at the end of the file: short, as pread(2) is */
	vfd = vos_openat(ctx, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
	cache_first_page(kfd, map, SZ, back);
	ck_assert_int_eq(vos_pread(ctx, vfd, back, N, SZ - 1000), 1000);
	ck_assert_int_eq(memcmp(back, buf + SZ - 1000, 1000), 0);
	ck_assert_int_eq(vos_pread(ctx, vfd, back, N, SZ), 0);
	ck_assert_int_eq(vos_close(ctx, vfd), 0);
	/* the case must have happened where the page cache can be evicted
	 * (a memory file system cannot: everything is always there) */
	ck_assert_int_eq(fstatfs(kfd, &sf), 0);
	if (sf.f_type != TMPFS_MAGIC && sf.f_type != RAMFS_MAGIC)
		ck_assert_msg(cold > 0, "the first page alone was never "
			      "cached (%d tries)", rounds);
	printf("file_read_partly_cached: %d of %d reads began with only the "
	       "first page cached; all returned %d\n", cold, rounds, N);
	munmap(map, SZ);
	close(kfd);
	ck_assert_int_eq(unlink(path), 0);
	tu_dir_close(ctx, dfd); /* (stord's, when it serves the directory) */
	rmdir(dir);
	free(buf);
	free(back);
	vos_ctx_destroy(ctx);
}
END_TEST

/* ---- directory listings: getdents through the context ------------------ */

struct names {
	char **v;
	size_t n, cap;
};

static void names_add(struct names *ns, const char *rel, const char *name,
		      unsigned type)
{
	char buf[600];

	if (ns->n == ns->cap) {
		ns->cap = ns->cap ? ns->cap * 2 : 256;
		ns->v = realloc(ns->v, ns->cap * sizeof(*ns->v));
		ck_assert_ptr_nonnull(ns->v);
	}
	snprintf(buf, sizeof(buf), "%s/%s:%u", rel, name, type);
	ns->v[ns->n] = strdup(buf);
	ck_assert_ptr_nonnull(ns->v[ns->n]);
	ns->n++;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Walk root/rel with opendir/readdir: the reference. */
static void walk_libc(const char *root, const char *rel, struct names *ns)
{
	char p[600];
	struct dirent *e;
	DIR *d;

	snprintf(p, sizeof(p), "%s%s", root, rel);
	d = opendir(p);
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		names_add(ns, rel, e->d_name, e->d_type);
		if (e->d_type == DT_DIR && strcmp(e->d_name, ".") &&
		    strcmp(e->d_name, "..")) {
			char sub[600];

			snprintf(sub, sizeof(sub), "%s/%s", rel, e->d_name);
			walk_libc(root, sub, ns);
		}
	}
	closedir(d);
}

/* Walk root/rel with vos_getdents into a buffer of bufsz bytes. */
static void walk_vos(struct vos_ctx *ctx, const char *root, const char *rel,
		     size_t bufsz, struct names *ns)
{
	char p[600], *buf = malloc(bufsz);
	int fd;
	ssize_t n;

	ck_assert_ptr_nonnull(buf);
	snprintf(p, sizeof(p), "%s%s", root, rel);
	fd = vos_openat(ctx, AT_FDCWD, p, O_RDONLY | O_DIRECTORY | O_CLOEXEC,
			0);
	ck_assert_int_ge(fd, 0);
	while ((n = vos_getdents(ctx, fd, buf, bufsz)) > 0) {
		for (ssize_t off = 0; off < n;) {
			struct dirent64 *e = (void *)(buf + off);

			ck_assert_int_gt(e->d_reclen, 0);
			ck_assert_int_le(off + e->d_reclen, n);
			names_add(ns, rel, e->d_name, e->d_type);
			if (e->d_type == DT_DIR && strcmp(e->d_name, ".") &&
			    strcmp(e->d_name, "..")) {
				char sub[600];

				snprintf(sub, sizeof(sub), "%s/%s", rel,
					 e->d_name);
				walk_vos(ctx, root, sub, bufsz, ns);
			}
			off += e->d_reclen;
		}
	}
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(vos_close(ctx, fd), 0);
	free(buf);
}

/* Lengths and argument order as the kernel takes them, on every route: a
 * length above MAX_RW_COUNT is clamped (a 10-byte file reads whole into a
 * small buffer), one above SSIZE_MAX is -EFAULT after the fd's -EBADF, and
 * fallocate looks at its fd before its range. */
START_TEST(lengths_as_the_kernel)
{
	struct vos_ctx *ctx = tu_ctx();
	char dir[256], path[300];
	char *buf = calloc(1, 64);
	int dfd = tu_dir(tu_diskbase(), dir, sizeof(dir)), nf, vf, closed;
	/* (volatile: the compiler would refuse the lengths for a 64-byte
	 * buffer, which is the point) */
	volatile size_t big = (size_t)VOS_MAX_RW_LEN + 1, huge = (size_t)1 << 40,
			past = (size_t)1 << 47, max = SIZE_MAX;
	int nd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	long rn;

	snprintf(path, sizeof(path), "%s/f", dir);
	nf = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(nf, 0);
	ck_assert_int_eq(write(nf, "0123456789", 10), 10);
	vf = vos_openat(ctx, dfd, "f", O_RDWR, 0);
	ck_assert_int_ge(vf, 0);
	closed = dup(nf);
	ck_assert_int_ge(closed, 0);
	close(closed);
#define SAME(call_native, call_vos)                                        \
	do {                                                                \
		rn = (long)(call_native);                                   \
		if (rn < 0)                                                 \
			rn = -errno;                                        \
		ck_assert_msg(rn == (long)(call_vos), "%s: kernel %ld",     \
			      #call_vos, rn);                               \
	} while (0)
	SAME(pread(nf, buf, big, 0), vos_pread(ctx, vf, buf, big, 0));
	ck_assert_int_eq(rn, 10);
	SAME(pread(nf, buf, huge, 0), vos_pread(ctx, vf, buf, huge, 0));
	ck_assert_int_eq(rn, 10);
	SAME(read(nf, buf, max), vos_read(ctx, vf, buf, max));
	ck_assert_int_eq(rn, -EFAULT);
	/* past the top of user space: -EFAULT, nothing read into buf */
	SAME(read(nf, buf, past), vos_read(ctx, vf, buf, past));
	ck_assert_int_eq(rn, -EFAULT);
	SAME(read(nd, buf, max), vos_read(ctx, dfd, buf, max));
	ck_assert_int_eq(rn, -EFAULT);
	SAME(pwrite(nf, buf, max, 0), vos_pwrite(ctx, vf, buf, max, 0));
	SAME(read(closed, buf, max), vos_read(ctx, closed, buf, max));
	ck_assert_int_eq(rn, -EBADF);
	SAME(fallocate(closed, 0, 0, 0), vos_fallocate(ctx, closed, 0, 0, 0));
	ck_assert_int_eq(rn, -EBADF);
	SAME(fallocate(nf, 0, 0, 0), vos_fallocate(ctx, vf, 0, 0, 0));
	ck_assert_int_eq(rn, -EINVAL);
	SAME(fallocate(nf, 0, -1, 10), vos_fallocate(ctx, vf, 0, -1, 10));
	SAME(fallocate(nf, 0, 0, -10), vos_fallocate(ctx, vf, 0, 0, -10));
#undef SAME
	ck_assert_int_eq(pread(nf, buf, 64, 0), 10); /* nothing was written */
	ck_assert_int_eq(memcmp(buf, "0123456789", 10), 0);
	ck_assert_int_eq(vos_close(ctx, vf), 0);
	close(nf);
	close(nd);
	unlink(path);
	tu_dir_close(ctx, dfd);
	rmdir(dir);
	free(buf);
	vos_ctx_destroy(ctx);
}
END_TEST

/* A tree listed through the context (locally, or through stord under
 * tests/services/ops.test) names exactly what readdir(3) names. */
START_TEST(getdents_tree)
{
	struct vos_ctx *ctx = tu_ctx();
	char dir[256], p[600], name[256], tiny[16];
	int dfd = tu_dir(tu_diskbase(), dir, sizeof(dir));
	size_t sizes[] = { 300, 4096, 65536 };
	struct names ref = { 0 };
	int fd;

	/* 3 directories of 150 files with names of 1 to 150 characters, a
	 * nested one, a symlink, a FIFO */
	for (int d = 0; d < 3; d++) {
		snprintf(p, sizeof(p), "%s/d%d", dir, d);
		ck_assert_int_eq(mkdir(p, 0755), 0);
		for (int f = 0; f < 150; f++) {
			memset(name, 'a' + (f % 26), (size_t)f + 1);
			name[f + 1] = '\0';
			name[0] = (char)('0' + d);
			snprintf(p, sizeof(p), "%s/d%d/%s", dir, d, name);
			fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
			ck_assert_int_ge(fd, 0);
			close(fd);
		}
	}
	snprintf(p, sizeof(p), "%s/d1/inner", dir);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/d1/inner/link", dir);
	ck_assert_int_eq(symlink("../d0", p), 0);
	snprintf(p, sizeof(p), "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	walk_libc(dir, "", &ref);
	qsort(ref.v, ref.n, sizeof(*ref.v), cmp_str);
	ck_assert_uint_eq(ref.n, 2 + 4 + 3 * 152 + 1 + 3);
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct names got = { 0 };

		walk_vos(ctx, dir, "", sizes[i], &got);
		qsort(got.v, got.n, sizeof(*got.v), cmp_str);
		ck_assert_msg(got.n == ref.n, "buffer %zu: %zu names, readdir "
			      "%zu", sizes[i], got.n, ref.n);
		for (size_t k = 0; k < ref.n; k++) {
			ck_assert_str_eq(got.v[k], ref.v[k]);
			free(got.v[k]);
		}
		free(got.v);
	}
	/* a buffer too small for one entry: the system call's -EINVAL; a
	 * file is not a directory: -ENOTDIR */
	snprintf(p, sizeof(p), "%s/d0", dir);
	fd = vos_openat(ctx, AT_FDCWD, p, O_RDONLY | O_DIRECTORY, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vos_getdents(ctx, fd, tiny, sizeof(tiny)), -EINVAL);
	ck_assert_int_eq(vos_close(ctx, fd), 0);
	snprintf(p, sizeof(p), "%s/d0/0", dir);
	fd = vos_openat(ctx, AT_FDCWD, p, O_RDONLY, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vos_getdents(ctx, fd, name, sizeof(name)), -ENOTDIR);
	ck_assert_int_eq(vos_close(ctx, fd), 0);
	printf("getdents_tree: %zu names in 5 directories, the same as "
	       "readdir with buffers of 300, 4096 and 65536 bytes\n", ref.n);
	for (size_t k = 0; k < ref.n; k++)
		free(ref.v[k]);
	free(ref.v);
	tu_dir_close(ctx, dfd);
	{
		char cmd[400];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		ck_assert_int_eq(system(cmd), 0);
	}
	vos_ctx_destroy(ctx);
}
END_TEST

START_TEST(file_o_direct)
{
	enum { SZ = 64 * 1024 };
	struct vos_ctx *ctx = tu_ctx();
	char dir[256];
	void *w, *rd;
	int dfd = tu_dir(tu_diskbase(), dir, sizeof(dir));
	int fd = openat(dfd, "direct", O_RDWR | O_CREAT | O_DIRECT | O_CLOEXEC,
			0600);

	if (fd < 0 && errno == EINVAL) {
		/* this file system has no O_DIRECT: nothing to test */
		close(dfd);
		rmdir(dir);
		vos_ctx_destroy(ctx);
		return;
	}
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(posix_memalign(&w, 4096, SZ), 0);
	ck_assert_int_eq(posix_memalign(&rd, 4096, SZ), 0);
	memset(w, 0x5a, SZ);
	ck_assert_int_eq(vos_pwrite(ctx, fd, w, SZ, 0), SZ);
	ck_assert_int_eq(vos_pread(ctx, fd, rd, SZ, 0), SZ);
	ck_assert_int_eq(memcmp(w, rd, SZ), 0);
	/* an offset off the block size: whatever the file system says of it
	 * (-EINVAL on ext4; tmpfs has no alignment rule) comes back as the
	 * plain call says it */
	{
		ssize_t want = pread(fd, rd, 4096, 1);

		if (want < 0)
			want = -errno;
		ck_assert_int_eq(vos_pread(ctx, fd, rd, 4096, 1), want);
	}
	close(fd);
	unlinkat(dfd, "direct", 0);
	close(dfd);
	rmdir(dir);
	free(w);
	free(rd);
	vos_ctx_destroy(ctx);
}
END_TEST

/* An fd number vos has classified as a tmpfs file is closed and comes
 * back as a socket: reads on it must wait for data, not misroute. */
START_TEST(fd_number_reuse)
{
	struct vos_ctx *ctx = tu_ctx();
	char dir[256], buf[8];
	int dfd = tu_dir("/dev/shm", dir, sizeof(dir));
	int fd = vos_openat(ctx, dfd, "x", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	int sv[2];
	struct vos_req r;
	struct vos_cqe c;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vos_pread(ctx, fd, buf, 1, 0), 0);
	ck_assert_int_eq(vos_close(ctx, fd), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	ck_assert_int_eq(sv[0], fd); /* lowest free number */
	vos_prep_read(&r, sv[0], buf, sizeof(buf));
	r.user_data = 5;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 20 * 1000000), -ETIME);
	ck_assert_int_eq(write(sv[1], "ping", 4), 4);
	c = tu_wait1(ctx);
	ck_assert_int_eq(c.res, 4);
	close(sv[0]);
	close(sv[1]);
	unlinkat(dfd, "x", 0);
	close(dfd);
	rmdir(dir);
	vos_ctx_destroy(ctx);
}
END_TEST

START_TEST(fcntl_and_ioctl)
{
	struct vos_ctx *ctx = tu_ctx();
	int a, b, fl, n, on = 1;
	char buf[8];

	tu_tcp_pair(&a, &b);
	fl = vos_fcntl(ctx, b, F_GETFL, 0);
	ck_assert_int_ge(fl, 0);
	ck_assert_int_eq(fl & O_NONBLOCK, 0);
	ck_assert_int_eq(vos_fcntl(ctx, b, F_GETFD, 0), FD_CLOEXEC);
	ck_assert_int_eq(vos_fcntl(ctx, b, F_SETFD, 0), 0);
	ck_assert_int_eq(vos_fcntl(ctx, b, F_GETFD, 0), 0);
	n = vos_fcntl(ctx, b, F_DUPFD, 100);
	ck_assert_int_ge(n, 100);
	close(n);
	n = vos_fcntl(ctx, b, F_DUPFD_CLOEXEC, 0);
	ck_assert_int_ge(n, 0);
	ck_assert_int_eq(fcntl(n, F_GETFD), FD_CLOEXEC);
	close(n);

	/* FIONREAD sees what is queued */
	ck_assert_int_eq(send(a, "abc", 3, 0), 3);
	n = -1;
	/* wait until it arrived, then count it */
	ck_assert_int_eq(vos_poll(ctx, b, POLLIN) & POLLIN, POLLIN);
	ck_assert_int_eq(vos_ioctl(ctx, b, FIONREAD, &n), 0);
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(vos_recv(ctx, b, buf, sizeof(buf), 0), 3);

	/* O_NONBLOCK through F_SETFL, then FIONBIO: recv says -EAGAIN */
	ck_assert_int_eq(vos_fcntl(ctx, b, F_SETFL, fl | O_NONBLOCK), 0);
	ck_assert_int_eq(vos_recv(ctx, b, buf, sizeof(buf), 0), -EAGAIN);
	ck_assert_int_eq(vos_fcntl(ctx, b, F_SETFL, fl), 0);
	ck_assert_int_eq(vos_ioctl(ctx, b, FIONBIO, &on), 0);
	ck_assert_int_eq(vos_read(ctx, b, buf, sizeof(buf)), -EAGAIN);
	ck_assert_int_ne(fcntl(b, F_GETFL) & O_NONBLOCK, 0);
	close(a);
	close(b);
	vos_ctx_destroy(ctx);
}
END_TEST

/* ---- sockets ------------------------------------------------------------ */

START_TEST(tcp_full_cycle)
{
	struct vos_ctx *ctx = tu_ctx();
	struct sockaddr_in sin = { .sin_family = AF_INET }, peer, name;
	socklen_t sl = sizeof(sin), pl = sizeof(peer), nl = sizeof(name);
	struct vos_req r[2];
	struct vos_cqe c[2];
	int l, cl, sv = -1, one = 1, val = 0;
	socklen_t vl = sizeof(val);
	char buf[32] = { 0 };

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = vos_socket(ctx, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(vos_setsockopt(ctx, l, SOL_SOCKET, SO_REUSEADDR, &one,
					sizeof(one)), 0);
	ck_assert_int_eq(vos_getsockopt(ctx, l, SOL_SOCKET, SO_REUSEADDR, &val,
					&vl), 0);
	ck_assert_int_eq(val, 1);
	ck_assert_int_eq(vos_bind(ctx, l, (struct sockaddr *)&sin,
				  sizeof(sin)), 0);
	ck_assert_int_eq(vos_listen(ctx, l, 16), 0);
	ck_assert_int_eq(vos_getsockname(ctx, l, (struct sockaddr *)&sin, &sl),
			 0);
	ck_assert_uint_ne(sin.sin_port, 0);

	/* accept and connect in flight together */
	cl = vos_socket(ctx, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(cl, 0);
	vos_prep_accept(&r[0], l, (struct sockaddr *)&peer, &pl, SOCK_CLOEXEC);
	r[0].user_data = 1;
	vos_prep_connect(&r[1], cl, (struct sockaddr *)&sin, sizeof(sin));
	r[1].user_data = 2;
	ck_assert_int_eq(vos_submit(ctx, r, 2), 2);
	ck_assert_int_eq(vos_wait(ctx, c, 2, 2, 10LL * 1000000000), 2);
	for (int i = 0; i < 2; i++) {
		if (c[i].user_data == 1)
			sv = (int)c[i].res;
		else
			ck_assert_int_eq(c[i].res, 0);
	}
	ck_assert_int_ge(sv, 0);
	ck_assert_uint_eq(pl, sizeof(struct sockaddr_in));
	ck_assert_int_eq(vos_getpeername(ctx, sv, (struct sockaddr *)&name, &nl),
			 0);
	ck_assert_uint_eq(name.sin_port, peer.sin_port);
	ck_assert_int_eq(vos_setsockopt(ctx, cl, IPPROTO_TCP, TCP_NODELAY, &one,
					sizeof(one)), 0);

	/* send/recv */
	ck_assert_int_eq(vos_send(ctx, cl, "hello", 5, 0), 5);
	ck_assert_int_eq(vos_recv(ctx, sv, buf, 5, MSG_WAITALL), 5);
	ck_assert_str_eq(buf, "hello");

	/* sendmsg/recvmsg with two pieces */
	{
		struct iovec out[2] = { { "ab", 2 }, { "cde", 3 } };
		char x[2], y[8] = { 0 };
		struct iovec in[2] = { { x, 2 }, { y, 3 } };
		struct msghdr mo = { .msg_iov = out, .msg_iovlen = 2 };
		struct msghdr mi = { .msg_iov = in, .msg_iovlen = 2 };

		ck_assert_int_eq(vos_sendmsg(ctx, sv, &mo, 0), 5);
		ck_assert_int_eq(vos_recvmsg(ctx, cl, &mi, MSG_WAITALL), 5);
		ck_assert_int_eq(memcmp(x, "ab", 2), 0);
		ck_assert_str_eq(y, "cde");
	}

	/* a recv in flight sees the peer's shutdown as EOF */
	vos_prep_recv(&r[0], sv, buf, sizeof(buf), 0);
	r[0].user_data = 9;
	ck_assert_int_eq(vos_submit(ctx, r, 1), 1);
	ck_assert_int_eq(vos_shutdown(ctx, cl, SHUT_WR), 0);
	c[0] = tu_wait1(ctx);
	ck_assert_uint_eq(c[0].user_data, 9);
	ck_assert_int_eq(c[0].res, 0);

	ck_assert_int_eq(vos_close(ctx, sv), 0);
	ck_assert_int_eq(vos_close(ctx, cl), 0);
	ck_assert_int_eq(vos_close(ctx, l), 0);
	vos_ctx_destroy(ctx);
}
END_TEST

START_TEST(connect_refused)
{
	struct vos_ctx *ctx = tu_ctx();
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	int l = socket(AF_INET, SOCK_STREAM, 0), s;

	/* a port nobody listens on: bind, learn it, close */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&sin, &sl), 0);
	close(l);
	s = vos_socket(ctx, AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(vos_connect(ctx, s, (struct sockaddr *)&sin,
				     sizeof(sin)), -ECONNREFUSED);
	close(s);
	vos_ctx_destroy(ctx);
}
END_TEST

/* 128 connections, each with a recv in flight, answered out of order. */
START_TEST(many_recvs_in_flight)
{
	enum { N = 128 };
	struct vos_config cfg;
	struct vos_ctx *ctx;
	static int sv[N][2];
	static char buf[N][16];
	struct vos_req r[N];
	struct vos_cqe c[N];
	int got = 0;

	vos_config_init(&cfg);
	cfg.queue_depth = N;
	ck_assert_int_eq(vos_ctx_create(&cfg, &ctx), 0);
	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
					    0, sv[i]), 0);
		vos_prep_recv(&r[i], sv[i][0], buf[i], sizeof(buf[i]), 0);
		r[i].user_data = (uint64_t)i;
	}
	ck_assert_int_eq(vos_submit(ctx, r, N), N);
	ck_assert_int_eq(vos_wait(ctx, c, N, 1, 0), -ETIME);
	for (int i = N - 1; i >= 0; i--) {
		char msg[16];
		int len = snprintf(msg, sizeof(msg), "m%d", i);

		ck_assert_int_eq(write(sv[i][1], msg, (size_t)len), len);
	}
	while (got < N) {
		int n = vos_wait(ctx, c, N, 1, 10LL * 1000000000);

		ck_assert_int_gt(n, 0);
		for (int k = 0; k < n; k++) {
			char want[16];
			int i = (int)c[k].user_data;
			int len = snprintf(want, sizeof(want), "m%d", i);

			ck_assert_int_eq(c[k].res, len);
			ck_assert_int_eq(memcmp(buf[i], want, (size_t)len), 0);
		}
		got += n;
	}
	for (int i = 0; i < N; i++) {
		close(sv[i][0]);
		close(sv[i][1]);
	}
	vos_ctx_destroy(ctx);
}
END_TEST

/* More requests waiting on one socket than the process may open files:
 * the kernel lets a program queue them (io_uring does), and a request on
 * another socket still completes when its data comes.  (The compat
 * backend once gave poll() one entry per request, which poll() refuses
 * above RLIMIT_NOFILE: no readiness was seen again.) */
START_TEST(more_parked_than_open_files)
{
	enum { N = 600, LIMIT = 256 };
	struct vos_config cfg;
	struct vos_ctx *ctx;
	struct rlimit old, low;
	static char buf[N + 1][4];
	static struct vos_req r[N + 1];
	static struct vos_cqe c[N + 1];
	int sv[2], tv[2], got = 0, n;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	vos_config_init(&cfg);
	cfg.queue_depth = 1024;
	ck_assert_int_eq(vos_ctx_create(&cfg, &ctx), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sv), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    tv), 0);
	ck_assert_int_lt(tv[1], LIMIT);
	low = old;
	low.rlim_cur = LIMIT;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	for (int i = 0; i < N; i++) {
		vos_prep_recv(&r[i], sv[0], buf[i], 1, 0);
		r[i].user_data = (uint64_t)i;
	}
	vos_prep_recv(&r[N], tv[0], buf[N], sizeof(buf[N]), 0);
	r[N].user_data = N;
	ck_assert_int_eq(vos_submit(ctx, r, N + 1), N + 1);
	ck_assert_int_eq(vos_wait(ctx, c, N + 1, 1, 0), -ETIME);
	ck_assert_int_eq(write(tv[1], "xyz", 3), 3);
	n = vos_wait(ctx, c, N + 1, 1, 5LL * 1000000000);
	ck_assert_msg(n == 1, "the other socket's recv: %d (%s)", n,
		      n < 0 ? strerror(-n) : "");
	ck_assert_int_eq((int)c[0].user_data, N);
	ck_assert_int_eq(c[0].res, 3);
	ck_assert_int_eq(memcmp(buf[N], "xyz", 3), 0);
	/* and the N on the first socket, one byte each (written at once:
	 * N one-byte writes would fill the socket's send buffer) */
	memset(buf, 'a', sizeof(buf));
	ck_assert_int_eq(write(sv[1], buf, N), N);
	while (got < N) {
		n = vos_wait(ctx, c, N + 1, 1, 5LL * 1000000000);
		ck_assert_int_gt(n, 0);
		for (int k = 0; k < n; k++)
			ck_assert_int_eq(c[k].res, 1);
		got += n;
	}
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	close(sv[0]);
	close(sv[1]);
	close(tv[0]);
	close(tv[1]);
	vos_ctx_destroy(ctx);
}
END_TEST

/* A write larger than the pipe holds completes as a reader drains it;
 * a short write is legal and is resubmitted for the rest.  The reader
 * never blocks, so the compat backend (which progresses parked writes
 * only inside vos calls) gets its turns. */
/* Sixteen 1 MiB sends in flight on one blocking TCP socket: each
 * completes whole, and the peer receives them in submission order, byte
 * for byte (as sixteen send(2) calls in a row would deliver them). */
static void ordered_sends_run(uint8_t flags)
{
	enum { N = 16, MSG = 1 << 20, CHUNK = 200000 };
	struct vos_ctx *ctx = tu_ctx();
	char *out = malloc((size_t)N * MSG), *in = malloc((size_t)N * MSG);
	struct vos_req r[N];
	size_t have = 0;
	int a, b, sends = 0;
	bool reading = false;

	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_nonnull(in);
	for (size_t i = 0; i < (size_t)N * MSG; i++)
		out[i] = (char)(i / MSG * 17 + i % 251);
	tu_tcp_pair(&a, &b);
	for (int i = 0; i < N; i++) {
		vos_prep_send(&r[i], a, out + (size_t)i * MSG, MSG, 0);
		r[i].user_data = (uint64_t)i;
		r[i].flags = flags;
	}
	ck_assert_int_eq(vos_submit(ctx, r, N), N);
	while (sends < N || have < (size_t)N * MSG) {
		struct vos_cqe c;
		int n;

		if (!reading && have < (size_t)N * MSG) {
			struct vos_req rr;
			size_t want = (size_t)N * MSG - have;

			vos_prep_recv(&rr, b, in + have,
				      (uint32_t)(want < CHUNK ? want : CHUNK), 0);
			rr.user_data = 1000;
			ck_assert_int_eq(vos_submit(ctx, &rr, 1), 1);
			reading = true;
		}
		n = vos_wait(ctx, &c, 1, 1, 10LL * 1000000000);
		ck_assert_int_eq(n, 1);
		if (c.user_data == 1000) {
			ck_assert_int_gt(c.res, 0);
			have += (size_t)c.res;
			reading = false;
		} else {
			ck_assert_msg(c.res == MSG, "send %llu said %lld",
				      (unsigned long long)c.user_data,
				      (long long)c.res);
			sends++;
		}
	}
	for (int i = 0; i < N; i++)
		ck_assert_msg(memcmp(in + (size_t)i * MSG, out + (size_t)i * MSG,
				     MSG) == 0, "message %d differs", i);
	if (tu_net_routed()) { /* netd's fds */
		ck_assert_int_eq(vos_close(ctx, a), 0);
		ck_assert_int_eq(vos_close(ctx, b), 0);
	} else {
		close(a);
		close(b);
	}
	free(in);
	free(out);
	vos_ctx_destroy(ctx);
}

START_TEST(ordered_sends)
{
	ordered_sends_run(0);
}
END_TEST

/* The same sixteen as one chain (VOS_REQ_LINK): each starts when the one
 * before it has completed. */
START_TEST(ordered_sends_linked)
{
	ordered_sends_run(VOS_REQ_LINK);
}
END_TEST

/* recv with MSG_WAITALL on a blocking stream waits for everything it asked
 * for, as recv(2) does: 40 bytes, then 60, one completion of 100 (the
 * compat backend's non-blocking try once handed back the 40). */
/* One request, its result; a call that would hang fails the test after
 * 2 s instead (pread on an empty pipe never returned). */
static int64_t run_bounded(struct vos_ctx *ctx, struct vos_req *r)
{
	struct vos_cqe c;

	r->user_data = 4242;
	ck_assert_int_eq(vos_submit(ctx, r, 1), 1);
	if (vos_wait(ctx, &c, 1, 1, 2000LL * 1000000) != 1) {
		ck_abort_msg("%s did not complete in 2 s",
			     vos_op_name(r->op));
	}
	ck_assert_uint_eq(c.user_data, 4242);
	return c.res;
}

static int native_res(ssize_t r)
{
	return r < 0 ? -errno : (int)r;
}

/* Offsets as the kernel takes them: a pipe, a socket (-ESPIPE, before
 * any wait), /dev/zero (it has offsets), a negative offset (-EINVAL,
 * before the fd is looked at), readv's -1 (the file position). */
START_TEST(offsets_as_the_kernel)
{
	struct vos_ctx *ctx = tu_ctx();
	char buf[16] = { 0 }, path[300], dir[256];
	struct iovec iov = { buf, 4 };
	struct vos_req r;
	int p[2], sp[2], z, f, dfd, n;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sp), 0);
	/* an empty pipe, a quiet socket: read at an offset, write at one */
	int fds[] = { p[0], sp[0] }, wfds[] = { p[1], sp[1] };
	for (int i = 0; i < 2; i++) {
		vos_prep_pread(&r, fds[i], buf, 4, 0);
		ck_assert_int_eq(run_bounded(ctx, &r),
				 native_res(pread(fds[i], buf, 4, 0)));
		ck_assert_int_eq(run_bounded(ctx, &r), -ESPIPE);
		vos_prep_readv(&r, fds[i], &iov, 1, 7);
		ck_assert_int_eq(run_bounded(ctx, &r), -ESPIPE);
		vos_prep_pwrite(&r, wfds[i], "abcd", 4, 0);
		ck_assert_int_eq(run_bounded(ctx, &r),
				 native_res(pwrite(wfds[i], "abcd", 4, 0)));
		ck_assert_int_eq(run_bounded(ctx, &r), -ESPIPE);
		vos_prep_writev(&r, wfds[i], &iov, 1, 0);
		ck_assert_int_eq(run_bounded(ctx, &r), -ESPIPE);
		ck_assert_int_eq(ioctl(fds[i], FIONREAD, &n), 0);
		ck_assert_int_eq(n, 0); /* nothing was written */
		/* a negative offset is EINVAL first */
		vos_prep_pread(&r, fds[i], buf, 4, (uint64_t)-5);
		ck_assert_int_eq(run_bounded(ctx, &r),
				 native_res(pread(fds[i], buf, 4, -5)));
		ck_assert_int_eq(run_bounded(ctx, &r), -EINVAL);
	}
	/* MSG_DONTWAIT on an empty blocking socket: -EAGAIN, no wait */
	vos_prep_recv(&r, sp[0], buf, 4, MSG_DONTWAIT);
	ck_assert_int_eq(run_bounded(ctx, &r), -EAGAIN);
	/* a character device with offsets */
	z = open("/dev/zero", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(z, 0);
	memset(buf, 1, sizeof(buf));
	vos_prep_pread(&r, z, buf, 8, 4096);
	ck_assert_int_eq(run_bounded(ctx, &r), 8);
	ck_assert_int_eq(buf[0] | buf[7], 0);
	ck_assert_int_eq(buf[8], 1);
	/* a file: negative offsets, and readv's -1 */
	dfd = tu_dir("/dev/shm", dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(f, 0);
	ck_assert_int_eq(write(f, "0123456789", 10), 10);
	ck_assert_int_eq(lseek(f, 2, SEEK_SET), 2);
	vos_prep_pread(&r, f, buf, 4, VOS_OFF_CURRENT);
	ck_assert_int_eq(run_bounded(ctx, &r), -EINVAL);
	vos_prep_pwrite(&r, f, "XXXX", 4, (uint64_t)-2);
	ck_assert_int_eq(run_bounded(ctx, &r), -EINVAL);
	vos_prep_readv(&r, f, &iov, 1, (uint64_t)-2);
	ck_assert_int_eq(run_bounded(ctx, &r), -EINVAL);
	vos_prep_pread(&r, -1, buf, 4, (uint64_t)-5);
	ck_assert_int_eq(run_bounded(ctx, &r),
			 native_res(pread(-1, buf, 4, -5)));
	ck_assert_int_eq(vos_readv(ctx, f, &iov, 1, -2), -EINVAL);
	ck_assert_int_eq(vos_writev(ctx, f, &iov, 1, -3), -EINVAL);
	ck_assert_int_eq(vos_pwrite(ctx, f, "X", 1, -1), -EINVAL);
	ck_assert_int_eq(lseek(f, 0, SEEK_CUR), 2); /* nothing moved it */
	ck_assert_int_eq(pread(f, buf, 10, 0), 10);
	ck_assert_int_eq(memcmp(buf, "0123456789", 10), 0); /* nor wrote */
	ck_assert_int_eq(vos_readv(ctx, f, &iov, 1, -1), 4);
	ck_assert_int_eq(memcmp(buf, "2345", 4), 0);
	ck_assert_int_eq(lseek(f, 0, SEEK_CUR), 6);
	close(f);
	unlink(path);
	close(dfd);
	rmdir(dir);
	close(z);
	close(p[0]);
	close(p[1]);
	close(sp[0]);
	close(sp[1]);
	vos_ctx_destroy(ctx);
}
END_TEST

/* The same on a socket the fixtures make (netd's when the suite runs
 * routed): -ESPIPE from the service, nothing sent. */
START_TEST(socket_offsets_espipe)
{
	struct vos_ctx *ctx = tu_ctx();
	char buf[8];
	struct vos_req r;
	int a, b;

	tu_tcp_pair(&a, &b);
	vos_prep_pread(&r, a, buf, 4, 0);
	ck_assert_int_eq(run_bounded(ctx, &r), -ESPIPE);
	vos_prep_pwrite(&r, a, "abcd", 4, 0);
	ck_assert_int_eq(run_bounded(ctx, &r), -ESPIPE);
	vos_prep_pread(&r, a, buf, 4, (uint64_t)-1);
	ck_assert_int_eq(run_bounded(ctx, &r), -EINVAL);
	vos_prep_recv(&r, b, buf, 4, MSG_DONTWAIT);
	ck_assert_int_eq(run_bounded(ctx, &r), -EAGAIN); /* nothing sent */
	ck_assert_int_eq(vos_close(ctx, a), 0);
	ck_assert_int_eq(vos_close(ctx, b), 0);
	vos_ctx_destroy(ctx);
}
END_TEST

/* preadv2/pwritev2 flags on a stream, a TCP pair (through netd where
 * the routes say so) and a pipe: RWF_NOWAIT of nothing is -EAGAIN at once;
 * a read with another flag waits for data as a plain read does, and is
 * woken by a write with a flag; a flag no kernel has is -EOPNOTSUPP. */
START_TEST(rwf_flags_on_streams)
{
	struct vos_ctx *ctx = tu_ctx();

	for (int k = 0; k < 2; k++) {
		char in[8] = { 0 };
		struct iovec iv = { in, sizeof(in) }, ov = { "abc", 3 };
		struct vos_req r;
		struct vos_cqe c;
		int a, b, p[2];

		if (k == 0) {
			tu_tcp_pair(&a, &b);
		} else {
			ck_assert_int_eq(vos_pipe2(ctx, p, O_CLOEXEC), 0);
			b = p[0];
			a = p[1];
		}
		vos_prep_readv2(&r, b, &iv, 1, VOS_OFF_CURRENT, RWF_NOWAIT);
		ck_assert_int_eq(run_bounded(ctx, &r), -EAGAIN);
		vos_prep_readv2(&r, b, &iv, 1, VOS_OFF_CURRENT, RWF_HIPRI);
		r.user_data = 7;
		ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
		ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 20 * 1000000), -ETIME);
		ck_assert_int_eq(vos_pwritev2(ctx, a, &ov, 1, -1, RWF_DSYNC), 3);
		c = tu_wait1(ctx);
		ck_assert_uint_eq(c.user_data, 7);
		ck_assert_int_eq(c.res, 3);
		ck_assert_str_eq(in, "abc");
		ck_assert_int_eq(vos_pwritev2(ctx, a, &ov, 1, -1, 0x200),
				 -EOPNOTSUPP);
		ck_assert_int_eq(vos_close(ctx, a), 0);
		ck_assert_int_eq(vos_close(ctx, b), 0);
	}
	vos_ctx_destroy(ctx);
}
END_TEST

START_TEST(recv_waitall_whole)
{
	struct vos_ctx *ctx = tu_ctx();
	char in[100], out[100];
	struct vos_req r;
	struct vos_cqe c;
	int sv[2];

	for (int i = 0; i < 100; i++)
		out[i] = (char)('a' + i % 26);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	ck_assert_int_eq(write(sv[1], out, 40), 40);
	vos_prep_recv(&r, sv[0], in, 100, MSG_WAITALL);
	r.user_data = 9;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 50000000), -ETIME);
	ck_assert_int_eq(write(sv[1], out + 40, 60), 60);
	c = tu_wait1(ctx);
	ck_assert_int_eq(c.res, 100);
	ck_assert_int_eq(memcmp(in, out, 100), 0);
	/* and the end of the stream ends it with what came */
	ck_assert_int_eq(write(sv[1], out, 10), 10);
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 50000000), -ETIME);
	close(sv[1]);
	c = tu_wait1(ctx);
	ck_assert_int_eq(c.res, 10);
	close(sv[0]);
	vos_ctx_destroy(ctx);
}
END_TEST

/* ---- linked requests (VOS_REQ_LINK) ------------------------------------ */

/* Submit n requests (all must be taken) and collect their n completions
 * in the order they arrive. */
static void submit_collect(struct vos_ctx *ctx, struct vos_req *r, unsigned n,
			   struct vos_cqe *c)
{
	unsigned got = 0;

	for (unsigned i = 0; i < n; i++)
		r[i].user_data = i;
	ck_assert_int_eq(vos_submit(ctx, r, n), (int)n);
	while (got < n) {
		int k = vos_wait(ctx, c + got, n - got, 1, 10LL * 1000000000);

		ck_assert_int_gt(k, 0);
		got += (unsigned)k;
	}
}

/* A chain runs in order, each request after the one before it: a write,
 * a pwrite over it, an fsync, a pread that must see both (unlinked, the
 * four could run in any order).  On every route, stord's too. */
START_TEST(linked_chain_runs_in_order)
{
	struct vos_ctx *ctx = tu_ctx();
	char dir[256], buf[8] = { 0 };
	int dfd = tu_dir(tu_diskbase(), dir, sizeof(dir));
	int fd = vos_openat(ctx, dfd, "chain", O_RDWR | O_CREAT | O_CLOEXEC,
			    0600);
	struct vos_req r[4];
	struct vos_cqe c[4];
	const int64_t want[4] = { 3, 2, 0, 3 };

	ck_assert_int_ge(fd, 0);
	for (int round = 0; round < 20; round++) {
		ck_assert_int_eq(vos_ftruncate(ctx, fd, 0), 0);
		vos_prep_pwrite(&r[0], fd, "abc", 3, 0);
		vos_prep_pwrite(&r[1], fd, "XY", 2, 1);
		vos_prep_fsync(&r[2], fd);
		vos_prep_pread(&r[3], fd, buf, 3, 0);
		for (int i = 0; i < 3; i++)
			r[i].flags = VOS_REQ_LINK;
		memset(buf, 0, sizeof(buf));
		submit_collect(ctx, r, 4, c);
		for (int i = 0; i < 4; i++) {
			ck_assert_uint_eq(c[i].user_data, (uint64_t)i);
			ck_assert_int_eq(c[i].res, want[i]);
		}
		ck_assert_str_eq(buf, "aXY");
	}
	ck_assert_int_eq(vos_close(ctx, fd), 0);
	tu_dir_close(ctx, dfd);
	vos_ctx_destroy(ctx);
}
END_TEST

/* What breaks a chain (an error; a short read), and what a chain with a
 * bad request does (nothing runs). */
START_TEST(linked_failure_cancels_the_rest)
{
	struct vos_ctx *ctx = tu_ctx();
	char dir[256], buf[128] = { 0 };
	int dfd = tu_dir(tu_diskbase(), dir, sizeof(dir));
	int fd = vos_openat(ctx, dfd, "chain", O_RDWR | O_CREAT | O_CLOEXEC,
			    0600);
	struct vos_req r[3];
	struct vos_cqe c[3];

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vos_pwrite(ctx, fd, "abc", 3, 0), 3);
	/* an error: a read of a directory; the write behind it never runs */
	vos_prep_read(&r[0], dfd, buf, sizeof(buf));
	vos_prep_pwrite(&r[1], fd, "zz", 2, 0);
	vos_prep_nop(&r[2]);
	r[0].flags = r[1].flags = VOS_REQ_LINK;
	submit_collect(ctx, r, 3, c);
	ck_assert_int_eq(c[0].res, -EISDIR);
	ck_assert_uint_eq(c[1].user_data, 1);
	ck_assert_int_eq(c[1].res, -ECANCELED);
	ck_assert_int_eq(c[2].res, -ECANCELED);
	ck_assert_int_eq(vos_pread(ctx, fd, buf, sizeof(buf), 0), 3);
	ck_assert_int_eq(memcmp(buf, "abc", 3), 0);
	/* a short read (the end of the file) breaks it too */
	vos_prep_pread(&r[0], fd, buf, sizeof(buf), 0);
	vos_prep_nop(&r[1]);
	r[0].flags = VOS_REQ_LINK;
	submit_collect(ctx, r, 2, c);
	ck_assert_int_eq(c[0].res, 3);
	ck_assert_int_eq(c[1].res, -ECANCELED);
	/* a full one does not */
	vos_prep_pread(&r[0], fd, buf, 3, 0);
	vos_prep_nop(&r[1]);
	r[0].flags = VOS_REQ_LINK;
	submit_collect(ctx, r, 2, c);
	ck_assert_int_eq(c[0].res, 3);
	ck_assert_int_eq(c[1].res, 0);
	/* a bad request in a chain: nothing of it runs */
	vos_prep_pwrite(&r[0], fd, "zz", 2, 0);
	vos_prep_read(&r[1], -1, buf, 1);
	vos_prep_nop(&r[2]);
	r[0].flags = r[1].flags = VOS_REQ_LINK;
	submit_collect(ctx, r, 3, c);
	ck_assert_int_eq(c[0].res, -ECANCELED);
	ck_assert_int_eq(c[1].res, -EBADF);
	ck_assert_int_eq(c[2].res, -ECANCELED);
	ck_assert_int_eq(vos_pread(ctx, fd, buf, 3, 0), 3);
	ck_assert_int_eq(memcmp(buf, "abc", 3), 0);
	/* a cancel cannot be linked; unknown flags are refused */
	vos_prep_nop(&r[0]);
	vos_prep_cancel(&r[1], 12345);
	r[0].flags = VOS_REQ_LINK;
	submit_collect(ctx, r, 2, c);
	ck_assert_int_eq(c[0].res, -ECANCELED);
	ck_assert_int_eq(c[1].res, -EINVAL);
	vos_prep_nop(&r[0]);
	r[0].flags = 0x80;
	submit_collect(ctx, r, 1, c);
	ck_assert_int_eq(c[0].res, -EINVAL);
	/* LINK on the last request of a submit: a chain of one */
	vos_prep_nop(&r[0]);
	r[0].flags = VOS_REQ_LINK;
	submit_collect(ctx, r, 1, c);
	ck_assert_int_eq(c[0].res, 0);
	ck_assert_int_eq(vos_close(ctx, fd), 0);
	tu_dir_close(ctx, dfd);
	vos_ctx_destroy(ctx);
}
END_TEST

/* Cancelling a request that waits its turn ends it and the rest of its
 * chain at once; a chain's deadline starts when each request does. */
START_TEST(linked_cancel_and_deadline)
{
	struct vos_ctx *ctx = tu_ctx();
	struct vos_req r[3];
	struct vos_cqe c[3];
	int64_t t0;

	vos_prep_timeout(&r[0], 20ull * 1000000000);
	vos_prep_nop(&r[1]);
	vos_prep_nop(&r[2]);
	r[0].flags = r[1].flags = VOS_REQ_LINK;
	for (int i = 0; i < 3; i++)
		r[i].user_data = 10 + (uint64_t)i;
	ck_assert_int_eq(vos_submit(ctx, r, 3), 3);
	ck_assert_int_eq(vos_cancel(ctx, 11), 0);
	c[0] = tu_wait1(ctx);
	c[1] = tu_wait1(ctx);
	ck_assert_uint_eq(c[0].user_data, 11);
	ck_assert_int_eq(c[0].res, -ECANCELED);
	ck_assert_uint_eq(c[1].user_data, 12);
	ck_assert_int_eq(c[1].res, -ECANCELED);
	ck_assert_int_eq(vos_cancel(ctx, 10), 0);
	c[0] = tu_wait1(ctx);
	ck_assert_uint_eq(c[0].user_data, 10);
	ck_assert_int_eq(c[0].res, -ECANCELED);
	ck_assert_int_eq(vos_cancel(ctx, 11), -ENOENT);

	/* 300 ms, then 300 ms with a deadline of 450: the second's deadline
	 * counts from its own start, so it is met */
	vos_prep_timeout(&r[0], 300000000);
	vos_prep_timeout(&r[1], 300000000);
	r[0].flags = VOS_REQ_LINK;
	r[1].deadline_ms = 450;
	t0 = tu_now_ms();
	submit_collect(ctx, r, 2, c);
	ck_assert_int_eq(c[0].res, 0);
	ck_assert_int_eq(c[1].res, 0);
	ck_assert_int_ge(tu_now_ms() - t0, 600);
	vos_ctx_destroy(ctx);
}
END_TEST

/* A chain is taken whole or not at all. */
START_TEST(linked_chain_fits_or_waits)
{
	struct vos_config cfg;
	struct vos_ctx *ctx = NULL;
	struct vos_req r[5];
	struct vos_cqe c[5];

	vos_config_init(&cfg);
	cfg.queue_depth = 4;
	ck_assert_int_eq(vos_ctx_create(&cfg, &ctx), 0);
	for (int i = 0; i < 5; i++) {
		vos_prep_nop(&r[i]);
		r[i].flags = VOS_REQ_LINK;
	}
	r[4].flags = 0;
	ck_assert_int_eq(vos_submit(ctx, r, 5), -EINVAL); /* > depth */
	vos_prep_timeout(&r[0], 20ull * 1000000000);
	r[0].flags = 0;
	r[0].user_data = 100;
	ck_assert_int_eq(vos_submit(ctx, r, 1), 1);
	r[0].user_data = 101;
	ck_assert_int_eq(vos_submit(ctx, r, 1), 1);
	/* two free: a chain of three waits, nothing of it taken */
	for (int i = 0; i < 3; i++) {
		vos_prep_nop(&r[i]);
		r[i].flags = i < 2 ? VOS_REQ_LINK : 0;
	}
	ck_assert_int_eq(vos_submit(ctx, r, 3), -EBUSY);
	/* a nop, then the chain: the nop is taken, the chain is not */
	vos_prep_nop(&r[3]);
	r[3].user_data = 7;
	{
		struct vos_req m[4] = { r[3], r[0], r[1], r[2] };

		ck_assert_int_eq(vos_submit(ctx, m, 4), 1);
	}
	c[0] = tu_wait1(ctx);
	ck_assert_uint_eq(c[0].user_data, 7);
	/* a chain of two fits */
	submit_collect(ctx, r + 1, 2, c);
	ck_assert_int_eq(c[0].res, 0);
	ck_assert_int_eq(c[1].res, 0);
	ck_assert_int_eq(vos_cancel(ctx, 100), 0);
	ck_assert_int_eq(vos_cancel(ctx, 101), 0);
	ck_assert_int_eq(vos_wait(ctx, c, 5, 2, 10LL * 1000000000), 2);
	vos_ctx_destroy(ctx);
}
END_TEST

/* ---- a context in another event loop ----------------------------------- */

/* Run ctx's loop from epoll alone until `want` completions came: vos_wait
 * with timeout 0, epoll_wait (bounded) when it says -ETIME.  Returns how
 * many epoll wake-ups it took. */
static int drive_by_epoll(struct vos_ctx *ctx, int ep, struct vos_cqe *c,
			  int want)
{
	int got = 0, wakes = 0;

	while (got < want) {
		struct epoll_event out;
		int n = vos_wait(ctx, c + got, (unsigned)(want - got), 1, 0);

		if (n == -ETIME) {
			int k;

			/* (io_uring's completions may interrupt the sleep:
			 * EINTR, retried as for any signal) */
			do
				k = epoll_wait(ep, &out, 1, 10000);
			while (k < 0 && errno == EINTR);
			ck_assert_msg(k == 1,
				      "the context's fd never became readable "
				      "(%d of %d completions; first %llu)", got,
				      want, got ? (unsigned long long)
				      c[0].user_data : 99ull);
			wakes++;
			continue;
		}
		ck_assert_int_gt(n, 0);
		got += n;
	}
	return wakes;
}

/* vos_ctx_fd() in an epoll loop: readable exactly when completions can be
 * taken; a recv that waits, a timer, a send, and a request deadline all
 * reach the loop through it alone. */
START_TEST(ctx_fd_in_epoll)
{
	struct vos_ctx *ctx = tu_ctx();
	struct epoll_event e = { .events = EPOLLIN }, out;
	struct vos_req r[3];
	struct vos_cqe c[3];
	char in[8] = { 0 };
	int a, b, ep, cfd, wakes;
	int64_t t0;

	tu_tcp_pair(&a, &b);
	cfd = vos_ctx_fd(ctx);
	ck_assert_int_ge(cfd, 0);
	ck_assert_int_eq(vos_ctx_fd(ctx), cfd);
	ep = epoll_create1(EPOLL_CLOEXEC);
	ck_assert_int_ge(ep, 0);
	ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &e), 0);
	ck_assert_int_eq(epoll_wait(ep, &out, 1, 0), 0); /* nothing yet */
	vos_prep_recv(&r[0], b, in, 4, MSG_WAITALL);
	r[0].user_data = 0;
	ck_assert_int_eq(vos_submit(ctx, r, 1), 1);
	/* a recv that waits for its peer: not readable */
	ck_assert_int_eq(epoll_wait(ep, &out, 1, 100), 0);
	vos_prep_timeout(&r[1], 50000000);
	r[1].user_data = 1;
	vos_prep_send(&r[2], a, "ping", 4, 0);
	r[2].user_data = 2;
	t0 = tu_now_ms();
	ck_assert_int_eq(vos_submit(ctx, r + 1, 2), 2);
	wakes = drive_by_epoll(ctx, ep, c, 3);
	for (int i = 0; i < 3; i++) {
		int64_t want[3] = { 4, 0, 4 };

		ck_assert_uint_lt(c[i].user_data, 3);
		ck_assert_int_eq(c[i].res, want[c[i].user_data]);
	}
	ck_assert_int_ge(tu_now_ms() - t0, 50);
	ck_assert_str_eq(in, "ping");
	/* all taken: not readable */
	ck_assert_int_eq(epoll_wait(ep, &out, 1, 0), 0);
	/* a deadline: a recv nobody feeds, 100 ms */
	vos_prep_recv(&r[0], b, in, 4, 0);
	r[0].deadline_ms = 100;
	r[0].user_data = 7;
	t0 = tu_now_ms();
	ck_assert_int_eq(vos_submit(ctx, r, 1), 1);
	wakes += drive_by_epoll(ctx, ep, c, 1);
	ck_assert_uint_eq(c[0].user_data, 7);
	ck_assert_int_eq(c[0].res, -ETIMEDOUT);
	ck_assert_int_ge(tu_now_ms() - t0, 100);
	ck_assert_int_eq(epoll_wait(ep, &out, 1, 0), 0);
	printf("ctx_fd_in_epoll (%s): 4 completions in %d epoll wake-ups\n",
	       vos_ctx_describe(ctx), wakes);
	close(ep);
	if (tu_net_routed()) {
		ck_assert_int_eq(vos_close(ctx, a), 0);
		ck_assert_int_eq(vos_close(ctx, b), 0);
	} else {
		close(a);
		close(b);
	}
	vos_ctx_destroy(ctx);
}
END_TEST

/* Cancels find their target by user_data among thousands in flight (an
 * index, not a scan of the queue: udindex.c), in any order; one that
 * completed is not found; of two with the same user_data, each cancel
 * ends one. */
START_TEST(cancel_many_by_user_data)
{
	enum { N = 3000 };
	struct vos_config cfg;
	struct vos_ctx *ctx = NULL;
	static struct vos_req r[N];
	static int order[N], seen[N];
	struct vos_cqe c[256];
	int got = 0;
	int64_t t0;

	vos_config_init(&cfg);
	cfg.queue_depth = 4096;
	ck_assert_int_eq(vos_ctx_create(&cfg, &ctx), 0);
	for (int i = 0; i < N; i++) {
		vos_prep_timeout(&r[i], 60ull * 1000000000);
		r[i].user_data = (uint64_t)i * 0x9e3779b97f4a7c15ull;
		order[i] = i;
	}
	ck_assert_int_eq(vos_submit(ctx, r, N), N);
	srand(7);
	for (int i = N - 1; i > 0; i--) {
		int j = rand() % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	t0 = tu_now_ms();
	for (int i = 0; i < N; i++) {
		struct vos_req cr;
		struct vos_cqe cc;

		vos_prep_cancel(&cr, r[order[i]].user_data);
		cr.user_data = 1; /* (no timeout has it) */
		ck_assert_int_eq(vos_submit(ctx, &cr, 1), 1);
		/* the cancel's answer and the timeout's end, in any order */
		for (int k = 0; k < 2; k++) {
			ck_assert_int_eq(vos_wait(ctx, &cc, 1, 1,
						  10LL * 1000000000), 1);
			if (cc.user_data == 1) {
				ck_assert_int_eq(cc.res, 0);
			} else {
				ck_assert_uint_eq(cc.user_data,
						  r[order[i]].user_data);
				ck_assert_int_eq(cc.res, -ECANCELED);
				seen[order[i]]++;
				got++;
			}
		}
	}
	printf("cancel_many_by_user_data: %d cancels among up to %d in "
	       "flight in %lld ms\n", N, N, (long long)(tu_now_ms() - t0));
	ck_assert_int_eq(got, N);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(seen[i], 1);
	ck_assert_int_eq(vos_cancel(ctx, r[0].user_data), -ENOENT);
	/* two with one user_data */
	r[0].user_data = r[1].user_data = 42;
	ck_assert_int_eq(vos_submit(ctx, r, 2), 2);
	ck_assert_int_eq(vos_cancel(ctx, 42), 0);
	ck_assert_int_eq(vos_cancel(ctx, 42), 0);
	ck_assert_int_eq(vos_cancel(ctx, 42), -ENOENT);
	ck_assert_int_eq(vos_wait(ctx, c, 256, 2, 10LL * 1000000000), 2);
	ck_assert_int_eq(c[0].res, -ECANCELED);
	ck_assert_int_eq(c[1].res, -ECANCELED);
	vos_ctx_destroy(ctx);
}
END_TEST

/* vos_wait_any() over two contexts: the one whose completion comes first,
 * then the other; -ETIME, -EAGAIN, -EINVAL. */
START_TEST(wait_any_two_contexts)
{
	struct vos_ctx *x[2] = { tu_ctx(), tu_ctx() };
	struct vos_req r;
	struct vos_cqe c;

	ck_assert_int_eq(vos_wait_any(x, 2, 0), -EAGAIN);
	vos_prep_timeout(&r, 300000000);
	r.user_data = 10;
	ck_assert_int_eq(vos_submit(x[0], &r, 1), 1);
	vos_prep_timeout(&r, 30000000);
	r.user_data = 11;
	ck_assert_int_eq(vos_submit(x[1], &r, 1), 1);
	ck_assert_int_eq(vos_wait_any(x, 2, 5000000), -ETIME);
	ck_assert_int_eq(vos_wait_any(x, 2, 10LL * 1000000000), 1);
	ck_assert_int_eq(vos_wait(x[1], &c, 1, 1, 0), 1);
	ck_assert_uint_eq(c.user_data, 11);
	ck_assert_int_eq(vos_wait_any(x, 2, 10LL * 1000000000), 0);
	ck_assert_int_eq(vos_wait(x[0], &c, 1, 1, 0), 1);
	ck_assert_uint_eq(c.user_data, 10);
	ck_assert_int_eq(vos_wait_any(x, 2, -1), -EAGAIN);
	ck_assert_int_eq(vos_wait_any(NULL, 2, 0), -EINVAL);
	ck_assert_int_eq(vos_wait_any(x, 0, 0), -EINVAL);
	ck_assert_int_eq(vos_wait_any(x, VOS_WAIT_ANY_MAX + 1, 0), -EINVAL);
	vos_ctx_destroy(x[0]);
	vos_ctx_destroy(x[1]);
	ck_assert_int_eq(vos_ctx_fd(x[0]), -EBADF);
	ck_assert_int_eq(vos_wait_any(x, 2, 0), -EBADF);
}
END_TEST

/* ---- multishot accept and recv, buffer pools ------------------------- */

/* A listening kernel socket on loopback (blocking unless nonblock). */
static int listen_local(struct sockaddr_in *sin, bool nonblock)
{
	socklen_t sl = sizeof(*sin);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC |
			       (nonblock ? SOCK_NONBLOCK : 0), 0);

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(bind(l, (struct sockaddr *)sin, sizeof(*sin)), 0);
	ck_assert_int_eq(listen(l, 128), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)sin, &sl), 0);
	return l;
}

static int connect_local(const struct sockaddr_in *sin)
{
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(c, 0);
	ck_assert_int_eq(connect(c, (const struct sockaddr *)sin,
				 sizeof(*sin)), 0);
	return c;
}

/* One multishot accept takes 40 connections (a blocking listener: its
 * accepts run on a worker) and then 3 more (a non-blocking one: inline);
 * one multishot recv per connection takes 5 messages each into buffers of
 * a pool, which go back with vos_buf_return; the end of a stream, an
 * empty pool and cancels end them, each with a last completion without
 * VOS_CQE_F_MORE. */
START_TEST(multishot_accept_and_recv)
{
	enum { NCLI = 40, NBUF = 256, BSZ = 512, MSGS = 5, MLEN = 8 };
	struct vos_ctx *ctx = tu_ctx();
	struct sockaddr_in sin, sin2;
	int l = listen_local(&sin, false), l2 = listen_local(&sin2, true);
	int cli[NCLI], srv[NCLI], got[NCLI] = { 0 }, accepted = 0, ended = 0;
	char acc[NCLI][MSGS * MLEN];
	struct vos_req r;
	struct vos_cqe c[64];
	char *base = NULL, *small = NULL;
	int total = 0;

	ck_assert_int_eq(vos_buf_pool_create(ctx, 7, NBUF, BSZ,
					     (void **)&base), 0);
	ck_assert_ptr_nonnull(base);
	ck_assert_int_eq(vos_buf_pool_create(ctx, 7, 4, 64, (void **)&small),
			 -EEXIST);
	ck_assert_int_eq(vos_buf_pool_create(ctx, 8, 0, 64, (void **)&small),
			 -EINVAL);
	ck_assert_int_eq(vos_buf_return(ctx, 7, 0), -EINVAL); /* free */
	ck_assert_int_eq(vos_buf_return(ctx, 9, 0), -ENOENT);
	/* a multishot request cannot be linked */
	vos_prep_accept_multishot(&r, l, SOCK_CLOEXEC);
	r.flags = VOS_REQ_LINK;
	{
		struct vos_req two[2] = { r, r };

		two[0].user_data = 1;
		two[1].flags = 0;
		ck_assert_int_eq(vos_submit(ctx, two, 2), 2);
		ck_assert_int_eq(vos_wait(ctx, c, 2, 2, 10LL * 1000000000), 2);
		ck_assert_int_eq(c[0].res, -EINVAL);
		ck_assert_int_eq(c[1].res, -EINVAL);
	}
	r.flags = 0;
	r.user_data = 1000;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	for (int i = 0; i < NCLI; i++)
		cli[i] = connect_local(&sin);
	while (accepted < NCLI || total < NCLI * MSGS * MLEN) {
		int n = vos_wait(ctx, c, 64, 1, 10LL * 1000000000);

		ck_assert_msg(n > 0, "stuck: %d accepted, %d bytes: %d",
			      accepted, total, n);
		for (int k = 0; k < n; k++) {
			if (c[k].user_data == 1000) {
				struct vos_req rr;

				ck_assert_int_ge(c[k].res, 0);
				ck_assert_uint_eq(c[k].flags, VOS_CQE_F_MORE);
				srv[accepted] = (int)c[k].res;
				vos_prep_recv_multishot(&rr, srv[accepted], 7,
							0, 0);
				rr.user_data = 2000 + (uint64_t)accepted;
				ck_assert_int_eq(vos_submit(ctx, &rr, 1), 1);
				accepted++;
				if (accepted == NCLI) /* every client sends */
					for (int i = 0; i < NCLI; i++)
						for (int m = 0; m < MSGS; m++) {
							char msg[MLEN + 1];

							snprintf(msg, sizeof(msg),
								 "c%02dm%03d", i,
								 m);
							ck_assert_int_eq(
								write(cli[i], msg,
								      MLEN),
								MLEN);
						}
			} else {
				/* srv[i] is cli[i]'s other end: accepted in
				 * the order of the connects (one at a time on
				 * a blocking listener) */
				int i = (int)(c[k].user_data - 2000);
				unsigned bid = vos_cqe_buffer(&c[k]);

				ck_assert_int_ge(i, 0);
				ck_assert_int_lt(i, NCLI);
				ck_assert_int_gt(c[k].res, 0);
				ck_assert_uint_eq(c[k].flags & 0xffff,
						  VOS_CQE_F_MORE |
							  VOS_CQE_F_BUFFER);
				ck_assert_uint_lt(bid, NBUF);
				ck_assert_int_le(got[i] + c[k].res,
						 MSGS * MLEN);
				memcpy(acc[i] + got[i],
				       base + (size_t)bid * BSZ,
				       (size_t)c[k].res);
				got[i] += (int)c[k].res;
				total += (int)c[k].res;
				ck_assert_int_eq(vos_buf_return(ctx, 7, bid), 0);
				ck_assert_int_eq(vos_buf_return(ctx, 7, bid),
						 -EINVAL);
			}
		}
	}
	for (int i = 0; i < NCLI; i++) {
		char want[MSGS * MLEN + 1];

		for (int m = 0; m < MSGS; m++)
			snprintf(want + m * MLEN, MLEN + 1, "c%02dm%03d", i, m);
		ck_assert_int_eq(memcmp(acc[i], want, MSGS * MLEN), 0);
	}
	ck_assert_int_eq(vos_buf_pool_destroy(ctx, 7), -EBUSY);
	/* the end of a stream ends its recv: 0, no MORE */
	close(cli[0]);
	c[0] = tu_wait1(ctx);
	ck_assert_uint_eq(c[0].user_data, 2000);
	ck_assert_int_eq(c[0].res, 0);
	ck_assert_uint_eq(c[0].flags, 0);
	/* an empty pool ends one: a pool of 2, both kept */
	ck_assert_int_eq(vos_buf_pool_create(ctx, 8, 2, 64, (void **)&small),
			 0);
	{
		int a = connect_local(&sin);
		int b;

		c[0] = tu_wait1(ctx); /* the accept */
		ck_assert_uint_eq(c[0].user_data, 1000);
		b = (int)c[0].res;
		vos_prep_recv_multishot(&r, b, 8, 0, 0);
		r.user_data = 3000;
		ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
		for (int m = 0; m < 3; m++) {
			ck_assert_int_eq(write(a, "xy", 2), 2);
			c[0] = tu_wait1(ctx);
			ck_assert_uint_eq(c[0].user_data, 3000);
			if (m < 2) {
				ck_assert_int_eq(c[0].res, 2);
				ck_assert_uint_eq(c[0].flags & 0xffff,
						  VOS_CQE_F_MORE |
							  VOS_CQE_F_BUFFER);
			} else {
				ck_assert_int_eq(c[0].res, -ENOBUFS);
				ck_assert_uint_eq(c[0].flags, 0);
			}
		}
		ck_assert_int_eq(vos_buf_return(ctx, 8, 0), 0);
		ck_assert_int_eq(vos_buf_return(ctx, 8, 1), 0);
		ck_assert_int_eq(vos_buf_pool_destroy(ctx, 8), 0);
		close(a);
		close(b);
	}
	/* a non-blocking listener: accepts run inline */
	vos_prep_accept_multishot(&r, l2, SOCK_CLOEXEC);
	r.user_data = 1001;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	for (int i = 0; i < 3; i++) {
		int a = connect_local(&sin2);

		c[0] = tu_wait1(ctx);
		ck_assert_uint_eq(c[0].user_data, 1001);
		ck_assert_int_ge(c[0].res, 0);
		ck_assert_uint_eq(c[0].flags, VOS_CQE_F_MORE);
		close((int)c[0].res);
		close(a);
	}
	/* cancels end the rest: the accepts and 39 recvs */
	ck_assert_int_eq(vos_cancel(ctx, 1000), 0);
	ck_assert_int_eq(vos_cancel(ctx, 1001), 0);
	for (int i = 1; i < NCLI; i++)
		ck_assert_int_eq(vos_cancel(ctx, 2000 + (uint64_t)i), 0);
	while (ended < NCLI + 1) {
		int n = vos_wait(ctx, c, 64, 1, 10LL * 1000000000);

		ck_assert_int_gt(n, 0);
		for (int k = 0; k < n; k++) {
			ck_assert_int_eq(c[k].res, -ECANCELED);
			ck_assert_uint_eq(c[k].flags, 0);
			ended++;
		}
	}
	ck_assert_int_eq(vos_buf_pool_destroy(ctx, 7), 0);
	ck_assert_int_eq(vos_buf_pool_destroy(ctx, 7), -ENOENT);
	for (int i = 0; i < NCLI; i++) {
		if (i)
			close(cli[i]);
		close(srv[i]);
	}
	close(l);
	close(l2);
	vos_ctx_destroy(ctx);
}
END_TEST

/* Closing an fd through the context ends the multishot requests on it
 * first: their polls let go of the file (the peer sees the end of the
 * stream, the port of a closed listener is free again), and nothing runs
 * on the next file that gets the number. */
START_TEST(multishot_close_ends_it)
{
	struct vos_ctx *ctx = tu_ctx();
	struct sockaddr_in sin, sin2, again;
	struct vos_req r;
	struct vos_cqe c;
	char *base, b;
	int l = listen_local(&sin, false), l2 = listen_local(&sin2, false), p, q;

	ck_assert_int_eq(vos_buf_pool_create(ctx, 3, 8, 64, (void **)&base), 0);
	/* a recv armed on an idle connection (of another listener: its
	 * TIME_WAIT would hold l's port) */
	p = connect_local(&sin2);
	q = accept4(l2, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(q, 0);
	vos_prep_recv_multishot(&r, q, 3, 0, 0);
	r.user_data = 77;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	ck_assert_int_eq(vos_close(ctx, q), 0);
	c = tu_wait1(ctx);
	ck_assert_uint_eq(c.user_data, 77);
	ck_assert_int_eq(c.res, -ECANCELED);
	ck_assert_uint_eq(c.flags, 0);
	{
		struct pollfd pf = { p, POLLIN, 0 };

		ck_assert_int_eq(poll(&pf, 1, 5000), 1);
		ck_assert_int_eq(read(p, &b, 1), 0); /* the peer sees the end */
	}
	close(p);
	close(l2);
	/* an accept armed on a listener */
	vos_prep_accept_multishot(&r, l, SOCK_CLOEXEC);
	r.user_data = 78;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	ck_assert_int_eq(vos_close(ctx, l), 0);
	c = tu_wait1(ctx);
	ck_assert_uint_eq(c.user_data, 78);
	ck_assert_int_eq(c.res, -ECANCELED);
	/* the port is free again (it never had a connection) */
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	again = sin;
	ck_assert_msg(bind(l, (struct sockaddr *)&again, sizeof(again)) == 0,
		      "bind to the closed listener's port: %s", strerror(errno));
	ck_assert_int_eq(listen(l, 1), 0);
	close(l);
	ck_assert_int_eq(vos_buf_pool_destroy(ctx, 3), 0);
	vos_ctx_destroy(ctx);
}
END_TEST

/* 200 KB that arrived at once, into a pool of 64 x 1 KiB returned after
 * each completion: a multishot recv takes at most 16 per wake-up and
 * waits for the next reap, so the program can give buffers back in time
 * (on the compat backend a ready poll once ran the next 16 at once, one
 * call deeper, until the pool was empty: -ENOBUFS). */
START_TEST(multishot_burst_leaves_room)
{
	enum { SZ = 200000 };
	struct vos_ctx *ctx = tu_ctx();
	static char big[SZ];
	struct vos_req r;
	struct vos_cqe c[256];
	int sv[2], sz = 1 << 20, maxbatch = 0;
	long got = 0;
	char *base;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	ck_assert_int_eq(setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz,
				    sizeof(sz)), 0);
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(write(sv[1], big, SZ), SZ);
	ck_assert_int_eq(vos_buf_pool_create(ctx, 1, 64, 1024, (void **)&base),
			 0);
	vos_prep_recv_multishot(&r, sv[0], 1, 0, 0);
	r.user_data = 1;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	while (got < SZ) {
		int n = vos_wait(ctx, c, 256, 1, 10LL * 1000000000);

		ck_assert_int_gt(n, 0);
		if (n > maxbatch)
			maxbatch = n;
		for (int i = 0; i < n; i++) {
			ck_assert_msg(c[i].flags & VOS_CQE_F_MORE,
				      "ended with %lld after %ld bytes",
				      (long long)c[i].res, got);
			got += c[i].res;
			ck_assert_int_eq(vos_buf_return(ctx, 1,
							vos_cqe_buffer(&c[i])),
					 0);
		}
	}
	ck_assert_int_eq(got, SZ);
	ck_assert_int_le(maxbatch, 64);
	ck_assert_int_eq(vos_cancel(ctx, 1), 0);
	c[0] = tu_wait1(ctx);
	ck_assert_int_eq(c[0].res, -ECANCELED);
	close(sv[0]);
	close(sv[1]);
	vos_ctx_destroy(ctx);
}
END_TEST

/* Multishot accept and recv on every route: the local kernel, and
 * through netd, where the library runs them as one-shot steps (ACCEPT
 * after ACCEPT; POLL, then a RECV into a pool buffer).  Three clients
 * (plain sockets) connect, each sends a message and one hangs up. */
START_TEST(multishot_every_route)
{
	enum { N = 3 };
	struct vos_ctx *ctx = tu_ctx();
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	int l, cli[N], srv[N], n = 0, ended = 0;
	char *base, got[N][16] = { { 0 } };
	struct vos_req r;
	struct vos_cqe c[16];

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = vos_socket(ctx, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(vos_bind(ctx, l, (struct sockaddr *)&sin, sizeof(sin)),
			 0);
	ck_assert_int_eq(vos_listen(ctx, l, 8), 0);
	ck_assert_int_eq(vos_getsockname(ctx, l, (struct sockaddr *)&sin, &sl),
			 0);
	ck_assert_int_eq(vos_buf_pool_create(ctx, 5, 16, 256, (void **)&base),
			 0);
	vos_prep_accept_multishot(&r, l, SOCK_CLOEXEC);
	r.user_data = 500;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	for (int i = 0; i < N; i++) {
		cli[i] = connect_local(&sin);
		c[0] = tu_wait1(ctx);
		ck_assert_uint_eq(c[0].user_data, 500);
		ck_assert_msg(c[0].res >= 0, "accept: %s",
			      strerror((int)-c[0].res));
		ck_assert_uint_eq(c[0].flags, VOS_CQE_F_MORE);
		srv[i] = (int)c[0].res;
		vos_prep_recv_multishot(&r, srv[i], 5, 0, 0);
		r.user_data = 600 + (uint64_t)i;
		ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	}
	for (int i = 0; i < N; i++) {
		char m[16];

		snprintf(m, sizeof(m), "hello %d", i);
		ck_assert_int_eq(write(cli[i], m, strlen(m)), (ssize_t)strlen(m));
	}
	while (n < N) {
		int k = vos_wait(ctx, c, 16, 1, 10LL * 1000000000);

		ck_assert_int_gt(k, 0);
		for (int j = 0; j < k; j++) {
			int i = (int)(c[j].user_data - 600);
			unsigned bid = vos_cqe_buffer(&c[j]);

			ck_assert_int_ge(i, 0);
			ck_assert_int_lt(i, N);
			ck_assert_uint_eq(c[j].flags & 0xffff,
					  VOS_CQE_F_MORE | VOS_CQE_F_BUFFER);
			ck_assert_int_gt(c[j].res, 0);
			memcpy(got[i] + strlen(got[i]), base + bid * 256,
			       (size_t)c[j].res);
			ck_assert_int_eq(vos_buf_return(ctx, 5, bid), 0);
			if (strlen(got[i]) == strlen("hello 0"))
				n++;
		}
	}
	for (int i = 0; i < N; i++) {
		char m[16];

		snprintf(m, sizeof(m), "hello %d", i);
		ck_assert_str_eq(got[i], m);
	}
	/* a hang-up ends its recv: 0 */
	close(cli[0]);
	c[0] = tu_wait1(ctx);
	ck_assert_uint_eq(c[0].user_data, 600);
	ck_assert_int_eq(c[0].res, 0);
	ck_assert_uint_eq(c[0].flags, 0);
	/* a recv on a pool that does not exist ends at once; one made later
	 * is not its */
	vos_prep_recv_multishot(&r, srv[2], 77, 0, 0);
	r.user_data = 700;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	c[0] = tu_wait1(ctx);
	ck_assert_uint_eq(c[0].user_data, 700);
	ck_assert_int_eq(c[0].res, -ENOBUFS);
	/* closing an fd through the context ends its multishot recv first:
	 * the peer sees the end of the stream at once (in netd, the poll
	 * parked there would otherwise hold the socket) */
	ck_assert_int_eq(vos_close(ctx, srv[1]), 0);
	srv[1] = -1;
	{
		struct pollfd pf = { cli[1], POLLIN, 0 };
		char b;

		ck_assert_int_eq(poll(&pf, 1, 5000), 1);
		ck_assert_int_eq(read(cli[1], &b, 1), 0);
	}
	/* cancels end the rest (an accept cancelled as it made a connection
	 * ends with that connection: none here) */
	vos_cancel(ctx, 500);
	vos_cancel(ctx, 602);
	while (ended < 3) {
		int k = vos_wait(ctx, c, 16, 1, 10LL * 1000000000);

		ck_assert_int_gt(k, 0);
		for (int j = 0; j < k; j++) {
			ck_assert_int_eq(c[j].res, -ECANCELED);
			ck_assert_uint_eq(c[j].flags, 0);
			ended++;
		}
	}
	ck_assert_int_eq(vos_buf_pool_destroy(ctx, 5), 0);
	for (int i = 0; i < N; i++) {
		if (i)
			close(cli[i]);
		if (srv[i] >= 0)
			ck_assert_int_eq(vos_close(ctx, srv[i]), 0);
	}
	ck_assert_int_eq(vos_close(ctx, l), 0);
	vos_ctx_destroy(ctx);
}
END_TEST

/* A 4 MiB send that cannot finish (nobody reads) and a write queued
 * behind it on a socketpair's end: the state the next three tests start
 * from.  *sv: the pair. */
static void send_stuck(struct vos_ctx *ctx, int sv[2], char *big, size_t len)
{
	struct vos_req r[2];
	struct vos_cqe c;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sv), 0);
	vos_prep_send(&r[0], sv[0], big, (uint32_t)len, 0);
	r[0].user_data = 1;
	vos_prep_write(&r[1], sv[0], "SECRET", 6);
	r[1].user_data = 2;
	ck_assert_int_eq(vos_submit(ctx, r, 2), 2);
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 100000000), -ETIME);
}

/* Closing the fd through the context while a write waits behind a send:
 * nothing of either reaches a file that gets the number next. */
START_TEST(close_with_queued_write)
{
	enum { BIG = 4 << 20 };
	struct vos_ctx *ctx = tu_ctx();
	char *big = calloc(1, BIG), buf[64] = { 0 }, dir[256], p[300];
	int dfd = tu_dir(tu_diskbase(), dir, sizeof(dir)), sv[2], f, got = 0;
	struct vos_req r[2];
	struct vos_cqe c;

	signal(SIGPIPE, SIG_IGN); /* the send ends on a closed peer */
	send_stuck(ctx, sv, big, BIG);
	snprintf(p, sizeof(p), "%s/victim", dir);
	f = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(f, 0);
	/* close, and at once a dup of the file onto the lowest free number
	 * from the closed one up: the same number */
	vos_prep_close(&r[0], sv[0]);
	r[0].user_data = 3;
	vos_prep_fcntl(&r[1], f, F_DUPFD_CLOEXEC, sv[0]);
	r[1].user_data = 4;
	ck_assert_int_eq(vos_submit(ctx, r, 2), 2);
	/* the close and the dup complete; the send and the write wait for
	 * a reader, on the socket they took before the close */
	while (got < 2 && vos_wait(ctx, &c, 1, 1, 2000000000LL) == 1) {
		ck_assert_uint_ge(c.user_data, 3);
		ck_assert_int_ge(c.res, 0);
		got++;
	}
	ck_assert_int_eq(got, 2);
	close(sv[1]); /* now they end (EPIPE, or a count) */
	while (got < 4 && vos_wait(ctx, &c, 1, 1, 2000000000LL) == 1)
		got++;
	ck_assert_int_eq(got, 4);
	ck_assert_int_eq(pread(f, buf, sizeof(buf) - 1, 0), 0);
	close(f);
	unlink(p);
	close(dfd);
	rmdir(dir);
	free(big);
	vos_ctx_destroy(ctx);
}
END_TEST

/* A send cancelled while it is carried on stops at the piece it was at
 * and says what went out (it did not go on to the end). */
START_TEST(cancel_stops_a_carried_send)
{
	enum { BIG = 4 << 20 };
	struct vos_ctx *ctx = tu_ctx();
	char *big = calloc(1, BIG), *sink = malloc(1 << 20);
	int sv[2], seen = 0;
	struct vos_req r;
	struct vos_cqe c;
	size_t got = 0;

	signal(SIGPIPE, SIG_IGN);
	send_stuck(ctx, sv, big, BIG);
	/* let some of it out: the send is past its first piece */
	while (got < 300000) {
		ssize_t n = read(sv[1], sink, 1 << 20);

		ck_assert_int_gt(n, 0);
		got += (size_t)n;
		vos_wait(ctx, &c, 1, 1, 1000000);
	}
	vos_prep_cancel(&r, 1);
	r.user_data = 5;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	while (seen < 3 && vos_wait(ctx, &c, 1, 1, 2000000000LL) == 1) {
		if (c.user_data == 1)
			ck_assert_msg(c.res > 0 && c.res < BIG, "send said %lld",
				      (long long)c.res);
		if (c.user_data == 2) /* the write behind it: runs or not */
			ck_assert(c.res == 6 || c.res == -ECANCELED ||
				  c.res == -EBADF);
		seen++;
	}
	ck_assert_int_ge(seen, 2);
	close(sv[0]);
	close(sv[1]);
	free(big);
	free(sink);
	vos_ctx_destroy(ctx);
}
END_TEST

/* A child that took the context over after fork is not held behind the
 * parent's writes on the same fd. */
START_TEST(fork_child_not_behind_parent_writes)
{
	enum { BIG = 4 << 20 };
	struct vos_ctx *ctx = tu_ctx();
	char *big = calloc(1, BIG);
	int sv[2], st;
	pid_t pid;

	send_stuck(ctx, sv, big, BIG);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct vos_req r;
		struct vos_cqe c;

		char *sink = malloc(8 << 20);

		if (vos_after_fork(ctx) < 0)
			_exit(2);
		/* room for 5 bytes: the parent's send stopped with the
		 * buffer full, so drain it first; what of the parent's send
		 * the kernel still had may fill it again meanwhile (then
		 * -EAGAIN at once, which is also not waiting behind it):
		 * drain and try again, a bounded number of times */
		for (int tries = 0;; tries++) {
			while (recv(sv[1], sink, 8 << 20, MSG_DONTWAIT) > 0)
				;
			vos_prep_send(&r, sv[0], "child", 5, MSG_DONTWAIT);
			r.user_data = 7;
			if (vos_submit(ctx, &r, 1) != 1)
				_exit(3);
			if (vos_wait(ctx, &c, 1, 1, 3000000000LL) != 1)
				_exit(4);
			if (c.res != -EAGAIN || tries == 1000)
				break;
		}
		_exit(c.user_data == 7 && c.res == 5 ? 0 : 5);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: %#x", st);
	close(sv[0]);
	close(sv[1]);
	free(big);
	vos_ctx_destroy(ctx);
}
END_TEST

START_TEST(pipe_backpressure)
{
	enum { SZ = 1 << 20 };
	struct vos_ctx *ctx = tu_ctx();
	char *out = malloc(SZ), *in = malloc(SZ);
	size_t have = 0, acked = 0;
	bool writing = false;
	struct vos_req r;
	struct vos_cqe c;
	int p[2], rounds = 0;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	ck_assert_int_eq(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	for (int i = 0; i < SZ; i++)
		out[i] = (char)(i % 251);
	while (have < SZ || writing) {
		ssize_t n;

		ck_assert_int_lt(++rounds, 100000);
		if (!writing && acked < SZ) {
			vos_prep_write(&r, p[1], out + acked,
				       (uint32_t)(SZ - acked));
			r.user_data = 77;
			ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
			writing = true;
		}
		n = read(p[0], in + have, SZ - have);
		if (n > 0) {
			have += (size_t)n;
			continue;
		}
		ck_assert_int_eq(errno, EAGAIN);
		if (vos_wait(ctx, &c, 1, 1, 1000000) == 1) {
			ck_assert_uint_eq(c.user_data, 77);
			ck_assert_int_gt(c.res, 0);
			acked += (size_t)c.res;
			writing = false;
		}
	}
	ck_assert_uint_eq(acked, SZ);
	ck_assert_int_eq(memcmp(in, out, SZ), 0);
	close(p[0]);
	close(p[1]);
	free(in);
	free(out);
	vos_ctx_destroy(ctx);
}
END_TEST

/* ---- poll, timeouts, cancel --------------------------------------------- */

START_TEST(poll_oneshot)
{
	struct vos_ctx *ctx = tu_ctx();
	struct vos_req r;
	struct vos_cqe c;
	int p[2];

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	/* writable at once */
	ck_assert_int_eq(vos_poll(ctx, p[1], POLLOUT) & POLLOUT, POLLOUT);
	vos_prep_poll(&r, p[0], POLLIN);
	r.user_data = 3;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 10 * 1000000), -ETIME);
	ck_assert_int_eq(write(p[1], "z", 1), 1);
	c = tu_wait1(ctx);
	ck_assert_uint_eq(c.user_data, 3);
	ck_assert_int_eq(c.res & POLLIN, POLLIN);
	/* hang-up is reported too */
	close(p[1]);
	ck_assert_int_ne(vos_poll(ctx, p[0], POLLIN) & (POLLIN | POLLHUP), 0);
	close(p[0]);
	vos_ctx_destroy(ctx);
}
END_TEST

START_TEST(timeouts_in_order)
{
	struct vos_ctx *ctx = tu_ctx();
	static const uint64_t ms[4] = { 40, 10, 30, 20 };
	struct vos_req r[4];
	struct vos_cqe c[4];
	uint64_t order[4];
	int got = 0;

	for (int i = 0; i < 4; i++) {
		vos_prep_timeout(&r[i], ms[i] * 1000000);
		r[i].user_data = ms[i];
	}
	ck_assert_int_eq(vos_submit(ctx, r, 4), 4);
	while (got < 4) {
		int n = vos_wait(ctx, c, 4, 1, 10LL * 1000000000);

		ck_assert_int_gt(n, 0);
		for (int i = 0; i < n; i++) {
			ck_assert_int_eq(c[i].res, 0);
			order[got++] = c[i].user_data;
		}
	}
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(order[i], 10 * (uint64_t)(i + 1));
	ck_assert_int_eq(vos_sleep(ctx, 0), 0);
	vos_ctx_destroy(ctx);
}
END_TEST

/* Timeouts that all expired before anyone looked still complete earliest
 * first.  (The sleep is not synchronisation: time passing unobserved is the
 * condition under test.) */
START_TEST(timeouts_expired_together)
{
	struct vos_ctx *ctx = tu_ctx();
	static const uint64_t ms[3] = { 3, 1, 2 };
	struct timespec nap = { 0, 30 * 1000000 };
	struct vos_req r[3];
	struct vos_cqe c[3];
	int got = 0;

	for (int i = 0; i < 3; i++) {
		vos_prep_timeout(&r[i], ms[i] * 1000000);
		r[i].user_data = ms[i];
	}
	ck_assert_int_eq(vos_submit(ctx, r, 3), 3);
	while (nanosleep(&nap, &nap) != 0)
		;
	while (got < 3) {
		int n = vos_wait(ctx, c + got, 3 - (unsigned)got, 1,
				 10LL * 1000000000);

		ck_assert_int_gt(n, 0);
		got += n;
	}
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(c[i].res, 0);
		ck_assert_uint_eq(c[i].user_data, (uint64_t)i + 1);
	}
	vos_ctx_destroy(ctx);
}
END_TEST

START_TEST(cancel_ops)
{
	struct vos_ctx *ctx = tu_ctx();
	struct vos_req r[3];
	struct vos_cqe c[3];
	char buf[8];
	int a, b;

	tu_tcp_pair(&a, &b);
	ck_assert_int_eq(vos_cancel(ctx, 12345), -ENOENT);

	/* a recv nobody answers, cancelled by a cancel request in a batch */
	vos_prep_recv(&r[0], b, buf, sizeof(buf), 0);
	r[0].user_data = 1;
	vos_prep_poll(&r[1], b, POLLIN);
	r[1].user_data = 2;
	ck_assert_int_eq(vos_submit(ctx, r, 2), 2);
	vos_prep_cancel(&r[0], 1);
	r[0].user_data = 100;
	vos_prep_cancel(&r[1], 2);
	r[1].user_data = 200;
	vos_prep_cancel(&r[2], 999);
	r[2].user_data = 300;
	ck_assert_int_eq(vos_submit(ctx, r, 3), 3);
	for (int got = 0; got < 5;) {
		int n = vos_wait(ctx, c, 3, 1, 10LL * 1000000000);

		ck_assert_int_gt(n, 0);
		for (int i = 0; i < n; i++, got++) {
			switch (c[i].user_data) {
			case 1: case 2:
				ck_assert_int_eq(c[i].res, -ECANCELED);
				break;
			case 100: case 200:
				ck_assert_int_eq(c[i].res, 0);
				break;
			case 300:
				ck_assert_int_eq(c[i].res, -ENOENT);
				break;
			default:
				ck_abort_msg("stray completion");
			}
		}
	}
	/* the socket still works afterwards */
	ck_assert_int_eq(vos_send(ctx, a, "ok", 2, 0), 2);
	ck_assert_int_eq(vos_recv(ctx, b, buf, sizeof(buf), 0), 2);
	close(a);
	close(b);
	vos_ctx_destroy(ctx);
}
END_TEST

/* accept on a blocking listener nobody connects to can be cancelled */
START_TEST(cancel_accept)
{
	struct vos_ctx *ctx = tu_ctx();
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct vos_req r;
	struct vos_cqe c;
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(l, 4), 0);
	vos_prep_accept(&r, l, NULL, NULL, 0);
	r.user_data = 8;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 10 * 1000000), -ETIME);
	ck_assert_int_eq(vos_cancel(ctx, 8), 0);
	c = tu_wait1(ctx);
	ck_assert_uint_eq(c.user_data, 8);
	ck_assert_int_eq(c.res, -ECANCELED);
	close(l);
	vos_ctx_destroy(ctx);
}
END_TEST

/* A child process holding record locks through the kernel, told what to
 * do over a pipe: 'L' locks bytes 0-9 for writing (F_SETLK), 'U' unlocks
 * them, 'Q' quits; each answers '0', or 'E' for a refused lock. */
struct lock_kid {
	pid_t pid;
	int cmd, ans;
};

static void lock_kid_start(struct lock_kid *k, const char *path)
{
	int to[2], from[2];

	ck_assert_int_eq(pipe2(to, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(from, O_CLOEXEC), 0);
	k->pid = fork();
	ck_assert_int_ge(k->pid, 0);
	if (k->pid == 0) {
		int fd = open(path, O_RDWR | O_CLOEXEC);
		char c;

		if (fd < 0)
			_exit(1);
		while (read(to[0], &c, 1) == 1 && c != 'Q') {
			struct flock l = { .l_type = c == 'L' ? F_WRLCK
							      : F_UNLCK,
					   .l_whence = SEEK_SET, .l_len = 10 };
			char a = fcntl(fd, F_SETLK, &l) == 0 ? '0' : 'E';

			if (write(from[1], &a, 1) != 1)
				_exit(1);
		}
		_exit(0);
	}
	close(to[0]);
	close(from[1]);
	k->cmd = to[1];
	k->ans = from[0];
}

static char lock_kid_do(struct lock_kid *k, char c)
{
	char a = 'x';

	ck_assert_int_eq(write(k->cmd, &c, 1), 1);
	if (c != 'Q')
		ck_assert_int_eq(read(k->ans, &a, 1), 1);
	return a;
}



/* dup2 and dup3 from and onto every kind of fd (a service's when routed:
 * stord's file, netd's socket; a local pipe): the kernel's refusals in
 * its order; the copy shares the file (offset) and takes O_CLOEXEC only
 * when asked; what newfd was is closed, in the service too (the peer of
 * a netd socket dup'd over sees end of file). */
START_TEST(dup2_dup3)
{
	struct vos_ctx *ctx = tu_ctx();
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	char dir[256], buf[8];
	int dfd = tu_dir(tu_diskbase(), dir, sizeof(dir));
	int a, b, spare, p[2], l, cl, sv, cl2, nfd, x, y;
	struct flock wl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct rlimit rl;

	a = vos_openat(ctx, dfd, "a", O_RDWR | O_CREAT, 0600);
	b = vos_openat(ctx, dfd, "b", O_RDWR | O_CREAT, 0600);
	ck_assert_int_ge(a, 0);
	ck_assert_int_ge(b, 0);
	ck_assert_int_eq(vos_write(ctx, a, "abcdef", 6), 6);
	ck_assert_int_eq(vos_write(ctx, b, "XYZ", 3), 3);
	/* the kernel's refusals, in its order */
	ck_assert_int_eq(vos_dup3(ctx, a, a, 0), -EINVAL);
	ck_assert_int_eq(vos_dup3(ctx, -1, -1, O_NONBLOCK), -EINVAL);
	ck_assert_int_eq(vos_dup3(ctx, -1, -1, 0), -EINVAL);
	ck_assert_int_eq(vos_dup3(ctx, a, b, O_NONBLOCK), -EINVAL);
	ck_assert_int_eq(vos_dup3(ctx, -1, b, 0), -EBADF);
	ck_assert_int_eq(vos_dup3(ctx, a, -1, 0), -EBADF);
	ck_assert_int_eq(vos_dup2(ctx, -1, -1), -EBADF);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_int_eq(vos_dup2(ctx, a, (int)rl.rlim_cur), -EBADF);
	ck_assert_int_eq(vos_dup2(ctx, a, a), a);

	/* a onto b: b is a's copy now, at a's offset, not close-on-exec */
	ck_assert_int_eq(vos_dup2(ctx, a, b), b);
	ck_assert_int_eq(vos_lseek(ctx, b, 0, SEEK_CUR), 6);
	ck_assert_int_eq(vos_lseek(ctx, a, 1, SEEK_SET), 1);
	ck_assert_int_eq(vos_read(ctx, b, buf, 2), 2);
	ck_assert_int_eq(memcmp(buf, "bc", 2), 0);
	ck_assert_int_eq(vos_fcntl(ctx, b, F_GETFD, 0), 0);
	/* onto a number that is free, close-on-exec */
	spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(spare, 0);
	close(spare);
	ck_assert_int_eq(vos_dup3(ctx, a, spare, O_CLOEXEC), spare);
	ck_assert_int_eq(vos_fcntl(ctx, spare, F_GETFD, 0), FD_CLOEXEC);
	ck_assert_int_eq(vos_pread(ctx, spare, buf, 3, 3), 3);
	ck_assert_int_eq(memcmp(buf, "def", 3), 0);
	/* closing the original leaves the copies open */
	ck_assert_int_eq(vos_close(ctx, a), 0);
	ck_assert_int_eq(vos_pread(ctx, b, buf, 1, 0), 1);
	ck_assert_int_eq(buf[0], 'a');

	/* a local pipe onto a service's fd, and a service's fd onto the
	 * pipe's write end: the pipe then has no writer */
	ck_assert_int_eq(vos_pipe2(ctx, p, O_CLOEXEC), 0);
	ck_assert_int_eq(vos_dup3(ctx, p[0], b, O_CLOEXEC), b);
	ck_assert_int_eq(vos_write(ctx, p[1], "pq", 2), 2);
	ck_assert_int_eq(vos_read(ctx, b, buf, sizeof(buf)), 2);
	ck_assert_int_eq(vos_dup2(ctx, spare, p[1]), p[1]);
	ck_assert_int_eq(vos_close(ctx, p[0]), 0);
	ck_assert_int_eq(vos_read(ctx, b, buf, sizeof(buf)), 0);
	ck_assert_int_eq(vos_pread(ctx, p[1], buf, 1, 5), 1);
	ck_assert_int_eq(buf[0], 'f');

	/* a connected socket dup'd over: closed where it lives */
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = vos_socket(ctx, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(vos_bind(ctx, l, (struct sockaddr *)&sin,
				  sizeof(sin)), 0);
	ck_assert_int_eq(vos_listen(ctx, l, 4), 0);
	ck_assert_int_eq(vos_getsockname(ctx, l, (struct sockaddr *)&sin, &sl),
			 0);
	cl = vos_socket(ctx, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(cl, 0);
	ck_assert_int_eq(vos_connect(ctx, cl, (struct sockaddr *)&sin,
				     sizeof(sin)), 0);
	sv = vos_accept(ctx, l, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(sv, 0);
	cl2 = vos_fcntl(ctx, cl, F_DUPFD_CLOEXEC, 0); /* a second copy */
	ck_assert_int_ge(cl2, 0);
	ck_assert_int_eq(vos_dup2(ctx, b, cl), cl); /* one of two: open */
	ck_assert_int_eq(vos_send(ctx, cl2, "s", 1, 0), 1);
	ck_assert_int_eq(vos_recv(ctx, sv, buf, sizeof(buf), 0), 1);
	ck_assert_int_eq(vos_dup2(ctx, spare, cl2), cl2); /* the last one */
	ck_assert_int_eq(vos_recv(ctx, sv, buf, sizeof(buf), 0), 0);
	/* and a socket onto a file's number: the file's copy closed */
	ck_assert_int_eq(vos_dup2(ctx, sv, spare), spare);
	ck_assert_int_eq(vos_getsockname(ctx, spare, (struct sockaddr *)&sin,
					 &sl), 0);
	ck_assert_int_eq(vos_close(ctx, sv), 0);
	ck_assert_int_eq(vos_close(ctx, spare), 0);
	ck_assert_int_eq(vos_close(ctx, cl), 0);
	ck_assert_int_eq(vos_close(ctx, cl2), 0);
	ck_assert_int_eq(vos_close(ctx, p[1]), 0);
	ck_assert_int_eq(vos_close(ctx, b), 0);
	ck_assert_int_eq(vos_close(ctx, l), 0);
	/* what newfd was is closed where it lives: its OFD lock goes */
	nfd = tu_count_fds();
	x = vos_openat(ctx, dfd, "b", O_RDWR, 0);
	ck_assert_int_ge(x, 0);
	ck_assert_int_eq(vos_fcntl(ctx, x, F_OFD_SETLK, (long)&wl), 0);
	y = vos_openat(ctx, dfd, "b", O_RDWR, 0);
	ck_assert_int_ge(y, 0);
	ck_assert_int_eq(vos_fcntl(ctx, y, F_OFD_SETLK, (long)&wl), -EAGAIN);
	a = vos_openat(ctx, dfd, "a", O_RDONLY, 0);
	ck_assert_int_ge(a, 0);
	ck_assert_int_eq(vos_dup3(ctx, a, x, O_NONBLOCK), -EINVAL);
	ck_assert_int_eq(vos_dup2(ctx, -1, x), -EBADF);
	ck_assert_int_eq(vos_dup2(ctx, a, (int)rl.rlim_cur), -EBADF);
	ck_assert_int_eq(vos_fcntl(ctx, y, F_OFD_SETLK, (long)&wl), -EAGAIN);
	ck_assert_int_eq(vos_dup2(ctx, a, x), x); /* x's file closed */
	ck_assert_int_eq(vos_fcntl(ctx, y, F_OFD_SETLK, (long)&wl), 0);
	ck_assert_int_eq(vos_close(ctx, y), 0);
	ck_assert_int_eq(vos_close(ctx, x), 0);
	ck_assert_int_eq(vos_close(ctx, a), 0);
	/* every fd the calls made is gone with the closes (placeholders,
	 * the failed calls' too) */
	ck_assert_int_eq(tu_count_fds(), nfd);
	ck_assert_int_eq(vos_unlinkat(ctx, dfd, "a", 0), 0);
	ck_assert_int_eq(vos_unlinkat(ctx, dfd, "b", 0), 0);
	tu_dir_close(ctx, dfd);
	rmdir(dir);
	vos_ctx_destroy(ctx);
}
END_TEST

/* dup2 onto a number a request in flight still holds (a close, an
 * open's new fd): -EBUSY, as the kernel's dup2 says in that race, or
 * (where the other request already completed: the local routes) a dup
 * that really put the pipe there; never a file closed under the program.
 * And a dup whose second step (closing newfd's old service fd) comes due
 * while the program waits on vos_ctx_fd() completes. */
START_TEST(dup_in_flight)
{
	struct vos_ctx *ctx = tu_ctx();
	char dir[256], buf[8];
	int dfd = tu_dir(tu_diskbase(), dir, sizeof(dir));
	int a, b, s, p[2], d, n, cfd, got = 0;
	struct vos_req r;
	struct vos_cqe c;
	struct pollfd pf;

	ck_assert_int_eq(vos_pipe2(ctx, p, O_CLOEXEC), 0);
	for (int i = 0; i < 20; i++) {
		/* a close in flight */
		s = vos_openat(ctx, dfd, "s", O_RDWR | O_CREAT, 0600);
		ck_assert_int_ge(s, 0);
		vos_prep_close(&r, s);
		r.user_data = 1;
		ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
		d = vos_dup2(ctx, p[0], s);
		ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 10LL * 1000000000),
				 1);
		ck_assert_int_eq(c.res, 0);
		if (tu_store(tu_diskbase()))
			ck_assert_int_eq(d, -EBUSY); /* (stord's close) */
		else
			ck_assert(d == -EBUSY || d == s);
		if (d == s) { /* the pipe is there, open */
			ck_assert_int_eq(vos_write(ctx, p[1], "x", 1), 1);
			ck_assert_int_eq(vos_read(ctx, s, buf, 1), 1);
			ck_assert_int_eq(vos_close(ctx, s), 0);
		}
		/* an open in flight: its new fd takes the lowest number */
		n = dup(0);
		close(n);
		vos_prep_openat(&r, dfd, "s", O_RDONLY | O_CLOEXEC, 0);
		r.user_data = 2;
		ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
		d = vos_dup2(ctx, p[0], n);
		ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 10LL * 1000000000),
				 1);
		ck_assert_int_ge(c.res, 0);
		ck_assert(d == -EBUSY || d == n);
		if (tu_store(tu_diskbase()))
			ck_assert_int_eq(d, -EBUSY);
		/* (locally the open may have completed first: the dup then
		 * replaced its file, as the kernel's would) */
		if (c.res != n || d != n) {
			ck_assert_int_eq(vos_fcntl(ctx, (int)c.res, F_GETFD,
						   0), FD_CLOEXEC);
			ck_assert_int_eq(vos_close(ctx, (int)c.res), 0);
		}
		if (d == n) {
			ck_assert_int_eq(vos_write(ctx, p[1], "y", 1), 1);
			ck_assert_int_eq(vos_read(ctx, n, buf, 1), 1);
			ck_assert_int_eq(buf[0], 'y');
			ck_assert_int_eq(vos_close(ctx, n), 0);
		}
	}
	/* a dup of one service fd onto another, waited for on the
	 * context's fd */
	a = vos_openat(ctx, dfd, "a", O_RDWR | O_CREAT, 0600);
	b = vos_openat(ctx, dfd, "b", O_RDWR | O_CREAT, 0600);
	ck_assert_int_ge(a, 0);
	ck_assert_int_ge(b, 0);
	cfd = vos_ctx_fd(ctx);
	ck_assert_int_ge(cfd, 0);
	vos_prep_dup3(&r, a, b, O_CLOEXEC);
	r.user_data = 3;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	for (int k = 0; k < 100 && !got; k++) {
		pf = (struct pollfd){ cfd, POLLIN, 0 };
		ck_assert_int_ge(poll(&pf, 1, 100), 0);
		if (vos_wait(ctx, &c, 1, 1, 0) == 1)
			got = 1;
	}
	ck_assert_msg(got, "the dup never completed on the ctx fd");
	ck_assert_int_eq(c.res, b);
	ck_assert_int_eq(vos_fcntl(ctx, b, F_GETFD, 0), FD_CLOEXEC);
	ck_assert_int_eq(vos_close(ctx, a), 0);
	ck_assert_int_eq(vos_close(ctx, b), 0);
	ck_assert_int_eq(vos_close(ctx, p[0]), 0);
	ck_assert_int_eq(vos_close(ctx, p[1]), 0);
	for (const char *f = "s"; f; f = f[0] == 's' ? "a" : f[0] == 'a' ? "b" : NULL)
		ck_assert_int_eq(vos_unlinkat(ctx, dfd, f, 0), 0);
	tu_dir_close(ctx, dfd);
	rmdir(dir);
	vos_ctx_destroy(ctx);
}
END_TEST


/* openat2 in a linked chain: the program's struct open_how is taken when
 * vos_submit() is called (not when the request starts, nor lost), with
 * its flags and RESOLVE_ bits, on every route. */
START_TEST(openat2_linked)
{
	struct vos_ctx *ctx = tu_ctx();
	char dir[256];
	int dfd = tu_dir(tu_diskbase(), dir, sizeof(dir));
	struct open_how mk = { .flags = O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
			       .mode = 0600, .resolve = RESOLVE_BENEATH };
	struct open_how up = { .flags = O_RDONLY,
			       .resolve = RESOLVE_BENEATH };
	struct vos_req r[3];
	struct vos_cqe c[3];
	int fd = -1;

	vos_prep_nop(&r[0]);
	r[0].flags = VOS_REQ_LINK;
	r[0].user_data = 0;
	vos_prep_openat2(&r[1], dfd, "made", &mk, 24); /* size VER0 */
	r[1].flags = VOS_REQ_LINK;
	r[1].user_data = 1;
	vos_prep_openat2(&r[2], dfd, "../made", &up, sizeof(up));
	r[2].user_data = 2;
	ck_assert_int_eq(vos_submit(ctx, r, 3), 3);
	memset(&mk, 0xff, sizeof(mk)); /* taken already */
	memset(&up, 0xff, sizeof(up));
	ck_assert_int_eq(vos_wait(ctx, c, 3, 3, 10LL * 1000000000), 3);
	for (int i = 0; i < 3; i++) {
		if (c[i].user_data == 0)
			ck_assert_int_eq(c[i].res, 0);
		else if (c[i].user_data == 1)
			fd = (int)c[i].res;
		else /* beneath dfd: ".." leaves it */
			ck_assert_int_eq(c[i].res, -EXDEV);
	}
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vos_fcntl(ctx, fd, F_GETFD, 0), FD_CLOEXEC);
	ck_assert_int_eq(vos_write(ctx, fd, "ok", 2), 2); /* O_RDWR */
	ck_assert_int_eq(vos_close(ctx, fd), 0);
	ck_assert_int_eq(vos_unlinkat(ctx, dfd, "made", 0), 0);
	tu_dir_close(ctx, dfd);
	rmdir(dir);
	vos_ctx_destroy(ctx);
}
END_TEST

/* fcntl's record locks against another process's, on every route (through
 * stord the lock is stord's open file description's, which conflicts with
 * a process's POSIX lock as the client's own would): -EAGAIN while the
 * other holds it, F_GETLK names the holder, F_SETLKW waits until it lets
 * go, and a wait stopped by its deadline or a cancel leaves no lock. */
START_TEST(record_locks)
{
	struct vos_ctx *ctx = tu_ctx();
	char dir[256], path[300];
	int dfd = tu_dir(tu_diskbase(), dir, sizeof(dir)), vf, st;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_len = 10 };
	struct flock bad = fl, ofd = { .l_type = F_RDLCK, .l_len = 1,
				       .l_pid = 1 };
	struct lock_kid kid;
	struct vos_req r;
	struct vos_cqe c;
	int ret;

	snprintf(path, sizeof(path), "%s/locked", dir);
	vf = vos_openat(ctx, dfd, "locked", O_RDWR | O_CREAT, 0600);
	ck_assert_int_ge(vf, 0);
	/* nothing holds it: F_GETLK says F_UNLCK */
	ck_assert_int_eq(vos_fcntl(ctx, vf, F_GETLK, (long)&fl), 0);
	ck_assert_int_eq(fl.l_type, F_UNLCK);
	/* the kernel's refusals */
	bad.l_type = 7;
	ck_assert_int_eq(vos_fcntl(ctx, vf, F_SETLK, (long)&bad), -EINVAL);
	bad.l_type = F_RDLCK;
	bad.l_whence = 9;
	ck_assert_int_eq(vos_fcntl(ctx, vf, F_GETLK, (long)&bad), -EINVAL);
	ck_assert_int_eq(vos_fcntl(ctx, vf, F_SETLK, 0), -EFAULT);
	ck_assert_int_eq(vos_fcntl(ctx, vf, F_OFD_SETLK, (long)&ofd),
			 -EINVAL); /* an OFD lock's l_pid must be 0 */
	ck_assert_int_eq(vos_fcntl(ctx, -1, F_SETLK, (long)&fl), -EBADF);

	lock_kid_start(&kid, path);
	ck_assert_int_eq(lock_kid_do(&kid, 'L'), '0');
	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET,
			     .l_start = 5, .l_len = 1 };
	ck_assert_int_eq(vos_fcntl(ctx, vf, F_SETLK, (long)&fl), -EAGAIN);
	ck_assert_int_eq(vos_fcntl(ctx, vf, F_GETLK, (long)&fl), 0);
	ck_assert_int_eq(fl.l_type, F_WRLCK);
	ck_assert_int_eq(fl.l_pid, kid.pid);
	ck_assert_int_eq(fl.l_start, 0);
	ck_assert_int_eq(fl.l_len, 10);
	/* bytes 10 on are free */
	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET,
			     .l_start = 10, .l_len = 5 };
	ck_assert_int_eq(vos_fcntl(ctx, vf, F_SETLK, (long)&fl), 0);

	/* a wait its deadline ends */
	fl = (struct flock){ .l_type = F_WRLCK, .l_whence = SEEK_SET,
			     .l_len = 10 };
	vos_prep_fcntl(&r, vf, F_SETLKW, (long)&fl);
	r.deadline_ms = 50;
	r.user_data = 1;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	c = tu_wait1(ctx);
	ck_assert_int_eq(c.res, -ETIMEDOUT);
	/* a wait cancelled: at once (-ECANCELED), or, where it already
	 * waits in the kernel, interrupted (-EALREADY, then -EINTR) */
	vos_prep_fcntl(&r, vf, F_SETLKW, (long)&fl);
	r.user_data = 2;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 20 * 1000000), -ETIME);
	ret = vos_cancel(ctx, 2);
	ck_assert_msg(ret == 0 || ret == -EALREADY, "cancel: %d", ret);
	c = tu_wait1(ctx);
	ck_assert_uint_eq(c.user_data, 2);
	ck_assert_msg(c.res == -ECANCELED || c.res == -EINTR, "res %ld",
		      (long)c.res);
	/* cancels at once, or after a few yields: some land while the
	 * wait is being handed to a thread, just before it enters the
	 * kernel (a signal sent there once would be lost, and the wait
	 * would last until the child unlocks); each ends within 3 s */
	for (int i = 0; i < 500; i++) {
		vos_prep_fcntl(&r, vf, F_SETLKW, (long)&fl);
		r.user_data = 100 + (uint64_t)i;
		ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
		for (int y = i % 8; y > 0; y--)
			sched_yield();
		ret = vos_cancel(ctx, r.user_data);
		ck_assert_msg(ret == 0 || ret == -EALREADY, "cancel: %d",
			      ret);
		ck_assert_msg(vos_wait(ctx, &c, 1, 1, 3000000000LL) == 1,
			      "cancelled wait %d did not end", i);
		ck_assert_uint_eq(c.user_data, r.user_data);
		ck_assert_msg(c.res == -ECANCELED || c.res == -EINTR,
			      "res %ld", (long)c.res);
	}
	/* five waits at once leave the program its other calls: an open
	 * (through stord, a call on its slow pool) and a lock try answer
	 * within their deadline, not after the waits */
	for (int i = 0; i < 5; i++) {
		vos_prep_fcntl(&r, vf, F_SETLKW, (long)&fl);
		r.user_data = 20 + (uint64_t)i;
		ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	}
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 20 * 1000000), -ETIME);
	vos_prep_openat(&r, dfd, "other", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	r.user_data = 30;
	r.deadline_ms = 3000;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	{
		struct flock probe = fl;

		vos_prep_fcntl(&r, vf, F_GETLK, (long)&probe);
		r.user_data = 31;
		r.deadline_ms = 3000;
		ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
		for (int got = 0; got < 2; got++) {
			c = tu_wait1(ctx);
			ck_assert_msg(c.user_data == 30 || c.user_data == 31,
				      "a wait ended: %llu res %ld",
				      (unsigned long long)c.user_data,
				      (long)c.res);
			ck_assert_msg(c.res >= 0, "call %llu: %ld",
				      (unsigned long long)c.user_data,
				      (long)c.res);
			if (c.user_data == 30)
				ck_assert_int_eq(vos_close(ctx, (int)c.res), 0);
		}
		ck_assert_int_eq(probe.l_pid, kid.pid);
	}
	for (int i = 0; i < 5; i++) {
		ret = vos_cancel(ctx, 20 + (uint64_t)i);
		ck_assert_msg(ret == 0 || ret == -EALREADY, "cancel: %d", ret);
	}
	for (int i = 0; i < 5; i++) {
		c = tu_wait1(ctx);
		ck_assert(c.user_data >= 20 && c.user_data < 25);
		ck_assert_msg(c.res == -ECANCELED || c.res == -EINTR,
			      "res %ld", (long)c.res);
	}
	ck_assert_int_eq(vos_unlinkat(ctx, dfd, "other", 0), 0);
	/* neither took the lock: the child can take it again */
	ck_assert_int_eq(lock_kid_do(&kid, 'U'), '0');
	ck_assert_int_eq(lock_kid_do(&kid, 'L'), '0');

	/* a wait the child's unlock ends */
	vos_prep_fcntl(&r, vf, F_SETLKW, (long)&fl);
	r.user_data = 3;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 20 * 1000000), -ETIME);
	ck_assert_int_eq(lock_kid_do(&kid, 'U'), '0');
	c = tu_wait1(ctx);
	ck_assert_uint_eq(c.user_data, 3);
	ck_assert_int_eq(c.res, 0);
	ck_assert_int_eq(lock_kid_do(&kid, 'L'), 'E'); /* ours now */
	fl.l_type = F_UNLCK;
	ck_assert_int_eq(vos_fcntl(ctx, vf, F_SETLK, (long)&fl), 0);
	ck_assert_int_eq(lock_kid_do(&kid, 'L'), '0');
	lock_kid_do(&kid, 'Q');
	ck_assert_int_eq(waitpid(kid.pid, &st, 0), kid.pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(kid.cmd);
	close(kid.ans);
	ck_assert_int_eq(vos_close(ctx, vf), 0);
	unlink(path);
	tu_dir_close(ctx, dfd);
	vos_ctx_destroy(ctx);
}
END_TEST


/* Fill buf with a pattern that shows where each byte came from. */
static void copy_pattern(unsigned char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (unsigned char)(i * 7 + i / 251);
}

/* copy_file_range, sendfile and splice between every pair of domains the
 * route gives (routed: a stord file, a netd socket, a local file and a
 * local pipe; locally: all the kernel's), with and without offsets, over
 * more than one copy step (1 MiB): the counts, the bytes, the offsets
 * written back and the positions moved are the kernel's; the kernel's
 * refusals come in its order. */
START_TEST(copy_between_fds)
{
	struct vos_ctx *ctx = tu_ctx();
	const size_t big = (5u << 19) + 123; /* 2.5 MiB and a bit */
	unsigned char *pat = malloc(big), *got = malloc(big);
	char dir[256], lp[300], md[256];
	int dfd = tu_dir(tu_diskbase(), dir, sizeof(dir));
	int a, b, loc, p[2], cl, sv, nfd, mfd;
	int64_t oi, oo;
	ssize_t n;
	size_t have;

	ck_assert_ptr_nonnull(pat);
	ck_assert_ptr_nonnull(got);
	copy_pattern(pat, big);
	/* (first: the services' channels they open are not the calls' fds) */
	tu_tcp_pair_routed(&cl, &sv);
	mfd = tu_dir("/dev/shm", md, sizeof(md));
	nfd = tu_count_fds();
	a = vos_openat(ctx, dfd, "src", O_RDWR | O_CREAT, 0600);
	b = vos_openat(ctx, dfd, "dst", O_RDWR | O_CREAT, 0600);
	ck_assert_int_ge(a, 0);
	ck_assert_int_ge(b, 0);
	ck_assert_int_eq(vos_write(ctx, a, pat, big), (ssize_t)big);
	/* a local file, whatever the routes (on the file system of the
	 * disk store's: a copy_file_range across two is -EXDEV) */
	snprintf(lp, sizeof(lp), "%s/vos-copy-XXXXXX", tu_diskbase());
	loc = mkstemp(lp);
	ck_assert_int_ge(loc, 0);
	unlink(lp);

	/* file to file, offsets given: everything from 5 on */
	oi = 5;
	oo = 0;
	ck_assert_int_eq(vos_copy_file_range(ctx, a, &oi, b, &oo, 1u << 30, 0),
			 (ssize_t)big - 5);
	ck_assert_int_eq(oi, (int64_t)big);
	ck_assert_int_eq(oo, (int64_t)big - 5);
	ck_assert_int_eq(vos_lseek(ctx, b, 0, SEEK_CUR), 0); /* untouched */
	ck_assert_int_eq(vos_pread(ctx, b, got, big, 0), (ssize_t)big - 5);
	ck_assert_int_eq(memcmp(got, pat + 5, big - 5), 0);
	/* the positions: fd_in's read from and moved, fd_out's written at */
	ck_assert_int_eq(vos_lseek(ctx, a, 100, SEEK_SET), 100);
	ck_assert_int_eq(vos_lseek(ctx, loc, 0, SEEK_SET), 0);
	ck_assert_int_eq(vos_copy_file_range(ctx, a, NULL, loc, NULL, 1500000,
					     0), 1500000);
	ck_assert_int_eq(vos_lseek(ctx, a, 0, SEEK_CUR), 1500100);
	ck_assert_int_eq(lseek(loc, 0, SEEK_CUR), 1500000);
	ck_assert_int_eq(pread(loc, got, big, 0), 1500000);
	ck_assert_int_eq(memcmp(got, pat + 100, 1500000), 0);
	/* and back from the local file into the other domain's */
	oi = 1000;
	ck_assert_int_eq(vos_copy_file_range(ctx, loc, &oi, b, NULL, 10, 0), 10);
	ck_assert_int_eq(oi, 1010);
	ck_assert_int_eq(vos_pread(ctx, b, got, 10, 0), 10);
	ck_assert_int_eq(memcmp(got, pat + 1100, 10), 0);
	/* at the end of the file: nothing, offsets as they were */
	oi = (int64_t)big;
	ck_assert_int_eq(vos_copy_file_range(ctx, a, &oi, loc, NULL, 10, 0), 0);
	ck_assert_int_eq(oi, (int64_t)big);
	/* refusals, in the kernel's order */
	ck_assert_int_eq(vos_copy_file_range(ctx, -1, NULL, b, NULL, 1, 0),
			 -EBADF);
	ck_assert_int_eq(vos_copy_file_range(ctx, a, NULL, -1, NULL, 1, 0),
			 -EBADF);
	ck_assert_int_eq(vos_copy_file_range(ctx, a, NULL, loc, NULL, 1, 1),
			 -EINVAL);
	ck_assert_int_eq(vos_copy_file_range(ctx, a, (int64_t *)8, loc, NULL,
					     1, 0), -EFAULT);
	oi = -1; /* its end wraps: checked first */
	ck_assert_int_eq(vos_copy_file_range(ctx, a, &oi, loc, NULL, 1, 0),
			 -EOVERFLOW);
	oi = -5;
	ck_assert_int_eq(vos_copy_file_range(ctx, a, &oi, loc, NULL, 1, 0),
			 -EINVAL);
	ck_assert_int_eq(oi, -5);

	/* between two file systems (a tmpfs file: stord's other export
	 * when routed): the kernel's -EXDEV, after its checks */
	{
		int m = vos_openat(ctx, mfd, "m", O_RDWR | O_CREAT, 0600);

		ck_assert_int_ge(m, 0);
		ck_assert_int_eq(vos_copy_file_range(ctx, a, NULL, m, NULL, 10,
						     0), -EXDEV);
		ck_assert_int_eq(vos_copy_file_range(ctx, m, NULL, loc, NULL,
						     10, 0), -EXDEV);
		ck_assert_int_eq(vos_copy_file_range(ctx, a, NULL, m, NULL, 10,
						     1), -EINVAL);
		ck_assert_int_eq(vos_copy_file_range(ctx, a, NULL, m, NULL, 0,
						     0), -EXDEV);
		ck_assert_int_eq(vos_close(ctx, m), 0);
		ck_assert_int_eq(vos_unlinkat(ctx, mfd, "m", 0), 0);
	}

	/* a file to a TCP socket (netd's, when routed): whole, the offset
	 * moved, fd_in's position not */
	oi = 7;
	ck_assert_int_eq(vos_lseek(ctx, a, 3, SEEK_SET), 3);
	ck_assert_int_eq(vos_sendfile(ctx, cl, a, &oi, 300000), 300000);
	ck_assert_int_eq(oi, 300007);
	ck_assert_int_eq(vos_lseek(ctx, a, 0, SEEK_CUR), 3);
	for (have = 0; have < 300000; have += (size_t)n) {
		n = vos_recv(ctx, sv, got + have, 300000 - have, 0);
		ck_assert_int_gt(n, 0);
	}
	ck_assert_int_eq(memcmp(got, pat + 7, 300000), 0);
	/* and without an offset: from the position, which moves */
	ck_assert_int_eq(vos_sendfile(ctx, cl, loc, NULL, 0), 0);
	ck_assert_int_eq(lseek(loc, 20, SEEK_SET), 20);
	ck_assert_int_eq(vos_sendfile(ctx, cl, loc, NULL, 1000), 1000);
	ck_assert_int_eq(lseek(loc, 0, SEEK_CUR), 1020);
	for (have = 0; have < 1000; have += (size_t)n) {
		n = vos_recv(ctx, sv, got + have, 1000 - have, 0);
		ck_assert_int_gt(n, 0);
	}
	ck_assert_int_eq(memcmp(got, pat + 120, 1000), 0);
	ck_assert_int_eq(vos_sendfile(ctx, cl, a, (int64_t *)8, 1), -EFAULT);
	ck_assert_int_eq(vos_sendfile(ctx, -1, a, NULL, 1), -EBADF);

	/* splice: a file into a pipe and the pipe into a socket */
	ck_assert_int_eq(vos_pipe2(ctx, p, O_CLOEXEC), 0);
	oi = 64;
	ck_assert_int_eq(vos_splice(ctx, a, &oi, p[1], NULL, 4000, 0), 4000);
	ck_assert_int_eq(oi, 4064);
	ck_assert_int_eq(vos_splice(ctx, p[0], NULL, cl, NULL, 4000, 0), 4000);
	for (have = 0; have < 4000; have += (size_t)n) {
		n = vos_recv(ctx, sv, got + have, 4000 - have, 0);
		ck_assert_int_gt(n, 0);
	}
	ck_assert_int_eq(memcmp(got, pat + 64, 4000), 0);
	/* the pipe into a file at an offset */
	ck_assert_int_eq(vos_write(ctx, p[1], "splice", 6), 6);
	oo = 2;
	ck_assert_int_eq(vos_splice(ctx, p[0], NULL, b, &oo, 100, 0), 6);
	ck_assert_int_eq(oo, 8);
	ck_assert_int_eq(vos_pread(ctx, b, got, 6, 2), 6);
	ck_assert_int_eq(memcmp(got, "splice", 6), 0);
	/* refusals: nothing to move looks at nothing; no pipe; an offset
	 * on the pipe */
	ck_assert_int_eq(vos_splice(ctx, -1, NULL, -1, NULL, 0, 0), 0);
	ck_assert_int_eq(vos_splice(ctx, a, NULL, b, NULL, 10, 0), -EINVAL);
	ck_assert_int_eq(vos_splice(ctx, a, NULL, p[1], NULL, 10, 0x100),
			 -EINVAL);
	oi = 0;
	ck_assert_int_eq(vos_splice(ctx, p[0], &oi, b, NULL, 10, 0), -ESPIPE);
	/* the kinds of file and the modes each call takes, checked before
	 * anything moves: a pipe's bytes stay in it when the output cannot
	 * take them (a read-only file) */
	ck_assert_int_eq(vos_write(ctx, p[1], "kept", 4), 4);
	ck_assert_int_eq(vos_copy_file_range(ctx, p[0], NULL, b, NULL, 4, 0),
			 -EINVAL);
	ck_assert_int_eq(vos_copy_file_range(ctx, a, NULL, p[1], NULL, 4, 0),
			 -EINVAL);
	ck_assert_int_eq(vos_copy_file_range(ctx, dfd, NULL, loc, NULL, 4, 0),
			 -EISDIR);
	ck_assert_int_eq(vos_sendfile(ctx, b, sv, NULL, 4), -EINVAL);
	ck_assert_int_eq(vos_sendfile(ctx, b, p[0], NULL, 4), -EINVAL);
	{
		int ro = vos_openat(ctx, dfd, "dst", O_RDONLY, 0);
		int ap = vos_openat(ctx, dfd, "dst", O_WRONLY | O_APPEND, 0);

		ck_assert_int_ge(ro, 0);
		ck_assert_int_ge(ap, 0);
		ck_assert_int_eq(vos_splice(ctx, p[0], NULL, ro, NULL, 4, 0),
				 -EBADF);
		ck_assert_int_eq(vos_splice(ctx, p[0], NULL, ap, NULL, 4, 0),
				 -EINVAL);
		ck_assert_int_eq(vos_copy_file_range(ctx, loc, NULL, ap, NULL,
						     4, 0), -EBADF);
		ck_assert_int_eq(vos_sendfile(ctx, ap, loc, NULL, 4), -EINVAL);
		ck_assert_int_eq(vos_copy_file_range(ctx, ap, NULL, loc, NULL,
						     4, 0), -EBADF);
		ck_assert_int_eq(vos_close(ctx, ro), 0);
		ck_assert_int_eq(vos_close(ctx, ap), 0);
	}
	ck_assert_int_eq(vos_read(ctx, p[0], got, 16), 4);
	ck_assert_int_eq(memcmp(got, "kept", 4), 0);
	/* into a pipe: at most what fits, once (an empty pipe: 64 KiB) */
	oi = 0;
	ck_assert_int_eq(vos_splice(ctx, a, &oi, p[1], NULL, 1u << 20, 0),
			 65536);
	ck_assert_int_eq(oi, 65536);
	for (have = 0; have < 65536; have += (size_t)n) {
		n = vos_read(ctx, p[0], got + have, 65536 - have);
		ck_assert_int_gt(n, 0);
	}
	ck_assert_int_eq(memcmp(got, pat, 65536), 0);
	/* a splice that waits for an empty pipe: cancelled, nothing moved
	 * (the copy's read step, routed; the pool's wait, locally) */
	{
		struct vos_req rq;
		struct vos_cqe cq;

		vos_prep_splice(&rq, p[0], NULL, b, NULL, 10, 0);
		rq.user_data = 77;
		ck_assert_int_eq(vos_submit(ctx, &rq, 1), 1);
		ck_assert_int_eq(vos_wait(ctx, &cq, 1, 1, 50000000), -ETIME);
		ck_assert_int_eq(vos_cancel(ctx, 77), 0);
		cq = tu_wait1(ctx);
		ck_assert_uint_eq(cq.user_data, 77);
		ck_assert_int_eq(cq.res, -ECANCELED);
	}
	/* an empty pipe with SPLICE_F_NONBLOCK: -EAGAIN, no wait */
	ck_assert_int_eq(vos_splice(ctx, p[0], NULL, b, NULL, 10,
				    SPLICE_F_NONBLOCK), -EAGAIN);

	ck_assert_int_eq(vos_close(ctx, p[0]), 0);
	ck_assert_int_eq(vos_close(ctx, p[1]), 0);
	ck_assert_int_eq(vos_close(ctx, a), 0);
	ck_assert_int_eq(vos_close(ctx, b), 0);
	close(loc);
	ck_assert_int_eq(tu_count_fds(), nfd);
	ck_assert_int_eq(vos_close(ctx, cl), 0);
	ck_assert_int_eq(vos_close(ctx, sv), 0);
	if (tu_store("/dev/shm"))
		ck_assert_int_eq(vos_close(ctx, mfd), 0);
	else
		close(mfd);
	rmdir(md);
	ck_assert_int_eq(vos_unlinkat(ctx, dfd, "src", 0), 0);
	ck_assert_int_eq(vos_unlinkat(ctx, dfd, "dst", 0), 0);
	tu_dir_close(ctx, dfd);
	rmdir(dir);
	free(pat);
	free(got);
	vos_ctx_destroy(ctx);
}
END_TEST

static Suite *ops_suite(void)
{
	Suite *s = suite_create("ops");
	TCase *f = tcase_create("files"), *n = tcase_create("sockets"),
	      *e = tcase_create("events");

	/* these use lseek(2), openat(2) or write(2) on the fds as well, so
	 * they need kernel fds: tests/services.test leaves them out */
	tcase_set_tags(f, "kernel-fd");
	{
		/* feeds its socket with send(2) */
		TCase *k = tcase_create("sockets with libc");

		tcase_set_tags(k, "kernel-fd");
		tcase_add_test(k, fcntl_and_ioctl);
		tcase_add_test(k, close_with_queued_write);
		tcase_add_test(k, cancel_stops_a_carried_send);
		tcase_add_test(k, fork_child_not_behind_parent_writes);
		tcase_add_test(k, recv_waitall_whole);
		tcase_add_test(k, offsets_as_the_kernel);
		suite_add_tcase(s, k);
	}

	{
		/* files made and evicted through the kernel, read through
		 * the context: on every route, stord's too */
		TCase *a = tcase_create("files on every route");

		tcase_set_timeout(a, 60);
		tcase_add_test(a, file_read_partly_cached);
		tcase_add_test(a, getdents_tree);
		tcase_add_test(a, record_locks);
		tcase_add_test(a, dup2_dup3);
		tcase_add_test(a, dup_in_flight);
		tcase_add_test(a, openat2_linked);
		tcase_add_test(a, copy_between_fds);
		tcase_add_test(a, lengths_as_the_kernel);
		tcase_add_test(a, linked_chain_runs_in_order);
		tcase_add_test(a, linked_failure_cancels_the_rest);
		suite_add_tcase(s, a);
	}
	tcase_set_timeout(f, 60);
	tcase_set_timeout(n, 60);
	tcase_set_timeout(e, 60);
	tcase_add_test(f, file_ops_tmpfs);
	tcase_add_test(f, file_ops_disk);
	tcase_add_test(f, file_batch_tmpfs);
	tcase_add_test(f, file_batch_disk);
	tcase_add_test(f, coalesced_tmpfs);
	tcase_add_test(f, coalesced_disk);
	tcase_add_test(f, file_read_uncached);
	tcase_add_test(f, file_o_direct);
	tcase_add_test(f, fd_number_reuse);
	tcase_add_test(n, tcp_full_cycle);
	tcase_add_test(n, connect_refused);
	tcase_add_test(n, many_recvs_in_flight);
	tcase_add_test(n, more_parked_than_open_files);
	tcase_add_test(n, pipe_backpressure);
	tcase_add_test(n, socket_offsets_espipe);
	tcase_add_test(n, rwf_flags_on_streams);
	tcase_add_test(n, ordered_sends);
	tcase_add_test(n, ordered_sends_linked);
	tcase_add_test(n, multishot_accept_and_recv);
	tcase_add_test(n, multishot_every_route);
	tcase_add_test(n, multishot_close_ends_it);
	tcase_add_test(n, multishot_burst_leaves_room);
	tcase_add_test(e, poll_oneshot);
	tcase_add_test(e, timeouts_in_order);
	tcase_add_test(e, timeouts_expired_together);
	tcase_add_test(e, cancel_ops);
	tcase_add_test(e, cancel_accept);
	tcase_add_test(e, linked_cancel_and_deadline);
	tcase_add_test(e, linked_chain_fits_or_waits);
	tcase_add_test(e, ctx_fd_in_epoll);
	tcase_add_test(e, wait_any_two_contexts);
	tcase_add_test(e, cancel_many_by_user_data);
	suite_add_tcase(s, f);
	suite_add_tcase(s, n);
	suite_add_tcase(s, e);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ops_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
