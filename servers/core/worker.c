/*
 * worker.c - the worker loop: drain the clients' request rings, run the
 * requests, post completions; spin while there is work about, then sleep.
 *
 * Each worker owns a set of clients and an engine: a vos_ctx on the
 * io_uring-local transport, which runs each request the fastest way it
 * knows (a direct call, RWF_NOWAIT, io_uring, or a pool thread).  A
 * worker never blocks while it has work: requests that wait (a recv with
 * no data) wait in the engine, timers wait in the worker's heap
 * (timers.c), calls that may block in the kernel run on the slow pool
 * (slow.c).
 *
 * Sleeping: after spin_us with nothing to do (and only while fewer than
 * one worker per CPU spin), a worker sets NEED_WAKEUP in each client's
 * header, looks at every ring once more (ring_server.c, the sleeper's
 * half of the handshake), and then blocks in its engine, where a poll on
 * each client's doorbell and on its own wake eventfd is armed, bounded by
 * its next timer.
 *
 * Bounds (none of them can be turned against another client):
 *   - a client may have at most --max-inflight requests running, and all
 *     clients of one uid on this worker --max-inflight-uid (the engine is
 *     the worker's; the counts are the worker's own, nothing shared per
 *     request); the rest wait in the ring;
 *   - a request that waits for a peer or for readiness in the engine (a
 *     recv, an accept, a poll: anything on a socket) is *parked*, not
 *     running: it costs an engine slot and the client's own tag, no
 *     worker time, and a server keeps thousands posted.  Counting them
 *     as running let posted recvs fill --max-inflight and the sends
 *     behind them never ran (a deadlock the client could not see).
 *     Parked requests are bounded per uid on this worker instead
 *     (--max-parked-uid), and once the worker has SRV_PARKED_SOFT
 *     parked, each uid with clients here gets only its share of that:
 *     parked requests stay below half of the engine (4 x the largest
 *     ring) whatever any number of uids do, and a uid's clients are held
 *     back (their requests wait in their rings) only when that uid is
 *     past its own bound or share;
 *   - the engine keeps a reserve: one slot per client for its doorbell
 *     poll, CANCEL_RESERVE for cancels, one for the wake poll; requests
 *     are taken only while the reserve stays free, so a teardown's cancels
 *     and the poll that wakes a worker can always be submitted;
 *   - each pass takes at most BATCH entries per client.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <semaphore.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"
#include "opdef.h"
#include "server.h"
#include "spin.h"

#define BATCH 32
#define SPIN_CLOCK_EVERY 16
#define ENG_DEPTH SRV_ENG_DEPTH
#define CANCEL_RESERVE 64u
#define RETRY_NS 1000000      /* a poll could not be armed: look again */
#define INTERRUPT_NS 20000000 /* re-interrupt slow calls of a teardown */
/* A teardown shuts the client's sockets down, which ends its parked
 * requests by itself; those still there after this long are cancelled. */
#define PARKED_GRACE_NS 50000000
#define CANCEL_BATCH 64
#define UD_WAKE ((uint64_t)2)
#define UD_CANCEL ((uint64_t)4)
/* a client's doorbell poll: the client's address with bit 0 set */
#define UD_POLL(c) ((uint64_t)(uintptr_t)(c) | 1u)

int64_t srv_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void drain_efd(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: already drained */
	}
}

static uint64_t rng_next(struct srv_worker *w)
{
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return w->rng;
}

/* Engine slots that must stay free: a doorbell poll per client, cancels,
 * the wake poll. */
static uint32_t reserve(const struct srv_worker *w)
{
	return atomic_load_explicit(&w->nclients, memory_order_relaxed) +
	       CANCEL_RESERVE + 1;
}

/* Whether a uid with `more` requests about to park is within its share
 * of the worker's parked requests: anything goes while the worker has
 * fewer than SRV_PARKED_SOFT parked; past that, each uid with clients
 * here gets SRV_PARKED_SOFT / their number.  So a few uids that park
 * all they may (--max-parked-uid each) leave the engine room for the
 * others, whatever they do. */
static bool parked_share_ok(const struct srv_worker *w,
			    const struct srv_wuid *u, unsigned more)
{
	if (w->parked + more < SRV_PARKED_SOFT)
		return true;
	return u->parked + more < SRV_PARKED_SOFT / (w->nuids ? w->nuids : 1);
}

/* Whether c's requests may be taken now, as far as c itself is
 * concerned: it is not going, and below its own bound and its uid's on
 * this worker. */
