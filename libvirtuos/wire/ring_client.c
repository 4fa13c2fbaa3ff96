/*
 * ring_client.c - the generic client end of the ring protocol, on any
 * channel (ring_client.h; doc/protocol.md).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "areas.h"
#include "encode.h"
#include "layout.h"
#include "log.h"
#include "opdef.h"
#include "options.h"
#include "peer_mem.h"
#include "ring_client.h"
#include "xfer.h"

#define DEFAULT_SLOT 65536u
/* ... unless that makes the data area larger than this: a deep ring gets
 * smaller slots by default (a service bounds each uid's shared memory;
 * netd's default is 1 GiB) */
#define DEFAULT_DATA_MAX (512u << 20)
#define FD_BITS 20
#define FD_MASK ((1 << FD_BITS) - 1)
#define GEN_MAX 2047u
#define ATTACH_TIMEOUT_MS 5000 /* connect + ATTACH + reply, at most */
/* Service fds followed (socket or not, write order) below this number: a
 * service hands out small numbers (netd's --max-fds); one that hands out
 * large ones costs us at most FDI_MAX entries. */
#define FDI_MAX 65536u

struct vos__rc {
	struct vos_transport_host *host;
	const struct vos__chan_client *chan;
	void *ch;
	uint32_t slot_size;
	uint32_t depth, entries;
	pid_t owner;

	/* the current attachment; its geometry is ours, never re-read */
	bool attached;
	struct vos__shared region, data;
	struct vos__geom g;
	uint32_t sq_tail, cq_head; /* the indices we own */
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
	uint64_t delivered; /* completions given to the host, ever */
	/* per tag, a transfer longer than a data slot: the bytes moved by its
	 * earlier pieces, and its rest's iovec array (xfer.h) */
	uint64_t *moved;
	struct iovec **rest_iov;
	/* per service fd (this attachment's numbers): whether a socket (made
	 * by socket or accept, or a dup of one: its reads are not continued),
	 * and its writes, one on the wire at a time, the rest waiting here in
	 * order (head: the one sent; tags, -1: none) */
	struct rc_fd {
		uint8_t sock;
		int32_t head, tail;
	} *fdi;
	uint32_t fdi_cap;
	int32_t *next;    /* per tag: the next write waiting on its fd */
	uint8_t *waiting; /* per tag: taken, not yet sent (behind a write) */
	uint8_t *stop;    /* per tag: a cancel targeted it, or its fd was
	                   * closed: no further piece */
	/* per tag, made on first use: a multishot request, run as one-shot
	 * requests on the wire (the section "multishot" below) */
	struct rc_multi {
		uint8_t phase;  /* 0: none; MULTI_* */
		uint16_t group; /* recv: its pool */
		uint32_t len;   /* recv: at most this per completion (0: all) */
		uint32_t flags; /* accept4's or recv's */
		int32_t fd;     /* the program's fd */
		int64_t bid;    /* recv: the buffer its RECV fills, or -1 */
	} *multi;
	struct vos__areas areas; /* buffers shared with the service */
	char desc[160];
};

/* The process's umask, without changing it: /proc/self/status has it
 * (Linux 4.7); else the umask(2) round trip. */
static uint32_t process_umask(void)
{
	char line[128];
	unsigned m;
	FILE *f = fopen("/proc/self/status", "re");

	if (f) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "Umask: %o", &m) == 1) {
				fclose(f);
				return m & 0777;
			}
		fclose(f);
	}
	m = umask(022);
	umask(m);
	return m & 0777;
}

static void rc_detach(struct vos__rc *s, bool tell)
{
	if (!s->attached)
		return;
	s->chan->detach(s->ch, tell && s->owner == getpid());
	s->attached = false;
	snprintf(s->desc, sizeof(s->desc), "%s (%s, not attached)",
		 s->chan->name, s->chan->where(s->ch));
	vos__shared_init(&s->region, NULL, 0);
	vos__shared_init(&s->data, NULL, 0);
	vos__areas_detached(&s->areas);
}

/* A multishot recv's buffer that its RECV did not fill goes back. */
static void multi_untake(struct vos__rc *s, struct rc_multi *m)
{
	if (m->bid >= 0)
		s->host->buf_untake(s->host, m->group, (uint32_t)m->bid);
	m->bid = -1;
}

/* Every request in flight fails with the error a dead service gives. */
/* No fd of the service known (a new attachment, or none). */
static void fdi_reset(struct vos__rc *s)
{
	for (uint32_t i = 0; i < s->fdi_cap; i++)
		s->fdi[i] = (struct rc_fd){ 0, -1, -1 };
	for (uint32_t t = 0; t < s->depth; t++) {
		s->next[t] = -1;
		s->waiting[t] = 0;
	}
}

/* Forget tag's earlier pieces (it completes, or is dropped). */
static void pieces_reset(struct vos__rc *s, uint32_t tag)
{
	s->moved[tag] = 0;
	s->stop[tag] = 0;
	free(s->rest_iov[tag]);
	s->rest_iov[tag] = NULL;
}

/* Every request in flight fails with the error a dead service gives (a
 * transfer whose earlier pieces moved data says how much, as a short
 * read or write). */
static void fail_all(struct vos__rc *s)
{
	for (uint32_t t = 0; t < s->depth; t++) {
		int64_t res;

		if (!s->busy[t])
			continue;
		s->busy[t] = 0;
		s->inflight--;
		res = s->req[t].op == VOS_OP_CLOSE ? 0 :
		      vos__op_is_socket(s->req[t].op) ? -ECONNRESET : -EIO;
		if (s->multi && s->multi[t].phase) {
			/* (its step may be a poll: it is a socket call) */
			res = -ECONNRESET;
			multi_untake(s, &s->multi[t]);
			s->multi[t].phase = 0;
		}
		if (s->moved[t])
			res = (int64_t)s->moved[t];
		pieces_reset(s, t);
		s->host->complete(s->host, t, res);
	}
	fdi_reset(s);
}

