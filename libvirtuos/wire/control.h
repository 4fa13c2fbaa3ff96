/*
 * control.h - messages on the control channel (doc/protocol.md, section
 * 2): framing and checking.  A channel carries the bytes (and, for shm,
 * the file descriptors that come with ATTACH_REPLY); this file says what
 * the bytes mean, for both ends.
 */
#ifndef VOS_WIRE_CONTROL_H
#define VOS_WIRE_CONTROL_H

#include <stddef.h>
#include <stdint.h>
#include <virtuos/wire.h>

/* Build a message in buf (cap >= sizeof(struct vos_wire_msg) + len): its
 * total length, or -EMSGSIZE if it does not fit VOS_WIRE_MSG_MAX or cap. */
int vos__ctl_frame(void *buf, size_t cap, uint16_t type, int32_t status,
		   const void *payload, uint32_t len);

/*
 * Check a received message of n bytes (the whole of one message) and copy
 * its header into *h (private).  0; -EBADMSG if it is short, has a bad
 * magic or a length that does not match n; -EPROTO if its version is not
 * ours (*h is still filled, so the caller can say what the peer speaks).
 * The payload is the n - sizeof(*h) bytes after the header.
 */
int vos__ctl_parse(const void *buf, size_t n, struct vos_wire_msg *h);

#endif /* VOS_WIRE_CONTROL_H */
