/*
 * check_services.c - the service daemons for real: files through stord,
 * routing, confinement and permissions, fairness between clients, and
 * failure isolation (the paper's Figure 13).  Every test starts its own
 * netd/stord processes on private sockets and stops them.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <fenv.h>
#include <ftw.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <virtuos/virtuos.h>

#include "daemon.h"
#include "tree.h"

static char work[80];    /* sockets, logs, routes (short: socket paths) */
static char exp_dir[300]; /* stord's export root */
static char routes[300];
static struct td netd, stord;

/* Each test runs in its own process: remove its directory at its exit. */
static void remove_work(void)
{
	td_rm_tree(work);
}

static void make_work(void)
{
	const char *t = getenv("TMPDIR");

	atexit(remove_work);
	snprintf(work, sizeof(work), "%s/vos-svc-XXXXXX", t && *t ? t : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(work));
	snprintf(exp_dir, sizeof(exp_dir), "%s/export", work);
	ck_assert_int_eq(mkdir(exp_dir, 0755), 0);
	snprintf(routes, sizeof(routes), "%s/routes.conf", work);
}

static void write_routes(void)
{
	FILE *f = fopen(routes, "w");

	ck_assert_ptr_nonnull(f);
	fprintf(f, "service netd shm path=%s/netd.sock\n"
		   "service stord shm path=%s/stord.sock\n"
		   "family inet netd\nfamily inet6 netd\n"
		   "path %s stord\n", work, work, exp_dir);
	fclose(f);
	setenv("VOS_ROUTES", routes, 1);
}

static void start_netd(const char *const *extra)
{
	char s[300];

	snprintf(s, sizeof(s), "%s/netd.sock", work);
	td_start(&netd, "netd", s, extra);
}

static void start_stord(const char *const *extra)
{
	char s[300];
	const char *args[16] = { "--root", exp_dir };
	int n = 2;

	for (int i = 0; extra && extra[i] && n < 15; i++)
		args[n++] = extra[i];
	snprintf(s, sizeof(s), "%s/stord.sock", work);
	td_start(&stord, "stord", s, args);
}

static void setup_both(void)
{
	make_work();
	write_routes();
	start_netd(NULL);
	start_stord(NULL);
}

static void teardown_both(void)
{
	if (netd.pid)
		ck_assert_int_eq(td_stop(&netd), 0);
	if (stord.pid)
		ck_assert_int_eq(td_stop(&stord), 0);
}

static struct vos_ctx *ctx_routed(void)
{
	struct vos_ctx *ctx = NULL;

	ck_assert_int_eq(vos_ctx_create(NULL, &ctx), 0);
	ck_assert_ptr_nonnull(strstr(vos_ctx_describe(ctx), "routed"));
	return ctx;
}

static void path_in(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", exp_dir, name);
}

