/*
 * check_attacks.c - hostile clients against real netd and stord daemons
 * (doc/security.md, section 7: one test per attack named there).
 *
 * Each test starts its own daemon on a private socket in a temp dir,
 * plays one attack from attacker processes (uid 65534 where the attack is
 * "any local user") and checks that the daemon held:
 *   (a) it survives and keeps serving (the attacker too, where that makes
 *       sense);
 *   (b) a well-behaved client of the same daemon, running meanwhile, has
 *       no round trip over 1 s;
 *   (c) once the attacker is killed or leaves, every client slot and fd
 *       is back: its reported client count and its /proc/PID/fd count
 *       return to their baseline;
 *   (d) SIGTERM stops it within 2 s.
 * Each test prints one line with what it measured.
 *
 * Attackers are children ("kids").  A kid talks to the test over two
 * pipes: it reports lines ("FAIL ..." when something it checks does not
 * hold), the test answers with single bytes.  Every wait is bounded: on
 * pipes, pidfds and sockets with poll, or by bounded polling of the
 * daemon's stats, fds and threads; nothing sleeps to synchronise.
 *
 * Run as root (CI does): attackers become uid 65534.  Not root: the parts
 * that need another uid are skipped, and each test says which.
 */
#define _GNU_SOURCE
/* raw.h first: it sets _GNU_SOURCE up for the system headers */
#include "raw.h"

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <ftw.h>
#include <grp.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "daemon.h"

#define NOBODY 65534
#define SEC_NS 1000000000LL
#define RT_LIMIT_US 1000000LL /* (b): no well-behaved round trip over 1 s */
#define STOP_LIMIT_MS 2000    /* (d): SIGTERM to exit */
#define HOUR_NS (3600ULL * 1000000000ULL)

static char work[80];      /* sockets, logs (short: socket paths) */
static char exp_dir[200];  /* stord's export root */
static struct td netd, stord;
static bool root;          /* attackers can be another uid */

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void pause_ms(int ms) /* between bounded polls of a daemon's state */
{
	struct timespec ts = { 0, (long)ms * 1000000 };

	nanosleep(&ts, NULL);
}

/* ---- the work directory and the daemons --------------------------------- */

/* Each test runs in its own process: at its exit (pass or fail), no
 * daemon outlives it and its directory goes. */
static char proc_in_export[300]; /* a procfs mounted there, if any */

static void cleanup(void)
{
	td_kill(&netd);
	td_kill(&stord);
	if (proc_in_export[0]) /* (before the tree goes: not into /proc) */
		umount2(proc_in_export, MNT_DETACH);
	td_rm_tree(work);
}

static void put_file(const char *name, const char *text, mode_t mode)
{
	char p[400];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", exp_dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void make_work(void)
{
	const char *t = getenv("TMPDIR");
	struct stat st;

	/* uid 65534 must reach the sockets: a TMPDIR it cannot search will
	 * not do */
	if (!t || !*t || stat(t, &st) < 0 || !(st.st_mode & S_IXOTH))
		t = "/tmp";
	root = geteuid() == 0;
	atexit(cleanup);
	snprintf(work, sizeof(work), "%s/vos-att-XXXXXX", t);
	ck_assert_ptr_nonnull(mkdtemp(work));
	ck_assert_int_eq(chmod(work, 0755), 0);
	snprintf(exp_dir, sizeof(exp_dir), "%s/export", work);
	ck_assert_int_eq(mkdir(exp_dir, 0755), 0);
	put_file("good-file", "good", 0644);
	put_file("shared", "shared", 0644);
	setenv("VOS_ROUTES", "none", 1);
}

static void start_netd(const char *const *extra)
{
	char s[200];

	snprintf(s, sizeof(s), "%s/netd.sock", work);
	td_start(&netd, "netd", s, extra);
}

static void start_stord(const char *const *extra)
{
	const char *args[24] = { "--root", exp_dir };
	char s[200];
	int n = 2;

	for (int i = 0; extra && extra[i] && n < 23; i++)
		args[n++] = extra[i];
	snprintf(s, sizeof(s), "%s/stord.sock", work);
	td_start(&stord, "stord", s, args);
}

/* (d): SIGTERM, and the daemon must be gone, cleanly, within 2 s. */
static int64_t stop_timed(struct td *d, const char *name)
{
	int64_t t0 = td_now_ms(), dt;
	int st = td_stop(d);

	dt = td_now_ms() - t0;
	ck_assert_msg(st == 0, "%s: exit status %d after SIGTERM (-1: it had "
		      "to be killed)", name, st);
	ck_assert_msg(dt < STOP_LIMIT_MS, "%s: SIGTERM took %lld ms", name,
		      (long long)dt);
	return dt;
}

/* utime + stime of a process, in clock ticks. */
static long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the name may hold anything */
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u "
				"%*u %*u %lu %lu", &ut, &st), 2);
	return (long)(ut + st);
}

/* Threads of pid blocked in openat2 (stord's slow pool opening FIFOs),
 * or -1. */
static int blocked_in_openat2(pid_t pid)
{
	return td_threads_in(pid, SYS_openat2);
}

static long stat_of(struct td *d, const char *key)
{
	char st[4096];

	ck_assert_int_eq(td_stats(d->sock, st, sizeof(st)), 0);
	return td_stat(st, key);
}

/* The requests in flight of all clients of uid, from a STATS report. */
static long inflight_of_uid(const char *text, long uid)
{
	char copy[4096], *save, *l;
	long sum = 0;

	snprintf(copy, sizeof(copy), "%s", text);
	for (l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		long u, in;

		if (sscanf(l, "client %*u pid %*d uid %ld gid %*d running %ld",
			   &u, &in) == 2 && u == uid)
			sum += in;
	}
	return sum;
}

/* What "back" means for (c): this many clients, at most this many fds. */
struct base {
	long clients, fds;
};

static struct base baseline(struct td *d, long clients)
{
	struct base b;

	ck_assert_msg(td_wait_clients(d->sock, clients, 10000),
		      "baseline: the daemon never had %ld clients", clients);
	b.clients = clients;
	b.fds = td_count_fds(d->pid);
	ck_assert_int_gt(b.fds, 0);
	return b;
}


/* (c): wait (at most ms, polling the daemon's stats and fds) until its
 * clients and fds are back at b.  How long it took; the fds in *fds. */
static int64_t wait_back(struct td *d, struct base b, int ms, long *fds)
{
	int64_t t0 = td_now_ms();
	char st[4096];
	long c = -1, f = -1;

	for (;;) {
		if (td_stats(d->sock, st, sizeof(st)) == 0)
			c = td_stat(st, "clients");
		f = td_count_fds(d->pid);
		if (c == b.clients && f >= 0 && f <= b.fds)
			break;
		ck_assert_msg(td_now_ms() - t0 < ms, "not back after %d ms: "
			      "clients %ld (baseline %ld), fds %ld (baseline "
			      "%ld)", ms, c, b.clients, f, b.fds);
		pause_ms(2);
	}
	if (fds)
		*fds = f;
	return td_now_ms() - t0;
}

/* Bind 0.0.0.0 or 127.0.0.1 (lo) to a TCP port ourselves: whether that
 * works (the port is free). */
static bool port_free(uint16_t port, bool lo)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port) };
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	ck_assert_int_ge(s, 0);
	sin.sin_addr.s_addr = htonl(lo ? INADDR_LOOPBACK : INADDR_ANY);
	ok = bind(s, (struct sockaddr *)&sin, sizeof(sin)) == 0;
	close(s);
	return ok;
}

/* ---- the well-behaved client --------------------------------------------- */

/* A library client of sock on the shm transport.  Its calls have a
 * deadline: a daemon that stops answering fails them, it cannot hang the
 * test. */
static int lib_ctx(const char *sock, struct vos_ctx **ctx)
{
	struct vos_config cfg;
	char o[200];

	vos_config_init(&cfg);
	snprintf(o, sizeof(o), "path=%s", sock);
	cfg.transport = "shm";
	cfg.options = o;
	cfg.deadline_ns = 10 * SEC_NS;
	return vos_ctx_create(&cfg, ctx);
}

struct good {
	struct vos_ctx *ctx;
	bool files;     /* stord: path calls and reads; netd: nop and fcntl */
	int sock, file; /* an fd of each kind to make calls on */
	int64_t worst_us;
	long n;
};

/* Attach (again), keeping the figures of earlier attachments. */
static void good_reopen(struct good *g, struct td *d)
{
	int ret;

	g->sock = g->file = -1;
	g->files = false;
	ret = lib_ctx(d->sock, &g->ctx);
	ck_assert_msg(ret == 0, "well-behaved client: cannot attach to %s: %s",
		      d->sock, strerror(-ret));
	if (d == &stord) {
		g->files = true;
		g->file = vos_openat(g->ctx, AT_FDCWD, "good-file", O_RDONLY, 0);
		ck_assert_int_ge(g->file, 0);
	} else {
		g->sock = vos_socket(g->ctx, AF_INET, SOCK_STREAM, 0);
		ck_assert_int_ge(g->sock, 0);
	}
}

/* n round trips, each timed: none may take 1 s or fail. */
static void good_rounds(struct good *g, int n)
{
	for (int i = 0; i < n; i++) {
		int64_t t0 = now_us(), dt;
		const char *what;
		long r;
		bool ok;

		switch (g->files ? g->n % 4 : g->n % 2) {
		case 0:
			what = "nop";
			r = vos_nop(g->ctx);
			ok = r == 0;
			break;
		case 1:
			if (g->files) {
				char buf[8];

				what = "pread";
				r = vos_pread(g->ctx, g->file, buf, sizeof(buf), 0);
				ok = r == 4 && memcmp(buf, "good", 4) == 0;
			} else {
				what = "fcntl(F_GETFL)";
				r = vos_fcntl(g->ctx, g->sock, F_GETFL, 0);
				ok = r >= 0 && (r & O_ACCMODE) == O_RDWR;
			}
			break;
		case 2: {
			struct statx stx;

			what = "statx";
			r = vos_statx(g->ctx, AT_FDCWD, "good-file", 0,
				      STATX_SIZE, &stx);
			ok = r == 0 && stx.stx_size == 4;
			break;
		}
		default:
			what = "openat+close";
			r = vos_openat(g->ctx, AT_FDCWD, "good-file", O_RDONLY, 0);
			ok = r >= 0 && vos_close(g->ctx, (int)r) == 0;
			break;
		}
		dt = now_us() - t0;
		ck_assert_msg(ok, "well-behaved client: %s gave %ld after %lld "
			      "ms", what, r, (long long)(dt / 1000));
		ck_assert_msg(dt < RT_LIMIT_US, "well-behaved client: %s took "
			      "%lld ms", what, (long long)(dt / 1000));
		if (dt > g->worst_us)
			g->worst_us = dt;
		g->n++;
	}
}

static void good_open(struct good *g, struct td *d)
{
	memset(g, 0, sizeof(*g));
	good_reopen(g, d);
}

static double good_worst_ms(const struct good *g)
{
	return (double)g->worst_us / 1000.0;
}

static void good_close(struct good *g)
{
	if (g->sock >= 0)
		vos_close(g->ctx, g->sock);
	if (g->file >= 0)
		vos_close(g->ctx, g->file);
	vos_ctx_destroy(g->ctx);
	g->ctx = NULL;
	g->sock = g->file = -1;
}

/* The common start of a netd attack: the work directory, netd with
 * args, a well-behaved client g that has made 40 round trips, and the
 * baseline with that one client attached. */
static struct base netd_with_good(const char *const *args, struct good *g)
{
	make_work();
	start_netd(args);
	good_open(g, &netd);
	good_rounds(g, 40);
	return baseline(&netd, 1);
}

/* Whether stord can run path calls for us: not root, it cannot take on a
 * client's identity (setgroups needs CAP_SETGID) and refuses them all
 * with -EPERM.  If not, say so, stop it and skip the test. */
static bool stord_serves_paths(const char *test)
{
	struct vos_ctx *ctx;
	int fd;

	ck_assert_int_eq(lib_ctx(stord.sock, &ctx), 0);
	fd = vos_openat(ctx, AT_FDCWD, "good-file", O_RDONLY, 0);
	if (fd >= 0)
		vos_close(ctx, fd);
	vos_ctx_destroy(ctx);
	if (fd == -EPERM && !root) {
		printf("%s: not root: stord refuses every path call (it cannot "
		       "take on a client's identity): skipped\n", test);
		stop_timed(&stord, "stord");
		return false;
	}
	ck_assert_msg(fd >= 0, "stord: open good-file: %s", strerror(-fd));
	return true;
}

/* The work directory, a directory name in the export that the attacker
 * (uid 65534) owns when we are root, path into d, and stord started with
 * args: whether stord serves paths here (see above). */
static bool stord_with_dir(const char *test, const char *const *args,
			   const char *name, char *d, size_t cap)
{
	make_work();
	snprintf(d, cap, "%s/%s", exp_dir, name);
	ck_assert_int_eq(mkdir(d, 0755), 0);
	if (root)
		ck_assert_int_eq(chown(d, NOBODY, NOBODY), 0);
	start_stord(args);
	return stord_serves_paths(test);
}

/* ---- attackers: children on two pipes ---------------------------------- */

struct kid {
	pid_t pid;
	int pidfd, up, down;
	char line[1024];
	size_t n;
};

/* In a kid: its ends of the pipes. */
static int k_up = -1, k_down = -1;

