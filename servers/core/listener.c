/*
 * listener.c - the daemon's main thread: the endpoint (through a server
 * channel), attaching and detaching clients, answering vosctl, and
 * stopping on SIGTERM.
 *
 * A control connection starts "pending".  Its first message decides what
 * it is: ATTACH makes it a client (the reply carries the region and the
 * doorbell), STATS gets a text report and is closed.  Pending connections
 * are bounded (--max-pending, and --max-pending-uid per uid) and must
 * speak within --attach-timeout-ms, so connections that never say anything
 * cannot use up the daemon's fds; at the bound, the oldest that has spoken
 * is served and the oldest silent one closed (pending_room()).  An attached client's connection stays
 * open for its lifetime: when it closes (the client exited, was killed,
 * or detached), the listener marks the client dying and its worker
 * releases everything it held.
 *
 * The stop is bounded: SIGTERM marks every client dying and gives the
 * workers STOP_GRACE_NS to tear them down; a daemon whose clients left
 * calls it cannot interrupt exits anyway, within 2 s, whatever they did.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "server.h"

#define STOP_GRACE_NS 1500000000LL
#define PENDING_TRIES 8 /* pending connections looked at to make room */

struct srv srv;

enum { CONN_LISTEN, CONN_SIGNAL, CONN_PENDING, CONN_CLIENT, CONN_DEAD };

struct conn {
	int kind;
	int fd;
	struct srv_client *c;
	struct srv_uid *uid;   /* pending: whose */
	int64_t deadline;      /* pending: when it must have spoken */
	bool tried;            /* pending: looked at to make room, silent */
	struct conn *next, **pprev;          /* every open connection */
	struct conn *pnext, **ppprev;        /* pending, oldest first */
};

static int epfd;
static struct conn *conns;
/* closed during a batch of epoll events, freed after it: a later event of
 * the same batch may still name them (CONN_DEAD: skipped) */
static struct conn *graveyard;
static struct conn *pending, **pending_tail = &pending;
static unsigned npending;
static int64_t refused_logged; /* rate limit for "too many" */

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

static void send_msg(int fd, uint16_t type, int32_t status, const void *p,
		     uint32_t len)
{
	char buf[VOS_WIRE_MSG_MAX];
	int n = vos__ctl_frame(buf, sizeof(buf), type, status, p, len);

	if (n > 0)
		srv.chan->send(fd, buf, (uint32_t)n); /* never blocks */
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
	send_msg(fd, VOS_WIRE_MSG_REPLY, status, buf, (uint32_t)n + 1);
}

/* The report vosctl shows.  Anyone may ask (the socket is open to every
 * client), so each sees the summary and its own uid's clients; root and
 * the daemon's own uid see every client. */
static void stats(int fd)
{
	char buf[VOS_WIRE_MSG_MAX - sizeof(struct vos_wire_msg)];
	struct vos__cred who;
	unsigned long running = 0, parked = 0;
	bool all;
	size_t len = 0;

	all = srv.chan->cred(fd, &who) == 0 &&
	      (who.uid == 0 || who.uid == geteuid());
	/* the totals first: the reply holds one line per client only as
	 * far as its size allows */
	pthread_mutex_lock(&srv.reg_lock);
	for (unsigned i = 0; i < srv.nreg; i++) {
		struct srv_client *c = srv.reg[i];

		if (!all && c->cred.uid != who.uid)
			continue;
		running += atomic_load(&c->stat_inflight);
		parked += atomic_load(&c->stat_parked);
	}
	pthread_mutex_unlock(&srv.reg_lock);
	len += (size_t)snprintf(buf, sizeof(buf),
				"service %s pid %d epoch %08x workers %u "
				"clients %u pending %u socket %s "
				"total-running %lu total-parked %lu\n",
				srv.svc->name, (int)getpid(), srv.epoch,
				srv.nworkers, atomic_load(&srv.nclients),
				npending, srv.cfg.socket_path, running, parked);
	pthread_mutex_lock(&srv.reg_lock);
	for (unsigned i = 0; i < srv.nreg && len < sizeof(buf) - 1; i++) {
		struct srv_client *c = srv.reg[i];

		if (!all && c->cred.uid != who.uid)
			continue;
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
			"client %llu pid %d uid %d gid %d running %u "
			"parked %u done %llu\n", (unsigned long long)c->id,
			(int)c->cred.pid, (int)c->cred.uid, (int)c->cred.gid,
			atomic_load(&c->stat_inflight),
			atomic_load(&c->stat_parked),
			(unsigned long long)atomic_load(&c->stat_done));
	}
	pthread_mutex_unlock(&srv.reg_lock);
	if (len >= sizeof(buf))
		len = sizeof(buf) - 1;
	send_msg(fd, VOS_WIRE_MSG_REPLY, 0, buf, (uint32_t)len + 1);
}

