/*
 * listener.c - the daemon's main thread: the control socket, attaching
 * and detaching clients, answering vosctl, and stopping on SIGTERM.
 *
 * A control connection starts "pending".  Its first message decides what
 * it is: ATTACH makes it a client (the reply carries the region memfd and
 * the two eventfds), STATS gets a text report and is closed.  An attached
 * client's connection stays open for its lifetime: when it closes (the
 * client exited, was killed, or detached), the listener marks the client
 * dying and its worker releases everything it held.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control_msg.h"
#include "server.h"

struct srv srv;

enum { CONN_LISTEN, CONN_SIGNAL, CONN_PENDING, CONN_CLIENT };

struct conn {
	int kind;
	int fd;
	struct srv_client *c;
	struct conn *next; /* every open connection, for the stop */
};

static int epfd;
static struct conn *conns;

static void conn_unlink(struct conn *k)
{
	for (struct conn **pp = &conns; *pp; pp = &(*pp)->next)
		if (*pp == k) {
			*pp = k->next;
			return;
		}
}

void srv_log(int level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (level > srv.cfg.log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s[%d]: %s\n", srv.svc->name, (int)getpid(), buf);
}

static void registry_add(struct srv_client *c)
{
	pthread_mutex_lock(&srv.reg_lock);
	if (srv.nreg == srv.reg_cap) {
		unsigned cap = srv.reg_cap ? srv.reg_cap * 2 : 16;
		struct srv_client **n = realloc(srv.reg, cap * sizeof(*n));

		if (n) {
			srv.reg = n;
			srv.reg_cap = cap;
		}
	}
	if (srv.nreg < srv.reg_cap)
		srv.reg[srv.nreg++] = c;
	pthread_mutex_unlock(&srv.reg_lock);
}

void srv_registry_remove(struct srv_client *c)
{
	pthread_mutex_lock(&srv.reg_lock);
	for (unsigned i = 0; i < srv.nreg; i++)
		if (srv.reg[i] == c) {
			srv.reg[i] = srv.reg[--srv.nreg];
			break;
		}
	pthread_mutex_unlock(&srv.reg_lock);
}

static void reply_text(int fd, int32_t status, const char *fmt, ...)
{
	char buf[VOS_WIRE_MSG_MAX - sizeof(struct vos_wire_msg)];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	vos__ctl_send(fd, VOS_WIRE_MSG_REPLY, status, buf, (uint32_t)n + 1,
		      NULL, 0);
}

static void stats(int fd)
{
	char buf[VOS_WIRE_MSG_MAX - sizeof(struct vos_wire_msg)];
	size_t len = 0;

	len += (size_t)snprintf(buf, sizeof(buf),
				"service %s pid %d epoch %08x workers %u "
				"clients %u socket %s\n", srv.svc->name,
				(int)getpid(), srv.epoch, srv.nworkers,
				atomic_load(&srv.nclients),
				srv.cfg.socket_path);
	pthread_mutex_lock(&srv.reg_lock);
	for (unsigned i = 0; i < srv.nreg && len < sizeof(buf) - 1; i++) {
		struct srv_client *c = srv.reg[i];

		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
			"client %llu pid %d uid %d gid %d inflight %u "
			"done %llu\n", (unsigned long long)c->id,
			(int)c->cred.pid, (int)c->cred.uid, (int)c->cred.gid,
			atomic_load(&c->stat_inflight),
			(unsigned long long)atomic_load(&c->stat_done));
	}
	pthread_mutex_unlock(&srv.reg_lock);
	if (len >= sizeof(buf))
		len = sizeof(buf) - 1;
	vos__ctl_send(fd, VOS_WIRE_MSG_REPLY, 0, buf, (uint32_t)len + 1, NULL,
		      0);
}

static void conn_close(struct conn *k)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, k->fd, NULL);
	if (k->kind == CONN_CLIENT) {
		/* the worker owns the socket now and closes it; once dying
		 * is set it may free the client at any moment, so nothing of
		 * it is touched after the store */
		struct srv_worker *w = k->c->w;

		atomic_store(&k->c->dying, true);
		srv_worker_kick(w);
	} else {
		close(k->fd);
	}
	conn_unlink(k);
	free(k);
}