static bool can_take(const struct srv_client *c)
{
	return !c->cancelling && !c->broken &&
	       c->inflight < srv.cfg.max_inflight &&
	       c->wuid->inflight < srv.cfg.max_inflight_uid &&
	       c->wuid->parked < srv.cfg.max_parked_uid &&
	       parked_share_ok(c->w, c->wuid, 0);
}

/* Whether q, taken by the engine, waits there for a peer or readiness
 * rather than runs: anything on a socket, and polls. */
static bool parks(const struct srv_client *c, const struct srv_req *q)
{
	return q->op == VOS_OP_POLL || (q->fdi >= 0 && c->fds[q->fdi].socket);
}

static void stat_counts(struct srv_client *c)
{
	/* written by this worker only: plain stores the listener may read at
	 * any time (no read-modify-write per request) */
	atomic_store_explicit(&c->stat_inflight, c->inflight,
			      memory_order_relaxed);
	atomic_store_explicit(&c->stat_parked, c->parked,
			      memory_order_relaxed);
}

/* q went to the engine to wait there: count it as parked. */
static void park(struct srv_client *c, struct srv_req *q)
{
	q->parked = true;
	c->inflight--;
	c->wuid->inflight--;
	c->parked++;
	c->wuid->parked++;
	c->w->parked++;
}

/* q's wait is over (it completed or is being torn down): it counts as
 * running again until it is released (posting it may have to wait). */
static void unpark(struct srv_client *c, struct srv_req *q)
{
	if (!q->parked)
		return;
	q->parked = false;
	c->parked--;
	c->wuid->parked--;
	c->w->parked--;
	c->inflight++;
	c->wuid->inflight++;
}

/* For the sleeper: whether c has requests this worker could take now.
 * (A client held back by its uid's bound is looked at again when one of
 * that uid's requests completes: that happens on this worker too, and
 * wakes it.) */
static bool has_work(const struct srv_worker *w, struct srv_client *c)
{
	return can_take(c) && w->eng_out + reserve(w) < w->eng_depth &&
	       vos__rs_has_requests(&c->ring);
}

static void req_release(struct srv_client *c, struct srv_req *q)
{
	unpark(c, q);
	q->state = SRV_REQ_FREE;
	c->inflight--;
	c->wuid->inflight--;
	stat_counts(c);
	atomic_store_explicit(&c->stat_done, ++c->done, memory_order_relaxed);
}

static bool post(struct srv_worker *w, struct srv_client *c, uint32_t tag,
		 int64_t res)
{
	if (srv.cfg.fault_garbage) {
		/* fault injection: what a broken service might write */
		vos__rs_corrupt(&c->ring, rng_next(w), rng_next(w));
		return true;
	}
	return vos__rs_post(&c->ring, tag, res);
}

/* A request is done with result res: fix up fds and out-parameters, and
 * post its completion. */
void srv_finish(struct srv_worker *w, struct srv_req *q, int64_t res)
{
	struct srv_client *c = q->c;

	unpark(c, q);
	q->where = SRV_AT_NONE;
	if (res >= 0 && vos__op_makes_fd(&q->d.r)) {
		bool sock = vos__op_is_socket(q->op) ||
			    (q->fdi >= 0 && c->fds[q->fdi].socket);
		int idx;

		/* made by the engine or elsewhere (the slow pool): the engine
		 * knows nothing true about this number yet */
		vos_fd_forget(w->eng, (int)res);
		idx = c->cancelling ? -ECONNRESET :
		      srv_fd_install(c, (int)res, sock);

		if (idx < 0) {
			close((int)res);
		} else {
			if (q->fdi >= 0) { /* accept, dup: same kind */
				c->fds[idx].family = c->fds[q->fdi].family;
				c->fds[idx].type = c->fds[q->fdi].type;
			}
			if (q->fdi >= 0 && vos__op_has(q->op, VOS__OPF_NEWFD_DUP))
				c->fds[idx].desc = c->fds[q->fdi].desc;
			c->fds[idx].cloexec = vos__op_new_cloexec(&q->d.r);
			if (srv.svc->fd_made)
				srv.svc->fd_made(c, q, idx);
		}
		res = idx;
	} else if (res >= 0 && q->fdi >= 0 && vos__op_sets_fl(&q->d.r)) {
		/* O_NONBLOCK changed for this file and every dup of it: the
		 * engine must not route their calls by what it knew (the call
		 * ran directly, without it) */
		for (uint32_t i = 0; i < c->nfds_cap; i++)
			if (c->fds[i].real >= 0 &&
			    c->fds[i].desc == c->fds[q->fdi].desc)
				vos_fd_forget(w->eng, c->fds[i].real);
	}
	srv_fd_put(c, q->fdi);
	srv_fd_put(c, q->fdi2);
	q->fdi = q->fdi2 = -1;
	if (c->cancelling) {
		req_release(c, q);
		return;
	}
	vos__dreq_write_back(&c->ring.data, &q->d, res);
	if (!post(w, c, q->tag, res)) {
		q->state = SRV_REQ_UNPOSTED;
		q->res = res;
		c->unposted++;
		stat_counts(c);
		return;
	}
	req_release(c, q);
}