/* The service died, broke the protocol or missed a deadline: fail what
 * is in flight and let go of the attachment. */
static void service_lost(struct vos__rc *s, const char *why)
{
	vos__log(VOS__LOG_ERROR, "%s: service at %s %s; %u call(s) in "
		 "flight fail", s->chan->name, s->chan->where(s->ch), why,
		 s->inflight);
	/* first: what it may still write into our buffer areas (a call it
	 * finishes late) must not reach the buffers once their calls fail */
	if (s->attached)
		vos__areas_disown(&s->areas, s->ch);
	rc_detach(s, true);
	fail_all(s);
}

/* How long an attach may take, connecting included: ATTACH_TIMEOUT_MS,
 * or the context's deadline for a call when that is shorter (an attach
 * made inside vos_submit() for a call must not outlast the call's
 * deadline). */
static int attach_timeout_ms(const struct vos__rc *s)
{
	int64_t d = s->host->deadline_ns;

	if (d <= 0 || d >= (int64_t)ATTACH_TIMEOUT_MS * 1000000)
		return ATTACH_TIMEOUT_MS;
	return (int)((d + 999999) / 1000000); /* rounded up: at least 1 */
}

static int rc_attach(struct vos__rc *s)
{
	struct vos_wire_attach a = { s->entries, s->slot_size, 0,
				     process_umask() };
	struct vos__attachment at;
	struct vos_wire_header h;
	struct vos__geom g;
	int ret;

	ret = s->chan->attach(s->ch, &a, attach_timeout_ms(s), &at);
	if (ret < 0)
		return ret;
	vos__shared_init(&s->region, at.map, at.size);
	/* the header, once, into private memory; only the copy is checked
	 * and used (a service that changes it later changes nothing) */
	if (!vos__peer_read(&s->region, 0, &h, sizeof(h)))
		ret = -EBADMSG;
	else
		ret = vos__header_check(&h, at.size, &g);
	if (ret == 0 && (g.entries < s->entries || g.slot_size < s->slot_size ||
			 h.epoch != at.epoch ||
			 !vos__shared_sub(&s->region, g.data_off, g.data_size,
					  &s->data)))
		ret = -EBADMSG;
	if (ret < 0) {
		vos__log(VOS__LOG_ERROR, "%s: %s: %s", s->chan->name,
			 s->chan->where(s->ch), ret == -EPROTO
			 ? "region has another protocol version: refused"
			 : "malformed region header: refused");
		s->chan->detach(s->ch, true);
		vos__shared_init(&s->region, NULL, 0);
		return ret;
	}
	s->g = g;
	s->entries = g.entries;
	s->slot_size = g.slot_size;
	/* both rings start empty, at index 0 (a fresh region is zeroed: no
	 * entry carries a sequence word of the first lap) */
	s->sq_tail = s->cq_head = s->sq_head_seen = 0;
	vos__peer_release(&s->region, VOS__OFF_CQ_HEAD, 0);
	s->epoch = at.epoch;
	s->gen = s->gen % GEN_MAX + 1;
	s->attached = true;
	s->logged_down = false;
	fdi_reset(s); /* the service's numbers anew */
	snprintf(s->desc, sizeof(s->desc), "%s (%s, epoch %08x)",
		 s->chan->name, s->chan->where(s->ch), s->epoch);
	/* the buffer areas made so far, offered to this attachment (and
	 * where the ones made later will go) */
	vos__areas_attached(&s->areas, s->chan, s->ch, g.data_size,
			    attach_timeout_ms(s));
	return 0;
}

static void rc_free(struct vos__rc *s)
{
	vos__areas_destroy(&s->areas, s->chan);
	if (s->ch)
		s->chan->destroy(s->ch);
	free(s->req);
	free(s->sent);
	free(s->busy);
	free(s->large);
	free(s->moved);
	if (s->rest_iov)
		for (uint32_t t = 0; t < s->depth; t++)
			free(s->rest_iov[t]);
	free(s->rest_iov);
	free(s->fdi);
	free(s->next);
	free(s->waiting);
	free(s->stop);
	free(s->multi);
	free(s);
}