/* A TCP listener on loopback through ctx; its port in *port. */
static int listener(struct vos_ctx *ctx, struct sockaddr_in *sin)
{
	socklen_t sl = sizeof(*sin);
	int l = vos_socket(ctx, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(l, 0);
	ck_assert_int_eq(vos_bind(ctx, l, (struct sockaddr *)sin,
				  sizeof(*sin)), 0);
	ck_assert_int_eq(vos_listen(ctx, l, 64), 0);
	ck_assert_int_eq(vos_getsockname(ctx, l, (struct sockaddr *)sin, &sl),
			 0);
	return l;
}

/* A connected TCP pair through ctx: listener *l, client *s, accepted *a. */
static void tcp_pair(struct vos_ctx *ctx, int *l, int *s, int *a)
{
	struct sockaddr_in sin;

	*l = listener(ctx, &sin);
	*s = vos_socket(ctx, AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(*s, 0);
	ck_assert_int_eq(vos_connect(ctx, *s, (struct sockaddr *)&sin,
				     sizeof(sin)), 0);
	*a = vos_accept(ctx, *l, NULL, NULL, 0);
	ck_assert_int_ge(*a, 0);
}

/* ---- files through stord ------------------------------------------------ */

START_TEST(files_through_stord)
{
	struct vos_ctx *ctx;
	char p[400], q[400], buf[256] = { 0 }, a[4], b[8];
	static char big[300000], back[300000];
	struct iovec iov[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	struct statx stx;
	struct vos_req r[64];
	struct vos_cqe c[64];
	char st[4096];
	int fd, dfd, got;

	setup_both();
	ctx = ctx_routed();
	path_in(p, sizeof(p), "f");
	fd = vos_openat(ctx, AT_FDCWD, p, O_RDWR | O_CREAT | O_EXCL, 0640);
	ck_assert_int_ge(fd, 0);
	/* the fd is a real kernel fd number of ours (a placeholder) */
	ck_assert_int_ge(fcntl(fd, F_GETFD), 0);
	ck_assert_int_eq(vos_openat(ctx, AT_FDCWD, p, O_RDWR | O_CREAT |
				    O_EXCL, 0640), -EEXIST);
	ck_assert_int_eq(vos_write(ctx, fd, "hello ", 6), 6);
	ck_assert_int_eq(vos_write(ctx, fd, "world", 5), 5);
	ck_assert_int_eq(vos_pread(ctx, fd, buf, sizeof(buf), 0), 11);
	ck_assert_str_eq(buf, "hello world");
	ck_assert_int_eq(vos_pwrite(ctx, fd, "W", 1, 6), 1);
	ck_assert_int_eq(vos_readv(ctx, fd, iov, 2, 2), 9); /* "llo World" */
	ck_assert_int_eq(memcmp(a, "llo ", 4), 0);
	ck_assert_int_eq(memcmp(b, "World", 5), 0);
	ck_assert_int_eq(vos_writev(ctx, fd, iov, 2, 100), 12);
	ck_assert_int_eq(vos_statx(ctx, fd, "", AT_EMPTY_PATH, STATX_SIZE,
				   &stx), 0);
	ck_assert_uint_eq(stx.stx_size, 112);
	ck_assert_int_eq(vos_statx(ctx, AT_FDCWD, p, 0, STATX_MODE, &stx), 0);
	ck_assert_uint_eq(stx.stx_mode & 0777, 0640);
	ck_assert_int_eq(vos_ftruncate(ctx, fd, 5), 0);
	ck_assert_int_eq(vos_fallocate(ctx, fd, 0, 0, 8192), 0);
	ck_assert_int_eq(vos_fsync(ctx, fd), 0);
	ck_assert_int_eq(vos_fdatasync(ctx, fd), 0);
	/* the same file, seen directly on the host */
	{
		struct stat sb;

		ck_assert_int_eq(stat(p, &sb), 0);
		ck_assert_int_eq(sb.st_size, 8192);
	}
	/* transfers larger than a data slot (64 KiB) complete whole, as
	 * the system calls do: in pieces, one completion */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 251);
	ck_assert_int_eq(vos_pwrite(ctx, fd, big, sizeof(big), 0),
			 sizeof(big));
	memset(back, 0, sizeof(back));
	ck_assert_int_eq(vos_pread(ctx, fd, back, sizeof(back), 0),
			 sizeof(back));
	ck_assert_int_eq(memcmp(big, back, sizeof(big)), 0);
	/* short only at the end of the file, even past a piece's end */
	ck_assert_int_eq(vos_pread(ctx, fd, back, sizeof(back), 230000),
			 70000);
	ck_assert_int_eq(memcmp(big + 230000, back, 70000), 0);
	/* vectored, in three pieces of other sizes (written backwards) */
	{
		struct iovec v[3] = { { back, 100 }, { back + 100, 150000 },
				      { back + 150100, 149900 } };

		for (size_t i = 0; i < sizeof(back); i++)
			back[i] = big[sizeof(big) - 1 - i];
		ck_assert_int_eq(vos_writev(ctx, fd, v, 3, 0), sizeof(back));
		memset(back, 0, sizeof(back));
		ck_assert_int_eq(vos_readv(ctx, fd, v, 3, 0), sizeof(back));
		for (size_t i = 0; i < sizeof(back); i++)
			ck_assert_int_eq(back[i], big[sizeof(big) - 1 - i]);
	}
	/* at the file position: a fresh fd reads it all, then the end */
	{
		int fd2 = vos_openat(ctx, AT_FDCWD, p, O_RDONLY, 0);

		ck_assert_int_ge(fd2, 0);
		memset(back, 0, sizeof(back));
		ck_assert_int_eq(vos_read(ctx, fd2, back, sizeof(back)),
				 sizeof(back));
		ck_assert_int_eq(back[0], big[sizeof(big) - 1]);
		ck_assert_int_eq(vos_read(ctx, fd2, back, sizeof(back)), 0);
		ck_assert_int_eq(vos_close(ctx, fd2), 0);
	}
	ck_assert_int_eq(vos_pwrite(ctx, fd, big, sizeof(big), 0),
			 sizeof(big));
	/* a batch of 64 in one submit */
	for (int i = 0; i < 64; i++) {
		vos_prep_pwrite(&r[i], fd, big + i * 512, 512,
				(uint64_t)i * 512);
		r[i].user_data = (uint64_t)i + 1000;
	}
	ck_assert_int_eq(vos_submit(ctx, r, 64), 64);
	got = 0;
	while (got < 64) {
		int n = vos_wait(ctx, c, 64, 1, 10LL * 1000000000);

		ck_assert_int_gt(n, 0);
		for (int i = 0; i < n; i++) {
			ck_assert_int_eq(c[i].res, 512);
			ck_assert_uint_ge(c[i].user_data, 1000);
		}
		got += n;
	}
	ck_assert_int_eq(vos_close(ctx, fd), 0);
	ck_assert_int_eq(fcntl(fd, F_GETFD), -1); /* placeholder released */
	/* directories, rename, unlink */
	path_in(p, sizeof(p), "d");
	ck_assert_int_eq(vos_mkdirat(ctx, AT_FDCWD, p, 0755), 0);
	dfd = vos_openat(ctx, AT_FDCWD, p, O_RDONLY | O_DIRECTORY, 0);
	ck_assert_int_ge(dfd, 0);
	fd = vos_openat(ctx, dfd, "inner", O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vos_close(ctx, fd), 0);
	ck_assert_int_eq(vos_renameat(ctx, dfd, "inner", dfd, "moved", 0), 0);
	path_in(q, sizeof(q), "d/moved");
	ck_assert_int_eq(access(q, F_OK), 0);
	ck_assert_int_eq(vos_unlinkat(ctx, dfd, "moved", 0), 0);
	ck_assert_int_eq(access(q, F_OK), -1);
	ck_assert_int_eq(vos_unlinkat(ctx, AT_FDCWD, p, AT_REMOVEDIR), 0);
	ck_assert_int_eq(vos_close(ctx, dfd), 0);
	/* stord did the work */
	ck_assert_int_eq(td_stats(stord.sock, st, sizeof(st)), 0);
	ck_assert_int_eq(td_stat(st, "clients"), 1);
	ck_assert_int_ge(td_stat(st, "done"), 90);
	vos_ctx_destroy(ctx);
	teardown_both();
}
END_TEST

/* The kernel end of a TCP connection reads want bytes, then sends them
 * back (a thread: the netd end's send blocks until it is read). */
struct peer_io {
	int fd;
	size_t want;
	char *buf;
	size_t got;
};

static void *peer_read_all(void *arg)
{
	struct peer_io *p = arg;

	while (p->got < p->want) {
		ssize_t n = recv(p->fd, p->buf + p->got, p->want - p->got, 0);

		if (n <= 0)
			break;
		p->got += (size_t)n;
	}
	return NULL;
}

/* A send longer than a data slot on a blocking socket through netd sends
 * everything, as send(2) does (it said 65536 before); a recv returns what
 * has arrived (a piece, not a wait for the rest). */
START_TEST(large_send_through_netd)
{
	enum { SZ = (1 << 20) + 777 };
	struct vos_ctx *ctx;
	struct sockaddr_in sin;
	struct peer_io pio = { -1, SZ, NULL, 0 };
	char *big = malloc(SZ), *back = malloc(SZ);
	pthread_t t;
	ssize_t n;
	int l, a, k;

	ck_assert_ptr_nonnull(big);
	ck_assert_ptr_nonnull(back);
	pio.buf = back;
	for (int i = 0; i < SZ; i++)
		big[i] = (char)(i * 13 + i / 4093);
	setup_both();
	ctx = ctx_routed();
	l = listener(ctx, &sin);
	k = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(k, 0);
	ck_assert_int_eq(connect(k, (struct sockaddr *)&sin, sizeof(sin)), 0);
	a = vos_accept(ctx, l, NULL, NULL, 0);
	ck_assert_int_ge(a, 0);
	pio.fd = k;
	ck_assert_int_eq(pthread_create(&t, NULL, peer_read_all, &pio), 0);
	n = vos_send(ctx, a, big, SZ, 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_msg(n == SZ, "send said %zd of %d", n, SZ);
	ck_assert_int_eq(pio.got, SZ);
	ck_assert_int_eq(memcmp(big, back, SZ), 0);
	/* the other way: 300000 bytes sent at once; a recv of all of them
	 * returns at most a slot's worth, never waits for the rest */
	ck_assert_int_eq(send(k, big, 300000, 0), 300000);
	n = vos_recv(ctx, a, back, 300000, 0);
	ck_assert_msg(n > 0 && n <= 65536, "recv said %zd", n);
	ck_assert_int_eq(memcmp(big, back, (size_t)n), 0);
	/* ... but one with MSG_WAITALL waits for all it asked, as recv(2)
	 * does: the rest, in pieces, whole */
	{
		ssize_t rest = 300000 - n;

		ck_assert_int_eq(vos_recv(ctx, a, back, (size_t)rest,
					  MSG_WAITALL), rest);
		ck_assert_int_eq(memcmp(big + n, back, (size_t)rest), 0);
	}
	/* and so, linked, it does not break its chain */
	{
		struct vos_req r[2];
		struct vos_cqe c[2];

		ck_assert_int_eq(send(k, big, 200000, 0), 200000);
		vos_prep_recv(&r[0], a, back, 200000, MSG_WAITALL);
		r[0].flags = VOS_REQ_LINK;
		r[0].user_data = 0;
		vos_prep_nop(&r[1]);
		r[1].user_data = 1;
		ck_assert_int_eq(vos_submit(ctx, r, 2), 2);
		ck_assert_int_eq(vos_wait(ctx, c, 2, 2, 10LL * 1000000000), 2);
		ck_assert_int_eq(c[0].res, 200000);
		ck_assert_int_eq(c[1].res, 0);
		ck_assert_int_eq(memcmp(big, back, 200000), 0);
	}
	/* and write(2)'s form goes through the same pieces */
	pio.got = 0;
	pio.want = 200000;
	ck_assert_int_eq(pthread_create(&t, NULL, peer_read_all, &pio), 0);
	n = vos_write(ctx, a, big, 200000);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(n, 200000);
	ck_assert_int_eq(memcmp(big, back, 200000), 0);
	close(k);
	ck_assert_int_eq(vos_close(ctx, a), 0);
	ck_assert_int_eq(vos_close(ctx, l), 0);
	vos_ctx_destroy(ctx);
	teardown_both();
	free(big);
	free(back);
}
END_TEST

/* ---- routing ------------------------------------------------------------ */

START_TEST(routing_mixed)
{
	struct vos_ctx *ctx;
	char p[400], local[400], st[4096], buf[16] = { 0 };
	long before;
	int fd, lfd, l, s, a, pp[2];

	setup_both();
	ctx = ctx_routed();
	/* nothing used yet: no service attached (the description is
	 * current: it says so, then says otherwise) */
	ck_assert_ptr_nonnull(strstr(vos_ctx_describe(ctx), "not attached"));
	/* a file under the export: stord */
	path_in(p, sizeof(p), "routed");
	fd = vos_openat(ctx, AT_FDCWD, p, O_RDWR | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vos_write(ctx, fd, "S", 1), 1);
	/* a file elsewhere: the local kernel; the fd is the kernel's own */
	snprintf(local, sizeof(local), "%s/local-file", work);
	lfd = vos_openat(ctx, AT_FDCWD, local, O_RDWR | O_CREAT, 0600);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_eq(vos_write(ctx, lfd, "L", 1), 1);
	ck_assert_int_eq(pread(lfd, buf, 1, 0), 1);
	ck_assert_int_eq(buf[0], 'L');
	/* a socket: netd */
	tcp_pair(ctx, &l, &s, &a);
	/* a pipe: local */
	ck_assert_int_eq(pipe(pp), 0);
	ck_assert_int_eq(vos_write(ctx, pp[1], "P", 1), 1);
	ck_assert_int_eq(vos_read(ctx, pp[0], buf, 1), 1);
	ck_assert_int_eq(buf[0], 'P');
	/* every fd number is distinct and a real fd of this process */
	{
		int all[] = { fd, lfd, l, s, a, pp[0], pp[1] };

		for (unsigned i = 0; i < 7; i++) {
			ck_assert_int_ge(fcntl(all[i], F_GETFD), 0);
			for (unsigned j = i + 1; j < 7; j++)
				ck_assert_int_ne(all[i], all[j]);
		}
	}
	ck_assert_int_eq(vos_send(ctx, s, "N", 1, 0), 1);
	ck_assert_int_eq(vos_recv(ctx, a, buf, 1, 0), 1);
	ck_assert_int_eq(buf[0], 'N');
	/* both services are attached now */
	ck_assert_msg(!strstr(vos_ctx_describe(ctx), "not attached"), "%s",
		      vos_ctx_describe(ctx));
	ck_assert_ptr_nonnull(strstr(vos_ctx_describe(ctx), "epoch"));
	/* rename across services is refused like across mounts */
	ck_assert_int_eq(vos_renameat(ctx, AT_FDCWD, p, AT_FDCWD, local, 0),
			 -EXDEV);
	/* the local file never reached stord; the socket never did */
	ck_assert_int_eq(td_stats(stord.sock, st, sizeof(st)), 0);
	before = td_stat(st, "done");
	ck_assert_int_eq(vos_write(ctx, lfd, "L", 1), 1);
	ck_assert_int_eq(vos_send(ctx, s, "N", 1, 0), 1);
	ck_assert_int_eq(td_stats(stord.sock, st, sizeof(st)), 0);
	ck_assert_int_eq(td_stat(st, "done"), before);
	ck_assert_int_eq(vos_write(ctx, fd, "S", 1), 1);
	ck_assert_int_eq(td_stats(stord.sock, st, sizeof(st)), 0);
	ck_assert_int_eq(td_stat(st, "done"), before + 1);
	/* the netd fds can be shut down and closed */
	ck_assert_int_eq(vos_shutdown(ctx, s, SHUT_WR), 0);
	ck_assert_int_eq(vos_recv(ctx, a, buf, sizeof(buf), 0), 1);
	ck_assert_int_eq(vos_recv(ctx, a, buf, sizeof(buf), 0), 0);
	ck_assert_int_eq(vos_close(ctx, a), 0);
	ck_assert_int_eq(vos_close(ctx, s), 0);
	ck_assert_int_eq(vos_close(ctx, l), 0);
	ck_assert_int_eq(vos_close(ctx, fd), 0);
	ck_assert_int_eq(vos_close(ctx, lfd), 0);
	close(pp[0]);
	close(pp[1]);
	vos_ctx_destroy(ctx);
	teardown_both();
}
END_TEST

START_TEST(routes_file_errors)
{
	struct vos_ctx *ctx = NULL;
	FILE *f;

	make_work();
	f = fopen(routes, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "service netd shm path=/nonexistent.sock\nfamily inet nobody\n");
	fclose(f);
	setenv("VOS_ROUTES", routes, 1);
	ck_assert_int_eq(vos_ctx_create(NULL, &ctx), -EINVAL);
	setenv("VOS_ROUTES", "/nonexistent/routes.conf", 1);
	ck_assert_int_eq(vos_ctx_create(NULL, &ctx), -ENOENT);
	/* what the parser does not understand is refused, whatever the
	 * word: a word too many, an option without '=', an unknown key */
	{
		const char *bad[] = {
			"family inet local extra\n",
			"path /x local extra\n",
			"service netd shm path=/a.sock slot\n",
			"service netd shm path=/a.sock,lazy=1 bogus=1\n",
			"local io_uring-local bogus=1\n",
			"servic netd shm path=/a.sock\n",
		};

		setenv("VOS_ROUTES", routes, 1);
		for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			f = fopen(routes, "w");
			ck_assert_ptr_nonnull(f);
			fputs(bad[i], f);
			fclose(f);
			ck_assert_msg(vos_ctx_create(NULL, &ctx) == -EINVAL,
				      "accepted: %s", bad[i]);
		}
	}
	/* options as several words: all of them count (slot= too) */
	f = fopen(routes, "w");
	fprintf(f, "service netd shm path=%s/absent.sock lazy=1 "
		"slot=1048576\nfamily inet netd\n", work);
	fclose(f);
	ck_assert_int_eq(vos_ctx_create(NULL, &ctx), 0);
	ck_assert_ptr_nonnull(strstr(vos_ctx_describe(ctx), "not attached"));
	vos_ctx_destroy(ctx);
	f = fopen(routes, "w");
	fprintf(f, "service netd shm path=%s/absent.sock slot=100\n"
		"family inet netd\n", work);
	fclose(f);
	ck_assert_int_eq(vos_ctx_create(NULL, &ctx), -EINVAL); /* bad slot */
	/* a service that is down: the context works, its calls fail */
	f = fopen(routes, "w");
	fprintf(f, "service netd shm path=%s/absent.sock\nfamily inet netd\n",
		work);
	fclose(f);
	setenv("VOS_ROUTES", routes, 1);
	ck_assert_int_eq(vos_ctx_create(NULL, &ctx), 0);
	ck_assert_int_eq(vos_socket(ctx, AF_INET, SOCK_STREAM, 0), -EIO);
	ck_assert_int_eq(vos_nop(ctx), 0); /* local calls are unaffected */
	vos_ctx_destroy(ctx);
	setenv("VOS_ROUTES", "none", 1);
	ck_assert_int_eq(vos_ctx_create(NULL, &ctx), 0);
	ck_assert_ptr_null(strstr(vos_ctx_describe(ctx), "routed"));
	vos_ctx_destroy(ctx);
}
END_TEST

/* ---- stord: confinement and permissions --------------------------------- */

START_TEST(stord_confinement)
{
	struct vos_ctx *ctx;
	char p[400], outside[400];
	struct statx stx;
	int dfd, fd;

	setup_both();
	ctx = ctx_routed();
	/* a secret next to the export, and ways that point at it */
	snprintf(outside, sizeof(outside), "%s/secret", work);
	fd = open(outside, O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	path_in(p, sizeof(p), "sub");
	ck_assert_int_eq(mkdir(p, 0755), 0);
	path_in(p, sizeof(p), "abs-link");
	ck_assert_int_eq(symlink(outside, p), 0);
	path_in(p, sizeof(p), "rel-link");
	ck_assert_int_eq(symlink("../secret", p), 0);
	path_in(p, sizeof(p), "proc-link");
	ck_assert_int_eq(symlink("/proc/self/root/etc/passwd", p), 0);
	path_in(p, sizeof(p), "sub/inside");
	ck_assert_int_eq(symlink("../sub", p), 0); /* stays inside: fine */

	dfd = vos_openat(ctx, AT_FDCWD, exp_dir, O_RDONLY | O_DIRECTORY, 0);
	ck_assert_int_ge(dfd, 0);
	/* "..": out of the root */
	ck_assert_int_eq(vos_openat(ctx, dfd, "../secret", O_RDONLY, 0), -EXDEV);
	ck_assert_int_eq(vos_openat(ctx, dfd, "sub/../../secret", O_RDONLY, 0),
			 -EXDEV);
	/* an absolute path on a stord directory fd: the kernel ignores the
	 * dirfd, so does the router; outside every prefix it is the local
	 * kernel's (the program could open it itself), never stord's */
	fd = vos_openat(ctx, dfd, outside, O_RDONLY, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vos_close(ctx, fd), 0);
	/* symlinks, absolute and relative, and /proc magic links */
	ck_assert_int_eq(vos_openat(ctx, dfd, "abs-link", O_RDONLY, 0), -EXDEV);
	ck_assert_int_eq(vos_openat(ctx, dfd, "rel-link", O_RDONLY, 0), -EXDEV);
	ck_assert_int_eq(vos_openat(ctx, dfd, "proc-link", O_RDONLY, 0),
			 -EXDEV);
	path_in(p, sizeof(p), "rel-link");
	ck_assert_int_eq(vos_openat(ctx, AT_FDCWD, p, O_RDONLY, 0), -EXDEV);
	/* the other path calls are confined too */
	ck_assert_int_eq(vos_statx(ctx, dfd, "../secret", 0, STATX_SIZE, &stx),
			 -EXDEV);
	ck_assert_int_eq(vos_statx(ctx, dfd, "abs-link", 0, STATX_SIZE, &stx),
			 -EXDEV);
	ck_assert_int_eq(vos_unlinkat(ctx, dfd, "../secret", 0), -EXDEV);
	ck_assert_int_eq(vos_mkdirat(ctx, dfd, "../newdir", 0755), -EXDEV);
	ck_assert_int_eq(vos_renameat(ctx, dfd, "../secret", dfd, "stolen", 0),
			 -EXDEV);
	/* the kernel's answer for "..", which it never looks up */
	ck_assert_int_eq(vos_unlinkat(ctx, dfd, "..", AT_REMOVEDIR),
			 -ENOTEMPTY);
	/* openat2: a program's RESOLVE_ bits narrow stord's scope, never
	 * widen it; RESOLVE_IN_ROOT takes the directory for "/" (an
	 * absolute symlink resolves inside it: nothing there) */
	{
		struct open_how in_root = { .flags = O_RDONLY,
					    .resolve = RESOLVE_IN_ROOT };
		struct open_how beneath = { .flags = O_RDONLY,
					    .resolve = RESOLVE_BENEATH };
		struct open_how none = { .flags = O_RDONLY };
		static const char *const out[] = {
			"../secret", "sub/../../secret", "/../secret",
			"abs-link", "rel-link", "proc-link",
		};

		for (unsigned i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
			int r = vos_openat2(ctx, dfd, out[i], &in_root,
					    sizeof(in_root));

			/* inside the export: no such file there */
			ck_assert_msg(r == -ENOENT, "IN_ROOT %s: %d", out[i],
				      r);
			ck_assert_int_eq(vos_openat2(ctx, dfd, out[i], &beneath,
						     sizeof(beneath)),
					 -EXDEV);
			if (out[i][0] != '/')
				ck_assert_int_eq(vos_openat2(ctx, dfd, out[i],
							     &none,
							     sizeof(none)),
						 -EXDEV);
		}
		/* "/sub" from the export's directory as the root: sub */
		in_root.flags = O_RDONLY | O_DIRECTORY;
		fd = vos_openat2(ctx, dfd, "/sub", &in_root, sizeof(in_root));
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(vos_statx(ctx, fd, "inside",
					   AT_SYMLINK_NOFOLLOW, STATX_MODE,
					   &stx), 0);
		ck_assert_int_eq(vos_close(ctx, fd), 0);
	}
	ck_assert_int_eq(access(outside, F_OK), 0); /* untouched */
	/* what stays inside works */
	fd = vos_openat(ctx, dfd, "sub/inside/../sub", O_RDONLY | O_DIRECTORY,
			0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vos_close(ctx, fd), 0);
	ck_assert_int_eq(vos_statx(ctx, dfd, "abs-link", AT_SYMLINK_NOFOLLOW,
				   STATX_MODE, &stx), 0);
	ck_assert(S_ISLNK(stx.stx_mode));
	ck_assert_int_eq(vos_close(ctx, dfd), 0);
	vos_ctx_destroy(ctx);
	teardown_both();
}
END_TEST

/* The trailing-slash and "."/".." cases: a fixture made twice, once
 * beside the export (plain system calls) and once in it (through stord);
 * each call runs on both, and its result and the tree it leaves must be
 * the same. */
static void make_fixture(const char *dir)
{
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	put_file(dir, "f", "data", 4, 0644);
	put_dir(dir, "d", 0755);
	put_dir(dir, "dn", 0755);
	put_dir(dir, "dn/x", 0700);
	put_link(dir, "ls", "f");
	put_link(dir, "ld", "d");
	put_link(dir, "lx", "nowhere");
}

enum edge_op { E_UNLINK, E_RMDIR, E_MKDIR, E_RENAME_FROM, E_RENAME_TO };

static int edge_native(int dfd, enum edge_op op, const char *path)
{
	int r = -1;

	switch (op) {
	case E_UNLINK: r = unlinkat(dfd, path, 0); break;
	case E_RMDIR: r = unlinkat(dfd, path, AT_REMOVEDIR); break;
	case E_MKDIR: r = mkdirat(dfd, path, 0750); break;
	case E_RENAME_FROM: r = renameat(dfd, path, dfd, "moved"); break;
	case E_RENAME_TO: r = renameat(dfd, "d", dfd, path); break;
	}
	return r < 0 ? -errno : r;
}

static int edge_vos(struct vos_ctx *ctx, int dfd, enum edge_op op,
		    const char *path)
{
	switch (op) {
	case E_UNLINK: return vos_unlinkat(ctx, dfd, path, 0);
	case E_RMDIR: return vos_unlinkat(ctx, dfd, path, AT_REMOVEDIR);
	case E_MKDIR: return vos_mkdirat(ctx, dfd, path, 0750);
	case E_RENAME_FROM:
		return vos_renameat(ctx, dfd, path, dfd, "moved", 0);
	case E_RENAME_TO: return vos_renameat(ctx, dfd, "d", dfd, path, 0);
	}
	return -EINVAL;
}

START_TEST(trailing_slashes_and_dots)
{
	static const char *const paths[] = {
		"f/", "f//", "d/", "d//", "dn/", "ls/", "ld/", "lx/",
		"missing/", "new/", ".", "..", "./", "../", "d/.", "d/..",
		"d/./", "dn/x/", "dn//x//", "dn/x/..", "f/.", "f/..",
		"missing/..", "ld/.", "f", "d", "ls", "ld",
	};
	static const char *const op_name[] = { "unlink", "rmdir", "mkdir",
					       "rename from", "rename to" };
	char nat[300], a[400], b[400];
	static char tree_n1[8192], tree_s1[8192];
	struct vos_ctx *ctx;
	int cases = 0, zeros = 0;

	setup_both();
	ctx = ctx_routed();
	umask(022);
	snprintf(nat, sizeof(nat), "%s/native", work);
	ck_assert_int_eq(mkdir(nat, 0755), 0);
	for (int via_cwd = 0; via_cwd < 2; via_cwd++)
	for (int op = E_UNLINK; op <= E_RENAME_TO; op++)
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		int nfd, sfd, rn, rs;

		snprintf(a, sizeof(a), "%s/t", nat);
		snprintf(b, sizeof(b), "%s/t", exp_dir);
		make_fixture(a);
		make_fixture(b);
		nfd = open(a, O_PATH | O_DIRECTORY);
		ck_assert_int_ge(nfd, 0);
		rn = edge_native(nfd, (enum edge_op)op, paths[i]);
		close(nfd);
		if (via_cwd) {
			/* an absolute path the router sends to stord: the
			 * rest after the prefix keeps its slashes */
			char full[600];

			snprintf(full, sizeof(full), "%s/t/%s", exp_dir,
				 paths[i]);
			if (op == E_RENAME_TO) {
				char from[600];

				snprintf(from, sizeof(from), "%s/t/d", exp_dir);
				rs = vos_renameat(ctx, AT_FDCWD, from,
						  AT_FDCWD, full, 0);
			} else if (op == E_RENAME_FROM) {
				char to[600];

				snprintf(to, sizeof(to), "%s/t/moved", exp_dir);
				rs = vos_renameat(ctx, AT_FDCWD, full,
						  AT_FDCWD, to, 0);
			} else {
				rs = edge_vos(ctx, AT_FDCWD, (enum edge_op)op,
					      full);
			}
		} else {
			sfd = vos_openat(ctx, AT_FDCWD, b,
					 O_RDONLY | O_DIRECTORY, 0);
			ck_assert_int_ge(sfd, 0);
			rs = edge_vos(ctx, sfd, (enum edge_op)op, paths[i]);
			ck_assert_int_eq(vos_close(ctx, sfd), 0);
		}
		if (rn != rs)
			ck_abort_msg("%s(\"%s\")%s: the kernel says %d (%s), "
				     "stord %d (%s)", op_name[op], paths[i],
				     via_cwd ? " by absolute path" : "", rn,
				     strerror(-rn), rs, strerror(-rs));
		tree_of(a, tree_n1, sizeof(tree_n1));
		tree_of(b, tree_s1, sizeof(tree_s1));
		if (strcmp(tree_n1, tree_s1))
			ck_abort_msg("%s(\"%s\")%s left another tree:\n"
				     "kernel:\n%sstord:\n%s", op_name[op],
				     paths[i], via_cwd ? " by absolute path"
				     : "", tree_n1, tree_s1);
		td_rm_tree(a);
		td_rm_tree(b);
		cases++;
		zeros += rn == 0;
	}
	/* the table must reach both sides of each rule */
	ck_assert_int_gt(zeros, 10);
	ck_assert_int_gt(cases - zeros, 100);
	vos_ctx_destroy(ctx);
	teardown_both();
}
END_TEST

/* A directory beside the export ("native", its path in nat) and the
 * export itself through stord: *nd and *sd, for the same calls on both. */
static void twin_dirs(struct vos_ctx *ctx, char *nat, size_t cap, int *nd,
		      int *sd)
{
	snprintf(nat, cap, "%s/native", work);
	ck_assert_int_eq(mkdir(nat, 0755), 0);
	*nd = open(nat, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	*sd = vos_openat(ctx, AT_FDCWD, exp_dir, O_RDONLY | O_DIRECTORY, 0);
	ck_assert_int_ge(*nd, 0);
	ck_assert_int_ge(*sd, 0);
}

/* What openat, fcntl F_GETFD/F_SETFD, statx, send and a long path give
 * through stord, against the same calls on a twin beside the export. */
START_TEST(stord_answers_as_the_kernel)
{
	struct vos_ctx *ctx;
	char nat[400], full[PATH_MAX + 16];
	struct statx stx;
	int nd, sd, nf, sf, r1, r2;
	size_t n;

	setup_both();
	ctx = ctx_routed();
	twin_dirs(ctx, nat, sizeof(nat), &nd, &sd);
#define BOTH(call_native, call_vos)                                        \
	do {                                                                \
		int rn_ = (call_native), rv_;                               \
		if (rn_ < 0) /* (before the other call touches errno) */    \
			rn_ = -errno;                                       \
		rv_ = (call_vos);                                           \
		ck_assert_msg(rn_ == rv_, "%s: kernel %d, stord %d",        \
			      #call_vos, rn_, rv_);                         \
	} while (0)
	/* FD_CLOEXEC is the fd's, as asked; dups and F_SETFD */
	nf = openat(nd, "f", O_RDWR | O_CREAT, 0644);
	sf = vos_openat(ctx, sd, "f", O_RDWR | O_CREAT, 0644);
	ck_assert_int_ge(nf, 0);
	ck_assert_int_ge(sf, 0);
	BOTH(fcntl(nf, F_GETFD), vos_fcntl(ctx, sf, F_GETFD, 0));
	BOTH(fcntl(nf, F_GETFL), vos_fcntl(ctx, sf, F_GETFL, 0));
	BOTH(fcntl(nf, F_SETFD, FD_CLOEXEC),
	     vos_fcntl(ctx, sf, F_SETFD, FD_CLOEXEC));
	BOTH(fcntl(nf, F_GETFD), vos_fcntl(ctx, sf, F_GETFD, 0));
	r1 = fcntl(nf, F_DUPFD, 0);
	r2 = vos_fcntl(ctx, sf, F_DUPFD, 0);
	ck_assert_int_ge(r1, 0);
	ck_assert_int_ge(r2, 0);
	BOTH(fcntl(r1, F_GETFD), vos_fcntl(ctx, r2, F_GETFD, 0));
	ck_assert_int_eq(vos_fcntl(ctx, r2, F_GETFD, 0), 0);
	close(r1);
	ck_assert_int_eq(vos_close(ctx, r2), 0);
	r1 = fcntl(nf, F_DUPFD_CLOEXEC, 0);
	r2 = vos_fcntl(ctx, sf, F_DUPFD_CLOEXEC, 0);
	BOTH(fcntl(r1, F_GETFD), vos_fcntl(ctx, r2, F_GETFD, 0));
	close(r1);
	ck_assert_int_eq(vos_close(ctx, r2), 0);
	close(nf);
	ck_assert_int_eq(vos_close(ctx, sf), 0);
	nf = openat(nd, "f", O_RDONLY | O_CLOEXEC);
	sf = vos_openat(ctx, sd, "f", O_RDONLY | O_CLOEXEC, 0);
	BOTH(fcntl(nf, F_GETFD), vos_fcntl(ctx, sf, F_GETFD, 0));
	ck_assert_int_eq(vos_fcntl(ctx, sf, F_GETFD, 0), FD_CLOEXEC);
	/* a socket call on a file */
	BOTH(send(nf, "x", 1, 0), (int)vos_send(ctx, sf, "x", 1, 0));
	close(nf);
	ck_assert_int_eq(vos_close(ctx, sf), 0);
	/* openat's own handling: a mode without O_CREAT, unknown bits,
	 * O_PATH with flags it drops */
	static const struct { int flags; mode_t mode; } opens[] = {
		{ O_RDONLY, 0777 },
		{ O_RDONLY | 040000000, 0 },
		{ O_RDONLY | (1 << 30), 0 },
		{ O_PATH | O_RDWR | O_TRUNC, 0 },
		{ O_WRONLY | O_CREAT | O_EXCL, 0107777 },
	};
	for (size_t i = 0; i < sizeof(opens) / sizeof(opens[0]); i++) {
		char name[16];

		snprintf(name, sizeof(name), "o%zu", i);
		nf = openat(nd, i == 4 ? name : "f", opens[i].flags | O_CLOEXEC,
			    opens[i].mode);
		sf = vos_openat(ctx, sd, i == 4 ? name : "f", opens[i].flags,
				opens[i].mode);
		ck_assert_msg((nf >= 0) == (sf >= 0),
			      "openat flags %#x mode %#o: kernel %d, stord %d",
			      opens[i].flags, opens[i].mode,
			      nf < 0 ? -errno : 0, sf);
		if (nf >= 0) {
			BOTH(fcntl(nf, F_GETFL), vos_fcntl(ctx, sf, F_GETFL, 0));
			close(nf);
			ck_assert_int_eq(vos_close(ctx, sf), 0);
		}
	}
	{
		struct stat a, b;
		char p1[500], p2[500];

		snprintf(p1, sizeof(p1), "%s/o4", nat);
		snprintf(p2, sizeof(p2), "%s/o4", exp_dir);
		ck_assert_int_eq(stat(p1, &a), 0);
		ck_assert_int_eq(stat(p2, &b), 0);
		ck_assert_uint_eq(a.st_mode, b.st_mode);
	}
	/* statx's own checks come before the lookup */
	BOTH(statx(nd, "missing", AT_STATX_SYNC_TYPE, STATX_BASIC_STATS, &stx),
	     vos_statx(ctx, sd, "missing", AT_STATX_SYNC_TYPE,
		       STATX_BASIC_STATS, &stx));
	BOTH(statx(nd, "f", 0x40000000, STATX_BASIC_STATS, &stx),
	     vos_statx(ctx, sd, "f", 0x40000000, STATX_BASIC_STATS, &stx));
	BOTH(statx(nd, "missing", 0, STATX__RESERVED, &stx),
	     vos_statx(ctx, sd, "missing", 0, STATX__RESERVED, &stx));
	BOTH(statx(nd, "f", AT_STATX_DONT_SYNC, STATX_SIZE, &stx),
	     vos_statx(ctx, sd, "f", AT_STATX_DONT_SYNC, STATX_SIZE, &stx));
	/* PATH_MAX counts the whole path, the routed prefix too */
	for (int over = 0; over < 2; over++) {
		const char *base[2] = { nat, exp_dir };
		int res[2];

		for (int k = 0; k < 2; k++) {
			size_t want = PATH_MAX - 1 + (size_t)over - 2;

			n = (size_t)snprintf(full, sizeof(full), "%s", base[k]);
			if ((want - n) % 2) /* "//" is "/" */
				n += (size_t)snprintf(full + n,
						      sizeof(full) - n, "/");
			while (n < want)
				n += (size_t)snprintf(full + n,
						      sizeof(full) - n, "/.");
			n += (size_t)snprintf(full + n, sizeof(full) - n, "/f");
			ck_assert_uint_eq(strlen(full),
					  PATH_MAX - 1 + (size_t)over);
			res[k] = k ? vos_openat(ctx, AT_FDCWD, full, O_RDONLY, 0)
				   : open(full, O_RDONLY | O_CLOEXEC);
			if (!k && res[k] < 0)
				res[k] = -errno;
		}
		ck_assert_msg((res[0] >= 0) == (res[1] >= 0) &&
			      (res[0] >= 0 || res[0] == res[1]),
			      "a path of %d bytes: kernel %d, stord %d",
			      PATH_MAX - 1 + over, res[0], res[1]);
		if (res[0] >= 0) {
			close(res[0]);
			ck_assert_int_eq(vos_close(ctx, res[1]), 0);
		} else {
			ck_assert_int_eq(res[0], -ENAMETOOLONG);
		}
	}
#undef BOTH
	close(nd);
	ck_assert_int_eq(vos_close(ctx, sd), 0);
	vos_ctx_destroy(ctx);
	teardown_both();
}
END_TEST

START_TEST(stord_permissions)
{
	char p[400], q[400];
	pid_t pid;
	int fd, st;

	setup_both();
	/* nobody must reach the routes file and the sockets */
	ck_assert_int_eq(chmod(work, 0755), 0);
	ck_assert_int_eq(chmod(routes, 0644), 0);
	path_in(p, sizeof(p), "root-only");
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "x", 1), 1);
	close(fd);
	path_in(q, sizeof(q), "public");
	fd = open(q, O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* an unprivileged client: nobody */
		struct vos_ctx *ctx = NULL;
		char r[400];
		int ok = 1;

		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(90);
		if (vos_ctx_create(NULL, &ctx) < 0)
			_exit(91);
		ok &= vos_openat(ctx, AT_FDCWD, p, O_RDONLY, 0) == -EACCES;
		ok &= vos_openat(ctx, AT_FDCWD, p, O_WRONLY, 0) == -EACCES;
		fd = vos_openat(ctx, AT_FDCWD, q, O_RDONLY, 0);
		ok &= fd >= 0;
		ok &= vos_openat(ctx, AT_FDCWD, q, O_WRONLY, 0) == -EACCES;
		path_in(r, sizeof(r), "new-file");
		ok &= vos_openat(ctx, AT_FDCWD, r, O_WRONLY | O_CREAT, 0644) ==
		      -EACCES;
		ok &= vos_unlinkat(ctx, AT_FDCWD, q, 0) == -EACCES;
		ok &= vos_mkdirat(ctx, AT_FDCWD, r, 0755) == -EACCES;
		/* and netd will not open privileged ports or raw sockets */
		{
			struct sockaddr_in sin = { .sin_family = AF_INET,
						   .sin_port = htons(80) };
			int s = vos_socket(ctx, AF_INET, SOCK_STREAM, 0);

			ok &= s >= 0;
			ok &= vos_bind(ctx, s, (struct sockaddr *)&sin,
				       sizeof(sin)) == -EACCES;
			ok &= vos_socket(ctx, AF_INET, SOCK_RAW, IPPROTO_ICMP) ==
			      -EPERM;
		}
		vos_ctx_destroy(ctx);
		_exit(ok ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "unprivileged client: status %d", st);
	/* the daemon saw uid 65534 */
	{
		FILE *f = fopen(stord.log, "r");
		char line[512];
		bool seen = false;

		ck_assert_ptr_nonnull(f);
		while (fgets(line, sizeof(line), f))
			seen |= strstr(line, "uid 65534") != NULL;
		fclose(f);
		ck_assert(seen);
	}
	teardown_both();
}
END_TEST

/* ---- fairness: a bound on in-flight requests per client ------------------ */

/* A context on netd's shm endpoint itself (no routing: its timers go to
 * netd, where they run in the worker's timer heap). */
static struct vos_ctx *ctx_on_netd(unsigned depth, const char *extra)
{
	struct vos_config cfg;
	struct vos_ctx *ctx = NULL;
	char o[400];

	vos_config_init(&cfg);
	snprintf(o, sizeof(o), "path=%s%s", netd.sock, extra ? extra : "");
	cfg.transport = "shm";
	cfg.options = o;
	cfg.queue_depth = depth;
	ck_assert_int_eq(vos_ctx_create(&cfg, &ctx), 0);
	return ctx;
}

START_TEST(inflight_bound_two_clients)
{
	const char *args[] = { "--max-inflight", "8", NULL };
	struct vos_ctx *ctx;
	int go[2], up[2], st, l, s, a;
	char stt[4096], c;
	pid_t pid;

	make_work();
	write_routes();
	start_netd(args);
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(up), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* client A floods: 200 timers of a minute each, requests that
		 * run (in netd's timer heap), not wait for a peer */
		struct vos_req r[200];
		struct vos_config cfg;
		char o[400];

		vos_config_init(&cfg);
		snprintf(o, sizeof(o), "path=%s", netd.sock);
		cfg.transport = "shm";
		cfg.options = o;
		if (vos_ctx_create(&cfg, &ctx) < 0)
			_exit(91);
		for (int i = 0; i < 200; i++) {
			vos_prep_timeout(&r[i], 60ull * 1000000000);
			r[i].user_data = (uint64_t)i;
		}
		if (vos_submit(ctx, r, 200) != 200)
			_exit(93);
		if (write(up[1], "A", 1) != 1)
			_exit(94);
		if (read(go[0], &c, 1) != 1) /* until told to go */
			_exit(95);
		_exit(vos_ctx_destroy(ctx) == 0 ? 0 : 96);
	}
	ck_assert_int_eq(read(up[0], &c, 1), 1);
	/* A gets stuck at its bound, its other requests wait in its ring */
	if (!td_wait_text(netd.sock, "running 8 parked 0 ", 10000)) {
		td_stats(netd.sock, stt, sizeof(stt));
		ck_abort_msg("client A never reached its bound of 8: %s", stt);
	}
	/* client B makes progress meanwhile: 500 round trips */
	{
		int64_t t0 = td_now_ms();
		char buf[4];

		ctx = ctx_routed();
		tcp_pair(ctx, &l, &s, &a);
		for (int i = 0; i < 500; i++) {
			ck_assert_int_eq(vos_send(ctx, s, "ping", 4, 0), 4);
			ck_assert_int_eq(vos_recv(ctx, a, buf, 4, MSG_WAITALL),
					 4);
		}
		printf("inflight_bound: client B did 500 round trips in %lld ms "
		       "while client A held 8 (of 200) running\n",
		       (long long)(td_now_ms() - t0));
		vos_ctx_destroy(ctx);
	}
	ck_assert_int_eq(td_stats(netd.sock, stt, sizeof(stt)), 0);
	ck_assert_msg(strstr(stt, "running 8 parked 0 "), "stats: %s", stt);
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "A: %d", st);
	ck_assert_int_eq(td_stop(&netd), 0);
}
END_TEST

/* Issue 9, item 4: requests that wait for a peer never hold back the
 * ready ones of the same client.  One client, netd with its default
 * flags (--max-inflight 256): 5,000 recvs posted on one connection, then
 * 1,000 sends on the other end of it queued behind them in the same
 * ring.  Counted as running, the recvs filled the bound and the sends
 * never ran: a deadlock.  Parked, they wait in the engine and the sends
 * feed them. */
START_TEST(parked_recvs_do_not_block_sends)
{
	enum { NRECV = 5000, NSEND = 1000, RLEN = 8, SLEN = 40 };
	static struct vos_req r[NRECV + NSEND];
	static struct vos_cqe cq[256];
	static char rbuf[NRECV][RLEN], sbuf[SLEN];
	struct vos_ctx *ctx;
	int l, s, a, got = 0, recvs = 0, sends = 0;
	long bytes = 0;
	char stt[4096];
	int64_t t0;

	make_work();
	write_routes();
	start_netd(NULL);
	/* a context of depth 8192 on netd's endpoint (the routed default is
	 * 256; a routed context of 8192 goes the same way) */
	ctx = ctx_on_netd(8192, NULL);
	tcp_pair(ctx, &l, &s, &a);
	memset(sbuf, 'm', sizeof(sbuf));
	for (int i = 0; i < NRECV; i++) {
		vos_prep_recv(&r[i], a, rbuf[i], RLEN, 0);
		r[i].user_data = (uint64_t)i;
	}
	for (int i = 0; i < NSEND; i++) {
		vos_prep_send(&r[NRECV + i], s, sbuf, SLEN, 0);
		r[NRECV + i].user_data = (uint64_t)(NRECV + i);
	}
	/* the recvs first, all of them parked before any send is sent */
	ck_assert_int_eq(vos_submit(ctx, r, NRECV), NRECV);
	if (!td_wait_text(netd.sock, "running 0 parked 5000 ", 20000)) {
		td_stats(netd.sock, stt, sizeof(stt));
		ck_abort_msg("5000 recvs never parked: %s", stt);
	}
	ck_assert_int_eq(vos_submit(ctx, r + NRECV, NSEND), NSEND);
	t0 = td_now_ms();
	while (got < NRECV + NSEND) {
		int n = vos_wait(ctx, cq, 256, 1, 30LL * 1000000000);

		if (n <= 0) {
			td_stats(netd.sock, stt, sizeof(stt));
			ck_abort_msg("stuck after %d of %d completions (%d "
				     "recvs, %d sends): %d; %s", got,
				     NRECV + NSEND, recvs, sends, n, stt);
		}
		for (int i = 0; i < n; i++) {
			if (cq[i].user_data < NRECV) {
				ck_assert_int_gt(cq[i].res, 0);
				ck_assert_int_le(cq[i].res, RLEN);
				bytes += cq[i].res;
				recvs++;
			} else {
				ck_assert_int_eq(cq[i].res, SLEN);
				sends++;
			}
		}
		got += n;
	}
	printf("parked_recvs: %d recvs (%ld bytes) and %d sends behind them "
	       "completed in %lld ms\n", recvs, bytes, sends,
	       (long long)(td_now_ms() - t0));
	ck_assert_int_le(bytes, (long)NSEND * SLEN);
	ck_assert_int_eq(vos_close(ctx, s), 0);
	ck_assert_int_eq(vos_close(ctx, a), 0);
	ck_assert_int_eq(vos_close(ctx, l), 0);
	vos_ctx_destroy(ctx);
	ck_assert_int_eq(td_stop(&netd), 0);
}
END_TEST

/* ---- scale: 10,000 connections through netd ----------------------------- */

/* Issue 9, item 3: one context holds 10,000 connections through netd,
 * each with a recv posted (parked in netd, costing no running slot), and
 * every connection echoes 3 messages.  The peers are plain sockets of
 * this process; the context talks to netd's endpoint directly (its fds are
 * netd's numbers: no placeholder per connection here). */
START_TEST(ten_thousand_connections_through_netd)
{
	enum { N = 10000, ROUNDS = 3, MLEN = 8 };
	const char *args[] = { "--max-fds", "12000", "--max-fds-uid", "12000",
			       "--max-parked-uid", "12000", NULL };
	static int cli[N], srv[N];
	static char rbuf[N][MLEN];
	static struct vos_req r[512];
	struct vos_cqe c[512];
	struct sockaddr_in sin;
	struct rlimit rl;
	struct vos_ctx *ctx;
	int l, accepted = 0;
	int64_t t0, t1;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max < N + 1024) {
		printf("ten_thousand_connections: RLIMIT_NOFILE hard limit "
		       "%lu: skipped\n", (unsigned long)rl.rlim_max);
		return;
	}
	rl.rlim_cur = rl.rlim_max;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	make_work();
	write_routes();
	start_netd(args);
	ctx = ctx_on_netd(16384, NULL);
	l = listener(ctx, &sin);
	ck_assert_int_eq(vos_listen(ctx, l, 1024), 0); /* a deeper backlog */
	t0 = td_now_ms();
	/* connect in steps of 512 (the listen backlog), accepting each step
	 * with one batch */
	for (int base = 0; base < N; base += 512) {
		int k = N - base < 512 ? N - base : 512, got = 0;

		for (int i = 0; i < k; i++) {
			cli[base + i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC,
					       0);
			ck_assert_int_ge(cli[base + i], 0);
			ck_assert_msg(connect(cli[base + i],
					      (struct sockaddr *)&sin,
					      sizeof(sin)) == 0,
				      "connect %d: %s", base + i,
				      strerror(errno));
			vos_prep_accept(&r[i], l, NULL, NULL, 0);
			r[i].user_data = (uint64_t)i;
		}
		ck_assert_int_eq(vos_submit(ctx, r, (unsigned)k), k);
		while (got < k) {
			int n = vos_wait(ctx, c, 512, 1, 20LL * 1000000000);

			ck_assert_int_gt(n, 0);
			for (int i = 0; i < n; i++) {
				ck_assert_msg(c[i].res >= 0, "accept %d: %s",
					      accepted,
					      strerror((int)-c[i].res));
				srv[accepted++] = (int)c[i].res;
			}
			got += n;
		}
	}
	t1 = td_now_ms();
	ck_assert_int_eq(accepted, N);
	/* the accepts come in any order: find each client's other end by
	 * what it echoes (its index) */
	for (int round = 0; round < ROUNDS; round++) {
		int done = 0, posted = 0, inflight = 0;

		/* a recv posted on every connection, all at once (they park) */
		while (posted < N) {
			int k = 0;

			while (k < 512 && posted < N) {
				vos_prep_recv(&r[k], srv[posted],
					      rbuf[posted], MLEN, MSG_WAITALL);
				r[k].user_data = (uint64_t)posted;
				k++;
				posted++;
			}
			ck_assert_int_eq(vos_submit(ctx, r, (unsigned)k), k);
			inflight += k;
		}
		for (int i = 0; i < N; i++) {
			char m[MLEN + 1];

			snprintf(m, sizeof(m), "%03d%05d", round, i);
			ck_assert_int_eq(write(cli[i], m, MLEN), MLEN);
		}
		/* each recv's message goes back on its connection */
		while (done < N || inflight) {
			int n = vos_wait(ctx, c, 512, 1, 20LL * 1000000000);
			int k = 0;

			ck_assert_msg(n > 0, "round %d: %d of %d echoed, %d in "
				      "flight: %d", round, done, N, inflight,
				      n);
			for (int i = 0; i < n; i++) {
				uint64_t ud = c[i].user_data;

				inflight--;
				if (ud >= (1ull << 32)) { /* a send */
					ck_assert_int_eq(c[i].res, MLEN);
					continue;
				}
				ck_assert_int_eq(c[i].res, MLEN);
				vos_prep_send(&r[k], srv[ud], rbuf[ud], MLEN, 0);
				r[k].user_data = (1ull << 32) | ud;
				k++;
				done++;
			}
			if (k) {
				ck_assert_int_eq(vos_submit(ctx, r, (unsigned)k),
						 k);
				inflight += k;
			}
		}
		for (int i = 0; i < N; i++) {
			char m[MLEN + 1], got[MLEN + 1] = { 0 };

			snprintf(m, sizeof(m), "%03d%05d", round, i);
			ck_assert_int_eq(read(cli[i], got, MLEN), MLEN);
			ck_assert_str_eq(got, m);
		}
	}
	printf("ten_thousand_connections: %d connections through netd "
	       "accepted in %lld ms, %d rounds of echoes on all of them in "
	       "%lld ms\n", N, (long long)(t1 - t0), ROUNDS,
	       (long long)(td_now_ms() - t1));
	/* then with a multishot recv per connection and a pool of 2048
	 * buffers: 10,000 idle connections hold none; each message fills one
	 * and its echo is sent from it */
	{
		enum { NB = 2048, BSZ = 64 };
		char *base;
		int64_t t2 = td_now_ms();
		int posted = 0, ended = 0;
		long nobufs = 0;

		ck_assert_int_eq(vos_buf_pool_create(ctx, 9, NB, BSZ,
						     (void **)&base), 0);
		while (posted < N) {
			int k = 0;

			while (k < 512 && posted < N) {
				vos_prep_recv_multishot(&r[k], srv[posted], 9,
							0, 0);
				r[k].user_data = (3ull << 40) | (uint64_t)posted;
				k++;
				posted++;
			}
			ck_assert_int_eq(vos_submit(ctx, r, (unsigned)k), k);
		}
		for (int round = 0; round < 2; round++) {
			long echoed = 0, sending = 0;

			for (int i = 0; i < N; i++) {
				char m[MLEN + 1];

				snprintf(m, sizeof(m), "m%02d%05d", round, i);
				ck_assert_int_eq(write(cli[i], m, MLEN), MLEN);
			}
			while (echoed < (long)N * MLEN || sending) {
				int n = vos_wait(ctx, c, 512, 1,
						 20LL * 1000000000);
				int k = 0;

				ck_assert_msg(n > 0, "multishot round %d: %ld "
					      "bytes echoed: %d", round,
					      echoed, n);
				for (int i = 0; i < n; i++) {
					uint64_t ud = c[i].user_data;
					unsigned bid = vos_cqe_buffer(&c[i]);
					int idx = (int)(ud & 0xfffff);

					if ((ud >> 40) == 2) { /* a send */
						ck_assert_int_gt(c[i].res, 0);
						ck_assert_int_eq(vos_buf_return(
							ctx, 9,
							(unsigned)((ud >> 20) &
								   0xfffff)), 0);
						sending--;
						continue;
					}
					if (!(c[i].flags & VOS_CQE_F_MORE)) {
						/* every buffer busy: again,
						 * nothing was read */
						ck_assert_msg(c[i].res ==
								      -ENOBUFS,
							      "recv %d ended: "
							      "%lld", idx,
							      (long long)c[i]
								      .res);
						vos_prep_recv_multishot(
							&r[k], srv[idx], 9, 0,
							0);
						r[k].user_data = ud;
						k++;
						nobufs++;
						continue;
					}
					ck_assert_int_gt(c[i].res, 0);
					vos_prep_send(&r[k], srv[idx],
						      base + (size_t)bid * BSZ,
						      (uint32_t)c[i].res, 0);
					r[k].user_data = (2ull << 40) |
							 ((uint64_t)bid << 20) |
							 (uint64_t)idx;
					k++;
					echoed += c[i].res;
				}
				if (k) {
					ck_assert_int_eq(vos_submit(ctx, r,
								    (unsigned)k),
							 k);
					for (int i = 0; i < k; i++)
						sending += r[i].op ==
							   VOS_OP_SEND;
				}
			}
			for (int i = 0; i < N; i++) {
				char m[MLEN + 1], got[MLEN + 1] = { 0 };
				int have = 0;

				snprintf(m, sizeof(m), "m%02d%05d", round, i);
				while (have < MLEN) {
					ssize_t g = read(cli[i], got + have,
							 (size_t)(MLEN - have));

					ck_assert_int_gt(g, 0);
					have += (int)g;
				}
				ck_assert_str_eq(got, m);
			}
		}
		for (int i = 0; i < N; i++)
			vos_cancel(ctx, (3ull << 40) | (uint64_t)i);
		while (ended < N) {
			int n = vos_wait(ctx, c, 512, 1, 20LL * 1000000000);

			ck_assert_int_gt(n, 0);
			for (int i = 0; i < n; i++) {
				ck_assert_int_eq(c[i].res, -ECANCELED);
				ended++;
			}
		}
		ck_assert_int_eq(vos_buf_pool_destroy(ctx, 9), 0);
		printf("ten_thousand_connections: a multishot recv on each, "
		       "2 rounds of echoes from %d pool buffers (%ld recvs "
		       "ended with -ENOBUFS and were submitted again) and %d "
		       "cancels in %lld ms\n", NB, nobufs, N,
		       (long long)(td_now_ms() - t2));
	}
	for (int i = 0; i < N; i++)
		close(cli[i]);
	vos_ctx_destroy(ctx);
	ck_assert_int_eq(td_stop(&netd), 0);
}
END_TEST

/* ---- failure isolation -------------------------------------------------- */

/* The stord writer: appends 4 KiB records numbered 0,1,2... and reports
 * each acknowledged record number on fd `ack` until told to stop. */
static void writer(const char *path, int ack, int stop)
{
	struct vos_ctx *ctx;
	char rec[4096];
	int fd;

	if (vos_ctx_create(NULL, &ctx) < 0)
		_exit(81);
	fd = vos_openat(ctx, AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC,
			0644);
	if (fd < 0)
		_exit(82);
	fcntl(stop, F_SETFL, O_NONBLOCK);
	for (uint32_t i = 0;; i++) {
		char c;

		memset(rec, 0, sizeof(rec));
		snprintf(rec, sizeof(rec), "record %u", i);
		if (vos_pwrite(ctx, fd, rec, sizeof(rec),
			       (off_t)i * sizeof(rec)) != sizeof(rec))
			_exit(83); /* any error fails the test */
		if (write(ack, &i, sizeof(i)) != sizeof(i))
			_exit(84);
		if (read(stop, &c, 1) == 1)
			break;
	}
	if (vos_fsync(ctx, fd) != 0 || vos_close(ctx, fd) != 0)
		_exit(85);
	vos_ctx_destroy(ctx);
	_exit(0);
}

START_TEST(kill_netd_midload)
{
	struct vos_ctx *ctx;
	char p[400], buf[4096];
	static char chunk[16384];
	int ack[2], stop[2], st, l, s, a, s2, a2;
	uint32_t last = 0, n_before, acked;
	struct vos_req r;
	struct vos_cqe c;
	int64_t t_kill, t_fail;
	pid_t wpid;

	setup_both();
	/* the stord writer, in its own process */
	path_in(p, sizeof(p), "journal");
	ck_assert_int_eq(pipe(ack), 0);
	ck_assert_int_eq(pipe(stop), 0);
	wpid = fork();
	ck_assert_int_ge(wpid, 0);
	if (wpid == 0)
		writer(p, ack[1], stop[0]);
	close(ack[1]);
	/* this process streams through netd */
	ctx = ctx_routed();
	tcp_pair(ctx, &l, &s, &a);
	for (int i = 0; i < 200; i++) {
		ck_assert_int_eq(vos_send(ctx, s, chunk, sizeof(chunk), 0),
				 sizeof(chunk));
		ck_assert_int_eq(vos_recv(ctx, a, chunk, sizeof(chunk),
					  MSG_WAITALL), sizeof(chunk));
	}
	/* the writer's latest acknowledgement before the kill */
	ck_assert_int_eq(read(ack[0], &n_before, sizeof(n_before)), 4);
	fcntl(ack[0], F_SETFL, O_NONBLOCK);
	while (read(ack[0], &last, sizeof(last)) == 4)
		n_before = last;
	fcntl(ack[0], F_SETFL, 0);
	/* a recv in flight at netd, then SIGKILL netd */
	vos_prep_recv(&r, a, buf, sizeof(buf), 0);
	r.user_data = 7;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 0), -ETIME);
	t_kill = td_now_ms();
	td_kill(&netd);
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 10LL * 1000000000), 1);
	t_fail = td_now_ms();
	ck_assert_uint_eq(c.user_data, 7);
	ck_assert_int_eq(c.res, -ECONNRESET);
	printf("kill_netd: the in-flight recv failed %lld ms after SIGKILL\n",
	       (long long)(t_fail - t_kill));
	ck_assert_int_lt(t_fail - t_kill, 2000);
	/* calls on the dead service's fds fail at once; closing works */
	ck_assert_int_eq(vos_send(ctx, s, "x", 1, 0), -EIO);
	ck_assert_int_eq(vos_close(ctx, s), 0);
	ck_assert_int_eq(vos_close(ctx, a), 0);
	ck_assert_int_eq(vos_close(ctx, l), 0);
	/* local calls are unaffected */
	ck_assert_int_eq(vos_nop(ctx), 0);
	/* the stord writer went on: more records acknowledged after the kill */
	acked = n_before;
	while (acked < n_before + 200)
		ck_assert_int_eq(read(ack[0], &acked, sizeof(acked)), 4);
	/* restart netd: new sockets work in this same process */
	start_netd(NULL);
	tcp_pair(ctx, &l, &s2, &a2);
	ck_assert_int_eq(vos_send(ctx, s2, "again", 5, 0), 5);
	ck_assert_int_eq(vos_recv(ctx, a2, buf, 5, MSG_WAITALL), 5);
	ck_assert_int_eq(memcmp(buf, "again", 5), 0);
	vos_ctx_destroy(ctx);
	/* stop the writer; every acknowledged record is in the file */
	ck_assert_int_eq(write(stop[1], "s", 1), 1);
	while (read(ack[0], &last, sizeof(last)) == 4)
		acked = last;
	ck_assert_int_eq(waitpid(wpid, &st, 0), wpid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "stord writer: status %d", st);
	{
		int fd = open(p, O_RDONLY);
		char want[64];

		ck_assert_int_ge(fd, 0);
		for (uint32_t i = 0; i <= acked; i++) {
			ck_assert_int_eq(pread(fd, buf, sizeof(buf),
					       (off_t)i * sizeof(buf)),
					 sizeof(buf));
			snprintf(want, sizeof(want), "record %u", i);
			ck_assert_str_eq(buf, want);
		}
		close(fd);
		printf("kill_netd: stord writer acknowledged %u records, all "
		       "on disk; %u of them after netd died\n", acked + 1,
		       acked - n_before);
	}
	teardown_both();
}
END_TEST

