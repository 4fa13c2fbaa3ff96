/*
 * testutil.h - helpers shared by the Check suites.
 */
#ifndef VOS_TESTUTIL_H
#define VOS_TESTUTIL_H

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <virtuos/virtuos.h>

/* A context with the defaults (transport and backend from the
 * environment, as `make check` runs the suite once per backend). */
static inline struct vos_ctx *tu_ctx(void)
{
	struct vos_ctx *ctx = NULL;
	int r = vos_ctx_create(NULL, &ctx);

	ck_assert_int_eq(r, 0);
	ck_assert_ptr_nonnull(ctx);
	return ctx;
}

/* A fresh directory under base ("/dev/shm" for tmpfs, or $TMPDIR/"/tmp"
 * for a disk file system); the path is written to buf. */
static inline int tu_dir(const char *base, char *buf, size_t len)
{
	int fd;

	snprintf(buf, len, "%s/vos-test-XXXXXX", base);
	ck_assert_ptr_nonnull(mkdtemp(buf));
	fd = open(buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	return fd;
}

static inline const char *tu_diskbase(void)
{
	const char *t = getenv("TMPDIR");

	return t && *t ? t : "/tmp";
}

/* A connected TCP pair on loopback: *a is the client, *b the accepted. */
static inline void tu_tcp_pair(int *a, int *b)
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

/* Wait for exactly one completion (bounded: 10 s) and return it. */
static inline struct vos_cqe tu_wait1(struct vos_ctx *ctx)
{
	struct vos_cqe c;
	int n = vos_wait(ctx, &c, 1, 1, 10LL * 1000000000);

	ck_assert_int_eq(n, 1);
	return c;
}

#endif