int vos__rc_open(struct vos_transport_host *host,
		 const struct vos__chan_client *chan, void **priv)
{
	const char *o = host->options;
	char key[32], val[256];
	bool lazy = host->flags & VOS_TRANSPORT_LAZY, slot_set = false;
	struct vos__rc *s;
	uint64_t v;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->host = host;
	s->chan = chan;
	s->slot_size = DEFAULT_SLOT;
	s->depth = host->queue_depth;
	s->owner = getpid();
	vos__areas_init(&s->areas);
	r = chan->create(&s->ch);
	if (r < 0) {
		s->ch = NULL;
		rc_free(s);
		return r;
	}
	while ((r = vos__opt_next(&o, key, sizeof(key), val, sizeof(val))) > 0) {
		if (strcmp(key, "slot") == 0) {
			if (vos__opt_uint(val, VOS_WIRE_MIN_SLOT,
					  VOS_WIRE_MAX_SLOT, &v) < 0 || v % 64)
				r = -EINVAL;
			else
				s->slot_size = (uint32_t)v;
			slot_set = true;
		} else if (strcmp(key, "lazy") == 0) {
			if (vos__opt_uint(val, 0, 1, &v) < 0)
				r = -EINVAL;
			else
				lazy = lazy || v;
		} else if (chan->option(s->ch, key, val) != 1) {
			r = -EINVAL;
		}
		if (r < 0)
			break;
	}
	if (r == 0)
		r = chan->ready(s->ch);
	if (r < 0) {
		vos__log(VOS__LOG_ERROR, "%s: bad options '%s' (slot= 4096.."
			 "1048576, a multiple of 64; lazy=0|1; see the "
			 "transport's page)", chan->name, host->options);
		rc_free(s);
		return -EINVAL;
	}
	if (s->depth > VOS_WIRE_MAX_ENTRIES) {
		vos__log(VOS__LOG_ERROR, "%s: queue depth %u: a service's "
			 "ring has at most %u entries", chan->name, s->depth,
			 VOS_WIRE_MAX_ENTRIES);
		rc_free(s);
		return -EINVAL;
	}
	for (s->entries = 1; s->entries < s->depth; s->entries <<= 1)
		;
	if (!slot_set &&
	    (uint64_t)s->entries * (DEFAULT_SLOT + VOS_WIRE_SMALL_SLOT) >
		    DEFAULT_DATA_MAX)
		s->slot_size = (DEFAULT_DATA_MAX / s->entries -
				VOS_WIRE_SMALL_SLOT) & ~63u;
	{
		struct vos__geom g;

		if (!vos__geom_make(s->entries, s->slot_size, &g)) {
			vos__log(VOS__LOG_ERROR, "%s: a ring of %u entries "
				 "(queue depth %u) with %u-byte slots: its data "
				 "area, entries x (slot + %u), must stay below "
				 "4 GiB", chan->name, s->entries, s->depth,
				 s->slot_size, VOS_WIRE_SMALL_SLOT);
			rc_free(s);
			return -EINVAL;
		}
	}
	s->req = calloc(s->depth, sizeof(*s->req));
	s->sent = calloc(s->depth, sizeof(*s->sent));
	s->busy = calloc(s->depth, 1);
	s->large = calloc(s->depth, 1);
	s->moved = calloc(s->depth, sizeof(*s->moved));
	s->rest_iov = calloc(s->depth, sizeof(*s->rest_iov));
	s->next = calloc(s->depth, sizeof(*s->next));
	s->waiting = calloc(s->depth, 1);
	s->stop = calloc(s->depth, 1);
	snprintf(s->desc, sizeof(s->desc), "%s (%s, not attached)",
		 chan->name, chan->where(s->ch));
	if (!s->req || !s->sent || !s->busy || !s->large || !s->moved ||
	    !s->rest_iov || !s->next || !s->waiting || !s->stop) {
		rc_free(s);
		return -ENOMEM;
	}
	if (!lazy) {
		r = rc_attach(s);
		if (r < 0) {
			vos__log(VOS__LOG_ERROR, "%s: cannot attach to %s: %s",
				 chan->name, chan->where(s->ch), strerror(-r));
			rc_free(s);
			return r;
		}
	}
	*priv = s;
	return 0;
}

/* Tag t's data slot: small (packed with the others) or large. */
static void slot_of(const struct vos__rc *s, uint32_t t, struct vos__slot *sl)
{
	if (s->large[t]) {
		sl->off = vos__geom_large(&s->g, t);
		sl->size = s->slot_size;
	} else {
		sl->off = vos__geom_small(&s->g, t);
		sl->size = VOS_WIRE_SMALL_SLOT;
	}
}

/* Map a client fd to the service's number.  0, or -EIO for an fd of an
 * earlier attachment (the service that made it is gone). */
static int map_fd(const struct vos__rc *s, int32_t fd, bool at, int32_t *out)
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
	const struct vos__opdef *d = vos__opdef(r->op);

	if (!d || (d->flags & (VOS__OPF_FD | VOS__OPF_FD2)))
		return false;
	if ((d->flags & VOS__OPF_AT) && r->fd != AT_FDCWD)
		return false;
	return !(d->flags & VOS__OPF_AT2) || r->fd2 == AT_FDCWD;
}

/* Encode r for tag into *w: the small slot if it fits whole, else the
 * large one. */
static int encode(struct vos__rc *s, const struct vos_req *r, uint32_t tag,
		  int32_t fd, int32_t fd2, struct vos_wire_req *w)
{
	struct vos__slot slot;
	int ret = -ENOSPC;

	s->large[tag] = vos__wire_wants_large(r);
	if (!s->large[tag]) {
		slot_of(s, tag, &slot);
		ret = vos__wire_encode(r, fd, fd2, tag, &s->data, &slot, false,
				       vos__areas_z(&s->areas), w);
	}
	if (ret == -ENOSPC) {
		s->large[tag] = 1;
		slot_of(s, tag, &slot);
		ret = vos__wire_encode(r, fd, fd2, tag, &s->data, &slot, true,
				       vos__areas_z(&s->areas), w);
	}
	return ret == -ENOSPC ? -EINVAL : ret;
}

/* Put a request entry (there is room: the caller made sure): the service
 * may take it as soon as its sequence word is stored (peer_mem.h). */
static void sq_put(struct vos__rc *s, struct vos_wire_req *w)
{
	w->seq = vos__seq(s->sq_tail);
	vos__peer_put(&s->region, vos__geom_sqe(&s->g, s->sq_tail), w,
		      sizeof(*w), w->seq);
	s->sq_tail++;
}

/* After a batch of puts: the publisher's half of the handshake, one full
 * fence, then a look at the service's NEED_WAKEUP (pairs with the fence
 * in the service's sleep: peer_mem.h). */
static void publish_requests(struct vos__rc *s)
{
	vos__peer_fence();
	if (vos__peer_load(&s->region, VOS__OFF_SERVER_FLAGS) &
	    VOS_WIRE_SERVER_NEED_WAKEUP)
		s->chan->notify(s->ch);
}

#define FD_SOCK 1u   /* a socket */
#define FD_STREAM 2u /* ... of SOCK_STREAM: writes may go in pieces */

static uint8_t fd_kind(const struct vos__rc *s, int32_t remote)
{
	return remote >= 0 && (uint32_t)remote < s->fdi_cap ?
	       s->fdi[remote].sock : 0;
}

static bool is_sock(const struct vos__rc *s, int32_t remote)
{
	return fd_kind(s, remote) & FD_SOCK;
}

