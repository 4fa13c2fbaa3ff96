/*
 * carry.c - a file read or write that came back short before its end is
 * carried on, so that the program sees the system call's result.
 *
 * pread(2) on a regular file returns fewer bytes than asked only at the end
 * of the file (or on an error or a signal after some data); a write only
 * when the disk is full or a limit is reached.  The transport's first,
 * non-blocking try (RWF_NOWAIT, route TRY) returns what the page cache
 * holds: with page 0 of a cold file cached, a 64 KiB pread said 4096.
 * Such a result is not handed back.  The rest is asked for: again without
 * blocking, while that makes progress (at the end of the file this says 0
 * at once: one cheap call), then on the backend; the request completes
 * once, with everything it moved, when the rest is done, ends or fails
 * (after some data an error is not reported: the count is, as the system
 * call would).
 *
 * Per tag: the bytes moved so far and the rest of the request (an iovec
 * array of our own for the vectored ops).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "local.h"
#include "xfer.h"

static void finish(struct vos__local *l, uint32_t tag, int64_t res)
{
	struct vos__carry *c = &l->carry[tag];

	if (c->done > 0)
		res = res > 0 ? c->done + res : c->done;
	vos__carry_set(l, c, false, c->ordered);
	c->orphan = c->cancelled = false;
	c->done = 0;
	free(c->iov);
	c->iov = NULL;
	l->host->complete(l->host, tag, res);
}

/* r (tag's request, or the rest of it) moved res bytes, 0 < res < its
 * total: ask for the rest, without blocking while that makes progress,
 * then on the backend. */
static void carry_on(struct vos__local *l, const struct vos_req *r,
		     int64_t res)
{
	uint32_t tag = (uint32_t)r->user_data;
	struct vos__carry *c = &l->carry[tag];
	bool rd = vos__op_is_read(r->op);
	uint8_t no_nowait = rd ? VOS__FDC_NO_NOWAIT_RD : VOS__FDC_NO_NOWAIT_WR;
	int ret;

	vos__carry_set(l, c, true, c->ordered);
	for (;;) {
		c->done += res;
		ret = vos__xfer_advance(r, (uint64_t)res, &c->rest, &c->iov);
		if (ret < 0) {
			finish(l, tag, 0); /* what was moved, short */
			return;
		}
		r = &c->rest;
		if (c->fdc & no_nowait)
			break;
		res = vos__exec(r, true);
		if (res == -EAGAIN || res == -EOPNOTSUPP)
			break;
		if (res <= 0 || (uint64_t)res == vos__xfer_total(r)) {
			finish(l, tag, res); /* the end, an error, or all */
			return;
		}
	}
	l->where[tag] = VOS__WHERE_BACKEND;
	ret = l->be->submit(l->be_priv, r, c->fdc);
	if (ret < 0)
		finish(l, tag, ret);
}

bool vos__carry_try(struct vos__local *l, const struct vos_req *r,
		    int64_t res, uint8_t fdc)
{
	uint32_t tag = (uint32_t)r->user_data;

	if (res <= 0 || (uint64_t)res >= vos__xfer_total(r))
		return false;
	if (!vos__carry_alloc(l))
		return false; /* short, as before */
	l->carry[tag].fdc = fdc;
	l->carry[tag].done = 0;
	l->carry[tag].orphan = l->carry[tag].cancelled = false;
	carry_on(l, r, res);
	return true;
}

bool vos__carry_done(struct vos__local *l, uint32_t tag, int64_t res)
{
	struct vos__carry *c;

	if (!l->carry)
		return false;
	if (l->carry[tag].ordered) {
		vos__order_done(l, tag, res);
		return true;
	}
	if (!l->carry[tag].active)
		return false;
	c = &l->carry[tag];
	if (res > 0 && (uint64_t)res < vos__xfer_total(&c->rest) &&
	    !c->orphan && !c->cancelled)
		carry_on(l, &c->rest, res);
	else
		finish(l, tag, res);
	return true;
}

void vos__carry_orphan(struct vos__local *l, int fd)
{
	if (!l->carry || !l->carry_busy)
		return; /* (every close asks: most find nothing to look at) */
	for (uint32_t t = 0; t < l->host->queue_depth; t++) {
		struct vos__carry *c = &l->carry[t];

		if ((c->active || c->ordered) && c->rest.fd == fd)
			c->orphan = true;
	}
}

void vos__carry_cancel(struct vos__local *l, uint32_t tag)
{
	if (l->carry && tag < l->host->queue_depth &&
	    (l->carry[tag].active || l->carry[tag].ordered))
		l->carry[tag].cancelled = true;
}

bool vos__carry_alloc(struct vos__local *l)
{
	if (!l->carry)
		l->carry = calloc(l->host->queue_depth, sizeof(*l->carry));
	return l->carry != NULL;
}

void vos__carry_free(struct vos__local *l)
{
	if (!l->carry)
		return;
	for (uint32_t i = 0; i < l->host->queue_depth; i++)
		free(l->carry[i].iov);
	free(l->carry);
	l->carry = NULL;
	l->carry_busy = 0;
	free(l->fdq);
	l->fdq = NULL;
	l->fdq_cap = 0;
}
