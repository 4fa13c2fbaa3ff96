/*
 * check_api.c - contexts, configuration, the queue's rules, the transport
 * registry, and the core's defence against a transport that lies.
 */
#include "config.h"

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <virtuos/transport.h>

#include "testutil.h"

START_TEST(config_defaults)
{
	struct vos_config cfg;

	vos_config_init(&cfg);
	ck_assert_uint_eq(cfg.size, sizeof(cfg));
	ck_assert_uint_eq(cfg.queue_depth, VOS_DEFAULT_QUEUE_DEPTH);
	ck_assert_int_lt(cfg.spin_ns, 0);
	ck_assert_ptr_null(cfg.transport);
}
END_TEST

START_TEST(create_rejects_bad_config)
{
	struct vos_config cfg;
	struct vos_ctx *ctx = (struct vos_ctx *)0x1;

	ck_assert_int_eq(vos_ctx_create(NULL, NULL), -EINVAL);

	vos_config_init(&cfg);
	cfg.size = 8;
	ck_assert_int_eq(vos_ctx_create(&cfg, &ctx), -EINVAL);
	ck_assert_ptr_null(ctx);

	vos_config_init(&cfg);
	cfg.queue_depth = 0;
	ck_assert_int_eq(vos_ctx_create(&cfg, &ctx), -EINVAL);
	cfg.queue_depth = VOS_MAX_QUEUE_DEPTH + 1;
	ck_assert_int_eq(vos_ctx_create(&cfg, &ctx), -EINVAL);

	vos_config_init(&cfg);
	cfg.flags = 1;
	ck_assert_int_eq(vos_ctx_create(&cfg, &ctx), -EINVAL);

	vos_config_init(&cfg);
	cfg.transport = "no-such-transport";
	ck_assert_int_eq(vos_ctx_create(&cfg, &ctx), -ENOENT);

	vos_config_init(&cfg);
	cfg.transport = "io_uring-local";
	cfg.options = "backend=warp-drive";
	ck_assert_int_eq(vos_ctx_create(&cfg, &ctx), -EINVAL);
	cfg.options = "workers=0";
	ck_assert_int_eq(vos_ctx_create(&cfg, &ctx), -EINVAL);
	cfg.options = "nonsense";
	ck_assert_int_eq(vos_ctx_create(&cfg, &ctx), -EINVAL);
	ck_assert_ptr_null(ctx);

	/* a ring whose data area would reach 4 GiB is refused at once (the
	 * real limit: 4096 entries x 1 MiB slots passed each bound alone);
	 * lazy: nothing is reached either way */
	vos_config_init(&cfg);
	cfg.transport = "shm";
	cfg.queue_depth = 4096;
	cfg.options = "path=/nonexistent/x.sock,lazy=1,slot=1048576";
	ck_assert_int_eq(vos_ctx_create(&cfg, &ctx), -EINVAL);
	ck_assert_ptr_null(ctx);
	cfg.options = "path=/nonexistent/x.sock,lazy=1,slot=1048256";
	ck_assert_int_eq(vos_ctx_create(&cfg, &ctx), 0);
	vos_ctx_destroy(ctx);
	cfg.queue_depth = 2048;
	cfg.options = "path=/nonexistent/x.sock,lazy=1,slot=1048576";
	ck_assert_int_eq(vos_ctx_create(&cfg, &ctx), 0);
	vos_ctx_destroy(ctx);
}
END_TEST

START_TEST(create_describe_destroy)
{
	struct vos_ctx *ctx = tu_ctx();
	const char *want = getenv("VOS_LOCAL_BACKEND");
	const char *d = vos_ctx_describe(ctx);

	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_nonnull(strstr(d, "io_uring-local"));
	if (want && *want)
		ck_assert_msg(strstr(d, want), "asked for %s, got %s", want, d);
	ck_assert_int_eq(vos_ctx_destroy(ctx), 0);
	ck_assert_ptr_null(vos_ctx_describe(ctx));
}
END_TEST

START_TEST(explicit_backends)
{
	static const char *const names[] = { "uring", "compat" };

	for (int i = 0; i < 2; i++) {
		struct vos_config cfg;
		struct vos_ctx *ctx;
		char opt[32];
		int r;

		vos_config_init(&cfg);
		snprintf(opt, sizeof(opt), "backend=%s", names[i]);
		cfg.options = opt;
		r = vos_ctx_create(&cfg, &ctx);
		if (r == -ENOSYS || r == -EPERM || r == -EOPNOTSUPP) {
			/* io_uring forbidden here: compat must still work */
			ck_assert_int_eq(i, 0);
			continue;
		}
		ck_assert_int_eq(r, 0);
		ck_assert_ptr_nonnull(strstr(vos_ctx_describe(ctx), names[i]));
		ck_assert_int_eq(vos_nop(ctx), 0);
		vos_ctx_destroy(ctx);
	}
}
END_TEST