static void retry_unposted(struct srv_worker *w, struct srv_client *c)
{
	for (uint32_t t = 0; t < c->ring.g.entries && c->unposted; t++) {
		struct srv_req *q = &c->reqs[t];

		if (q->state != SRV_REQ_UNPOSTED)
			continue;
		if (!post(w, c, q->tag, q->res))
			return;
		c->unposted--;
		req_release(c, q);
	}
}

/* The client broke the protocol: drop it (the listener sees the control
 * connection close and marks it dying). */
static void client_broken(struct srv_client *c, const char *why)
{
	if (c->broken)
		return;
	c->broken = true;
	srv_log(0, "client %llu (pid %d uid %d) broke the protocol: %s; "
		"dropping it", (unsigned long long)c->id, (int)c->cred.pid,
		(int)c->cred.uid, why);
	shutdown(c->conn, SHUT_RDWR);
}

/* The client's doorbell hung up: it exited (its control connection is
 * closing too) or shut its end down.  Take no more of its requests and
 * make sure the listener sees it go. */
static void client_gone(struct srv_client *c)
{
	if (c->broken)
		return;
	c->broken = true;
	srv_log(2, "client %llu (pid %d): its doorbell hung up",
		(unsigned long long)c->id, (int)c->cred.pid);
	shutdown(c->conn, SHUT_RDWR);
}

static int map_one(struct srv_client *c, bool at, int32_t *fd, int32_t *held)
{
	int real;
	int ret;

	if (at && *fd == VOS_WIRE_FD_ROOT) {
		if (srv.svc->root_fd < 0)
			return -EOPNOTSUPP;
		*fd = srv.svc->root_fd;
		return 0;
	}
	ret = srv_fd_get(c, *fd, &real);
	if (ret < 0)
		return ret;
	*held = *fd;
	*fd = real;
	return 0;
}

/* Hand the staged batch to the engine; what it does not take fails. */
static void flush(struct srv_worker *w, struct srv_req **batch, unsigned *nb)
{
	struct vos_req rs[BATCH];
	int took;

	if (*nb == 0)
		return;
	for (unsigned i = 0; i < *nb; i++)
		rs[i] = batch[i]->d.r;
	took = vos_submit(w->eng, rs, *nb);
	if (took < 0)
		took = 0;
	for (unsigned i = 0; i < *nb; i++) {
		if ((int)i < took) {
			batch[i]->where = SRV_AT_ENGINE;
			w->eng_out++;
			if (parks(batch[i]->c, batch[i]))
				park(batch[i]->c, batch[i]);
		} else {
			srv_finish(w, batch[i], -EAGAIN);
		}
	}
	*nb = 0;
}

/* Submit engine cancels of targets[0..n) (their user_data), in one
 * submit.  Returns how many went in (the rest: next pass). */
static unsigned cancels_in_engine(struct srv_worker *w,
				  const uint64_t *targets, unsigned n)
{
	struct vos_req r[CANCEL_BATCH];
	unsigned room;
	int took;

	/* cancels may use the reserve's cancel part, never the doorbell
	 * polls' and the wake poll's (a teardown of a client with thousands
	 * parked cancels them a batch at a time) */
	if (w->eng_out + 1 + atomic_load_explicit(&w->nclients,
						  memory_order_relaxed) + 1 >=
	    w->eng_depth)
		return 0;
	room = w->eng_depth - 1 - w->eng_out - 1 -
	       atomic_load_explicit(&w->nclients, memory_order_relaxed);
	if (n > room)
		n = room;
	if (n > CANCEL_BATCH)
		n = CANCEL_BATCH;
	for (unsigned i = 0; i < n; i++) {
		vos_prep_cancel(&r[i], targets[i]);
		r[i].user_data = UD_CANCEL;
	}
	took = n ? vos_submit(w->eng, r, n) : 0;
	if (took < 0)
		took = 0;
	w->eng_out += (unsigned)took;
	return (unsigned)took;
}

/* Submit an engine cancel of target (its user_data).  false if the
 * engine has no room at all (try again next pass). */
