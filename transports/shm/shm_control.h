/*
 * shm_control.h - control messages over the shm channel's socket (a Unix
 * SOCK_SEQPACKET socket, one message per record, file descriptors with
 * SCM_RIGHTS).  Framing and checking are the wire component's
 * (libvirtuos/wire/control.h); this is the carrying.  Used by the client
 * channel, the server channel, vosctl and the tests.
 */
#ifndef VOS_SHM_CONTROL_H
#define VOS_SHM_CONTROL_H

#include <stdint.h>
#include <virtuos/wire.h>

#define VOS__SHM_MAX_FDS 4

/* Send len bytes (a framed message) and nfds descriptors as one record.
 * Never blocks.  0 or -errno. */
int vos__shm_sendmsg(int sock, const void *msg, uint32_t len, const int *fds,
		     unsigned nfds);

/* Send one message: header (type, status) + len payload bytes + nfds
 * descriptors.  Never blocks (-EAGAIN if the peer's queue is full).
 * 0 or -errno. */
int vos__shm_ctl_send(int sock, uint16_t type, int32_t status,
		      const void *payload, uint32_t len, const int *fds,
		      unsigned nfds);

/*
 * Receive one message into buf (cap bytes, at least the header).  Fds
 * that came with it go to fds[0..*nfds) (at most VOS__SHM_MAX_FDS, close-
 * on-exec; the caller owns them; extras are closed).  Returns the
 * message's total length, 0 at end of stream, or -errno: -EBADMSG for a
 * short or malformed message (its fds closed), -EPROTO for a version
 * other than ours (the message is still in buf so the caller can say what
 * the peer speaks).  timeout_ms < 0: wait without limit; 0: do not wait
 * (-EAGAIN); else -ETIMEDOUT when it passes.
 */
int vos__shm_ctl_recv(int sock, void *buf, uint32_t cap, int *fds,
		      unsigned *nfds, int timeout_ms);

/* Whether fd is what a peer's shared memory must be: a regular file on
 * shmem of exactly size bytes, sealed so that it can neither shrink nor
 * grow nor take other seals (a hugetlbfs memfd could fail a fault with
 * SIGBUS when its maker punches a hole and no huge page is left).  0 or
 * -EBADMSG. */
int vos__shm_check_memfd(int fd, uint64_t size);

#endif /* VOS_SHM_CONTROL_H */