static void ksay(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void ksay(const char *fmt, ...)
{
	char b[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b, sizeof(b) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n > (int)sizeof(b) - 2)
		n = (int)sizeof(b) - 2;
	b[n++] = '\n';
	if (write(k_up, b, (size_t)n) != n)
		_exit(99);
}

static void kfail(int line, const char *cond, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
static void kfail(int line, const char *cond, const char *fmt, ...)
{
	char b[700];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	ksay("FAIL (attacker pid %d uid %d, line %d) %s: %s", (int)getpid(),
	     (int)getuid(), line, cond, b);
	_exit(1);
}

/* A check in a kid: on failure it says so and exits 1. */
#define KCHECK(cond, ...) \
	do { \
		if (!(cond)) \
			kfail(__LINE__, #cond, __VA_ARGS__); \
	} while (0)

/* In a kid: wait (at most ms) for a byte from the test; it, or -1. */
static int kwait(int ms)
{
	struct pollfd p = { k_down, POLLIN, 0 };
	unsigned char c;

	if (poll(&p, 1, ms) != 1 || read(k_down, &c, 1) != 1)
		return -1;
	return c;
}

/* In a kid: has the test said something (without waiting)? */
static bool kpoke(void)
{
	return kwait(0) >= 0;
}

static int drop_to(int uid)
{
	if (uid < 0)
		return 0;
	if (setgroups(0, NULL) < 0 || setresgid((gid_t)uid, (gid_t)uid,
						  (gid_t)uid) < 0 ||
	    setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) < 0)
		return -errno;
	return 0;
}

/* The uid an "any local user" attacker runs as: nobody, or (not root)
 * our own (-1: no change). */
static int attacker(void)
{
	return root ? NOBODY : -1;
}

/* Start fn(arg) in a kid running as uid (-1: ours).  It keeps only its
 * pipes (3 and 4) and stdio; it dies with the test. */
static void kid_start(struct kid *k, int uid, int (*fn)(void *), void *arg)
{
	int up[2], down[2];
	pid_t parent = getpid();

	ck_assert_int_eq(pipe2(up, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(down, O_CLOEXEC), 0);
	fflush(stdout);
	fflush(stderr);
	k->pid = fork();
	ck_assert_int_ge(k->pid, 0);
	if (k->pid == 0) {
		int u = fcntl(up[1], F_DUPFD, 600), d = fcntl(down[0], F_DUPFD,
							       600);
		int err;

		if (u < 0 || d < 0 || dup2(u, 3) != 3 || dup2(d, 4) != 4)
			_exit(98);
		close_range(5, ~0u, 0); /* the test's other fds: not ours */
		k_up = 3;
		k_down = 4;
		err = uid >= 0 && root ? drop_to(uid) : 0;
		if (err < 0) {
			ksay("FAIL cannot become uid %d: %s", uid,
			     strerror(-err));
			_exit(1);
		}
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* after the uid change */
		if (getppid() != parent)
			_exit(97);
		_exit(fn(arg));
	}
	close(up[1]);
	close(down[0]);
	k->up = up[0];
	k->down = down[1];
	k->n = 0;
	k->pidfd = (int)syscall(SYS_pidfd_open, k->pid, 0);
	ck_assert_int_ge(k->pidfd, 0);
}

/* The kid's next line (at most ms): it, or NULL.  A line that has not
 * come whole by then is kept for the next call. */
static const char *kid_line(struct kid *k, int ms)
{
	int64_t end = td_now_ms() + ms;

	for (;;) {
		struct pollfd p = { k->up, POLLIN, 0 };
		int64_t left = end - td_now_ms();
		char c;

		if (poll(&p, 1, left > 0 ? (int)left : 0) != 1)
			return NULL;
		if (read(k->up, &c, 1) != 1)
			return NULL; /* gone */
		if (c == '\n') {
			k->line[k->n] = '\0';
			k->n = 0;
			return k->line;
		}
		if (k->n < sizeof(k->line) - 1)
			k->line[k->n++] = c;
	}
}

/* The kid's next line must start with prefix (at most ms): the rest. */
static const char *kid_expect(struct kid *k, const char *prefix, int ms)
{
	const char *l = kid_line(k, ms);

	ck_assert_msg(l, "attacker %d: no '%s' within %d ms", (int)k->pid,
		      prefix, ms);
	ck_assert_msg(strncmp(l, "FAIL", 4) != 0, "%s", l);
	ck_assert_msg(strncmp(l, prefix, strlen(prefix)) == 0,
		      "attacker %d: '%s', expected '%s'", (int)k->pid, l,
		      prefix);
	return l + strlen(prefix);
}

static void kid_tell(struct kid *k, char c)
{
	ck_assert_int_eq(write(k->down, &c, 1), 1);
}

static void kid_close(struct kid *k)
{
	close(k->up);
	close(k->down);
	close(k->pidfd);
	k->pid = 0;
}

/* Wait (at most ms) for the kid to exit; it must exit 0. */
static void kid_join(struct kid *k, int ms)
{
	struct pollfd p = { k->pidfd, POLLIN, 0 };
	const char *l;
	int st = 0;

	if (poll(&p, 1, ms) != 1) {
		kill(k->pid, SIGKILL);
		waitpid(k->pid, &st, 0);
		ck_abort_msg("attacker %d did not exit within %d ms",
			     (int)k->pid, ms);
	}
	ck_assert_int_eq(waitpid(k->pid, &st, 0), k->pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		while ((l = kid_line(k, 0)) && strncmp(l, "FAIL", 4) != 0)
			;
		ck_abort_msg("attacker %d: status %#x: %s", (int)k->pid, st,
			     l ? l : "(said nothing)");
	}
	kid_close(k);
}

/* Tell the attacker to stop, then join it (10 s at most). */
static void kid_quit(struct kid *k)
{
	kid_tell(k, 'q');
	kid_join(k, 10000);
}

/* SIGKILL n kids at once, then reap them (bounded: pidfds). */
static void kid_kill_all(struct kid *k, int n)
{
	for (int i = 0; i < n; i++)
		kill(k[i].pid, SIGKILL);
	for (int i = 0; i < n; i++) {
		struct pollfd p = { k[i].pidfd, POLLIN, 0 };
		int st;

		ck_assert_msg(poll(&p, 1, 10000) == 1, "attacker %d survived "
			      "SIGKILL for 10 s", (int)k[i].pid);
		ck_assert_int_eq(waitpid(k[i].pid, &st, 0), k[i].pid);
		kid_close(&k[i]);
	}
}

static void kid_kill(struct kid *k)
{
	kid_kill_all(k, 1);
}

/* ---- the ring by hand (in kids) ----------------------------------------- */

/* One request with tag 0, its result (a kid check fails if none comes
 * within 5 s). */
static int64_t rcall(struct raw *r, struct vos_wire_req w)
{
	int64_t res;

	w.tag = 0;
	res = raw_call(r, &w, 5000);
	KCHECK(res != INT64_MIN, "op %u: no completion within 5 s", w.op);
	return res;
}

static int64_t r_socket(struct raw *r, int fam, int type)
{
	struct vos_wire_req w = raw_req(VOS_OP_SOCKET, -1, 0);

	w.arg = (uint64_t)fam;
	w.op_flags = (uint32_t)type;
	w.fd2 = 0;
	return rcall(r, w);
}

/* Addresses and option values go to tag 0's small slot (data offset 0);
 * socklen_ts to offset 128. */
static int64_t r_bind(struct raw *r, int64_t fd, const void *sa, uint32_t len)
{
	struct vos_wire_req w = raw_req(VOS_OP_BIND, (int32_t)fd, 0);

	memcpy(raw_data(r), sa, len);
	w.addr = 0;
	w.addr_len = w.len = len;
	return rcall(r, w);
}

static int64_t r_setsockopt(struct raw *r, int64_t fd, int level, int name,
			    const void *v, uint32_t len)
{
	struct vos_wire_req w = raw_req(VOS_OP_SETSOCKOPT, (int32_t)fd, 0);

	memcpy(raw_data(r), v, len);
	w.addr = 0;
	w.addr_len = w.len = len;
	w.arg = (uint64_t)level;
	w.op_flags = (uint32_t)name;
	return rcall(r, w);
}

static int64_t r_getsockopt(struct raw *r, int64_t fd, int level, int name,
			    void *v, uint32_t *len)
{
	struct vos_wire_req w = raw_req(VOS_OP_GETSOCKOPT, (int32_t)fd, 0);
	uint8_t *d = raw_data(r);
	socklen_t l = *len;
	int64_t res;

	memcpy(d + 128, &l, sizeof(l));
	w.addr = 0;
	w.addr_len = *len;
	w.addr2 = 128;
	w.addr2_len = sizeof(l);
	w.arg = (uint64_t)level;
	w.op_flags = (uint32_t)name;
	res = rcall(r, w);
	if (res == 0) {
		memcpy(&l, d + 128, sizeof(l));
		if (l > *len)
			l = *len;
		memcpy(v, d, l);
		*len = l;
	}
	return res;
}

static int r_getsockopt_int(struct raw *r, int64_t fd, int level, int name)
{
	uint32_t len = sizeof(int);
	int v = -1;
	int64_t res = r_getsockopt(r, fd, level, name, &v, &len);

	KCHECK(res == 0, "getsockopt(%d, %d): %lld", level, name,
	       (long long)res);
	return v;
}

/* getsockname: the port the socket is bound to (0: none), or -errno. */
static long r_port(struct raw *r, int64_t fd)
{
	struct vos_wire_req w = raw_req(VOS_OP_GETSOCKNAME, (int32_t)fd, 0);
	uint8_t *d = raw_data(r);
	socklen_t l = 128;
	uint16_t port;
	int64_t res;

	memset(d, 0, 128);
	memcpy(d + 128, &l, sizeof(l));
	w.addr = 0;
	w.addr_len = 128;
	w.addr2 = 128;
	w.addr2_len = sizeof(l);
	res = rcall(r, w);
	if (res < 0)
		return (long)res;
	memcpy(&port, d + 2, sizeof(port)); /* sin_port and sin6_port */
	return ntohs(port);
}

static int64_t r_close(struct raw *r, int64_t fd)
{
	return rcall(r, raw_req(VOS_OP_CLOSE, (int32_t)fd, 0));
}

static int64_t r_ioctl(struct raw *r, int64_t fd, unsigned long req, int *v)
{
	struct vos_wire_req w = raw_req(VOS_OP_IOCTL, (int32_t)fd, 0);
	int64_t res;

	memcpy(raw_data(r), v, sizeof(*v));
	w.addr = 0;
	w.addr_len = sizeof(*v);
	w.op_flags = (uint32_t)req;
	res = rcall(r, w);
	memcpy(v, raw_data(r), sizeof(*v));
	return res;
}

static int64_t r_fcntl(struct raw *r, int64_t fd, int cmd, long arg)
{
	struct vos_wire_req w = raw_req(VOS_OP_FCNTL, (int32_t)fd, 0);

	w.op_flags = (uint32_t)cmd;
	w.arg = (uint64_t)arg;
	return rcall(r, w);
}

/* An OPENAT of path (relative to the export root) with tag, its path in
 * the tag's small slot. */
static struct vos_wire_req r_open_req(struct raw *r, uint32_t tag,
				      const char *path, int flags)
{
	struct vos_wire_req w = raw_req(VOS_OP_OPENAT, VOS_WIRE_FD_ROOT, tag);
	size_t n = strlen(path) + 1;

	memcpy(raw_data(r) + vos__geom_small(&r->g, tag), path, n);
	w.addr = vos__geom_small(&r->g, tag);
	w.addr_len = (uint32_t)n;
	w.op_flags = (uint32_t)flags;
	return w;
}

/* Wait (at most ms) for the control connection's end of stream: the
 * daemon dropped us.  The ms it took, or -1. */
static int64_t wait_eof(int sock, int ms)
{
	int64_t t0 = raw_now_ms(), end = t0 + ms;

	for (;;) {
		struct pollfd p = { sock, POLLIN, 0 };
		int64_t left = end - raw_now_ms();
		char buf[VOS_WIRE_MSG_MAX];
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) != 1)
			return -1;
		n = recv(sock, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return raw_now_ms() - t0;
	}
}

/* Send 1-byte rings until the doorbell is full: how many went. */
static long bell_fill(int bell)
{
	long n = 0;
	char one = 1;

	while (n < 10000000 && send(bell, &one, 1, MSG_DONTWAIT |
				    MSG_NOSIGNAL) == 1)
		n++;
	return n;
}

/* =========================================================================
 * 1. The region: sealed.
 * ========================================================================= */

static int kid_region(void *arg)
{
	const int want = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	struct raw r;
	struct stat st;
	int ret = raw_attach(&r, arg, 64, 4096), seals, nops = 0;

	KCHECK(ret == 0, "attach: %s", strerror(-ret));
	seals = fcntl(r.memfd, F_GET_SEALS);
	KCHECK(seals >= 0 && (seals & want) == want, "seals %#x", seals);
	errno = 0;
	KCHECK(ftruncate(r.memfd, 0) < 0 && errno == EPERM,
	       "ftruncate(0): errno %d", errno);
	errno = 0;
	KCHECK(ftruncate(r.memfd, (off_t)r.size * 2) < 0 && errno == EPERM,
	       "ftruncate(bigger): errno %d", errno);
	errno = 0;
	KCHECK(fallocate(r.memfd, 0, (off_t)r.size, 4096) < 0 && errno == EPERM,
	       "fallocate beyond the end: errno %d", errno);
	errno = 0;
	KCHECK(fcntl(r.memfd, F_ADD_SEALS, F_SEAL_WRITE) < 0 && errno == EPERM,
	       "F_ADD_SEALS(F_SEAL_WRITE): errno %d", errno);
	KCHECK(fstat(r.memfd, &st) == 0 && (uint64_t)st.st_size == r.size,
	       "size %lld, not %llu", (long long)st.st_size,
	       (unsigned long long)r.size);
	KCHECK(fcntl(r.memfd, F_GET_SEALS) == seals, "seals changed");
	/* and the daemon goes on serving this very client */
	for (; nops < 100; nops++)
		KCHECK(rcall(&r, raw_req(VOS_OP_NOP, -1, 0)) == 0, "nop");
	ksay("SEALED %#x %d", seals, nops);
	kwait(60000);
	raw_close(&r);
	return 0;
}

START_TEST(region_sealed)
{
	struct good g;
	struct base b;
	struct kid k;
	unsigned seals;
	int nops;
	long fds, during;
	int64_t back, stop;

	b = netd_with_good(NULL, &g);
	kid_start(&k, attacker(), kid_region, netd.sock);
	ck_assert_int_eq(sscanf(kid_expect(&k, "SEALED ", 10000), "%x %d",
				&seals, &nops), 2);
	good_rounds(&g, 300);
	during = stat_of(&netd, "clients");
	ck_assert_int_eq(during, 2);
	kid_quit(&k);
	back = wait_back(&netd, b, 5000, &fds);
	good_rounds(&g, 40);
	good_close(&g);
	stop = stop_timed(&netd, "netd");
	printf("region_sealed: uid %d: seals %#x (shrink, grow, seal); "
	       "ftruncate(0), ftruncate(2x), fallocate beyond the end, "
	       "F_ADD_SEALS(F_SEAL_WRITE) all EPERM; %d NOPs served to it after; "
	       "worst well-behaved round trip %.2f ms over %ld; clients %ld -> "
	       "%ld in %lld ms, fds %ld -> %ld; SIGTERM stop %lld ms\n",
	       root ? NOBODY : (int)getuid(), seals, nops, good_worst_ms(&g),
	       g.n, during, b.clients, (long long)back, b.fds, fds,
	       (long long)stop);
}
END_TEST

/* GROW with area fd (or none): the daemon's REPLY status. */
static int32_t raw_grow(struct raw *r, uint64_t off, uint64_t size, int fd)
{
	struct vos_wire_grow g = { off, size };
	union {
		struct vos_wire_msg h;
		char b[VOS_WIRE_MSG_MAX + 1];
	} m;
	int fds[VOS__SHM_MAX_FDS];
	unsigned nfds = 0;
	int n = vos__shm_ctl_send(r->sock, VOS_WIRE_MSG_GROW, 0, &g, sizeof(g),
				  &fd, fd >= 0 ? 1 : 0);

	KCHECK(n == 0, "send GROW: %s", strerror(-n));
	n = vos__shm_ctl_recv(r->sock, m.b, sizeof(m.b) - 1, fds, &nfds, 5000);
	KCHECK(n > 0 && m.h.type == VOS_WIRE_MSG_REPLY && nfds == 0,
	       "GROW: no reply (%d)", n);
	return m.h.status;
}

/* A memfd of size bytes with these seals. */
static int memfd_sealed(uint64_t size, int seals)
{
	int fd = memfd_create("attacker", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	KCHECK(fd >= 0 && ftruncate(fd, (off_t)size) == 0 &&
	       (!seals || fcntl(fd, F_ADD_SEALS, seals) == 0),
	       "memfd: %s", strerror(errno));
	return fd;
}

/* GROW, from a client that lies: every area that could later shrink
 * under the daemon (SIGBUS), or is not where or what it says, or is more
 * than --max-grow-mib (2 here), is refused; the client stays served; an
 * honest area is read and written in place, and a buffer one byte past
 * its end is refused. */
static int kid_grow(void *arg)
{
	const int all = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	struct raw r;
	uint64_t first;
	int ret = raw_attach(&r, arg, 8, 4096), fd, v;
	int32_t st[8];
	int64_t sock, res, past;
	struct vos_wire_req w;
	int *area;

	KCHECK(ret == 0, "attach: %s", strerror(-ret));
	first = (r.g.data_size + 4095) & ~(uint64_t)4095;
	st[0] = raw_grow(&r, first, 1 << 20, -1);              /* no area */
	fd = memfd_sealed(1 << 20, 0);
	st[1] = raw_grow(&r, first, 1 << 20, fd);              /* unsealed */
	KCHECK(fcntl(fd, F_ADD_SEALS, F_SEAL_GROW | F_SEAL_SEAL) == 0,
	       "seal: %s", strerror(errno));
	st[2] = raw_grow(&r, first, 1 << 20, fd);              /* may shrink */
	close(fd);
	fd = memfd_sealed(2 << 20, all);
	st[3] = raw_grow(&r, first, 1 << 20, fd);              /* wrong size */
	close(fd);
	fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	KCHECK(fd >= 0 && ftruncate(fd, 1 << 20) == 0, "tmpfile");
	st[4] = raw_grow(&r, first, 1 << 20, fd);              /* a file */
	close(fd);
	fd = memfd_sealed(1 << 20, all);
	st[5] = raw_grow(&r, 0, 1 << 20, fd);                  /* the region */
	st[6] = raw_grow(&r, first + 4096, 1 << 20, fd);       /* a gap */
	close(fd);
	fd = memfd_sealed(4 << 20, all);
	st[7] = raw_grow(&r, first, 4 << 20, fd);              /* too much */
	close(fd);
	KCHECK(st[0] == -EINVAL && st[1] == -EBADMSG && st[2] == -EBADMSG &&
	       st[3] == -EBADMSG && st[4] == -EBADMSG && st[5] == -EINVAL &&
	       st[6] == -EINVAL && st[7] == -ENOSPC,
	       "GROW statuses %d %d %d %d %d %d %d %d", st[0], st[1], st[2],
	       st[3], st[4], st[5], st[6], st[7]);
	/* still served */
	KCHECK(rcall(&r, raw_req(VOS_OP_NOP, -1, 0)) == 0, "nop");
	/* an honest area: the daemon fills an int in it, in place */
	fd = memfd_sealed(1 << 20, all);
	area = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	KCHECK(area != MAP_FAILED, "mmap: %s", strerror(errno));
	KCHECK(raw_grow(&r, first, 1 << 20, fd) == 0, "honest GROW refused");
	close(fd);
	sock = r_socket(&r, AF_INET, SOCK_STREAM);
	KCHECK(sock >= 0, "socket: %lld", (long long)sock);
	area[1000] = 0x7777;
	w = raw_req(VOS_OP_IOCTL, (int32_t)sock, 0);
	w.addr = (uint32_t)first + 4000;
	w.addr_len = sizeof(int);
	w.op_flags = FIONREAD;
	res = rcall(&r, w);
	v = area[1000];
	w.addr = (uint32_t)(first + (1 << 20)) - 2; /* 2 bytes past the end */
	past = rcall(&r, w);
	KCHECK(res == 0 && v == 0 && past < 0, "ioctl in the area: %lld, "
	       "value %#x; past its end: %lld", (long long)res, v,
	       (long long)past);
	munmap(area, 1 << 20);
	/* many small areas: each is a mapping in the daemon (a million of
	 * them would exhaust its vm.max_map_count): the 17th is refused
	 * although the bytes are well within max-grow-mib */
	{
		uint64_t at = first + (1 << 20);
		int took = 1, last = 0;

		while (took < 64) {
			fd = memfd_sealed(4096, all);
			last = raw_grow(&r, at, 4096, fd);
			close(fd);
			if (last < 0)
				break;
			took++;
			at += 4096;
		}
		KCHECK(took == VOS_WIRE_GROW_MAX && last == -ENOSPC,
		       "took %d areas, then %d", took, last);
		KCHECK(rcall(&r, raw_req(VOS_OP_NOP, -1, 0)) == 0, "nop");
	}
	ksay("GROWN %d %d %d %d %d %d %d %d %lld; areas: %u then %d",
	     st[0], st[1], st[2], st[3], st[4], st[5], st[6], st[7],
	     (long long)past, VOS_WIRE_GROW_MAX, -ENOSPC);
	kwait(60000);
	raw_close(&r);
	return 0;
}

START_TEST(grow_lies_refused)
{
	const char *args[] = { "--max-grow-mib", "2", NULL };
	struct good g;
	struct base b;
	struct kid k;
	const char *line;
	long fds;
	int64_t back, stop;

	b = netd_with_good(args, &g);
	kid_start(&k, attacker(), kid_grow, netd.sock);
	line = kid_expect(&k, "GROWN ", 10000);
	good_rounds(&g, 100);
	kid_quit(&k);
	back = wait_back(&netd, b, 5000, &fds);
	good_rounds(&g, 20);
	good_close(&g);
	stop = stop_timed(&netd, "netd");
	printf("grow_lies_refused: GROW statuses (no area, unsealed, may "
	       "shrink, wrong size, a file, the region, a gap, past "
	       "max-grow-mib; a buffer past the area's end; areas taken "
	       "before the count refuses one): %s; an honest area served in "
	       "place; worst well-behaved round trip %.2f ms; "
	       "fds back to %ld in %lld ms; SIGTERM stop %lld ms\n",
	       line, good_worst_ms(&g), fds, (long long)back,
	       (long long)stop);
}
END_TEST

/* =========================================================================
 * 2. The doorbell: made blocking, filled, never read; shut down.
 * ========================================================================= */

static int kid_doorbell_full(void *arg)
{
	struct raw r;
	struct vos_wire_header *h;
	struct vos_wire_cqe *cq;
	long filled, nops = 0;
	int fl, inq = -1, ret = raw_attach(&r, arg, 64, 4096);
	int64_t end;

	KCHECK(ret == 0, "attach: %s", strerror(-ret));
	h = raw_hdr(&r);
	cq = (void *)(r.map + r.g.cq_off);
	/* our end of the doorbell: blocking, full, never read */
	fl = fcntl(r.bell, F_GETFL);
	KCHECK(fl >= 0 && fcntl(r.bell, F_SETFL, fl & ~O_NONBLOCK) == 0,
	       "F_SETFL: %s", strerror(errno));
	KCHECK(!(fcntl(r.bell, F_GETFL) & O_NONBLOCK), "still non-blocking");
	filled = bell_fill(r.bell);
	KCHECK(filled > 0, "the doorbell took nothing");
	/* "ring me": the daemon rings us after each batch, into a doorbell
	 * nobody reads */
	__atomic_fetch_or(&h->client_flags, VOS_WIRE_CLIENT_NEED_WAKEUP,
			  __ATOMIC_SEQ_CST);
	ksay("FILLED %ld", filled);
	end = raw_now_ms() + 30000;
	while (raw_now_ms() < end && !kpoke()) {
		struct vos_wire_req w[32];
		uint32_t got = 0;
		int64_t until;

		for (unsigned i = 0; i < 32; i++)
			w[i] = raw_req(VOS_OP_NOP, -1, i);
		raw_submit(&r, w, 32, true); /* the ring finds it full */
		/* the completions, watched in the region only */
		until = raw_now_ms() + 10000;
		while ((got = raw_cq_count(&r)) < 32 && raw_now_ms() < until)
			sched_yield();
		KCHECK(got >= 32, "only %u of 32 NOPs completed in 10 s", got);
		for (unsigned i = 0; i < 32; i++) {
			struct vos_wire_cqe e = cq[r.cq_head++ & (r.g.entries - 1)];

			KCHECK(e.tag < 32 && e.res == 0, "completion tag %llu "
			       "res %lld", (unsigned long long)e.tag,
			       (long long)e.res);
		}
		__atomic_store_n(&h->cq_head, r.cq_head, __ATOMIC_RELEASE);
		nops += 32;
		filled += bell_fill(r.bell); /* keep the daemon's end full */
	}
	ioctl(r.bell, FIONREAD, &inq);
	ksay("DONE %ld %ld %d", nops, filled, inq);
	kwait(60000); /* SIGKILLed here */
	return 0;
}

START_TEST(doorbell_blocking_full)
{
	/* one worker: the well-behaved client shares the attacker's, so a
	 * worker that blocked on the attacker's doorbell would show */
	const char *args[] = { "--workers", "1", NULL };
	struct good g;
	struct base b;
	struct kid k;
	long filled, filled2, nops, fds, during;
	int inq;
	int64_t back, stop;

	b = netd_with_good(args, &g);
	kid_start(&k, attacker(), kid_doorbell_full, netd.sock);
	filled = atol(kid_expect(&k, "FILLED ", 10000));
	good_rounds(&g, 500); /* while the attacker storms */
	kid_tell(&k, 's');
	ck_assert_int_eq(sscanf(kid_expect(&k, "DONE ", 20000), "%ld %ld %d",
				&nops, &filled2, &inq), 3);
	ck_assert_int_gt(nops, 0);
	during = stat_of(&netd, "clients");
	ck_assert_int_eq(during, 2);
	kid_kill(&k);
	back = wait_back(&netd, b, 5000, &fds);
	good_rounds(&g, 40);
	/* and a stop while an attacker storms with its doorbell full */
	kid_start(&k, attacker(), kid_doorbell_full, netd.sock);
	kid_expect(&k, "FILLED ", 10000);
	good_rounds(&g, 20);
	stop = stop_timed(&netd, "netd");
	kid_kill(&k);
	good_close(&g);
	printf("doorbell_blocking_full (1 worker): attacker's doorbell end "
	       "blocking, filled (%ld bytes at first, %ld in all), NEED_WAKEUP "
	       "set, never "
	       "read (%d bytes of the daemon's rings left in it), %ld NOPs; "
	       "worst well-behaved round trip %.2f ms over %ld; after SIGKILL "
	       "clients %ld -> %ld in %lld ms, fds %ld -> %ld; SIGTERM during a "
	       "second such attack: %lld ms\n", filled, filled2, inq, nops,
	       good_worst_ms(&g), g.n, during, b.clients, (long long)back,
	       b.fds, fds, (long long)stop);
}
END_TEST

static int kid_bell_shutdown(void *arg)
{
	struct raw r;
	int ret = raw_attach(&r, arg, 64, 4096);
	int64_t t;

	KCHECK(ret == 0, "attach: %s", strerror(-ret));
	KCHECK(rcall(&r, raw_req(VOS_OP_NOP, -1, 0)) == 0, "nop");
	KCHECK(shutdown(r.bell, SHUT_RDWR) == 0, "shutdown: %s",
	       strerror(errno));
	t = wait_eof(r.sock, 2000);
	KCHECK(t >= 0, "the daemon did not drop us within 2 s");
	ksay("EOF %lld", (long long)t);
	kwait(60000); /* alive, holding the region and the doorbell */
	raw_close(&r);
	return 0;
}

START_TEST(doorbell_shut_down)
{
	struct good g;
	struct base b;
	struct kid k;
	long eof_ms, t0, t1, fds, fds2, hz = sysconf(_SC_CLK_TCK);
	int64_t back, back2, stop, w0, w1;
	double cpu;

	b = netd_with_good(NULL, &g);
	kid_start(&k, attacker(), kid_bell_shutdown, netd.sock);
	eof_ms = atol(kid_expect(&k, "EOF ", 5000));
	/* dropped while its process lives on */
	back = wait_back(&netd, b, 5000, &fds);
	/* no busy loop on a hung-up fd: the daemon's CPU over 1 s */
	t0 = cpu_ticks(netd.pid);
	w0 = td_now_ms();
	poll(NULL, 0, 1000); /* a measuring window, not a synchronisation */
	t1 = cpu_ticks(netd.pid);
	w1 = td_now_ms();
	cpu = 100.0 * (double)(t1 - t0) / (double)hz /
	      ((double)(w1 - w0) / 1000.0);
	ck_assert_msg(cpu < 50.0, "netd used %.0f%% of a CPU after dropping "
		      "the client", cpu);
	good_rounds(&g, 200);
	kid_kill(&k);
	back2 = wait_back(&netd, b, 5000, &fds2);
	good_close(&g);
	stop = stop_timed(&netd, "netd");
	printf("doorbell_shut_down: dropped (control connection EOF) %ld ms "
	       "after shutdown(SHUT_RDWR); clients back to %ld in %lld ms while "
	       "the attacker lives (fds %ld -> %ld); netd used %.1f%% of a CPU "
	       "over the next %lld ms; worst well-behaved round trip %.2f ms "
	       "over %ld; after SIGKILL fds %ld (%lld ms); SIGTERM stop %lld "
	       "ms\n", eof_ms, b.clients, (long long)back, b.fds, fds, cpu,
	       (long long)(w1 - w0), good_worst_ms(&g), g.n, fds2,
	       (long long)back2, (long long)stop);
}
END_TEST

/* =========================================================================
 * 3. Starvation by timers: many clients x 256 one-hour TIMEOUTs.
 * ========================================================================= */

static int kid_timers(void *arg)
{
	struct vos_wire_req w[256];
	struct raw r;
	int ret = raw_attach(&r, arg, 256, 4096);

	KCHECK(ret == 0, "attach: %s", strerror(-ret));
	for (unsigned t = 0; t < 256; t++) {
		w[t] = raw_req(VOS_OP_TIMEOUT, -1, t);
		w[t].off = HOUR_NS;
	}
	raw_submit(&r, w, 256, true);
	ksay("QUEUED");
	kwait(120000); /* SIGKILLed here */
	return 0;
}

/* nkids attackers, each with its 256 timers; wait until every one is
 * attached and their timers are in flight up to the uid's bound
 * (--max-inflight-uid 1024), the rest waiting in their rings. */
static void timers_attack(const char *name, struct td *d, struct kid *k,
			  int nkids, long want)
{
	long inflight = -1, clients = -1;
	char st[4096];
	int64_t t0;

	/* one after the other: attaching all at once, they would meet the
	 * uid's bound on connections not yet attached (--max-pending-uid) */
	for (int i = 0; i < nkids; i++) {
		kid_start(&k[i], NOBODY, kid_timers, d->sock);
		kid_expect(&k[i], "QUEUED", 20000);
	}
	t0 = td_now_ms();
	for (;;) {
		if (td_stats(d->sock, st, sizeof(st)) == 0) {
			clients = td_stat(st, "clients");
			inflight = inflight_of_uid(st, NOBODY);
			if (clients >= nkids && inflight == want)
				break;
		}
		ck_assert_msg(td_now_ms() - t0 < 10000, "%s: %ld clients, %ld "
			      "timers in flight (want %d, %ld)", name, clients,
			      inflight, nkids, want);
		pause_ms(2);
	}
}

/* d (started with args) against nkids attackers. */
static void timers_flood_run(const char *name, struct td *d,
			     const char *const *args, int nkids)
{
	struct kid *k = calloc((size_t)nkids, sizeof(*k));
	long want = 0, workers = stat_of(d, "workers");
	long fds, peak;
	int64_t back, stop, stop2;
	struct good g;
	struct base b;
	char st[4096];

	ck_assert_ptr_nonnull(k);
	/* the uid's bound, 1024 on each worker (each has its own engine);
	 * clients go to the worker with the fewest: nkids + our one spread
	 * over the workers */
	ck_assert_int_gt(workers, 0);
	for (long w = 0; w < workers; w++) {
		long n = (nkids + 1) / workers + (w < (nkids + 1) % workers);

		/* the well-behaved client is on one of them: not uid 65534 */
		if (w == 0)
			n--;
		want += n * 256 < 1024 ? n * 256 : 1024;
	}
	good_open(&g, d);
	good_rounds(&g, 40);
	b = baseline(d, 1);
	timers_attack(name, d, k, nkids, want);
	peak = td_count_fds(d->pid);
	good_rounds(&g, 500);
	ck_assert_int_eq(td_stats(d->sock, st, sizeof(st)), 0);
	ck_assert_int_eq(td_stat(st, "clients"), nkids + 1);
	ck_assert_int_eq(inflight_of_uid(st, NOBODY), want);
	kid_kill_all(k, nkids);
	back = wait_back(d, b, 5000, &fds);
	good_rounds(&g, 40);
	good_close(&g);
	stop = stop_timed(d, name);
	/* and SIGTERM while they are all there, their timers pending */
	if (d == &netd)
		start_netd(args);
	else
		start_stord(args);
	timers_attack(name, d, k, nkids, want);
	stop2 = stop_timed(d, name);
	kid_kill_all(k, nkids);
	printf("%s: %d clients (uid %d) x 256 one-hour timers, %ld in flight "
	       "(the uid's bound: 1024 on each worker); worst well-behaved round trip %.2f ms over "
	       "%ld; after SIGKILL clients %d -> %ld in %lld ms, fds %ld -> %ld "
	       "(baseline %ld); SIGTERM stop %lld ms; SIGTERM with all the "
	       "timers pending %lld ms\n", name, nkids, NOBODY, want,
	       good_worst_ms(&g), g.n, nkids + 1, b.clients, (long long)back,
	       peak, fds, b.fds, (long long)stop, (long long)stop2);
	free(k);
}

START_TEST(timers_flood)
{
	make_work();
	start_stord(NULL);
	if (!root) {
		printf("timers_flood: not root: the attackers would share the "
		       "well-behaved client's uid and its bounds; skipped\n");
		stop_timed(&stord, "stord");
		return;
	}
	timers_flood_run("timers_flood (stord)", &stord, NULL, 40);
}
END_TEST

START_TEST(timers_flood_one_worker)
{
	const char *args[] = { "--workers", "1", NULL };

	make_work();
	start_netd(args);
	if (!root) {
		printf("timers_flood_one_worker: not root: skipped (see "
		       "timers_flood)\n");
		stop_timed(&netd, "netd");
		return;
	}
	timers_flood_run("timers_flood_one_worker (netd --workers 1)", &netd,
			 args, 9);
}
END_TEST

/* ---- parked requests: a flood of them leaves room for the others ------ */

#define PARK_N 16000

/* An attacker: a ring of 16384 entries (small slots, within the uid's
 * shared memory bound), a connection through netd with no data ever, and
 * 16000 recvs posted on it: each parks in netd's engine. */
static int kid_parked(void *sock)
{
	static struct vos_req r[PARK_N];
	static char b[PARK_N];
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	struct vos_config cfg;
	struct vos_ctx *ctx;
	char o[300];
	int l, c, a, n, ret;

	vos_config_init(&cfg);
	snprintf(o, sizeof(o), "path=%s,slot=4096", (const char *)sock);
	cfg.transport = "shm";
	cfg.options = o;
	cfg.queue_depth = 16384;
	ret = vos_ctx_create(&cfg, &ctx);
	KCHECK(ret == 0, "attach: %s", strerror(-ret));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = vos_socket(ctx, AF_INET, SOCK_STREAM, 0);
	KCHECK(l >= 0 && vos_bind(ctx, l, (struct sockaddr *)&sin,
				  sizeof(sin)) == 0 &&
		       vos_listen(ctx, l, 4) == 0 &&
		       vos_getsockname(ctx, l, (struct sockaddr *)&sin,
				       &sl) == 0,
	       "listener: %d", l);
	c = vos_socket(ctx, AF_INET, SOCK_STREAM, 0);
	KCHECK(c >= 0 && vos_connect(ctx, c, (struct sockaddr *)&sin,
				     sizeof(sin)) == 0, "connect");
	a = vos_accept(ctx, l, NULL, NULL, 0);
	KCHECK(a >= 0, "accept: %d", a);
	for (int i = 0; i < PARK_N; i++) {
		vos_prep_recv(&r[i], a, &b[i], 1, 0);
		r[i].user_data = (uint64_t)i;
	}
	n = vos_submit(ctx, r, PARK_N);
	KCHECK(n == PARK_N, "submit: %d", n);
	ksay("PARKED");
	kwait(120000); /* SIGKILLed here */
	return 0;
}

static long parked_total(const char *text)
{
	const char *p = text;
	long sum = 0;

	while ((p = strstr(p, " parked "))) {
		sum += strtol(p + 8, NULL, 10);
		p += 8;
	}
	return sum;
}

/* nhogs attackers of distinct uids each post 16000 recvs through netd
 * (one worker, args); then a client of another uid must still get its
 * calls through: a connection and a round trip, each within its deadline.
 * Parked requests must stay below half of the worker's engine. */
static void parked_flood_run(const char *name, const char *const *args,
			     int nhogs)
{
	struct kid k[8];
	struct vos_config cfg;
	struct vos_ctx *ctx;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	char st[4096], o[300], x = 'x', y = 0;
	long parked = -1, last = -2;
	int64_t t0;
	int l, c, a;

	make_work();
	start_netd(args);
	if (!root) {
		printf("%s: not root: skipped (the attackers need uids of "
		       "their own)\n", name);
		stop_timed(&netd, "netd");
		return;
	}
	for (int i = 0; i < nhogs; i++) {
		kid_start(&k[i], NOBODY - i, kid_parked, netd.sock);
		kid_expect(&k[i], "PARKED", 30000);
	}
	/* until the parked count settles (the worker takes what the bounds
	 * let it: polled, bounded) */
	t0 = td_now_ms();
	for (;;) {
		struct timespec ts = { 0, 100000000 };

		if (td_stats(netd.sock, st, sizeof(st)) == 0) {
			parked = parked_total(st);
			if (parked == last && parked > 0)
				break;
			last = parked;
		}
		ck_assert_msg(td_now_ms() - t0 < 30000, "%s: parked never "
			      "settled (%ld)", name, parked);
		nanosleep(&ts, NULL); /* polling a count, bounded */
	}
	ck_assert_msg(parked <= 32768, "%s: %ld parked: more than half of "
		      "the engine", name, parked);
	/* the victim: its own uid (root), every call within 3 s */
	vos_config_init(&cfg);
	snprintf(o, sizeof(o), "path=%s", netd.sock);
	cfg.transport = "shm";
	cfg.options = o;
	cfg.deadline_ns = 3000000000LL;
	t0 = td_now_ms();
	ck_assert_int_eq(vos_ctx_create(&cfg, &ctx), 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = vos_socket(ctx, AF_INET, SOCK_STREAM, 0);
	ck_assert_msg(l >= 0, "%s: the victim's socket(): %s", name,
		      strerror(-l));
	ck_assert_int_eq(vos_bind(ctx, l, (struct sockaddr *)&sin,
				  sizeof(sin)), 0);
	ck_assert_int_eq(vos_listen(ctx, l, 4), 0);
	ck_assert_int_eq(vos_getsockname(ctx, l, (struct sockaddr *)&sin,
					 &sl), 0);
	c = vos_socket(ctx, AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(c, 0);
	ck_assert_int_eq(vos_connect(ctx, c, (struct sockaddr *)&sin,
				     sizeof(sin)), 0);
	a = vos_accept(ctx, l, NULL, NULL, 0);
	if (a < 0) {
		/* seen twice (TSan, compat backend), not understood yet: say
		 * what netd holds for whom, for whoever looks next */
		int64_t dt = td_now_ms() - t0;

		if (td_stats(netd.sock, st, sizeof(st)) != 0)
			snprintf(st, sizeof(st), "(no report)");
		ck_abort_msg("%s: the victim's accept: %s after %lld ms; netd "
			     "says:\n%s", name, strerror(-a), (long long)dt,
			     st);
	}
	ck_assert_int_eq(vos_send(ctx, c, &x, 1, 0), 1);
	ck_assert_int_eq(vos_recv(ctx, a, &y, 1, 0), 1);
	ck_assert_int_eq(y, 'x');
	printf("%s: %d uids parked %ld recvs on one worker; another uid "
	       "connected and made a round trip in %lld ms\n", name, nhogs,
	       parked, (long long)(td_now_ms() - t0));
	vos_ctx_destroy(ctx);
	kid_kill_all(k, nhogs);
	printf("%s: netd stopped %lld ms after SIGTERM\n", name,
	       (long long)stop_timed(&netd, "netd"));
}

/* With the default bounds: two uids at --max-parked-uid (8192 each) used
 * to fill a worker's whole engine (16384 places then). */
START_TEST(parked_flood_two_uids)
{
	const char *args[] = { "--workers", "1", NULL };

	parked_flood_run("parked_flood_two_uids", args, 2);
}
END_TEST

/* Each uid may park 16384: past that on the worker, each gets its share. */
START_TEST(parked_flood_shares)
{
	const char *args[] = { "--workers", "1", "--max-parked-uid", "16384",
			       NULL };

	parked_flood_run("parked_flood_shares", args, 3);
}
END_TEST

/* =========================================================================
 * 4. fd exhaustion: per-client and per-uid caps.
 * ========================================================================= */

struct fds_arg {
	const char *sock;
	int clients;
	bool dup; /* F_DUPFD to the cap; else open files, n each */
	int n;
};

static int kid_fds(void *arg)
{
	struct fds_arg *a = arg;
	struct vos_ctx *ctx[8];

	KCHECK(a->clients <= 8, "too many");
	for (int c = 0; c < a->clients; c++) {
		int ret = lib_ctx(a->sock, &ctx[c]), fd, n = 0, err = 0;

		KCHECK(ret == 0, "client %d: attach: %s", c, strerror(-ret));
		if (!a->dup) {
			for (; n < a->n; n++) {
				fd = vos_openat(ctx[c], AT_FDCWD, "shared",
						O_RDONLY, 0);
				KCHECK(fd >= 0, "open %d: %s", n, strerror(-fd));
			}
			ksay("OPENED %d", n);
			continue;
		}
		fd = vos_openat(ctx[c], AT_FDCWD, "shared", O_RDONLY, 0);
		err = fd;
		if (fd >= 0) {
			for (n = 1; n < 1000000; n++) {
				int d = vos_fcntl(ctx[c], fd, F_DUPFD, 0);

				if (d < 0) {
					err = d;
					break;
				}
			}
		}
		ksay("CLIENT %d %d", n, err);
	}
	ksay("HOLDING");
	kwait(60000);
	return 0;
}

/* The fd caps the daemon announces in its log. */
static void announced_fd_caps(struct td *d, unsigned *client, unsigned *uid)
{
	char log[8192] = { 0 }, *p;
	FILE *f = fopen(d->log, "r");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_gt(fread(log, 1, sizeof(log) - 1, f), 0);
	fclose(f);
	p = strstr(log, "per client ");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(sscanf(p, "per client %*u running, %u fds; per uid "
				"%*u clients, %*u running and %*u parked per "
				"worker, %u fds", client, uid), 2);
}

START_TEST(fd_caps)
{
	const char *args[] = { "--max-fds", "100", "--max-fds-uid", "300", NULL };
	struct fds_arg fa = { NULL, 4, true, 0 };
	struct fds_arg other = { NULL, 1, false, 20 };
	unsigned cap, cap_uid;
	int n[4], err[4], mine[50];
	long fds, peak;
	int64_t back, stop;
	struct good g;
	struct base b;
	struct kid k, k2;

	make_work();
	start_stord(args);
	if (!stord_serves_paths("fd_caps"))
		return;
	announced_fd_caps(&stord, &cap, &cap_uid);
	ck_assert_uint_eq(cap, 100);
	ck_assert_uint_eq(cap_uid, 300);
	good_open(&g, &stord);
	good_rounds(&g, 40);
	b = baseline(&stord, 1);
	fa.sock = other.sock = stord.sock;
	if (!root) {
		/* the attacker would be the well-behaved client's uid */
		good_close(&g);
		b = baseline(&stord, 0);
	}
	kid_start(&k, attacker(), kid_fds, &fa);
	for (int c = 0; c < 4; c++)
		ck_assert_int_eq(sscanf(kid_expect(&k, "CLIENT ", 30000),
					"%d %d", &n[c], &err[c]), 2);
	kid_expect(&k, "HOLDING", 5000);
	peak = td_count_fds(stord.pid);
	for (int c = 0; c < 3; c++) {
		ck_assert_msg(n[c] == (int)cap && err[c] == -EMFILE,
			      "client %d: %d fds, then %d", c + 1, n[c], err[c]);
	}
	ck_assert_msg(n[3] == 0 && err[3] == -EMFILE, "client 4: %d fds, "
		      "then %d (the uid has %u)", n[3], err[3], cap_uid);
	if (root) {
		/* another uid is not bounded by this one's use */
		for (int i = 0; i < 50; i++) {
			mine[i] = vos_openat(g.ctx, AT_FDCWD, "shared",
					     O_RDONLY, 0);
			ck_assert_int_ge(mine[i], 0);
		}
		kid_start(&k2, NOBODY - 1, kid_fds, &other);
		kid_expect(&k2, "OPENED 20", 10000);
		kid_expect(&k2, "HOLDING", 5000);
		good_rounds(&g, 200);
		for (int i = 0; i < 50; i++)
			ck_assert_int_eq(vos_close(g.ctx, mine[i]), 0);
		kid_quit(&k2);
	} else {
		printf("fd_caps: not root: root and uid 65533 opening files "
		       "meanwhile: skipped\n");
	}
	kid_quit(&k);
	back = wait_back(&stord, b, 5000, &fds);
	if (root) {
		good_rounds(&g, 40);
		good_close(&g);
	}
	stop = stop_timed(&stord, "stord");
	printf("fd_caps: caps announced %u per client, %u per uid; uid %d: "
	       "clients 1-3 F_DUPFD up to %d, %d, %d fds (then -EMFILE), client "
	       "4's open -EMFILE; %s; daemon fds %ld -> %ld -> %ld in %lld ms; "
	       "worst well-behaved round trip %.2f ms over %ld; SIGTERM stop "
	       "%lld ms\n", cap, cap_uid, root ? NOBODY : (int)getuid(), n[0],
	       n[1], n[2], root ? "meanwhile root opened 50 and uid 65533 20"
				: "(other uids skipped)",
	       b.fds, peak, fds, (long long)back, good_worst_ms(&g), g.n,
	       (long long)stop);
}
END_TEST

/* =========================================================================
 * 5. Control connections that never attach.
 * ========================================================================= */

struct flood_arg {
	const char *sock;
	int n;
};

static int kid_flood(void *arg)
{
	struct flood_arg *a = arg;
	struct timeval tv = { 2, 0 };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int *fds = calloc((size_t)a->n, sizeof(int)), connected = 0, failed = 0;
	int open_now = 0, left;
	int64_t t0, t1, last = 0;
	struct pollfd *p;
	struct rlimit rl;

	KCHECK(fds, "calloc");
	/* room for them all (the soft limit may be 1024) */
	KCHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0, "getrlimit");
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	KCHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	       rl.rlim_cur >= (rlim_t)a->n + 64, "RLIMIT_NOFILE %llu: too low "
	       "for %d connections", (unsigned long long)rl.rlim_cur, a->n);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", a->sock);
	t0 = raw_now_ms();
	for (int i = 0; i < a->n && raw_now_ms() - t0 < 20000; i++) {
		int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

		KCHECK(s >= 0, "socket: %s", strerror(errno));
		/* a full backlog makes connect wait: at most this */
		setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			fds[connected++] = s;
		} else {
			KCHECK(errno == EAGAIN || errno == ECONNREFUSED,
			       "connect: %s", strerror(errno));
			failed++;
			close(s);
		}
	}
	t1 = raw_now_ms();
	/* what the daemon still holds open of ours (pending, or in its
	 * backlog), and then how long until it has closed every one */
	p = calloc((size_t)(connected ? connected : 1), sizeof(*p));
	KCHECK(p, "calloc");
	for (int i = 0; i < connected; i++)
		p[i] = (struct pollfd){ fds[i], POLLIN, 0 };
	KCHECK(poll(p, (nfds_t)connected, 0) >= 0, "poll");
	for (int i = 0; i < connected; i++)
		open_now += !(p[i].revents & (POLLIN | POLLHUP | POLLERR));
	ksay("CONNECTED %d %d %lld %d", connected, failed,
	     (long long)(t1 - t0), open_now);
	left = connected;
	while (left > 0 && raw_now_ms() - t1 < 10000) {
		int n = 0;

		for (int i = 0; i < connected; i++)
			if (fds[i] >= 0)
				p[n++] = (struct pollfd){ fds[i], POLLIN, 0 };
		if (poll(p, (nfds_t)n, 100) <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			char c;
			ssize_t r;

			if (!p[i].revents)
				continue;
			r = recv(p[i].fd, &c, 1, MSG_DONTWAIT);
			KCHECK(r <= 0, "the daemon sent something to a "
			       "connection that said nothing");
			if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
				for (int j = 0; j < connected; j++)
					if (fds[j] == p[i].fd)
						fds[j] = -1;
				close(p[i].fd);
				left--;
				last = raw_now_ms() - t1;
			}
		}
	}
	ksay("EOF %d %lld", connected - left, (long long)last);
	kwait(60000);
	return 0;
}

struct psample {
	long max_pending, max_fds, ok, refused;
};

static void psample(struct td *d, struct psample *s)
{
	char st[4096];
	long f = td_count_fds(d->pid);

	if (f > s->max_fds)
		s->max_fds = f;
	if (td_stats(d->sock, st, sizeof(st)) == 0) {
		long p = td_stat(st, "pending");

		if (p > s->max_pending)
			s->max_pending = p;
		s->ok++;
	} else {
		s->refused++; /* this connection was refused too: fine */
	}
}

/* Wait for the flooders' CONNECTED and EOF lines, sampling the daemon
 * meanwhile (and, with g, attaching well-behaved clients); the figures
 * into con/eof (connected, failed, ms, open after; closed, ms). */
static void flood_watch(struct td *d, struct kid *k, int nk,
			struct psample *s, struct good *g, int *attaches,
			long con[][4], long eof[][2])
{
	int stage[4] = { 0, 0, 0, 0 }, done = 0;
	int64_t t0 = td_now_ms();
	long loops = 0;

	while (done < nk) {
		for (int i = 0; i < nk; i++) {
			const char *l;

			if (stage[i] == 2 || !(l = kid_line(&k[i], 1)))
				continue;
			ck_assert_msg(strncmp(l, "FAIL", 4) != 0, "%s", l);
			if (stage[i] == 0) {
				ck_assert_int_eq(sscanf(l, "CONNECTED %ld %ld "
							"%ld %ld", &con[i][0],
							&con[i][1], &con[i][2],
							&con[i][3]), 4);
			} else {
				ck_assert_int_eq(sscanf(l, "EOF %ld %ld",
							&eof[i][0], &eof[i][1]),
						 2);
				done++;
			}
			stage[i]++;
		}
		psample(d, s);
		if (g && ++loops % 8 == 0) {
			/* a new client attaches and works meanwhile */
			good_reopen(g, d);
			good_rounds(g, 5);
			good_close(g);
			(*attaches)++;
		}
		ck_assert_msg(td_now_ms() - t0 < 60000, "the flood did not end");
	}
}

START_TEST(pending_connections)
{
	const char *args[] = { "--max-pending", "12", "--max-pending-uid", "8",
			       "--attach-timeout-ms", "300", NULL };
	struct flood_arg fa = { NULL, 2000 };
	struct psample s1 = { 0, 0, 0, 0 }, s2 = { 0, 0, 0, 0 };
	long con1[1][4], eof1[1][2], con[2][4], eof[2][2], fds;
	int attaches = 0;
	int64_t back, stop;
	struct good g;
	struct base b;
	struct kid k[2];

	make_work();
	start_netd(args);
	fa.sock = netd.sock;
	good_open(&g, &netd);
	good_rounds(&g, 20);
	good_close(&g);
	g.worst_us = 0;
	g.n = 0;
	b = baseline(&netd, 0);
	/* uid 65534 opens 2000 and says nothing; root attaches meanwhile */
	kid_start(&k[0], attacker(), kid_flood, &fa);
	flood_watch(&netd, k, 1, &s1, root ? &g : NULL, &attaches, con1, eof1);
	ck_assert_int_eq(con1[0][0], 2000);
	ck_assert_int_eq(eof1[0][0], con1[0][0]); /* every one closed */
	ck_assert_msg(eof1[0][1] < 300 + 3000, "the last was closed %ld ms "
		      "after the flood", eof1[0][1]);
	/* pending: at most the uid's 8, + our stats connection itself */
	ck_assert_msg(s1.max_pending <= 8 + 1, "pending %ld", s1.max_pending);
	/* (+ the well-behaved client's connection and doorbell, our stats
	 * connection, one accepted to be refused) */
	ck_assert_msg(s1.max_fds <= b.fds + 8 + 4, "daemon fds %ld (baseline "
		      "%ld)", s1.max_fds, b.fds);
	kid_quit(&k[0]);
	if (root) {
		/* root and uid 65534 at once: the daemon's bound of 12 */
		kid_start(&k[0], -1, kid_flood, &fa);
		kid_start(&k[1], NOBODY, kid_flood, &fa);
		flood_watch(&netd, k, 2, &s2, NULL, NULL, con, eof);
		for (int i = 0; i < 2; i++) {
			/* two floods at once may fill the listen backlog
			 * faster than a slow (sanitizer) build accepts: those
			 * connects say EAGAIN after 2 s, which is the kernel's
			 * answer, not the daemon's; most must get through */
			ck_assert_msg(con[i][0] >= 1000, "only %ld of 2000 "
				      "connected", con[i][0]);
			ck_assert_int_eq(eof[i][0], con[i][0]);
			ck_assert_msg(eof[i][1] < 300 + 3000, "the last was "
				      "closed %ld ms after", eof[i][1]);
			kid_quit(&k[i]);
		}
		ck_assert_msg(s2.max_pending <= 12, "pending %ld",
			      s2.max_pending);
		/* (+ one accepted to be refused, + slack for counting while
		 * fds come and go) */
		ck_assert_msg(s2.max_fds <= b.fds + 12 + 4, "daemon fds %ld "
			      "(baseline %ld)", s2.max_fds, b.fds);
	} else {
		printf("pending_connections: not root: well-behaved attaches "
		       "during the flood and the second flood (root + 65534) "
		       "skipped\n");
	}
	back = wait_back(&netd, b, 5000, &fds);
	/* (the stats connection that asks is itself pending) */
	ck_assert_int_eq(stat_of(&netd, "pending"), 1);
	good_reopen(&g, &netd);
	good_rounds(&g, 40);
	good_close(&g);
	stop = stop_timed(&netd, "netd");
	printf("pending_connections (--max-pending 12, per uid 8, attach "
	       "timeout 300 ms): uid %d opened %ld in %ld ms, %ld still open "
	       "then, all closed by the daemon %ld ms later; pending at most "
	       "%ld (our stats connection included), daemon fds at most %ld "
	       "(baseline %ld); %d well-behaved clients attached meanwhile, "
	       "worst round trip %.2f ms over %ld; root + 65534 at once: pending "
	       "at most %ld (%ld of %ld stats connections refused), fds at most "
	       "%ld; fds back to %ld in %lld ms; SIGTERM stop %lld ms\n",
	       root ? NOBODY : (int)getuid(), con1[0][0], con1[0][2],
	       con1[0][3], eof1[0][1], s1.max_pending, s1.max_fds, b.fds, attaches,
	       good_worst_ms(&g), g.n, s2.max_pending, s2.refused,
	       s2.ok + s2.refused, s2.max_fds, fds, (long long)back,
	       (long long)stop);
}
END_TEST

/* =========================================================================
 * 6. Client slots, per uid.
 * ========================================================================= */

struct slots_arg {
	const char *sock;
	int lib; /* attach this many through the library, */
	int raw; /* then this many by hand */
};

static int kid_slots(void *arg)
{
	struct slots_arg *a = arg;
	struct vos_ctx *ctx[8];
	struct raw r[8];
	int lib_ok = 0, lib_err = 0, raw_ok = 0, raw_err = 0;
	char why[256] = "";

	KCHECK(a->lib <= 8 && a->raw <= 8, "too many");
	for (int i = 0; i < a->lib; i++) {
		int ret = lib_ctx(a->sock, &ctx[lib_ok]);

		if (ret < 0) {
			if (!lib_err)
				lib_err = ret;
		} else {
			KCHECK(!lib_err, "attached after a refusal");
			KCHECK(vos_nop(ctx[lib_ok]) == 0, "nop");
			lib_ok++;
		}
	}
	for (int i = 0; i < a->raw; i++) {
		int ret = raw_attach(&r[raw_ok], a->sock, 64, 4096);

		if (ret < 0) {
			if (!raw_err) {
				raw_err = ret;
				snprintf(why, sizeof(why), "%s", r[raw_ok].why);
			}
		} else {
			KCHECK(!raw_err, "attached after a refusal");
			raw_ok++;
		}
	}
	ksay("SLOTS %d %d %d %d %s", lib_ok, lib_err, raw_ok, raw_err, why);
	kwait(60000);
	return 0;
}

static void slots_expect(struct kid *k, int lib_ok, int lib_err, int raw_ok,
			 int raw_err, const char *why, char *said, size_t cap)
{
	const char *l = kid_expect(k, "SLOTS ", 20000);
	int a, b, c, d, n = 0;

	ck_assert_int_eq(sscanf(l, "%d %d %d %d %n", &a, &b, &c, &d, &n), 4);
	ck_assert_msg(a == lib_ok && b == lib_err && c == raw_ok && d == raw_err,
		      "attaches: %s (expected %d %d %d %d)", l, lib_ok, lib_err,
		      raw_ok, raw_err);
	if (why)
		ck_assert_msg(strstr(l + n, why), "refusal said '%s'", l + n);
	if (said)
		snprintf(said, cap, "%s", l + n);
}

START_TEST(client_slots_per_uid)
{
	const char *args[] = { "--max-clients", "16", "--max-clients-uid", "4",
			       NULL };
	struct slots_arg a5 = { NULL, 5, 1 }, r4 = { NULL, 0, 4 },
			 r1 = { NULL, 0, 1 };
	char why_uid[256] = "", why_all[256] = "", others[600] = "other uids "
							     "not tried (not root)";
	struct raw mine[4];
	struct kid k[4];
	struct good g;
	struct base b;
	long fds, full = -1;
	int64_t back, stop;

	make_work();
	start_netd(args);
	a5.sock = r4.sock = r1.sock = netd.sock;
	good_open(&g, &netd);
	good_rounds(&g, 20);
	good_close(&g);
	g.worst_us = 0;
	g.n = 0;
	b = baseline(&netd, 0);
	snprintf(why_uid, sizeof(why_uid), "uid %d has 4 clients",
		 root ? NOBODY : (int)getuid());
	/* one uid: 4 attach, the 5th (library) and 6th (by hand) are
	 * refused in words */
	kid_start(&k[0], attacker(), kid_slots, &a5);
	slots_expect(&k[0], 4, -EUSERS, 0, -EUSERS, why_uid, why_uid,
		     sizeof(why_uid));
	if (root) {
		/* root still attaches (4: its own bound), then 65533 and
		 * 65532 fill the daemon's 16; a fifth uid is refused */
		good_open(&g, &netd);
		good_rounds(&g, 100);
		for (int i = 0; i < 3; i++)
			ck_assert_int_eq(raw_attach(&mine[i], netd.sock, 64,
						    4096), 0);
		ck_assert_int_eq(raw_attach(&mine[3], netd.sock, 64, 4096),
				 -EUSERS);
		kid_start(&k[1], NOBODY - 1, kid_slots, &r4);
		slots_expect(&k[1], 0, 0, 4, 0, NULL, NULL, 0);
		kid_start(&k[2], NOBODY - 2, kid_slots, &r4);
		slots_expect(&k[2], 0, 0, 4, 0, NULL, NULL, 0);
		full = stat_of(&netd, "clients");
		ck_assert_int_eq(full, 16);
		kid_start(&k[3], NOBODY - 3, kid_slots, &r1);
		slots_expect(&k[3], 0, 0, 0, -EUSERS, "16 clients attached",
			     why_all, sizeof(why_all));
		good_rounds(&g, 100);
		for (int i = 3; i >= 1; i--) {
			kid_quit(&k[i]);
		}
		for (int i = 0; i < 3; i++)
			raw_close(&mine[i]);
		good_close(&g);
	} else {
		printf("client_slots_per_uid: not root: other uids skipped\n");
	}
	kid_quit(&k[0]);
	back = wait_back(&netd, b, 5000, &fds);
	stop = stop_timed(&netd, "netd");
	if (root)
		snprintf(others, sizeof(others), "root attached meanwhile (worst "
			 "round trip %.2f ms over %ld); %ld clients of 4 uids, "
			 "then a 5th uid: \"%s\"", good_worst_ms(&g), g.n, full,
			 why_all);
	printf("client_slots_per_uid (--max-clients 16, per uid 4): uid %d: 4 "
	       "attached, the 5th -EUSERS (\"%s\"); %s; clients back to %ld in "
	       "%lld ms, fds %ld (baseline %ld); SIGTERM stop %lld ms\n",
	       root ? NOBODY : (int)getuid(), why_uid, others, b.clients,
	       (long long)back, fds, b.fds, (long long)stop);
}
END_TEST

/* =========================================================================
 * 7. FIFOs opened through stord.
 * ========================================================================= */

struct fifo_arg {
	const char *sock;
	char prefix;
	int n;     /* FIFO opens its second client submits at once */
	bool one;  /* first, its first client opens one FIFO */
};

/* A client of the kid: n FIFO opens (O_RDONLY: each waits for a writer
 * that never comes), published in one batch. */
static void fifo_batch(struct raw *r, char prefix, int first, int n)
{
	struct vos_wire_req w[32];

	KCHECK(n <= 32, "too many");
	for (int i = 0; i < n; i++) {
		char p[400], rel[64];

		snprintf(rel, sizeof(rel), "fifos/%c%d", prefix, first + i);
		snprintf(p, sizeof(p), "%s/%s", exp_dir, rel);
		KCHECK(mkfifo(p, 0600) == 0 || errno == EEXIST, "mkfifo %s: %s",
		       p, strerror(errno));
		w[i] = r_open_req(r, (uint32_t)i, rel, O_RDONLY);
	}
	raw_submit(r, w, (unsigned)n, true);
}

static int kid_fifo(void *arg)
{
	struct fifo_arg *a = arg;
	struct raw r[2];
	int c;

	for (int i = 0; i < (a->one ? 2 : 1); i++) {
		int ret = raw_attach(&r[i], a->sock, 64, 4096);

		KCHECK(ret == 0, "attach: %s", strerror(-ret));
	}
	if (a->one) {
		fifo_batch(&r[0], a->prefix, 0, 1);
		ksay("ONE");
	}
	KCHECK(kwait(60000) == 'm', "no go");
	fifo_batch(&r[a->one], a->prefix, 1, a->n);
	ksay("ALL");
	while ((c = kwait(120000)) == 'c') {
		unsigned done = 0;

		for (int i = 0; i < (a->one ? 2 : 1); i++)
			done += r[i].cq_head + raw_cq_count(&r[i]);
		ksay("CQ %u", done);
	}
	return 0;
}

/* Wait (at most ms) until stord has n threads blocked opening FIFOs. */
static void wait_blocked(int n, int ms, const char *what)
{
	int64_t t0 = td_now_ms();
	int b;

	while ((b = blocked_in_openat2(stord.pid)) != n) {
		ck_assert_msg(td_now_ms() - t0 < ms, "%s: %d pool threads "
			      "blocked in FIFO opens, not %d, after %d ms", what,
			      b, n, ms);
		pause_ms(2);
	}
}

/* Well-behaved file calls (path calls on the pool too) and, between
 * them, a look at how many pool threads the attackers hold: never more
 * than max.  The most seen. */
static int good_while_blocked(struct good *g, int rounds, int max)
{
	int most = 0;

	for (int i = 0; i < rounds; i++) {
		int b;

		good_rounds(g, 4);
		b = blocked_in_openat2(stord.pid);
		ck_assert_msg(b <= max, "%d pool threads blocked in FIFO opens "
			      "(bound %d)", b, max);
		if (b > most)
			most = b;
	}
	return most;
}

START_TEST(fifo_open_stord)
{
	const char *args[] = { "--workers", "1", "--max-slow", "2",
			       "--max-slow-uid", "4", NULL };
	struct fifo_arg fa = { NULL, 'a', 20, true }, fb = { NULL, 'b', 20, false },
			fc = { NULL, 'c', 4, false };
	char d[300];
	struct kid ka, kb, kc;
	struct good g;
	struct base b;
	long fds, during;
	int most1, most2 = -1;
	unsigned cq;
	int64_t back, stop;

	if (!stord_with_dir("fifo_open_stord", args, "fifos", d, sizeof(d)))
		return;
	if (blocked_in_openat2(stord.pid) < 0) {
		printf("fifo_open_stord: cannot read stord's threads' system "
		       "calls: skipped\n");
		stop_timed(&stord, "stord");
		return;
	}
	fa.sock = fb.sock = fc.sock = stord.sock;
	good_open(&g, &stord);
	good_rounds(&g, 40);
	b = baseline(&stord, 1);
	/* one FIFO open: one pool thread blocks; file calls go on */
	kid_start(&ka, attacker(), kid_fifo, &fa);
	kid_expect(&ka, "ONE", 10000);
	wait_blocked(1, 5000, "one FIFO open");
	good_while_blocked(&g, 25, 1);
	/* the attacker's second client opens 20 at once: its --max-slow (2)
	 * of them run, the rest wait in the queue, and the calls of others
	 * are served at once all the same */
	kid_tell(&ka, 'm');
	kid_expect(&ka, "ALL", 10000);
	most1 = good_while_blocked(&g, 50, 1 + 2);
	wait_blocked(1 + 2, 5000, "20 FIFO opens at once (2 may run)");
	if (root) {
		/* a third client of the uid: the uid's --max-slow-uid (4) */
		kid_start(&kb, NOBODY, kid_fifo, &fb);
		kid_tell(&kb, 'm');
		kid_expect(&kb, "ALL", 10000);
		most2 = good_while_blocked(&g, 50, 4);
		wait_blocked(4, 5000, "a third client's 20 (the uid's bound)");
	} else {
		printf("fifo_open_stord: not root: the uid's bound (a third "
		       "attacker client) skipped: it would be the well-behaved "
		       "client's uid\n");
	}
	kid_tell(&ka, 'c');
	cq = (unsigned)atol(kid_expect(&ka, "CQ ", 5000));
	ck_assert_uint_eq(cq, 0); /* none of its opens completed */
	during = stat_of(&stord, "clients");
	/* SIGKILL frees everything */
	if (root) {
		struct kid both[2] = { ka, kb };

		kid_kill_all(both, 2);
	} else {
		kid_kill(&ka);
	}
	wait_blocked(0, 5000, "after SIGKILL");
	back = wait_back(&stord, b, 5000, &fds);
	good_rounds(&g, 40);
	/* SIGTERM with FIFO opens pending */
	kid_start(&kc, attacker(), kid_fifo, &fc);
	kid_tell(&kc, 'm');
	kid_expect(&kc, "ALL", 10000);
	wait_blocked(2, 5000, "before SIGTERM");
	stop = stop_timed(&stord, "stord");
	kid_kill(&kc);
	good_close(&g);
	printf("fifo_open_stord (1 worker, --max-slow 2, --max-slow-uid 4): "
	       "one FIFO open blocks 1 pool thread; a second client's 20 at "
	       "once: at most %d blocked in all; a third client's 20: at most "
	       "%d; none completed; worst well-behaved file round trip %.2f ms "
	       "over %ld; after SIGKILL: blocked 0, clients %ld -> %ld in %lld "
	       "ms, fds %ld (baseline %ld); SIGTERM with 2 FIFO opens pending: "
	       "%lld ms\n", most1, most2, good_worst_ms(&g), g.n, during,
	       b.clients, (long long)back, fds, b.fds, (long long)stop);
}
END_TEST

/* =========================================================================
 * 8. netd's policy.
 * ========================================================================= */

static int kid_bind_policy(void *arg)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6,
				     .sin6_port = htons(80) };
	struct sockaddr_in sin = { .sin_family = AF_UNSPEC,
				   .sin_port = htons(81) };
	struct raw r;
	int64_t s, s2, res;
	int ret = raw_attach(&r, arg, 64, 4096), v6 = 1;

	KCHECK(ret == 0, "attach: %s", strerror(-ret));
	/* (a) AF_INET6, the RFC 2133 length (24, no scope id), port 80 */
	s = r_socket(&r, AF_INET6, SOCK_STREAM);
	if (s == -EAFNOSUPPORT) {
		v6 = 0; /* no IPv6 here */
	} else {
		KCHECK(s >= 0, "socket(AF_INET6): %lld", (long long)s);
		res = r_bind(&r, s, &sin6, 24);
		KCHECK(res == -EACCES, "bind [::]:80 len 24: %lld",
		       (long long)res);
		res = r_bind(&r, s, &sin6, sizeof(sin6));
		KCHECK(res == -EACCES, "bind [::]:80 len 28: %lld",
		       (long long)res);
		/* an IPv4-mapped address carries its port alike */
		inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6.sin6_addr);
		res = r_bind(&r, s, &sin6, sizeof(sin6));
		KCHECK(res == -EACCES, "bind [::ffff:127.0.0.1]:80: %lld",
		       (long long)res);
		KCHECK(r_port(&r, s) == 0, "bound to %ld", r_port(&r, s));
		/* the length itself is fine: an unprivileged port binds */
		s2 = r_socket(&r, AF_INET6, SOCK_STREAM);
		sin6.sin6_addr = in6addr_loopback;
		sin6.sin6_port = 0;
		res = r_bind(&r, s2, &sin6, 24);
		KCHECK(res == 0 || res == -EADDRNOTAVAIL,
		       "bind [::1]:0 len 24: %lld", (long long)res);
	}
	/* (b) AF_INET socket, AF_UNSPEC address (the kernel would take it
	 * as AF_INET for INADDR_ANY), port 81 */
	s = r_socket(&r, AF_INET, SOCK_STREAM);
	KCHECK(s >= 0, "socket(AF_INET): %lld", (long long)s);
	sin.sin_addr.s_addr = htonl(INADDR_ANY);
	res = r_bind(&r, s, &sin, sizeof(sin));
	KCHECK(res == -EAFNOSUPPORT, "bind AF_UNSPEC :81: %lld", (long long)res);
	sin.sin_port = htons(8081); /* the family rule, not just the port */
	res = r_bind(&r, s, &sin, sizeof(sin));
	KCHECK(res == -EAFNOSUPPORT, "bind AF_UNSPEC :8081: %lld",
	       (long long)res);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(81);
	res = r_bind(&r, s, &sin, sizeof(sin));
	KCHECK(res == -EACCES, "bind AF_INET :81: %lld", (long long)res);
	res = r_bind(&r, s, &sin, 8); /* shorter than the kernel wants */
	KCHECK(res == -EINVAL, "bind, 8 bytes: %lld", (long long)res);
	KCHECK(r_port(&r, s) == 0, "bound to %ld", r_port(&r, s));
	KCHECK(rcall(&r, raw_req(VOS_OP_NOP, -1, 0)) == 0, "nop");
	ksay("DONE %d", v6);
	kwait(60000); /* holding its sockets while the test binds 81 */
	raw_close(&r);
	return 0;
}

