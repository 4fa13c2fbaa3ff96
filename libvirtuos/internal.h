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
	VOS__SLOT_HELD,     /* a linked user request waiting for the one
	                     * before it (link.c): the transport has not
	                     * seen it */
};

/* No tag (link_next, link_prev). */
#define VOS__NO_TAG UINT32_MAX

struct vos__slot {
	uint64_t user_data;
	int64_t deadline; /* CLOCK_MONOTONIC ns, or 0: none */
	/* linked requests (link.c) */
	uint64_t expect;    /* a result below this breaks the chain after it
	                     * (a short read or write); 0: only errors do */
	uint32_t link_next; /* the request waiting for this one, or NO_TAG */
	uint32_t link_prev; /* HELD: the one it waits for, or NO_TAG */
	uint8_t state;
	bool expired;     /* its deadline passed: -ECANCELED means -ETIMEDOUT */
	bool ready;       /* HELD: its turn came, it is in the ready list */
	bool multi;       /* a multishot request: may complete with MORE */
	bool indexed;     /* in the user_data index (udindex.c) */
	bool pool_user;   /* a multishot recv counted in its pool's users */
	uint8_t op;       /* its op (user requests) */
	uint16_t group;   /* a multishot recv's pool */
	int32_t mfd;      /* a multishot request's fd (in impl->mfd's list) */
	uint32_t mfd_next; /* the next multishot request on that fd */
	uint32_t ud_prev, ud_next; /* the index's list of one user_data */
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
	uint64_t lost_completions; /* no memory to queue them (logged) */
	char *options;

	/* linked requests (link.c): the bodies of HELD requests, by tag,
	 * and the tags whose turn came, to be handed to the transport once
	 * the transport call that completed their predecessor returns */
	struct vos_req *held;
	uint32_t *ready;
	uint32_t nready;

	/* vos_ctx_fd() (ctx_fd.c): its epoll set (-1 until asked for), the
	 * eventfd readable while completions are queued, the deadline
	 * timerfd, the transport fd in the set; whether the transport was
	 * readied to sleep (woke() is owed) */
	int cfd_ep, cfd_ev, cfd_tm, cfd_tfd;
	bool cfd_armed, cfd_ev_on, cfd_tm_on;

	/* user_data -> tag for cancels (udindex.c): NULL until the first */
	uint32_t *uidx;
	uint32_t uidx_mask;

	struct vos__bufpool *pools; /* buffer pools (bufpool.c) */
	struct vos__plainbuf *plain; /* vos_buf_alloc's ordinary memory */