/* What a daemon holds: open fds and resident KiB. */
struct usage {
	long fds, rss;
};

static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &v) == 1)
			break;
	if (f)
		fclose(f);
	return v;
}

/* (td_stats() returns only once the daemon has closed its end of the
 * stats connection, so no connection of ours is counted.) */
static struct usage usage_of(pid_t pid)
{
	struct usage u = { td_count_fds(pid), rss_kib(pid) };

	return u;
}

/* One client that opens files and a socket, blocks in a recv at netd, and
 * is killed there. */
static void attach_and_die(void)
{
	int up[2], st;
	char c;
	pid_t pid;

	ck_assert_int_eq(pipe(up), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct vos_ctx *ctx;
		char p[400], buf[8];
		int l, s, a;

		if (vos_ctx_create(NULL, &ctx) < 0)
			_exit(1);
		path_in(p, sizeof(p), "cycle");
		if (vos_openat(ctx, AT_FDCWD, p, O_RDWR | O_CREAT, 0600) < 0)
			_exit(2);
		tcp_pair(ctx, &l, &s, &a);
		{
			struct vos_req r;

			vos_prep_recv(&r, a, buf, sizeof(buf), 0);
			r.user_data = 1;
			if (vos_submit(ctx, &r, 1) != 1)
				_exit(4);
		}
		if (write(up[1], "u", 1) != 1)
			_exit(5);
		for (;;)
			pause(); /* killed here, mid-call */
	}
	close(up[1]);
	ck_assert_int_eq(read(up[0], &c, 1), 1);
	close(up[0]);
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
}