START_TEST(netd_bind_policy)
{
	struct good g;
	struct base b;
	struct kid k;
	bool free81;
	long fds;
	int v6;
	int64_t back, stop;

	b = netd_with_good(NULL, &g);
	free81 = root && port_free(81, false);
	kid_start(&k, attacker(), kid_bind_policy, netd.sock);
	v6 = atoi(kid_expect(&k, "DONE ", 20000));
	good_rounds(&g, 200);
	if (free81) /* nobody holds 81: the attacker's sockets are unbound */
		ck_assert_msg(port_free(81, false), "port 81 was bound");
	kid_quit(&k);
	back = wait_back(&netd, b, 5000, &fds);
	good_close(&g);
	stop = stop_timed(&netd, "netd");
	printf("netd_bind_policy: uid %d: %s; AF_UNSPEC on AF_INET port 81 and "
	       "8081: -EAFNOSUPPORT, AF_INET port 81: -EACCES, 8 bytes: -EINVAL; "
	       "port 81 %s afterwards; worst well-behaved round trip %.2f ms "
	       "over %ld; clients %ld, fds %ld -> %ld (%lld ms); SIGTERM stop "
	       "%lld ms\n", root ? NOBODY : (int)getuid(),
	       v6 ? "AF_INET6 port 80 with addrlen 24, 28 and IPv4-mapped: "
		    "-EACCES, [::1]:0 with 24 binds"
		  : "no IPv6 on this host (skipped)",
	       free81 ? "free (root bound it)"
		      : "not checked (in use here, or not root)",
	       good_worst_ms(&g), g.n, b.clients, b.fds, fds, (long long)back,
	       (long long)stop);
}
END_TEST