/* What tag's result may copy back: what was sent, except that a recv with
 * MSG_TRUNC on a stream socket discards what it reads (the kernel fills
 * no buffer: the count says how much went), so none of the slot is
 * copied (*none, a copy with no length, is returned then). */
static const struct vos_wire_req *sent_of(const struct vos__rc *s,
					  uint64_t tag, struct vos_wire_req *none)
{
	const struct vos_req *r = &s->req[tag];
	int32_t remote;

	if (r->op != VOS_OP_RECV || !(r->op_flags & MSG_TRUNC) ||
	    map_fd(s, r->fd, false, &remote) < 0 ||
	    !(fd_kind(s, remote) & FD_STREAM))
		return &s->sent[tag];
	*none = s->sent[tag];
	none->len = 0;
	return none;
}

/* A new service fd, remote, made by r: note whether it is a socket. */
static void note_fd(struct vos__rc *s, const struct vos_req *r,
		    int64_t remote)
{
	int32_t src = -1;
	uint8_t k;

	if (r->op == VOS_OP_FCNTL || r->op == VOS_OP_ACCEPT) {
		/* a dup, or a connection of a listener: of its kind */
		k = map_fd(s, r->fd, false, &src) == 0 ? fd_kind(s, src) : 0;
		if (r->op == VOS_OP_ACCEPT)
			k |= FD_SOCK;
	} else if (r->op == VOS_OP_SOCKET) {
		k = FD_SOCK | ((r->op_flags & 0xf) == SOCK_STREAM ? FD_STREAM
								   : 0);
	} else {
		k = 0;
	}
	if ((uint64_t)remote >= FDI_MAX)
		return; /* not followed: read on like a file, write unordered */
	if ((uint64_t)remote >= s->fdi_cap) {
		uint32_t cap = s->fdi_cap ? s->fdi_cap : 64;
		struct rc_fd *n;

		while (cap <= (uint64_t)remote)
			cap *= 2;
		n = realloc(s->fdi, cap * sizeof(*n));
		if (!n)
			return; /* unknown: taken for a file */
		for (uint32_t i = s->fdi_cap; i < cap; i++)
			n[i] = (struct rc_fd){ 0, -1, -1 };
		s->fdi = n;
		s->fdi_cap = cap;
	}
	s->fdi[remote] = (struct rc_fd){ k, -1, -1 };
}

/* Tag's request moved res bytes in a piece a data slot shortened: whether
 * the system call would have gone on.  Writes and sends do (on a blocking
 * file or socket the call moves everything; on a non-blocking one the
 * next piece says -EAGAIN and the call says what moved); reads of files
 * do (a regular file's read is short only at its end); reads of sockets
 * do not (recv returns what has arrived), except a recv with MSG_WAITALL
 * on a stream socket (it waits for all of it, or the end, or an error). */
static bool more_pieces(const struct vos__rc *s, uint32_t tag, int64_t res)
{
	const struct vos_req *r = &s->req[tag];
	const struct vos__opdef *d = vos__opdef(r->op);
	int32_t remote;

	if (res <= 0 || (uint64_t)res != s->sent[tag].len ||
	    (uint64_t)res >= vos__xfer_total(r) || s->stop[tag])
		return false;
	switch (d->addr) {
	case VOS__ARG_BUF_IN:
	case VOS__ARG_IOV_IN:
		/* not a datagram: it must go whole or not at all (one
		 * longer than a slot is shortened, a known limit); a send
		 * only on a socket known to be a stream */
		if (map_fd(s, r->fd, false, &remote) < 0)
			return false;
		if (r->op == VOS_OP_SEND)
			return fd_kind(s, remote) & FD_STREAM;
		return !is_sock(s, remote) || (fd_kind(s, remote) & FD_STREAM);
	case VOS__ARG_BUF_OUT:
	case VOS__ARG_IOV_OUT:
		if (map_fd(s, r->fd, false, &remote) < 0)
			return false;
		/* a recv with MSG_WAITALL on a stream waits for all of it */
		if (r->op == VOS_OP_RECV)
			return (r->op_flags & MSG_WAITALL) &&
			       (fd_kind(s, remote) & FD_STREAM);
		return !is_sock(s, remote);
	default:
		return false;
	}
}

/* Queue the next piece of tag's transfer (its last moved res bytes).
 * There is room: the service took this tag's piece before it answered,
 * so at most depth - 1 others wait.  false if it cannot be sent. */
static bool next_piece(struct vos__rc *s, uint32_t tag, int64_t res)
{
	struct vos_req next;
	struct vos_wire_req w;
	int32_t fd;

	if (vos__xfer_advance(&s->req[tag], (uint64_t)res, &next,
			      &s->rest_iov[tag]) < 0 ||
	    map_fd(s, next.fd, false, &fd) < 0 ||
	    encode(s, &next, tag, fd, next.fd2, &w) < 0)
		return false;
	if (s->sq_tail - s->sq_head_seen >= s->entries) {
		s->sq_head_seen = vos__peer_acquire(&s->region,
						    VOS__OFF_SQ_HEAD);
		if (s->sq_tail - s->sq_head_seen >= s->entries)
			return false;
	}
	sq_put(s, &w);
	s->moved[tag] += (uint64_t)res;
	s->req[tag] = next;
	s->sent[tag] = w;
	return true;
}

/* Whether r, on service fd remote, is a write that keeps its fd's order:
 * a write or send on a stream socket.  One is on the wire at a time per socket;
 * the next is sent when it has completed, pieces and all, so their bytes
 * reach the stream in submission order, as one send(2) after another
 * would put them (the service runs each to its end: order.c). */
static bool ordered_write(const struct vos__rc *s, const struct vos_req *r,
			  int32_t remote)
{
	if (!(fd_kind(s, remote) & FD_STREAM))
		return false;
	return r->op == VOS_OP_WRITE || r->op == VOS_OP_WRITEV ||
	       (r->op == VOS_OP_SEND && !(r->op_flags & MSG_DONTWAIT));
}

