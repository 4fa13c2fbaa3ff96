/*
 * xfer.c - a transfer carried on in pieces (xfer.h).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "opdef.h"
#include "xfer.h"

uint64_t vos__xfer_total(const struct vos_req *r)
{
	const struct iovec *iov = (const void *)(uintptr_t)r->addr;
	uint64_t n = 0;

	if (!vos__op_has(r->op, VOS__OPF_IOVEC))
		return r->len;
	for (uint32_t i = 0; i < r->len; i++)
		n += iov[i].iov_len;
	return n;
}

int vos__xfer_advance(const struct vos_req *r, uint64_t k,
		      struct vos_req *rest, struct iovec **iov)
{
	struct vos_req out = *r;

	if (r->op == VOS_OP_PREAD || r->op == VOS_OP_PWRITE ||
	    (vos__op_has(r->op, VOS__OPF_IOVEC) && r->off != VOS_OFF_CURRENT))
		out.off = r->off + k;
	if (vos__op_has(r->op, VOS__OPF_IOVEC)) {
		const struct iovec *v = (const void *)(uintptr_t)r->addr;
		uint32_t i = 0, n;
		struct iovec *mine;

		while (i < r->len && k >= v[i].iov_len)
			k -= v[i++].iov_len;
		if (i == r->len)
			return -EINVAL; /* k was not below the total */
		n = r->len - i;
		mine = malloc(n * sizeof(*mine));
		if (!mine)
			return -ENOMEM;
		memcpy(mine, v + i, n * sizeof(*mine));
		mine[0].iov_base = (char *)mine[0].iov_base + k;
		mine[0].iov_len -= k;
		free(*iov); /* (read above, if it was r's) */
		*iov = mine;
		out.addr = (uint64_t)(uintptr_t)mine;
		out.len = n;
	} else {
		out.addr = r->addr + k;
		out.len = r->len - (uint32_t)k;
	}
	*rest = out;
	return 0;
}
