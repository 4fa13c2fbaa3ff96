/*
 * control_msg.h - messages on the wire protocol's control channel (a
 * SOCK_SEQPACKET Unix socket), with file descriptors attached.
 */
#ifndef VOS_CONTROL_MSG_H
#define VOS_CONTROL_MSG_H

#include <stdint.h>
#include <virtuos/wire.h>

#define VOS__CTL_MAX_FDS 4

/* Send one message: header (type, status) + len payload bytes + nfds
 * descriptors.  0 or -errno. */
int vos__ctl_send(int sock, uint16_t type, int32_t status,
		  const void *payload, uint32_t len, const int *fds,
		  unsigned nfds);

/*
 * Receive one message into buf (cap bytes, at least the header).  Fds
 * that came with it go to fds[0..*nfds) (at most VOS__CTL_MAX_FDS; the
 * caller owns them; extras are closed).  Returns the message's total
 * length, 0 at end of stream, or -errno: -EBADMSG for a short or
 * malformed message (bad magic, length not matching), -EPROTO for a
 * version other than ours (the message is still returned in buf so the
 * caller can say what the peer speaks).  timeout_ms < 0: no limit;
 * -ETIMEDOUT when it passes.
 */
int vos__ctl_recv(int sock, void *buf, uint32_t cap, int *fds, unsigned *nfds,
		  int timeout_ms);

#endif /* VOS_CONTROL_MSG_H */