/* Room for one more request entry (the service's head looked at again
 * when the ring looks full). */
static bool sq_room(struct vos__rc *s)
{
	if (s->sq_tail - s->sq_head_seen >= s->entries)
		s->sq_head_seen = vos__peer_acquire(&s->region,
						    VOS__OFF_SQ_HEAD);
	return s->sq_tail - s->sq_head_seen < s->entries;
}

/* Send waiting tag's request (its fd's turn came).  false if it cannot
 * be: the caller fails it. */
static bool send_waiting(struct vos__rc *s, uint32_t tag)
{
	const struct vos_req *r = &s->req[tag];
	struct vos_wire_req w;
	int32_t fd;

	s->waiting[tag] = 0;
	if (map_fd(s, r->fd, false, &fd) < 0 ||
	    encode(s, r, tag, fd, r->fd2, &w) < 0 || !sq_room(s))
		return false;
	sq_put(s, &w);
	s->sent[tag] = w;
	return true;
}

/* Fail a waiting tag that could not be sent. */
static void fail_waiting(struct vos__rc *s, uint32_t tag)
{
	s->waiting[tag] = 0;
	s->next[tag] = -1;
	s->busy[tag] = 0;
	s->inflight--;
	s->host->complete(s->host, tag, -EIO);
}

/* Ordered tag completed: the next write waiting on its fd goes.  true if
 * one was sent (to be published). */
static bool write_done(struct vos__rc *s, uint32_t tag)
{
	struct rc_fd *f;
	int32_t remote, nx;

	if (map_fd(s, s->req[tag].fd, false, &remote) < 0 || remote < 0 ||
	    (uint32_t)remote >= s->fdi_cap || s->fdi[remote].head != (int32_t)tag)
		return false;
	f = &s->fdi[remote];
	nx = s->next[tag];
	s->next[tag] = -1;
	while (nx >= 0) {
		int32_t after = s->next[nx];

		f->head = nx;
		if (send_waiting(s, (uint32_t)nx))
			return true;
		fail_waiting(s, (uint32_t)nx);
		nx = after;
	}
	f->head = f->tail = -1;
	return false;
}

/* Take waiting tag out of its fd's list (it is not the head). */
static void unlink_waiting(struct vos__rc *s, uint32_t tag)
{
	int32_t remote, p;
	struct rc_fd *f;

	s->waiting[tag] = 0; /* whatever the list says */
	if (map_fd(s, s->req[tag].fd, false, &remote) < 0 || remote < 0 ||
	    (uint32_t)remote >= s->fdi_cap) {
		s->next[tag] = -1;
		return;
	}
	f = &s->fdi[remote];
	for (p = f->head; p >= 0 && s->next[p] != (int32_t)tag; p = s->next[p])
		;
	if (p < 0) {
		s->next[tag] = -1;
		return;
	}
	s->next[p] = s->next[tag];
	if (f->tail == (int32_t)tag)
		f->tail = p;
	s->next[tag] = -1;
	s->waiting[tag] = 0;
}

/* Service fd remote is being closed: its waiting writes go on the wire
 * now, before the close, unordered (after it the number may name
 * another file). */
static void flush_waiting(struct vos__rc *s, int32_t remote)
{
	struct rc_fd *f;
	int32_t t;

	/* nothing in flight on it sends another piece after the close
	 * (the service may give the number to another file) */
	for (uint32_t k = 0; k < s->depth; k++) {
		int32_t kr;

		if (s->busy[k] && !s->waiting[k] &&
		    map_fd(s, s->req[k].fd, false, &kr) == 0 && kr == remote)
			s->stop[k] = 1;
	}
	if (remote < 0 || (uint32_t)remote >= s->fdi_cap ||
	    s->fdi[remote].head < 0)
		return;
	f = &s->fdi[remote];
	t = s->next[f->head];
	s->next[f->head] = -1;
	f->head = f->tail = -1; /* the running write finishes alone */
	while (t >= 0) {
		int32_t after = s->next[t];

		s->next[t] = -1;
		if (!send_waiting(s, (uint32_t)t))
			fail_waiting(s, (uint32_t)t);
		t = after;
	}
}

/* ---- multishot, as one-shot requests on the wire ------------------------
 *
 * A multishot request never travels (the service refuses the op): the
 * client runs it as a loop of one-shot requests under its own tag.  A
 * multishot accept is one ACCEPT after another (each parks in the service
 * until a connection comes), each connection a completion with
 * VOS_CQE_F_MORE.  A multishot recv is a POLL for POLLIN; when it fires,
 * a buffer is taken from the context's pool and a RECV with MSG_DONTWAIT
 * fills it (its bytes come through the data slot, as any recv's), a
 * completion with VOS_CQE_F_MORE and VOS_CQE_F_BUFFER names it, and the
 * POLL goes out again.  An idle connection holds a parked POLL in the
 * service and no buffer.  With no free buffer when data is there, it ends
 * with -ENOBUFS (nothing was read); a cancel ends it at its next step
 * (the service cancels the step on the wire).  The service sees only the
 * one-shot requests it always serves: nothing new to check on its side.
 */
enum { MULTI_ACCEPT = 1, MULTI_POLL, MULTI_RECV };

/* r is a multishot request: note it, and put its first step in *step. */
static bool multi_begin(struct vos__rc *s, const struct vos_req *r,
			struct vos_req *step)
{
	uint32_t tag = (uint32_t)r->user_data;
	struct rc_multi *m;

