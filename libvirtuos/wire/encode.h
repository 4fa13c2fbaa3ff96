/*
 * encode.h - the client end's marshalling: struct vos_req (user pointers)
 * into struct vos_wire_req (offsets into the request's data slot), and
 * the service's result back into the user's buffers.  What each op
 * carries is its argument kinds in the op table (opdef.h).
 */
#ifndef VOS_WIRE_ENCODE_H
#define VOS_WIRE_ENCODE_H

#include <stdbool.h>
#include <stdint.h>
#include <virtuos/virtuos.h>
#include <virtuos/wire.h>

#include "opdef.h"
#include "peer_mem.h"

/* A request's data slot: offset and size in the data area. */
struct vos__slot {
	uint32_t off;
	uint32_t size;
};

/* Whether r always needs the large slot (its data has a header of its
 * own or is gathered from several buffers). */
static inline bool vos__wire_wants_large(const struct vos_req *r)
{
	const struct vos__opdef *d = vos__opdef(r->op);

	return d && (d->addr == VOS__ARG_IOV_IN || d->addr == VOS__ARG_IOV_OUT ||
		     d->addr == VOS__ARG_MSG_IN || d->addr == VOS__ARG_MSG_OUT);
}

/* The client's buffer areas that the service shares (GROW): a buffer
 * that lies inside one travels by its data-area offset, not through a
 * slot (zero copy). */
struct vos__zarea {
	const uint8_t *base; /* mapped here */
	uint64_t size;
	uint32_t off;        /* its data-area offset on the wire */
};

struct vos__zareas {
	const struct vos__zarea *a;
	unsigned n;
};

/*
 * Encode r (already validated by the core) into *w, writing what the
 * service reads into the slot (in data, the data area); a read or write
 * buffer inside one of z's areas (z may be NULL) is named where it is.  fd and fd2 are
 * the service's names for r->fd and r->fd2 (the caller maps them).  With
 * may_shorten, a transfer longer than the slot is shortened to it (a
 * short read or write; w->len < r->len tells); without, that is -ENOSPC.
 * Returns 0, -ENOSPC if the request does not fit the slot, or -errno for
 * a request this protocol cannot carry (-ENAMETOOLONG, -EINVAL,
 * -EOPNOTSUPP for ancillary data).
 */
int vos__wire_encode(const struct vos_req *r, int32_t fd, int32_t fd2,
		     uint64_t tag, const struct vos__shared *data,
		     const struct vos__slot *slot, bool may_shorten,
		     const struct vos__zareas *z, struct vos_wire_req *w);

/*
 * Check the service's result res for request r (sent as *w) and copy the
 * output the service left in the slot back to r's buffers (each value is
 * read once, through peer_mem.h, and checked in the copy).  Returns res,
 * or -EIO if it is impossible: a count beyond what was asked, an output
 * length beyond its buffer, an error code out of range.
 */
int64_t vos__wire_result(const struct vos_req *r, const struct vos_wire_req *w,
			 const struct vos__shared *data, int64_t res);

#endif /* VOS_WIRE_ENCODE_H */
