/*
 * session.c - one attached client: its ring (offered through the
 * channel), credentials and fd table (the client's shadow state), and
 * releasing all of it.
 *
 * The fd table maps the small numbers a client uses to the daemon's real
 * fds.  An entry is reference-counted: the table holds one reference while
 * the fd is open, and each request using it holds one while it runs.  A
 * close drops the table's reference; the real fd is closed, and the number
 * can be handed out again, only when the last request using it is done.
 * So a request never runs on a real fd number that has since been reused
 * (possibly for another client).  A client may hold at most max-fds open
 * fds, and all clients of one uid max-fds-uid: well below the daemon's own
 * limit, so no user can make the daemon run out of fds for the others.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control.h"
#include "layout.h"
#include "server.h"

struct srv_client *srv_client_new(int conn, const struct vos__cred *cred,
				  struct srv_uid *uid,
				  const struct vos_wire_attach *a, int *err,
				  char *why, size_t whylen)
{
	struct vos_wire_attach_reply rep = { 0 };
	char msg[VOS_WIRE_MSG_MAX];
	struct vos__geom g;
	struct srv_client *c;
	int n;

	*err = -EINVAL;
	if (a->flags || a->umask > 0777 || a->sq_entries > srv.cfg.max_entries ||
	    a->slot_size > srv.cfg.max_slot ||
	    !vos__geom_make(a->sq_entries, a->slot_size, &g)) {
		snprintf(why, whylen, "ring of %u entries x %u bytes refused "
			 "(entries: a power of two <= %u; slots: multiples of "
			 "64, %u..%u; the data area, entries x (slot + %u), "
			 "below 4 GiB; flags 0; umask <= 0777)", a->sq_entries,
			 a->slot_size, srv.cfg.max_entries, VOS_WIRE_MIN_SLOT,
			 srv.cfg.max_slot, VOS_WIRE_SMALL_SLOT);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		goto nomem;
	c->conn = -1;
	c->offer.priv = c->offer.give[0] = c->offer.give[1] = -1;
	c->cred = *cred;
	c->uid = uid;
	c->umask = a->umask;
	/* the shared memory it asks for, against its uid's budget (the
	 * kernel charges pages the daemon touches to the daemon) */
	if (!srv_take_bytes(&uid->region_bytes, g.size,
			    (uint64_t)srv.cfg.max_region_mib_uid << 20)) {
		*err = -ENOMEM;
		snprintf(why, whylen, "uid %d has %llu MiB of shared regions "
			 "already; %llu more would pass max-region-mib-uid (%u)",
			 (int)uid->uid, (unsigned long long)(atomic_load(
			 &uid->region_bytes) >> 20), (unsigned long long)(g.size >> 20),
			 srv.cfg.max_region_mib_uid);
		goto fail;
	}
	c->region_bytes = g.size;
	c->reqs = calloc(g.entries, sizeof(*c->reqs));
	c->nfds_cap = 64;
	c->fds = calloc(c->nfds_cap, sizeof(*c->fds));
	if (!c->reqs || !c->fds)
		goto nomem;
	for (uint32_t i = 0; i < c->nfds_cap; i++)
		c->fds[i].real = -1;
	/* address space for its buffer areas (GROW) after the region: the
	 * first starts at the data area's end rounded up to a page */
	*err = srv.chan->make_offer(g.size, ((uint64_t)srv.cfg.max_grow_mib
					     << 20) + 4096, &c->offer);
	if (*err < 0) {
		snprintf(why, whylen, "cannot make the region: %s",
			 strerror(-*err));
		goto fail;
	}
	/* the header before the client can see the region */
	vos__rs_init(&c->ring, c->offer.map, c->offer.size, &g, srv.epoch);
	c->grown_end = (g.data_size + 4095) & ~(uint64_t)4095;
	atomic_init(&c->data_end, g.data_size);
	rep.region_size = g.size;
	rep.epoch = srv.epoch;
	n = vos__ctl_frame(msg, sizeof(msg), VOS_WIRE_MSG_ATTACH_REPLY, 0, &rep,
			   sizeof(rep));
	*err = n < 0 ? n : srv.chan->send_offer(conn, msg, (uint32_t)n,
						&c->offer);
	if (*err < 0) {
		snprintf(why, whylen, "cannot hand the region over: %s",
			 strerror(-*err));
		goto fail;
	}
	c->conn = conn;
	return c;
nomem:
	*err = -ENOMEM;
	snprintf(why, whylen, "out of memory");
fail:
	if (c)
		srv_client_free(c); /* conn is still the caller's */
	return NULL;
}

/* Close a real fd without blocking the worker: a socket with SO_LINGER
 * and a timeout would make close(2) wait up to that long, so lingering is
 * turned off first; the connection then closes in the background, as it
 * does when a process exits (the kernel ignores SO_LINGER then too).  The
 * engine forgets what it knew of the number: the next file to get it
 * (opened anywhere, the slow pool included) is another kind of file. */