static void pending_unlink(struct conn *k)
{
	if (k->kind != CONN_PENDING)
		return;
	*k->ppprev = k->pnext;
	if (k->pnext)
		k->pnext->ppprev = k->ppprev;
	else
		pending_tail = k->ppprev;
	npending--;
	srv_give(&k->uid->pending);
}

/* Take k off the list of connections; it is freed after the current
 * batch of events (bury()). */
static void conn_forget(struct conn *k)
{
	*k->pprev = k->next;
	if (k->next)
		k->next->pprev = k->pprev;
	k->kind = CONN_DEAD;
	k->next = graveyard;
	graveyard = k;
}

static void bury(void)
{
	while (graveyard) {
		struct conn *k = graveyard;

		graveyard = k->next;
		free(k);
	}
}

static void conn_close(struct conn *k)
{
	epoll_ctl(epfd, EPOLL_CTL_DEL, k->fd, NULL);
	pending_unlink(k);
	if (k->kind == CONN_CLIENT) {
		/* the worker owns the connection now and closes it; once
		 * dying is set it may free the client at any moment, so
		 * nothing of it is touched after the store */
		struct srv_worker *w = k->c->w;

		atomic_store(&k->c->dying, true);
		srv_worker_kick(w);
	} else {
		close(k->fd);
	}
	conn_forget(k);
}

static void attach(struct conn *k, const struct vos_wire_msg *h,
		   const void *payload)
{
	struct vos_wire_attach a;
	struct vos__cred cred;
	struct srv_client *c;
	struct srv_uid *u = k->uid;
	char why[240];
	int err;

	if (h->len != sizeof(a)) {
		reply_text(k->fd, -EINVAL, "malformed attach request");
		conn_close(k);
		return;
	}
	memcpy(&a, payload, sizeof(a));
	if (atomic_load(&srv.nclients) >= srv.cfg.max_clients) {
		reply_text(k->fd, -EUSERS, "%s: %u clients attached already",
			   srv.svc->name, srv.cfg.max_clients);
		srv_log(0, "attach refused: max-clients (%u) reached",
			srv.cfg.max_clients);
		conn_close(k);
		return;
	}
	if (!srv_take(&u->clients, srv.cfg.max_clients_uid)) {
		reply_text(k->fd, -EUSERS, "%s: uid %d has %u clients attached "
			   "already", srv.svc->name, (int)u->uid,
			   srv.cfg.max_clients_uid);
		srv_log(0, "attach refused: uid %d has max-clients-uid (%u)",
			(int)u->uid, srv.cfg.max_clients_uid);
		conn_close(k);
		return;
	}
	err = srv.chan->cred(k->fd, &cred);
	c = err < 0 ? NULL : srv_client_new(k->fd, &cred, u, &a, &err, why,
					    sizeof(why));
	if (!c) {
		srv_give(&u->clients);
		if (err < 0 && !why[0])
			snprintf(why, sizeof(why), "%s", strerror(-err));
		reply_text(k->fd, err, "%s: %s", srv.svc->name, why);
		srv_log(0, "attach refused: %s", why);
		conn_close(k);
		return;
	}
	c->id = ++srv.next_id;
	pending_unlink(k);
	k->kind = CONN_CLIENT;
	k->c = c;
	atomic_fetch_add(&srv.nclients, 1);
	registry_add(c);
	srv_log(1, "attach: client %llu pid %d uid %d gid %d (%u entries x "
		"%u bytes)", (unsigned long long)c->id, (int)c->cred.pid,
		(int)c->cred.uid, (int)c->cred.gid, c->ring.g.entries,
		c->ring.g.slot_size);
	srv_worker_add(c);
}

/* Every client costs mappings: its region, the reserve after it, and up
 * to VOS_WIRE_GROW_MAX buffer areas.  Say so at start if max-clients of
 * them could pass the kernel's vm.max_map_count (GROW would then fail
 * with ENOMEM for the last clients, nothing worse). */
