/*
 * shm.c - the shm transport: the client end of the wire protocol to a
 * service daemon on the same kernel (doc/protocol.md).
 *
 * Attaching: connect to the daemon's SOCK_SEQPACKET socket, send ATTACH,
 * receive the region (a memfd) and two eventfds (sq: we kick the daemon;
 * cq: it kicks us) with SCM_RIGHTS.  Then requests go into the ring with
 * no system call unless the daemon's worker sleeps (NEED_WAKEUP).
 *
 * The daemon may die or misbehave at any time.  Its death shows as end of
 * stream on the control socket, which every blocking wait watches: the
 * requests in flight then fail (-ECONNRESET for socket calls, -EIO for
 * the rest), fds of the dead instance fail with -EIO until closed, and the
 * next call that makes a new fd (socket, open) attaches again.  A value
 * from the region that breaks the protocol is treated the same way.
 *
 * Options ("k=v,..."):
 *   path=SOCKET   the daemon's socket (required)
 *   slot=BYTES    data bytes per request (default 65536; 4096..1048576)
 *   lazy=0|1      1: do not attach until the first call (default 0)
 *
 * The fds this transport returns are not kernel fds: (attachment
 * generation << 20) | the daemon's number.  The routing layer
 * (libvirtuos/router.c) gives programs real kernel fd numbers instead.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control_msg.h"
#include "internal.h"
#include "op_kinds.h"
#include "options.h"
#include "ring.h"
#include "wire_client.h"

#define DEFAULT_SLOT 65536u
#define FD_BITS 20
#define FD_MASK ((1 << FD_BITS) - 1)
#define GEN_MAX 2047u
#define ATTACH_TIMEOUT_MS 5000

struct shm {
	struct vos_transport_host *host;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uint32_t slot_size;
	uint32_t depth, entries;
	pid_t owner;

	/* the current attachment */
	bool attached;
	int sock, efd_sq, efd_cq;
	uint8_t *region;
	uint64_t region_size;
	struct vos_wire_header *hdr;
	struct vos_wire_req *sq;
	struct vos_wire_cqe *cq;
	uint8_t *data;
	uint32_t sq_tail, cq_head; /* our copies of the indices we own */
	uint32_t sq_head_seen;     /* the service's head when we last looked */
	uint32_t gen;              /* 1..GEN_MAX, bumped per attachment */
	uint32_t epoch;
	bool logged_down;

	/* per tag: the user's request, what we sent, whether in flight */
	struct vos_req *req;
	struct vos_wire_req *sent;
	uint8_t *busy;
	uint8_t *large; /* which of its two slots the tag's request uses */
	uint32_t inflight;
	char desc[160];
};

static void shm_detach(struct shm *s, bool tell)
{
	if (!s->attached)
		return;
	if (tell && s->owner == getpid())
		vos__ctl_send(s->sock, VOS_WIRE_MSG_DETACH, 0, NULL, 0, NULL,
			      0);
	munmap(s->region, s->region_size);
	close(s->sock);
	close(s->efd_sq);
	close(s->efd_cq);
	s->attached = false;
	s->region = NULL;
}

/* Every request in flight fails with the error a dead service gives. */
static void fail_all(struct shm *s)
{
	for (uint32_t t = 0; t < s->depth; t++) {
		if (!s->busy[t])
			continue;
		s->busy[t] = 0;
		s->inflight--;
		s->host->complete(s->host, t,
				  s->req[t].op == VOS_OP_CLOSE ? 0 :
				  vos__op_is_socket(s->req[t].op) ?
				  -ECONNRESET : -EIO);
	}
}

/* The service died or broke the protocol: fail what is in flight. */
static void service_lost(struct shm *s, const char *why)
{
	vos__log(VOS__LOG_ERROR, "shm: service at %s %s; %u call(s) in "
		 "flight fail", s->path, why, s->inflight);
	shm_detach(s, true);
	fail_all(s);
}

