/*
 * ring_server.h - the generic service end of the ring protocol: one
 * client's rings, as a worker drains requests and posts completions.
 * The server core (servers/core) owns everything else of a client (its
 * fds, credentials, the engine that runs its requests); a channel
 * (channel.h) owns how the region was shared and how the doorbells ring.
 *
 * Indices the service owns (sq_head, cq_tail) live here, private; only
 * sq_head is published (release), for the client's flow control.  A
 * request entry is there when its sequence word says so (peer_mem.h,
 * vos__peer_take): the client publishes no index, so there is none to
 * lie with.  The client's cq_head is read (acquire) only when the
 * completion ring looks full; one that lies stalls only itself.
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
	uint32_t cq_head_seen;     /* the client's head when we last looked */
	bool cq_dirty;             /* posted, not yet published */
	bool sq_moved;             /* taken since sq_head was last stored */
};

/* Start serving the region map (size bytes, made for g): write its header
 * (epoch names this service instance).  0, or -EINVAL if size is short. */
int vos__rs_init(struct vos__rs *rs, void *map, uint64_t size,
		 const struct vos__geom *g, uint32_t epoch);

/* The calls below run for every request and on every pass of a spinning
 * worker: they are inline (each is a few loads and stores). */

/* Take the next request entry, if the client has put it there, into *w,
 * a private copy: only the copy is checked and used.  false: none. */
static inline bool vos__rs_take(struct vos__rs *rs, struct vos_wire_req *w)
{
	if (!vos__peer_take(&rs->region, vos__geom_sqe(&rs->g, rs->sq_head),
			    w, sizeof(*w), vos__seq(rs->sq_head)))
		return false;
	rs->sq_head++;
	rs->sq_moved = true;
	return true;
}

/* We are done reading the entries taken: the client may reuse them. */
static inline void vos__rs_consumed(struct vos__rs *rs)
{
	if (!rs->sq_moved)
		return;
	rs->sq_moved = false;
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
	/* the request entries taken so far are given back first: a client
	 * that sees a completion may count its request's entry as free (it
	 * reuses the tag at once), so the head must not lag behind it */
	vos__rs_consumed(rs);
	vos__peer_put(&rs->region, vos__geom_cqe(&rs->g, rs->cq_tail), e,
		      sizeof(*e), vos__seq(rs->cq_tail));
	rs->cq_tail++;
	rs->cq_dirty = true;
}

/* Put one completion in the ring; false if it is full (the client has
 * not consumed: retry later).  The client may see it at once: its
 * sequence word is its publication. */
static inline bool vos__rs_post(struct vos__rs *rs, uint32_t tag, int64_t res)
{
	struct vos_wire_cqe e;

	if (!vos__rs_cq_room(rs))
		return false;
	e.tag = tag;
	e.flags = 0;
	e.res = res;
	e.aux = 0;
	e.reserved[0] = e.reserved[1] = 0;
	vos__rs_cq_put(rs, &e);
	return true;
}

/* After a batch of posts: true if the client sleeps and must be woken
 * (ring its doorbell).  The publisher's half of the handshake: one full
 * fence for the batch, then a look at the client's NEED_WAKEUP (pairs
 * with the fence in the client's sleep). */
static inline bool vos__rs_publish(struct vos__rs *rs)
{
	if (!rs->cq_dirty)
		return false;
	rs->cq_dirty = false;
	vos__peer_fence();
	return vos__peer_load(&rs->region, VOS__OFF_CLIENT_FLAGS) &
	       VOS_WIRE_CLIENT_NEED_WAKEUP;
}

/* The sleeper's half of the handshake: set NEED_WAKEUP in every client's
 * region (sleep_begin), one full fence (vos__peer_fence, once for all of
 * them), then a last look at each ring (has_requests): sleep only if none
 * has a request.  sleep_end clears the flag. */
static inline void vos__rs_sleep_begin(struct vos__rs *rs)
{
	vos__peer_set_flag(&rs->region, VOS__OFF_SERVER_FLAGS,
			   VOS_WIRE_SERVER_NEED_WAKEUP);
}

static inline bool vos__rs_has_requests(struct vos__rs *rs)
{
	return vos__peer_ready(&rs->region, vos__geom_sqe(&rs->g, rs->sq_head),
			       sizeof(struct vos_wire_req),
			       vos__seq(rs->sq_head));
}

static inline void vos__rs_sleep_end(struct vos__rs *rs)
{
	vos__peer_clear_flag(&rs->region, VOS__OFF_SERVER_FLAGS,
			     VOS_WIRE_SERVER_NEED_WAKEUP);
}

/* Testing only (--fault-inject garbage): post a completion with rnd's
 * bits for tag and result, and sometimes garbage in the next entry under
 * a wrong sequence word. */
void vos__rs_corrupt(struct vos__rs *rs, uint64_t rnd1, uint64_t rnd2);

#endif /* VOS_WIRE_RING_SERVER_H */
