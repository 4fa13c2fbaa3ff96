/*
 * ring_server.c - one client's rings, service end (ring_server.h).
 */
#include "config.h"

#include <errno.h>

#include "ring_server.h"

int vos__rs_init(struct vos__rs *rs, void *map, uint64_t size,
		 const struct vos__geom *g, uint32_t epoch)
{
	struct vos_wire_header h;

	vos__shared_init(&rs->region, map, size);
	if (size < g->size ||
	    !vos__shared_sub(&rs->region, g->data_off, g->data_size,
			     &rs->data))
		return -EINVAL;
	rs->g = *g;
	rs->sq_head = rs->cq_tail = rs->sq_tail_seen = rs->cq_head_seen = 0;
	rs->cq_dirty = false;
	vos__header_make(g, epoch, &h);
	vos__peer_write(&rs->region, 0, &h, sizeof(h));
	return 0;
}

int vos__rs_pending(struct vos__rs *rs)
{
	/* acquire: the entries up to the tail are read after it (pairs with
	 * the client's publish) */
	uint32_t tail = vos__peer_acquire(&rs->region, VOS__OFF_SQ_TAIL);

	if (tail - rs->sq_head > rs->g.entries)
		return -EPROTO;
	rs->sq_tail_seen = tail;
	return (int)(tail - rs->sq_head);
}

void vos__rs_take(struct vos__rs *rs, struct vos_wire_req *w)
{
	vos__peer_read(&rs->region, rs->g.sq_off +
		       (uint64_t)(rs->sq_head & (rs->g.entries - 1)) *
		       sizeof(*w), w, sizeof(*w));
	rs->sq_head++;
}

void vos__rs_consumed(struct vos__rs *rs)
{
	/* release: our reads of the entries come before the client may
	 * overwrite them (pairs with its acquire of sq_head) */
	vos__peer_release(&rs->region, VOS__OFF_SQ_HEAD, rs->sq_head);
}

/* Room for one more completion?  The client's head is read only when the
 * ring looks full (acquire: its reads of the entries are done before we
 * overwrite them). */
static bool cq_room(struct vos__rs *rs)
{
	if (rs->cq_tail - rs->cq_head_seen < rs->g.entries)
		return true;
	rs->cq_head_seen = vos__peer_acquire(&rs->region, VOS__OFF_CQ_HEAD);
	/* a head beyond our tail is a lie: treat the ring as full (the
	 * client stalls only itself) */
	return rs->cq_tail - rs->cq_head_seen < rs->g.entries;
}

static void cq_put(struct vos__rs *rs, const struct vos_wire_cqe *e)
{
	vos__peer_write(&rs->region, rs->g.cq_off +
			(uint64_t)(rs->cq_tail & (rs->g.entries - 1)) *
			sizeof(*e), e, sizeof(*e));
	rs->cq_tail++;
	rs->cq_dirty = true;
}

bool vos__rs_post(struct vos__rs *rs, uint64_t tag, int64_t res)
{
	struct vos_wire_cqe e = { tag, res, 0, 0, 0 };

	if (!cq_room(rs))
		return false;
	cq_put(rs, &e);
	return true;
}

bool vos__rs_publish(struct vos__rs *rs)
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

void vos__rs_sleep_begin(struct vos__rs *rs)
{
	/* the sleeper's half: NEED_WAKEUP, then (vos__rs_has_requests) a
	 * last look at the request tail (pairs with the client's publish +
	 * flags load) */
	vos__peer_set_flag(&rs->region, VOS__OFF_SERVER_FLAGS,
			   VOS_WIRE_SERVER_NEED_WAKEUP);
}

bool vos__rs_has_requests(struct vos__rs *rs)
{
	return vos__peer_peek(&rs->region, VOS__OFF_SQ_TAIL) != rs->sq_head;
}

void vos__rs_sleep_end(struct vos__rs *rs)
{
	vos__peer_clear_flag(&rs->region, VOS__OFF_SERVER_FLAGS,
			     VOS_WIRE_SERVER_NEED_WAKEUP);
}

void vos__rs_corrupt(struct vos__rs *rs, uint64_t rnd1, uint64_t rnd2)
{
	struct vos_wire_cqe e = { rnd1, (int64_t)rnd2, 0, 0, 0 };

	if (!cq_room(rs))
		return;
	cq_put(rs, &e);
	if (rnd1 % 4 == 0)
		rs->cq_tail += (uint32_t)rnd2;
}
