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

struct vos__carry {
	bool active;
	uint8_t fdc;        /* the fd's class: whether a NOWAIT try works */
	int64_t done;       /* bytes moved so far */
	struct vos_req rest;
	struct iovec *iov;  /* rest's iovec array (vectored ops), ours */
};

static uint64_t wanted(const struct vos_req *r)
{
	const struct iovec *iov = (const void *)(uintptr_t)r->addr;
	uint64_t n = 0;

	if (!vos__op_has(r->op, VOS__OPF_IOVEC))
		return r->len;
	for (uint32_t i = 0; i < r->len; i++)
		n += iov[i].iov_len;
	return n;
}

/* The part of r after its first k bytes, into c->rest (k < wanted(r)).
 * -ENOMEM if a vectored request's array cannot be made. */
static int advance(struct vos__carry *c, const struct vos_req *r, uint64_t k)
{
	if (r != &c->rest)
		c->rest = *r;
	if (r->op == VOS_OP_PREAD || r->op == VOS_OP_PWRITE ||
	    (vos__op_has(r->op, VOS__OPF_IOVEC) && r->off != VOS_OFF_CURRENT))
		c->rest.off = r->off + k;
	/* (read, write and the vectored ops at the file position: the
	 * kernel moved the position by k already) */
	if (vos__op_has(r->op, VOS__OPF_IOVEC)) {
		const struct iovec *iov = (const void *)(uintptr_t)r->addr;
		uint32_t i = 0, n;
		struct iovec *mine;

		while (i < r->len && k >= iov[i].iov_len)
			k -= iov[i++].iov_len;
		n = (uint32_t)r->len - i;
		mine = malloc(n * sizeof(*mine));
		if (!mine)
			return -ENOMEM;
		memcpy(mine, iov + i, n * sizeof(*mine));
		mine[0].iov_base = (char *)mine[0].iov_base + k;
		mine[0].iov_len -= k;
		free(c->iov); /* r's array may be the one replaced: copied above */
		c->iov = mine;
		c->rest.addr = (uint64_t)(uintptr_t)mine;
		c->rest.len = n;
	} else {
		c->rest.addr = r->addr + k;
		c->rest.len = r->len - (uint32_t)k;
	}
	return 0;
}

static void finish(struct vos__local *l, uint32_t tag, int64_t res)
{
	struct vos__carry *c = &l->carry[tag];

	if (c->done > 0)
		res = res > 0 ? c->done + res : c->done;
	c->active = false;
	c->done = 0;
	free(c->iov);
	c->iov = NULL;
	l->host->complete(l->host, tag, res);
}

/* r (tag's request, or the rest of it) moved res bytes, 0 < res <
 * wanted(r): ask for the rest, without blocking while that makes progress,
 * then on the backend. */
static void carry_on(struct vos__local *l, const struct vos_req *r,
		     int64_t res)
{
	uint32_t tag = (uint32_t)r->user_data;
	struct vos__carry *c = &l->carry[tag];
	bool rd = vos__op_is_read(r->op);
	uint8_t no_nowait = rd ? VOS__FDC_NO_NOWAIT_RD : VOS__FDC_NO_NOWAIT_WR;
	int ret;

	c->active = true;
	for (;;) {
		c->done += res;
		ret = advance(c, r, (uint64_t)res);
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
		if (res <= 0 || (uint64_t)res == wanted(r)) {
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

	if (res <= 0 || (uint64_t)res >= wanted(r))
		return false;
	if (!l->carry) {
		l->carry = calloc(l->host->queue_depth, sizeof(*l->carry));
		if (!l->carry)
			return false; /* short, as before */
	}
	l->carry[tag].fdc = fdc;
	l->carry[tag].done = 0;
	carry_on(l, r, res);
	return true;
}

bool vos__carry_done(struct vos__local *l, uint32_t tag, int64_t res)
{
	struct vos__carry *c;

	if (!l->carry || !l->carry[tag].active)
		return false;
	c = &l->carry[tag];
	if (res > 0 && (uint64_t)res < wanted(&c->rest))
		carry_on(l, &c->rest, res);
	else
		finish(l, tag, res);
	return true;
}

void vos__carry_free(struct vos__local *l)
{
	if (!l->carry)
		return;
	for (uint32_t i = 0; i < l->host->queue_depth; i++)
		free(l->carry[i].iov);
	free(l->carry);
	l->carry = NULL;
}