struct flip_arg {
	const char *sock;
	uint16_t port; /* allowed */
	int rounds;
};

static atomic_bool flip_stop;
static atomic_long flips;

static void *flipper(void *arg)
{
	uint16_t *port = arg, bad = htons(82), good = *port;

	while (!atomic_load_explicit(&flip_stop, memory_order_relaxed)) {
		for (int i = 0; i < 512; i++) {
			__atomic_store_n(port, bad, __ATOMIC_RELAXED);
			__atomic_store_n(port, good, __ATOMIC_RELAXED);
		}
		atomic_fetch_add_explicit(&flips, 1024, memory_order_relaxed);
		sched_yield(); /* two CPUs: let the daemon and our calls run */
	}
	return NULL;
}

static int kid_flipper(void *arg)
{
	struct flip_arg *a = arg;
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(a->port) };
	long ok = 0, refused = 0, kept = 0;
	struct raw r;
	uint32_t off;
	pthread_t t;
	int ret = raw_attach(&r, a->sock, 64, 4096);

	KCHECK(ret == 0, "attach: %s", strerror(-ret));
	/* the address lives in tag 1's large slot, where the flipper
	 * rewrites its port between 82 and the allowed one */
	off = vos__geom_large(&r.g, 1);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	memcpy(raw_data(&r) + off, &sin, sizeof(sin));
	atomic_store(&flip_stop, false);
	KCHECK(pthread_create(&t, NULL, flipper, raw_data(&r) + off + 2) == 0,
	       "pthread_create");
	for (int i = 0; i < a->rounds; i++) {
		struct vos_wire_req w;
		int64_t s = r_socket(&r, AF_INET, SOCK_STREAM), res;
		long port;

		KCHECK(s >= 0, "socket: %lld", (long long)s);
		w = raw_req(VOS_OP_BIND, (int32_t)s, 1);
		w.addr = off;
		w.addr_len = w.len = sizeof(sin);
		res = raw_call(&r, &w, 5000);
		KCHECK(res == 0 || res == -EACCES, "bind: %lld (%ld sockets "
		       "bound to something else so far)", (long long)res, kept);
		port = r_port(&r, s);
		if (res == 0)
			ok++;
		else
			refused++;
		if (port != (res == 0 ? a->port : 0)) {
			kept++; /* hold it: the test binds 82 next */
			KCHECK(kept < 10, "bind said %lld, the socket has port "
			       "%ld", (long long)res, port);
			continue;
		}
		KCHECK(r_close(&r, s) == 0, "close");
	}
	atomic_store(&flip_stop, true);
	pthread_join(t, NULL);
	ksay("FLIP %d %ld %ld %ld %ld", a->rounds, ok, refused, kept,
	     atomic_load(&flips));
	kwait(60000);
	raw_close(&r);
	return 0;
}

