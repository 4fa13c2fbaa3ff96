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
 *   vos__peer_put, vos__peer_take, vos__peer_ready
 *                      a ring entry and its sequence word (below);
 *   the index helpers  loads and stores of head indices and flag words,
 *                      and the handshake's fence, each with the ordering
 *                      it needs (below).
 *
 * Every helper that takes an offset from a caller checks its range
 * against the private size fixed when the region was attached, so a wrong
 * offset costs the call, not the process.  The index and flag helpers
 * take constant offsets inside the header page, which every region has
 * (the attach checks its size).
 * The rule is grep-able: the field peer_base is named in this file only
 * (tests/peer_mem_rule.test fails the build's check otherwise; see
 * doc/security.md, "Reading the peer's memory").
 *
 * Ordering (doc/protocol.md, section 8, "Publishing and sleeping"):
 *
 *   producer: vos__peer_put(entry, seq)          body, then seq (release)
 *   consumer: vos__peer_take(entry, seq)         seq (acquire), then body
 *             vos__peer_release(head)            after reading (release)
 *
 * An entry's sequence word is the last thing written to it, with a
 * release store; the consumer loads it with acquire, and copies the body
 * only when it is the number it expects: the entry's bytes are then the
 * ones the producer wrote before the word (they pair).  The consumer's
 * head, stored with release after its copies, pairs with the producer's
 * acquire load of it when its ring looks full: the entry is not
 * overwritten before it was read.  No read-modify-write on this path.
 *
 * Sleeping is the one store-then-load pattern (a Dekker pair), which
 * release/acquire do not order; each side puts one full fence between
 * its store and its load (C11's fence-fence rule: of two seq_cst fences,
 * one comes first in the single total order, and the load after the
 * later one sees the store before the earlier one):
 *
 *   publisher: put entries; vos__peer_fence(); vos__peer_load(peer flags)
 *   sleeper:   vos__peer_set_flag(NEED_WAKEUP); vos__peer_fence();
 *              vos__peer_ready(the entry at its head)
 *
 * So either the publisher sees NEED_WAKEUP (and rings) or the sleeper sees
 * the entry (and does not sleep).  The publisher's fence is one per
 * published batch, not per entry; at batch 1 it costs nothing measurable
 * here (the entry's line must reach the peer before anything can happen
 * anyway: doc/protocol.md, section 8).
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

/* Copies to and from the peer's memory.  Under ThreadSanitizer they go
 * through libc's memcpy (which it intercepts and checks): gcc expands a
 * memcpy of a known size inline, and those copies are not checked, so a
 * missing release or acquire on an entry would go unseen. */
#if defined(__SANITIZE_THREAD__)
static void *(*const volatile vos__peer_memcpy)(void *, const void *,
						size_t) = memcpy;
#define vos__peer_copy(d, s, n) vos__peer_memcpy((d), (s), (n))
#else
#define vos__peer_copy(d, s, n) memcpy((d), (s), (n))
#endif

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

/* s now reaches size bytes (more of the peer's memory was mapped right
 * after it: a service's data area grown by the client's areas).  Only
 * grows. */
