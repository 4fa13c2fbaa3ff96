/*
 * request_queue.h - requests an event loop prepares while it handles one
 * round of completions, submitted together at the end of the round: one
 * vos_submit() for many requests.
 *
 * Size it to the context's queue depth: an event loop that keeps at most one
 * request in flight per object (connection, listener, ...) never holds more
 * than that, so rq_add() treats overflow as a bug in the caller.
 */
#ifndef VOS_EXAMPLES_REQUEST_QUEUE_H
#define VOS_EXAMPLES_REQUEST_QUEUE_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <virtuos/virtuos.h>

struct request_queue {
	struct vos_req *reqs;
	unsigned n, cap;
};

/* 0, or -ENOMEM. */
static inline int rq_init(struct request_queue *q, unsigned cap)
{
	q->reqs = calloc(cap, sizeof(*q->reqs));
	q->n = 0;
	q->cap = cap;
	return q->reqs ? 0 : -ENOMEM;
}

static inline void rq_free(struct request_queue *q)
{
	free(q->reqs);
	q->reqs = NULL;
}

/* Queue a prepared request with this user_data. */
static inline void rq_add(struct request_queue *q, struct vos_req *r,
			  uint64_t user_data)
{
	if (q->n == q->cap) {
		fprintf(stderr, "internal error: more requests than the "
			"queue depth\n");
		abort();
	}
	r->user_data = user_data;
	q->reqs[q->n++] = *r;
}

/* Submit what is queued; what the context did not take stays queued.
 * Returns how many were taken, or -errno. */
static inline int rq_submit(struct vos_ctx *ctx, struct request_queue *q)
{
	int ret;

	if (q->n == 0)
		return 0;
	ret = vos_submit(ctx, q->reqs, q->n);
	if (ret == -EBUSY)
		return 0; /* full: reap, then try again */
	if (ret < 0)
		return ret;
	q->n -= (unsigned)ret;
	memmove(q->reqs, q->reqs + ret, q->n * sizeof(*q->reqs));
	return ret;
}

#endif