	if (!s->multi) {
		s->multi = calloc(s->depth, sizeof(*s->multi));
		if (!s->multi)
			return false;
	}
	m = &s->multi[tag];
	m->group = (uint16_t)r->arg;
	m->len = r->len;
	m->flags = r->op_flags;
	m->fd = r->fd;
	m->bid = -1;
	if (r->op == VOS_OP_ACCEPT_MULTI) {
		m->phase = MULTI_ACCEPT;
		vos_prep_accept(step, r->fd, NULL, NULL, (int)r->op_flags);
	} else {
		m->phase = MULTI_POLL;
		vos_prep_poll(step, r->fd, POLLIN);
	}
	step->user_data = tag;
	step->deadline_ms = r->deadline_ms;
	return true;
}

/* Send tag's next step.  There is room: the service took this tag's last
 * step before it answered.  false if it cannot be sent. */
static bool multi_send(struct vos__rc *s, uint32_t tag,
		       const struct vos_req *step)
{
	struct vos_wire_req w;
	int32_t fd;

	if (map_fd(s, step->fd, false, &fd) < 0 ||
	    encode(s, step, tag, fd, -1, &w) < 0 || !sq_room(s))
		return false;
	sq_put(s, &w);
	s->req[tag] = *step;
	s->sent[tag] = w;
	return true;
}

/* Tag's step completed with res.  true: its next step is on the wire (it
 * stays in flight); false: it ends, with *end. */
static bool multi_step(struct vos__rc *s, uint32_t tag, int64_t res,
		       int64_t *end)
{
	struct rc_multi *m = &s->multi[tag];
	bool stop = s->stop[tag];
	struct vos_req step;
	int32_t remote;
	void *buf;
	uint32_t size;

	switch (m->phase) {
	case MULTI_ACCEPT:
		if (res < 0 || stop) {
			*end = res < 0 && stop ? -ECANCELED : res;
			break; /* (a connection made as it was cancelled is
			        * the program's: the last completion) */
		}
		s->host->post(s->host, tag, res, VOS_CQE_F_MORE);
		vos_prep_accept(&step, m->fd, NULL, NULL, (int)m->flags);
		if (multi_send(s, tag, &step))
			return true;
		*end = -EIO;
		break;
	case MULTI_POLL:
		if (res < 0 || stop) {
			*end = stop ? -ECANCELED : res;
			break;
		}
		m->bid = s->host->buf_take(s->host, m->group, &buf, &size);
		if (m->bid < 0) {
			m->bid = -1;
			*end = -ENOBUFS;
			break;
		}
		if (m->len && m->len < size)
			size = m->len;
		vos_prep_recv(&step, m->fd, buf, size,
			      (int)m->flags | MSG_DONTWAIT);
		m->phase = MULTI_RECV;
		if (multi_send(s, tag, &step))
			return true;
		multi_untake(s, m);
		*end = -EIO;
		break;
	case MULTI_RECV:
		if (res > 0 ||
		    (res == 0 && map_fd(s, m->fd, false, &remote) == 0 &&
		     !(fd_kind(s, remote) & FD_STREAM))) {
			/* the core hands the buffer to the program */
			s->host->post(s->host, tag, res,
				      VOS_CQE_F_MORE | VOS_CQE_F_BUFFER |
					      ((uint32_t)m->bid
					       << VOS_CQE_BUFFER_SHIFT));
			m->bid = -1;
		} else {
			multi_untake(s, m);
			if (res != -EAGAIN || stop) {
				/* the end of the stream, an error, or a
				 * cancel */
				*end = stop ? -ECANCELED : res;
				break;
			}
		}
		if (stop) {
			*end = -ECANCELED;
			break;
		}
		vos_prep_poll(&step, m->fd, POLLIN);
		m->phase = MULTI_POLL;
		if (multi_send(s, tag, &step))
			return true;
		*end = -EIO;
		break;
	default:
		*end = res;
		break;
	}
	m->phase = 0;
	return false;
}

