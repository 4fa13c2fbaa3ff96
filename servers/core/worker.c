/*
 * worker.c - the worker loop: drain the clients' request rings, run the
 * requests, post completions; spin while there is work about, then sleep.
 *
 * Each worker owns a set of clients and an engine: a vos_ctx on the
 * io_uring-local transport, which runs each request the fastest way it
 * knows (a direct call, RWF_NOWAIT, io_uring, or a pool thread).  A
 * worker never blocks while it has work: requests that wait (a recv with
 * no data) wait in the engine.
 *
 * Sleeping: after spin_us with nothing to do (and only while fewer than
 * one worker per CPU spin), a worker sets NEED_WAKEUP in each client's
 * header, fences, looks at every ring once more, and then blocks in its
 * engine, where a poll on each client's sq eventfd and on its own wake
 * eventfd is armed.  A client that publishes requests and sees NEED_WAKEUP
 * kicks the eventfd; the fence pairing is described in ring.h.
 *
 * Fairness: a client may have at most max_inflight requests running; the
 * rest wait in its ring, so one client flooding its ring cannot take the
 * engine from the others.  Each pass takes at most BATCH entries per
 * client.
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

#include "op_kinds.h"
#include "server.h"

#define BATCH 32
#define SPIN_CLOCK_EVERY 16
#define ENG_DEPTH 4096u
#define UD_WAKE ((uint64_t)2)
#define UD_CANCEL ((uint64_t)4)
/* a client's sq poll: the client's address with bit 0 set */
#define UD_POLL(c) ((uint64_t)(uintptr_t)(c) | 1u)

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
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

/* Put one completion in c's ring; false if the ring is full (the client
 * has not consumed). */
static bool post(struct srv_worker *w, struct srv_client *c, uint32_t tag,
		 int64_t res)
{
	struct vos_wire_cqe e = { tag, res, 0, 0, 0 };

	/* the client's head is read only when the ring looks full; acquire:
	 * the client's reads of the entries before it are done before we
	 * overwrite them */
	if ((uint32_t)(c->cq_tail - c->cq_head_seen) >= c->entries) {
		c->cq_head_seen = vos__ring_load_acquire(&c->hdr->cq_head);
		if ((uint32_t)(c->cq_tail - c->cq_head_seen) >= c->entries)
			return false;
	}
	if (srv.cfg.fault_garbage) {
		/* fault injection: what a broken service might write */
		e.tag = rng_next(w);
		e.res = (int64_t)rng_next(w);
		if (rng_next(w) % 4 == 0)
			c->cq_tail += (uint32_t)rng_next(w);
	}
	c->cq[c->cq_tail & (c->entries - 1)] = e;
	c->cq_tail++;
	c->cq_dirty = true;
	return true;
}

static void req_release(struct srv_client *c, struct srv_req *q)
{
	q->state = SRV_REQ_FREE;
	c->inflight--;
	atomic_store_explicit(&c->stat_inflight, c->inflight,
			      memory_order_relaxed);
	atomic_fetch_add_explicit(&c->stat_done, 1, memory_order_relaxed);
}

/* A request is done with result res: fix up fds and out-parameters, and
 * post its completion. */
static void finish(struct srv_worker *w, struct srv_req *q, int64_t res)
{
	struct srv_client *c = q->c;

	q->in_engine = false;
	if (res >= 0 && vos__op_makes_fd(&q->r)) {
		bool sock = q->op == VOS_OP_SOCKET || q->op == VOS_OP_ACCEPT ||
			    (q->fdi >= 0 && c->fds[q->fdi].socket);
		int idx = c->cancelling ? -ECONNRESET :
			  srv_fd_install(c, (int)res, sock);

		if (idx < 0)
			close((int)res);
		res = idx;
	}
	srv_fd_put(c, q->fdi);
	srv_fd_put(c, q->fdi2);
	q->fdi = q->fdi2 = -1;
	if (c->cancelling) {
		req_release(c, q);
		return;
	}
	srv_encode_result(c, q, res);
	if (!post(w, c, q->tag, res)) {
		q->state = SRV_REQ_UNPOSTED;
		q->res = res;
		c->unposted++;
		return;
	}
	req_release(c, q);
}

