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
	l->data_size = (uint64_t)entries * (VOS_WIRE_SMALL_SLOT + slot_size);
	l->size = l->data_off + l->data_size;
	/* offsets on the wire are 32-bit */
	return l->data_size <= UINT32_MAX;
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

/*
 * The sleep/wake handshake (a Dekker pair: each side stores, then loads
 * what the other stores).  Release/acquire do not order a store before a
 * later load; sequentially consistent operations do (C11's single total
 * order), so these four are seq_cst:
 *
 *   publisher: vos__ring_publish(index)   then vos__ring_peer_flags()
 *              -> kick the eventfd if the peer's NEED_WAKEUP is set
 *   sleeper:   vos__ring_set_flag(NEED_WAKEUP) then vos__ring_peek(index)
 *              -> sleep only if the ring is still empty
 *
 * At least one side sees the other's store, so a request is never left
 * in a ring whose consumer sleeps without a kick coming.  (On x86 the
 * publish is an xchg, a full barrier; we use no standalone fence, which
 * ThreadSanitizer cannot model.)
 */

/* Publish our producer index: also a release of the entries before it. */
static inline void vos__ring_publish(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}

/* The other side's index, for the sleeper's last look. */
static inline uint32_t vos__ring_peek(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

/* The other side's flag word, after our publish. */
static inline uint32_t vos__ring_peer_flags(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

/* Set a flag in our own flag word (NEED_WAKEUP before sleeping; IDLE). */
static inline void vos__ring_set_flag(uint32_t *p, uint32_t f)
{
	__atomic_fetch_or(p, f, __ATOMIC_SEQ_CST);
}

/* Clear a flag in our own word: nothing is ordered by it (a stale
 * NEED_WAKEUP only costs the peer one needless kick). */
static inline void vos__ring_clear_flag(uint32_t *p, uint32_t f)
{
	__atomic_fetch_and(p, ~f, __ATOMIC_RELAXED);
}

#endif /* VOS_RING_H */
