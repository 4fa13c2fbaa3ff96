/*
 * check_errors.c - bad input gets its documented -errno: no crash, no
 * hang, no leak, and the requests around a bad one are unharmed.
 */
#include "config.h"

#include <dirent.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>

#include "testutil.h"

/* Submit one request and return its result. */
static int64_t one(struct vos_ctx *ctx, struct vos_req *r)
{
	struct vos_cqe c;

	r->user_data = 0xabcdef;
	ck_assert_int_eq(vos_submit(ctx, r, 1), 1);
	c = tu_wait1(ctx);
	ck_assert_uint_eq(c.user_data, 0xabcdef);
	return c.res;
}

static int closed_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	close(fd);
	return fd;
}

START_TEST(unknown_op_and_reserved_fields)
{
	struct vos_ctx *ctx = tu_ctx();
	struct vos_req r;

	vos_prep_nop(&r);
	r.op = VOS_OP__COUNT;
	ck_assert_int_eq(one(ctx, &r), -EINVAL);
	r.op = 255;
	ck_assert_int_eq(one(ctx, &r), -EINVAL);
	vos_prep_nop(&r);
	r.flags = 0x80; /* not a VOS_REQ_* flag */
	ck_assert_int_eq(one(ctx, &r), -EINVAL);
	r.flags = VOS_REQ_LINK | 0x02;
	ck_assert_int_eq(one(ctx, &r), -EINVAL);
	r.flags = VOS_REQ_LINK; /* on the last request: a chain of one */
	ck_assert_int_eq(one(ctx, &r), 0);
	vos_prep_nop(&r);
	r.reserved = 1;
	ck_assert_int_eq(one(ctx, &r), -EINVAL);
	ck_assert_str_eq(vos_op_name(VOS_OP_READ), "read");
	ck_assert_str_eq(vos_op_name(VOS_OP_CANCEL), "cancel");
	ck_assert_str_eq(vos_op_name(999), "unknown");
	vos_ctx_destroy(ctx);
}
END_TEST

START_TEST(bad_fds)
{
	struct vos_ctx *ctx = tu_ctx();
	int bad = closed_fd();
	struct vos_req r;
	char buf[8];

	/* negative: refused before any system call */
	vos_prep_read(&r, -1, buf, sizeof(buf));
	ck_assert_int_eq(one(ctx, &r), -EBADF);
	vos_prep_close(&r, -5);
	ck_assert_int_eq(one(ctx, &r), -EBADF);
	/* not open: the kernel's answer */
	ck_assert_int_eq(vos_read(ctx, bad, buf, sizeof(buf)), -EBADF);
	ck_assert_int_eq(vos_write(ctx, bad, buf, sizeof(buf)), -EBADF);
	ck_assert_int_eq(vos_pread(ctx, bad, buf, sizeof(buf), 0), -EBADF);
	ck_assert_int_eq(vos_pwrite(ctx, bad, buf, sizeof(buf), 0), -EBADF);
	ck_assert_int_eq(vos_fsync(ctx, bad), -EBADF);
	ck_assert_int_eq(vos_ftruncate(ctx, bad, 0), -EBADF);
	ck_assert_int_eq(vos_fcntl(ctx, bad, F_GETFL, 0), -EBADF);
	ck_assert_int_eq(vos_recv(ctx, bad, buf, sizeof(buf), 0), -EBADF);
	ck_assert_int_eq(vos_send(ctx, bad, buf, sizeof(buf), 0), -EBADF);
	ck_assert_int_eq(vos_accept(ctx, bad, NULL, NULL, 0), -EBADF);
	ck_assert_int_eq(vos_poll(ctx, bad, POLLIN), -EBADF);
	ck_assert_int_eq(vos_close(ctx, bad), -EBADF);
	/* not a socket */
	ck_assert_int_eq(vos_listen(ctx, 0 + STDERR_FILENO, 1), -ENOTSOCK);
	vos_ctx_destroy(ctx);
}
END_TEST