static int attach(struct shm *s)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct vos_wire_attach a = { s->entries, s->slot_size, 0, 0 };
	union {
		struct vos_wire_msg h;
		char b[VOS_WIRE_MSG_MAX];
	} m;
	struct vos_wire_attach_reply rep;
	int fds[VOS__CTL_MAX_FDS];
	unsigned nfds = 0;
	struct stat st;
	void *map;
	int sock, n, ret;

	sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -errno;
	memcpy(sun.sun_path, s->path, sizeof(s->path));
	if (connect(sock, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		ret = -errno;
		goto fail;
	}
	ret = vos__ctl_send(sock, VOS_WIRE_MSG_ATTACH, 0, &a, sizeof(a), NULL,
			    0);
	if (ret < 0)
		goto fail;
	n = vos__ctl_recv(sock, m.b, sizeof(m.b) - 1, fds, &nfds,
			  ATTACH_TIMEOUT_MS);
	if (n == -EPROTO) {
		vos__log(VOS__LOG_ERROR, "shm: %s speaks wire protocol version "
			 "%u, this library speaks %u: refused", s->path,
			 m.h.version, VOS_WIRE_VERSION);
		ret = -EPROTO;
		goto fail_fds;
	}
	if (n <= 0) {
		ret = n == 0 ? -ECONNRESET : n;
		goto fail_fds;
	}
	if (m.h.type != VOS_WIRE_MSG_ATTACH_REPLY || m.h.status < 0) {
		m.b[n] = '\0';
		ret = m.h.status < 0 ? m.h.status : -EBADMSG;
		vos__log(VOS__LOG_ERROR, "shm: %s refused to attach: %s",
			 s->path, m.h.type == VOS_WIRE_MSG_REPLY && m.h.len ?
			 m.b + sizeof(m.h) : strerror(-ret));
		goto fail_fds;
	}
	if (m.h.len != sizeof(rep) || nfds != 3) {
		ret = -EBADMSG;
		goto fail_fds;
	}
	memcpy(&rep, m.b + sizeof(m.h), sizeof(rep));
	if (fstat(fds[0], &st) < 0 || (uint64_t)st.st_size < rep.region_size ||
	    rep.region_size < VOS_WIRE_HEADER_SIZE ||
	    rep.region_size > ((uint64_t)1 << 34)) {
		ret = -EBADMSG;
		goto fail_fds;
	}
	map = mmap(NULL, rep.region_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   fds[0], 0);
	if (map == MAP_FAILED) {
		ret = -errno;
		goto fail_fds;
	}
	s->hdr = map;
	ret = vos__ring_check_header(s->hdr, rep.region_size);
	if (ret == 0 && (s->hdr->sq_entries < s->entries ||
			 s->hdr->slot_size < s->slot_size))
		ret = -EBADMSG;
	if (ret < 0) {
		vos__log(VOS__LOG_ERROR, "shm: %s: %s", s->path, ret == -EPROTO
			 ? "region has another protocol version: refused"
			 : "malformed region header: refused");
		munmap(map, rep.region_size);
		goto fail_fds;
	}
	close(fds[0]);
	s->region = map;
	s->region_size = rep.region_size;
	s->sq = (struct vos_wire_req *)(s->region + s->hdr->sq_off);
	s->cq = (struct vos_wire_cqe *)(s->region + s->hdr->cq_off);
	s->data = s->region + s->hdr->data_off;
	s->entries = s->hdr->sq_entries;
	s->slot_size = s->hdr->slot_size;
	/* the service starts both rings empty: anything else is not ours */
	s->sq_tail = vos__ring_load_acquire(&s->hdr->sq_tail);
	s->sq_head_seen = vos__ring_load_acquire(&s->hdr->sq_head);
	s->cq_head = vos__ring_load_acquire(&s->hdr->cq_head);
	s->epoch = s->hdr->epoch;
	s->sock = sock;
	s->efd_sq = fds[1];
	s->efd_cq = fds[2];
	s->gen = s->gen % GEN_MAX + 1;
	s->attached = true;
	s->logged_down = false;
	snprintf(s->desc, sizeof(s->desc), "shm (%s, epoch %08x)", s->path,
		 s->epoch);
	return 0;
fail_fds:
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
fail:
	close(sock);
	return ret;
}