static bool cancel_in_engine(struct srv_worker *w, uint64_t target)
{
	return cancels_in_engine(w, &target, 1) == 1;
}

/* A CANCEL from the client, for its request with tag target.  true if it
 * is to go to the engine (as a cancel of that request). */
static bool client_cancel(struct srv_worker *w, struct srv_client *c,
			  struct srv_req *q, uint64_t target)
{
	struct srv_req *t = target < c->ring.g.entries ? &c->reqs[target]
						       : NULL;

	if (!t || t == q || t->state != SRV_REQ_RUNNING) {
		srv_finish(w, q, -ENOENT);
		return false;
	}
	switch (t->where) {
	case SRV_AT_TIMER:
		srv_timer_cancel(w, t);
		srv_finish(w, t, -ECANCELED);
		srv_finish(w, q, 0);
		return false;
	case SRV_AT_SLOW:
		if (srv_slow_cancel(t)) {
			srv_finish(w, t, -ECANCELED);
			srv_finish(w, q, 0);
		} else {
			srv_finish(w, q, -EALREADY);
		}
		return false;
	case SRV_AT_ENGINE:
		q->d.r.off = (uint64_t)(uintptr_t)t;
		return true;
	default:
		srv_finish(w, q, -ENOENT);
		return false;
	}
}

/* Take requests from c's ring.  Returns how many. */
static unsigned drain(struct srv_worker *w, struct srv_client *c)
{
	struct srv_req *batch[BATCH];
	unsigned nb = 0, n = 0;

	if (!can_take(c))
		return 0;
	{
		/* buffer areas the listener mapped since the last pass
		 * (acquire: pairs with its release after the mapping) */
		uint64_t end = atomic_load_explicit(&c->data_end,
						    memory_order_acquire);

		vos__shared_grow(&c->ring.data, end);
	}
	while (n < BATCH && c->inflight < srv.cfg.max_inflight &&
	       w->eng_out + nb + reserve(w) < w->eng_depth) {
		const struct vos__opdef *d;
		struct vos_wire_req e;
		struct srv_req *q;
		int64_t res = 0;
		int ret;

		if (c->wuid->inflight >= srv.cfg.max_inflight_uid ||
		    c->wuid->parked + nb >= srv.cfg.max_parked_uid ||
		    !parked_share_ok(w, c->wuid, nb))
			break; /* its uid's share of this engine is taken */
		if (!vos__rs_take(&c->ring, &e))
			break; /* none (more) */
		n++;
		if (e.tag >= c->ring.g.entries ||
		    c->reqs[e.tag].state != SRV_REQ_FREE) {
			client_broken(c, "bad or busy tag");
			break;
		}
		q = &c->reqs[e.tag];
		q->c = c;
		q->tag = (uint32_t)e.tag;
		q->op = e.op;
		q->fdi = q->fdi2 = -1;
		q->where = SRV_AT_NONE;
		q->cancel_sent = false;
		q->parked = false;
		q->state = SRV_REQ_RUNNING;
		c->inflight++;
		c->wuid->inflight++;
		q->data = c->ring.data;
		ret = vos__dreq_decode(&c->ring.data, &e, &q->d);
		d = vos__opdef(e.op);
		if (ret < 0) {
			srv_finish(w, q, ret);
			continue;
		}
		switch (q->op) {
		case VOS_OP_CLOSE:
			srv_finish(w, q, srv_fd_close(c, q->d.r.fd));
			continue;
		case VOS_OP_CANCEL:
			flush(w, batch, &nb); /* the target may be staged */
			if (client_cancel(w, c, q, e.off))
				break; /* to the engine, below */
			continue;
		case VOS_OP_TIMEOUT:
			ret = srv_timer_add(w, q);
			if (ret < 0)
				srv_finish(w, q, ret);
			continue;
		default:
			if (d->flags & (VOS__OPF_FD | VOS__OPF_AT |
					VOS__OPF_FD2))
				ret = map_one(c, d->flags & VOS__OPF_AT,
					      &q->d.r.fd, &q->fdi);
			if (ret == 0 && (d->flags & (VOS__OPF_AT2 |
						     VOS__OPF_FD2)))
				ret = map_one(c, d->flags & VOS__OPF_AT2,
					      &q->d.r.fd2, &q->fdi2);
			if (ret == 0 && (d->flags & VOS__OPF_FD2)) {
				/* copy_file_range, sendfile, splice: may wait
				 * (a pipe, a socket) or take long (a large
				 * copy): the slow pool, under its bounds, where
				 * a cancel or the daemon's stop ends them */
				ret = srv_slow_push(q);
				if (ret < 0)
					srv_finish(w, q, ret);
				continue;
			}
			if (ret == 0 && q->op == VOS_OP_FCNTL &&
			    (q->d.r.op_flags == F_GETFD ||
			     q->d.r.op_flags == F_SETFD)) {
				/* the fd's flag, kept here (struct srv_fd) */
				srv_finish(w, q, srv_fd_fdflags(c, q->fdi,
								&q->d.r));
				continue;
			}
			if (ret == 0)
				ret = srv.svc->execute(c, q, &res);
			if (ret < 0 || ret == SRV_DONE) {
				srv_finish(w, q, ret < 0 ? ret : res);
				continue;
			}
			if (ret == SRV_SLOW) {
				ret = srv_slow_push(q);
				if (ret < 0)
					srv_finish(w, q, ret);
				continue;
			}
			if (q->op == VOS_OP_FCNTL_LOCK) {
				/* a wait on the slow pool (locks.c), under
				 * its own bounds, where SIGUSR1 stops it; a
				 * try or an unlock here, now: on the pool it
				 * could queue behind FIFO opens, and a lock
				 * it would release behind waits for it (on
				 * NFS or FUSE a try may wait for the file
				 * server: doc/semantics.md) */
				if (vos__lock_waits(q->d.r.op_flags)) {
					ret = srv_slow_push(q);
					if (ret < 0)
						srv_finish(w, q, ret);
				} else {
					srv_finish(w, q,
						   srv_lock_run(&q->d.r));
				}
				continue;
			}
			if (d->flags & VOS__OPF_DIRECT) {
				/* never waits (the op table says so): its
				 * system call, now, without the engine's round
				 * (what the engine would do for it anyway) */
				srv_finish(w, q, vos__exec(&q->d.r, false));
				continue;
			}
			break;
		}
		q->d.r.user_data = (uint64_t)(uintptr_t)q;
		batch[nb++] = q;
	}
	flush(w, batch, &nb);
	stat_counts(c);
	vos__rs_consumed(&c->ring);
	return n;
}

