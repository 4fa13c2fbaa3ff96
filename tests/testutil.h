/*
 * testutil.h - helpers shared by the Check suites.
 */
#ifndef VOS_TESTUTIL_H
#define VOS_TESTUTIL_H

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <virtuos/virtuos.h>

/* How many fds this process has open (the listing's own among them:
 * compare two counts). */
static inline int tu_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* The context the running test made last (the fixture helpers below make
 * their fds through it when the suite runs against service daemons). */
static struct vos_ctx *tu_last_ctx;

/* A context with the defaults (transport and backend from the
 * environment, as `make check` runs the suite once per backend, and
 * once routed to netd and stord: tests/services.test). */
static inline struct vos_ctx *tu_ctx(void)
{
	struct vos_ctx *ctx = NULL;
	int r = vos_ctx_create(NULL, &ctx);

	ck_assert_int_eq(r, 0);
	ck_assert_ptr_nonnull(ctx);
	tu_last_ctx = ctx;
	return ctx;
}

/* Under tests/services.test: the stord export that stands in for base
 * ("/dev/shm" -> $VOS_TEST_STORE_MEM, else $VOS_TEST_STORE_DISK), or
 * NULL when the suite runs locally. */
static inline const char *tu_store(const char *base)
{
	const char *s = getenv(strcmp(base, "/dev/shm") == 0 ?
			       "VOS_TEST_STORE_MEM" : "VOS_TEST_STORE_DISK");

	return s && *s && tu_last_ctx ? s : NULL;
}

/* Whether sockets the fixtures make should come from the routed context
 * (netd) rather than from the local kernel. */
static inline bool tu_net_routed(void)
{
	const char *s = getenv("VOS_TEST_NET");

	return s && *s == '1' && tu_last_ctx;
}

/* A fresh directory under base ("/dev/shm" for tmpfs, or $TMPDIR/"/tmp"
 * for a disk file system); the path is written to buf. */
static inline int tu_dir(const char *base, char *buf, size_t len)
{
	const char *store = tu_store(base);
	int fd;

	snprintf(buf, len, "%s/vos-test-XXXXXX", store ? store : base);
	ck_assert_ptr_nonnull(mkdtemp(buf));
	if (store) /* the directory as stord serves it */
		fd = vos_openat(tu_last_ctx, AT_FDCWD, buf,
				O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	else
		fd = open(buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	return fd;
}

static inline const char *tu_diskbase(void)
{
	const char *t = getenv("TMPDIR");

	return t && *t ? t : "/tmp";
}

/* Close a directory fd tu_dir(tu_diskbase(), ...) gave. */
static inline void tu_dir_close(struct vos_ctx *ctx, int dfd)
{
	if (tu_store(tu_diskbase()))
		ck_assert_int_eq(vos_close(ctx, dfd), 0);
	else
		close(dfd);
}

/* A connected TCP pair on loopback: *a is the client, *b the accepted. */
static inline void tu_tcp_pair_routed(int *a, int *b)
{
	struct vos_ctx *ctx = tu_last_ctx;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	int l = vos_socket(ctx, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(vos_bind(ctx, l, (struct sockaddr *)&sin,
				  sizeof(sin)), 0);
	ck_assert_int_eq(vos_listen(ctx, l, 8), 0);
	ck_assert_int_eq(vos_getsockname(ctx, l, (struct sockaddr *)&sin,
					 &sl), 0);
	*a = vos_socket(ctx, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(*a, 0);
	ck_assert_int_eq(vos_connect(ctx, *a, (struct sockaddr *)&sin,
				     sizeof(sin)), 0);
	*b = vos_accept(ctx, l, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(*b, 0);
	ck_assert_int_eq(vos_close(ctx, l), 0);
}

static inline void tu_tcp_pair(int *a, int *b)
{
	if (tu_net_routed()) {
		tu_tcp_pair_routed(a, b);
		return;
	}
	{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(l, 8), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&sin, &sl), 0);
	*a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(connect(*a, (struct sockaddr *)&sin, sizeof(sin)), 0);
	*b = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	ck_assert_int_ge(*b, 0);
	close(l);
	}
}

/* CLOCK_MONOTONIC in ms. */
static inline int64_t tu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for exactly one completion (bounded: 10 s) and return it. */
static inline struct vos_cqe tu_wait1(struct vos_ctx *ctx)
{
	struct vos_cqe c;
	int n = vos_wait(ctx, &c, 1, 1, 10LL * 1000000000);

	ck_assert_int_eq(n, 1);
	return c;
}

#endif