static void close_real(const struct srv_client *c, const struct srv_fd *f)
{
	if (f->socket) {
		struct linger l;
		socklen_t n = sizeof(l);

		if (getsockopt(f->real, SOL_SOCKET, SO_LINGER, &l, &n) == 0 &&
		    l.l_onoff && l.l_linger > 0) {
			l.l_onoff = 0;
			l.l_linger = 0;
			setsockopt(f->real, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		}
	}
	/* forget first: the engine must be done with the number (writes
	 * queued on it start now) before another worker can reuse it */
	if (c->w && c->w->eng)
		vos_fd_forget(c->w->eng, f->real);
	close(f->real);
}

/* Release everything.  The worker calls this once no request of c runs
 * (in the engine, on a timer, on the slow pool). */
void srv_client_free(struct srv_client *c)
{
	for (uint32_t i = 0; c->fds && i < c->nfds_cap; i++)
		if (c->fds[i].real >= 0) {
			close_real(c, &c->fds[i]);
			srv_give(&c->uid->fds);
			srv_give(&srv.fds);
		}
	srv.chan->withdraw(&c->offer);
	if (c->region_bytes)
		atomic_fetch_sub(&c->uid->region_bytes, c->region_bytes);
	if (c->conn >= 0)
		close(c->conn);
	free(c->fds);
	free(c->reqs);
	free(c);
}

int srv_fd_install(struct srv_client *c, int real, bool socket)
{
	uint32_t i;

	if (c->nfds_open >= srv.cfg.max_fds)
		return -EMFILE;
	for (i = c->fd_hint; i < c->nfds_cap; i++)
		if (c->fds[i].real < 0)
			break;
	if (i == c->nfds_cap) {
		uint32_t cap = c->nfds_cap * 2;
		struct srv_fd *n;

		if (cap > SRV_FD_LIMIT)
			return -EMFILE;
		n = realloc(c->fds, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		for (uint32_t k = c->nfds_cap; k < cap; k++)
			n[k] = (struct srv_fd){ .real = -1 };
		c->fds = n;
		c->nfds_cap = cap;
	}
	if (!srv_take(&c->uid->fds, srv.cfg.max_fds_uid))
		return -EMFILE;
	if (!srv_take(&srv.fds, srv.max_fds_total)) {
		srv_give(&c->uid->fds);
		return -ENFILE; /* the daemon's own limit, not the client's */
	}
	c->fds[i] = (struct srv_fd){ .real = real, .refs = 1, .open = true,
				     .socket = socket,
				     .desc = ++c->desc_seq };
	c->fd_hint = i + 1;
	c->nfds_open++;
	return (int)i;
}

/* Take a reference on entry idx for a request: 0 and *real, or -EBADF. */
int srv_fd_get(struct srv_client *c, int32_t idx, int *real)
{
	if (idx < 0 || (uint32_t)idx >= c->nfds_cap || !c->fds[idx].open)
		return -EBADF;
	c->fds[idx].refs++;
	*real = c->fds[idx].real;
	return 0;
}

void srv_fd_put(struct srv_client *c, int32_t idx)
{
	struct srv_fd *f;

	if (idx < 0)
		return;
	f = &c->fds[idx];
	if (--f->refs == 0) {
		close_real(c, f);
		srv_give(&c->uid->fds);
		srv_give(&srv.fds);
		f->real = -1;
		f->open = false;
		if ((uint32_t)idx < c->fd_hint)
			c->fd_hint = (uint32_t)idx;
	}
}

int srv_fd_close(struct srv_client *c, int32_t idx)
{
	if (idx < 0 || (uint32_t)idx >= c->nfds_cap || !c->fds[idx].open)
		return -EBADF;
	c->fds[idx].open = false;
	c->nfds_open--;
	srv_fd_put(c, idx);
	return 0;
}

int64_t srv_fd_fdflags(struct srv_client *c, int32_t idx,
		       const struct vos_req *r)
{
	if (idx < 0 || (uint32_t)idx >= c->nfds_cap || !c->fds[idx].open)
		return -EBADF;
	if (r->op_flags == F_GETFD)
		return c->fds[idx].cloexec ? FD_CLOEXEC : 0;
	c->fds[idx].cloexec = (r->arg & FD_CLOEXEC) != 0;
	return 0;
}

/* Wake requests blocked on the client's sockets (its teardown). */
void srv_fd_shutdown_all(struct srv_client *c)
{
	for (uint32_t i = 0; i < c->nfds_cap; i++)
		if (c->fds[i].real >= 0 && c->fds[i].socket)
			shutdown(c->fds[i].real, SHUT_RDWR);
}
