/*
 * peer_mem.h - the one place that touches memory the peer can write.
 *
 * A channel maps the shared region and hands it over as a struct
 * vos__shared; from then on nothing outside this file dereferences it.
 * The rest of the code reaches the peer's memory only through these
 * helpers:
 *
 *   vos__peer_read     copies bytes out into private memory, once: the
 *                      caller checks and uses the copy, never the original
 *                      (Xen's RING_COPY_REQUEST, after XSA-155);
 *   vos__peer_write    copies private bytes in;
 *   vos__peer_span     a buffer for the kernel to fill or to send from
 *                      (bulk data this side never inspects);
 *   the index helpers  loads and stores of ring indices and flag words,
 *                      each with the ordering it needs (below).
 *
 * Every helper checks its range against the private size fixed when the
 * region was attached, so a wrong offset costs the call, not the process.
 * The rule is grep-able: the field peer_base is named in this file only
 * (tests/peer_mem_rule.test fails the build's check otherwise; see
 * doc/security.md, "Reading the peer's memory").
 *
 * Ordering (doc/protocol.md, "Publishing and sleeping"):
 *
 *   producer: write entries; vos__peer_release(tail)          (release)
 *   consumer: vos__peer_acquire(tail); read entries;           (acquire)
 *             vos__peer_release(head)                          (release)
 *
 * The release store of an index pairs with the peer's acquire load of
 * it: entries written before the store are visible to reads after the
 * load; entries read before a head store are not overwritten before it.
 *
 * Sleeping is the one store-then-load pattern (a Dekker pair), which
 * release/acquire does not order; these four are sequentially
 * consistent, so in C11's single total order either the publisher sees
 * NEED_WAKEUP or the sleeper sees the new tail:
 *
 *   publisher: vos__peer_publish(tail)       then vos__peer_flags(peer's)
 *   sleeper:   vos__peer_set_flag(NEED_WAKEUP) then vos__peer_peek(tail)
 *
 * (No standalone fence: ThreadSanitizer cannot model one.  On x86 the
 * seq_cst store is an xchg, itself a full barrier.)
 */
#ifndef VOS_WIRE_PEER_MEM_H
#define VOS_WIRE_PEER_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct vos__shared {
	uint8_t *peer_base; /* the mapping: named in this file only */
	uint64_t size;      /* bytes; private, fixed at attach */
};

/* A compiler barrier that also says "dst may have changed": a value read
 * into private memory is not re-read from the peer's copy later. */
#define vos__peer_barrier(p) __asm__ __volatile__("" : : "r"(p) : "memory")

static inline void vos__shared_init(struct vos__shared *s, void *map,
				    uint64_t size)
{
	s->peer_base = (uint8_t *)map;
	s->size = map ? size : 0;
}

/* The part [off, off + size) of s as a region of its own (the data area
 * of a region): false if it does not lie inside s. */
static inline bool vos__shared_sub(const struct vos__shared *s, uint64_t off,
				   uint64_t size, struct vos__shared *sub)
{
	if (off > s->size || size > s->size - off)
		return false;
	sub->peer_base = s->peer_base + off;
	sub->size = size;
	return true;
}

/* Whether [off, off + len) lies inside s. */
static inline bool vos__peer_in(const struct vos__shared *s, uint64_t off,
				uint64_t len)
{
	return off <= s->size && len <= s->size - off;
}

/* Copy len bytes at off out of the peer's memory into dst, once.  false
 * (dst untouched) if the range is not inside s. */
static inline bool vos__peer_read(const struct vos__shared *s, uint64_t off,
				  void *dst, size_t len)
{
	if (!vos__peer_in(s, off, len))
		return false;
	memcpy(dst, s->peer_base + off, len);
	vos__peer_barrier(dst);
	return true;
}

/* Copy len private bytes into the peer's memory at off.  false if the
 * range is not inside s. */
static inline bool vos__peer_write(const struct vos__shared *s, uint64_t off,
				   const void *src, size_t len)
{
	if (!vos__peer_in(s, off, len))
		return false;
	memcpy(s->peer_base + off, src, len);
	return true;
}

/* Copy a NUL-terminated string of at most cap - 1 bytes from
 * [off, off + len) into dst: its length, -EFAULT if the range is not in
 * s or holds no NUL, -ENAMETOOLONG if it does not fit.  The NUL is looked
 * for in the copy. */
int vos__peer_read_str(const struct vos__shared *s, uint64_t off,
		       uint64_t len, char *dst, size_t cap);

/* A pointer to [off, off + len) for the kernel to read or fill (bulk
 * data: this side never reads it back), or NULL if not inside s. */
static inline void *vos__peer_span(const struct vos__shared *s, uint64_t off,
				   uint64_t len)
{
	return vos__peer_in(s, off, len) ? s->peer_base + off : NULL;
}

/* ---- indices and flag words (32-bit, 4-aligned, inside s) -------------- */

static inline uint32_t *vos__peer_word(const struct vos__shared *s,
				       uint32_t off)
{
	return (uint32_t *)(void *)(s->peer_base + off);
}

/* The peer's producer index: acquire, so the entries it covers are read
 * after it (pairs with the peer's vos__peer_release/publish). */
static inline uint32_t vos__peer_acquire(const struct vos__shared *s,
					 uint32_t off)
{
	return __atomic_load_n(vos__peer_word(s, off), __ATOMIC_ACQUIRE);
}

/* Our index: release, so our writes of the entries (or our reads of
 * them, for a head) come before it (pairs with the peer's
 * vos__peer_acquire). */
static inline void vos__peer_release(const struct vos__shared *s,
				     uint32_t off, uint32_t v)
{
	__atomic_store_n(vos__peer_word(s, off), v, __ATOMIC_RELEASE);
}

/* Publish our producer index, seq_cst: a release of the entries, and the
 * store half of the sleep handshake (pairs with the sleeper's
 * vos__peer_peek; the load after it is vos__peer_flags). */
static inline void vos__peer_publish(const struct vos__shared *s,
				     uint32_t off, uint32_t v)
{
	__atomic_store_n(vos__peer_word(s, off), v, __ATOMIC_SEQ_CST);
}

/* The sleeper's last look at the peer's producer index, seq_cst: after
 * its vos__peer_set_flag(NEED_WAKEUP) (pairs with vos__peer_publish). */
static inline uint32_t vos__peer_peek(const struct vos__shared *s,
				      uint32_t off)
{
	return __atomic_load_n(vos__peer_word(s, off), __ATOMIC_SEQ_CST);
}

/* The peer's flag word after our publish, seq_cst (pairs with the
 * peer's vos__peer_set_flag). */
static inline uint32_t vos__peer_flags(const struct vos__shared *s,
				       uint32_t off)
{
	return __atomic_load_n(vos__peer_word(s, off), __ATOMIC_SEQ_CST);
}

/* Set a flag in our own word (NEED_WAKEUP before sleeping), seq_cst: the
 * store half of the sleeper's side (pairs with vos__peer_flags). */
static inline void vos__peer_set_flag(const struct vos__shared *s,
				      uint32_t off, uint32_t f)
{
	__atomic_fetch_or(vos__peer_word(s, off), f, __ATOMIC_SEQ_CST);
}

/* Clear a flag in our own word: orders nothing (a stale NEED_WAKEUP only
 * costs the peer one needless kick). */
static inline void vos__peer_clear_flag(const struct vos__shared *s,
					uint32_t off, uint32_t f)
{
	__atomic_fetch_and(vos__peer_word(s, off), ~f, __ATOMIC_RELAXED);
}

#endif /* VOS_WIRE_PEER_MEM_H */