static void attach(struct conn *k, const struct vos_wire_msg *h,
		   const void *payload)
{
	struct vos_wire_attach a;
	struct vos_wire_attach_reply rep = { 0 };
	struct srv_client *c;
	char why[200];
	int err, fds[3];

	if (h->len != sizeof(a)) {
		reply_text(k->fd, -EINVAL, "malformed attach request");
		conn_close(k);
		return;
	}
	if (atomic_load(&srv.nclients) >= srv.cfg.max_clients) {
		reply_text(k->fd, -EUSERS, "%s: %u clients attached already",
			   srv.svc->name, srv.cfg.max_clients);
		srv_log(0, "attach refused: max-clients (%u) reached",
			srv.cfg.max_clients);
		conn_close(k);
		return;
	}
	memcpy(&a, payload, sizeof(a));
	c = srv_client_new(k->fd, &a, &err, why, sizeof(why));
	if (!c) {
		reply_text(k->fd, err, "%s: %s", srv.svc->name, why);
		srv_log(0, "attach refused: %s", why);
		conn_close(k);
		return;
	}
	rep.region_size = c->region_size;
	rep.epoch = srv.epoch;
	fds[0] = err; /* the memfd */
	fds[1] = c->efd_sq;
	fds[2] = c->efd_cq;
	if (vos__ctl_send(k->fd, VOS_WIRE_MSG_ATTACH_REPLY, 0, &rep,
			  sizeof(rep), fds, 3) < 0) {
		close(fds[0]);
		c->sock = -1;
		srv_client_free(c);
		conn_close(k);
		return;
	}
	close(fds[0]);
	c->id = ++srv.next_id;
	k->kind = CONN_CLIENT;
	k->c = c;
	atomic_fetch_add(&srv.nclients, 1);
	registry_add(c);
	srv_log(1, "attach: client %llu pid %d uid %d gid %d (%u entries x "
		"%u bytes)", (unsigned long long)c->id, (int)c->cred.pid,
		(int)c->cred.uid, (int)c->cred.gid, c->entries, c->slot_size);
	srv_worker_add(c);
}

static void on_message(struct conn *k)
{
	union {
		struct vos_wire_msg h;
		char b[VOS_WIRE_MSG_MAX];
	} m;
	int fds[VOS__CTL_MAX_FDS];
	unsigned nfds;
	int n = vos__ctl_recv(k->fd, m.b, sizeof(m.b), fds, &nfds, 0);

	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]); /* clients send no fds */
	if (n == -EPROTO) {
		srv_log(0, "refused a client speaking wire protocol version "
			"%u (this %s speaks %u)", m.h.version, srv.svc->name,
			VOS_WIRE_VERSION);
		reply_text(k->fd, -EPROTO, "%s speaks wire protocol version "
			   "%u, not %u", srv.svc->name, VOS_WIRE_VERSION,
			   m.h.version);
		conn_close(k);
		return;
	}
	if (n <= 0) {
		if (n != -EAGAIN && n != -ETIMEDOUT)
			conn_close(k);
		return;
	}
	if (k->kind == CONN_PENDING) {
		if (m.h.type == VOS_WIRE_MSG_ATTACH)
			attach(k, &m.h, m.b + sizeof(m.h));
		else if (m.h.type == VOS_WIRE_MSG_STATS) {
			stats(k->fd);
			conn_close(k);
		} else {
			reply_text(k->fd, -EINVAL, "expected ATTACH or STATS");
			conn_close(k);
		}
		return;
	}
	switch (m.h.type) {
	case VOS_WIRE_MSG_DETACH:
		conn_close(k);
		break;
	case VOS_WIRE_MSG_GROW:
	case VOS_WIRE_MSG_CLONE_FDS:
		reply_text(k->fd, -EOPNOTSUPP, "%s: not supported by wire "
			   "protocol version 1 servers yet", srv.svc->name);
		break;
	default:
		reply_text(k->fd, -EINVAL, "unexpected message type %u",
			   m.h.type);
		break;
	}
}

static int add(int kind, int fd)
{
	struct conn *k = calloc(1, sizeof(*k));
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };

	if (!k)
		return -1;
	k->kind = kind;
	k->fd = fd;
	ev.data.ptr = k;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(k);
		return -1;
	}
	k->next = conns;
	conns = k;
	return 0;
}

