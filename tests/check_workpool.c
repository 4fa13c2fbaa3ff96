/*
 * check_workpool.c - the worker pool on its own (internal interface):
 * no job starves behind a blocked one, cancellation, clean destruction.
 * Built with the pool's sources; run under ThreadSanitizer in CI.
 */
#include "config.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>

#include "local.h"
#include "testutil.h"

struct done {
	int64_t res[8];
	bool seen[8];
};

static void on_done(void *arg, uint32_t tag, int64_t res)
{
	struct done *d = arg;

	ck_assert_uint_lt(tag, 8);
	ck_assert(!d->seen[tag]);
	d->seen[tag] = true;
	d->res[tag] = res;
}

/* Reap until tag is done; at most 10 s of waiting on the eventfd. */
static void wait_tag(struct vos__pool *p, int efd, struct done *d,
		     uint32_t tag)
{
	for (int i = 0; i < 100 && !d->seen[tag]; i++) {
		struct pollfd pfd = { efd, POLLIN, 0 };
		uint64_t v;

		vos__pool_reap(p, on_done, d);
		if (d->seen[tag])
			return;
		if (poll(&pfd, 1, 100) > 0 && read(efd, &v, sizeof(v)) < 0)
			ck_abort_msg("eventfd read");
	}
	vos__pool_reap(p, on_done, d);
	ck_assert_msg(d->seen[tag], "job %u did not finish in 10 s", tag);
}

static struct vos_req job(uint8_t op, int fd, void *buf, uint32_t len,
			  uint32_t tag)
{
	struct vos_req r;

	memset(&r, 0, sizeof(r));
	r.op = op;
	r.fd = fd;
	r.addr = (uint64_t)(uintptr_t)buf;
	r.len = len;
	r.user_data = tag;
	return r;
}

/* The sequence that once starved: a thread goes idle, then a blocking job
 * and a quick one are pushed back to back. */
START_TEST(no_starvation_behind_blocked_job)
{
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct vos__pool *p = vos__pool_create(8, 4, efd);
	struct done d = { 0 };
	struct vos_req r;
	char b;
	int pp[2];

	ck_assert_int_eq(pipe2(pp, O_CLOEXEC), 0);
	r = job(VOS_OP_NOP, -1, NULL, 0, 0);
	ck_assert_int_eq(vos__pool_push(p, &r), 0);
	wait_tag(p, efd, &d, 0); /* one thread, now idle */
	r = job(VOS_OP_READ, pp[0], &b, 1, 1); /* blocks: nobody writes */
	ck_assert_int_eq(vos__pool_push(p, &r), 0);
	r = job(VOS_OP_NOP, -1, NULL, 0, 2);
	ck_assert_int_eq(vos__pool_push(p, &r), 0);
	wait_tag(p, efd, &d, 2);
	ck_assert(!d.seen[1]);
	ck_assert_int_eq(write(pp[1], "x", 1), 1);
	wait_tag(p, efd, &d, 1);
	ck_assert_int_eq(d.res[1], 1);
	vos__pool_destroy(p);
	close(pp[0]);
	close(pp[1]);
	close(efd);
}
END_TEST

START_TEST(cancel_queued_running_and_accept)
{
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct vos__pool *p = vos__pool_create(8, 1, efd);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct done d = { 0 };
	struct vos_req r;
	int pp[2], l;
	char b;

	ck_assert_int_eq(pipe2(pp, O_CLOEXEC), 0);
	r = job(VOS_OP_READ, pp[0], &b, 1, 0);
	ck_assert_int_eq(vos__pool_push(p, &r), 0);
	r = job(VOS_OP_NOP, -1, NULL, 0, 1); /* queued: one thread, busy */
	ck_assert_int_eq(vos__pool_push(p, &r), 0);
	ck_assert_int_eq(vos__pool_cancel(p, 1), 0);
	ck_assert_int_eq(vos__pool_cancel(p, 1), -ENOENT);
	wait_tag(p, efd, &d, 1);
	ck_assert_int_eq(d.res[1], -ECANCELED);
	/* the read may be queued or running; once running it can't stop */
	ck_assert_int_eq(write(pp[1], "x", 1), 1);
	wait_tag(p, efd, &d, 0);
	ck_assert_int_eq(d.res[0], 1);
	ck_assert_int_eq(vos__pool_cancel(p, 0), -ENOENT);

	/* an accept waiting for a client is cancelled within a slice */
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(l, 1), 0);
	r = job(VOS_OP_ACCEPT, l, NULL, 0, 2);
	ck_assert_int_eq(vos__pool_push(p, &r), 0);
	/* queued or waiting, either way it must end as cancelled */
	ck_assert_int_eq(vos__pool_cancel(p, 2), 0);
	wait_tag(p, efd, &d, 2);
	ck_assert_int_eq(d.res[2], -ECANCELED);
	close(l);
	vos__pool_destroy(p);
	close(pp[0]);
	close(pp[1]);
	close(efd);
}
END_TEST

/* Lock waits hold no thread between their tries: five waits on a pool of
 * two threads leave room for a NOP; one of them cancelled ends at once
 * (-ECANCELED, or after the try under way); the others take the lock
 * when its holder lets go. */
