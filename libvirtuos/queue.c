/*
 * queue.c - submission and completion: tags, the completion queue,
 * spinning then sleeping, and the engine under the blocking wrappers.
 *
 * A request submitted by the user gets a tag (an index below the queue
 * depth).  The transport only ever sees tags; vos__complete() turns a tag
 * back into the user's user_data, after checking that the tag is in range
 * and in flight, so a confused or hostile transport cannot make the core
 * return a completion twice or for a request never made.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "internal.h"
#include "spin.h"

/* Requests are handed to the transport in batches of at most this many. */
#define SUBMIT_BATCH 32
/* While spinning, read the clock once per this many polls. */
#define SPIN_CLOCK_EVERY 16
/* A request past its deadline is cancelled; if it has not completed this
 * much later, its transport is asked to fail it (expire_one()). */
#define DEADLINE_GRACE_NS 200000000

static inline uint32_t pend_count(const struct vos__impl *impl)
{
	return impl->pend_tail - impl->pend_head;
}

/* Give s its deadline: deadline_ms is the request's (0: the context's). */
void vos__arm_deadline(struct vos__impl *impl, struct vos__slot *s,
		       uint32_t deadline_ms)
{
	if (deadline_ms != VOS_NO_DEADLINE && (deadline_ms || impl->deadline_ns)) {
		int64_t now = vos__now_ns();
		int64_t d = deadline_ms ? (int64_t)deadline_ms * 1000000
					: impl->deadline_ns;

		s->deadline = d > INT64_MAX - now ? INT64_MAX : now + d;
		if (impl->ndeadlines++ == 0 || s->deadline < impl->next_deadline)
			impl->next_deadline = s->deadline;
	}
}

/* Take a tag; deadline_ms is the request's (0: the context's; a HELD
 * request's deadline starts when it does). */
static inline uint32_t tag_take(struct vos__impl *impl, uint64_t user_data,
				uint8_t state, uint32_t deadline_ms)
{
	uint32_t tag = impl->free_tags[--impl->nfree];
	struct vos__slot *s = &impl->slots[tag];

	s->user_data = user_data;
	s->state = state;
	s->expired = false;
	s->deadline = 0;
	s->expect = 0;
	s->link_next = s->link_prev = VOS__NO_TAG;
	s->ready = false;
	s->multi = false;
	s->indexed = false;
	s->pool_user = false;
	s->op = VOS_OP__COUNT; /* (set by the caller for user requests) */
	if (state != VOS__SLOT_HELD)
		vos__arm_deadline(impl, s, deadline_ms);
	impl->in_flight++;
	return tag;
}

/* A user request took tag: what a cancel needs to find it. */
static inline void tag_user(struct vos__impl *impl, uint32_t tag, uint8_t op)
{
	impl->slots[tag].op = op;
	if (impl->uidx && op != VOS_OP_CANCEL)
		vos__uidx_add(impl, tag);
}

bool vos__pend_grow(struct vos__impl *impl)
{
	uint32_t cap = impl->pend_mask + 1, n = pend_count(impl);
	struct vos_cqe *q;

	if (n < cap)
		return true;
	if (cap > UINT32_MAX / 4)
		return false;
	q = malloc((size_t)cap * 2 * sizeof(*q));
	if (!q)
		return false;
	for (uint32_t i = 0; i < n; i++)
		q[i] = impl->pend[(impl->pend_head + i) & impl->pend_mask];
	free(impl->pend);
	impl->pend = q;
	impl->pend_mask = cap * 2 - 1;
	impl->pend_head = 0;
	impl->pend_tail = n;
	return true;
}

/* A completion's claim of a buffer (VOS_CQE_F_BUFFER): the buffer must be
 * one the transport took for this multishot recv; it becomes the
 * program's.  false: a transport's mistake (counted). */
static bool buffer_claim_ok(struct vos__impl *impl,
			    const struct vos__slot *slot, uint32_t flags)
{
	if (!(flags & VOS_CQE_F_BUFFER))
		return true;
	if (slot->op == VOS_OP_RECV_MULTI &&
	    vos__buf_hand_out(impl, slot->group,
			      flags >> VOS_CQE_BUFFER_SHIFT))
		return true;
	impl->bad_completions++;
	return false;
}

/* A completion of a multishot request that stays in flight: queued for
 * vos_wait() (it counts as outstanding until returned), its tag kept. */
static void post_more(struct vos__impl *impl, struct vos__slot *slot,
		      int64_t res, uint32_t flags)
{
	if (slot->state != VOS__SLOT_ASYNC || !slot->multi) {
		/* only a user's multishot request may have more */
		impl->bad_completions++;
		return;
	}
	if (!buffer_claim_ok(impl, slot, flags))
		return;
	if (vos__pend_push_flags(impl, slot->user_data, res, flags))
		impl->outstanding++;
}

void vos__post(struct vos_transport_host *host, uint64_t tag, int64_t res,
	       uint32_t flags)
{
	struct vos__impl *impl = vos__container_of(host, struct vos__impl, host);

	if (!(flags & VOS_CQE_F_MORE)) {
		vos__complete_flags(impl, tag, res, flags);
		return;
	}
	if (tag >= impl->depth || impl->slots[tag].state == VOS__SLOT_FREE ||
	    impl->slots[tag].state == VOS__SLOT_HELD) {
		impl->bad_completions++;
		return;
	}
	post_more(impl, &impl->slots[tag], res, flags);
}

void vos__complete(struct vos_transport_host *host, uint64_t tag, int64_t res)
{
	struct vos__impl *impl = vos__container_of(host, struct vos__impl, host);

	vos__complete_flags(impl, tag, res, 0);
}