START_TEST(null_and_wild_pointers)
{
	struct vos_ctx *ctx = tu_ctx();
	char dir[256];
	int dfd = tu_dir("/dev/shm", dir, sizeof(dir));
	int fd = openat(dfd, "f", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	struct statx stx;
	struct vos_req r;
	int a, b;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "data", 4), 4);
	tu_tcp_pair(&a, &b);
	ck_assert_int_eq(vos_read(ctx, fd, NULL, 4), -EFAULT);
	ck_assert_int_eq(vos_pwrite(ctx, fd, NULL, 4, 0), -EFAULT);
	ck_assert_int_eq(vos_send(ctx, a, NULL, 1, 0), -EFAULT);
	ck_assert_int_eq(vos_recv(ctx, b, NULL, 1, 0), -EFAULT);
	ck_assert_int_eq(vos_readv(ctx, fd, NULL, 2, 0), -EFAULT);
	ck_assert_int_eq(vos_openat(ctx, dfd, NULL, O_RDONLY, 0), -EFAULT);
	ck_assert_int_eq(vos_statx(ctx, dfd, "f", 0, STATX_SIZE, NULL), -EFAULT);
	ck_assert_int_eq(vos_statx(ctx, dfd, NULL, 0, STATX_SIZE, &stx),
			 -EFAULT);
	ck_assert_int_eq(vos_sendmsg(ctx, a, NULL, 0), -EFAULT);
	ck_assert_int_eq(vos_renameat(ctx, dfd, "f", dfd, NULL, 0), -EFAULT);
	ck_assert_int_eq(vos_getsockname(ctx, a, NULL, NULL), -EFAULT);
	ck_assert_int_eq(vos_ioctl(ctx, a, FIONREAD, NULL), -EFAULT);
	{
		struct sockaddr_in sin;

		vos_prep_accept(&r, a, (struct sockaddr *)&sin, NULL, 0);
		ck_assert_int_eq(one(ctx, &r), -EFAULT);
	}
	/* NULL with length 0 is a legal empty transfer */
	ck_assert_int_eq(vos_pread(ctx, fd, NULL, 0, 0), 0);
	/* a wild pointer: the kernel says -EFAULT, nothing crashes */
	ck_assert_int_eq(vos_pread(ctx, fd, (void *)(uintptr_t)8, 4, 0),
			 -EFAULT);
	ck_assert_int_eq(vos_pwrite(ctx, fd, (void *)(uintptr_t)8, 4, 0),
			 -EFAULT);
	close(a);
	close(b);
	close(fd);
	unlinkat(dfd, "f", 0);
	close(dfd);
	rmdir(dir);
	vos_ctx_destroy(ctx);
}
END_TEST

START_TEST(limits)
{
	struct vos_ctx *ctx = tu_ctx();
	static struct iovec iov[VOS_IOV_MAX + 1];
	static char byte[VOS_IOV_MAX + 1];
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	char buf[4];

	for (int i = 0; i <= VOS_IOV_MAX; i++)
		iov[i] = (struct iovec){ &byte[i], 1 };
	ck_assert_int_eq(vos_writev(ctx, fd, iov, VOS_IOV_MAX + 1, -1),
			 -EINVAL);
	ck_assert_int_eq(vos_writev(ctx, fd, iov, VOS_IOV_MAX, -1),
			 VOS_IOV_MAX);
	ck_assert_int_eq(vos_writev(ctx, fd, iov, -1, -1), -EINVAL);
	/* a length above MAX_RW_COUNT is the kernel's to judge (it clamps):
	 * here the fd is write-only */
	ck_assert_int_eq(vos_read(ctx, fd, buf, (size_t)VOS_MAX_RW_LEN + 1),
			 -EBADF);
	ck_assert_int_eq(vos_pread(ctx, fd, buf, 4, -1), -EINVAL);
	ck_assert_int_eq(vos_ftruncate(ctx, fd, -1), -EINVAL);
	ck_assert_int_eq(vos_fallocate(ctx, fd, 0, 0, 0), -EINVAL);
	close(fd);
	vos_ctx_destroy(ctx);
}
END_TEST