START_TEST(netd_bind_flipper)
{
	struct flip_arg fa = { NULL, 0, 2000 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	long rounds, ok, refused, kept, nflips, fds;
	bool free82;
	const char *l;
	struct good g;
	struct base b;
	struct kid k;
	int64_t back, stop, t0;
	int s;

	make_work();
	start_netd(NULL);
	/* an allowed port that is free here */
	s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(s, (struct sockaddr *)&sin, &sl), 0);
	close(s);
	fa.sock = netd.sock;
	fa.port = ntohs(sin.sin_port);
	free82 = root && port_free(82, true);
	good_open(&g, &netd);
	good_rounds(&g, 40);
	b = baseline(&netd, 1);
	t0 = td_now_ms();
	kid_start(&k, attacker(), kid_flipper, &fa);
	while (!(l = kid_line(&k, 1))) { /* well-behaved calls meanwhile */
		good_rounds(&g, 1);
		ck_assert_msg(td_now_ms() - t0 < 90000, "the flipper hangs");
	}
	ck_assert_msg(strncmp(l, "FLIP ", 5) == 0, "%s", l);
	ck_assert_int_eq(sscanf(l, "FLIP %ld %ld %ld %ld %ld", &rounds, &ok,
				&refused, &kept, &nflips), 5);
	ck_assert_int_eq(ok + refused, rounds);
	ck_assert_int_eq(kept, 0);
	if (free82) /* and nothing holds 82 */
		ck_assert_msg(port_free(82, true), "port 82 is bound");
	kid_quit(&k);
	back = wait_back(&netd, b, 5000, &fds);
	good_close(&g);
	stop = stop_timed(&netd, "netd");
	printf("netd_bind_flipper: %ld binds of 127.0.0.1:%u on fresh sockets "
	       "while a thread flipped the port to 82 and back (%ld flips): %ld "
	       "bound to %u, %ld refused (-EACCES), none bound to anything else; "
	       "127.0.0.1:82 %s; worst well-behaved round trip %.2f ms over %ld; "
	       "fds %ld -> %ld (%lld ms); SIGTERM stop %lld ms\n", rounds,
	       fa.port, nflips, ok, fa.port, refused,
	       free82 ? "free afterwards (root bound it)" : "not checked",
	       good_worst_ms(&g), g.n, b.fds, fds, (long long)back,
	       (long long)stop);
}
END_TEST