START_TEST(client_killed_cycles)
{
	const char *quiet[] = { "--log-level", "0", NULL };
	struct usage n0, n1, s0, s1;
	int64_t t0;

	make_work();
	write_routes();
	start_netd(quiet);
	start_stord(quiet);
	/* warm up, then take the baseline */
	for (int i = 0; i < 50; i++)
		attach_and_die();
	ck_assert(td_wait_clients(netd.sock, 0, 10000));
	ck_assert(td_wait_clients(stord.sock, 0, 10000));
	n0 = usage_of(netd.pid);
	s0 = usage_of(stord.pid);
	t0 = td_now_ms();
	for (int i = 0; i < 1000; i++)
		attach_and_die();
	ck_assert(td_wait_clients(netd.sock, 0, 20000));
	ck_assert(td_wait_clients(stord.sock, 0, 20000));
	n1 = usage_of(netd.pid);
	s1 = usage_of(stord.pid);
	printf("client_killed_cycles: 1000 clients killed mid-call in %lld ms;"
	       " netd fds %ld -> %ld, RSS %ld -> %ld KiB; stord fds %ld -> %ld,"
	       " RSS %ld -> %ld KiB\n", (long long)(td_now_ms() - t0), n0.fds,
	       n1.fds, n0.rss, n1.rss, s0.fds, s1.fds, s0.rss, s1.rss);
	ck_assert_int_le(n1.fds, n0.fds);
	ck_assert_int_le(s1.fds, s0.fds);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	/* the sanitizers keep freed memory in quarantine, so RSS says
	 * nothing here; LeakSanitizer checks the daemons at their exit */
#else
	/* allocator noise, not growth: 1000 leaked regions would be GiBs */
	ck_assert_int_le(n1.rss, n0.rss + 1024);
	ck_assert_int_le(s1.rss, s0.rss + 1024);
#endif
	teardown_both();
}
END_TEST

