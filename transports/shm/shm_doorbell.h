/*
 * shm_doorbell.h - the shm channel's doorbell: one end of a Unix
 * SOCK_STREAM socket pair per side (doc/protocol.md, section 8).  Ringing
 * and draining never block, whatever anyone did to the socket's flags.
 */
#ifndef VOS_SHM_DOORBELL_H
#define VOS_SHM_DOORBELL_H

/* Ring the other side: one byte, MSG_DONTWAIT.  A full doorbell (EAGAIN)
 * has been rung already; a hung-up one is seen by the next drain. */
void vos__shm_ring(int bell);

/* Take what rang our end (bounded work): 0, or -ECONNRESET when the
 * other side closed or shut its end down. */
int vos__shm_drain(int bell);

/* Whether fd is a Unix SOCK_STREAM socket (what a doorbell must be). */
int vos__shm_is_bell(int fd);

#endif /* VOS_SHM_DOORBELL_H */