void vos__complete_flags(struct vos__impl *impl, uint64_t tag, int64_t res,
			 uint32_t flags)
{
	struct vos__slot *slot;
	uint64_t expect;
	uint32_t next;

	if (tag >= impl->depth || impl->slots[tag].state == VOS__SLOT_FREE ||
	    impl->slots[tag].state == VOS__SLOT_HELD) {
		/* (a HELD request was never handed to the transport) */
		impl->bad_completions++;
		return;
	}
	slot = &impl->slots[tag];
	next = slot->link_next;
	expect = slot->expect;
	if (!buffer_claim_ok(impl, slot, flags))
		flags = 0; /* (delivered, without the claim) */
	if (slot->expired && (res == -ECANCELED || res == -EINTR))
		res = -ETIMEDOUT; /* the core cancelled it at its deadline */
	switch (slot->state) {
	case VOS__SLOT_ASYNC:
		if (!vos__pend_push_flags(impl, slot->user_data, res, flags))
			impl->outstanding--; /* lost: nothing to wait for */
		break;
	case VOS__SLOT_SYNC:
		impl->sync_res = res;
		impl->sync_done = true;
		impl->outstanding--;
		break;
	default: /* internal: nobody waits for it */
		impl->outstanding--;
		break;
	}
	vos__tag_release(impl, (uint32_t)tag);
	if (next != VOS__NO_TAG)
		vos__link_done(impl, next, expect, res);
}

/* Follow multishot request tag under its fd (see
 * vos__close_ends_multishot). */
static void mfd_link(struct vos__impl *impl, uint32_t tag, int fd)
{
	struct vos__slot *s = &impl->slots[tag];

	s->mfd = -1;
	if (fd < 0)
		return;
	if ((uint32_t)fd >= impl->mfd_cap) {
		struct rlimit rl;

		/* a number no open fd can have (the request fails with
		 * EBADF) is not followed: the array grows only as far as
		 * real fds go */
		if (getrlimit(RLIMIT_NOFILE, &rl) < 0 ||
		    (rlim_t)fd >= rl.rlim_cur || fd >= (1 << 24))
			return;
		uint32_t cap = impl->mfd_cap ? impl->mfd_cap : 64;
		uint32_t *n;

		while (cap <= (uint32_t)fd)
			cap *= 2;
		n = realloc(impl->mfd, cap * sizeof(*n));
		if (!n)
			return; /* not followed: a close does not end it */
		for (uint32_t i = impl->mfd_cap; i < cap; i++)
			n[i] = VOS__NO_TAG;
		impl->mfd = n;
		impl->mfd_cap = cap;
	}
	s->mfd = fd;
	s->mfd_next = impl->mfd[fd];
	impl->mfd[fd] = tag;
}

/* What a request is refused with (vos__validate's rules, and a multishot
 * recv's pool must exist: one made later is not its), or 0. */
static int check(const struct vos__impl *impl, const struct vos_req *req)
{
	int err = vos__validate(req);

	if (err == 0 && req->op == VOS_OP_RECV_MULTI &&
	    !vos__buf_exists(impl, (uint16_t)req->arg))
		err = -ENOBUFS;
	return err;
}

/* Hand batch[0..n) to the transport; give back the tags it did not take.
 * Returns how many it took. */
static unsigned flush(struct vos__impl *impl, struct vos_req *batch,
		      unsigned n)
{
	int took;

	if (n == 0)
		return 0;
	took = impl->ops->submit(impl->priv, batch, n);
	if (took < 0)
		took = 0;
	for (unsigned i = (unsigned)took; i < n; i++) {
		vos__tag_release(impl, (uint32_t)batch[i].user_data);
		impl->outstanding--;
	}
	return (unsigned)took;
}

/*
 * Prepare one request for the transport (err is vos__validate()'s
 * verdict on it): fail it if invalid, resolve a cancel
 * target, take a tag.  Returns 1 if *out is to be submitted, 0 if the
 * request was completed here (its completion is already queued, or, for a
 * SYNC request, *res holds the error).
 */
static int stage(struct vos__impl *impl, const struct vos_req *req, int err,
		 uint8_t state, struct vos_req *out, int64_t *res)
{
	if (err == 0 && req->op == VOS_OP_CANCEL) {
		err = vos__uidx_find(impl, req->off);
		if (err >= 0 && impl->slots[err].state == VOS__SLOT_HELD) {
			/* the transport never saw it: cancelled here */
			vos__link_cancel_held(impl, (uint32_t)err);
			if (state == VOS__SLOT_ASYNC) {
				vos__pend_push(impl, req->user_data, 0);
				impl->outstanding++;
			}
			*res = 0;
			return 0;
		}
		if (err >= 0) {
			*out = *req;
			out->off = (uint64_t)err;
			err = 0;
		}
	} else if (err == 0) {
		*out = *req;
		if (vos__times_omitted(req) == 1) {
			/* utimensat with both times omitted: the kernel's
			 * nothing-to-do, a NOP (links and all) */
			vos_prep_nop(out);
			out->flags = req->flags;
			out->user_data = req->user_data;
			out->deadline_ms = req->deadline_ms;
		} else if (req->op == VOS_OP_OPENAT2) {
			/* the program's struct open_how into the request */
			vos__open_how_flatten(req, out);
		} else if (vos__null_path_ok(req)) { /* as the kernel takes it */
			out->addr = (uint64_t)(uintptr_t)"";
			out->op_flags |= AT_EMPTY_PATH;
			if (req->op == VOS_OP_UTIMENSAT)
				out->op_flags |= VOS__AT_FD_ONLY;
		}
	}
	if (err < 0) {
		if (state == VOS__SLOT_ASYNC) {
			vos__pend_push(impl, req->user_data, err);
			impl->outstanding++;
		}
		*res = err;
		return 0;
	}
	out->user_data = tag_take(impl, req->user_data, state,
				  req->deadline_ms);
	if (state == VOS__SLOT_ASYNC)
		tag_user(impl, (uint32_t)out->user_data, req->op);
	if (vos__op_has(req->op, VOS__OPF_MULTI)) {
		struct vos__slot *s = &impl->slots[out->user_data];

		s->multi = true;
		if (req->op == VOS_OP_RECV_MULTI) {
			s->group = (uint16_t)req->arg;
			s->pool_user = vos__buf_use(impl, s->group, 1);
		}
		mfd_link(impl, (uint32_t)out->user_data, req->fd);
	}
	impl->outstanding++;
	return 1;
}

/* Cancel the request with this tag, from inside the core: the cancel's
 * own completion is dropped.  false if there is no room for it. */
static bool cancel_internal(struct vos__impl *impl, uint32_t tag)
{
	struct vos_req c;

	if (impl->outstanding >= impl->depth)
		return false;
	vos_prep_cancel(&c, 0);
	c.off = tag;
	c.user_data = tag_take(impl, 0, VOS__SLOT_INTERNAL, VOS_NO_DEADLINE);
	impl->outstanding++;
	return flush(impl, &c, 1) == 1;
}