/* Publish posted completions; ring the doorbells of clients that sleep. */
static void publish(struct srv_worker *w)
{
	for (struct srv_client *c = w->clients; c; c = c->next)
		if (vos__rs_publish(&c->ring))
			srv.chan->notify(&c->offer);
}

static unsigned handle(struct srv_worker *w, const struct vos_cqe *e, int n)
{
	for (int i = 0; i < n; i++) {
		uint64_t ud = e[i].user_data;

		w->eng_out--;
		if (ud == UD_WAKE) {
			w->wake_armed = false;
			drain_efd(w->wake_efd);
		} else if (ud == UD_CANCEL) {
			/* the cancel's own completion */
		} else if (ud & 1) {
			struct srv_client *c = (void *)(uintptr_t)(ud & ~1ull);

			c->poll_armed = false;
			/* a client that closed or shut down its doorbell is
			 * gone (or hostile): either way, drop it */
			if (srv.chan->drain(&c->offer) < 0 && !c->cancelling)
				client_gone(c);
		} else {
			srv_finish(w, (struct srv_req *)(uintptr_t)ud, e[i].res);
		}
	}
	return (unsigned)(n > 0 ? n : 0);
}

static unsigned reap(struct srv_worker *w, int min, int64_t timeout)
{
	struct vos_cqe e[64];
	int n = vos_wait(w->eng, e, 64, (unsigned)min, timeout);

	return handle(w, e, n);
}

/* Tear down a client the listener gave up on, step by step: stop its
 * timers, interrupt its slow calls, cancel what runs in the engine (as
 * room allows; the reserve guarantees some), then free it once nothing
 * runs.  true when freed. */