START_TEST(destroyed_context_is_refused)
{
	struct vos_ctx *ctx = tu_ctx();
	struct vos_req r;
	struct vos_cqe c;
	char b[4];

	ck_assert_int_eq(vos_ctx_destroy(ctx), 0);
	vos_prep_nop(&r);
	ck_assert_int_eq(vos_submit(ctx, &r, 1), -EBADF);
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 0), -EBADF);
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, -1), -EBADF);
	ck_assert_int_eq(vos_nop(ctx), -EBADF);
	ck_assert_int_eq(vos_read(ctx, 0, b, sizeof(b)), -EBADF);
	ck_assert_int_eq(vos_cancel(ctx, 1), -EBADF);
	ck_assert_int_eq(vos_after_fork(ctx), -EBADF);
	ck_assert_int_eq(vos_fd_forget(ctx, 0), -EBADF);
	ck_assert_int_eq(vos_ctx_destroy(ctx), -EBADF);
}
END_TEST

START_TEST(null_arguments)
{
	struct vos_ctx *ctx = tu_ctx();
	struct vos_cqe c[2];
	struct vos_req r;

	vos_prep_nop(&r);
	ck_assert_int_eq(vos_submit(NULL, &r, 1), -EINVAL);
	ck_assert_int_eq(vos_submit(ctx, NULL, 1), -EINVAL);
	ck_assert_int_eq(vos_submit(ctx, NULL, 0), 0);
	ck_assert_int_eq(vos_wait(NULL, c, 1, 1, 0), -EINVAL);
	ck_assert_int_eq(vos_wait(ctx, NULL, 1, 1, 0), -EINVAL);
	ck_assert_int_eq(vos_wait(ctx, c, 0, 0, 0), -EINVAL);
	ck_assert_int_eq(vos_wait(ctx, c, 1, 2, 0), -EINVAL);
	ck_assert_int_eq(vos_ctx_destroy(NULL), -EINVAL);
	ck_assert_int_eq(vos_nop(NULL), -EINVAL);
	ck_assert_ptr_null(vos_ctx_describe(NULL));
	vos_ctx_destroy(ctx);
}
END_TEST

START_TEST(user_data_round_trip)
{
	struct vos_ctx *ctx = tu_ctx();
	struct vos_req r[64];
	struct vos_cqe c[64];
	unsigned seen[64] = { 0 };
	int got = 0;

	for (int i = 0; i < 64; i++) {
		vos_prep_nop(&r[i]);
		r[i].user_data = 0xfeed000000000000ull | (uint64_t)i;
	}
	ck_assert_int_eq(vos_submit(ctx, r, 64), 64);
	while (got < 64) {
		int n = vos_wait(ctx, c, 64, 1, 10LL * 1000000000);

		ck_assert_int_gt(n, 0);
		for (int i = 0; i < n; i++) {
			uint64_t ud = c[i].user_data;

			ck_assert_uint_eq(ud >> 48, 0xfeed);
			ck_assert_uint_lt(ud & 0xffff, 64);
			ck_assert_int_eq(c[i].res, 0);
			seen[ud & 0xffff]++;
		}
		got += n;
	}
	for (int i = 0; i < 64; i++)
		ck_assert_uint_eq(seen[i], 1);
	vos_ctx_destroy(ctx);
}
END_TEST

START_TEST(queue_full_is_ebusy)
{
	struct vos_config cfg;
	struct vos_ctx *ctx;
	struct vos_req r[10];
	struct vos_cqe c[10];

	vos_config_init(&cfg);
	cfg.queue_depth = 4;
	ck_assert_int_eq(vos_ctx_create(&cfg, &ctx), 0);
	for (int i = 0; i < 10; i++) {
		vos_prep_timeout(&r[i], 0);
		r[i].user_data = (uint64_t)i;
	}
	/* more than the queue holds: the first four are taken */
	ck_assert_int_eq(vos_submit(ctx, r, 10), 4);
	ck_assert_int_eq(vos_submit(ctx, r + 4, 6), -EBUSY);
	ck_assert_int_eq(vos_nop(ctx), -EBUSY);
	/* returning two completions makes room for two */
	ck_assert_int_eq(vos_wait(ctx, c, 2, 2, -1), 2);
	ck_assert_uint_eq(c[0].user_data, 0);
	ck_assert_uint_eq(c[1].user_data, 1);
	ck_assert_int_eq(vos_submit(ctx, r + 4, 6), 2);
	ck_assert_int_eq(vos_wait(ctx, c, 10, 4, -1), 4);
	ck_assert_int_eq(vos_nop(ctx), 0);
	vos_ctx_destroy(ctx);
}
END_TEST