/* ---- multishot requests by fd: a close ends them first --------------------
 * A multishot request has no end of its own: a close of its fd through the
 * context (or vos_fd_forget after a close behind its back) cancels it
 * first (a request that waits in a service or in the kernel would
 * otherwise keep the file open, and run again on whatever file gets the
 * number).  The cancels go to the transport before the close, so a
 * service takes them first.  (With the queue full the cancel cannot be
 * made: the close still goes.) */
void vos__mfd_unlink(struct vos__impl *impl, uint32_t tag)
{
	uint32_t *p = &impl->mfd[impl->slots[tag].mfd];

	while (*p != VOS__NO_TAG && *p != tag)
		p = &impl->slots[*p].mfd_next;
	if (*p == tag)
		*p = impl->slots[tag].mfd_next;
	impl->slots[tag].mfd = -1;
}

void vos__close_ends_multishot(struct vos__impl *impl, int fd)
{
	uint32_t t;

	if (fd < 0 || (uint32_t)fd >= impl->mfd_cap)
		return;
	for (t = impl->mfd[fd]; t != VOS__NO_TAG;) {
		uint32_t next = impl->slots[t].mfd_next;

		cancel_internal(impl, t); /* (may complete it at once) */
		t = next;
	}
}

/*
 * The request with tag t ran past its deadline.  First the core cancels
 * it, as any transport can: a live service answers at once, and the
 * request reports -ETIMEDOUT if the cancel wins (or its real result if it
 * finished first).  If it has still not completed DEADLINE_GRACE_NS
 * later, the transport's expire() fails it with -ETIMEDOUT; a ring
 * transport then gives its service up, since a service that answers
 * neither the call nor its cancel has stopped answering.  false if
 * nothing could be done now (no room for the cancel): try again soon.
 */
static bool expire_one(struct vos__impl *impl, uint32_t t, int64_t now)
{
	struct vos__slot *s = &impl->slots[t];

	if (!s->expired) {
		s->expired = true; /* before: the cancel may complete it now */
		if (!cancel_internal(impl, t)) {
			s->expired = false;
			return false;
		}
		if (s->state != VOS__SLOT_FREE)
			s->deadline = now + DEADLINE_GRACE_NS;
		return true;
	}
	s->deadline = 0;
	impl->ndeadlines--;
	if (impl->ops->expire)
		impl->ops->expire(impl->priv, t);
	return true;
}

/* Expire what is past its deadline; recompute the soonest deadline. */
static void expire_due(struct vos__impl *impl)
{
	int64_t now, next = INT64_MAX;

	if (!impl->ndeadlines)
		return;
	now = vos__now_ns();
	if (now < impl->next_deadline)
		return;
	for (uint32_t t = 0; t < impl->depth && impl->ndeadlines; t++) {
		struct vos__slot *s = &impl->slots[t];

		if (s->state == VOS__SLOT_FREE || !s->deadline)
			continue;
		if (s->deadline > now) {
			next = s->deadline < next ? s->deadline : next;
			continue;
		}
		if (!expire_one(impl, t, now) && now + 1000000 < next)
			next = now + 1000000; /* try again in 1 ms */
		else if (s->state != VOS__SLOT_FREE && s->deadline &&
			 s->deadline < next)
			next = s->deadline; /* its grace */
	}
	impl->next_deadline = next;
}

/* Deliver what the transport has ready, then start the linked requests
 * whose turn it made come. */
static int reap(struct vos__impl *impl)
{
	int ret = impl->ops->reap(impl->priv);

	if (impl->nready)
		vos__link_launch(impl);
	return ret;
}

/* The time to wait for: until the caller's deadline (< 0: none) or the
 * soonest request deadline, whichever comes first; -1 for no limit. */
static int64_t wait_left(const struct vos__impl *impl, int64_t deadline,
			 int64_t now)
{
	int64_t until = deadline;

	if (impl->ndeadlines && (until < 0 || impl->next_deadline < until))
		until = impl->next_deadline;
	if (impl->nready && (until < 0 || now + 1000000 < until))
		until = now + 1000000; /* a linked request the transport could
		                        * not take yet: try again in 1 ms */
	if (until < 0)
		return -1;
	return until > now ? until - now : 0;
}

/* What a request of a chain is refused with, or 0: the flags may hold
 * only VOS_REQ_LINK; a cancel cannot be linked (its target is named when
 * it is submitted, not when its turn comes). */
static int link_check(const struct vos_req *r)
{
	struct vos_req c = *r;

	if (c.flags & ~VOS_REQ_LINK)
		return -EINVAL;
	c.flags = 0;
	if (c.op == VOS_OP_CANCEL || c.op == VOS_OP_ACCEPT_MULTI ||
	    c.op == VOS_OP_RECV_MULTI)
		return -EINVAL; /* (a multishot request never "completes") */
	return vos__validate(&c);
}

/*
 * Submit the chain that starts at reqs[0] (whose flags are not 0): the
 * requests up to the first without VOS_REQ_LINK, or to the end of reqs.
 * The first goes to the transport; the others are HELD here (link.c)
 * and each starts when the one before it completes.  Returns how many
 * requests were taken (the whole chain), 0 if it does not fit in the
 * queue now, -EINVAL if it never will (longer than the queue depth).
 */