static void retry_unposted(struct srv_worker *w, struct srv_client *c)
{
	for (uint32_t t = 0; t < c->entries && c->unposted; t++) {
		struct srv_req *q = &c->reqs[t];

		if (q->state != SRV_REQ_UNPOSTED)
			continue;
		if (!post(w, c, q->tag, q->res))
			return;
		c->unposted--;
		req_release(c, q);
	}
}

/* The client broke the protocol: drop it (the listener sees the socket
 * close and tears the session down). */
static void client_broken(struct srv_client *c, const char *why)
{
	if (c->broken)
		return;
	c->broken = true;
	srv_log(0, "client %llu (pid %d) broke the protocol: %s; dropping it",
		(unsigned long long)c->id, (int)c->cred.pid, why);
	shutdown(c->sock, SHUT_RDWR);
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
		rs[i] = batch[i]->r;
	took = vos_submit(w->eng, rs, *nb);
	if (took < 0)
		took = 0;
	for (unsigned i = 0; i < *nb; i++) {
		if ((int)i < took) {
			batch[i]->in_engine = true;
			w->eng_out++;
		} else {
			finish(w, batch[i], -EAGAIN);
		}
	}
	*nb = 0;
}

static void cancel_in_engine(struct srv_worker *w, uint64_t target)
{
	struct vos_req r;

	vos_prep_cancel(&r, target);
	r.user_data = UD_CANCEL;
	if (vos_submit(w->eng, &r, 1) == 1)
		w->eng_out++;
}

/* Take requests from c's ring.  Returns how many. */
static unsigned drain(struct srv_worker *w, struct srv_client *c)
{
	struct srv_req *batch[BATCH];
	unsigned nb = 0, n = 0;
	uint32_t tail;

	if (c->broken || c->cancelling)
		return 0;
	/* acquire: the entries up to tail are read after the index */
	tail = vos__ring_load_acquire(&c->hdr->sq_tail);
	if ((uint32_t)(tail - c->sq_head) > c->entries) {
		client_broken(c, "impossible request index");
		return 0;
	}
	while (c->sq_head != tail && n < BATCH &&
	       c->inflight < srv.cfg.max_inflight &&
	       w->eng_out + nb + 4 < w->eng_depth) {
		struct vos_wire_req e = c->sq[c->sq_head & (c->entries - 1)];
		struct srv_req *q;
		int64_t res = 0;
		int ret;

		c->sq_head++;
		n++;
		if (e.tag >= c->entries ||
		    c->reqs[e.tag].state != SRV_REQ_FREE) {
			client_broken(c, "bad or busy tag");
			break;
		}
		q = &c->reqs[e.tag];
		q->c = c;
		q->tag = (uint32_t)e.tag;
		q->op = e.op;
		q->fdi = q->fdi2 = -1;
		q->in_engine = false;
		q->state = SRV_REQ_RUNNING;
		c->inflight++;
		ret = srv_decode(c, &e, q);
		if (ret == 0 && q->op == VOS_OP_CLOSE) {
			finish(w, q, srv_fd_close(c, q->r.fd));
			continue;
		}
		if (ret == 0 && q->op == VOS_OP_CANCEL) {
			struct srv_req *t = e.off < c->entries ?
					    &c->reqs[e.off] : NULL;

			flush(w, batch, &nb);
			if (!t || t->state != SRV_REQ_RUNNING || !t->in_engine) {
				finish(w, q, -ENOENT);
				continue;
			}
			q->r.off = (uint64_t)(uintptr_t)t;
		} else if (ret == 0 && vos__op_names_fd(q->op)) {
			ret = map_one(c, vos__op_is_at(q->op), &q->r.fd,
				      &q->fdi);
			if (ret == 0 && q->op == VOS_OP_RENAMEAT)
				ret = map_one(c, true, &q->r.fd2, &q->fdi2);
		}
		if (ret == 0 && q->op != VOS_OP_CANCEL)
			ret = srv.svc->execute(c, &q->r, &res);
		if (ret != 0) {
			finish(w, q, ret < 0 ? ret : res);
			continue;
		}
		q->r.user_data = (uint64_t)(uintptr_t)q;
		batch[nb++] = q;
	}
	flush(w, batch, &nb);
	atomic_store_explicit(&c->stat_inflight, c->inflight,
			      memory_order_relaxed);
	/* release: our reads of the entries are done before the client may
	 * overwrite them */
	vos__ring_store_release(&c->hdr->sq_head, c->sq_head);
	return n;
}

