/*
 * daemon.h - starting, querying and stopping real netd/stord processes
 * from a Check suite.  Every wait is bounded.
 */
#ifndef VOS_TEST_DAEMON_H
#define VOS_TEST_DAEMON_H

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <virtuos/wire.h>

#include "shm_control.h"

struct td {
	pid_t pid;
	char sock[108];
	char log[300];
};

static inline int64_t td_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* How many threads of pid are in system call nr (a daemon's pool threads
 * blocked in a call): /proc/PID/task/TID/syscall starts with the call's
 * number.  -1 if that cannot be read. */
static inline int td_threads_in(pid_t pid, long nr)
{
	char d[64], p[400], line[64];
	struct dirent *e;
	DIR *dir;
	int n = 0;

	snprintf(d, sizeof(d), "/proc/%d/task", (int)pid);
	dir = opendir(d);
	if (!dir)
		return -1;
	while ((e = readdir(dir))) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s/syscall", d, e->d_name);
		f = fopen(p, "re");
		if (!f)
			continue; /* the thread is gone */
		if (fgets(line, sizeof(line), f) &&
		    strtol(line, NULL, 10) == nr)
			n++;
		else if (ferror(f))
			n = -1000;
		fclose(f);
	}
	closedir(dir);
	return n < 0 ? -1 : n;
}

/* Start servers/PROG/PROG in the foreground on sock with the extra
 * arguments (NULL-terminated); return once it said "ready" (at most
 * 20 s).  Its stderr goes to sock".log". */
static inline void td_start(struct td *d, const char *prog, const char *sock,
			    const char *const *extra)
{
	const char *top = getenv("top_builddir");
	char bin[512], ready[16] = { 0 };
	const char *argv[40];
	int p[2], n = 0;
	struct pollfd pf;

	snprintf(bin, sizeof(bin), "%s/servers/%s/%s", top ? top : ".", prog,
		 prog);
	snprintf(d->sock, sizeof(d->sock), "%s", sock);
	snprintf(d->log, sizeof(d->log), "%s.log", sock);
	ck_assert_int_eq(pipe(p), 0);
	argv[n++] = bin;
	argv[n++] = "-f";
	argv[n++] = "-c";
	argv[n++] = "/dev/null";
	argv[n++] = "-s";
	argv[n++] = sock;
	argv[n++] = "--ready-fd";
	argv[n++] = "3";
	for (int i = 0; extra && extra[i] && n < 38; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	d->pid = fork();
	ck_assert_int_ge(d->pid, 0);
	if (d->pid == 0) {
		FILE *f = fopen(d->log, "a");

		if (f)
			dup2(fileno(f), 2);
		dup2(p[1], 3);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	pf = (struct pollfd){ p[0], POLLIN, 0 };
	ck_assert_msg(poll(&pf, 1, 20000) == 1, "%s did not get ready", prog);
	ck_assert_int_gt(read(p[0], ready, sizeof(ready) - 1), 0);
	ck_assert_str_eq(ready, "ready\n");
	close(p[0]);
}

/* SIGTERM and wait (at most 20 s, on a pidfd: no polling); returns the
 * exit status, or -1 if it had to be killed. */
static inline int td_stop(struct td *d)
{
	int st = 0, pfd = (int)syscall(SYS_pidfd_open, d->pid, 0);
	struct pollfd p = { pfd, POLLIN, 0 };
	bool exited;

	ck_assert_int_ge(pfd, 0);
	kill(d->pid, SIGTERM);
	exited = poll(&p, 1, 20000) == 1;
	close(pfd);
	if (!exited)
		kill(d->pid, SIGKILL);
	waitpid(d->pid, &st, 0);
	d->pid = 0;
	return exited && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline void td_kill(struct td *d)
{
	int st;

	if (d->pid > 0) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, &st, 0);
	}
	d->pid = 0;
}

/* The daemon's STATS report (vosctl's source) into buf.  Bounded: the
 * connect and the send give up after 2 s (a daemon with a full backlog
 * must not hang a test), the reply and the close after 5 s each.  0 or
 * -errno. */
static inline int td_stats(const char *sock, char *buf, size_t cap)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { 2, 0 };
	char m[VOS_WIRE_MSG_MAX];
	int fds[VOS__SHM_MAX_FDS];
	unsigned nfds = 0;
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0), n;

	if (s < 0)
		return -errno;
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		n = -errno;
		close(s);
		return n;
	}
	n = vos__shm_ctl_send(s, VOS_WIRE_MSG_STATS, 0, NULL, 0, NULL, 0);
	if (n == 0)
		n = vos__shm_ctl_recv(s, m, sizeof(m) - 1, fds, &nfds, 5000);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	/* then the daemon's end closes: wait for that (at most 5 s), so a
	 * caller that next counts the daemon's fds does not count this one */
	if (n > 0) {
		struct pollfd p = { s, POLLIN, 0 };
		char c;

		if (poll(&p, 1, 5000) == 1 && recv(s, &c, 1, 0) != 0)
			n = -EBADMSG;
	}
	close(s);
	if (n <= (int)sizeof(struct vos_wire_msg))
		return n < 0 ? n : -EBADMSG;
	m[n] = '\0';
	snprintf(buf, cap, "%s", m + sizeof(struct vos_wire_msg));
	return 0;
}

/* How many fds process pid holds, or -1. */
static inline long td_count_fds(pid_t pid)
{
	char d[64];
	struct dirent *e;
	long n = 0;
	DIR *dir;

	snprintf(d, sizeof(d), "/proc/%d/fd", (int)pid);
	dir = opendir(d);
	if (!dir)
		return -1;
	while ((e = readdir(dir)))
		n += e->d_name[0] != '.';
	closedir(dir);
	return n;
}

static inline int td_rm_one(const char *path, const struct stat *sb,
			    int type, struct FTW *f)
{
	(void)sb; (void)type; (void)f;
	remove(path); /* best effort */
	return 0;
}

/* Remove a test's directory and all in it (best effort), unless
 * VOS_TEST_KEEP is set (to keep the logs for a look). */
static inline void td_rm_tree(const char *dir)
{
	if (dir[0] && !getenv("VOS_TEST_KEEP"))
		nftw(dir, td_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline long td_stat(const char *text, const char *key)
{
	char k[64];
	const char *p;

	snprintf(k, sizeof(k), "%s ", key);
	p = strstr(text, k);
	return p ? strtol(p + strlen(k), NULL, 10) : -1;
}

/* Wait (at most ms) until the daemon reports n clients attached. */
static inline bool td_wait_clients(const char *sock, long n, int ms)
{
	char st[4096];
	int64_t end = td_now_ms() + ms;

	while (td_now_ms() < end) {
		struct timespec ts = { 0, 1000000 };

		if (td_stats(sock, st, sizeof(st)) == 0 &&
		    td_stat(st, "clients") == n)
			return true;
		nanosleep(&ts, NULL); /* polling a condition, bounded */
	}
	return false;
}

/* Wait (at most ms) until the daemon's report contains text. */
static inline bool td_wait_text(const char *sock, const char *text, int ms)
{
	char st[4096];
	int64_t end = td_now_ms() + ms;

	while (td_now_ms() < end) {
		struct timespec ts = { 0, 1000000 };

		if (td_stats(sock, st, sizeof(st)) == 0 && strstr(st, text))
			return true;
		nanosleep(&ts, NULL); /* polling a condition, bounded */
	}
	return false;
}

#endif