START_TEST(wait_timeouts)
{
	struct vos_ctx *ctx = tu_ctx();
	struct vos_cqe c;
	struct vos_req r;
	struct timespec t0, t1;
	double ms;

	/* nothing outstanding: returns 0 at once, whatever min/timeout */
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, -1), 0);
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 0), 0);

	vos_prep_timeout(&r, 5ull * 1000000000);
	r.user_data = 42;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	/* timeout 0: a poll, -ETIME when nothing is there */
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 0), -ETIME);
	/* min 0 never waits */
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 0, -1), 0);
	/* a bounded wait gives up after about its timeout */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(vos_wait(ctx, &c, 1, 1, 30 * 1000000), -ETIME);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	ck_assert_msg(ms >= 29 && ms < 2000, "waited %.1f ms", ms);
	ck_assert_int_eq(vos_cancel(ctx, 42), 0);
	c = tu_wait1(ctx);
	ck_assert_uint_eq(c.user_data, 42);
	ck_assert_int_eq(c.res, -ECANCELED);
	vos_ctx_destroy(ctx);
}
END_TEST

START_TEST(blocking_call_keeps_other_completions)
{
	struct vos_ctx *ctx = tu_ctx();
	struct vos_req r[3];
	struct vos_cqe c[4];

	for (int i = 0; i < 3; i++) {
		vos_prep_nop(&r[i]);
		r[i].user_data = 10 + (uint64_t)i;
	}
	ck_assert_int_eq(vos_submit(ctx, r, 3), 3);
	/* blocking calls in between must not eat those completions */
	ck_assert_int_eq(vos_nop(ctx), 0);
	ck_assert_int_eq(vos_sleep(ctx, 1000000), 0);
	ck_assert_int_eq(vos_wait(ctx, c, 4, 3, -1), 3);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(c[i].user_data, 10 + (uint64_t)i);
	vos_ctx_destroy(ctx);
}
END_TEST

static void on_alarm(int sig)
{
	(void)sig;
}

START_TEST(signal_interrupts_blocking_call)
{
	struct vos_ctx *ctx = tu_ctx();
	struct sigaction sa;
	/* periodic: even if one signal came before the wait began, the
	 * next one arrives during it */
	struct itimerspec it = { .it_value = { 0, 50 * 1000000 },
				 .it_interval = { 0, 50 * 1000000 } };
	timer_t tm;
	int a, b;
	char buf[8];

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm; /* no SA_RESTART */
	sigaction(SIGALRM, &sa, NULL);
	ck_assert_int_eq(timer_create(CLOCK_MONOTONIC, NULL, &tm), 0);
	tu_tcp_pair(&a, &b);
	ck_assert_int_eq(timer_settime(tm, 0, &it, NULL), 0);
	/* nobody sends: only the signal can end this call */
	ck_assert_int_eq(vos_recv(ctx, b, buf, sizeof(buf), 0), -EINTR);
	timer_delete(tm);
	/* and the context still works */
	ck_assert_int_eq(vos_send(ctx, a, "x", 1, 0), 1);
	ck_assert_int_eq(vos_recv(ctx, b, buf, sizeof(buf), 0), 1);
	close(a);
	close(b);
	vos_ctx_destroy(ctx);
}
END_TEST