static inline void vos__shared_grow(struct vos__shared *s, uint64_t size)
{
	if (s->peer_base && size > s->size)
		s->size = size;
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
	vos__peer_copy(dst, s->peer_base + off, len);
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
	vos__peer_copy(s->peer_base + off, src, len);
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

/* The peer's index (a consumer's head, read by the producer only when its
 * ring looks full): acquire, so the peer's reads of the entries before it
 * are done before we overwrite them (pairs with the peer's
 * vos__peer_release). */
static inline uint32_t vos__peer_acquire(const struct vos__shared *s,
					 uint32_t off)
{
	return __atomic_load_n(vos__peer_word(s, off), __ATOMIC_ACQUIRE);
}

/* Our head index: release, so our reads of the entries come before it
 * (pairs with the peer's vos__peer_acquire). */
static inline void vos__peer_release(const struct vos__shared *s,
				     uint32_t off, uint32_t v)
{
	__atomic_store_n(vos__peer_word(s, off), v, __ATOMIC_RELEASE);
}

/* ---- ring entries: len bytes at off, the last 4 the sequence word ------- */

/* Put an entry: its body (len - 4 bytes from e), then seq with a release
 * store, so the body is visible before the word that says it is there
 * (pairs with the consumer's acquire in vos__peer_take).  false if the
 * range is not inside s. */
static inline bool vos__peer_put(const struct vos__shared *s, uint64_t off,
				 const void *e, size_t len, uint32_t seq)
{
	if (len < 8 || len % 4 || off % 4 || !vos__peer_in(s, off, len))
		return false;
	vos__peer_copy(s->peer_base + off, e, len - 4);
	/* release: the body above before the word (pairs with take's
	 * acquire of it) */
	__atomic_store_n((uint32_t *)(void *)(s->peer_base + off + len - 4),
			 seq, __ATOMIC_RELEASE);
	return true;
}

/* Take the entry at off if its sequence word is seq: the word with an
 * acquire load (pairs with the producer's release in vos__peer_put), then
 * the body, once, into dst (whose last 4 bytes become seq).  false (dst
 * untouched) if the word is another number (not there yet, or garbage:
 * the same to us) or the range is not inside s. */
static inline bool vos__peer_take(const struct vos__shared *s, uint64_t off,
				  void *dst, size_t len, uint32_t seq)
{
	if (len < 8 || len % 4 || off % 4 || !vos__peer_in(s, off, len))
		return false;
	/* acquire: the body is read after the word (pairs with put's
	 * release) */
	if (__atomic_load_n((const uint32_t *)(const void *)
			    (s->peer_base + off + len - 4),
			    __ATOMIC_ACQUIRE) != seq)
		return false;
	vos__peer_copy(dst, s->peer_base + off, len - 4);
	memcpy((uint8_t *)dst + len - 4, &seq, 4);
	vos__peer_barrier(dst);
	return true;
}

/* Whether the entry at off (len bytes) has sequence word seq: the
 * sleeper's last look, after its fence.  Reads nothing else. */
static inline bool vos__peer_ready(const struct vos__shared *s, uint64_t off,
				   size_t len, uint32_t seq)
{
	if (len < 8 || len % 4 || off % 4 || !vos__peer_in(s, off, len))
		return false;
	return __atomic_load_n((const uint32_t *)(const void *)
			       (s->peer_base + off + len - 4),
			       __ATOMIC_RELAXED) == seq;
}

/* ---- the sleep handshake ------------------------------------------------ */

/* The full fence of the handshake (above): the publisher's between its
 * last put and its look at the peer's flags, the sleeper's between its
 * NEED_WAKEUP and its last look at the ring; each pairs with the other
 * side's.  Nowhere else. */
static inline void vos__peer_fence(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* A word of the peer's (its flags), after our fence: relaxed, the fence
 * orders it. */
static inline uint32_t vos__peer_load(const struct vos__shared *s,
				      uint32_t off)
{
	return __atomic_load_n(vos__peer_word(s, off), __ATOMIC_RELAXED);
}

/* Set a flag in our own word (NEED_WAKEUP before sleeping): relaxed, the
 * fence after it orders it before the last look. */
static inline void vos__peer_set_flag(const struct vos__shared *s,
				      uint32_t off, uint32_t f)
{
	__atomic_fetch_or(vos__peer_word(s, off), f, __ATOMIC_RELAXED);
}

/* Clear a flag in our own word: orders nothing (a stale NEED_WAKEUP only
 * costs the peer one needless kick). */
static inline void vos__peer_clear_flag(const struct vos__shared *s,
					uint32_t off, uint32_t f)
{
	__atomic_fetch_and(vos__peer_word(s, off), ~f, __ATOMIC_RELAXED);
}

#endif /* VOS_WIRE_PEER_MEM_H */