static int submit_chain(struct vos__impl *impl, const struct vos_req *reqs,
			unsigned n)
{
	struct vos_req first;
	uint32_t len = 1, head = VOS__NO_TAG, prev = VOS__NO_TAG, next;
	bool bad = false;

	while (len < n && (reqs[len - 1].flags & VOS_REQ_LINK))
		len++;
	if (len > impl->depth)
		return -EINVAL;
	if (impl->outstanding + len > impl->depth)
		return 0;
	if (!impl->held) { /* the first chain of this context */
		impl->held = calloc(impl->depth, sizeof(*impl->held));
		impl->ready = calloc(impl->depth, sizeof(*impl->ready));
		if (!impl->held || !impl->ready) {
			free(impl->held);
			free(impl->ready);
			impl->held = NULL;
			impl->ready = NULL;
			return -ENOMEM;
		}
	}
	for (uint32_t i = 0; i < len && !bad; i++)
		bad = link_check(&reqs[i]) < 0;
	if (bad) {
		/* none of it runs: the bad ones complete with their error,
		 * the others with -ECANCELED (as io_uring fails a link) */
		for (uint32_t i = 0; i < len; i++) {
			int err = link_check(&reqs[i]);

			vos__pend_push(impl, reqs[i].user_data,
				       err < 0 ? err : -ECANCELED);
			impl->outstanding++;
		}
		return (int)len;
	}
	for (uint32_t i = 0; i < len; i++) {
		struct vos_req r = reqs[i];
		uint32_t tag;

		r.flags = 0;
		if (r.op == VOS_OP_OPENAT2) /* (the struct need not last) */
			vos__open_how_flatten(&reqs[i], &r);
		if (i == 0) {
			tag = head = tag_take(impl, r.user_data,
					      VOS__SLOT_ASYNC, r.deadline_ms);
			first = r;
			first.user_data = tag;
		} else {
			tag = tag_take(impl, r.user_data, VOS__SLOT_HELD, 0);
			impl->held[tag] = r;
			impl->slots[tag].link_prev = prev;
			impl->slots[prev].link_next = tag;
		}
		tag_user(impl, tag, r.op);
		if (i + 1 < len)
			impl->slots[tag].expect = vos__link_expect(&r);
		impl->outstanding++;
		prev = tag;
	}
	next = impl->slots[head].link_next;
	if (flush(impl, &first, 1) != 1) {
		/* the transport took nothing: neither is the rest taken */
		for (uint32_t t = next; t != VOS__NO_TAG; t = next) {
			next = impl->slots[t].link_next;
			vos__tag_release(impl, t);
			impl->outstanding--;
		}
		return 0;
	}
	return (int)len;
}

static int submit_impl(struct vos__impl *impl, const struct vos_req *reqs,
		       unsigned n)
{
	struct vos_req batch[SUBMIT_BATCH];
	unsigned done = 0, nb = 0;
	int64_t res;
	int ret;

	if (!reqs && n)
		return -EINVAL;
	if (n && impl->outstanding >= impl->depth)
		return -EBUSY;

	while (done + nb < n && impl->outstanding < impl->depth) {
		const struct vos_req *req = &reqs[done + nb];
		int err;

		if (req->flags) {
			/* a chain (or bad flags): after what is staged */
			unsigned took = flush(impl, batch, nb);
			bool all = took == nb;

			done += took;
			nb = 0;
			ret = all ? submit_chain(impl, req, n - done) : 0;
			if (ret <= 0) {
				if (impl->nready)
					vos__link_launch(impl);
				return done ? (int)done : ret < 0 ? ret : -EBUSY;
			}
			done += (unsigned)ret;
			continue;
		}
		err = check(impl, req);
		if (err == 0 && impl->mfd && vos__op_closes_fd(req) >= 0) {
			/* its multishot requests are cancelled first, after
			 * what is staged */
			unsigned took = flush(impl, batch, nb);

			done += took;
			if (took < nb)
				return done ? (int)done : -EBUSY;
			nb = 0;
			vos__close_ends_multishot(impl,
						  vos__op_closes_fd(req));
			if (impl->outstanding >= impl->depth)
				return done ? (int)done : -EBUSY;
		}
		if (err < 0 || req->op == VOS_OP_CANCEL) {
			/* completes here or needs the table: keep order by
			 * flushing what is staged before it */
			unsigned took = flush(impl, batch, nb);

			done += took;
			if (took < nb)
				return done ? (int)done : -EBUSY;
			nb = 0;
			if (stage(impl, req, err, VOS__SLOT_ASYNC, &batch[0],
				  &res)) {
				if (flush(impl, batch, 1) != 1)
					return done ? (int)done : -EBUSY;
			}
			done++;
			continue;
		}
		stage(impl, req, 0, VOS__SLOT_ASYNC, &batch[nb++], &res);
		if (nb == SUBMIT_BATCH) {
			unsigned took = flush(impl, batch, nb);

			done += took;
			nb = 0;
			if (took < SUBMIT_BATCH)
				return done ? (int)done : -EBUSY;
		}
	}
	done += flush(impl, batch, nb);
	if (impl->nready) /* linked requests a completion inline started */
		vos__link_launch(impl);
	return done || n == 0 ? (int)done : -EBUSY;
}

/*
 * Make progress until done(impl, arg) holds: reap, spin for up to spin_ns,
 * then block in the transport.  deadline is absolute (ns, monotonic), or
 * < 0 for none.  Returns 0 when done, -ETIME or -EINTR (or a transport
 * error) otherwise.
 */
static int progress(struct vos__impl *impl, int64_t deadline,
		    bool (*done)(struct vos__impl *, const void *),
		    const void *arg)
{
	int64_t now, spin_end, left;
	int ret;

	ret = reap(impl);
	expire_due(impl);
	if (done(impl, arg))
		return 0;
	if (ret < 0)
		return ret;
	if (deadline >= 0 && deadline <= vos__now_ns())
		return -ETIME;

	if (impl->spin_ns > 0) {
		int64_t yield_at;

		now = vos__now_ns();
		spin_end = now + impl->spin_ns;
		yield_at = now + VOS__SPIN_YIELD_NS;
		if (deadline >= 0 && deadline < spin_end)
			spin_end = deadline;
		if (impl->ndeadlines && impl->next_deadline < spin_end)
			spin_end = impl->next_deadline;
		for (unsigned i = 1;; i++) {
			ret = reap(impl);
			if (done(impl, arg))
				return 0;
			if (ret < 0)
				return ret;
			if (i % SPIN_CLOCK_EVERY == 0) {
				now = vos__now_ns();
				if (now >= spin_end)
					break;
				/* (a runnable thread here may be the one
				 * that answers: spin.h); not when the spin
				 * ends sooner than a yield may last */
				if (spin_end - now > VOS__SPIN_YIELD_NS)
					vos__spin_yield_due(now, &yield_at);
			}
			vos__cpu_relax();
		}
	}

	for (;;) {
		now = vos__now_ns();
		if (deadline >= 0 && now >= deadline)
			return -ETIME;
		expire_due(impl);
		if (done(impl, arg))
			return 0;
		left = wait_left(impl, deadline, now);
		ret = impl->ops->wait(impl->priv, left);
		if (impl->nready)
			vos__link_launch(impl);
		if (done(impl, arg))
			return 0;
		/* a wait cut short by a request's deadline goes round again:
		 * only the caller's own deadline ends it with -ETIME */
		if (ret < 0 && ret != -EAGAIN && ret != -ETIME)
			return ret;
	}
}

