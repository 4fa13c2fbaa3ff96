/*
 * ring_client.h - the generic client end of the ring protocol: a whole
 * transport (struct vos_transport_ops) built on a channel.  A ring
 * transport is its channel plus this:
 *
 *   static int shm_open(struct vos_transport_host *h, void **priv)
 *   {
 *           return vos__rc_open(h, &shm_channel, priv);
 *   }
 *   const struct vos_transport_ops vos__transport_shm =
 *           VOS__RING_TRANSPORT("shm", shm_open);
 *
 * Options (the transport's "k=v,..."; other keys go to the channel):
 *   slot=BYTES   data bytes per request (4096..1048576; default 65536,
 *                less for rings of more than 8192 entries: the data area
 *                stays within 512 MiB)
 *   lazy=0|1     1: attach at the first call (also VOS_TRANSPORT_LAZY)
 *
 * What it does: attaches through the channel and checks the region (one
 * private copy of the header); gives each tag a small and a large data
 * slot; encodes requests (encode.c) and publishes them with one doorbell
 * ring per batch, and only when the service sleeps; checks every
 * completion (tag in range and in flight, result possible) and copies
 * outputs back; sleeps on the channel's fd with NEED_WAKEUP set.  When
 * the service dies, breaks the protocol or misses a deadline, the calls
 * in flight fail (-ECONNRESET for socket calls, -EIO for the rest,
 * -ETIMEDOUT for the late one), fds of that attachment fail with -EIO,
 * and the next call that makes a new fd attaches again.
 *
 * Buffers (vos_buf_alloc()) come from areas of the client's own memory
 * that the service shares (areas.h): reads and writes on them move no
 * byte through a slot.
 *
 * The fds it returns are (attachment generation << 20) | the service's
 * number; the routing layer gives programs real fd numbers instead.
 */
#ifndef VOS_WIRE_RING_CLIENT_H
#define VOS_WIRE_RING_CLIENT_H

#include <virtuos/transport.h>

#include "channel.h"

int vos__rc_open(struct vos_transport_host *host,
		 const struct vos__chan_client *chan, void **priv);
int vos__rc_submit(void *priv, const struct vos_req *reqs, unsigned n);
int vos__rc_reap(void *priv);
int vos__rc_wait(void *priv, int64_t timeout_ns);
void vos__rc_close(void *priv);
int vos__rc_after_fork(void *priv);
const char *vos__rc_describe(void *priv);
int vos__rc_sleep_fd(void *priv);
void vos__rc_woke(void *priv);
int vos__rc_expire(void *priv, uint64_t tag);
int vos__rc_buf_alloc(void *priv, int fd, size_t len, void **buf);
int vos__rc_buf_free(void *priv, void *buf);

#define VOS__RING_TRANSPORT(tname, open_fn)                                    \
	{                                                                      \
		.abi = VOS_TRANSPORT_ABI, .name = (tname), .open = (open_fn), \
		.submit = vos__rc_submit, .reap = vos__rc_reap,                \
		.wait = vos__rc_wait, .close = vos__rc_close,                  \
		.after_fork = vos__rc_after_fork,                              \
		.describe = vos__rc_describe, .sleep_fd = vos__rc_sleep_fd,    \
		.woke = vos__rc_woke, .expire = vos__rc_expire,                \
		.buf_alloc = vos__rc_buf_alloc, .buf_free = vos__rc_buf_free,  \
	}

#endif /* VOS_WIRE_RING_CLIENT_H */