static void map_count_check(void)
{
	unsigned long long lim = 0, need;
	FILE *f = fopen("/proc/sys/vm/max_map_count", "re");

	if (!f)
		return;
	if (fscanf(f, "%llu", &lim) != 1)
		lim = 0;
	fclose(f);
	need = (unsigned long long)srv.cfg.max_clients *
	       (VOS_WIRE_GROW_MAX + 3) + 4096;
	if (lim && need > lim)
		srv_log(0, "warning: %u clients with %u buffer areas each "
			"could need %llu mappings; vm.max_map_count is %llu "
			"(lower --max-clients or raise it)",
			srv.cfg.max_clients, VOS_WIRE_GROW_MAX, need, lim);
}

/* GROW: the client shares an area of its own memory (afd, ours to
 * close), mapped right after the data area as it is so far.  Bounded per
 * client (--max-grow-mib) and, with the regions, per uid
 * (--max-region-mib-uid).  Refused areas leave the client attached: its
 * buffers then travel through the slots. */
static void grow(struct conn *k, const struct vos_wire_msg *h,
		 const void *payload, int afd)
{
	struct srv_client *c = k->c;
	struct vos_wire_grow g;
	uint64_t first = (c->ring.g.data_size + 4095) & ~(uint64_t)4095;
	uint64_t max = (uint64_t)srv.cfg.max_grow_mib << 20;
	uint64_t used = c->grown_end - first;
	int err;

	if (h->len != sizeof(g) || afd < 0) {
		if (afd >= 0)
			close(afd);
		reply_text(k->fd, -EINVAL, "%s: malformed GROW (an offset and "
			   "a size, with the area)", srv.svc->name);
		return;
	}
	memcpy(&g, payload, sizeof(g));
	if (g.off != c->grown_end || !g.size || g.size % 4096 ||
	    g.size > UINT32_MAX || g.off + g.size > UINT32_MAX) {
		close(afd);
		reply_text(k->fd, -EINVAL, "%s: GROW of %llu bytes at %llu "
			   "refused (the data area ends at %llu; sizes are "
			   "multiples of 4096; it stays below 4 GiB)",
			   srv.svc->name, (unsigned long long)g.size,
			   (unsigned long long)g.off,
			   (unsigned long long)c->grown_end);
		return;
	}
	if (c->grown >= VOS_WIRE_GROW_MAX) {
		/* each area is a mapping of ours: the count is bounded too
		 * (vm.max_map_count is the whole daemon's) */
		close(afd);
		reply_text(k->fd, -ENOSPC, "%s: %u buffer areas shared "
			   "already, the most one client may share",
			   srv.svc->name, c->grown);
		return;
	}
	if (g.size > max - used) {
		close(afd);
		reply_text(k->fd, -ENOSPC, "%s: %llu bytes of buffers shared "
			   "already; %llu more would pass max-grow-mib (%u)",
			   srv.svc->name, (unsigned long long)used,
			   (unsigned long long)g.size, srv.cfg.max_grow_mib);
		return;
	}
	if (!srv_take_bytes(&c->uid->region_bytes, g.size,
			    (uint64_t)srv.cfg.max_region_mib_uid << 20)) {
		close(afd);
		reply_text(k->fd, -ENOMEM, "%s: uid %d has %llu MiB of shared "
			   "memory already; %llu more would pass "
			   "max-region-mib-uid (%u)", srv.svc->name,
			   (int)c->uid->uid, (unsigned long long)(atomic_load(
			   &c->uid->region_bytes) >> 20),
			   (unsigned long long)(g.size >> 20),
			   srv.cfg.max_region_mib_uid);
		return;
	}
	err = srv.chan->area_map(&c->offer, afd, g.size,
				 c->ring.g.data_off + g.off);
	if (err < 0) {
		atomic_fetch_sub(&c->uid->region_bytes, g.size);
		if (err == -ENOTRECOVERABLE)
			c->grown = VOS_WIRE_GROW_MAX; /* no GROW there again */
		reply_text(k->fd, err, "%s: %s", srv.svc->name,
			   err == -EBADMSG ? "the area is not a memfd of the "
			   "size said, sealed against shrinking and growing"
			   : strerror(-err));
		return;
	}
	/* (read by the worker only once the client is dying: after the
	 * store that says so) */
	c->region_bytes += g.size;
	c->grown_end = g.off + g.size;
	c->grown++;
	/* release: the mapping before the worker may take requests naming
	 * it (pairs with the acquire load in the worker's drain) */
	atomic_store_explicit(&c->data_end, c->grown_end,
			      memory_order_release);
	srv_log(1, "grow: client %llu shares %llu bytes of buffers",
		(unsigned long long)c->id, (unsigned long long)g.size);
	reply_text(k->fd, 0, "ok");
}