static bool enough_pending(struct vos__impl *impl, const void *arg)
{
	return pend_count(impl) >= *(const uint32_t *)arg;
}

static int wait_impl(struct vos__impl *impl, struct vos_cqe *cqes,
		     unsigned max, unsigned min, int64_t timeout_ns)
{
	uint32_t want;
	int64_t deadline;
	unsigned got = 0;
	int ret = 0;

	if (!cqes || max == 0 || min > max)
		return -EINVAL;

	/* never wait for more than can come */
	want = min < impl->outstanding ? min : impl->outstanding;
	if (pend_count(impl) < want) {
		deadline = timeout_ns < 0 ? -1 : vos__now_ns() + timeout_ns;
		ret = progress(impl, deadline, enough_pending, &want);
	} else if (pend_count(impl) < max) {
		/* enough already, but take what else is ready (and cancel
		 * what is late: a program that takes completions with min 0
		 * still gets its deadlines) */
		reap(impl);
		expire_due(impl);
	}

	while (got < max && pend_count(impl) > 0) {
		cqes[got++] = impl->pend[impl->pend_head++ & impl->pend_mask];
		impl->outstanding--;
	}
	if (got > 0 || want == 0)
		return (int)got;
	return ret < 0 ? ret : -ETIME;
}

static bool sync_finished(struct vos__impl *impl, const void *arg)
{
	(void)arg;
	return impl->sync_done;
}

/*
 * Run one request to completion for a blocking wrapper.  Completions of
 * other requests that arrive meanwhile stay queued for vos_wait().  If a
 * signal interrupts the wait, the request is cancelled: the wrapper then
 * returns -EINTR if the cancel won, or the result if the request finished
 * first, like an interrupted system call.
 */
static int64_t call_impl(struct vos__impl *impl, struct vos_req *req)
{
	struct vos_req staged;
	int64_t res = 0;
	uint32_t tag;
	int ret, err = check(impl, req), gone;

	/* (a call refused by its arguments closes nothing) */
	if (err == 0 && impl->mfd && (gone = vos__op_closes_fd(req)) >= 0)
		vos__close_ends_multishot(impl, gone);
	if (impl->outstanding >= impl->depth)
		return -EBUSY;
	impl->sync_done = false;
	if (!stage(impl, req, err, VOS__SLOT_SYNC, &staged, &res))
		return res;
	tag = (uint32_t)staged.user_data;
	if (flush(impl, &staged, 1) != 1)
		return -EBUSY;

	ret = progress(impl, -1, sync_finished, NULL);
	if (ret == -EINTR && !impl->sync_done) {
		bool cancelled = false;

		if (impl->outstanding < impl->depth) {
			struct vos_req c;

			vos_prep_cancel(&c, 0);
			c.off = tag;
			c.user_data = tag_take(impl, 0, VOS__SLOT_INTERNAL,
					       VOS_NO_DEADLINE);
			impl->outstanding++;
			cancelled = flush(impl, &c, 1) == 1;
		}
		/* the request itself still completes: wait for it */
		while (!impl->sync_done)
			progress(impl, -1, sync_finished, NULL);
		if (cancelled && impl->sync_res == -ECANCELED)
			return -EINTR;
	} else if (ret < 0 && !impl->sync_done) {
		/* the transport failed us: give up on the request, and make
		 * sure its completion, if it ever comes, is dropped rather than
		 * taken for the result of a later call */
		impl->slots[tag].state = VOS__SLOT_INTERNAL;
		return ret;
	}
	return impl->sync_res;
}

/*
 * The entry points: each tells the transport it is awake (if vos_ctx_fd()
 * had readied it to sleep) before it touches it, and arms the context's fd
 * again before it returns (ctx_fd.c).
 */
static inline void enter(struct vos__impl *impl)
{
	if (impl->cfd_armed)
		vos__cfd_awake(impl);
}

static inline void leave(struct vos__impl *impl)
{
	if (impl->cfd_ep >= 0)
		vos__cfd_arm(impl);
}

int vos_submit(struct vos_ctx *ctx, const struct vos_req *reqs, unsigned n)
{
	struct vos__impl *impl;
	int ret = vos__impl_get(ctx, &impl);

	if (ret < 0)
		return ret;
	enter(impl);
	ret = submit_impl(impl, reqs, n);
	leave(impl);
	return ret;
}

int vos_wait(struct vos_ctx *ctx, struct vos_cqe *cqes, unsigned max,
	     unsigned min, int64_t timeout_ns)
{
	struct vos__impl *impl;
	int ret = vos__impl_get(ctx, &impl);

	if (ret < 0)
		return ret;
	enter(impl);
	ret = wait_impl(impl, cqes, max, min, timeout_ns);
	leave(impl);
	return ret;
}

int64_t vos__call(struct vos_ctx *ctx, struct vos_req *req)
{
	struct vos__impl *impl;
	int64_t ret;
	int r = vos__impl_get(ctx, &impl);

	if (r < 0)
		return r;
	enter(impl);
	ret = call_impl(impl, req);
	leave(impl);
	return ret;
}

void vos__reap_now(struct vos__impl *impl)
{
	reap(impl);
	expire_due(impl);
}

int vos_cancel(struct vos_ctx *ctx, uint64_t user_data)
{
	struct vos_req r;

	vos_prep_cancel(&r, user_data);
	return vos__call(ctx, &r);
}

/* ---- blocking wrappers ------------------------------------------------ */

#define LEN_OK(len) ((len) <= VOS_MAX_RW_LEN)

/* The top of user space, where the kernel's access_ok ends (x86-64 with
 * 4-level page tables; other 64-bit machines: 48 bits). */
#if defined(__x86_64__)
#define USER_TOP 0x00007ffffffff000ull
#else
#define USER_TOP 0x0001000000000000ull
#endif

/* A byte count as read(2) and write(2) take it (a request's len is 32
 * bits): true, and *len clamped to MAX_RW_COUNT (VOS_MAX_RW_LEN), as the
 * kernel clamps it; false if [buf, buf + len) cannot lie in user space
 * (a length above SSIZE_MAX, or past the top): the kernel then says
 * -EFAULT, after the fd's own errors (rw_fault). */