START_TEST(destroy_with_requests_in_flight)
{
	struct vos_ctx *ctx = tu_ctx();
	struct vos_req r[3];
	char buf[16];
	int a, b;

	tu_tcp_pair(&a, &b);
	vos_prep_recv(&r[0], b, buf, sizeof(buf), 0);
	vos_prep_timeout(&r[1], 60ull * 1000000000);
	vos_prep_poll(&r[2], b, POLLIN);
	ck_assert_int_eq(vos_submit(ctx, r, 3), 3);
	/* everything is cancelled and drained, promptly: well under the
	 * 1 s a drain may take before it gives up */
	{
		struct timespec t0, t1;
		double ms;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		ck_assert_int_eq(vos_ctx_destroy(ctx), 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (t1.tv_sec - t0.tv_sec) * 1e3 +
		     (t1.tv_nsec - t0.tv_nsec) / 1e6;
		ck_assert_msg(ms < 500, "destroy took %.0f ms", ms);
	}
	close(a);
	close(b);
}
END_TEST

START_TEST(after_fork_child_gets_fresh_queue)
{
	struct vos_ctx *ctx = tu_ctx();
	struct vos_req r;
	int status;
	pid_t pid;

	vos_prep_timeout(&r, 60ull * 1000000000);
	r.user_data = 1;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct vos_cqe c;
		int ok = vos_after_fork(ctx) == 0 &&
			 /* the parent's timeout is not ours */
			 vos_wait(ctx, &c, 1, 1, 0) == 0 &&
			 vos_nop(ctx) == 0 && vos_sleep(ctx, 1000) == 0;
		_exit(ok ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	/* the parent's request is still there */
	ck_assert_int_eq(vos_cancel(ctx, 1), 0);
	ck_assert_int_eq(tu_wait1(ctx).res, -ECANCELED);
	vos_ctx_destroy(ctx);
}
END_TEST

/* ---- io_uring forbidden: the automatic fallback ---------------------- */

/* Make io_uring_setup fail with err in this process (Check runs each test
 * in a child, so the filter dies with it), as Docker's default seccomp
 * profile does with EPERM, or a kernel without io_uring with ENOSYS. */
static void forbid_io_uring(int err)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K,
			 SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	ck_assert_int_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
	ck_assert_int_eq(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog),
			 0);
}

static void fallback_with(int err)
{
	struct vos_config cfg;
	struct vos_ctx *ctx;
	char log[512] = { 0 };
	int pipefd[2], saved;
	ssize_t n;

	unsetenv("VOS_LOCAL_BACKEND"); /* test the automatic choice */
	unsetenv("VOS_LOG");
	forbid_io_uring(err);
	/* capture the one log line on stderr */
	ck_assert_int_eq(pipe(pipefd), 0);
	saved = dup(STDERR_FILENO);
	dup2(pipefd[1], STDERR_FILENO);
	ck_assert_int_eq(vos_ctx_create(NULL, &ctx), 0);
	dup2(saved, STDERR_FILENO);
	close(pipefd[1]);
	n = read(pipefd[0], log, sizeof(log) - 1);
	close(pipefd[0]);
	ck_assert_int_gt(n, 0);
	ck_assert_msg(strstr(log, "io_uring unavailable") &&
		      strstr(log, "compat backend"), "log: %s", log);
	ck_assert_ptr_nonnull(strstr(vos_ctx_describe(ctx), "compat"));
	/* and it works: a socket round trip and a file read */
	{
		int a, b;
		char buf[4];

		tu_tcp_pair(&a, &b);
		ck_assert_int_eq(vos_send(ctx, a, "abc", 3, 0), 3);
		ck_assert_int_eq(vos_recv(ctx, b, buf, 3, MSG_WAITALL), 3);
		ck_assert_int_eq(vos_sleep(ctx, 1000), 0);
		close(a);
		close(b);
	}
	vos_ctx_destroy(ctx);
	/* asking for io_uring by name fails loudly instead */
	vos_config_init(&cfg);
	cfg.options = "backend=uring";
	ck_assert_int_eq(vos_ctx_create(&cfg, &ctx), -err);
}

START_TEST(fallback_when_io_uring_is_eperm)
{
	fallback_with(EPERM);
}
END_TEST

START_TEST(fallback_when_io_uring_is_enosys)
{
	fallback_with(ENOSYS);
}
END_TEST

/* A child that destroys an inherited context without vos_after_fork()
 * must neither hang (the pool's threads are the parent's) nor cancel the
 * parent's requests (an io_uring ring is shared). */