/* Read and act on one message of k.  true if k is still a pending
 * connection afterwards (it said nothing yet); false if it became a
 * client, was answered and closed, or is gone (k may be freed). */
static bool on_message(struct conn *k)
{
	union {
		struct vos_wire_msg h;
		char b[VOS_WIRE_MSG_MAX];
	} m;
	struct vos_wire_msg h;
	int afd = -1; /* an attached client's GROW brings its area */
	int n = k->kind == CONN_CLIENT ?
		srv.chan->recv_fd(k->fd, m.b, sizeof(m.b), &afd) :
		srv.chan->recv(k->fd, m.b, sizeof(m.b));

	if (afd >= 0 && (n <= 0 || vos__ctl_parse(m.b, (size_t)n, &h) < 0 ||
			 h.type != VOS_WIRE_MSG_GROW)) {
		close(afd);
		afd = -1;
	}
	if (n == -EAGAIN)
		return k->kind == CONN_PENDING;
	if (n <= 0 || vos__ctl_parse(m.b, (size_t)n, &h) == -EBADMSG) {
		conn_close(k); /* gone, or not speaking the protocol */
		return false;
	}
	if (h.version != VOS_WIRE_VERSION) {
		if (afd >= 0)
			close(afd);
		srv_log(0, "refused a client speaking wire protocol version "
			"%u (this %s speaks %u)", h.version, srv.svc->name,
			VOS_WIRE_VERSION);
		reply_text(k->fd, -EPROTO, "%s speaks wire protocol version "
			   "%u, not %u", srv.svc->name, VOS_WIRE_VERSION,
			   h.version);
		conn_close(k);
		return false;
	}
	if (k->kind == CONN_PENDING) {
		if (h.type == VOS_WIRE_MSG_ATTACH)
			attach(k, &h, m.b + sizeof(h));
		else if (h.type == VOS_WIRE_MSG_STATS) {
			stats(k->fd);
			conn_close(k);
		} else {
			reply_text(k->fd, -EINVAL, "expected ATTACH or STATS");
			conn_close(k);
		}
		return false;
	}
	switch (h.type) {
	case VOS_WIRE_MSG_DETACH:
		conn_close(k);
		break;
	case VOS_WIRE_MSG_GROW:
		grow(k, &h, m.b + sizeof(h), afd);
		break;
	case VOS_WIRE_MSG_CLONE_FDS:
		reply_text(k->fd, -EOPNOTSUPP, "%s: not supported by wire "
			   "protocol version %u servers yet", srv.svc->name,
			   VOS_WIRE_VERSION);
		break;
	default:
		reply_text(k->fd, -EINVAL, "unexpected message type %u",
			   h.type);
		break;
	}
	return false;
}

static struct conn *add(int kind, int fd)
{
	struct conn *k = calloc(1, sizeof(*k));
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };

	if (!k)
		return NULL;
	k->kind = kind;
	k->fd = fd;
	ev.data.ptr = k;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(k);
		return NULL;
	}
	k->next = conns;
	if (conns)
		conns->pprev = &k->next;
	k->pprev = &conns;
	conns = k;
	return k;
}

static bool pending_full(const struct srv_uid *u)
{
	return npending >= srv.cfg.max_pending ||
	       atomic_load(&u->pending) >= srv.cfg.max_pending_uid;
}

/* Make room for one more pending connection of uid u: first serve the
 * oldest pending connections (of u, or of anyone if the daemon as a whole
 * is full) that have spoken already, then close the oldest that has not.
 * A client connects and sends ATTACH at once, so a burst of them is
 * served; connections that never speak push out only each other. */