struct opt {
	const char *name;
	int level, opt;
	int val;
	const char *str; /* a string value instead */
};

static int kid_sockopt(void *arg)
{
	static const struct opt refused[] = {
		{ "SO_RCVBUFFORCE", SOL_SOCKET, SO_RCVBUFFORCE, 1 << 20, NULL },
		{ "SO_SNDBUFFORCE", SOL_SOCKET, SO_SNDBUFFORCE, 1 << 20, NULL },
		{ "SO_PRIORITY 7", SOL_SOCKET, SO_PRIORITY, 7, NULL },
		{ "SO_DEBUG", SOL_SOCKET, SO_DEBUG, 1, NULL },
		{ "SO_MARK", SOL_SOCKET, SO_MARK, 42, NULL },
		{ "SO_BINDTODEVICE", SOL_SOCKET, SO_BINDTODEVICE, 0, "lo" },
		{ "IP_TRANSPARENT", IPPROTO_IP, IP_TRANSPARENT, 1, NULL },
	};
	static const struct opt allowed[] = {
		{ "SO_REUSEADDR", SOL_SOCKET, SO_REUSEADDR, 1, NULL },
		{ "TCP_NODELAY", IPPROTO_TCP, TCP_NODELAY, 1, NULL },
		{ "SO_PRIORITY 6", SOL_SOCKET, SO_PRIORITY, 6, NULL },
	};
	struct raw r;
	int64_t s, s6, res;
	char dev[32];
	uint32_t len = sizeof(dev);
	int ret = raw_attach(&r, arg, 64, 4096), nref = 0, nok = 0, v6 = 0;

	KCHECK(ret == 0, "attach: %s", strerror(-ret));
	s = r_socket(&r, AF_INET, SOCK_STREAM);
	KCHECK(s >= 0, "socket: %lld", (long long)s);
	for (unsigned i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
		const struct opt *o = &refused[i];

		res = o->str ? r_setsockopt(&r, s, o->level, o->opt, o->str,
					    (uint32_t)strlen(o->str) + 1)
			     : r_setsockopt(&r, s, o->level, o->opt, &o->val,
					    sizeof(o->val));
		KCHECK(res == -EPERM, "%s: %lld", o->name, (long long)res);
		nref++;
	}
	for (unsigned i = 0; i < sizeof(allowed) / sizeof(*allowed); i++) {
		const struct opt *o = &allowed[i];

		res = r_setsockopt(&r, s, o->level, o->opt, &o->val,
				   sizeof(o->val));
		KCHECK(res == 0, "%s: %lld", o->name, (long long)res);
		nok++;
	}
	/* what the socket has: what was allowed, nothing that was not */
	KCHECK(r_getsockopt_int(&r, s, SOL_SOCKET, SO_PRIORITY) == 6, "prio");
	KCHECK(r_getsockopt_int(&r, s, SOL_SOCKET, SO_MARK) == 0, "mark");
	KCHECK(r_getsockopt_int(&r, s, SOL_SOCKET, SO_DEBUG) == 0, "debug");
	KCHECK(r_getsockopt_int(&r, s, IPPROTO_IP, IP_TRANSPARENT) == 0,
	       "transparent");
	KCHECK(r_getsockopt_int(&r, s, SOL_SOCKET, SO_REUSEADDR) == 1, "reuse");
	memset(dev, 0, sizeof(dev));
	res = r_getsockopt(&r, s, SOL_SOCKET, SO_BINDTODEVICE, dev, &len);
	KCHECK(res == 0 && (len == 0 || dev[0] == '\0'), "bound to '%s'", dev);
	s6 = r_socket(&r, AF_INET6, SOCK_STREAM);
	if (s6 >= 0) {
		int one = 1;

		v6 = 1;
		res = r_setsockopt(&r, s6, IPPROTO_IPV6, IPV6_TRANSPARENT, &one,
				   sizeof(one));
		KCHECK(res == -EPERM, "IPV6_TRANSPARENT: %lld", (long long)res);
		nref++;
		res = r_setsockopt(&r, s6, IPPROTO_IPV6, IPV6_V6ONLY, &one,
				   sizeof(one));
		KCHECK(res == 0, "IPV6_V6ONLY: %lld", (long long)res);
		nok++;
		KCHECK(r_getsockopt_int(&r, s6, IPPROTO_IPV6,
					IPV6_TRANSPARENT) == 0, "v6 transparent");
	}
	ksay("DONE %d %d %d", nref, nok, v6);
	kwait(60000);
	raw_close(&r);
	return 0;
}

START_TEST(netd_sockopt_policy)
{
	struct good g;
	struct base b;
	struct kid k;
	int nref, nok, v6;
	long fds;
	int64_t back, stop;

	b = netd_with_good(NULL, &g);
	kid_start(&k, attacker(), kid_sockopt, netd.sock);
	ck_assert_int_eq(sscanf(kid_expect(&k, "DONE ", 20000), "%d %d %d",
				&nref, &nok, &v6), 3);
	good_rounds(&g, 200);
	kid_quit(&k);
	back = wait_back(&netd, b, 5000, &fds);
	good_close(&g);
	stop = stop_timed(&netd, "netd");
	printf("netd_sockopt_policy: uid %d: %d options refused with -EPERM "
	       "(SO_RCVBUFFORCE, SO_SNDBUFFORCE, SO_PRIORITY 7, SO_DEBUG, "
	       "SO_MARK, SO_BINDTODEVICE, IP_TRANSPARENT%s), %d allowed "
	       "(SO_REUSEADDR, TCP_NODELAY, SO_PRIORITY 6%s), getsockopt shows "
	       "only those; worst well-behaved round trip %.2f ms over %ld; "
	       "fds %ld -> %ld (%lld ms); SIGTERM stop %lld ms\n",
	       root ? NOBODY : (int)getuid(), nref,
	       v6 ? ", IPV6_TRANSPARENT" : "", nok, v6 ? ", IPV6_V6ONLY" : "",
	       good_worst_ms(&g), g.n, b.fds, fds, (long long)back,
	       (long long)stop);
}
END_TEST

static int kid_unix(void *arg)
{
	struct raw r;
	int64_t res;
	int ret = raw_attach(&r, arg, 64, 4096);

	KCHECK(ret == 0, "attach: %s", strerror(-ret));
	res = r_socket(&r, AF_UNIX, SOCK_STREAM);
	KCHECK(res == -EACCES, "socket(AF_UNIX, SOCK_STREAM): %lld",
	       (long long)res);
	res = r_socket(&r, AF_UNIX, SOCK_DGRAM);
	KCHECK(res == -EACCES, "socket(AF_UNIX, SOCK_DGRAM): %lld",
	       (long long)res);
	res = r_socket(&r, AF_INET6, SOCK_STREAM);
	KCHECK(res == -EAFNOSUPPORT, "socket(AF_INET6) (not served): %lld",
	       (long long)res);
	res = r_socket(&r, AF_INET, SOCK_STREAM);
	KCHECK(res >= 0, "socket(AF_INET): %lld", (long long)res);
	ksay("DONE");
	kwait(60000);
	raw_close(&r);
	return 0;
}