static int shm_tr_open(struct vos_transport_host *host, void **priv)
{
	const char *o = host->options;
	char key[32], val[128];
	bool lazy = false;
	struct shm *s;
	uint64_t v;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->host = host;
	s->slot_size = DEFAULT_SLOT;
	s->depth = host->queue_depth;
	s->owner = getpid();
	while ((r = vos__opt_next(&o, key, sizeof(key), val, sizeof(val))) > 0) {
		if (strcmp(key, "path") == 0 && strlen(val) < sizeof(s->path))
			strcpy(s->path, val);
		else if (strcmp(key, "slot") == 0 &&
			 vos__opt_uint(val, VOS_WIRE_MIN_SLOT, VOS_WIRE_MAX_SLOT,
				       &v) == 0 && v % 64 == 0)
			s->slot_size = (uint32_t)v;
		else if (strcmp(key, "lazy") == 0 &&
			 vos__opt_uint(val, 0, 1, &v) == 0)
			lazy = v;
		else
			r = -EINVAL;
		if (r < 0)
			break;
	}
	if (r < 0 || !s->path[0] || s->depth > VOS_WIRE_MAX_ENTRIES) {
		vos__log(VOS__LOG_ERROR, "shm: bad options '%s' (need path=, "
			 "slot= 4096..1048576, lazy=0|1; queue depth <= %u)",
			 host->options, VOS_WIRE_MAX_ENTRIES);
		free(s);
		return -EINVAL;
	}
	for (s->entries = 1; s->entries < s->depth; s->entries <<= 1)
		;
	s->req = calloc(s->depth, sizeof(*s->req));
	s->sent = calloc(s->depth, sizeof(*s->sent));
	s->busy = calloc(s->depth, 1);
	s->large = calloc(s->depth, 1);
	snprintf(s->desc, sizeof(s->desc), "shm (%s, not attached)", s->path);
	if (!s->req || !s->sent || !s->busy || !s->large) {
		r = -ENOMEM;
		goto fail;
	}
	if (!lazy) {
		r = attach(s);
		if (r < 0) {
			vos__log(VOS__LOG_ERROR, "shm: cannot attach to %s: %s",
				 s->path, strerror(-r));
			goto fail;
		}
	}
	*priv = s;
	return 0;
fail:
	free(s->req);
	free(s->sent);
	free(s->busy);
	free(s->large);
	free(s);
	return r;
}

/* Tag t's data slot: small (packed with the others) or large. */
static void slot_of(const struct shm *s, uint32_t t, struct vos__wire_slot *sl)
{
	if (s->large[t]) {
		uint64_t off = (uint64_t)s->entries * VOS_WIRE_SMALL_SLOT +
			       (uint64_t)t * s->slot_size;

		sl->base = s->data + off;
		sl->off = (uint32_t)off;
		sl->size = s->slot_size;
	} else {
		sl->base = s->data + (uint64_t)t * VOS_WIRE_SMALL_SLOT;
		sl->off = t * VOS_WIRE_SMALL_SLOT;
		sl->size = VOS_WIRE_SMALL_SLOT;
	}
}

/* Ops whose len is a byte count the slot may shorten. */
static bool wire_transfers(uint8_t op)
{
	switch (op) {
	case VOS_OP_READ: case VOS_OP_WRITE: case VOS_OP_PREAD:
	case VOS_OP_PWRITE: case VOS_OP_SEND: case VOS_OP_RECV:
		return true;
	default:
		return false;
	}
}

/* Ops whose byte count is not in len: always the large slot. */
static bool vectored(uint8_t op)
{
	return op == VOS_OP_READV || op == VOS_OP_WRITEV ||
	       op == VOS_OP_SENDMSG || op == VOS_OP_RECVMSG;
}

/* Map a client fd to the service's number.  0, or -EIO for an fd of an
 * earlier attachment (the service that made it is gone). */
static int map_fd(const struct shm *s, int32_t fd, bool at, int32_t *out)
{
	if (fd < 0) {
		*out = at && fd == AT_FDCWD ? VOS_WIRE_FD_ROOT : fd;
		return 0;
	}
	if ((uint32_t)fd >> FD_BITS != s->gen)
		return -EIO;
	*out = fd & FD_MASK;
	return 0;
}

/* Whether the request names no fd of an attachment (so a new attachment
 * can serve it). */
static bool fresh_op(const struct vos_req *r)
{
	if (r->op == VOS_OP_SOCKET || r->op == VOS_OP_NOP ||
	    r->op == VOS_OP_TIMEOUT)
		return true;
	return vos__op_is_at(r->op) && r->fd == AT_FDCWD &&
	       (r->op != VOS_OP_RENAMEAT || r->fd2 == AT_FDCWD);
}

