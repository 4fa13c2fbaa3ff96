/*
 * wire_client.h - the client end's marshalling between struct vos_req
 * (user pointers) and struct vos_wire_req (offsets into a data slot).
 * Shared by every transport that speaks the wire protocol.
 */
#ifndef VOS_WIRE_CLIENT_H
#define VOS_WIRE_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <virtuos/virtuos.h>
#include <virtuos/wire.h>

/* The data slot a request may use: base in our mapping, off its offset
 * in the data area, size its length. */
struct vos__wire_slot {
	uint8_t *base;
	uint32_t off;
	uint32_t size;
};

/*
 * Encode r (already validated by the core) into *w, copying what the
 * service reads into the slot.  fd and fd2 are the service's names for
 * r->fd and r->fd2 (the caller maps them).  Transfers longer than the
 * slot are shortened to it (a short read or write, as sockets and pipes
 * may give; w->len < r->len tells).  Returns 0, -ENOSPC if the request's
 * fixed parts do not fit the slot, or -errno for a request this protocol
 * cannot carry (-ENAMETOOLONG, -EOPNOTSUPP for ancillary data,
 * -EINVAL).
 */
int vos__wire_encode(const struct vos_req *r, int32_t fd, int32_t fd2,
		     uint64_t tag, const struct vos__wire_slot *slot,
		     struct vos_wire_req *w);

/*
 * Check the service's result res for request r (sent as *w) and copy the
 * output the service left in the slot back to r's buffers.  Returns the
 * result for the user: res itself, or -EIO if it is impossible (a count
 * beyond what was asked, an output length beyond its buffer, an error
 * code out of range).  Reads each shared value once.
 */
int64_t vos__wire_result(const struct vos_req *r, const struct vos_wire_req *w,
			 const struct vos__wire_slot *slot, int64_t res);

#endif /* VOS_WIRE_CLIENT_H */