static bool rw_len(const void *buf, size_t *len)
{
	uintptr_t a = (uintptr_t)buf;

	if (*len > SSIZE_MAX || *len > UINTPTR_MAX - a || a + *len > USER_TOP)
		return false;
	if (*len > VOS_MAX_RW_LEN)
		*len = VOS_MAX_RW_LEN;
	return true;
}

/* What vfs_read and vfs_write say before they look at the buffer: -EBADF
 * for an fd that is not open, or not open for this (an O_PATH one
 * neither); then -EFAULT for the range. */
static ssize_t rw_fault(struct vos_ctx *ctx, int fd, bool write)
{
	int fl = vos_fcntl(ctx, fd, F_GETFL, 0);

	if (fl < 0)
		return fl;
	if ((fl & O_PATH) ||
	    (fl & O_ACCMODE) == (write ? O_RDONLY : O_WRONLY))
		return -EBADF;
	return -EFAULT;
}

int vos_nop(struct vos_ctx *ctx)
{
	struct vos_req r;

	vos_prep_nop(&r);
	return vos__call(ctx, &r);
}

int vos_openat(struct vos_ctx *ctx, int dirfd, const char *path, int flags,
	       mode_t mode)
{
	struct vos_req r;

	vos_prep_openat(&r, dirfd, path, flags, mode);
	return vos__call(ctx, &r);
}

int vos_close(struct vos_ctx *ctx, int fd)
{
	struct vos_req r;

	vos_prep_close(&r, fd);
	return vos__call(ctx, &r);
}

ssize_t vos_read(struct vos_ctx *ctx, int fd, void *buf, size_t len)
{
	struct vos_req r;

	if (!rw_len(buf, &len))
		return rw_fault(ctx, fd, false);
	vos_prep_read(&r, fd, buf, (uint32_t)len);
	return vos__call(ctx, &r);
}

ssize_t vos_write(struct vos_ctx *ctx, int fd, const void *buf, size_t len)
{
	struct vos_req r;

	if (!rw_len(buf, &len))
		return rw_fault(ctx, fd, true);
	vos_prep_write(&r, fd, buf, (uint32_t)len);
	return vos__call(ctx, &r);
}

ssize_t vos_pread(struct vos_ctx *ctx, int fd, void *buf, size_t len,
		  off_t off)
{
	struct vos_req r;

	if (off < 0)
		return -EINVAL; /* before the fd, as pread64(2) */
	if (!rw_len(buf, &len))
		return rw_fault(ctx, fd, false);
	vos_prep_pread(&r, fd, buf, (uint32_t)len, (uint64_t)off);
	return vos__call(ctx, &r);
}

ssize_t vos_pwrite(struct vos_ctx *ctx, int fd, const void *buf, size_t len,
		   off_t off)
{
	struct vos_req r;

	if (off < 0)
		return -EINVAL;
	if (!rw_len(buf, &len))
		return rw_fault(ctx, fd, true);
	vos_prep_pwrite(&r, fd, buf, (uint32_t)len, (uint64_t)off);
	return vos__call(ctx, &r);
}

ssize_t vos_readv(struct vos_ctx *ctx, int fd, const struct iovec *iov,
		  int iovcnt, off_t off)
{
	struct vos_req r;

	if (iovcnt < 0 || off < -1)
		return -EINVAL; /* as preadv(2) says for a negative offset */
	vos_prep_readv(&r, fd, iov, (unsigned)iovcnt,
		       off == -1 ? VOS_OFF_CURRENT : (uint64_t)off);
	return vos__call(ctx, &r);
}

ssize_t vos_writev(struct vos_ctx *ctx, int fd, const struct iovec *iov,
		   int iovcnt, off_t off)
{
	struct vos_req r;

	if (iovcnt < 0 || off < -1)
		return -EINVAL;
	vos_prep_writev(&r, fd, iov, (unsigned)iovcnt,
			off == -1 ? VOS_OFF_CURRENT : (uint64_t)off);
	return vos__call(ctx, &r);
}

ssize_t vos_preadv2(struct vos_ctx *ctx, int fd, const struct iovec *iov,
		    int iovcnt, off_t off, int flags)
{
	struct vos_req r;

	if (iovcnt < 0 || off < -1)
		return -EINVAL;
	vos_prep_readv2(&r, fd, iov, (unsigned)iovcnt,
			off == -1 ? VOS_OFF_CURRENT : (uint64_t)off, flags);
	return vos__call(ctx, &r);
}

ssize_t vos_pwritev2(struct vos_ctx *ctx, int fd, const struct iovec *iov,
		     int iovcnt, off_t off, int flags)
{
	struct vos_req r;

	if (iovcnt < 0 || off < -1)
		return -EINVAL;
	vos_prep_writev2(&r, fd, iov, (unsigned)iovcnt,
			 off == -1 ? VOS_OFF_CURRENT : (uint64_t)off, flags);
	return vos__call(ctx, &r);
}

int vos_fsync(struct vos_ctx *ctx, int fd)
{
	struct vos_req r;

	vos_prep_fsync(&r, fd);
	return vos__call(ctx, &r);
}

int vos_fdatasync(struct vos_ctx *ctx, int fd)
{
	struct vos_req r;

	vos_prep_fdatasync(&r, fd);
	return vos__call(ctx, &r);
}

int vos_statx(struct vos_ctx *ctx, int dirfd, const char *path, int flags,
	      unsigned mask, struct statx *stx)
{
	struct vos_req r;

	vos_prep_statx(&r, dirfd, path, flags, mask, stx);
	return vos__call(ctx, &r);
}

ssize_t vos_getdents(struct vos_ctx *ctx, int fd, void *buf, size_t len)
{
	struct vos_req r;

	if (!LEN_OK(len))
		return -EINVAL;
	vos_prep_getdents(&r, fd, buf, (uint32_t)len);
	return vos__call(ctx, &r);
}

int vos_ftruncate(struct vos_ctx *ctx, int fd, off_t length)
{
	struct vos_req r;

	if (length < 0)
		return -EINVAL;
	vos_prep_ftruncate(&r, fd, (uint64_t)length);
	return vos__call(ctx, &r);
}

