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

#include <errno.h>
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

/* The calls below run for every request and on every pass of a spinning
 * worker: they are inline (each is a few loads and stores). */

/* How many request entries the client has published that we have not
 * taken: a fresh look at its tail.  -EPROTO if it claims more than a
 * ring's worth. */
static inline int vos__rs_pending(struct vos__rs *rs)
{
	/* acquire: the entries up to the tail are read after it (pairs with
	 * the client's publish) */
	uint32_t tail = vos__peer_acquire(&rs->region, VOS__OFF_SQ_TAIL);

	if (tail - rs->sq_head > rs->g.entries)
		return -EPROTO;
	rs->sq_tail_seen = tail;
	return (int)(tail - rs->sq_head);
}

/* Take the next entry (there is one: pending() said so) into *w, a
 * private copy: only the copy is checked and used. */
static inline void vos__rs_take(struct vos__rs *rs, struct vos_wire_req *w)
{
	vos__peer_read(&rs->region, rs->g.sq_off +
		       (uint64_t)(rs->sq_head & (rs->g.entries - 1)) *
		       sizeof(*w), w, sizeof(*w));
	rs->sq_head++;
}

/* We are done reading the entries taken: the client may reuse them. */
static inline void vos__rs_consumed(struct vos__rs *rs)
{
	/* release: our reads of the entries come before the client may
	 * overwrite them (pairs with its acquire of sq_head) */
	vos__peer_release(&rs->region, VOS__OFF_SQ_HEAD, rs->sq_head);
}

/* Room for one more completion?  The client's head is read only when the
 * ring looks full (acquire: its reads of the entries are done before we
 * overwrite them; pairs with its release of cq_head). */
static inline bool vos__rs_cq_room(struct vos__rs *rs)
{
	if (rs->cq_tail - rs->cq_head_seen < rs->g.entries)
		return true;
	rs->cq_head_seen = vos__peer_acquire(&rs->region, VOS__OFF_CQ_HEAD);
	/* a head beyond our tail is a lie: treat the ring as full (the
	 * client stalls only itself) */
	return rs->cq_tail - rs->cq_head_seen < rs->g.entries;
}

static inline void vos__rs_cq_put(struct vos__rs *rs,
				  const struct vos_wire_cqe *e)
{
	vos__peer_write(&rs->region, rs->g.cq_off +
			(uint64_t)(rs->cq_tail & (rs->g.entries - 1)) *
			sizeof(*e), e, sizeof(*e));
	rs->cq_tail++;
	rs->cq_dirty = true;
}

/* Put one completion in the ring; false if it is full (the client has
 * not consumed: retry later). */
static inline bool vos__rs_post(struct vos__rs *rs, uint64_t tag, int64_t res)
{
	struct vos_wire_cqe e = { tag, res, 0, 0, 0 };

	if (!vos__rs_cq_room(rs))
		return false;
	vos__rs_cq_put(rs, &e);
	return true;
}

/* Publish what was posted.  true if the client sleeps and must be woken
 * (ring its doorbell). */
static inline bool vos__rs_publish(struct vos__rs *rs)
{
	if (!rs->cq_dirty)
		return false;
	rs->cq_dirty = false;
	/* publish the tail (a release of the entries), then look at the
	 * client's NEED_WAKEUP: the publisher's half of the handshake
	 * (pairs with the client's set_flag + peek) */
	vos__peer_publish(&rs->region, VOS__OFF_CQ_TAIL, rs->cq_tail);
	return vos__peer_flags(&rs->region, VOS__OFF_CLIENT_FLAGS) &
	       VOS_WIRE_CLIENT_NEED_WAKEUP;
}

/* The sleeper's half of the handshake: set NEED_WAKEUP, then look once
 * more whether requests came in (do not sleep then); sleep_end clears the
 * flag.  has_requests is a sequentially consistent look (peer_mem.h). */
static inline void vos__rs_sleep_begin(struct vos__rs *rs)
{
	/* pairs with the client's publish + flags load */
	vos__peer_set_flag(&rs->region, VOS__OFF_SERVER_FLAGS,
			   VOS_WIRE_SERVER_NEED_WAKEUP);
}

static inline bool vos__rs_has_requests(struct vos__rs *rs)
{
	return vos__peer_peek(&rs->region, VOS__OFF_SQ_TAIL) != rs->sq_head;
}

static inline void vos__rs_sleep_end(struct vos__rs *rs)
{
	vos__peer_clear_flag(&rs->region, VOS__OFF_SERVER_FLAGS,
			     VOS_WIRE_SERVER_NEED_WAKEUP);
}

/* Testing only (--fault-inject garbage): post a completion with rnd's
 * bits for tag and result, and sometimes jump the tail. */
void vos__rs_corrupt(struct vos__rs *rs, uint64_t rnd1, uint64_t rnd2);

#endif /* VOS_WIRE_RING_SERVER_H */
