/*
 * internal.h - the core's private types and functions (prefix vos__).
 */
#ifndef VOS_INTERNAL_H
#define VOS_INTERNAL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <virtuos/transport.h>
#include <virtuos/virtuos.h>

#include "log.h"
#include "validate.h"

#define vos__container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* Slot states: what a tag is doing. */
enum {
	VOS__SLOT_FREE = 0,
	VOS__SLOT_ASYNC,    /* user request: completion goes to the queue */
	VOS__SLOT_SYNC,     /* a blocking wrapper's request */
	VOS__SLOT_INTERNAL, /* the core's own (cancel on EINTR): dropped */
};

struct vos__slot {
	uint64_t user_data;
	int64_t deadline; /* CLOCK_MONOTONIC ns, or 0: none */
	uint8_t state;
	bool expired;     /* its deadline passed: -ECANCELED means -ETIMEDOUT */
};

/* Everything a live context owns.  The public handle points here. */
struct vos__impl {
	struct vos_transport_host host; /* given to the transport */
	const struct vos_transport_ops *ops;
	void *priv;
	const char *describe;

	uint32_t depth;
	uint32_t in_flight;   /* tags in use */
	uint32_t outstanding; /* in flight + completions not yet returned */
	struct vos__slot *slots;
	uint32_t *free_tags; /* stack of free tags */
	uint32_t nfree;

	/* completions waiting for vos_wait(): a ring of pend_mask+1 entries */
	struct vos_cqe *pend;
	uint32_t pend_mask, pend_head, pend_tail;

	int64_t spin_ns;
	int64_t deadline_ns;   /* the context's, or 0 */
	uint32_t ndeadlines;   /* tags in flight with a deadline */
	int64_t next_deadline; /* the soonest of them (may be stale: early) */
	int64_t sync_res;
	bool sync_done;
	uint64_t bad_completions; /* tags the transport got wrong */
	char *options;
};

/* The handle.  It outlives vos_ctx_destroy() (see there): impl is NULL
 * afterwards, so every entry point can say -EBADF instead of crashing. */
struct vos_ctx {
	struct vos__impl *impl;
	struct vos_ctx *next_dead;
};

/* The live implementation behind a public handle, in *impl: 0, or -EINVAL
 * for NULL, -EBADF for a destroyed context. */
static inline int vos__impl_get(const struct vos_ctx *ctx,
				struct vos__impl **impl)
{
	if (!ctx)
		return -EINVAL;
	*impl = ctx->impl;
	return *impl ? 0 : -EBADF;
}

/* registry.c */
void vos__register_builtin(void);

/* queue.c */
int64_t vos__call(struct vos_ctx *ctx, struct vos_req *req);
void vos__complete(struct vos_transport_host *host, uint64_t tag,
		   int64_t res);
void vos__queue_reset(struct vos__impl *impl);


static inline void vos__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

#endif /* VOS_INTERNAL_H */