static bool teardown(struct srv_worker *w, struct srv_client *c,
		     bool *waiting_slow)
{
	struct srv_req *batch[CANCEL_BATCH];
	uint64_t targets[CANCEL_BATCH];
	unsigned nb = 0;
	bool slow = false, soon = false, grace, full;

	if (!c->cancelling) {
		c->cancelling = true;
		c->teardown_ns = srv_now_ns();
		srv_fd_shutdown_all(c);
	}
	/* the shutdown ends the parked ones: cancels (a system call's work
	 * each) only for what it left */
	grace = srv_now_ns() - c->teardown_ns < PARKED_GRACE_NS;
	/* a pass over every tag only when it can do something: not while
	 * only parked requests wait for the shutdown, nor once they all have
	 * their cancels (a client with 16384 tags is torn down in hundreds
	 * of passes) */
	if (!c->inflight && (grace || c->cancels_done)) {
		if (grace)
			*waiting_slow = true; /* the grace ends within 20 ms */
		goto polls;
	}
	full = !grace;
	for (uint32_t t = 0; t < c->ring.g.entries && (c->inflight || c->parked);
	     t++) {
		struct srv_req *q = &c->reqs[t];

		if (q->state == SRV_REQ_UNPOSTED) {
			c->unposted--;
			req_release(c, q);
		} else if (q->state != SRV_REQ_RUNNING) {
			continue;
		} else if (q->where == SRV_AT_TIMER) {
			srv_timer_cancel(w, q);
			srv_finish(w, q, -ECANCELED);
		} else if (q->where == SRV_AT_SLOW) {
			slow = true;
		} else if (q->where == SRV_AT_ENGINE && !q->cancel_sent) {
			if (q->parked && grace) {
				soon = true; /* look again within 20 ms */
				continue;
			}
			batch[nb] = q;
			targets[nb++] = (uint64_t)(uintptr_t)q;
			if (nb == CANCEL_BATCH) {
				unsigned k = cancels_in_engine(w, targets, nb);

				for (unsigned i = 0; i < k; i++)
					batch[i]->cancel_sent = true;
				nb = 0;
				if (k < CANCEL_BATCH) {
					full = false;
					break; /* no room: next pass */
				}
			}
		}
	}
	if (nb) {
		unsigned k = cancels_in_engine(w, targets, nb);

		for (unsigned i = 0; i < k; i++)
			batch[i]->cancel_sent = true;
		full = full && k == nb;
	}
	if (full)
		c->cancels_done = true;
	if (slow) {
		srv_slow_interrupt(c);
		*waiting_slow = true;
	}
	if (soon)
		*waiting_slow = true; /* (a bounded sleep, nothing to interrupt) */
polls:
	if (c->poll_armed && !c->poll_cancel_sent)
		c->poll_cancel_sent = cancel_in_engine(w, UD_POLL(c));
	if (c->inflight || c->parked || c->poll_armed)
		return false;
	srv_log(1, "detach: client %llu pid %d uid %d (%llu requests)",
		(unsigned long long)c->id, (int)c->cred.pid, (int)c->cred.uid,
		(unsigned long long)atomic_load(&c->stat_done));
	if (--c->wuid->clients == 0)
		w->nuids--;
	srv_registry_remove(c);
	srv_give(&c->uid->clients);
	srv_client_free(c);
	atomic_fetch_sub(&w->nclients, 1);
	atomic_fetch_sub(&srv.nclients, 1);
	return true;
}

static bool arm_poll(struct srv_worker *w, int fd, uint64_t ud, bool *armed)
{
	struct vos_req r;

	if (*armed)
		return true;
	vos_prep_poll(&r, fd, POLLIN);
	r.user_data = ud;
	if (vos_submit(w->eng, &r, 1) != 1)
		return false;
	*armed = true;
	w->eng_out++;
	return true;
}

/* Nothing to do: sleep until a client or the listener kicks, the engine
 * completes something, or the next timer is due. */
static void sleep_now(struct srv_worker *w, int64_t timeout)
{
	struct srv_client *c;
	bool work, armed = true;

	/* the sleeper's half of the handshake: NEED_WAKEUP in every
	 * client's header, a fence, then a last look at every ring (the
	 * client's submit is the other half) */
	for (c = w->clients; c; c = c->next)
		vos__rs_sleep_begin(&c->ring);
	/* one fence for all of them, between the flags and the last looks
	 * (pairs with each client's fence after its puts: ring_server.h) */
	vos__peer_fence();
	/* a kick is consumed when the eventfd is drained, so what a kick
	 * announces is looked at again here, before sleeping */
	work = (atomic_load(&w->stop) && !w->clients) ||
	       atomic_load_explicit(&w->has_incoming, memory_order_relaxed) ||
	       atomic_load_explicit(&w->has_slow_done, memory_order_relaxed);
	for (c = w->clients; c && !work; c = c->next)
		work = (atomic_load(&c->dying) && !c->cancelling) ||
		       has_work(w, c);
	if (!work) {
		for (c = w->clients; c; c = c->next)
			if (can_take(c))
				armed &= arm_poll(w, c->offer.wait_fd,
						  UD_POLL(c), &c->poll_armed);
		armed &= arm_poll(w, w->wake_efd, UD_WAKE, &w->wake_armed);
		/* a poll the engine did not take would be a lost wake-up:
		 * look again soon instead */
		if (!armed && (timeout < 0 || timeout > RETRY_NS))
			timeout = RETRY_NS;
		reap(w, 1, timeout);
	}
	for (c = w->clients; c; c = c->next)
		vos__rs_sleep_end(&c->ring);
}