START_TEST(child_destroy_without_after_fork)
{
	struct vos_ctx *ctx = tu_ctx();
	struct vos_req r;
	struct vos_cqe c;
	char buf[8];
	int a, b, status;
	pid_t pid;

	char dir[256], fifo[300];
	int dfd = tu_dir(tu_diskbase(), dir, sizeof(dir)), w, opened;

	tu_tcp_pair(&a, &b);
	/* an open of a FIFO nobody writes to blocks: on a worker thread
	 * (compat) or an io_uring kernel worker, running at fork time */
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	vos_prep_openat(&r, AT_FDCWD, fifo, O_RDONLY | O_CLOEXEC, 0);
	r.user_data = 8;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	vos_prep_recv(&r, b, buf, sizeof(buf), 0);
	r.user_data = 7;
	ck_assert_int_eq(vos_submit(ctx, &r, 1), 1);
	/* io_uring opens a FIFO without waiting for a writer (its openat
	 * tries O_NONBLOCK first), the plain open(2) on a worker waits */
	opened = -1;
	if (vos_wait(ctx, &c, 1, 1, 20 * 1000000) == 1) {
		ck_assert_uint_eq(c.user_data, 8);
		opened = (int)c.res;
		ck_assert_int_ge(opened, 0);
	}
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(vos_ctx_destroy(ctx) == 0 ? 0 : 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	/* the parent's requests were not cancelled: both complete */
	ck_assert_int_eq(send(a, "live", 4, 0), 4);
	c = tu_wait1(ctx);
	ck_assert_uint_eq(c.user_data, 7);
	ck_assert_int_eq(c.res, 4);
	w = open(fifo, O_WRONLY | O_CLOEXEC | O_NONBLOCK);
	ck_assert_int_ge(w, 0);
	if (opened < 0) {
		c = tu_wait1(ctx);
		ck_assert_uint_eq(c.user_data, 8);
		opened = (int)c.res;
		ck_assert_int_ge(opened, 0);
	}
	close(opened);
	close(w);
	close(a);
	close(b);
	unlink(fifo);
	close(dfd);
	rmdir(dir);
	vos_ctx_destroy(ctx);
}
END_TEST

/* ---- a transport that lies about tags ------------------------------- */

struct liar {
	struct vos_transport_host *host;
	uint64_t tags[8];
	int n;
};

static int liar_open(struct vos_transport_host *host, void **priv)
{
	struct liar *l = calloc(1, sizeof(*l));

	l->host = host;
	*priv = l;
	return 0;
}

static int liar_submit(void *priv, const struct vos_req *reqs, unsigned n)
{
	struct liar *l = priv;

	for (unsigned i = 0; i < n && l->n < 8; i++)
		l->tags[l->n++] = reqs[i].user_data;
	return (int)n;
}

static int liar_reap(void *priv)
{
	struct liar *l = priv;
	int n = l->n;

	for (int i = 0; i < l->n; i++) {
		/* garbage first: out of range, then a tag not in flight */
		l->host->complete(l->host, 1u << 30, 1);
		l->host->complete(l->host, l->host->queue_depth - 1, 2);
		l->host->complete(l->host, l->tags[i], 7);
		/* the same tag twice: the second must be dropped */
		l->host->complete(l->host, l->tags[i], 8);
	}
	l->n = 0;
	return n;
}

static int liar_wait(void *priv, int64_t t)
{
	(void)t;
	return liar_reap(priv);
}

static void liar_close(void *priv)
{
	free(priv);
}

/* ---- a transport whose wait fails ------------------------------------ */

/* Holds every request; its first wait fails; each later wait delivers one
 * held request, oldest first: the first request ever (stale by then) with
 * -1, the rest with 42. */
struct flaky {
	struct vos_transport_host *host;
	uint64_t held[8];
	int nheld;
	bool failed, stale_sent;
};

static int flaky_open(struct vos_transport_host *host, void **priv)
{
	struct flaky *f = calloc(1, sizeof(*f));

	f->host = host;
	*priv = f;
	return 0;
}

static int flaky_submit(void *priv, const struct vos_req *reqs, unsigned n)
{
	struct flaky *f = priv;

	for (unsigned i = 0; i < n && f->nheld < 8; i++)
		f->held[f->nheld++] = reqs[i].user_data;
	return (int)n;
}

static int flaky_reap(void *priv)
{
	(void)priv;
	return 0;
}

static int flaky_wait(void *priv, int64_t t)
{
	struct flaky *f = priv;
	int n = f->nheld;

	(void)t;
	if (!f->failed) {
		f->failed = true;
		return -EIO; /* the transport broke */
	}
	if (n == 0)
		return 0;
	/* one per wait, oldest first: the stale one arrives alone */
	f->host->complete(f->host, f->held[0], f->stale_sent ? 42 : -1);
	f->stale_sent = true;
	memmove(f->held, f->held + 1, (size_t)(n - 1) * sizeof(f->held[0]));
	f->nheld = n - 1;
	return 1;
}

static const struct vos_transport_ops flaky_ops = {
	.abi = VOS_TRANSPORT_ABI,
	.name = "test-flaky",
	.open = flaky_open,
	.submit = flaky_submit,
	.reap = flaky_reap,
	.wait = flaky_wait,
	.close = liar_close,
};

START_TEST(failed_wait_does_not_leak_into_next_call)
{
	struct vos_config cfg;
	struct vos_ctx *ctx;

	ck_assert_int_eq(vos_transport_register(&flaky_ops), 0);
	vos_config_init(&cfg);
	cfg.transport = "test-flaky";
	cfg.queue_depth = 4;
	cfg.spin_ns = 0;
	ck_assert_int_eq(vos_ctx_create(&cfg, &ctx), 0);
	/* the transport's failure is the call's result */
	ck_assert_int_eq(vos_nop(ctx), -EIO);
	/* the next call gets its own result, not the stale -1 */
	ck_assert_int_eq(vos_nop(ctx), 42);
	ck_assert_int_eq(vos_nop(ctx), 42);
	vos_ctx_destroy(ctx);
}
END_TEST

static const struct vos_transport_ops liar_ops = {
	.abi = VOS_TRANSPORT_ABI,
	.name = "test-liar",
	.open = liar_open,
	.submit = liar_submit,
	.reap = liar_reap,
	.wait = liar_wait,
	.close = liar_close,
};

START_TEST(registry_and_bad_tags)
{
	struct vos_transport_ops bad = liar_ops;
	struct vos_config cfg;
	struct vos_ctx *ctx;
	struct vos_req r[2];
	struct vos_cqe c[8];

	ck_assert_ptr_nonnull(vos_transport_find("io_uring-local"));
	ck_assert_ptr_null(vos_transport_find("test-liar"));
	ck_assert_int_eq(vos_transport_register(NULL), -EINVAL);
	bad.abi = 999;
	ck_assert_int_eq(vos_transport_register(&bad), -EINVAL);
	bad = liar_ops;
	bad.submit = NULL;
	ck_assert_int_eq(vos_transport_register(&bad), -EINVAL);
	ck_assert_int_eq(vos_transport_register(&liar_ops), 0);
	ck_assert_int_eq(vos_transport_register(&liar_ops), -EEXIST);
	ck_assert_ptr_eq(vos_transport_find("test-liar"), &liar_ops);

	vos_config_init(&cfg);
	cfg.transport = "test-liar";
	cfg.queue_depth = 8;
	ck_assert_int_eq(vos_ctx_create(&cfg, &ctx), 0);
	vos_prep_nop(&r[0]);
	r[0].user_data = 100;
	vos_prep_nop(&r[1]);
	r[1].user_data = 200;
	ck_assert_int_eq(vos_submit(ctx, r, 2), 2);
	/* exactly two completions come back, with their own results */
	ck_assert_int_eq(vos_wait(ctx, c, 8, 2, 0), 2);
	ck_assert_uint_eq(c[0].user_data + c[1].user_data, 300);
	ck_assert_int_eq(c[0].res, 7);
	ck_assert_int_eq(c[1].res, 7);
	ck_assert_int_eq(vos_wait(ctx, c, 8, 1, 0), 0);
	/* and the queue's accounting is intact: 8 more fit */
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(vos_nop(ctx), 7);
	vos_ctx_destroy(ctx);
}
END_TEST

static Suite *api_suite(void)
{
	Suite *s = suite_create("api");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, config_defaults);
	tcase_add_test(tc, create_rejects_bad_config);
	tcase_add_test(tc, create_describe_destroy);
	tcase_add_test(tc, explicit_backends);
	tcase_add_test(tc, destroyed_context_is_refused);
	tcase_add_test(tc, null_arguments);
	tcase_add_test(tc, user_data_round_trip);
	tcase_add_test(tc, queue_full_is_ebusy);
	tcase_add_test(tc, wait_timeouts);
	tcase_add_test(tc, blocking_call_keeps_other_completions);
	tcase_add_test(tc, signal_interrupts_blocking_call);
	tcase_add_test(tc, destroy_with_requests_in_flight);
	tcase_add_test(tc, after_fork_child_gets_fresh_queue);
	tcase_add_test(tc, child_destroy_without_after_fork);
	tcase_add_test(tc, registry_and_bad_tags);
	tcase_add_test(tc, failed_wait_does_not_leak_into_next_call);
	tcase_add_test(tc, fallback_when_io_uring_is_eperm);
	tcase_add_test(tc, fallback_when_io_uring_is_enosys);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(api_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