START_TEST(netd_unix_family)
{
	const char *args[] = { "--families", "inet,unix", NULL };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct good g;
	struct base b;
	struct kid k;
	long fds;
	int s;
	int64_t back, stop;

	b = netd_with_good(args, &g);
	if (root) {
		kid_start(&k, NOBODY, kid_unix, netd.sock);
		kid_expect(&k, "DONE", 10000);
	} else {
		printf("netd_unix_family: not root: uid 65534 skipped (our uid "
		       "is netd's: AF_UNIX is ours)\n");
	}
	/* netd's own uid gets one, and it is a real Unix socket of netd's */
	s = vos_socket(g.ctx, AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(s, 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/by-netd.sock", work);
	ck_assert_int_eq(vos_bind(g.ctx, s, (struct sockaddr *)&sun,
				  sizeof(sun)), 0);
	ck_assert_int_eq(access(sun.sun_path, F_OK), 0);
	ck_assert_int_eq(vos_close(g.ctx, s), 0);
	ck_assert_int_eq(vos_socket(g.ctx, AF_INET6, SOCK_STREAM, 0),
			 -EAFNOSUPPORT);
	good_rounds(&g, 200);
	if (root) {
		kid_quit(&k);
	}
	back = wait_back(&netd, b, 5000, &fds);
	good_close(&g);
	stop = stop_timed(&netd, "netd");
	printf("netd_unix_family (--families inet,unix): %s; netd's own uid "
	       "made and bound one; AF_INET6 -EAFNOSUPPORT; worst well-behaved "
	       "round trip %.2f ms over %ld; fds %ld -> %ld (%lld ms); SIGTERM "
	       "stop %lld ms\n",
	       root ? "uid 65534: AF_UNIX stream and datagram -EACCES, "
		      "AF_INET6 -EAFNOSUPPORT, AF_INET fine"
		    : "uid 65534 skipped (not root)",
	       good_worst_ms(&g), g.n, b.fds, fds, (long long)back,
	       (long long)stop);
}
END_TEST

static int kid_commands(void *arg)
{
	static const struct {
		const char *name;
		unsigned long req;
	} bad_ioctls[] = {
		{ "SIOCSIFFLAGS", SIOCSIFFLAGS },
		{ "SIOCGIFCONF", SIOCGIFCONF },
		{ "TIOCSTI", TIOCSTI },
		{ "FIOASYNC", FIOASYNC },
		{ "SIOCSPGRP", SIOCSPGRP },
	};
	static const struct {
		const char *name;
		int cmd;
	} bad_fcntls[] = {
		{ "F_SETOWN", F_SETOWN },
		{ "F_GETOWN", F_GETOWN },
		{ "F_SETSIG", F_SETSIG },
		{ "F_SETLEASE", F_SETLEASE },
		{ "F_SETPIPE_SZ", F_SETPIPE_SZ },
		{ "F_SETLK", F_SETLK },
		{ "F_ADD_SEALS", F_ADD_SEALS },
	};
	struct vos_wire_req w;
	struct raw r;
	int64_t s, res;
	int v, n = 0, ret = raw_attach(&r, arg, 64, 4096);

	KCHECK(ret == 0, "attach: %s", strerror(-ret));
	s = r_socket(&r, AF_INET, SOCK_STREAM);
	KCHECK(s >= 0, "socket: %lld", (long long)s);
	for (unsigned i = 0; i < sizeof(bad_ioctls) / sizeof(*bad_ioctls); i++) {
		v = 1;
		res = r_ioctl(&r, s, bad_ioctls[i].req, &v);
		KCHECK(res == -EINVAL, "ioctl %s: %lld", bad_ioctls[i].name,
		       (long long)res);
		n++;
	}
	for (unsigned i = 0; i < sizeof(bad_fcntls) / sizeof(*bad_fcntls); i++) {
		res = r_fcntl(&r, s, bad_fcntls[i].cmd, (long)getpid());
		KCHECK(res == -EINVAL, "fcntl %s: %lld", bad_fcntls[i].name,
		       (long long)res);
		n++;
	}
	/* the same channel, other malformed entries */
	w = raw_req(VOS_OP_POLL, (int32_t)s, 0);
	w.op_flags = 0x10000; /* events beyond 16 bits */
	KCHECK(rcall(&r, w) == -EINVAL, "poll events");
	w = raw_req(VOS_OP__COUNT, -1, 0);
	KCHECK(rcall(&r, w) == -EINVAL, "unknown op");
	w = raw_req(VOS_OP_NOP, -1, 0);
	w.flags = 1;
	KCHECK(rcall(&r, w) == -EINVAL, "flags");
	w = raw_req(VOS_OP_READV, (int32_t)s, 0);
	KCHECK(rcall(&r, w) == -EINVAL, "readv on the wire");
	/* RWF_ flags: only on a read or write, only with VOS_WIRE_F_RWF */
	w = raw_req(VOS_OP_READ, (int32_t)s, 0);
	w.len = 8;
	w.addr_len = 16;
	w.op_flags = RWF_NOWAIT; /* without the flag that says so */
	KCHECK(rcall(&r, w) == -EINVAL, "RWF_ flags without the flag");
	w.flags = 2;
	KCHECK(rcall(&r, w) == -EINVAL, "an unknown entry flag");
	w.flags = VOS_WIRE_F_RWF;
	res = rcall(&r, w); /* well made: the socket's own answer */
	KCHECK(res != -EINVAL && res != INT64_MIN, "a read with RWF_NOWAIT: "
	       "%lld", (long long)res);
	w = raw_req(VOS_OP_NOP, -1, 0);
	w.flags = VOS_WIRE_F_RWF;
	KCHECK(rcall(&r, w) == -EINVAL, "the RWF_ flag on a nop");
	n += 7;
	/* what the library sends works */
	v = -1;
	res = r_ioctl(&r, s, FIONREAD, &v);
	KCHECK(res == 0 && v == 0, "FIONREAD: %lld, %d", (long long)res, v);
	v = 1;
	KCHECK(r_ioctl(&r, s, FIONBIO, &v) == 0, "FIONBIO");
	res = r_fcntl(&r, s, F_GETFL, 0);
	KCHECK(res >= 0 && (res & O_NONBLOCK), "F_GETFL: %lld", (long long)res);
	KCHECK(r_fcntl(&r, s, F_SETFD, FD_CLOEXEC) == 0, "F_SETFD");
	KCHECK(rcall(&r, raw_req(VOS_OP_NOP, -1, 0)) == 0, "nop");
	ksay("DONE %d", n);
	kwait(60000);
	raw_close(&r);
	return 0;
}

START_TEST(netd_commands)
{
	struct good g;
	struct base b;
	struct kid k;
	long fds;
	int n;
	int64_t back, stop;

	b = netd_with_good(NULL, &g);
	kid_start(&k, attacker(), kid_commands, netd.sock);
	n = atoi(kid_expect(&k, "DONE ", 20000));
	good_rounds(&g, 200);
	kid_quit(&k);
	back = wait_back(&netd, b, 5000, &fds);
	good_close(&g);
	stop = stop_timed(&netd, "netd");
	printf("netd_commands: %d hand-made entries -EINVAL (ioctl SIOCSIFFLAGS, "
	       "SIOCGIFCONF, TIOCSTI, FIOASYNC, SIOCSPGRP; fcntl F_SETOWN, "
	       "F_GETOWN, F_SETSIG, F_SETLEASE, F_SETPIPE_SZ, F_SETLK, "
	       "F_ADD_SEALS; poll events > 16 bits, unknown op, flags, readv; "
	       "RWF_ flags without their entry flag, an unknown entry flag, "
	       "the RWF_ entry flag on a nop), "
	       "FIONREAD/FIONBIO/F_GETFL/F_SETFD and a read with RWF_NOWAIT "
	       "served; worst well-behaved "
	       "round trip %.2f ms over %ld; fds %ld -> %ld (%lld ms); SIGTERM "
	       "stop %lld ms\n", n, good_worst_ms(&g), g.n, b.fds, fds,
	       (long long)back, (long long)stop);
}
END_TEST

/* =========================================================================
 * 9b. openat2 from hand-made entries: whatever flags, mode and RESOLVE_
 * bits a client writes, stord opens nothing outside the export.
 * ========================================================================= */

static int kid_openat2(void *arg)
{
	static const struct {
		const char *path;
		uint32_t flags;
		uint64_t mode, resolve;
		int64_t want; /* 0: any fd */
	} tries[] = {
		{ "../secret", O_RDONLY, 0, 0, -EXDEV },
		{ "../secret", O_RDONLY, 0, RESOLVE_IN_ROOT, -ENOENT },
		{ "/../secret", O_RDONLY, 0, RESOLVE_IN_ROOT, -ENOENT },
		{ "abs", O_RDONLY, 0, 0, -EXDEV },
		{ "abs", O_RDONLY, 0, RESOLVE_IN_ROOT, -ENOENT },
		{ "../secret", O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_IN_ROOT,
		  -EINVAL },
		{ "../secret", O_RDONLY, 0, UINT64_MAX, -EINVAL },
		{ "made", O_WRONLY | O_CREAT, 0xffffffffu, RESOLVE_IN_ROOT,
		  -EINVAL },
		{ "../o2/made", O_WRONLY | O_CREAT | O_TRUNC, 0644,
		  RESOLVE_IN_ROOT, 0 }, /* clamped: made in the export */
		{ "good-file", 0xffffffffu, 0, 0, -EINVAL },
	};
	struct vos_wire_req w;
	struct raw r;
	int n = 0, ret = raw_attach(&r, arg, 64, 4096);

	KCHECK(ret == 0, "attach: %s", strerror(-ret));
	for (unsigned i = 0; i < sizeof(tries) / sizeof(*tries); i++) {
		int64_t res;

		w = r_open_req(&r, 0, tries[i].path, (int)tries[i].flags);
		w.op = VOS_OP_OPENAT2;
		w.arg = tries[i].mode;
		w.off = tries[i].resolve;
		res = rcall(&r, w);
		if (tries[i].want)
			KCHECK(res == tries[i].want, "openat2 %s (flags %#x, "
			       "mode %#llx, resolve %#llx): %lld", tries[i].path,
			       tries[i].flags, (unsigned long long)tries[i].mode,
			       (unsigned long long)tries[i].resolve,
			       (long long)res);
		else
			KCHECK(res >= 0 && r_close(&r, res) == 0,
			       "openat2 %s: %lld", tries[i].path,
			       (long long)res);
		n++;
	}
	raw_close(&r);
	ksay("DONE %d", n);
	return 0;
}

START_TEST(stord_openat2_raw)
{
	char d[300], secret[300], abs[300];
	struct stat st;
	struct kid k;
	int fd, n;

	if (!stord_with_dir("stord_openat2_raw", NULL, "o2", d, sizeof(d)))
		return;
	snprintf(secret, sizeof(secret), "%s/secret", work);
	fd = open(secret, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "secret", 6), 6);
	close(fd);
	snprintf(abs, sizeof(abs), "%s/abs", exp_dir);
	ck_assert_int_eq(symlink(secret, abs), 0);
	kid_start(&k, attacker(), kid_openat2, stord.sock);
	n = atoi(kid_expect(&k, "DONE ", 20000));
	kid_join(&k, 10000);
	/* the secret is as it was, and what was made is in the export */
	ck_assert_int_eq(stat(secret, &st), 0);
	ck_assert_int_eq(st.st_size, 6);
	snprintf(d, sizeof(d), "%s/o2/made", work);
	ck_assert_int_ne(access(d, F_OK), 0);
	snprintf(d, sizeof(d), "%s/o2/made", exp_dir);
	ck_assert_int_eq(access(d, F_OK), 0);
	printf("stord_openat2_raw: %d hand-made OPENAT2 entries (\"..\", "
	       "\"/..\" and an absolute symlink out, with and without "
	       "RESOLVE_IN_ROOT; both scopes, unknown bits, a mode past "
	       "07777, unknown flags): none left the export; SIGTERM stop "
	       "%lld ms\n", n, (long long)stop_timed(&stord, "stord"));
}
END_TEST

/* =========================================================================
 * 9c. copy_file_range, sendfile and splice from hand-made entries: the
 * offsets are checked copies (a short one, one outside the data area, a
 * long second one: -EFAULT), fd2 must be the client's own (-EBADF for a
 * number it does not have and for the export root), and the kernel
 * answers the rest on the client's two fds.
 * ========================================================================= */

static int kid_copy(void *arg)
{
	struct vos_wire_req w;
	struct raw r;
	int64_t src, dst, res, off, *slot;
	int n = 0, ret = raw_attach(&r, arg, 64, 4096);

	KCHECK(ret == 0, "attach: %s", strerror(-ret));
	src = rcall(&r, r_open_req(&r, 0, "cp/src", O_RDONLY));
	dst = rcall(&r, r_open_req(&r, 0, "cp/dst", O_WRONLY));
	KCHECK(src >= 0 && dst >= 0, "open: %lld %lld", (long long)src,
	       (long long)dst);
	/* tag 0's small slot holds the offsets (rcall sends tag 0) */
	slot = (int64_t *)(void *)(raw_data(&r) + vos__geom_small(&r.g, 0));
#define CP(op_, fd_, fd2_, alen, a2len, addr_, o, cnt, fl, want)            \
	do {                                                                \
		w = raw_req(op_, (int32_t)(fd_), 0);                        \
		w.fd2 = (int32_t)(fd2_);                                    \
		w.addr = (addr_);                                           \
		w.addr_len = (alen);                                        \
		w.addr2 = 8;                                                \
		w.addr2_len = (a2len);                                      \
		w.arg = (cnt);                                              \
		w.op_flags = (fl);                                          \
		slot[0] = (o);                                              \
		slot[1] = 0;                                                \
		res = rcall(&r, w);                                         \
		KCHECK(res == (want), "%s fd %lld fd2 %lld addr %u/%u "     \
		       "off %lld count %llu flags %#x: %lld, not %lld",     \
		       vos_op_name(op_), (long long)(fd_), (long long)(fd2_), \
		       (unsigned)(alen), (unsigned)(a2len), (long long)(o),  \
		       (unsigned long long)(cnt), (unsigned)(fl),           \
		       (long long)res, (long long)(want));                  \
		n++;                                                        \
	} while (0)
	CP(VOS_OP_COPY_FILE_RANGE, src, dst, 4, 0, 0, 0, 5, 0, -EFAULT);
	CP(VOS_OP_COPY_FILE_RANGE, src, dst, 8, 0, r.g.data_size, 0, 5, 0,
	   -EFAULT);
	CP(VOS_OP_COPY_FILE_RANGE, src, dst, 8, 16, 0, 0, 5, 0, -EFAULT);
	CP(VOS_OP_COPY_FILE_RANGE, src, 999, 8, 0, 0, 0, 5, 0, -EBADF);
	CP(VOS_OP_COPY_FILE_RANGE, src, VOS_WIRE_FD_ROOT, 8, 0, 0, 0, 5, 0,
	   -EBADF);
	CP(VOS_OP_SPLICE, VOS_WIRE_FD_ROOT, dst, 0, 0, 0, 0, 5, 0, -EBADF);
	CP(VOS_OP_COPY_FILE_RANGE, dst, src, 8, 0, 0, 0, 5, 0, -EBADF);
	CP(VOS_OP_COPY_FILE_RANGE, src, dst, 8, 0, 0, -5, 5, 0, -EOVERFLOW);
	CP(VOS_OP_COPY_FILE_RANGE, src, dst, 8, 0, 0, -50, 5, 0, -EINVAL);
	CP(VOS_OP_SPLICE, src, dst, 8, 0, 0, 0, 5, 0xffffffffu, -EINVAL);
	CP(VOS_OP_SPLICE, src, dst, 8, 0, 0, 0, 5, 0, -EINVAL); /* no pipe */
	/* the truth: from 2, five bytes, the offset moved in the slot */
	CP(VOS_OP_COPY_FILE_RANGE, src, dst, 8, 0, 0, 2, 5, 0, 5);
	off = slot[0];
	KCHECK(off == 7, "offset back: %lld", (long long)off);
	/* a count past SSIZE_MAX: -EINVAL; any other: the kernel clamps it
	 * (the rest of src, 10 bytes) */
	CP(VOS_OP_SENDFILE, dst, src, 0, 0, 0, 0, UINT64_MAX, 0, -EBADF);
	CP(VOS_OP_SENDFILE, src, dst, 0, 0, 0, 0, UINT64_MAX, 0, -EINVAL);
	CP(VOS_OP_SENDFILE, src, dst, 0, 0, 0, 0, 1ull << 40, 0, 10);
#undef CP
	raw_close(&r);
	ksay("DONE %d", n);
	return 0;
}

START_TEST(stord_copy_raw)
{
	char d[300], p[400], got[32];
	struct kid k;
	int fd, n;
	ssize_t len;

	if (!stord_with_dir("stord_copy_raw", NULL, "cp", d, sizeof(d)))
		return;
	snprintf(p, sizeof(p), "%s/src", d);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "0123456789", 10), 10);
	ck_assert_int_eq(fchmod(fd, 0666), 0);
	close(fd);
	snprintf(p, sizeof(p), "%s/dst", d);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fchmod(fd, 0666), 0);
	close(fd);
	kid_start(&k, attacker(), kid_copy, stord.sock);
	n = atoi(kid_expect(&k, "DONE ", 20000));
	kid_join(&k, 10000);
	fd = open(p, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	len = read(fd, got, sizeof(got));
	close(fd);
	ck_assert_int_eq(len, 15);
	ck_assert_int_eq(memcmp(got, "234560123456789", 15), 0);
	printf("stord_copy_raw: %d hand-made copy entries (short, outside "
	       "and long offsets: -EFAULT; fd2 not the client's, the export "
	       "root: -EBADF; the kernel's -EBADF, -EINVAL): the file holds "
	       "only what the two good ones copied; SIGTERM stop %lld ms\n",
	       n, (long long)stop_timed(&stord, "stord"));
}
END_TEST

/* =========================================================================
 * 9. stord applies the client's umask.
 * ========================================================================= */

struct umask_arg {
	const char *sock;
	mode_t mask;
	const char *dir; /* under the export root, "" for the root */
};