/* The worker's entry for uid (made on first use, kept: as many as there
 * are users).  Out of memory: a shared fallback entry that holds every
 * such uid to one bound together. */
static struct srv_wuid *worker_uid(struct srv_worker *w, uid_t uid)
{
	static __thread struct srv_wuid fallback;
	struct srv_wuid *u;

	for (u = w->wuids; u; u = u->next)
		if (u->uid == uid)
			return u;
	u = calloc(1, sizeof(*u));
	if (!u)
		return &fallback;
	u->uid = uid;
	u->next = w->wuids;
	w->wuids = u;
	return u;
}

static void take_incoming(struct srv_worker *w, unsigned *work)
{
	struct srv_client *c;

	/* a relaxed look first, the lock only when there are some (it is
	 * taken once per attach, not per pass) */
	if (!atomic_load_explicit(&w->has_incoming, memory_order_relaxed))
		return;
	pthread_mutex_lock(&w->lock);
	while ((c = w->incoming)) {
		w->incoming = c->next;
		c->next = w->clients;
		w->clients = c;
		c->wuid = worker_uid(w, c->cred.uid);
		if (c->wuid->clients++ == 0)
			w->nuids++;
		(*work)++;
	}
	atomic_store_explicit(&w->has_incoming, false, memory_order_relaxed);
	pthread_mutex_unlock(&w->lock);
}

static void *worker_main(struct srv_worker *w)
{
	int64_t spin_ns = (int64_t)srv.cfg.spin_us * 1000, spin_end = 0;
	int64_t yield_at = 0;
	unsigned idle = 0; /* passes without work since the last work */
	bool spinning = false;

	for (;;) {
		struct srv_client **pp, *c;
		unsigned work = 0;
		bool waiting_slow = false;
		int64_t next_timer;

		take_incoming(w, &work);
		if (atomic_load(&w->stop) && !w->clients)
			break;
		/* the common pass has neither: two loads */
		if (atomic_load_explicit(&w->has_slow_done,
					 memory_order_relaxed))
			srv_slow_reap(w);
		next_timer = w->nheap ? srv_timers_run(w) : -1;
		if (w->slow_cancelled) {
			/* a cancelled call may have missed its signal: again,
			 * every INTERRUPT_NS (not on every spin pass) */
			int64_t now = srv_now_ns();

			if (now >= w->resignal_at) {
				srv_slow_resignal(w);
				w->resignal_at = now + INTERRUPT_NS;
			}
			waiting_slow = true;
		}
		for (pp = &w->clients; (c = *pp);) {
			if (atomic_load(&c->dying)) {
				struct srv_client *next = c->next;

				if (teardown(w, c, &waiting_slow)) {
					*pp = next; /* c is freed */
					work++; /* look at stop before sleeping */
					continue;
				}
			} else {
				if (c->unposted)
					retry_unposted(w, c);
				work += drain(w, c);
			}
			pp = &c->next;
		}
		if (w->eng_out)
			work += reap(w, 0, 0);
		publish(w);
		if (work) {
			idle = 0; /* the spin budget starts again when idle */
			continue;
		}
		if (!spinning && spin_ns > 0 &&
		    atomic_fetch_add(&srv.spinners, 1) < srv.max_spinners) {
			spinning = true;
		} else if (!spinning && spin_ns > 0) {
			atomic_fetch_sub(&srv.spinners, 1);
		}
		/* the clock is read once per SPIN_CLOCK_EVERY idle passes;
		 * a long spin yields the CPU now and then (spin.h: on few
		 * CPUs, the thread that is waiting for it may be a client
		 * with requests for us) */
		if (spinning && idle++ % SPIN_CLOCK_EVERY == 0) {
			int64_t now = srv_now_ns();

			if (idle == 1) {
				spin_end = now + spin_ns;
				yield_at = now + VOS__SPIN_YIELD_NS;
			} else if (now >= spin_end) {
				idle = 0;
			} else if (spin_end - now > VOS__SPIN_YIELD_NS) {
				vos__spin_yield_due(now, &yield_at);
			}
		}
		if (spinning && idle) {
			vos__cpu_relax();
			continue;
		}
		if (spinning) {
			atomic_fetch_sub(&srv.spinners, 1);
			spinning = false;
		}
		if (waiting_slow &&
		    (next_timer < 0 || next_timer > INTERRUPT_NS))
			next_timer = INTERRUPT_NS;
		sleep_now(w, next_timer);
		publish(w);
	}
	if (spinning)
		atomic_fetch_sub(&srv.spinners, 1);
	return NULL;
}

