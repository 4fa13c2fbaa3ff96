/*
 * ring.h - the shared region of the wire protocol: its layout, its
 * validation, and the loads and stores that publish entries across it.
 *
 * Used by both ends (the shm transport in libvirtuos, the server core in
 * servers/core), so each fence is written once.  The protocol and its
 * ordering rules are specified in doc/protocol.md ("Publishing" and
 * "Sleeping"); the comment at each helper says what it orders.
 */
#ifndef VOS_RING_H
#define VOS_RING_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <virtuos/wire.h>

/* Byte offsets of a region with these parameters. */
struct vos__ring_layout {
	uint32_t sq_off, cq_off;
	uint64_t data_off, data_size, size;
};

static inline bool vos__ring_pow2(uint32_t n)
{
	return n && !(n & (n - 1));
}

/* Compute the layout; false if the parameters are out of range. */
static inline bool vos__ring_layout(uint32_t entries, uint32_t slot_size,
				    struct vos__ring_layout *l)
{
	if (!vos__ring_pow2(entries) || entries > VOS_WIRE_MAX_ENTRIES ||
	    slot_size < VOS_WIRE_MIN_SLOT || slot_size > VOS_WIRE_MAX_SLOT ||
	    slot_size % 64)
		return false;
	l->sq_off = VOS_WIRE_HEADER_SIZE;
	l->cq_off = l->sq_off + entries * (uint32_t)sizeof(struct vos_wire_req);
	l->data_off = l->cq_off +
		      (uint64_t)entries * sizeof(struct vos_wire_cqe);
	l->data_off = (l->data_off + 4095) & ~(uint64_t)4095;
	l->data_size = (uint64_t)entries * slot_size;
	l->size = l->data_off + l->data_size;
	return true;
}

/*
 * Check a header the other side wrote, against the size of the mapping
 * that holds it.  Returns 0, -EPROTO for a version mismatch (the caller
 * says so in plain words), or -EBADMSG for anything else wrong.
 */
static inline int vos__ring_check_header(const struct vos_wire_header *h,
					 uint64_t mapped)
{
	struct vos__ring_layout l;

	if (mapped < VOS_WIRE_HEADER_SIZE || h->magic != VOS_WIRE_MAGIC)
		return -EBADMSG;
	if (h->version != VOS_WIRE_VERSION)
		return -EPROTO;
	if (h->header_size != VOS_WIRE_HEADER_SIZE ||
	    h->cq_entries != h->sq_entries ||
	    !vos__ring_layout(h->sq_entries, h->slot_size, &l) ||
	    h->sq_off != l.sq_off || h->cq_off != l.cq_off ||
	    h->data_off != l.data_off || h->data_size != l.data_size ||
	    h->region_size != l.size || l.size > mapped)
		return -EBADMSG;
	return 0;
}

/*
 * Index loads and stores.  The indices are free-running 32-bit counters;
 * an entry's position is index & (entries - 1).
 *
 * vos__ring_load_acquire: read the other side's producer index.  Acquire
 * orders it before our reads of the entries it covers, so we never read
 * an entry before its producer's writes to it are visible.
 */
static inline uint32_t vos__ring_load_acquire(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/*
 * vos__ring_store_release: publish our producer index (or our consumer
 * index).  Release orders our writes to the entries (or our reads of
 * them) before the index store, so the other side never sees an index
 * that covers an entry we have not finished writing (or lets it overwrite
 * an entry we are still reading).
 */
static inline void vos__ring_store_release(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* A flag word the other side writes: relaxed is enough, because every
 * decision taken on it is followed or preceded by vos__ring_fence(). */
static inline uint32_t vos__ring_load_flags(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void vos__ring_set_flag(uint32_t *p, uint32_t f)
{
	__atomic_fetch_or(p, f, __ATOMIC_RELAXED);
}

static inline void vos__ring_clear_flag(uint32_t *p, uint32_t f)
{
	__atomic_fetch_and(p, ~f, __ATOMIC_RELAXED);
}

/*
 * vos__ring_fence: the full barrier of the sleep/wake handshake (store
 * then load, which release/acquire do not order).  The publisher does
 *     store index; fence; load peer's NEED_WAKEUP -> kick if set
 * and the sleeper does
 *     store NEED_WAKEUP; fence; load index -> sleep only if still empty
 * so at least one of them sees the other's store: a request is never left
 * in a ring whose consumer sleeps without a kick coming.
 */
static inline void vos__ring_fence(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

#endif /* VOS_RING_H */