START_TEST(garbage_from_daemon)
{
	const char *args[] = { "--fault-inject", "garbage", "--log-level", "0",
			       NULL };
	struct vos_ctx *ctx;
	int errors = 0;

	make_work();
	write_routes();
	start_netd(args);
	start_stord(NULL);
	ctx = ctx_routed();
	for (int i = 0; i < 200; i++) {
		int64_t t0 = td_now_ms();
		int s = vos_socket(ctx, AF_INET, SOCK_STREAM, 0);

		ck_assert_int_lt(td_now_ms() - t0, 5000); /* no hang */
		if (s < 0) {
			ck_assert_msg(s == -EIO || s == -ECONNRESET,
				      "unexpected error %d", s);
			errors++;
		} else {
			vos_close(ctx, s);
		}
	}
	printf("garbage_from_daemon: %d of 200 socket calls failed cleanly\n",
	       errors);
	ck_assert_int_gt(errors, 150);
	/* the other service and local calls are fine */
	{
		char p[400];
		int fd;

		path_in(p, sizeof(p), "fine");
		fd = vos_openat(ctx, AT_FDCWD, p, O_RDWR | O_CREAT, 0600);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(vos_write(ctx, fd, "ok", 2), 2);
		ck_assert_int_eq(vos_close(ctx, fd), 0);
		ck_assert_int_eq(vos_nop(ctx), 0);
	}
	vos_ctx_destroy(ctx);
	teardown_both();
}
END_TEST

/* ---- protocol version ------------------------------------------------- */

START_TEST(version_mismatch_refused)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char m[VOS_WIRE_MSG_MAX];
	int fds[VOS__SHM_MAX_FDS];
	unsigned nfds;
	struct vos_wire_msg h = { VOS_WIRE_MAGIC, VOS_WIRE_VERSION + 1,
				  VOS_WIRE_MSG_ATTACH, 0,
				  sizeof(struct vos_wire_attach) };
	struct {
		struct vos_wire_msg h;
		struct vos_wire_attach a;
	} msg = { h, { 256, 65536, 0, 0 } };
	struct vos_wire_msg rep;
	int s, n, l, c;

	make_work();
	start_netd(NULL);
	/* a client speaking the next version: the daemon says no, in words */
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", netd.sock);
	ck_assert_int_eq(connect(s, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(send(s, &msg, sizeof(msg), 0), sizeof(msg));
	n = vos__shm_ctl_recv(s, m, sizeof(m) - 1, fds, &nfds, 5000);
	ck_assert_int_gt(n, (int)sizeof(rep));
	memcpy(&rep, m, sizeof(rep));
	m[n] = '\0';
	ck_assert_int_eq(rep.status, -EPROTO);
	ck_assert_ptr_nonnull(strstr(m + sizeof(rep), "version"));
	close(s);
	ck_assert_int_eq(td_stop(&netd), 0);
	/* a daemon speaking another version: the client says no */
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/fake.sock", work);
	l = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(l, 1), 0);
	{
		pid_t pid = fork();
		int st;

		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			struct vos_config cfg;
			struct vos_ctx *ctx = NULL;
			char o[300];

			vos_config_init(&cfg);
			snprintf(o, sizeof(o), "path=%s", sun.sun_path);
			cfg.transport = "shm";
			cfg.options = o;
			_exit(vos_ctx_create(&cfg, &ctx) == -EPROTO ? 0 : 1);
		}
		c = accept(l, NULL, NULL);
		ck_assert_int_ge(c, 0);
		ck_assert_int_gt(recv(c, m, sizeof(m), 0), 0);
		h.type = VOS_WIRE_MSG_ATTACH_REPLY;
		h.len = 0;
		ck_assert_int_eq(send(c, &h, sizeof(h), 0), sizeof(h));
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			      "client accepted a version-2 daemon");
		close(c);
	}
	close(l);
}
END_TEST

/* ---- the daemons as programs: help, config file, flags ------------------ */