static int bind_socket(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char *path = srv.cfg.socket_path;
	char dir[sizeof(sun.sun_path)], *slash;
	int fd, probe;

	if (strlen(path) >= sizeof(sun.sun_path) || !*path) {
		srv_log(0, "socket path '%s' is empty or too long", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0755); /* /run/virtuos on first start */
	}
	/* a live daemon on the path: refuse; a stale socket: replace */
	probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&sun,
				  sizeof(sun)) == 0) {
		close(probe);
		srv_log(0, "another daemon is serving %s", path);
		return -1;
	}
	if (probe >= 0)
		close(probe);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(path, 0666) < 0 || listen(fd, 128) < 0) {
		srv_log(0, "cannot listen on %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int daemonize(void)
{
	pid_t p = fork();

	if (p < 0)
		return -1;
	if (p > 0)
		_exit(0);
	setsid();
	p = fork();
	if (p < 0)
		return -1;
	if (p > 0)
		_exit(0);
	if (chdir("/") < 0)
		return -1;
	return 0;
}

int srv_main(const struct srv_service *svc, int argc, char **argv)
{
	struct epoll_event evs[64];
	sigset_t mask;
	long ncpu;
	int lfd, sfd, r;

	srv.svc = svc;
	setvbuf(stderr, NULL, _IOLBF, 0);
	r = srv_config_parse(argc, argv);
	if (r != 0)
		return r > 0 ? 0 : 2;
	if (svc->setup && svc->setup() < 0)
		return 1;
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	srv.max_spinners = ncpu > 0 ? (unsigned)ncpu : 1;
	srv.nworkers = srv.cfg.workers ? srv.cfg.workers : srv.max_spinners;
	if (srv.nworkers > SRV_MAX_WORKERS)
		srv.nworkers = SRV_MAX_WORKERS;
	if (getrandom(&srv.epoch, sizeof(srv.epoch), 0) != sizeof(srv.epoch))
		srv.epoch = (uint32_t)time(NULL) ^ (uint32_t)getpid();
	pthread_mutex_init(&srv.reg_lock, NULL);

	lfd = bind_socket();
	if (lfd < 0)
		return 1;
	if (!srv.cfg.foreground && daemonize() < 0) {
		srv_log(0, "cannot daemonize: %s", strerror(errno));
		return 1;
	}
	if (srv.cfg.pidfile[0]) {
		FILE *f = fopen(srv.cfg.pidfile, "w");

		if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f)) {
			srv_log(0, "cannot write %s", srv.cfg.pidfile);
			return 1;
		}
	}
	/* signals: SIGTERM/SIGINT through a signalfd; no thread gets them */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || epfd < 0 || add(CONN_LISTEN, lfd) < 0 ||
	    add(CONN_SIGNAL, sfd) < 0) {
		srv_log(0, "setup failed: %s", strerror(errno));
		return 1;
	}
	if (srv_workers_start() < 0)
		return 1;
	srv_log(1, "serving on %s (%u workers, spin %u us, max %u in flight "
		"per client, wire protocol %u, epoch %08x)",
		srv.cfg.socket_path, srv.nworkers, srv.cfg.spin_us,
		srv.cfg.max_inflight, VOS_WIRE_VERSION, srv.epoch);
	if (srv.cfg.ready_fd >= 0) {
		if (write(srv.cfg.ready_fd, "ready\n", 6) != 6)
			srv_log(0, "cannot write to --ready-fd %d",
				srv.cfg.ready_fd);
		close(srv.cfg.ready_fd);
	}

	while (!atomic_load(&srv.stopping)) {
		int n = epoll_wait(epfd, evs, 64, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			srv_log(0, "epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			struct conn *k = evs[i].data.ptr;

			if (k->kind == CONN_SIGNAL) {
				struct signalfd_siginfo si;

				if (read(sfd, &si, sizeof(si)) == sizeof(si))
					srv_log(1, "signal %u: stopping",
						si.ssi_signo);
				atomic_store(&srv.stopping, true);
			} else if (k->kind == CONN_LISTEN) {
				int fd = accept4(lfd, NULL, NULL,
						 SOCK_CLOEXEC | SOCK_NONBLOCK);

				if (fd >= 0 && add(CONN_PENDING, fd) < 0)
					close(fd);
			} else if (evs[i].events & EPOLLIN) {
				on_message(k);
			} else {
				conn_close(k);
			}
		}
	}

	/* stop: drop every connection (clients are released by their
	 * workers, which close their sockets), then the workers */
	while (conns) {
		struct conn *k = conns;

		if (k->kind == CONN_CLIENT)
			shutdown(k->fd, SHUT_RDWR);
		conn_close(k);
	}
	srv_workers_stop();
	free(srv.reg);
	close(epfd);
	unlink(srv.cfg.socket_path);
	if (srv.cfg.pidfile[0])
		unlink(srv.cfg.pidfile);
	srv_log(1, "stopped");
	return 0;
}
