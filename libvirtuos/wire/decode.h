/*
 * decode.h - the service end's decoding of a request entry (a private
 * copy, taken by ring_server.c) into a request an executor can run, and
 * the write-back of its outputs.
 *
 * The client is hostile.  Every offset and length is checked against the
 * data area.  Everything a check or the kernel relies on (addresses and
 * their lengths, option values, message headers, paths, ioctl ints) is
 * copied into the decoded request's private memory first, so the client
 * cannot change it between the check and the use.  Only bulk data (what
 * write and send send, what read and recv fill, a statx result) stays in
 * the data area, where the kernel reads or writes it directly and this
 * side never looks at it.
 */
#ifndef VOS_WIRE_DECODE_H
#define VOS_WIRE_DECODE_H

#include <fcntl.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <virtuos/virtuos.h>
#include <virtuos/wire.h>

#include "peer_mem.h"

#define VOS__ADDR_MAX 128u /* a sockaddr on the wire */
#define VOS__OPT_MAX 256u  /* an option value on the wire */

struct vos__dreq {
	/* What the executor runs.  Pointers go to the private copies below
	 * or to bulk spans of the data area.  For path calls addr and addr2
	 * are NULL: the executor copies the paths with vos__dreq_path(). */
	struct vos_req r;
	uint32_t path_off[2], path_len[2]; /* path spans (addr, addr2) */
	uint32_t out_off;   /* data-area offset of what goes back: the
	                     * socklen, the int, the wire msghdr, the first
	                     * offset */
	uint32_t out_off2;  /* the second offset's (copy_file_range...) */
	int64_t loff[2];    /* private offsets (in, then the kernel's out) */
	socklen_t alen;     /* private socklen (in, then the kernel's out) */
	int ival;           /* private ioctl int */
	struct msghdr msg;  /* private message header */
	struct iovec iov;
	union {             /* private address or option value */
		uint8_t sa[VOS__ADDR_MAX];
		uint8_t opt[VOS__OPT_MAX];
		struct timespec ts[2]; /* utimensat's times */
		struct flock fl;       /* a record lock (fcntl_lock) */
	} u;
};

/*
 * Decode the entry *w (a private copy) for a client whose data area is
 * data.  0, or the request's error: -EINVAL (unknown op, flags or
 * reserved not zero, a length the protocol does not carry), -EFAULT (a
 * buffer outside the data area or too small for its op).  fd and fd2 are
 * copied as they are: the caller maps them.
 */
int vos__dreq_decode(const struct vos__shared *data,
		     const struct vos_wire_req *w, struct vos__dreq *q);

/* Copy path i (0: addr, 1: addr2) of a decoded path call into buf (cap
 * bytes): its length, -EFAULT, or -ENAMETOOLONG. */
int vos__dreq_path(const struct vos__shared *data, const struct vos__dreq *q,
		   unsigned i, char *buf, size_t cap);

/* Write the outputs that do not go straight into the data area (address
 * and option lengths, the recvmsg header, the ioctl int) for result res. */
void vos__dreq_write_back(const struct vos__shared *data,
			  const struct vos__dreq *q, int64_t res);

#endif /* VOS_WIRE_DECODE_H */