START_TEST(unsupported_commands)
{
	struct vos_ctx *ctx = tu_ctx();
	struct winsize ws;
	struct flock fl = { .l_type = F_WRLCK };
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	/* leases are not carried (record locks are: a write lock on a
	 * read-only fd is the kernel's -EBADF) */
	ck_assert_int_eq(vos_fcntl(ctx, fd, F_SETLEASE, F_RDLCK), -EINVAL);
	ck_assert_int_eq(vos_fcntl(ctx, fd, F_SETLKW, (long)(uintptr_t)&fl),
			 -EBADF);
	ck_assert_int_eq(vos_fcntl(ctx, fd, 12345, 0), -EINVAL);
	ck_assert_int_eq(vos_ioctl(ctx, fd, TIOCGWINSZ, (int *)&ws), -EINVAL);
	close(fd);
	vos_ctx_destroy(ctx);
}
END_TEST

/* Bad requests in the middle of a batch fail alone, in place. */
START_TEST(mixed_batch)
{
	struct vos_ctx *ctx = tu_ctx();
	struct vos_req r[6];
	struct vos_cqe c[6];
	int64_t want[6] = { 0, -EINVAL, 0, -EFAULT, -EBADF, 0 };
	int64_t res[6];
	int got = 0;

	for (int i = 0; i < 6; i++)
		vos_prep_nop(&r[i]);
	r[1].op = 200;
	vos_prep_read(&r[3], 0, NULL, 10);
	vos_prep_fsync(&r[4], -3);
	for (int i = 0; i < 6; i++)
		r[i].user_data = (uint64_t)i;
	ck_assert_int_eq(vos_submit(ctx, r, 6), 6);
	while (got < 6) {
		int n = vos_wait(ctx, c, 6, 1, 10LL * 1000000000);

		ck_assert_int_gt(n, 0);
		for (int i = 0; i < n; i++)
			res[c[i].user_data] = c[i].res;
		got += n;
	}
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(res[i], want[i]);
	vos_ctx_destroy(ctx);
}
END_TEST

START_TEST(zero_timeouts)
{
	struct vos_ctx *ctx = tu_ctx();
	struct vos_cqe c;
	struct vos_req r;

	/* a timeout request of 0 ns completes at once with 0 */
	vos_prep_timeout(&r, 0);
	ck_assert_int_eq(one(ctx, &r), 0);
	/* a wait with timeout 0 and nothing ready says -ETIME at once */
	vos_prep_timeout(&r, 10ull * 1000000000);
	r.user_data = 1;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 0), -ETIME);
	ck_assert_int_eq(vos_cancel(ctx, 1), 0);
	ck_assert_int_eq(tu_wait1(ctx).res, -ECANCELED);
	/* cancelling what already completed finds nothing */
	ck_assert_int_eq(vos_cancel(ctx, 1), -ENOENT);
	vos_ctx_destroy(ctx);
}
END_TEST


/* 300 contexts created, used on every path and destroyed with work in
 * flight: not one fd more afterwards (ASan's leak check, in the sanitizer
 * run, covers memory). */
START_TEST(no_fd_leak)
{
	int before = tu_count_fds();

	for (int i = 0; i < 300; i++) {
		struct vos_ctx *ctx = tu_ctx();
		struct vos_req r[2];
		char b[2];
		int p[2];

		ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
		ck_assert_int_eq(vos_nop(ctx), 0);
		ck_assert_int_eq(vos_ftruncate(ctx, p[0], 0), -EINVAL);
		vos_prep_read(&r[0], p[0], b, 1);
		vos_prep_timeout(&r[1], 1000000000);
		ck_assert_int_eq(vos_submit(ctx, r, 2), 2);
		ck_assert_int_eq(vos_ctx_destroy(ctx), 0);
		close(p[0]);
		close(p[1]);
	}
	ck_assert_int_eq(tu_count_fds(), before);
}
END_TEST

static Suite *errors_suite(void)
{
	Suite *s = suite_create("errors");
	TCase *tc = tcase_create("bad input");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, unknown_op_and_reserved_fields);
	tcase_add_test(tc, bad_fds);
	tcase_add_test(tc, limits);
	{
		/* writes its fixture with write(2): needs a kernel fd */
		TCase *k = tcase_create("bad pointers");

		tcase_set_tags(k, "kernel-fd");
		tcase_add_test(k, null_and_wild_pointers);
		suite_add_tcase(s, k);
	}
	tcase_add_test(tc, unsupported_commands);
	tcase_add_test(tc, mixed_batch);
	tcase_add_test(tc, zero_timeouts);
	tcase_add_test(tc, no_fd_leak);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(errors_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