int vos__rc_submit(void *priv, const struct vos_req *reqs, unsigned n)
{
	struct vos__rc *s = priv;
	bool tried = false;
	unsigned i, queued = 0;
	int down = -EIO; /* what calls get when the service cannot be reached */
	uint32_t tail0 = s->sq_tail;

	for (i = 0; i < n; i++) {
		const struct vos_req *r = &reqs[i];
		const struct vos__opdef *d = vos__opdef(r->op);
		uint32_t tag = (uint32_t)r->user_data;
		struct vos_req step;
		struct vos_wire_req w;
		int32_t fd = -1, fd2 = r->fd2;
		int ret;

		if (s->multi)
			s->multi[tag].phase = 0; /* (a new request on the tag) */
		if (d->flags & VOS__OPF_MULTI) {
			/* run as one-shot steps: the first goes now */
			if (!multi_begin(s, r, &step)) {
				s->host->complete(s->host, tag, -ENOMEM);
				continue;
			}
			r = &step;
			d = vos__opdef(r->op);
		}
		if (d->flags & VOS__OPF_NOWIRE) {
			/* never on the wire (pipe2, socketpair: the local
			 * kernel's); a service would refuse it anyway, so
			 * answer here and spend no entry */
			s->host->complete(s->host, tag, -EOPNOTSUPP);
			continue;
		}
		if (!s->attached && !tried && fresh_op(r)) {
			tried = true;
			ret = rc_attach(s);
			/* not reached within the call's deadline: that is
			 * what the call says */
			if (ret == -ETIMEDOUT && s->host->deadline_ns > 0)
				down = -ETIMEDOUT;
			if (ret < 0 && !s->logged_down) {
				vos__log(VOS__LOG_ERROR, "%s: cannot attach to "
					 "%s: %s", s->chan->name,
					 s->chan->where(s->ch), strerror(-ret));
				s->logged_down = true;
			}
		}
		if (!s->attached) {
			s->host->complete(s->host, tag,
					  r->op == VOS_OP_CLOSE ? 0 : down);
			continue;
		}
		/* the service's head is read only when the ring looks full
		 * (its line stays where it is, in the service's cache) */
		if (s->sq_tail - s->sq_head_seen >= s->entries) {
			s->sq_head_seen = vos__peer_acquire(&s->region,
							    VOS__OFF_SQ_HEAD);
			if (s->sq_tail - s->sq_head_seen > s->entries) {
				service_lost(s, "published an impossible "
					     "request index");
				s->host->complete(s->host, tag, -EIO);
				tried = true; /* no new attachment this call */
				continue;
			}
			if (s->sq_tail - s->sq_head_seen >= s->entries)
				break; /* a service that does not consume */
		}
		if (r->op == VOS_OP_CANCEL && r->off < s->depth &&
		    s->busy[r->off]) {
			if (s->waiting[r->off]) {
				/* never sent: it is ours to cancel */
				unlink_waiting(s, (uint32_t)r->off);
				s->busy[r->off] = 0;
				s->inflight--;
				s->host->complete(s->host, r->off, -ECANCELED);
				s->host->complete(s->host, tag, 0);
				continue;
			}
			s->stop[r->off] = 1; /* no piece after the cancel */
		}
		ret = map_fd(s, r->fd, d->flags & VOS__OPF_AT, &fd);
		if (ret == 0 && (d->flags & (VOS__OPF_AT2 | VOS__OPF_FD2)))
			ret = map_fd(s, r->fd2, d->flags & VOS__OPF_AT2, &fd2);
		if (ret == 0 && ordered_write(s, r, fd) &&
		    s->fdi[fd].head >= 0) {
			/* another write on this socket is on the wire */
			s->next[s->fdi[fd].tail] = (int32_t)tag;
			s->fdi[fd].tail = (int32_t)tag;
			s->next[tag] = -1;
			s->waiting[tag] = 1;
			s->stop[tag] = 0;
			s->req[tag] = *r;
			s->busy[tag] = 1;
			s->inflight++;
			continue;
		}
		if (ret == 0 && r->op == VOS_OP_CLOSE) {
			flush_waiting(s, fd);
			if (!sq_room(s))
				break; /* the close waits for room */
		}
		if (ret == 0)
			ret = encode(s, r, tag, fd, fd2, &w);
		if (ret < 0) {
			/* an fd of a dead instance (closing it is fine), or a
			 * request the protocol cannot carry */
			s->host->complete(s->host, tag,
					  r->op == VOS_OP_CLOSE ? 0 : ret);
			continue;
		}
		sq_put(s, &w);
		s->req[tag] = *r;
		s->sent[tag] = w;
		s->busy[tag] = 1;
		s->stop[tag] = 0;
		s->inflight++;
		queued++;
		if (ordered_write(s, r, fd)) {
			s->fdi[fd].head = s->fdi[fd].tail = (int32_t)tag;
			s->next[tag] = -1;
		}
	}
	/* (writes sent ahead of a close count too) */
	if ((queued || s->sq_tail != tail0) && s->attached)
		publish_requests(s);
	return i ? (int)i : -EBUSY;
}

int vos__rc_reap(void *priv)
{
	struct vos__rc *s = priv;
	uint32_t head;
	bool pieces = false;
	int n = 0;

	if (!s->attached)
		return 0;
	head = s->cq_head;
	/* at most a ring's worth per call, however fast the service is */
	for (uint32_t k = 0; k < s->entries; k++) {
		struct vos_wire_cqe e;
		struct vos_wire_req none;
		uint64_t tag;
		int64_t res;

		/* the entry, once, into private memory, if its sequence word
		 * says it is there (an acquire: peer_mem.h) */
		if (!vos__peer_take(&s->region, vos__geom_cqe(&s->g, head), &e,
				    sizeof(e), vos__seq(head)))
			break;
		head++;
		tag = e.tag;
		if (tag >= s->depth || !s->busy[tag] || s->waiting[tag]) {
			s->cq_head = head;
			vos__peer_release(&s->region, VOS__OFF_CQ_HEAD, head);
			service_lost(s, "completed a request it was not given");
			return n;
		}
		res = vos__wire_result(&s->req[tag], sent_of(s, tag, &none),
				       &s->data, e.res);
		if (res >= 0 && vos__op_makes_fd(&s->req[tag])) {
			if (res <= FD_MASK)
				note_fd(s, &s->req[tag], res);
			res = res > FD_MASK ? -EIO :
			      (int64_t)((s->gen << FD_BITS) | (uint32_t)res);
		}
		/* a multishot request goes on with its next step */
		if (s->multi && s->multi[tag].phase) {
			int64_t end;

			if (multi_step(s, (uint32_t)tag, res, &end)) {
				pieces = true;
				continue;
			}
			res = end;
		}
		/* a transfer longer than a slot goes on, piece by piece, and
		 * completes once */
		if (more_pieces(s, (uint32_t)tag, res) &&
		    next_piece(s, (uint32_t)tag, res)) {
			pieces = true;
			continue;
		}
		if (s->moved[tag]) {
			res = res > 0 ? (int64_t)s->moved[tag] + res
				      : (int64_t)s->moved[tag];
			pieces_reset(s, (uint32_t)tag);
		}
		if (write_done(s, (uint32_t)tag))
			pieces = true; /* the next write on its socket */
		s->busy[tag] = 0;
		s->inflight--;
		s->host->complete(s->host, tag, res);
		n++;
		s->delivered++;
	}
	/* release: our reads of the entries happen before the service may
	 * reuse them */
	s->cq_head = head;
	vos__peer_release(&s->region, VOS__OFF_CQ_HEAD, head);
	if (pieces)
		publish_requests(s);
	return n;
}