static int shm_submit(void *priv, const struct vos_req *reqs, unsigned n)
{
	struct shm *s = priv;
	bool tried = false;
	unsigned i, queued = 0;

	for (i = 0; i < n; i++) {
		const struct vos_req *r = &reqs[i];
		uint32_t tag = (uint32_t)r->user_data;
		struct vos__wire_slot slot;
		struct vos_wire_req w;
		int32_t fd = -1, fd2 = r->fd2;
		int ret;

		if (!s->attached && !tried && fresh_op(r)) {
			tried = true;
			ret = attach(s);
			if (ret < 0 && !s->logged_down) {
				vos__log(VOS__LOG_ERROR, "shm: cannot attach to "
					 "%s: %s", s->path, strerror(-ret));
				s->logged_down = true;
			}
		}
		if (!s->attached) {
			s->host->complete(s->host, tag,
					  r->op == VOS_OP_CLOSE ? 0 : -EIO);
			continue;
		}
		/* the service's head is read only when the ring looks full
		 * (its line stays where it is, in the service's cache) */
		if (s->sq_tail - s->sq_head_seen >= s->entries) {
			s->sq_head_seen =
				vos__ring_load_acquire(&s->hdr->sq_head);
			if (s->sq_tail - s->sq_head_seen >= s->entries)
				break; /* a service that does not consume */
		}
		ret = map_fd(s, r->fd, vos__op_is_at(r->op), &fd);
		if (ret == 0 && r->op == VOS_OP_RENAMEAT)
			ret = map_fd(s, r->fd2, true, &fd2);
		if (ret < 0) {
			/* an fd of a dead instance: closing it is fine */
			s->host->complete(s->host, tag,
					  r->op == VOS_OP_CLOSE ? 0 : ret);
			continue;
		}
		/* the small slot first; the large one if the request does not
		 * fit it whole */
		s->large[tag] = vectored(r->op);
		slot_of(s, tag, &slot);
		ret = vos__wire_encode(r, fd, fd2, tag, &slot, &w);
		if (!s->large[tag] &&
		    (ret == -ENOSPC || (ret == 0 && w.len < r->len &&
					wire_transfers(r->op)))) {
			s->large[tag] = 1;
			slot_of(s, tag, &slot);
			ret = vos__wire_encode(r, fd, fd2, tag, &slot, &w);
		}
		if (ret < 0) {
			if (ret == -ENOSPC)
				ret = -EINVAL;
			s->host->complete(s->host, tag, ret);
			continue;
		}
		s->sq[s->sq_tail & (s->entries - 1)] = w;
		s->sq_tail++;
		s->req[tag] = *r;
		s->sent[tag] = w;
		s->busy[tag] = 1;
		s->inflight++;
		queued++;
	}
	if (queued) {
		/* publish the tail (releasing the entries above), then look
		 * at the service's NEED_WAKEUP: the publisher's half of the
		 * handshake in ring.h (the worker's is sleep_now()) */
		vos__ring_publish(&s->hdr->sq_tail, s->sq_tail);
		if (vos__ring_peer_flags(&s->hdr->server_flags) &
		    VOS_WIRE_SERVER_NEED_WAKEUP) {
			uint64_t one = 1;

			if (write(s->efd_sq, &one, sizeof(one)) < 0) {
				/* eventfd writes fail only on overflow */
			}
		}
	}
	return i ? (int)i : -EBUSY;
}

static int shm_reap(void *priv)
{
	struct shm *s = priv;
	uint32_t tail, head;
	int n = 0;

	if (!s->attached)
		return 0;
	head = s->cq_head;
	/* acquire: the entries up to tail are read after the index */
	tail = vos__ring_load_acquire(&s->hdr->cq_tail);
	if (tail - head > s->entries) {
		service_lost(s, "published an impossible completion index");
		return 0;
	}
	while (head != tail) {
		struct vos_wire_cqe e = s->cq[head & (s->entries - 1)];
		struct vos__wire_slot slot;
		uint64_t tag = e.tag;
		int64_t res;

		head++;
		if (tag >= s->depth || !s->busy[tag]) {
			s->cq_head = head;
			vos__ring_store_release(&s->hdr->cq_head, head);
			service_lost(s, "completed a request it was not given");
			return n;
		}
		slot_of(s, (uint32_t)tag, &slot);
		res = vos__wire_result(&s->req[tag], &s->sent[tag], &slot, e.res);
		if (res >= 0 && vos__op_makes_fd(&s->req[tag]))
			res = res > FD_MASK ? -EIO :
			      (int64_t)((s->gen << FD_BITS) | (uint32_t)res);
		s->busy[tag] = 0;
		s->inflight--;
		s->host->complete(s->host, tag, res);
		n++;
	}
	/* release: our reads of the entries happen before the service may
	 * reuse them */
	s->cq_head = head;
	vos__ring_store_release(&s->hdr->cq_head, head);
	return n;
}