/* Run a shell command; its stdout and stderr into out; its exit status. */
static int run_cmd(const char *cmd, char *out, size_t cap)
{
	char full[2100];
	size_t n;
	FILE *f;
	int st;

	snprintf(full, sizeof(full), "%s 2>&1", cmd);
	f = popen(full, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Run servers/PROG/PROG with args; its stdout+stderr into out; status. */
static int run_daemon(const char *prog, const char *const *args, char *out,
		      size_t cap)
{
	const char *top = getenv("top_builddir");
	char cmd[2048];
	size_t n = 0;

	n += (size_t)snprintf(cmd, sizeof(cmd), "%s/servers/%s/%s",
			      top ? top : ".", prog, prog);
	for (int i = 0; args[i]; i++)
		n += (size_t)snprintf(cmd + n, sizeof(cmd) - n, " '%s'", args[i]);
	return run_cmd(cmd, out, cap);
}

START_TEST(daemon_help_config_flags)
{
	const char *help[] = { "--help", NULL };
	char out[8192], conf[400], sock[400];
	FILE *f;

	make_work();
	ck_assert_int_eq(run_daemon("netd", help, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "--netns NAME"));
	ck_assert_int_eq(run_daemon("stord", help, out, sizeof(out)), 0);
	ck_assert_ptr_nonnull(strstr(out, "--root DIR"));
	/* the config file sets, flags override it */
	snprintf(conf, sizeof(conf), "%s/stord.conf", work);
	snprintf(sock, sizeof(sock), "%s/conf.sock", work);
	f = fopen(conf, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "# a comment\nroot = %s\nmax-inflight = 3\nspin-us = 7\n",
		exp_dir);
	fclose(f);
	{
		const char *a[] = { "-c", conf, NULL };
		const char *b[] = { "-c", conf, "--max-inflight", "5", NULL };

		td_start(&stord, "stord", sock, a);
		ck_assert_int_eq(td_stop(&stord), 0);
		td_start(&stord, "stord", sock, b);
		ck_assert_int_eq(td_stop(&stord), 0);
	}
	{
		char log[4096] = { 0 };
		FILE *l = fopen(stord.log, "r");

		ck_assert_ptr_nonnull(l);
		ck_assert_uint_gt(fread(log, 1, sizeof(log) - 1, l), 0);
		fclose(l);
		ck_assert_ptr_nonnull(strstr(log, "spin 7 us; per client 3 running"));
		ck_assert_ptr_nonnull(strstr(log, "spin 7 us; per client 5 running"));
		ck_assert_ptr_nonnull(strstr(log, "stopped"));
	}
	/* mistakes are named, with their line, and exit 2 */
	f = fopen(conf, "w");
	fprintf(f, "root = %s\nmax-inflight = lots\n", exp_dir);
	fclose(f);
	{
		const char *a[] = { "-c", conf, "-f", NULL };
		const char *b[] = { "--no-such-flag", "1", NULL };
		const char *c[] = { "-c", "/nonexistent.conf", NULL };

		ck_assert_int_eq(run_daemon("stord", a, out, sizeof(out)), 2);
		ck_assert_ptr_nonnull(strstr(out, "max-inflight must be a number"));
		ck_assert_ptr_nonnull(strstr(out, "stord.conf:2"));
		ck_assert_int_eq(run_daemon("netd", b, out, sizeof(out)), 2);
		ck_assert_ptr_nonnull(strstr(out, "unknown setting 'no-such-flag'"));
		ck_assert_int_eq(run_daemon("netd", c, out, sizeof(out)), 2);
		ck_assert_ptr_nonnull(strstr(out, "cannot read /nonexistent.conf"));
	}
	/* stord without a root says so */
	{
		const char *a[] = { "-c", "/dev/null", "-f", "-s", sock, NULL };

		ck_assert_int_eq(run_daemon("stord", a, out, sizeof(out)), 1);
		ck_assert_ptr_nonnull(strstr(out, "no export root"));
	}
}
END_TEST

/* SIGTERM right after a client leaves: the stop must not be lost while a
 * worker tears the client down (it once slept through its stop kick and
 * hung in pthread_join).  Workers that never spin make the window wide. */
START_TEST(stop_right_after_detach)
{
	const char *args[] = { "--spin-us", "0", "--log-level", "0", NULL };
	int64_t worst = 0;

	make_work();
	write_routes();
	for (int i = 0; i < 30; i++) {
		struct vos_config cfg;
		struct vos_ctx *ctx;
		int64_t t0;

		start_netd(args);
		vos_config_init(&cfg);
		cfg.spin_ns = 0;
		ck_assert_int_eq(vos_ctx_create(&cfg, &ctx), 0);
		for (int k = 0; k < 20; k++) {
			int s = vos_socket(ctx, AF_INET, SOCK_STREAM, 0);

			ck_assert_int_ge(s, 0);
			ck_assert_int_eq(vos_fcntl(ctx, s, F_GETFL, 0) & O_ACCMODE,
					 O_RDWR);
			ck_assert_int_eq(vos_close(ctx, s), 0);
		}
		vos_ctx_destroy(ctx);
		t0 = td_now_ms();
		ck_assert_int_eq(td_stop(&netd), 0);
		if (td_now_ms() - t0 > worst)
			worst = td_now_ms() - t0;
	}
	printf("stop_right_after_detach: 30 stops, the slowest took %lld ms\n",
	       (long long)worst);
}
END_TEST

/* fork: the child attaches afresh (no fd-table clone in version 1): its
 * copies of the parent's service fds fail with -EIO, new ones work, and
 * the parent's attachment is untouched. */
START_TEST(fork_child_attaches_afresh)
{
	struct vos_ctx *ctx;
	int l, s, a, st;
	char buf[8];
	pid_t pid;

	setup_both();
	ctx = ctx_routed();
	tcp_pair(ctx, &l, &s, &a);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int ok = vos_after_fork(ctx) == 0;
		int l2, s2, a2;

		ok &= vos_send(ctx, s, "x", 1, 0) == -EIO;
		ok &= vos_close(ctx, s) == 0;
		tcp_pair(ctx, &l2, &s2, &a2);
		ok &= vos_send(ctx, s2, "kid", 3, 0) == 3;
		ok &= vos_recv(ctx, a2, buf, 3, MSG_WAITALL) == 3;
		vos_ctx_destroy(ctx);
		_exit(ok ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: %d", st);
	/* the parent's sockets still work */
	ck_assert_int_eq(vos_send(ctx, s, "mom", 3, 0), 3);
	ck_assert_int_eq(vos_recv(ctx, a, buf, 3, MSG_WAITALL), 3);
	ck_assert_int_eq(memcmp(buf, "mom", 3), 0);
	vos_ctx_destroy(ctx);
	teardown_both();
}
END_TEST

/* Requests stord has done so far (its STATS report). */
static long stord_done(void)
{
	char st[4096];

	ck_assert_int_eq(td_stats(stord.sock, st, sizeof(st)), 0);
	return td_stat(st, "done");
}

/* vos_buf_alloc: a buffer stord shares is read and written in place, one
 * request for 1 MiB (an ordinary buffer goes through the 64 KiB slot in
 * 16 pieces); the bytes are the file's; the buffers outlive a restart of
 * stord and are shared again with the new one; a forked child's are its
 * own; a refused area still works, through the slots. */
START_TEST(zero_copy_buffers_through_stord)
{
	enum { MB = 1 << 20 };
	struct vos_ctx *ctx;
	char p[400];
	uint8_t *a, *b, *plain, *odd;
	long d0;
	int fd, kfd, st;
	pid_t pid;

	setup_both();
	ctx = ctx_routed();
	path_in(p, sizeof(p), "zc");
	fd = vos_openat(ctx, AT_FDCWD, p, O_RDWR | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vos_buf_alloc(ctx, fd, 0, (void **)&a), -EINVAL);
	ck_assert_int_eq(vos_buf_alloc(ctx, fd, MB, NULL), -EINVAL);
	ck_assert_int_eq(vos_buf_alloc(ctx, fd, MB, (void **)&a), 0);
	ck_assert_int_eq(vos_buf_alloc(ctx, fd, MB, (void **)&b), 0);
	ck_assert_int_eq((uintptr_t)a % 4096, 0);
	for (int i = 0; i < MB; i++)
		a[i] = (uint8_t)(i * 7 + i / 4096);
	/* one request each way */
	d0 = stord_done();
	ck_assert_int_eq(vos_pwrite(ctx, fd, a, MB, 0), MB);
	ck_assert_int_eq(stord_done(), d0 + 1);
	memset(b, 0, MB);
	ck_assert_int_eq(vos_pread(ctx, fd, b, MB, 0), MB);
	ck_assert_int_eq(stord_done(), d0 + 2);
	ck_assert_int_eq(memcmp(a, b, MB), 0);
	/* the file has the bytes */
	kfd = open(p, O_RDONLY);
	ck_assert_int_ge(kfd, 0);
	plain = malloc(MB);
	ck_assert_ptr_nonnull(plain);
	ck_assert_int_eq(pread(kfd, plain, MB, 0), MB);
	ck_assert_int_eq(memcmp(plain, a, MB), 0);
	/* an ordinary buffer: through the slot, in pieces, same result */
	d0 = stord_done();
	ck_assert_int_eq(vos_pread(ctx, fd, plain, MB, 0), MB);
	ck_assert_int_eq(memcmp(plain, a, MB), 0);
	ck_assert_int_eq(stord_done(), d0 + 16);
	/* a part of a buffer, at an odd address, and a short read at the
	 * end of the file */
	odd = a + 100;
	memcpy(odd, "zero copy", 9);
	ck_assert_int_eq(vos_pwrite(ctx, fd, odd, 9, MB - 4), 9);
	ck_assert_int_eq(vos_pread(ctx, fd, b + 3, 4096, MB), 5);
	ck_assert_int_eq(memcmp(b + 3, " copy", 5), 0);
	ck_assert_int_eq(pread(kfd, plain, 9, MB - 4), 9);
	ck_assert_int_eq(memcmp(plain, "zero copy", 9), 0);
	/* freeing: once; not what was never given */
	ck_assert_int_eq(vos_buf_free(ctx, a), 0);
	ck_assert_int_eq(vos_buf_free(ctx, a), -EINVAL);
	ck_assert_int_eq(vos_buf_free(ctx, b + 4096), -EINVAL);
	ck_assert_int_eq(vos_buf_free(ctx, plain), -EINVAL);
	ck_assert_int_eq(vos_buf_alloc(ctx, fd, MB, (void **)&a), 0);
	/* a forked child's buffers are its own from fork() on, before
	 * vos_after_fork() (its stores never reach the parent's) */
	memset(b, 'p', 4096);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int ok;

		memset(b, 'c', 4096);
		ok = vos_after_fork(ctx) == 0;
		ok &= b[0] == 'c' && b[4095] == 'c';
		_exit(ok ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: %d", st);
	ck_assert_int_eq(b[0], 'p');
	/* stord restarts: the buffers are still there, and shared again
	 * with the new stord once the context attaches to it */
	td_kill(&stord);
	start_stord(NULL);
	ck_assert_int_eq(b[0], 'p');
	ck_assert_int_eq(vos_pread(ctx, fd, b, 16, 0), -EIO); /* old fd */
	vos_close(ctx, fd);
	fd = vos_openat(ctx, AT_FDCWD, p, O_RDWR, 0);
	ck_assert_int_ge(fd, 0);
	d0 = stord_done();
	ck_assert_int_eq(vos_pread(ctx, fd, b, MB, 0), MB);
	ck_assert_int_eq(stord_done(), d0 + 1);
	ck_assert_int_eq(pread(kfd, plain, MB, 0), MB);
	ck_assert_int_eq(memcmp(b, plain, MB), 0);
	ck_assert_int_eq(vos_close(ctx, fd), 0);
	vos_ctx_destroy(ctx);
	td_kill(&stord);
	/* a stord that shares no buffers: they work, through the slots */
	{
		const char *none[] = { "--max-grow-mib", "0", NULL };

		start_stord(none);
	}
	ctx = ctx_routed();
	fd = vos_openat(ctx, AT_FDCWD, p, O_RDWR, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(vos_buf_alloc(ctx, fd, MB, (void **)&a), 0);
	d0 = stord_done();
	ck_assert_int_eq(vos_pread(ctx, fd, a, MB, 0), MB);
	ck_assert_int_eq(stord_done(), d0 + 16);
	ck_assert_int_eq(memcmp(a, plain, MB), 0);
	ck_assert_int_eq(vos_buf_free(ctx, a), 0);
	ck_assert_int_eq(vos_close(ctx, fd), 0);
	vos_ctx_destroy(ctx);
	close(kfd);
	free(plain);
	teardown_both();
}
END_TEST

/* The same through netd: a 1 MiB send from a shared buffer and a
 * MSG_WAITALL recv into one, on a TCP connection. */
START_TEST(zero_copy_buffers_through_netd)
{
	enum { MB = 1 << 20 };
	struct vos_ctx *ctx;
	uint8_t *a, *b;
	int l, s, c;

	setup_both();
	ctx = ctx_routed();
	tcp_pair(ctx, &l, &s, &c);
	ck_assert_int_eq(vos_buf_alloc(ctx, s, MB, (void **)&a), 0);
	ck_assert_int_eq(vos_buf_alloc(ctx, c, MB, (void **)&b), 0);
	for (int i = 0; i < MB; i++)
		a[i] = (uint8_t)(i * 13 + 1);
	{
		struct vos_req r[2];
		struct vos_cqe e[2];
		int got = 0;

		vos_prep_send(&r[0], s, a, MB, 0);
		r[0].user_data = 1;
		vos_prep_recv(&r[1], c, b, MB, MSG_WAITALL);
		r[1].user_data = 2;
		ck_assert_int_eq(vos_submit(ctx, r, 2), 2);
		while (got < 2) {
			int n = vos_wait(ctx, e, 2, 1, 10LL * 1000000000);

			ck_assert_int_gt(n, 0);
			for (int i = 0; i < n; i++)
				ck_assert_int_eq(e[i].res, MB);
			got += n;
		}
	}
	ck_assert_int_eq(memcmp(a, b, MB), 0);
	vos_close(ctx, s);
	vos_close(ctx, c);
	vos_close(ctx, l);
	vos_ctx_destroy(ctx);
	teardown_both();
}
END_TEST

/* Run vosctl with args (VOS_ROUTES is ours); output into out; status. */
static int run_vosctl(const char *args, char *out, size_t cap)
{
	const char *top = getenv("top_builddir");
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "%s/servers/vosctl/vosctl %s",
		 top ? top : ".", args);
	return run_cmd(cmd, out, cap);
}

START_TEST(vosctl_list_and_clear)
{
	struct vos_ctx *ctx;
	char out[8192];
	int s;

	setup_both();
	ctx = ctx_routed();
	s = vos_socket(ctx, AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(s, 0);
	/* both up; this process attached to netd with nothing in flight */
	ck_assert_int_eq(run_vosctl("list", out, sizeof(out)), 0);
	ck_assert_msg(strstr(out, "netd       up") && strstr(out, "stord      up"),
		      "%s", out);
	{
		char pid[64];

		snprintf(pid, sizeof(pid), "client 1 pid %d ", (int)getpid());
		ck_assert_msg(strstr(out, pid), "%s", out);
	}
	/* clear refuses a running service */
	ck_assert_int_eq(run_vosctl("clear netd", out, sizeof(out)), 1);
	ck_assert_ptr_nonnull(strstr(out, "is running"));
	/* netd dies: list says so (exit 1), clear removes its socket */
	td_kill(&netd);
	ck_assert_int_eq(run_vosctl("list", out, sizeof(out)), 1);
	ck_assert_msg(strstr(out, "netd       down"), "%s", out);
	ck_assert_int_eq(access(netd.sock, F_OK), 0); /* left behind */
	ck_assert_int_eq(run_vosctl("clear netd", out, sizeof(out)), 0);
	ck_assert_int_eq(access(netd.sock, F_OK), -1);
	/* and the program gets failures, not a hang: the first call finds
	 * the service dead (-ECONNRESET, a socket call), the next one cannot
	 * attach (-EIO) */
	s = vos_socket(ctx, AF_INET, SOCK_STREAM, 0);
	ck_assert_msg(s == -ECONNRESET || s == -EIO, "%d", s);
	ck_assert_int_eq(vos_socket(ctx, AF_INET, SOCK_STREAM, 0), -EIO);
	ck_assert_int_eq(run_vosctl("stats /nonexistent.sock", out, sizeof(out)),
			 1);
	ck_assert_int_eq(run_vosctl("--bogus", out, sizeof(out)), 2);
	vos_ctx_destroy(ctx);
	ck_assert_int_eq(td_stop(&stord), 0);
}
END_TEST

/* ---- waiting on two services at once ---------------------------------- */

/* With calls in flight at netd and at stord, a wait blocks in one ppoll
 * over both services' doorbells: it neither wakes up in time slices nor
 * misses the completion that comes from either. */
START_TEST(router_waits_in_one_poll)
{
	struct vos_ctx *ctx;
	struct vos_req r[2];
	struct vos_cqe c;
	struct rusage before, after;
	char fifo[400], buf[8], nb[8];
	int l, s, a, ffd, wfd;
	long switches;
	int64_t t0, dt;

	setup_both();
	ctx = ctx_routed();
	tcp_pair(ctx, &l, &s, &a);
	path_in(fifo, sizeof(fifo), "fifo");
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	wfd = open(fifo, O_RDWR | O_CLOEXEC); /* keeps the open below quick */
	ck_assert_int_ge(wfd, 0);
	ffd = vos_openat(ctx, AT_FDCWD, fifo, O_RDONLY, 0);
	ck_assert_int_ge(ffd, 0);
	/* a recv at netd and a read at stord, neither with data */
	vos_prep_recv(&r[0], a, buf, sizeof(buf), 0);
	r[0].user_data = 1;
	vos_prep_read(&r[1], ffd, nb, sizeof(nb));
	r[1].user_data = 2;
	ck_assert_int_eq(vos_submit(ctx, r, 2), 2);
	getrusage(RUSAGE_THREAD, &before);
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 500000000), -ETIME);
	getrusage(RUSAGE_THREAD, &after);
	switches = after.ru_nvcsw - before.ru_nvcsw;
	/* slices of 50 us growing to 2 ms would make hundreds */
	ck_assert_msg(switches < 20, "%ld voluntary switches in a 500 ms wait",
		      switches);
	/* data at stord's end: its completion wakes the wait at once */
	t0 = td_now_ms();
	ck_assert_int_eq(write(wfd, "S", 1), 1);
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 5000000000LL), 1);
	dt = td_now_ms() - t0;
	ck_assert_int_eq(c.user_data, 2);
	ck_assert_int_eq(c.res, 1);
	/* and then netd's */
	ck_assert_int_eq(vos_send(ctx, s, "N", 1, 0), 1);
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 5000000000LL), 1);
	ck_assert_int_eq(c.user_data, 1);
	ck_assert_int_eq(c.res, 1);
	printf("waiting on netd and stord: %ld voluntary switches in 500 ms; "
	       "stord's completion after %lld ms\n", switches, (long long)dt);
	close(wfd);
	vos_close(ctx, ffd);
	vos_ctx_destroy(ctx);
	teardown_both();
}
END_TEST

/* n NOPs through ctx: the slowest round trip, in ms (each under 1 s). */
static int64_t worst_nop_ms(struct vos_ctx *ctx, int n)
{
	int64_t worst = 0;

	for (int i = 0; i < n; i++) {
		int64_t t = td_now_ms(), dt;

		ck_assert_int_eq(vos_nop(ctx), 0);
		dt = td_now_ms() - t;
		worst = dt > worst ? dt : worst;
	}
	ck_assert_msg(worst < 1000, "a round trip took %lld ms",
		      (long long)worst);
	return worst;
}

/* A socket closed with SO_LINGER set and data its peer will not take:
 * close(2) would wait for the linger time.  It must not wait on a worker
 * that serves other clients. */