static void pending_room(struct srv_uid *u)
{
	struct conn *k, *next;
	int pass, tries = 0;

	for (pass = 0; pass < 2 && pending_full(u); pass++)
		for (k = pending; k && pending_full(u); k = next) {
			next = k->pnext;
			if (npending < srv.cfg.max_pending && k->uid != u)
				continue; /* only u is over its bound */
			if (pass == 0) {
				/* served, or nothing yet; each looked at once
				 * and a few per accept at most, so a flood of
				 * silent connections costs the listener little */
				if (k->tried)
					continue;
				if (tries++ == PENDING_TRIES)
					break;
				k->tried = true;
				on_message(k);
			} else {
				int64_t now = srv_now_ns();

				/* a last look: it may have spoken since */
				if (!on_message(k))
					continue; /* served, or gone */
				if (now - refused_logged > 1000000000LL) {
					refused_logged = now;
					srv_log(1, "%u connections pending (at "
						"most %u, %u per uid): closing "
						"the oldest silent one (uid %d)",
						npending, srv.cfg.max_pending,
						srv.cfg.max_pending_uid,
						(int)k->uid->uid);
				}
				conn_close(k);
			}
		}
}

/* New connections: each becomes pending (room made as above).  A few
 * per call, so the messages of those taken are read between batches. */
static void on_connect(int lfd)
{
	for (int i = 0; i < 16; i++) {
		struct vos__cred cred;
		struct srv_uid *u;
		struct conn *k;
		int fd = srv.chan->accept(lfd);

		if (fd < 0)
			return;
		u = srv.chan->cred(fd, &cred) == 0 ? srv_uid_get(cred.uid)
						  : NULL;
		if (u)
			pending_room(u);
		if (!u || !srv_take(&u->pending, srv.cfg.max_pending_uid)) {
			close(fd);
			continue;
		}
		k = add(CONN_PENDING, fd);
		if (!k) {
			srv_give(&u->pending);
			close(fd);
			continue;
		}
		k->uid = u;
		k->deadline = srv_now_ns() +
			      (int64_t)srv.cfg.attach_timeout_ms * 1000000;
		k->pnext = NULL;
		k->ppprev = pending_tail;
		*pending_tail = k;
		pending_tail = &k->pnext;
		npending++;
	}
}

/* Close pending connections that did not speak in time; the ms until the
 * next deadline (-1: none). */