START_TEST(lock_waits_hold_no_thread)
{
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct vos__pool *p = vos__pool_create(8, 2, efd);
	char path[] = "/tmp/vos_wp_lockXXXXXX";
	struct flock held = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			      .l_len = 10 }, fl[5];
	struct done d = { 0 };
	struct vos_req r;
	int a, b, ret;

	a = mkstemp(path);
	ck_assert_int_ge(a, 0);
	b = open(path, O_RDWR | O_CLOEXEC); /* its own open file */
	ck_assert_int_ge(b, 0);
	unlink(path);
	ck_assert_int_eq(fcntl(a, F_OFD_SETLK, &held), 0);
	for (uint32_t i = 0; i < 5; i++) {
		fl[i] = (struct flock){ .l_type = F_WRLCK,
					.l_whence = SEEK_SET, .l_len = 10 };
		r = job(VOS_OP_FCNTL_LOCK, b, &fl[i], 0, i);
		r.op_flags = F_OFD_SETLKW;
		ck_assert_int_eq(vos__pool_push(p, &r), 0);
	}
	r = job(VOS_OP_NOP, -1, NULL, 0, 5);
	ck_assert_int_eq(vos__pool_push(p, &r), 0);
	wait_tag(p, efd, &d, 5); /* would wait for ever behind the waits */
	ck_assert_int_eq(d.res[5], 0);
	for (uint32_t i = 0; i < 5; i++)
		ck_assert(!d.seen[i]);
	ret = vos__pool_cancel(p, 0);
	ck_assert_msg(ret == 0 || ret == -EALREADY, "cancel: %d", ret);
	wait_tag(p, efd, &d, 0);
	ck_assert_int_eq(d.res[0], -ECANCELED);
	held.l_type = F_UNLCK;
	ck_assert_int_eq(fcntl(a, F_OFD_SETLK, &held), 0);
	for (uint32_t i = 1; i < 5; i++) {
		wait_tag(p, efd, &d, i); /* all on b: one lock, shared */
		ck_assert_int_eq(d.res[i], 0);
	}
	/* b holds it now: a's try fails */
	held.l_type = F_WRLCK;
	ck_assert_int_eq(fcntl(a, F_OFD_SETLK, &held), -1);
	ck_assert(errno == EAGAIN || errno == EACCES);
	vos__pool_destroy(p);
	close(a);
	close(b);
	close(efd);
}
END_TEST

/* A lock wait between tries, then a call that blocks, pushed while the
 * wait's thread was idle: the pool grows, so the wait still gets its
 * tries and ends when the lock goes, while the call blocks. */
START_TEST(lock_wait_beside_a_blocked_call)
{
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct vos__pool *p = vos__pool_create(8, 4, efd);
	char path[] = "/tmp/vos_wp_lock2XXXXXX", b;
	struct flock held = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			      .l_len = 1 }, fl = held;
	struct done d = { 0 };
	struct vos_req r;
	int a, f, pp[2];

	ck_assert_int_eq(pipe2(pp, O_CLOEXEC), 0);
	a = mkstemp(path);
	ck_assert_int_ge(a, 0);
	f = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(f, 0);
	unlink(path);
	ck_assert_int_eq(fcntl(a, F_OFD_SETLK, &held), 0);
	r = job(VOS_OP_NOP, -1, NULL, 0, 0);
	ck_assert_int_eq(vos__pool_push(p, &r), 0);
	wait_tag(p, efd, &d, 0); /* one thread, now idle */
	r = job(VOS_OP_FCNTL_LOCK, f, &fl, 0, 1);
	r.op_flags = F_OFD_SETLKW;
	ck_assert_int_eq(vos__pool_push(p, &r), 0);
	/* held: it does not end (20 ms, in which its thread goes idle) */
	{
		struct pollfd pfd = { efd, POLLIN, 0 };

		(void)poll(&pfd, 1, 20);
		vos__pool_reap(p, on_done, &d);
		ck_assert(!d.seen[1]);
	}
	r = job(VOS_OP_READ, pp[0], &b, 1, 2); /* blocks: nobody writes */
	ck_assert_int_eq(vos__pool_push(p, &r), 0);
	held.l_type = F_UNLCK;
	ck_assert_int_eq(fcntl(a, F_OFD_SETLK, &held), 0);
	wait_tag(p, efd, &d, 1);
	ck_assert_int_eq(d.res[1], 0);
	ck_assert(!d.seen[2]);
	ck_assert_int_eq(write(pp[1], "x", 1), 1);
	wait_tag(p, efd, &d, 2);
	ck_assert_int_eq(d.res[2], 1);
	vos__pool_destroy(p);
	close(a);
	close(f);
	close(pp[0]);
	close(pp[1]);
	close(efd);
}
END_TEST

/* Many jobs from many pushes, all complete exactly once. */
START_TEST(many_jobs)
{
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	struct vos__pool *p = vos__pool_create(8, 3, efd);

	for (int round = 0; round < 200; round++) {
		struct done d = { 0 };

		for (uint32_t t = 0; t < 8; t++) {
			struct vos_req r = job(VOS_OP_NOP, -1, NULL, 0, t);

			ck_assert_int_eq(vos__pool_push(p, &r), 0);
		}
		for (uint32_t t = 0; t < 8; t++)
			wait_tag(p, efd, &d, t);
	}
	vos__pool_destroy(p);
	close(efd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("workpool");
	TCase *tc = tcase_create("pool");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, no_starvation_behind_blocked_job);
	tcase_add_test(tc, cancel_queued_running_and_accept);
	tcase_add_test(tc, many_jobs);
	tcase_add_test(tc, lock_waits_hold_no_thread);
	tcase_add_test(tc, lock_wait_beside_a_blocked_call);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