void srv_worker_kick(struct srv_worker *w)
{
	uint64_t one = 1;

	if (write(w->wake_efd, &one, sizeof(one)) < 0) {
		/* overflow only */
	}
}

void srv_worker_add(struct srv_client *c)
{
	struct srv_worker *best = &srv.workers[0];

	for (unsigned i = 1; i < srv.nworkers; i++)
		if (atomic_load(&srv.workers[i].nclients) <
		    atomic_load(&best->nclients))
			best = &srv.workers[i];
	c->w = best;
	atomic_fetch_add(&best->nclients, 1);
	pthread_mutex_lock(&best->lock);
	c->next = best->incoming;
	best->incoming = c;
	atomic_store_explicit(&best->has_incoming, true, memory_order_relaxed);
	pthread_mutex_unlock(&best->lock);
	srv_worker_kick(best);
}

/*
 * Each worker creates its own engine, on its own thread: the engine's
 * io_uring requests (its internal polls included) then belong to the thread
 * that waits for them, which is how io_uring wants a ring used.  (With the
 * rings made by the main thread, a wake-up could wait for the main thread
 * to run task work, and at stop it never did.)
 */
static int engine_create(struct srv_worker *w)
{
	struct vos_config cfg;

	vos_config_init(&cfg);
	cfg.transport = "io_uring-local";
	cfg.options = srv.cfg.engine_options;
	cfg.queue_depth = ENG_DEPTH;
	cfg.spin_ns = 0; /* the worker has spun already */
	return vos_ctx_create(&cfg, &w->eng);
}

static void *worker_thread(void *arg)
{
	struct srv_worker *w = arg;

	w->start_err = engine_create(w);
	sem_post(&srv.started);
	if (w->start_err < 0) {
		sem_post(&srv.exited);
		return NULL;
	}
	worker_main(w);
	vos_ctx_destroy(w->eng); /* on the thread that made it */
	srv_timers_free(w);
	while (w->wuids) {
		struct srv_wuid *u = w->wuids;

		w->wuids = u->next;
		free(u);
	}
	sem_post(&srv.exited);
	return NULL;
}

int srv_workers_start(void)
{
	unsigned started = 0;
	int err = 0;

	sem_init(&srv.started, 0, 0);
	sem_init(&srv.exited, 0, 0);
	for (unsigned i = 0; i < srv.nworkers; i++) {
		struct srv_worker *w = &srv.workers[i];

		w->eng_depth = ENG_DEPTH;
		w->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)srv_now_ns() ^ i;
		w->wake_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		pthread_mutex_init(&w->lock, NULL);
		if (w->wake_efd < 0 ||
		    pthread_create(&w->thread, NULL, worker_thread, w) != 0) {
			srv_log(0, "worker %u: cannot start: %s", i,
				strerror(errno));
			return -1;
		}
		started++;
	}
	for (unsigned i = 0; i < started; i++)
		sem_wait(&srv.started);
	for (unsigned i = 0; i < started; i++)
		if (srv.workers[i].start_err < 0 && !err) {
			err = srv.workers[i].start_err;
			srv_log(0, "worker %u: cannot create the engine: %s", i,
				strerror(-err));
		}
	if (err)
		return -1;
	srv_log(1, "engine: %s", vos_ctx_describe(srv.workers[0].eng));
	return 0;
}

/* Stop: every client must already be marked dying.  Waits for the
 * workers until deadline (CLOCK_REALTIME ns): true if they all stopped
 * (and were joined), false if some are still tearing down. */
bool srv_workers_stop(int64_t deadline)
{
	struct timespec ts = { (time_t)(deadline / 1000000000),
			       (long)(deadline % 1000000000) };

	for (unsigned i = 0; i < srv.nworkers; i++) {
		atomic_store(&srv.workers[i].stop, true);
		srv_worker_kick(&srv.workers[i]);
	}
	for (unsigned i = 0; i < srv.nworkers; i++) {
		int r;

		do
			r = sem_timedwait(&srv.exited, &ts);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return false;
	}
	/* their wake eventfds stay open: a slow-pool thread that has just
	 * delivered a result may still kick one (srv_main closes them once
	 * the pool has stopped) */
	for (unsigned i = 0; i < srv.nworkers; i++)
		pthread_join(srv.workers[i].thread, NULL);
	return true;
}
