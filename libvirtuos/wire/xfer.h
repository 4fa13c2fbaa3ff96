/*
 * xfer.h - a transfer carried on in pieces: how many bytes a read or write
 * asks to move, and the request for what is left after k of them.  Used
 * where a result shorter than the system call's must be continued: the
 * local transport's short non-blocking tries (carry.c) and the ring
 * client's transfers longer than a data slot (ring_client.c).
 */
#ifndef VOS_WIRE_XFER_H
#define VOS_WIRE_XFER_H

#include <stdint.h>
#include <sys/uio.h>
#include <virtuos/virtuos.h>

/* The bytes r asks to move: len, or the sum of its iovecs' lengths. */
uint64_t vos__xfer_total(const struct vos_req *r);

/* *rest = r after its first k bytes (k < vos__xfer_total(r)): the buffer
 * moves on by k, so does an explicit offset (the file position moves by
 * itself).  A vectored request's rest gets an iovec array of our own in
 * *iov (the one there before is freed; r may be *rest and its array
 * *iov).  0, or -ENOMEM. */
int vos__xfer_advance(const struct vos_req *r, uint64_t k,
		      struct vos_req *rest, struct iovec **iov);

#endif /* VOS_WIRE_XFER_H */