/* Read the control socket after poll said it is readable: end of stream
 * means the service is gone. */
static void check_control(struct shm *s)
{
	char buf[VOS_WIRE_MSG_MAX];
	int fds[VOS__CTL_MAX_FDS];
	unsigned nfds;
	int n = vos__ctl_recv(s->sock, buf, sizeof(buf), fds, &nfds, 0);

	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	if (n == 0 || (n < 0 && n != -ETIMEDOUT && n != -EAGAIN))
		service_lost(s, "is gone");
}

static int shm_wait(void *priv, int64_t timeout_ns)
{
	struct shm *s = priv;
	struct pollfd p[2];
	struct timespec ts, *tsp = NULL;
	int n, r;

	if (!s->attached)
		return -EIO;
	if (s->inflight == 0)
		return -EAGAIN;
	/* the sleeper's half of the handshake in ring.h: NEED_WAKEUP, then
	 * a last look at the completion tail (the worker's publish() is the
	 * other half) */
	vos__ring_set_flag(&s->hdr->client_flags, VOS_WIRE_CLIENT_NEED_WAKEUP);
	if (vos__ring_peek(&s->hdr->cq_tail) == s->cq_head)
		n = 0;
	else
		n = shm_reap(s);
	if (n > 0 || !s->attached) {
		if (s->attached)
			vos__ring_clear_flag(&s->hdr->client_flags,
					     VOS_WIRE_CLIENT_NEED_WAKEUP);
		return n > 0 ? n : -EAGAIN;
	}
	p[0] = (struct pollfd){ s->efd_cq, POLLIN, 0 };
	p[1] = (struct pollfd){ s->sock, POLLIN, 0 };
	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tsp = &ts;
	}
	r = ppoll(p, 2, tsp, NULL);
	if (r < 0)
		r = -errno;
	vos__ring_clear_flag(&s->hdr->client_flags, VOS_WIRE_CLIENT_NEED_WAKEUP);
	if (r > 0 && (p[0].revents & POLLIN)) {
		uint64_t v;

		if (read(s->efd_cq, &v, sizeof(v)) < 0) {
			/* drained by an earlier read: nothing to do */
		}
	}
	n = shm_reap(s);
	if (s->attached && r > 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
		int before = (int)s->inflight;

		check_control(s);
		if (!s->attached)
			n += before;
	}
	if (n > 0)
		return n;
	if (r < 0)
		return r;
	return r == 0 ? -ETIME : -EAGAIN;
}

static void shm_close(void *priv)
{
	struct shm *s = priv;

	shm_detach(s, true);
	free(s->req);
	free(s->sent);
	free(s->busy);
	free(s->large);
	free(s);
}

static int shm_after_fork(void *priv)
{
	struct shm *s = priv;

	/* the parent keeps its attachment; the child drops its copy and
	 * attaches anew when it makes an fd (no fd-table clone yet) */
	shm_detach(s, false);
	memset(s->busy, 0, s->depth);
	s->inflight = 0;
	s->owner = getpid();
	s->gen = s->gen % GEN_MAX + 1;
	return 0;
}

static const char *shm_describe(void *priv)
{
	return ((struct shm *)priv)->desc;
}

const struct vos_transport_ops vos__transport_shm = {
	.abi = VOS_TRANSPORT_ABI,
	.name = "shm",
	.open = shm_tr_open,
	.submit = shm_submit,
	.reap = shm_reap,
	.wait = shm_wait,
	.close = shm_close,
	.after_fork = shm_after_fork,
	.describe = shm_describe,
};
