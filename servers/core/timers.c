/*
 * timers.c - TIMEOUT requests, kept by their worker in a binary heap
 * (soonest first) instead of in the engine: a client's long timers take
 * no engine slot that running requests need.  They count against the
 * client's and its uid's requests in flight like any other.  Worker
 * thread only.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "server.h"

static void put(struct srv_worker *w, uint32_t i, struct srv_req *q)
{
	w->heap[i] = q;
	q->heap_idx = i;
}

static void up(struct srv_worker *w, uint32_t i)
{
	struct srv_req *q = w->heap[i];

	while (i > 0) {
		uint32_t p = (i - 1) / 2;

		if (w->heap[p]->expires <= q->expires)
			break;
		put(w, i, w->heap[p]);
		i = p;
	}
	put(w, i, q);
}

static void down(struct srv_worker *w, uint32_t i)
{
	struct srv_req *q = w->heap[i];

	for (;;) {
		uint32_t l = 2 * i + 1, m = l;

		if (l >= w->nheap)
			break;
		if (l + 1 < w->nheap &&
		    w->heap[l + 1]->expires < w->heap[l]->expires)
			m = l + 1;
		if (w->heap[m]->expires >= q->expires)
			break;
		put(w, i, w->heap[m]);
		i = m;
	}
	put(w, i, q);
}

static void remove_at(struct srv_worker *w, uint32_t i)
{
	struct srv_req *last = w->heap[--w->nheap];

	if (i == w->nheap)
		return;
	put(w, i, last);
	up(w, i);
	down(w, last->heap_idx);
}

int srv_timer_add(struct srv_worker *w, struct srv_req *q)
{
	uint64_t now = (uint64_t)srv_now_ns();

	if (w->nheap == w->heap_cap) {
		uint32_t cap = w->heap_cap ? w->heap_cap * 2 : 64;
		struct srv_req **n = realloc(w->heap, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		w->heap = n;
		w->heap_cap = cap;
	}
	q->expires = q->d.r.off > UINT64_MAX - now ? UINT64_MAX
						   : now + q->d.r.off;
	q->where = SRV_AT_TIMER;
	q->c->timers++;
	put(w, w->nheap++, q);
	up(w, w->nheap - 1);
	return 0;
}

bool srv_timer_cancel(struct srv_worker *w, struct srv_req *q)
{
	if (q->where != SRV_AT_TIMER)
		return false;
	remove_at(w, q->heap_idx);
	q->where = SRV_AT_NONE;
	q->c->timers--;
	return true;
}

int64_t srv_timers_run(struct srv_worker *w)
{
	uint64_t now;

	if (!w->nheap)
		return -1;
	now = (uint64_t)srv_now_ns();
	while (w->nheap && w->heap[0]->expires <= now) {
		struct srv_req *q = w->heap[0];

		remove_at(w, 0);
		q->where = SRV_AT_NONE;
		q->c->timers--;
		srv_finish(w, q, 0);
	}
	if (!w->nheap)
		return -1;
	return (int64_t)(w->heap[0]->expires - now);
}

void srv_timers_free(struct srv_worker *w)
{
	free(w->heap);
	w->heap = NULL;
	w->nheap = w->heap_cap = 0;
}