int vos_fallocate(struct vos_ctx *ctx, int fd, int mode, off_t off,
		  off_t len)
{
	struct vos_req r;

	/* a negative offset or a length <= 0 is the kernel's -EINVAL, after
	 * its -EBADF: it goes as it came */
	vos_prep_fallocate(&r, fd, mode, (uint64_t)off, (uint64_t)len);
	return vos__call(ctx, &r);
}

int vos_unlinkat(struct vos_ctx *ctx, int dirfd, const char *path, int flags)
{
	struct vos_req r;

	vos_prep_unlinkat(&r, dirfd, path, flags);
	return vos__call(ctx, &r);
}

int vos_mkdirat(struct vos_ctx *ctx, int dirfd, const char *path,
		mode_t mode)
{
	struct vos_req r;

	vos_prep_mkdirat(&r, dirfd, path, mode);
	return vos__call(ctx, &r);
}

off_t vos_lseek(struct vos_ctx *ctx, int fd, off_t offset, int whence)
{
	struct vos_req r;

	vos_prep_lseek(&r, fd, (int64_t)offset, whence);
	return (off_t)vos__call(ctx, &r);
}

int vos_fchmodat(struct vos_ctx *ctx, int dirfd, const char *path,
		 mode_t mode, int flags)
{
	struct vos_req r;

	vos_prep_fchmodat(&r, dirfd, path, mode, flags);
	return (int)vos__call(ctx, &r);
}

int vos_fchownat(struct vos_ctx *ctx, int dirfd, const char *path,
		 uid_t owner, gid_t group, int flags)
{
	struct vos_req r;

	vos_prep_fchownat(&r, dirfd, path, owner, group, flags);
	return (int)vos__call(ctx, &r);
}

int vos_faccessat(struct vos_ctx *ctx, int dirfd, const char *path, int mode,
		  int flags)
{
	struct vos_req r;

	vos_prep_faccessat(&r, dirfd, path, mode, flags);
	return (int)vos__call(ctx, &r);
}

int vos_linkat(struct vos_ctx *ctx, int olddirfd, const char *oldpath,
	       int newdirfd, const char *newpath, int flags)
{
	struct vos_req r;

	vos_prep_linkat(&r, olddirfd, oldpath, newdirfd, newpath, flags);
	return (int)vos__call(ctx, &r);
}

int vos_symlinkat(struct vos_ctx *ctx, const char *target, int newdirfd,
		  const char *linkpath)
{
	struct vos_req r;

	vos_prep_symlinkat(&r, target, newdirfd, linkpath);
	return (int)vos__call(ctx, &r);
}

ssize_t vos_readlinkat(struct vos_ctx *ctx, int dirfd, const char *path,
		       char *buf, size_t bufsiz)
{
	struct vos_req r;

	/* the kernel takes bufsiz as an int (its low 32 bits): <= 0 is
	 * -EINVAL, checked with the request */
	vos_prep_readlinkat(&r, dirfd, path, buf, (uint32_t)bufsiz);
	return vos__call(ctx, &r);
}

int vos_utimensat(struct vos_ctx *ctx, int dirfd, const char *path,
		  const struct timespec *times, int flags)
{
	struct vos_req r;

	vos_prep_utimensat(&r, dirfd, path, times, flags);
	return (int)vos__call(ctx, &r);
}

int vos_futimens(struct vos_ctx *ctx, int fd, const struct timespec *times)
{
	/* glibc's: utimensat(fd, NULL, times, 0) */
	return vos_utimensat(ctx, fd, NULL, times, 0);
}

int vos_mknodat(struct vos_ctx *ctx, int dirfd, const char *path, mode_t mode,
		dev_t dev)
{
	struct vos_req r;

	vos_prep_mknodat(&r, dirfd, path, mode, dev);
	return (int)vos__call(ctx, &r);
}

int vos_truncate(struct vos_ctx *ctx, const char *path, off_t length)
{
	struct vos_req r;

	vos_prep_truncate(&r, path, (int64_t)length);
	return (int)vos__call(ctx, &r);
}

int vos_fadvise(struct vos_ctx *ctx, int fd, off_t off, off_t len, int advice)
{
	struct vos_req r;

	vos_prep_fadvise(&r, fd, (int64_t)off, (int64_t)len, advice);
	return (int)vos__call(ctx, &r);
}

int vos_sync_file_range(struct vos_ctx *ctx, int fd, off_t off, off_t nbytes,
			unsigned flags)
{
	struct vos_req r;

	vos_prep_sync_file_range(&r, fd, (int64_t)off, (int64_t)nbytes, flags);
	return (int)vos__call(ctx, &r);
}

int vos_syncfs(struct vos_ctx *ctx, int fd)
{
	struct vos_req r;

	vos_prep_syncfs(&r, fd);
	return (int)vos__call(ctx, &r);
}

int vos_statfs(struct vos_ctx *ctx, const char *path, struct statfs *buf)
{
	struct vos_req r;

	vos_prep_statfs(&r, path, buf);
	return (int)vos__call(ctx, &r);
}

int vos_fstatfs(struct vos_ctx *ctx, int fd, struct statfs *buf)
{
	struct vos_req r;

	vos_prep_fstatfs(&r, fd, buf);
	return (int)vos__call(ctx, &r);
}

int vos_renameat(struct vos_ctx *ctx, int olddirfd, const char *oldpath,
		 int newdirfd, const char *newpath, unsigned flags)
{
	struct vos_req r;

	vos_prep_renameat(&r, olddirfd, oldpath, newdirfd, newpath, flags);
	return vos__call(ctx, &r);
}

int vos_fcntl(struct vos_ctx *ctx, int fd, int cmd, long arg)
{
	struct vos_req r;

	vos_prep_fcntl(&r, fd, cmd, arg);
	return vos__call(ctx, &r);
}

int vos_fcntl_lock(struct vos_ctx *ctx, int fd, int cmd, struct flock *lock)
{
	struct vos_req r;

	vos_prep_fcntl_lock(&r, fd, cmd, lock);
	return vos__call(ctx, &r);
}

int vos_ioctl(struct vos_ctx *ctx, int fd, unsigned long request, int *argp)
{
	struct vos_req r;

	vos_prep_ioctl(&r, fd, request, argp);
	return vos__call(ctx, &r);
}