	/* per fd: the first multishot request on it (a close through the
	 * context cancels them first), or NO_TAG */
	uint32_t *mfd;
	uint32_t mfd_cap;
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
void vos__post(struct vos_transport_host *host, uint64_t tag, int64_t res,
	       uint32_t flags);
void vos__complete_flags(struct vos__impl *impl, uint64_t tag, int64_t res,
			 uint32_t flags);
void vos__queue_reset(struct vos__impl *impl);
void vos__arm_deadline(struct vos__impl *impl, struct vos__slot *s,
		       uint32_t deadline_ms);

/* ctx_fd.c: a context's fd for other event loops.  awake() at the start
 * of a call into the context, arm() at its end (both only once the fd
 * exists: the checks are inline). */
void vos__cfd_awake(struct vos__impl *impl);
void vos__cfd_arm(struct vos__impl *impl);
void vos__cfd_close(struct vos__impl *impl);
/* queue.c: deliver what is ready and enforce deadlines, without waiting */
void vos__reap_now(struct vos__impl *impl);

/* bufpool.c: buffer pools (the host's buf_take and buf_untake; a
 * completion naming a buffer hands it to the program; a pool's users) */
int64_t vos__buf_take(struct vos_transport_host *host, uint16_t group,
		      void **buf, uint32_t *size);
void vos__buf_untake(struct vos_transport_host *host, uint16_t group,
		     uint32_t bid);
bool vos__buf_hand_out(struct vos__impl *impl, uint16_t group, uint32_t bid);
bool vos__buf_use(struct vos__impl *impl, uint16_t group, int delta);
bool vos__buf_exists(const struct vos__impl *impl, uint16_t group);
void vos__bufs_after_fork(struct vos__impl *impl);
void vos__bufs_free(struct vos__impl *impl);
/* buf_alloc.c: vos_buf_alloc's ordinary memory, freed with the context */
void vos__plainbufs_free(struct vos__impl *impl);

/* queue.c: a multishot request leaves its fd's list; fd is closed: its
 * multishot requests are cancelled */
void vos__mfd_unlink(struct vos__impl *impl, uint32_t tag);
void vos__close_ends_multishot(struct vos__impl *impl, int fd);

/* udindex.c: the user_data -> tag index of cancels */
void vos__uidx_add(struct vos__impl *impl, uint32_t tag);
void vos__uidx_del(struct vos__impl *impl, uint32_t tag);
int vos__uidx_find(struct vos__impl *impl, uint64_t ud);
int vos__uidx_build(struct vos__impl *impl);
void vos__uidx_reset(struct vos__impl *impl);

/* link.c: linked requests (VOS_REQ_LINK), held by the core and handed
 * to the transport one after the other, so they work on every transport */
uint64_t vos__link_expect(const struct vos_req *r);
/* The request with this tag completed with res: start what waited for
 * it, or fail the rest of its chain.  Called from vos__complete(). */
void vos__link_done(struct vos__impl *impl, uint32_t next, uint64_t expect,
		    int64_t res);
/* Complete the chain from tag t on with err, now. */
void vos__link_fail(struct vos__impl *impl, uint32_t t, int64_t err);
/* Hand the requests whose turn came to the transport. */
void vos__link_launch(struct vos__impl *impl);
/* A cancel of a HELD request: it and the rest of its chain complete with
 * -ECANCELED, the request before it no longer starts it. */
void vos__link_cancel_held(struct vos__impl *impl, uint32_t t);


/* queue.c: make room for one more queued completion (the queue starts
 * small and grows: multishot requests may queue more completions than
 * the depth).  false: out of memory. */
bool vos__pend_grow(struct vos__impl *impl);

/* Queue a completion for vos_wait().  false: no memory to (it is
 * counted as lost, and no longer outstanding: a wait must not wait for
 * it). */
static inline bool vos__pend_push_flags(struct vos__impl *impl,
					uint64_t user_data, int64_t res,
					uint32_t flags)
{
	struct vos_cqe *c;

	if (impl->pend_tail - impl->pend_head > impl->pend_mask &&
	    !vos__pend_grow(impl)) {
		impl->lost_completions++;
		return false;
	}
	c = &impl->pend[impl->pend_tail++ & impl->pend_mask];
	c->user_data = user_data;
	c->res = res;
	c->flags = flags;
	c->reserved = 0;
	return true;
}

static inline void vos__pend_push(struct vos__impl *impl, uint64_t user_data,
				  int64_t res)
{
	if (!vos__pend_push_flags(impl, user_data, res, 0))
		impl->outstanding--;
}

/* Give a tag back (its request completed, or never reached the
 * transport). */
static inline void vos__tag_release(struct vos__impl *impl, uint32_t tag)
{
	struct vos__slot *s = &impl->slots[tag];

	if (s->indexed)
		vos__uidx_del(impl, tag);
	if (s->pool_user) {
		s->pool_user = false;
		vos__buf_use(impl, s->group, -1);
	}
	if (s->multi && s->mfd >= 0)
		vos__mfd_unlink(impl, tag);
	if (s->deadline) {
		s->deadline = 0;
		impl->ndeadlines--;
	}
	s->state = VOS__SLOT_FREE;
	impl->free_tags[impl->nfree++] = tag;
	impl->in_flight--;
}

#endif /* VOS_INTERNAL_H */
