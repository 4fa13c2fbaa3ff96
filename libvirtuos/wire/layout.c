/*
 * layout.c - the region's geometry and the header check (layout.h).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "layout.h"

bool vos__geom_make(uint32_t entries, uint32_t slot_size, struct vos__geom *g)
{
	if (!entries || (entries & (entries - 1)) ||
	    entries > VOS_WIRE_MAX_ENTRIES || slot_size < VOS_WIRE_MIN_SLOT ||
	    slot_size > VOS_WIRE_MAX_SLOT || slot_size % 64)
		return false;
	g->entries = entries;
	g->slot_size = slot_size;
	g->sq_off = VOS_WIRE_HEADER_SIZE;
	g->cq_off = g->sq_off + entries * (uint32_t)sizeof(struct vos_wire_req);
	g->data_off = g->cq_off +
		      (uint64_t)entries * sizeof(struct vos_wire_cqe);
	g->data_off = (g->data_off + 4095) & ~(uint64_t)4095;
	g->data_size = (uint64_t)entries * (VOS_WIRE_SMALL_SLOT + slot_size);
	g->size = g->data_off + g->data_size;
	/* offsets on the wire are 32-bit */
	return g->data_size <= UINT32_MAX;
}

void vos__header_make(const struct vos__geom *g, uint32_t epoch,
		      struct vos_wire_header *h)
{
	memset(h, 0, sizeof(*h));
	h->magic = VOS_WIRE_MAGIC;
	h->version = VOS_WIRE_VERSION;
	h->header_size = VOS_WIRE_HEADER_SIZE;
	h->sq_entries = h->cq_entries = g->entries;
	h->sq_off = g->sq_off;
	h->cq_off = g->cq_off;
	h->slot_size = g->slot_size;
	h->epoch = epoch;
	h->data_off = g->data_off;
	h->data_size = g->data_size;
	h->region_size = g->size;
}

int vos__header_check(const struct vos_wire_header *h, uint64_t mapped,
		      struct vos__geom *g)
{
	struct vos__geom l;

	if (mapped < VOS_WIRE_HEADER_SIZE || h->magic != VOS_WIRE_MAGIC)
		return -EBADMSG;
	if (h->version != VOS_WIRE_VERSION)
		return -EPROTO;
	if (h->header_size != VOS_WIRE_HEADER_SIZE ||
	    h->cq_entries != h->sq_entries ||
	    !vos__geom_make(h->sq_entries, h->slot_size, &l) ||
	    h->sq_off != l.sq_off || h->cq_off != l.cq_off ||
	    h->data_off != l.data_off || h->data_size != l.data_size ||
	    h->region_size != l.size || l.size > mapped)
		return -EBADMSG;
	*g = l;
	return 0;
}