int vos_socket(struct vos_ctx *ctx, int domain, int type, int protocol)
{
	struct vos_req r;

	vos_prep_socket(&r, domain, type, protocol);
	return vos__call(ctx, &r);
}

int vos_pipe2(struct vos_ctx *ctx, int fds[2], int flags)
{
	struct vos_req r;

	vos_prep_pipe2(&r, fds, flags);
	return vos__call(ctx, &r);
}

int vos_socketpair(struct vos_ctx *ctx, int domain, int type, int protocol,
		   int sv[2])
{
	struct vos_req r;

	vos_prep_socketpair(&r, domain, type, protocol, sv);
	return vos__call(ctx, &r);
}

int vos_openat2(struct vos_ctx *ctx, int dirfd, const char *path,
		const struct open_how *how, size_t size)
{
	struct vos_req r;

	vos_prep_openat2(&r, dirfd, path, how, size);
	return vos__call(ctx, &r);
}

int vos_dup2(struct vos_ctx *ctx, int oldfd, int newfd)
{
	struct vos_req r;

	vos_prep_dup2(&r, oldfd, newfd);
	return vos__call(ctx, &r);
}

int vos_dup3(struct vos_ctx *ctx, int oldfd, int newfd, int flags)
{
	struct vos_req r;

	vos_prep_dup3(&r, oldfd, newfd, flags);
	return vos__call(ctx, &r);
}

ssize_t vos_copy_file_range(struct vos_ctx *ctx, int fd_in, int64_t *off_in,
			    int fd_out, int64_t *off_out, size_t len,
			    unsigned flags)
{
	struct vos_req r;

	vos_prep_copy_file_range(&r, fd_in, off_in, fd_out, off_out, len,
				 flags);
	return vos__call(ctx, &r);
}

ssize_t vos_sendfile(struct vos_ctx *ctx, int out_fd, int in_fd,
		     int64_t *offset, size_t count)
{
	struct vos_req r;

	vos_prep_sendfile(&r, out_fd, in_fd, offset, count);
	return vos__call(ctx, &r);
}

ssize_t vos_splice(struct vos_ctx *ctx, int fd_in, int64_t *off_in,
		   int fd_out, int64_t *off_out, size_t len, unsigned flags)
{
	struct vos_req r;

	vos_prep_splice(&r, fd_in, off_in, fd_out, off_out, len, flags);
	return vos__call(ctx, &r);
}

int vos_bind(struct vos_ctx *ctx, int fd, const struct sockaddr *addr,
	     socklen_t addrlen)
{
	struct vos_req r;

	vos_prep_bind(&r, fd, addr, addrlen);
	return vos__call(ctx, &r);
}

int vos_listen(struct vos_ctx *ctx, int fd, int backlog)
{
	struct vos_req r;

	vos_prep_listen(&r, fd, backlog);
	return vos__call(ctx, &r);
}

int vos_accept(struct vos_ctx *ctx, int fd, struct sockaddr *addr,
	       socklen_t *addrlen, int flags)
{
	struct vos_req r;

	vos_prep_accept(&r, fd, addr, addrlen, flags);
	return vos__call(ctx, &r);
}

int vos_connect(struct vos_ctx *ctx, int fd, const struct sockaddr *addr,
		socklen_t addrlen)
{
	struct vos_req r;

	vos_prep_connect(&r, fd, addr, addrlen);
	return vos__call(ctx, &r);
}

int vos_shutdown(struct vos_ctx *ctx, int fd, int how)
{
	struct vos_req r;

	vos_prep_shutdown(&r, fd, how);
	return vos__call(ctx, &r);
}

ssize_t vos_send(struct vos_ctx *ctx, int fd, const void *buf, size_t len,
		 int flags)
{
	struct vos_req r;

	if (len > INT_MAX)
		len = INT_MAX; /* as sendto(2) clamps it */
	vos_prep_send(&r, fd, buf, (uint32_t)len, flags);
	return vos__call(ctx, &r);
}

ssize_t vos_recv(struct vos_ctx *ctx, int fd, void *buf, size_t len,
		 int flags)
{
	struct vos_req r;

	if (len > INT_MAX)
		len = INT_MAX; /* as recvfrom(2) clamps it */
	vos_prep_recv(&r, fd, buf, (uint32_t)len, flags);
	return vos__call(ctx, &r);
}

ssize_t vos_sendmsg(struct vos_ctx *ctx, int fd, const struct msghdr *msg,
		    int flags)
{
	struct vos_req r;

	vos_prep_sendmsg(&r, fd, msg, flags);
	return vos__call(ctx, &r);
}

ssize_t vos_recvmsg(struct vos_ctx *ctx, int fd, struct msghdr *msg,
		    int flags)
{
	struct vos_req r;

	vos_prep_recvmsg(&r, fd, msg, flags);
	return vos__call(ctx, &r);
}

int vos_setsockopt(struct vos_ctx *ctx, int fd, int level, int optname,
		   const void *optval, socklen_t optlen)
{
	struct vos_req r;

	vos_prep_setsockopt(&r, fd, level, optname, optval, optlen);
	return vos__call(ctx, &r);
}

int vos_getsockopt(struct vos_ctx *ctx, int fd, int level, int optname,
		   void *optval, socklen_t *optlen)
{
	struct vos_req r;

	vos_prep_getsockopt(&r, fd, level, optname, optval, optlen);
	return vos__call(ctx, &r);
}

int vos_getsockname(struct vos_ctx *ctx, int fd, struct sockaddr *addr,
		    socklen_t *addrlen)
{
	struct vos_req r;

	vos_prep_getsockname(&r, fd, addr, addrlen);
	return vos__call(ctx, &r);
}

int vos_getpeername(struct vos_ctx *ctx, int fd, struct sockaddr *addr,
		    socklen_t *addrlen)
{
	struct vos_req r;

	vos_prep_getpeername(&r, fd, addr, addrlen);
	return vos__call(ctx, &r);
}

int vos_poll(struct vos_ctx *ctx, int fd, short events)
{
	struct vos_req r;

	vos_prep_poll(&r, fd, events);
	return vos__call(ctx, &r);
}

int vos_sleep(struct vos_ctx *ctx, uint64_t ns)
{
	struct vos_req r;

	vos_prep_timeout(&r, ns);
	return vos__call(ctx, &r);
}