int vos__rc_sleep_fd(void *priv)
{
	struct vos__rc *s = priv;

	if (!s->attached || s->inflight == 0)
		return -EAGAIN;
	/* first, rings that answer completions already taken: a service
	 * that read NEED_WAKEUP set just before we cleared it (our last look
	 * below found its completion) rings after our woke() drained, and
	 * that byte would make the fd readable with nothing to take (a
	 * vos_ctx_fd() loop would wake for nothing).  A ring after this
	 * drain is for a completion our last look does not see, save one
	 * from a service stopped between its publish and its look at the
	 * flag for all of our last cycle. */
	if (s->chan->drain(s->ch) < 0) {
		vos__rc_reap(s);
		if (s->attached)
			service_lost(s, "is gone");
		return -EAGAIN;
	}
	/* the sleeper's half of the handshake: NEED_WAKEUP, a full fence,
	 * then a last look at the next completion entry (pairs with the
	 * fence in the service's publish: peer_mem.h) */
	vos__peer_set_flag(&s->region, VOS__OFF_CLIENT_FLAGS,
			   VOS_WIRE_CLIENT_NEED_WAKEUP);
	vos__peer_fence();
	if (vos__peer_ready(&s->region, vos__geom_cqe(&s->g, s->cq_head),
			    sizeof(struct vos_wire_cqe),
			    vos__seq(s->cq_head))) {
		uint32_t head = s->cq_head;

		/* take it now: an entry that looked there and is not when
		 * taken (a service flipping its sequence words) must not
		 * make the caller spin on "-EAGAIN: reap" for ever; it
		 * sleeps instead, NEED_WAKEUP still set, until the service
		 * rings or the caller's timeout */
		vos__rc_reap(s);
		if (s->cq_head != head || !s->attached) {
			if (s->attached)
				vos__peer_clear_flag(&s->region,
						     VOS__OFF_CLIENT_FLAGS,
						     VOS_WIRE_CLIENT_NEED_WAKEUP);
			return -EAGAIN;
		}
	}
	return s->chan->wait_fd(s->ch);
}

void vos__rc_woke(void *priv)
{
	struct vos__rc *s = priv;

	if (!s->attached)
		return;
	vos__peer_clear_flag(&s->region, VOS__OFF_CLIENT_FLAGS,
			     VOS_WIRE_CLIENT_NEED_WAKEUP);
	if (s->chan->drain(s->ch) < 0) {
		/* completions it published before going count */
		vos__rc_reap(s);
		if (s->attached)
			service_lost(s, "is gone");
	}
}

int vos__rc_wait(void *priv, int64_t timeout_ns)
{
	struct vos__rc *s = priv;
	struct timespec ts, *tsp = NULL;
	struct pollfd p;
	uint64_t delivered;
	int before, n, r, fd;

	if (!s->attached)
		return -EIO;
	if (s->inflight == 0)
		return -EAGAIN;
	delivered = s->delivered;
	fd = vos__rc_sleep_fd(s);
	if (fd < 0) {
		/* what sleep_fd's last look delivered counts too */
		vos__rc_reap(s);
		n = (int)(s->delivered - delivered);
		return n > 0 ? n : -EAGAIN;
	}
	p = (struct pollfd){ fd, POLLIN, 0 };
	if (timeout_ns >= 0) {
		ts.tv_sec = timeout_ns / 1000000000;
		ts.tv_nsec = timeout_ns % 1000000000;
		tsp = &ts;
	}
	r = ppoll(&p, 1, tsp, NULL);
	if (r < 0)
		r = -errno;
	before = (int)s->inflight;
	vos__rc_woke(s);
	n = s->attached ? vos__rc_reap(s) : before;
	if (n > 0)
		return n;
	if (r < 0)
		return r;
	return r == 0 ? -ETIME : -EAGAIN;
}

int vos__rc_expire(void *priv, uint64_t tag)
{
	struct vos__rc *s = priv;

	if (!s->attached || tag >= s->depth || !s->busy[tag])
		return -ENOENT;
	if (s->waiting[tag]) { /* never sent: nothing of the service's */
		unlink_waiting(s, (uint32_t)tag);
		s->busy[tag] = 0;
		s->inflight--;
		s->host->complete(s->host, tag, -ETIMEDOUT);
		return 0;
	}
	/* whatever else came in counts first */
	vos__rc_reap(s);
	if (!s->attached || !s->busy[tag])
		return 0;
	s->busy[tag] = 0;
	s->inflight--;
	pieces_reset(s, tag);
	if (s->multi && s->multi[tag].phase) {
		/* a multishot recv's buffer goes back with it */
		multi_untake(s, &s->multi[tag]);
		s->multi[tag].phase = 0;
	}
	s->host->complete(s->host, tag, -ETIMEDOUT);
	service_lost(s, "did not answer a call within its deadline");
	return 0;
}

void vos__rc_close(void *priv)
{
	struct vos__rc *s = priv;

	rc_detach(s, true);
	rc_free(s);
}

int vos__rc_after_fork(void *priv)
{
	struct vos__rc *s = priv;

	/* the parent keeps its attachment; the child drops its copy and
	 * attaches anew when it makes an fd (no fd-table clone yet) */
	rc_detach(s, false);
	vos__areas_after_fork(&s->areas, s->chan);
	memset(s->busy, 0, s->depth);
	for (uint32_t t = 0; t < s->depth; t++)
		pieces_reset(s, t);
	fdi_reset(s);
	s->inflight = 0;
	s->owner = getpid();
	s->gen = s->gen % GEN_MAX + 1;
	return 0;
}

int vos__rc_buf_alloc(void *priv, int fd, size_t len, void **buf)
{
	struct vos__rc *s = priv;

	(void)fd; /* every fd of ours is the one service's */
	return vos__areas_alloc(&s->areas, s->chan, s->ch, s->attached, len,
				attach_timeout_ms(s), buf);
}

int vos__rc_buf_free(void *priv, void *buf)
{
	return vos__areas_free(&((struct vos__rc *)priv)->areas, buf);
}

const char *vos__rc_describe(void *priv)
{
	return ((struct vos__rc *)priv)->desc;
}
