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
	rs->sq_head = rs->cq_tail = rs->cq_head_seen = 0;
	rs->cq_dirty = rs->sq_moved = false;
	vos__header_make(g, epoch, &h);
	vos__peer_write(&rs->region, 0, &h, sizeof(h));
	return 0;
}

void vos__rs_corrupt(struct vos__rs *rs, uint64_t rnd1, uint64_t rnd2)
{
	struct vos_wire_cqe e = { 0 };

	if (!vos__rs_cq_room(rs))
		return;
	e.tag = (uint32_t)rnd1;
	e.res = (int64_t)rnd2;
	vos__rs_cq_put(rs, &e);
	/* sometimes garbage in the next entry too, under a sequence word
	 * that is not its own (where the next completion will go: nothing
	 * the client has not read is overwritten) */
	if (rnd1 % 4 == 0 && vos__rs_cq_room(rs) &&
	    (uint32_t)rnd2 != vos__seq(rs->cq_tail))
		vos__peer_put(&rs->region, vos__geom_cqe(&rs->g, rs->cq_tail),
			      &e, sizeof(e), (uint32_t)rnd2);
}
