/*
 * layout.h - the shared region's geometry: where the rings and the data
 * slots are, computed from two numbers (entries, slot size) by both ends,
 * and the header check.  doc/protocol.md, section 3.
 *
 * Each side keeps its geometry in private memory (struct vos__geom) and
 * never reads it back from the region: the service computes it from the
 * attach request, the client from its private copy of the header.
 */
#ifndef VOS_WIRE_LAYOUT_H
#define VOS_WIRE_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <virtuos/wire.h>

struct vos__geom {
	uint32_t entries;   /* sq_entries == cq_entries, a power of two */
	uint32_t slot_size; /* bytes per large data slot */
	uint32_t sq_off, cq_off;
	uint64_t data_off, data_size, size;
};

/* Offsets of the header's index and flag words. */
#define VOS__OFF_SQ_HEAD ((uint32_t)offsetof(struct vos_wire_header, sq_head))
#define VOS__OFF_CQ_HEAD ((uint32_t)offsetof(struct vos_wire_header, cq_head))
#define VOS__OFF_SERVER_FLAGS \
	((uint32_t)offsetof(struct vos_wire_header, server_flags))
#define VOS__OFF_CLIENT_FLAGS \
	((uint32_t)offsetof(struct vos_wire_header, client_flags))

/* The geometry for these parameters: false if they are out of range
 * (entries a power of two <= VOS_WIRE_MAX_ENTRIES; slot_size a multiple
 * of 64 in VOS_WIRE_MIN_SLOT..VOS_WIRE_MAX_SLOT; data area < 4 GiB). */
bool vos__geom_make(uint32_t entries, uint32_t slot_size,
		    struct vos__geom *g);

/* The header the service writes for g (into private memory; it is then
 * copied into the region with vos__peer_write). */
void vos__header_make(const struct vos__geom *g, uint32_t epoch,
		      struct vos_wire_header *h);

/*
 * Check a private copy of a header the service wrote, for a region of
 * mapped bytes, and take the geometry from it.  0; -EPROTO for another
 * protocol version (the caller says so in words); -EBADMSG for anything
 * else wrong: magic, sizes, offsets that are not what entries and
 * slot_size give, a region larger than the mapping.
 */
int vos__header_check(const struct vos_wire_header *h, uint64_t mapped,
		      struct vos__geom *g);

/* Where the request entry of free-running index i is, and the
 * completion entry; the sequence word an entry of index i carries. */
static inline uint64_t vos__geom_sqe(const struct vos__geom *g, uint32_t i)
{
	return g->sq_off + (uint64_t)(i & (g->entries - 1)) *
	       sizeof(struct vos_wire_req);
}

static inline uint64_t vos__geom_cqe(const struct vos__geom *g, uint32_t i)
{
	return g->cq_off + (uint64_t)(i & (g->entries - 1)) *
	       sizeof(struct vos_wire_cqe);
}

static inline uint32_t vos__seq(uint32_t i)
{
	return i + 1; /* never the 0 of a fresh ring on the first lap; on a
	               * later lap, not the previous lap's i + 1 - entries */
}

/* Tag t's small data slot (data-area offset), and its large one. */
static inline uint32_t vos__geom_small(const struct vos__geom *g, uint32_t t)
{
	(void)g; /* the small slots come first, whatever the geometry */
	return t * VOS_WIRE_SMALL_SLOT;
}

static inline uint32_t vos__geom_large(const struct vos__geom *g, uint32_t t)
{
	return g->entries * VOS_WIRE_SMALL_SLOT + t * g->slot_size;
}

#endif /* VOS_WIRE_LAYOUT_H */