START_TEST(linger_close_does_not_block_worker)
{
	const char *one_worker[] = { "--workers", "1", NULL };
	struct vos_ctx *a, *b;
	struct sockaddr_in sin;
	struct linger lg = { 1, 30 };
	static char junk[65536];
	int l, s, peer, n;
	int64_t t0, worst;

	make_work();
	write_routes();
	start_netd(one_worker);
	a = ctx_routed();
	b = ctx_routed();
	/* the peer is a plain socket of this process that never reads */
	l = listener(a, &sin);
	s = vos_socket(a, AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(s, 0);
	ck_assert_int_eq(vos_connect(a, s, (struct sockaddr *)&sin,
				     sizeof(sin)), 0);
	peer = vos_accept(a, l, NULL, NULL, 0);
	ck_assert_int_ge(peer, 0);
	/* fill both buffers: the rest of what it sends cannot be acked */
	do
		n = (int)vos_send(a, s, junk, sizeof(junk), MSG_DONTWAIT);
	while (n > 0);
	ck_assert_int_eq(n, -EAGAIN);
	ck_assert_int_eq(vos_setsockopt(a, s, SOL_SOCKET, SO_LINGER, &lg,
					sizeof(lg)), 0);
	t0 = td_now_ms();
	ck_assert_int_eq(vos_close(a, s), 0);
	ck_assert_msg(td_now_ms() - t0 < 1000, "close took %lld ms",
		      (long long)(td_now_ms() - t0));
	/* the one worker keeps serving the other client */
	worst = worst_nop_ms(b, 200);
	printf("close with SO_LINGER 30 s and unsent data: returned at once; "
	       "the other client's slowest round trip %lld ms\n",
	       (long long)worst);
	vos_close(a, peer);
	vos_close(a, l);
	vos_ctx_destroy(a);
	vos_ctx_destroy(b);
	ck_assert_int_eq(td_stop(&netd), 0);
}
END_TEST

/* O_NONBLOCK belongs to the open file description: cleared through a dup,
 * it is cleared for the original too.  The daemon's engine must not go on
 * treating the original as non-blocking (a recv on it would then block a
 * worker that serves other clients). */
START_TEST(nonblock_cleared_through_a_dup)
{
	const char *one_worker[] = { "--workers", "1", NULL };
	struct vos_ctx *a, *b;
	struct vos_req r;
	struct vos_cqe c;
	char buf[8];
	int l, s, peer, d;
	int64_t worst;

	make_work();
	write_routes();
	start_netd(one_worker);
	a = ctx_routed();
	b = ctx_routed();
	tcp_pair(a, &l, &s, &peer);
	ck_assert_int_eq(vos_fcntl(a, s, F_SETFL, O_NONBLOCK), 0);
	ck_assert_int_eq(vos_recv(a, s, buf, sizeof(buf), 0), -EAGAIN);
	d = vos_fcntl(a, s, F_DUPFD, 0);
	ck_assert_int_ge(d, 0);
	ck_assert_int_eq(vos_fcntl(a, d, F_SETFL, 0), 0); /* both blocking */
	ck_assert_int_eq(vos_fcntl(a, s, F_GETFL, 0) & O_NONBLOCK, 0);
	/* a recv on the original now waits for data, as recv(2) would */
	vos_prep_recv(&r, s, buf, sizeof(buf), 0);
	r.user_data = 7;
	ck_assert_int_eq(vos_submit(a, &r, 1), 1);
	ck_assert_int_eq(vos_wait(a, &c, 1, 1, 200000000), -ETIME);
	/* and the one worker serves the other client meanwhile */
	worst = worst_nop_ms(b, 200);
	ck_assert_int_eq(vos_send(a, peer, "x", 1, 0), 1);
	ck_assert_int_eq(vos_wait(a, &c, 1, 1, 5000000000LL), 1);
	ck_assert_int_eq(c.res, 1);
	printf("O_NONBLOCK cleared through a dup: the recv on the original "
	       "waited for data; the other client's slowest round trip %lld "
	       "ms\n", (long long)worst);
	vos_ctx_destroy(a);
	vos_ctx_destroy(b);
	ck_assert_int_eq(td_stop(&netd), 0);
}
END_TEST

/* A deadline on one call to a live service: the call is cancelled and
 * says -ETIMEDOUT; the service answered the cancel, so it is not given up:
 * the program's other calls and fds there go on. */
START_TEST(deadline_on_a_live_service)
{
	struct vos_ctx *ctx;
	struct vos_req r;
	struct vos_cqe c;
	char buf[8];
	int l, s, a;
	int64_t t0, dt;

	setup_both();
	ctx = ctx_routed();
	tcp_pair(ctx, &l, &s, &a);
	vos_prep_recv(&r, a, buf, sizeof(buf), 0);
	r.user_data = 9;
	r.deadline_ms = 100;
	t0 = td_now_ms();
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 5000000000LL), 1);
	dt = td_now_ms() - t0;
	ck_assert_int_eq(c.user_data, 9);
	ck_assert_int_eq(c.res, -ETIMEDOUT);
	ck_assert_msg(dt >= 95 && dt < 1000, "took %lld ms", (long long)dt);
	/* the same fds still work: netd was not given up */
	ck_assert_int_eq(vos_send(ctx, s, "hi", 2, 0), 2);
	ck_assert_int_eq(vos_recv(ctx, a, buf, 2, MSG_WAITALL), 2);
	ck_assert_int_eq(memcmp(buf, "hi", 2), 0);
	/* a call that finishes in time is not touched by its deadline */
	vos_prep_nop(&r);
	r.deadline_ms = 1000;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 5000000000LL), 1);
	ck_assert_int_eq(c.res, 0);
	printf("deadline 100 ms on a recv at a live netd: -ETIMEDOUT after "
	       "%lld ms, the service kept\n", (long long)dt);
	vos_ctx_destroy(ctx);
	teardown_both();
}
END_TEST

/* Confinement is to the export root, not to the directory fd: from a
 * stord fd of a subdirectory, ".." and paths through it reach what the
 * kernel reaches, inside the export; an absolute path goes by its name
 * whatever the dirfd; a rename from a closed dirfd is -EBADF.  Each call
 * is compared with the same call on a twin tree. */
