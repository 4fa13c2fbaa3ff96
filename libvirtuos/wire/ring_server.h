/*
 * ring_server.h - the generic service end of the ring protocol: one
 * client's rings, as a worker drains requests and posts completions.
 * The server core (servers/core) owns everything else of a client (its
 * fds, credentials, the engine that runs its requests); a channel
 * (channel.h) owns how the region was shared and how the doorbells ring.
 *
 * Indices the service owns (sq_head, cq_tail) live here, private, and are
 * published with release; the client's (sq_tail, cq_head) are read with
 * acquire and checked: a client that publishes more than a ring's worth of
 * requests has broken the protocol (take() says -EPROTO); one that does
 * not consume its completions only stalls itself.
 */
#ifndef VOS_WIRE_RING_SERVER_H
#define VOS_WIRE_RING_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <virtuos/wire.h>

#include "layout.h"
#include "peer_mem.h"

struct vos__rs {
	struct vos__shared region, data;
	struct vos__geom g;
	uint32_t sq_head, cq_tail; /* the indices we own */
	uint32_t sq_tail_seen;     /* the client's tail when we last looked */
	uint32_t cq_head_seen;     /* the client's head when we last looked */
	bool cq_dirty;             /* posted, not yet published */
};

/* Start serving the region map (size bytes, made for g): write its header
 * (epoch names this service instance).  0, or -EINVAL if size is short. */
int vos__rs_init(struct vos__rs *rs, void *map, uint64_t size,
		 const struct vos__geom *g, uint32_t epoch);

/* How many request entries the client has published that we have not
 * taken: a fresh look at its tail.  -EPROTO if it claims more than a
 * ring's worth. */
int vos__rs_pending(struct vos__rs *rs);

/* Take the next entry (there is one: pending() said so) into *w, a
 * private copy: only the copy is checked and used. */
void vos__rs_take(struct vos__rs *rs, struct vos_wire_req *w);

/* We are done reading the entries taken: the client may reuse them. */
void vos__rs_consumed(struct vos__rs *rs);

/* Put one completion in the ring; false if it is full (the client has
 * not consumed: retry later). */
bool vos__rs_post(struct vos__rs *rs, uint64_t tag, int64_t res);

/* Publish what was posted.  true if the client sleeps and must be woken
 * (ring its doorbell). */
bool vos__rs_publish(struct vos__rs *rs);

/* The sleeper's half of the handshake: set NEED_WAKEUP, then look once
 * more whether requests came in (do not sleep then); sleep_end clears the
 * flag.  has_requests is a sequentially consistent look (peer_mem.h). */
void vos__rs_sleep_begin(struct vos__rs *rs);
bool vos__rs_has_requests(struct vos__rs *rs);
void vos__rs_sleep_end(struct vos__rs *rs);

/* Testing only (--fault-inject garbage): post a completion with rnd's
 * bits for tag and result, and sometimes jump the tail. */
void vos__rs_corrupt(struct vos__rs *rs, uint64_t rnd1, uint64_t rnd2);

#endif /* VOS_WIRE_RING_SERVER_H */
