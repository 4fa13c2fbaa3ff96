/*
 * order.c - writes and sends on a blocking stream (socket, pipe,
 * terminal): one at a time per fd, in the order they were submitted, each
 * carried on to its full length.
 *
 * send(2) on a blocking socket sends everything it is given (unless a
 * signal or an error interrupts it), and two calls, one after the other,
 * put their bytes on the stream in that order.  The backends give neither:
 * io_uring completes a stream write with what went out at once, and
 * several in flight on one socket are taken in any order (16 x 1 MiB
 * sends arrived mostly reversed); the compat backend writes each without
 * blocking when the fd is ready.  So per fd, the first write runs; a short
 * result runs the rest (same tag); when it is whole (or fails) it
 * completes and the next one queued on the fd starts.  Reads are not
 * ordered (each takes what has arrived).
 *
 * The queue is a list of tags through the per-tag carry entries
 * (local.h); the request waits there in full.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "local.h"
#include "xfer.h"

bool vos__order_wants(const struct vos_req *r, uint8_t fdc)
{
	if ((fdc & VOS__FDC_KIND) != VOS__FD_STREAM ||
	    (fdc & VOS__FDC_NONBLOCK))
		return false;
	switch (r->op) {
	case VOS_OP_WRITE:
	case VOS_OP_WRITEV:
		return true;
	case VOS_OP_SEND:
		return !(r->op_flags & MSG_DONTWAIT);
	default:
		return false;
	}
}

static bool fdq_grow(struct vos__local *l, int fd)
{
	uint32_t cap = l->fdq_cap ? l->fdq_cap : 64;
	struct vos__fdq *n;

	if (fd < 0)
		return false;
	if ((uint32_t)fd < l->fdq_cap)
		return true;
	while (cap <= (uint32_t)fd)
		cap *= 2;
	n = realloc(l->fdq, cap * sizeof(*n));
	if (!n)
		return false;
	for (uint32_t i = l->fdq_cap; i < cap; i++)
		n[i] = (struct vos__fdq){ -1, -1 };
	l->fdq = n;
	l->fdq_cap = cap;
	return true;
}

static void finish(struct vos__local *l, uint32_t tag, int64_t res);

/* Run tag's rest on the backend. */
static void start(struct vos__local *l, uint32_t tag)
{
	struct vos__carry *c = &l->carry[tag];
	int ret;

	vos__carry_set(l, c, true, c->ordered);
	l->where[tag] = VOS__WHERE_BACKEND;
	ret = l->be->submit(l->be_priv, &c->rest, c->fdc);
	if (ret < 0)
		finish(l, tag, ret);
}

/* Complete tag with res (after what it moved before), and start the next
 * write queued on its fd. */
static void finish(struct vos__local *l, uint32_t tag, int64_t res)
{
	struct vos__carry *c = &l->carry[tag];
	struct vos__fdq *q = &l->fdq[c->rest.fd];
	int32_t next = c->next;
	bool orphan = c->orphan;

	if (c->done > 0)
		res = res > 0 ? c->done + res : c->done;
	vos__carry_set(l, c, false, false);
	c->orphan = c->cancelled = false;
	c->done = 0;
	c->next = -1;
	free(c->iov);
	c->iov = NULL;
	/* an orphan left its fd's queue when the fd was closed */
	if (!orphan)
		q->head = next >= 0 ? next : -1;
	if (!orphan && next < 0)
		q->tail = -1;
	l->host->complete(l->host, tag, res);
	if (!orphan && next >= 0)
		start(l, (uint32_t)next);
}

bool vos__order_take(struct vos__local *l, const struct vos_req *r,
		     uint8_t fdc)
{
	uint32_t tag = (uint32_t)r->user_data;
	struct vos__carry *c;
	struct vos__fdq *q;

	if (!vos__carry_alloc(l) || !fdq_grow(l, r->fd))
		return false;
	c = &l->carry[tag];
	*c = (struct vos__carry){ .fdc = fdc, .rest = *r, .next = -1 };
	vos__carry_set(l, c, false, true);
	/* (the list of fd's writes holds no orphan: see order_detach) */
	q = &l->fdq[r->fd];
	if (q->head >= 0) { /* one runs: wait behind the last */
		l->carry[q->tail].next = (int32_t)tag;
		q->tail = (int32_t)tag;
		l->where[tag] = VOS__WHERE_QUEUED;
		return true;
	}
	q->head = q->tail = (int32_t)tag;
	start(l, tag);
	return true;
}

void vos__order_done(struct vos__local *l, uint32_t tag, int64_t res)
{
	struct vos__carry *c = &l->carry[tag];

	/* short on a blocking stream: the rest, as the system call would
	 * go on (a cancel or an error ends it with what moved) */
	if (res > 0 && (uint64_t)res < vos__xfer_total(&c->rest) &&
	    !c->orphan && !c->cancelled &&
	    vos__xfer_advance(&c->rest, (uint64_t)res, &c->rest, &c->iov) == 0) {
		c->done += res;
		start(l, tag);
		return;
	}
	finish(l, tag, res);
}

/* Unlink queued tag from its fd's list (it is not the head). */
static void unlink_queued(struct vos__local *l, uint32_t tag)
{
	struct vos__carry *c = &l->carry[tag];
	struct vos__fdq *q = &l->fdq[c->rest.fd];
	int32_t p = q->head;

	while (p >= 0 && l->carry[p].next != (int32_t)tag)
		p = l->carry[p].next;
	if (p < 0)
		return;
	l->carry[p].next = c->next;
	if (q->tail == (int32_t)tag)
		q->tail = p;
}

void vos__order_cancel(struct vos__local *l, uint32_t tag)
{
	struct vos__carry *c = &l->carry[tag];

	unlink_queued(l, tag);
	vos__carry_set(l, c, c->active, false);
	c->next = -1;
	l->where[tag] = VOS__WHERE_BACKEND;
	l->host->complete(l->host, tag, -ECANCELED);
}

/* Take fd's queued writes off its list (the head, running, becomes an
 * orphan: it finishes with what it moved, and leaves the list alone);
 * the first queued one, or -1. */
static int32_t detach(struct vos__local *l, int fd)
{
	struct vos__fdq *q;
	int32_t t;

	if (fd < 0 || (uint32_t)fd >= l->fdq_cap || !l->carry)
		return -1;
	q = &l->fdq[fd];
	if (q->head < 0)
		return -1;
	t = l->carry[q->head].next;
	l->carry[q->head].next = -1;
	l->carry[q->head].orphan = true;
	q->head = q->tail = -1;
	return t;
}

void vos__order_flush(struct vos__local *l, int fd)
{
	int32_t t = detach(l, fd);

	while (t >= 0) {
		struct vos__carry *c = &l->carry[t];
		int32_t next = c->next;
		int ret;

		vos__carry_set(l, c, c->active, false);
		c->next = -1;
		l->where[t] = VOS__WHERE_BACKEND;
		ret = l->be->submit(l->be_priv, &c->rest, c->fdc);
		if (ret < 0)
			l->host->complete(l->host, (uint64_t)t, ret);
		t = next;
	}
}

void vos__order_drop(struct vos__local *l, int fd)
{
	int32_t t = detach(l, fd);

	while (t >= 0) {
		struct vos__carry *c = &l->carry[t];
		int32_t next = c->next;

		vos__carry_set(l, c, c->active, false);
		c->next = -1;
		l->where[t] = VOS__WHERE_BACKEND;
		l->host->complete(l->host, (uint64_t)t, -EBADF);
		t = next;
	}
}