static int kid_umask(void *arg)
{
	struct umask_arg *a = arg;
	struct vos_ctx *ctx;
	char p[200];
	int fd, ret;

	umask(a->mask); /* before attaching: ATTACH carries it */
	ret = lib_ctx(a->sock, &ctx);
	KCHECK(ret == 0, "attach: %s", strerror(-ret));
	snprintf(p, sizeof(p), "%su%03o-file", a->dir, (unsigned)a->mask);
	fd = vos_openat(ctx, AT_FDCWD, p, O_CREAT | O_EXCL | O_WRONLY, 0666);
	KCHECK(fd >= 0, "create %s: %s", p, strerror(-fd));
	KCHECK(vos_close(ctx, fd) == 0, "close");
	snprintf(p, sizeof(p), "%su%03o-dir", a->dir, (unsigned)a->mask);
	ret = vos_mkdirat(ctx, AT_FDCWD, p, 0777);
	KCHECK(ret == 0, "mkdir %s: %s", p, strerror(-ret));
	vos_ctx_destroy(ctx);
	ksay("MADE");
	return 0;
}

static mode_t mode_of(const char *dir, mode_t mask, const char *what,
		      uid_t *owner)
{
	char p[400];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%su%03o-%s", exp_dir, dir, (unsigned)mask,
		 what);
	ck_assert_msg(stat(p, &st) == 0, "%s: %s", p, strerror(errno));
	if (owner)
		*owner = st.st_uid;
	return st.st_mode & 07777;
}

START_TEST(stord_umask)
{
	static const mode_t masks[] = { 077, 027, 0 };
	struct umask_arg ua = { NULL, 0, "" };
	char d[300], figures[400] = "";
	size_t len = 0;
	struct good g;
	struct base b;
	struct kid k;
	long fds;
	int64_t back, stop;

	if (!stord_with_dir("stord_umask", NULL, "nobody", d, sizeof(d)))
		return;
	good_open(&g, &stord);
	good_rounds(&g, 40);
	b = baseline(&stord, 1);
	ua.sock = stord.sock;
	for (unsigned i = 0; i < sizeof(masks) / sizeof(*masks); i++) {
		mode_t f, m;

		ua.mask = masks[i];
		kid_start(&k, -1, kid_umask, &ua);
		kid_expect(&k, "MADE", 10000);
		kid_join(&k, 10000);
		f = mode_of("", masks[i], "file", NULL);
		m = mode_of("", masks[i], "dir", NULL);
		ck_assert_msg(f == (0666 & ~masks[i]) && m == (0777 & ~masks[i]),
			      "umask %03o: file %04o, dir %04o", masks[i], f, m);
		len += (size_t)snprintf(figures + len, sizeof(figures) - len,
					"umask %03o: file %04o dir %04o; ",
					masks[i], f, m);
		good_rounds(&g, 20);
	}
	if (root) {
		/* any local user, in a directory of its own */
		mode_t f, m;
		uid_t of, om;

		ua.mask = 077;
		ua.dir = "nobody/";
		kid_start(&k, NOBODY, kid_umask, &ua);
		kid_expect(&k, "MADE", 10000);
		kid_join(&k, 10000);
		f = mode_of("nobody/", 077, "file", &of);
		m = mode_of("nobody/", 077, "dir", &om);
		ck_assert_msg(f == 0600 && m == 0700, "uid 65534, umask 077: "
			      "file %04o, dir %04o", f, m);
		ck_assert_int_eq(of, NOBODY);
		ck_assert_int_eq(om, NOBODY);
		snprintf(figures + len, sizeof(figures) - len, "uid 65534 umask "
			 "077: file %04o dir %04o, owned by 65534; ", f, m);
	}
	back = wait_back(&stord, b, 5000, &fds);
	good_close(&g);
	stop = stop_timed(&stord, "stord");
	printf("stord_umask (open O_CREAT 0666, mkdir 0777): %sworst "
	       "well-behaved round trip %.2f ms over %ld; fds %ld -> %ld "
	       "(%lld ms); SIGTERM stop %lld ms\n", figures, good_worst_ms(&g),
	       g.n, b.fds, fds, (long long)back, (long long)stop);
}
END_TEST

/* An export that holds a procfs (an export of /, say): what uid 65534 gets
 * of it through stord is what it gets natively.  The kernel checks
 * /proc/sys writes and /proc/<pid> links against the effective uid and
 * capabilities (CAP_SYS_PTRACE), which setfsuid leaves the daemon's:
 * stord's threads take the client's effective ids. */
struct proc_probe {
	const char *path;  /* below the export's proc/ */
	bool link;         /* readlink; else open */
	int flags;
};

static const struct proc_probe proc_probes[] = {
	{ "sys/kernel/core_pattern", false, O_WRONLY }, /* root for anyone */
	{ "sys/vm/drop_caches", false, O_WRONLY },
	{ "1/cwd", true, 0 },        /* another user's process */
	{ "1/root", true, 0 },
	{ "1/environ", false, O_RDONLY },
	{ "1/mem", false, O_RDONLY },
};

static int kid_proc(void *arg)
{
	const char *sock = arg;
	struct vos_ctx *ctx;
	int ret;

	ret = lib_ctx(sock, &ctx);
	KCHECK(ret == 0, "attach: %s", strerror(-ret));
	for (size_t i = 0; i < sizeof(proc_probes) / sizeof(*proc_probes);
	     i++) {
		const struct proc_probe *p = &proc_probes[i];
		char nat[300], rel[300], b[256];
		long kern, got;

		snprintf(nat, sizeof(nat), "/proc/%s", p->path);
		snprintf(rel, sizeof(rel), "proc/%s", p->path);
		if (p->link) {
			kern = readlink(nat, b, sizeof(b));
			kern = kern < 0 ? -errno : kern;
			got = vos_readlinkat(ctx, AT_FDCWD, rel, b, sizeof(b));
		} else {
			/* opened, never written: closed at once */
			int fd = open(nat, p->flags | O_CLOEXEC);

			kern = fd < 0 ? -errno : 0;
			if (fd >= 0)
				close(fd);
			got = vos_openat(ctx, AT_FDCWD, rel, p->flags, 0);
			if (got >= 0) {
				vos_close(ctx, (int)got);
				got = 0;
			}
		}
		/* natively refused to this uid: refused through stord too */
		KCHECK(kern < 0, "%s: natively %ld", nat, kern);
		KCHECK(got < 0, "%s through stord: %ld (natively %s)", rel,
		       got, strerror((int)-kern));
		ksay("PROBE %s %ld %ld", p->path, kern, got);
	}
	vos_ctx_destroy(ctx);
	ksay("DONE");
	return 0;
}

START_TEST(stord_proc_in_export)
{
	char figures[600] = "", line[300];
	size_t len = 0;
	struct kid k;
	int64_t stop;

	make_work();
	if (!root) {
		printf("stord_proc_in_export: needs root (a procfs mounted in "
		       "the export): not run\n");
		return;
	}
	/* a mount namespace of this test's own: the procfs goes with it */
	ck_assert_int_eq(unshare(CLONE_NEWNS), 0);
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	snprintf(proc_in_export, sizeof(proc_in_export), "%s/proc", exp_dir);
	ck_assert_int_eq(mkdir(proc_in_export, 0555), 0);
	ck_assert_int_eq(mount("proc", proc_in_export, "proc", 0, NULL), 0);
	start_stord(NULL);
	kid_start(&k, NOBODY, kid_proc, stord.sock);
	for (size_t i = 0; i < sizeof(proc_probes) / sizeof(*proc_probes);
	     i++) {
		char what[200];
		long kern, got;

		snprintf(line, sizeof(line), "%s", kid_expect(&k, "PROBE ",
							      10000));
		ck_assert_int_eq(sscanf(line, "%199s %ld %ld", what, &kern,
					&got), 3);
		len += (size_t)snprintf(figures + len, sizeof(figures) - len,
					"%s%s %s %ld/%ld", i ? ", " : "",
					proc_probes[i].link ? "readlink"
							    : "open", what,
					kern, got);
	}
	kid_expect(&k, "DONE", 10000);
	kid_join(&k, 10000);
	stop = stop_timed(&stord, "stord");
	printf("stord_proc_in_export: uid 65534, natively/through stord: %s; "
	       "SIGTERM stop %lld ms\n", figures, (long long)stop);
}
END_TEST

/* =========================================================================
 * 10. Protocol violations: dropped, others unaffected.
 * ========================================================================= */

static int kid_violations(void *arg)
{
	static const char *const what[] = { "tag >= entries", "a tag in flight" };
	struct raw r[3];

	for (int v = 0; v < 3; v++) {
		struct vos_wire_req w[2];
		struct vos_wire_cqe e;
		int ret = raw_attach(&r[v], arg, 64, 4096);
		int64_t t;

		KCHECK(ret == 0, "attach: %s", strerror(-ret));
		KCHECK(rcall(&r[v], raw_req(VOS_OP_NOP, -1, 0)) == 0, "nop");
		switch (v) {
		case 0:
			w[0] = raw_req(VOS_OP_NOP, -1, r[v].g.entries);
			raw_submit(&r[v], w, 1, true);
			break;
		case 1:
			w[0] = raw_req(VOS_OP_TIMEOUT, -1, 5);
			w[0].off = HOUR_NS;
			w[1] = raw_req(VOS_OP_NOP, -1, 5);
			raw_submit(&r[v], w, 2, true);
			break;
		default: {
			/* entries with sequence words out of order (from a
			 * later lap, from the past, garbage): not there yet,
			 * for the daemon; the ring goes on when the right one
			 * comes (version 2 had a tail index to lie with) */
			struct vos_wire_req *sq = (void *)(r[v].map +
							   r[v].g.sq_off);
			static const uint32_t bad[] = { 100000, 0, 0xdeadbeef };

			for (unsigned i = 0; i < 3; i++) {
				w[0] = raw_req(VOS_OP_NOP, -1, 1);
				sq[r[v].sq_tail & (r[v].g.entries - 1)] = w[0];
				RAW_SEQ(&sq[r[v].sq_tail & (r[v].g.entries - 1)]) =
					r[v].sq_tail + bad[i];
				__atomic_thread_fence(__ATOMIC_SEQ_CST);
				raw_ring(&r[v]);
				t = wait_eof(r[v].sock, 200);
				KCHECK(t < 0, "dropped for a sequence word off "
				       "by %u", bad[i]);
				KCHECK(raw_reap(&r[v], &e, 1, 0) == 0,
				       "an entry out of sequence was taken");
			}
			KCHECK(rcall(&r[v], raw_req(VOS_OP_NOP, -1, 2)) == 0,
			       "the next right entry was not served");
			raw_close(&r[v]); /* (the parent counts clients) */
			ksay("IGNORED");
			continue;
		}
		}
		t = wait_eof(r[v].sock, 2000);
		KCHECK(t >= 0, "%s: not dropped within 2 s", what[v]);
		ksay("DROPPED %d %lld", v, (long long)t);
	}
	kwait(60000); /* alive, holding two regions and doorbells */
	return 0;
}

START_TEST(protocol_violations)
{
	struct good g;
	struct base b;
	struct kid k;
	long t[2], fds, fds2, logged = 0;
	int64_t back, back2, stop;
	char line[512];
	FILE *f;

	b = netd_with_good(NULL, &g);
	kid_start(&k, attacker(), kid_violations, netd.sock);
	for (int v = 0; v < 2; v++) {
		int got;

		good_rounds(&g, 50);
		ck_assert_int_eq(sscanf(kid_expect(&k, "DROPPED ", 10000),
					"%d %ld", &got, &t[v]), 2);
		ck_assert_int_eq(got, v);
	}
	good_rounds(&g, 50);
	kid_expect(&k, "IGNORED", 10000);
	/* all three gone from the daemon while their process lives on (the
	 * two that broke the protocol dropped, the third detached) */
	back = wait_back(&netd, b, 5000, &fds);
	good_rounds(&g, 200); /* the same attachment: unaffected */
	kid_kill(&k);
	back2 = wait_back(&netd, b, 5000, &fds2);
	good_close(&g);
	stop = stop_timed(&netd, "netd");
	f = fopen(netd.log, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		logged += strstr(line, "broke the protocol") != NULL;
	fclose(f);
	ck_assert_int_eq(logged, 2);
	printf("protocol_violations: dropped (control connection EOF) after %ld "
	       "ms (tag >= entries), %ld ms (a tag in flight), each logged; "
	       "request entries with sequence words out of order ignored, the "
	       "next right one served; clients back to %ld in %lld ms and "
	       "fds %ld -> %ld while the attacker lived, %ld after SIGKILL "
	       "(%lld ms); worst well-behaved round trip %.2f ms over %ld, same "
	       "attachment throughout; SIGTERM stop %lld ms\n", t[0], t[1],
	       b.clients, (long long)back, b.fds, fds, fds2, (long long)back2,
	       good_worst_ms(&g), g.n, (long long)stop);
}
END_TEST

/* Not an attack: clients of one uid attaching at the same moment (a
 * pre-forked server) are all served, though far more than the pending
 * bound per uid: the oldest pending connection that has spoken is served
 * to make room and the oldest silent one closed; a client whose
 * connection was closed so (it was descheduled between connect and
 * ATTACH) tries again until its deadline.  Run with the default bound
 * (8) and with 1, where nearly every client is pushed out at least once. */
static void attach_burst(int n, const char *const *extra, long *ok_out,
			 int64_t *ms_out)
{
	pid_t kids[128];
	int gate[2];
	long ok = 0;
	int64_t t0;

	ck_assert_int_le(n, 128);
	make_work();
	start_netd(extra);
	ck_assert_int_eq(pipe(gate), 0);
	for (int i = 0; i < n; i++) {
		kids[i] = fork();
		ck_assert_int_ge(kids[i], 0);
		if (kids[i] == 0) {
			struct vos_ctx *ctx;
			char c;
			int ret;

			close(gate[1]);
			if (drop_to(attacker()) < 0 || read(gate[0], &c, 1) != 0)
				_exit(200);
			ret = lib_ctx(netd.sock, &ctx);
			if (ret < 0) /* the errno, for the report below */
				_exit(-ret > 0 && -ret < 200 ? -ret : 201);
			_exit(vos_nop(ctx) == 0 ? 0 : 202);
		}
	}
	close(gate[0]);
	t0 = td_now_ms();
	close(gate[1]); /* all go at once */
	for (int i = 0; i < n; i++) {
		int st;

		ck_assert_int_eq(waitpid(kids[i], &st, 0), kids[i]);
		ok += WIFEXITED(st) && WEXITSTATUS(st) == 0;
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			printf("attach_burst: client %d of %d: %s %d (an errno "
			       "below 200: its attach failed so)\n", i, n,
			       WIFEXITED(st) ? "exit" : "signal",
			       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	}
	*ms_out = td_now_ms() - t0;
	*ok_out = ok;
	ck_assert_int_eq(td_stop(&netd), 0);
}

START_TEST(attach_burst_one_uid)
{
	/* Only the pending bound is under test: the uid's bounds on attached
	 * clients (64) and on their regions (1024 MiB, 16 MiB each) would
	 * refuse a burst whose clients overlap (slow exits under ASan: 2 of
	 * 100 refused -ENOMEM in a CI run), so they are raised here. */
	const char *const eight[] = { "--max-clients-uid", "128",
				      "--max-region-mib-uid", "4096", NULL };
	const char *const one[] = { "--max-clients-uid", "128",
				    "--max-region-mib-uid", "4096",
				    "--max-pending-uid", "1", NULL };
	long ok8, ok1;
	int64_t ms8, ms1;

	attach_burst(40, eight, &ok8, &ms8);
	ck_assert_int_eq(ok8, 40);
	attach_burst(100, one, &ok1, &ms1);
	ck_assert_int_eq(ok1, 100);
	printf("attach_burst_one_uid: 40 clients of one uid attached at once "
	       "(pending bound per uid 8): %ld served in %lld ms; 100 with "
	       "the bound at 1: %ld served in %lld ms\n", ok8,
	       (long long)ms8, ok1, (long long)ms1);
}
END_TEST

/* One TCase per test, named after it: CK_RUN_CASE=fifo_open_stord runs
 * that one alone. */
#define ADD(s, test) \
	do { \
		TCase *t_ = tcase_create(#test); \
		tcase_set_timeout(t_, 120); \
		tcase_add_test(t_, test); \
		suite_add_tcase(s, t_); \
	} while (0)

static Suite *attacks_suite(void)
{
	Suite *s = suite_create("attacks");

	ADD(s, region_sealed);
	ADD(s, grow_lies_refused);
	ADD(s, doorbell_blocking_full);
	ADD(s, doorbell_shut_down);
	ADD(s, timers_flood);
	ADD(s, timers_flood_one_worker);
	ADD(s, parked_flood_two_uids);
	ADD(s, parked_flood_shares);
	ADD(s, fd_caps);
	ADD(s, pending_connections);
	ADD(s, client_slots_per_uid);
	ADD(s, fifo_open_stord);
	ADD(s, netd_bind_policy);
	ADD(s, netd_bind_flipper);
	ADD(s, netd_sockopt_policy);
	ADD(s, netd_unix_family);
	ADD(s, netd_commands);
	ADD(s, stord_umask);
	ADD(s, stord_openat2_raw);
	ADD(s, stord_copy_raw);
	ADD(s, stord_proc_in_export);
	ADD(s, protocol_violations);
	ADD(s, attach_burst_one_uid);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(attacks_suite());
	int failed;

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