/* Publish posted completions; kick clients that sleep. */
static void publish(struct srv_worker *w)
{
	for (struct srv_client *c = w->clients; c; c = c->next) {
		if (!c->cq_dirty)
			continue;
		c->cq_dirty = false;
		/* publish the tail (releasing the entries), then look at the
		 * client's NEED_WAKEUP: the publisher's half of the handshake
		 * in ring.h (the client's is shm_wait()) */
		vos__ring_publish(&c->hdr->cq_tail, c->cq_tail);
		if (vos__ring_peer_flags(&c->hdr->client_flags) &
		    VOS_WIRE_CLIENT_NEED_WAKEUP) {
			uint64_t one = 1;

			if (write(c->efd_cq, &one, sizeof(one)) < 0) {
				/* overflow only: a kick is pending anyway */
			}
		}
	}
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
			drain_efd(c->efd_sq);
		} else {
			finish(w, (struct srv_req *)(uintptr_t)ud, e[i].res);
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

/* Tear down a client the listener gave up on, step by step: cancel what
 * runs, then free it once nothing does.  true when freed. */
static bool teardown(struct srv_worker *w, struct srv_client *c)
{
	if (!c->cancelling) {
		c->cancelling = true;
		srv_fd_shutdown_all(c);
		for (uint32_t t = 0; t < c->entries; t++) {
			struct srv_req *q = &c->reqs[t];

			if (q->state == SRV_REQ_UNPOSTED) {
				c->unposted--;
				req_release(c, q);
			} else if (q->state == SRV_REQ_RUNNING && q->in_engine) {
				cancel_in_engine(w, (uint64_t)(uintptr_t)q);
			}
		}
		if (c->poll_armed)
			cancel_in_engine(w, UD_POLL(c));
	}
	if (c->inflight || c->poll_armed)
		return false;
	srv_log(1, "detach: client %llu pid %d uid %d (%llu requests)",
		(unsigned long long)c->id, (int)c->cred.pid, (int)c->cred.uid,
		(unsigned long long)atomic_load(&c->stat_done));
	srv_registry_remove(c);
	srv_client_free(c);
	atomic_fetch_sub(&w->nclients, 1);
	atomic_fetch_sub(&srv.nclients, 1);
	return true;
}

static void arm_poll(struct srv_worker *w, int fd, uint64_t ud, bool *armed)
{
	struct vos_req r;

	if (*armed)
		return;
	vos_prep_poll(&r, fd, POLLIN);
	r.user_data = ud;
	if (vos_submit(w->eng, &r, 1) == 1) {
		*armed = true;
		w->eng_out++;
	}
}

/* Nothing to do: sleep until a client or the listener kicks, or the
 * engine completes something. */
static void sleep_now(struct srv_worker *w)
{
	struct srv_client *c;
	bool work = false;

	/* the sleeper's half of the handshake in ring.h: NEED_WAKEUP in
	 * every client's header, then a last look at every request tail (the
	 * client's shm_submit() is the other half) */
	for (c = w->clients; c; c = c->next)
		vos__ring_set_flag(&c->hdr->server_flags,
				   VOS_WIRE_SERVER_NEED_WAKEUP);
	/* a kick is consumed when the eventfd is drained, so the flags a
	 * kick announces are looked at again here, before sleeping */
	work = (atomic_load(&w->stop) && !w->clients) ||
	       atomic_load_explicit(&w->has_incoming, memory_order_relaxed);
	for (c = w->clients; c && !work; c = c->next)
		work = (atomic_load(&c->dying) && !c->cancelling) ||
		       (!c->cancelling && !c->broken &&
			c->inflight < srv.cfg.max_inflight &&
			vos__ring_peek(&c->hdr->sq_tail) != c->sq_head);
	if (!work) {
		for (c = w->clients; c; c = c->next)
			if (!c->cancelling &&
			    c->inflight < srv.cfg.max_inflight)
				arm_poll(w, c->efd_sq, UD_POLL(c),
					 &c->poll_armed);
		arm_poll(w, w->wake_efd, UD_WAKE, &w->wake_armed);
		reap(w, 1, -1);
	}
	for (c = w->clients; c; c = c->next)
		vos__ring_clear_flag(&c->hdr->server_flags,
				     VOS_WIRE_SERVER_NEED_WAKEUP);
}

static void *worker_main(struct srv_worker *w)
{
	int64_t spin_ns = (int64_t)srv.cfg.spin_us * 1000, spin_end = 0;
	unsigned idle = 0; /* passes without work since the last work */
	bool spinning = false;

	for (;;) {
		struct srv_client **pp, *c;
		unsigned work = 0;

		/* new clients: a relaxed look first, the lock only when there
		 * are some (it is taken once per attach, not per pass) */
		if (atomic_load_explicit(&w->has_incoming,
					 memory_order_relaxed)) {
			pthread_mutex_lock(&w->lock);
			while ((c = w->incoming)) {
				w->incoming = c->next;
				c->next = w->clients;
				w->clients = c;
				work++;
			}
			atomic_store_explicit(&w->has_incoming, false,
					      memory_order_relaxed);
			pthread_mutex_unlock(&w->lock);
		}
		if (atomic_load(&w->stop) && !w->clients)
			break;

		for (pp = &w->clients; (c = *pp);) {
			if (atomic_load(&c->dying)) {
				struct srv_client *next = c->next;

				if (teardown(w, c)) { /* c is freed */
					*pp = next;
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
		/* the clock is read once per SPIN_CLOCK_EVERY idle passes */
		if (spinning && idle++ % SPIN_CLOCK_EVERY == 0) {
			if (idle == 1)
				spin_end = now_ns() + spin_ns;
			else if (now_ns() >= spin_end)
				idle = 0;
		}
		if (spinning && idle) {
			cpu_relax();
			continue;
		}
		if (spinning) {
			atomic_fetch_sub(&srv.spinners, 1);
			spinning = false;
		}
		sleep_now(w);
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
	if (w->start_err < 0)
		return NULL;
	worker_main(w);
	vos_ctx_destroy(w->eng); /* on the thread that made it */
	return NULL;
}

int srv_workers_start(void)
{
	unsigned started = 0;
	int err = 0;

	sem_init(&srv.started, 0, 0);
	for (unsigned i = 0; i < srv.nworkers; i++) {
		struct srv_worker *w = &srv.workers[i];

		w->eng_depth = ENG_DEPTH;
		w->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)now_ns() ^ i;
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

/* Stop: every client must already be marked dying. */
void srv_workers_stop(void)
{
	for (unsigned i = 0; i < srv.nworkers; i++) {
		atomic_store(&srv.workers[i].stop, true);
		srv_worker_kick(&srv.workers[i]);
	}
	for (unsigned i = 0; i < srv.nworkers; i++) {
		struct srv_worker *w = &srv.workers[i];

		pthread_join(w->thread, NULL);
		close(w->wake_efd);
	}
}