START_TEST(stord_root_not_dirfd)
{
	struct vos_ctx *ctx;
	char nat[400], p[600], q[600];
	struct statx a, b;
	int nb, sb, closed, r1, r2;

	setup_both();
	ctx = ctx_routed();
	snprintf(nat, sizeof(nat), "%s/native", work);
	ck_assert_int_eq(mkdir(nat, 0755), 0);
	for (int t = 0; t < 2; t++) {
		const char *top = t ? exp_dir : nat;

		put_dir(top, "a", 0755);
		put_dir(top, "a/b", 0755);
		put_file(top, "a/f", "abc", 3, 0644);
		put_file(top, "top", "", 0, 0644);
	}
	snprintf(p, sizeof(p), "%s/a/b", nat);
	nb = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(p, sizeof(p), "%s/a/b", exp_dir);
	sb = vos_openat(ctx, AT_FDCWD, p, O_RDONLY | O_DIRECTORY, 0);
	ck_assert_int_ge(nb, 0);
	ck_assert_int_ge(sb, 0);
	closed = dup(nb);
	close(closed);
#define SAME(call_native, call_vos)                                        \
	do {                                                                \
		r1 = (call_native);                                         \
		if (r1 < 0)                                                 \
			r1 = -errno;                                        \
		r2 = (call_vos);                                            \
		ck_assert_msg((r1 < 0 ? r1 : 0) == (r2 < 0 ? r2 : 0),       \
			      "%s: kernel %d, stord %d", #call_vos, r1, r2); \
		if (r1 >= 0 && r2 >= 0 &&                                   \
		    strstr(#call_vos, "openat("))                           \
			close(r1), vos_close(ctx, r2);                      \
	} while (0)
	SAME(statx(nb, "../f", 0, STATX_SIZE, &a),
	     vos_statx(ctx, sb, "../f", 0, STATX_SIZE, &b));
	ck_assert_uint_eq(a.stx_size, b.stx_size);
	SAME(statx(nb, "../../top", 0, STATX_SIZE, &a),
	     vos_statx(ctx, sb, "../../top", 0, STATX_SIZE, &b));
	SAME(openat(nb, "../f", O_RDONLY), vos_openat(ctx, sb, "../f",
						      O_RDONLY, 0));
	SAME(openat(nb, "../b/../f", O_RDONLY),
	     vos_openat(ctx, sb, "../b/../f", O_RDONLY, 0));
	SAME(openat(nb, "../nope", O_RDONLY),
	     vos_openat(ctx, sb, "../nope", O_RDONLY, 0));
	SAME(mkdirat(nb, "../m", 0755), vos_mkdirat(ctx, sb, "../m", 0755));
	SAME(renameat(nb, "../m", nb, "../../m2"),
	     vos_renameat(ctx, sb, "../m", sb, "../../m2", 0));
	SAME(unlinkat(nb, "../../m2", AT_REMOVEDIR),
	     vos_unlinkat(ctx, sb, "../../m2", AT_REMOVEDIR));
	SAME(unlinkat(nb, "../../top", 0),
	     vos_unlinkat(ctx, sb, "../../top", 0));
	/* an absolute path: the dirfd does not matter, not even a closed one */
	snprintf(p, sizeof(p), "%s/a/f", nat);
	snprintf(q, sizeof(q), "%s/a/f", exp_dir);
	SAME(openat(nb, p, O_RDONLY), vos_openat(ctx, sb, q, O_RDONLY, 0));
	SAME(openat(closed, p, O_RDONLY),
	     vos_openat(ctx, closed, q, O_RDONLY, 0));
	SAME(statx(closed, p, 0, STATX_SIZE, &a),
	     vos_statx(ctx, closed, q, 0, STATX_SIZE, &b));
	/* a relative path from a closed dirfd is -EBADF, also in a rename
	 * whose other end is stord's */
	SAME(renameat(closed, "x", nb, "y"),
	     vos_renameat(ctx, closed, "x", sb, "y", 0));
	ck_assert_int_eq(r1, -EBADF);
	SAME(renameat(nb, "../f", closed, "y"),
	     vos_renameat(ctx, sb, "../f", closed, "y", 0));
	/* the trees are the same */
	{
		char t1[8192], t2[8192];

		tree_of(nat, t1, sizeof(t1));
		tree_of(exp_dir, t2, sizeof(t2));
		ck_assert_str_eq(t1, t2);
	}
#undef SAME
	close(nb);
	ck_assert_int_eq(vos_close(ctx, sb), 0);
	vos_ctx_destroy(ctx);
	teardown_both();
}
END_TEST

/* ---- bad buffers: -EFAULT, as the kernel says ---------------------------- */

static void on_segv_exit42(int sig)
{
	(void)sig;
	_exit(42);
}

/* A child that faults on its own after the library's handler is in
 * place: it dies as it would without us (default action), or reaches the
 * handler it had installed before (exit 42). */
static int fault_after_guard(bool own_handler, void *hole, const char *path)
{
	struct vos_ctx *ctx;
	char b[4];
	pid_t pid = fork();
	int st, fd;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (own_handler)
			signal(SIGSEGV, on_segv_exit42);
		if (vos_ctx_create(NULL, &ctx))
			_exit(3);
		fd = vos_openat(ctx, AT_FDCWD, path, O_RDONLY, 0);
		/* a guarded copy that faults: the library answers it */
		if (vos_pread(ctx, fd, hole, 4, 0) != -EFAULT ||
		    vos_pread(ctx, fd, b, 4, 0) != 4)
			_exit(4);
		*(volatile char *)hole = 1; /* the program's own fault */
		_exit(5);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return st;
}

START_TEST(bad_buffers_fail_with_efault)
{
	struct vos_ctx *ctx;
	char nat[400], b[16], *ro, *hole;
	char *wild = (char *)(uintptr_t)0xdead000000000000ull; /* non-canonical */
	struct iovec nulliov[1] = { { NULL, 4 } }, holeiov[1];
	struct statx stx;
	struct vos_req r[3];
	struct vos_cqe c[3];
	struct sockaddr_in sin;
	socklen_t sl;
	struct msghdr *holemsg;
	int nd, sd, nf, sf, l, s, a, st;

	setup_both();
	ctx = ctx_routed();
	ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* inaccessible, and kept so (an unmapped hole could be mapped again
	 * by the library meanwhile) */
	hole = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(ro, MAP_FAILED);
	ck_assert_ptr_ne(hole, MAP_FAILED);
	holeiov[0].iov_base = hole;
	holeiov[0].iov_len = 4;
	holemsg = (struct msghdr *)(void *)hole;
	twin_dirs(ctx, nat, sizeof(nat), &nd, &sd);
	nf = openat(nd, "f", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	sf = vos_openat(ctx, sd, "f", O_RDWR | O_CREAT, 0644);
	ck_assert_int_ge(nf, 0);
	ck_assert_int_ge(sf, 0);
	ck_assert_int_eq(write(nf, "0123456789", 10), 10);
	ck_assert_int_eq(vos_write(ctx, sf, "0123456789", 10), 10);
	ck_assert_int_eq(lseek(nf, 0, SEEK_SET), 0);
	ck_assert_int_eq(vos_close(ctx, sf), 0);
	sf = vos_openat(ctx, sd, "f", O_RDWR, 0);
	ck_assert_int_ge(sf, 0);
#define EFAULT_BOTH(call_native, call_vos)                                 \
	do {                                                                \
		long rn_ = (long)(call_native), rv_;                        \
		if (rn_ < 0)                                                \
			rn_ = -errno;                                       \
		rv_ = (long)(call_vos);                                     \
		ck_assert_msg(rn_ == -EFAULT && rv_ == -EFAULT,             \
			      "%s: kernel %ld, stord %ld", #call_vos, rn_,  \
			      rv_);                                         \
	} while (0)
	/* reads into memory that cannot be written: nothing is consumed;
	 * and the thread's floating-point state (rounding mode) is as it
	 * was, as after the kernel's -EFAULT */
	ck_assert_int_eq(fesetround(FE_TOWARDZERO), 0);
	EFAULT_BOTH(read(nf, ro, 4), vos_read(ctx, sf, ro, 4));
	ck_assert_int_eq(fegetround(), FE_TOWARDZERO);
	ck_assert_int_eq(fesetround(FE_TONEAREST), 0);
	EFAULT_BOTH(read(nf, hole, 4), vos_read(ctx, sf, hole, 4));
	EFAULT_BOTH(read(nf, wild, 4), vos_read(ctx, sf, wild, 4));
	EFAULT_BOTH(readv(nf, nulliov, 1), vos_readv(ctx, sf, nulliov, 1, -1));
	EFAULT_BOTH(readv(nf, holeiov, 1), vos_readv(ctx, sf, holeiov, 1, -1));
	EFAULT_BOTH(readv(nf, (struct iovec *)(void *)hole, 1),
		    vos_readv(ctx, sf, (struct iovec *)(void *)hole, 1, -1));
	memset(b, 0, sizeof(b));
	ck_assert_int_eq(vos_read(ctx, sf, b, 4), 4); /* the position held */
	ck_assert_str_eq(b, "0123");
	/* writes from memory that cannot be read: nothing is written */
	EFAULT_BOTH(pwrite(nf, hole, 4, 0), vos_pwrite(ctx, sf, hole, 4, 0));
	EFAULT_BOTH(pwrite(nf, wild, 4, 0), vos_pwrite(ctx, sf, wild, 4, 0));
	EFAULT_BOTH(pwritev(nf, nulliov, 1, 0),
		    vos_writev(ctx, sf, nulliov, 1, 0));
	EFAULT_BOTH(pwritev(nf, holeiov, 1, 0),
		    vos_writev(ctx, sf, holeiov, 1, 0));
	ck_assert_int_eq(vos_pread(ctx, sf, b, 10, 0), 10);
	ck_assert_int_eq(memcmp(b, "0123456789", 10), 0);
	/* names and results */
	EFAULT_BOTH(openat(nd, hole, O_RDONLY), vos_openat(ctx, sd, hole,
							   O_RDONLY, 0));
	EFAULT_BOTH(openat(AT_FDCWD, hole, O_RDONLY),
		    vos_openat(ctx, AT_FDCWD, hole, O_RDONLY, 0));
	EFAULT_BOTH(statx(nf, "", AT_EMPTY_PATH, STATX_SIZE,
			  (struct statx *)(void *)ro),
		    vos_statx(ctx, sf, "", AT_EMPTY_PATH, STATX_SIZE,
			      (struct statx *)(void *)ro));
	EFAULT_BOTH(statx(nd, hole, 0, STATX_SIZE, &stx),
		    vos_statx(ctx, sd, hole, 0, STATX_SIZE, &stx));
	/* a batch: the bad request fails alone */
	vos_prep_pread(&r[0], sf, b, 2, 0);
	vos_prep_pread(&r[1], sf, hole, 2, 0);
	vos_prep_pwrite(&r[2], sf, "ab", 2, 10);
	for (int i = 0; i < 3; i++)
		r[i].user_data = (uint64_t)i;
	ck_assert_int_eq(vos_submit(ctx, r, 3), 3);
	for (int got = 0; got < 3;) {
		int n = vos_wait(ctx, c + got, 3 - got, 1, 5000000000LL);

		ck_assert_int_gt(n, 0);
		got += n;
	}
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(c[i].res, c[i].user_data == 1 ? -EFAULT : 2);
	/* sockets through netd */
	tcp_pair(ctx, &l, &s, &a);
	ck_assert_int_eq(vos_send(ctx, s, hole, 4, 0), -EFAULT);
	ck_assert_int_eq(vos_send(ctx, s, "data", 4, 0), 4);
	ck_assert_int_eq(vos_recv(ctx, a, ro, 4, 0), -EFAULT);
	ck_assert_int_eq(vos_recv(ctx, a, hole, 4, 0), -EFAULT);
	ck_assert_int_eq(vos_recv(ctx, a, b, 4, MSG_WAITALL), 4); /* kept */
	ck_assert_int_eq(memcmp(b, "data", 4), 0);
	ck_assert_int_eq(vos_sendmsg(ctx, s, holemsg, 0), -EFAULT);
	sl = sizeof(sin);
	ck_assert_int_eq(vos_getsockname(ctx, s, (struct sockaddr *)hole, &sl),
			 -EFAULT);
	ck_assert_int_eq(vos_getsockname(ctx, s, (struct sockaddr *)&sin,
					 (socklen_t *)(void *)ro), -EFAULT);
	vos_close(ctx, a);
	vos_close(ctx, s);
	vos_close(ctx, l);
	/* the program's own faults are still its own */
	path_in(nat, sizeof(nat), "f");
	st = fault_after_guard(false, hole, nat);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	/* the sanitizer's handler was there before ours: it reports the
	 * fault and exits (1 under ASan, 66 under TSan) */
	ck_assert_msg(WIFEXITED(st) && (WEXITSTATUS(st) == 1 ||
					WEXITSTATUS(st) == 66), "%#x", st);
#else
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "%#x", st);
#endif
	st = fault_after_guard(true, hole, nat);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 42, "%#x", st);
#undef EFAULT_BOTH
	vos_close(ctx, sf);
	vos_close(ctx, sd);
	close(nf);
	close(nd);
	munmap(ro, 4096);
	munmap(hole, 4096);
	vos_ctx_destroy(ctx);
	teardown_both();
}
END_TEST

/* Record locks through stord belong to stord's open file description of
 * the fd (doc/semantics.md): two fds of one file opened by one program
 * conflict (natively they would not), F_GETLK names no process (l_pid
 * -1), closing the fd or the client's death lets the lock go, a process
 * beside stord sees it; and a client waiting for a lock neither holds a
 * worker (another client's calls run) nor keeps stord from stopping. */
START_TEST(stord_locks_belong_to_the_fd)
{
	struct vos_ctx *ctx, *other;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char path[400];
	int a, b, n, go[2], st;
	struct vos_req r;
	struct vos_cqe c;
	pid_t kid;
	int64_t t0;

	setup_both();
	ctx = ctx_routed();
	path_in(path, sizeof(path), "locked");
	a = vos_openat(ctx, AT_FDCWD, path, O_RDWR | O_CREAT, 0600);
	b = vos_openat(ctx, AT_FDCWD, path, O_RDWR, 0);
	n = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(a, 0);
	ck_assert_int_ge(b, 0);
	ck_assert_int_ge(n, 0);
	ck_assert_int_eq(vos_fcntl(ctx, a, F_SETLK, (long)&fl), 0);
	ck_assert_int_eq(vos_fcntl(ctx, b, F_SETLK, (long)&fl), -EAGAIN);
	ck_assert_int_eq(vos_fcntl(ctx, b, F_GETLK, (long)&fl), 0);
	ck_assert_int_eq(fl.l_type, F_WRLCK);
	ck_assert_int_eq(fl.l_pid, -1);
	fl.l_type = F_RDLCK;
	ck_assert_int_eq(fcntl(n, F_SETLK, &fl), -1);
	ck_assert_int_eq(errno, EAGAIN);
	/* closing the fd that holds it lets it go */
	ck_assert_int_eq(vos_close(ctx, a), 0);
	ck_assert_int_eq(fcntl(n, F_SETLK, &fl), 0);
	fl.l_type = F_UNLCK;
	ck_assert_int_eq(fcntl(n, F_SETLK, &fl), 0);

	/* a client that dies holding it: stord closes its fds */
	ck_assert_int_eq(pipe2(go, O_CLOEXEC), 0);
	kid = fork();
	ck_assert_int_ge(kid, 0);
	if (kid == 0) {
		struct vos_ctx *k = NULL;
		struct flock w = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		int f;

		if (vos_ctx_create(NULL, &k) < 0)
			_exit(1);
		f = vos_openat(k, AT_FDCWD, path, O_RDWR, 0);
		if (f < 0 || vos_fcntl(k, f, F_SETLK, (long)&w) < 0)
			_exit(2);
		if (write(go[1], "L", 1) != 1)
			_exit(3);
		_exit(0); /* no close, no detach */
	}
	close(go[1]);
	{
		char ch = 0;

		ck_assert_int_eq(read(go[0], &ch, 1), 1);
		ck_assert_int_eq(ch, 'L');
	}
	close(go[0]);
	ck_assert_int_eq(waitpid(kid, &st, 0), kid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* the lock goes when stord sees the client go: a wait ends then */
	fl.l_type = F_WRLCK;
	vos_prep_fcntl(&r, b, F_SETLKW, (long)&fl);
	r.deadline_ms = 10000;
	r.user_data = 1;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 12000 * 1000000LL), 1);
	ck_assert_int_eq(c.res, 0);

	/* b holds it; a native process's wait for it is stord's to end */
	ck_assert_int_eq(fcntl(n, F_SETLK, &fl), -1);
	/* then the native process takes it (b lets go): a holder stord's
	 * stop cannot release, so the wait below can only be ended */
	fl.l_type = F_UNLCK;
	ck_assert_int_eq(vos_fcntl(ctx, b, F_SETLK, (long)&fl), 0);
	fl.l_type = F_WRLCK;
	ck_assert_int_eq(fcntl(n, F_SETLK, &fl), 0);
	/* another client waits for it: the wait is on stord's slow pool,
	 * and that client's other calls, and ours, still run */
	ck_assert_int_eq(vos_ctx_create(NULL, &other), 0);
	a = vos_openat(other, AT_FDCWD, path, O_RDWR, 0);
	ck_assert_int_ge(a, 0);
	vos_prep_fcntl(&r, a, F_SETLKW, (long)&fl);
	r.user_data = 2;
	ck_assert_int_eq(vos_submit(other, &r, 1), 1);
	ck_assert_int_eq(vos_wait(other, &c, 1, 1, 20 * 1000000), -ETIME);
	ck_assert_int_eq(vos_fcntl(other, a, F_GETFL, 0) & O_ACCMODE, O_RDWR);
	ck_assert_int_eq(vos_fcntl(ctx, b, F_GETFD, 0), 0);
	/* stord stops within its bound with the wait in the kernel, and the
	 * waiter hears of it */
	t0 = td_now_ms();
	ck_assert_int_eq(td_stop(&stord), 0);
	ck_assert_int_lt(td_now_ms() - t0, 5000);
	ck_assert_int_eq(vos_wait(other, &c, 1, 1, 5000 * 1000000LL), 1);
	ck_assert_uint_eq(c.user_data, 2);
	ck_assert_int_lt(c.res, 0);
	printf("stord_locks_belong_to_the_fd: stord stopped in %lld ms with a "
	       "lock wait in the kernel; the wait ended %lld\n",
	       (long long)(td_now_ms() - t0), (long long)c.res);
	vos_ctx_destroy(other);
	vos_ctx_destroy(ctx);
	close(n);
	teardown_both();
}
END_TEST

/* stord's threads in fcntl (a lock wait in the kernel), or -1 if its
 * threads' system calls cannot be read. */
static int blocked_in_fcntl(pid_t pid)
{
#ifdef SYS_fcntl64 /* (32-bit ABIs: glibc's fcntl is fcntl64) */
	return td_threads_in(pid, SYS_fcntl64);
#else
	return td_threads_in(pid, SYS_fcntl);
#endif
}

/* Wait (at most 5 s) until stord has n threads in lock waits; then a
 * few more looks, none of which may see more. */
static void lock_waits_reach(int n, const char *what)
{
	int64_t t0 = td_now_ms();
	int b;

	while ((b = blocked_in_fcntl(stord.pid)) != n) {
		ck_assert_msg(b < n, "%s: %d threads in lock waits, bound %d",
			      what, b, n);
		ck_assert_msg(td_now_ms() - t0 < 5000, "%s: %d threads in "
			      "lock waits after 5 s, not %d", what, b, n);
		poll(NULL, 0, 2);
	}
	for (int i = 0; i < 20; i++) {
		poll(NULL, 0, 2);
		b = blocked_in_fcntl(stord.pid);
		ck_assert_msg(b <= n, "%s: %d threads in lock waits, bound %d",
			      what, b, n);
	}
}

/* A client that piles up lock waits (each holds one of stord's threads
 * while it waits in the kernel): at most --max-lock-waits of its waits
 * run, at most --max-lock-waits-uid of its uid's, the rest wait in the
 * queue; its own and others' file calls (on the other slow-pool class)
 * run meanwhile; cancels end them all. */
START_TEST(lock_waits_bounded)
{
	const char *args[] = { "--max-lock-waits", "3",
			       "--max-lock-waits-uid", "5", NULL };
	struct flock held = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			      .l_len = 1 }, fl[2][10];
	struct vos_ctx *ctx[2];
	char path[400];
	int n, fd[2];
	struct vos_req r;
	struct vos_cqe c;

	make_work();
	write_routes();
	start_stord(args);
	if (blocked_in_fcntl(stord.pid) < 0) {
		printf("lock_waits_bounded: cannot read stord's threads' "
		       "system calls: skipped\n");
		teardown_both();
		return;
	}
	path_in(path, sizeof(path), "locked");
	n = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(n, 0);
	ck_assert_int_eq(fcntl(n, F_OFD_SETLK, &held), 0);
	for (int k = 0; k < 2; k++) {
		ctx[k] = ctx_routed();
		fd[k] = vos_openat(ctx[k], AT_FDCWD, path, O_RDWR, 0);
		ck_assert_int_ge(fd[k], 0);
	}
	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < 10; i++) {
			fl[k][i] = held;
			vos_prep_fcntl(&r, fd[k], F_SETLKW, (long)&fl[k][i]);
			r.user_data = (uint64_t)i;
			ck_assert_int_eq(vos_submit(ctx[k], &r, 1), 1);
		}
		/* the first client's 10: its own bound; with the second's,
		 * the uid's */
		lock_waits_reach(k == 0 ? 3 : 5,
				 k == 0 ? "one client's 10 waits"
					: "two clients' 20 waits");
		/* its other calls: an open (a path call, the slow pool's
		 * other class) and a lock try answer at once */
		vos_prep_openat(&r, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
		r.user_data = 50;
		r.deadline_ms = 3000;
		ck_assert_int_eq(vos_submit(ctx[k], &r, 1), 1);
		ck_assert_int_eq(vos_wait(ctx[k], &c, 1, 1, 4000000000LL), 1);
		ck_assert_uint_eq(c.user_data, 50);
		ck_assert_int_ge(c.res, 0);
		ck_assert_int_eq(vos_close(ctx[k], (int)c.res), 0);
		ck_assert_int_eq(vos_fcntl(ctx[k], fd[k], F_SETLK,
					   (long)&fl[k][0]), -EAGAIN);
	}
	/* every wait, queued or in the kernel, ends when cancelled */
	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < 10; i++) {
			int ret = vos_cancel(ctx[k], (uint64_t)i);

			ck_assert_msg(ret == 0 || ret == -EALREADY,
				      "cancel: %d", ret);
		}
		for (int i = 0; i < 10; i++) {
			ck_assert_int_eq(vos_wait(ctx[k], &c, 1, 1,
						  5000000000LL), 1);
			ck_assert_msg(c.res == -ECANCELED || c.res == -EINTR,
				      "res %ld", (long)c.res);
		}
	}
	lock_waits_reach(0, "after the cancels");
	/* a client whose path calls are all taken (two FIFO opens wait for
	 * a writer: its --max-slow) still takes and lets go of a lock: a
	 * try or an unlock never queues behind them */
	{
		char fifo[400];
		int wr;

		path_in(fifo, sizeof(fifo), "fifo");
		ck_assert_int_eq(mkfifo(fifo, 0600), 0);
		for (int i = 0; i < 2; i++) {
			vos_prep_openat(&r, AT_FDCWD, fifo,
					O_RDONLY | O_CLOEXEC, 0);
			r.user_data = 60 + (uint64_t)i;
			ck_assert_int_eq(vos_submit(ctx[0], &r, 1), 1);
		}
		ck_assert_int_eq(vos_wait(ctx[0], &c, 1, 1, 20 * 1000000),
				 -ETIME);
		held.l_type = F_UNLCK;
		ck_assert_int_eq(fcntl(n, F_OFD_SETLK, &held), 0);
		for (int i = 0; i < 2; i++) {
			fl[0][i] = held;
			fl[0][i].l_type = i ? F_UNLCK : F_WRLCK;
			vos_prep_fcntl(&r, fd[0], F_SETLK, (long)&fl[0][i]);
			r.user_data = 70 + (uint64_t)i;
			r.deadline_ms = 3000;
			ck_assert_int_eq(vos_submit(ctx[0], &r, 1), 1);
			ck_assert_int_eq(vos_wait(ctx[0], &c, 1, 1,
						  4000000000LL), 1);
			ck_assert_uint_eq(c.user_data, 70 + (uint64_t)i);
			ck_assert_int_eq(c.res, 0);
		}
		wr = open(fifo, O_WRONLY | O_CLOEXEC); /* the opens end */
		ck_assert_int_ge(wr, 0);
		for (int i = 0; i < 2; i++) {
			ck_assert_int_eq(vos_wait(ctx[0], &c, 1, 1,
						  5000000000LL), 1);
			ck_assert_int_ge(c.res, 0);
			ck_assert_int_eq(vos_close(ctx[0], (int)c.res), 0);
		}
		close(wr);
	}
	printf("lock_waits_bounded (--max-lock-waits 3, --max-lock-waits-uid "
	       "5): one client's 10 waits held 3 threads, two clients' 20 held "
	       "5; opens and lock tries answered meanwhile; 20 cancels ended "
	       "them all; a lock taken and let go while two FIFO opens "
	       "held the client's path calls\n");
	for (int k = 0; k < 2; k++)
		vos_ctx_destroy(ctx[k]);
	close(n);
	teardown_both();
}
END_TEST

static Suite *services_suite(void)
{
	Suite *s = suite_create("services");
	TCase *f = tcase_create("files and routing");
	TCase *c = tcase_create("confinement");
	TCase *x = tcase_create("isolation");

	tcase_set_timeout(f, 60);
	tcase_set_timeout(c, 60);
	tcase_set_timeout(x, 180);
	tcase_add_test(f, files_through_stord);
	tcase_add_test(f, routing_mixed);
	tcase_add_test(f, large_send_through_netd);
	tcase_add_test(f, routes_file_errors);
	tcase_add_test(f, daemon_help_config_flags);
	tcase_add_test(f, vosctl_list_and_clear);
	tcase_add_test(f, fork_child_attaches_afresh);
	tcase_add_test(f, router_waits_in_one_poll);
	tcase_add_test(f, linger_close_does_not_block_worker);
	tcase_add_test(f, nonblock_cleared_through_a_dup);
	tcase_add_test(f, deadline_on_a_live_service);
	tcase_add_test(f, zero_copy_buffers_through_stord);
	tcase_add_test(f, zero_copy_buffers_through_netd);
	tcase_add_test(c, stord_confinement);
	tcase_add_test(c, stord_permissions);
	tcase_add_test(c, trailing_slashes_and_dots);
	tcase_add_test(c, stord_answers_as_the_kernel);
	tcase_add_test(c, bad_buffers_fail_with_efault);
	tcase_add_test(c, stord_root_not_dirfd);
	tcase_add_test(c, stord_locks_belong_to_the_fd);
	tcase_add_test(x, inflight_bound_two_clients);
	tcase_add_test(x, parked_recvs_do_not_block_sends);
	tcase_add_test(x, kill_netd_midload);
	tcase_add_test(x, client_killed_cycles);
	tcase_add_test(x, garbage_from_daemon);
	tcase_add_test(x, version_mismatch_refused);
	tcase_add_test(x, stop_right_after_detach);
	tcase_add_test(x, lock_waits_bounded);
	{
		TCase *k = tcase_create("scale");

		tcase_set_timeout(k, 180);
		tcase_add_test(k, ten_thousand_connections_through_netd);
		suite_add_tcase(s, k);
	}
	suite_add_tcase(s, f);
	suite_add_tcase(s, c);
	suite_add_tcase(s, x);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(services_suite());
	int failed;

	signal(SIGPIPE, SIG_IGN);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