static int expire_pending(void)
{
	int64_t now = srv_now_ns();

	while (pending && pending->deadline <= now)
		conn_close(pending);
	if (!pending)
		return -1;
	return (int)((pending->deadline - now) / 1000000) + 1;
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

static int socket_gid(void)
{
	const char *g = srv.cfg.socket_group;
	struct group *gr;
	char *e;
	long v;

	if (!g[0])
		return -1;
	v = strtol(g, &e, 10);
	if (!*e && v >= 0)
		return (int)v;
	gr = getgrnam(g);
	return gr ? (int)gr->gr_gid : -2;
}

int srv_main(const struct srv_service *svc, int argc, char **argv)
{
	struct vos__listen_opts lo;
	struct epoll_event evs[64];
	struct timespec rt;
	char why[256];
	sigset_t mask;
	long ncpu;
	int lfd, sfd, r;

	srv.svc = svc;
	setvbuf(stderr, NULL, _IOLBF, 0);
	r = srv_config_parse(argc, argv);
	if (r != 0)
		return r > 0 ? 0 : 2;
	srv.chan = srv_channel(NULL);
	if (svc->setup && svc->setup() < 0)
		return 1;
	srv_config_limits();
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	srv.max_spinners = ncpu > 0 ? (unsigned)ncpu : 1;
	srv.nworkers = srv.cfg.workers ? srv.cfg.workers : srv.max_spinners;
	if (srv.nworkers > SRV_MAX_WORKERS)
		srv.nworkers = SRV_MAX_WORKERS;
	if (getrandom(&srv.epoch, sizeof(srv.epoch), 0) != sizeof(srv.epoch))
		srv.epoch = (uint32_t)time(NULL) ^ (uint32_t)getpid();
	pthread_mutex_init(&srv.reg_lock, NULL);

	lo.mode = srv.cfg.socket_mode;
	lo.gid = socket_gid();
	lo.backlog = 128;
	if (lo.gid == -2) {
		srv_log(0, "socket-group %s: no such group",
			srv.cfg.socket_group);
		return 1;
	}
	if (srv.chan->listen(srv.cfg.socket_path, &lo, &lfd, why,
			     sizeof(why)) < 0) {
		srv_log(0, "%s", why);
		return 1;
	}
	if (!srv.cfg.foreground && daemonize() < 0) {
		srv_log(0, "cannot daemonize: %s", strerror(errno));
		return 1;
	}
	if (srv.cfg.pidfile[0]) {
		/* 0644 whatever the umask (stord's is 0): only the daemon
		 * writes it */
		char line[32];
		int n = snprintf(line, sizeof(line), "%d\n", (int)getpid());
		int fd = open(srv.cfg.pidfile, O_WRONLY | O_CREAT | O_TRUNC |
			      O_NOFOLLOW | O_CLOEXEC, 0644);

		if (fd < 0 || fchmod(fd, 0644) < 0 ||
		    write(fd, line, (size_t)n) != n || close(fd) < 0) {
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
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR1); /* only the slow pool's threads take it */
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || epfd < 0 || !add(CONN_LISTEN, lfd) ||
	    !add(CONN_SIGNAL, sfd) || srv_slow_start() < 0) {
		srv_log(0, "setup failed: %s", strerror(errno));
		return 1;
	}
	if (srv_workers_start() < 0)
		return 1;
	srv_log(1, "serving on %s (mode %04o; %u workers, spin %u us; per "
		"client %u running, %u fds; per uid %u clients, %u running and %u "
		"parked per worker, %u fds, %u MiB; %u fds in all; wire protocol "
		"%u, epoch %08x)",
		srv.cfg.socket_path, srv.cfg.socket_mode, srv.nworkers,
		srv.cfg.spin_us, srv.cfg.max_inflight, srv.cfg.max_fds,
		srv.cfg.max_clients_uid, srv.cfg.max_inflight_uid,
		srv.cfg.max_parked_uid,
		srv.cfg.max_fds_uid, srv.cfg.max_region_mib_uid,
		srv.max_fds_total, VOS_WIRE_VERSION, srv.epoch);
	map_count_check();
	if (srv.cfg.ready_fd >= 0) {
		if (write(srv.cfg.ready_fd, "ready\n", 6) != 6)
			srv_log(0, "cannot write to --ready-fd %d",
				srv.cfg.ready_fd);
		close(srv.cfg.ready_fd);
	}

	while (!atomic_load(&srv.stopping)) {
		int n = epoll_wait(epfd, evs, 64, expire_pending());

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			srv_log(0, "epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			struct conn *k = evs[i].data.ptr;

			if (k->kind == CONN_DEAD) {
				continue; /* closed earlier in this batch */
			} else if (k->kind == CONN_SIGNAL) {
				struct signalfd_siginfo si;

				if (read(sfd, &si, sizeof(si)) == sizeof(si))
					srv_log(1, "signal %u: stopping",
						si.ssi_signo);
				atomic_store(&srv.stopping, true);
			} else if (k->kind == CONN_LISTEN) {
				on_connect(lfd);
			} else if (evs[i].events & EPOLLIN) {
				on_message(k);
			} else {
				conn_close(k);
			}
			if (atomic_load(&srv.stopping))
				break; /* the rest can wait */
		}
		bury();
	}

	/* stop: drop every connection (clients are released by their
	 * workers, which close their connections), then the workers, within
	 * a bound */
	clock_gettime(CLOCK_REALTIME, &rt);
	while (conns) {
		struct conn *k = conns;

		if (k->kind == CONN_LISTEN) { /* unlisten closes it */
			epoll_ctl(epfd, EPOLL_CTL_DEL, k->fd, NULL);
			conn_forget(k);
			continue;
		}
		if (k->kind == CONN_CLIENT)
			shutdown(k->fd, SHUT_RDWR);
		conn_close(k);
	}
	bury();
	srv.chan->unlisten(srv.cfg.socket_path, lfd);
	if (srv.cfg.pidfile[0])
		unlink(srv.cfg.pidfile);
	if (!srv_workers_stop((int64_t)rt.tv_sec * 1000000000 + rt.tv_nsec +
			      STOP_GRACE_NS)) {
		srv_log(0, "stopped: %u client(s) still had calls the daemon "
			"could not interrupt; exiting without waiting for them",
			atomic_load(&srv.nclients));
		_exit(0);
	}
	if (srv_slow_stop())
		for (unsigned i = 0; i < srv.nworkers; i++)
			close(srv.workers[i].wake_efd);
	free(srv.reg);
	close(epfd);
	close(sfd);
	srv_log(1, "stopped");
	return 0;
}
