/*
 * slow.c - the slow-call pool: threads for calls that may block in the
 * kernel (stord's path calls: an open of a FIFO waits for its other end,
 * a lookup on slow media waits for the disk).  A worker serves many
 * clients and must never block; it hands such calls here.
 *
 * Also fcntl record lock waits (locks.c), of any service: the kernel's
 * wait, stopped the same way as the rest; and copy_file_range, sendfile
 * and splice, of any service (a pipe or a socket at either end may make
 * them wait, a large copy takes long).
 *
 * Bounds: at most --slow-threads calls run at once; a client may have at
 * most --max-slow calls running here and all clients of one uid
 * --max-slow-uid, so one user's FIFOs cannot take every thread.  Lock
 * waits are a class of their own, so that a program whose threads wait
 * for locks can still open files: at most --lock-threads of them run,
 * --max-lock-waits per client, --max-lock-waits-uid per uid.  Calls over a
 * bound wait in the queue (they count as the client's requests in flight,
 * which are bounded too).
 *
 * Stopping a call: when its client cancels it or goes away, or the
 * daemon stops, its thread gets SIGUSR1 (a handler that does nothing,
 * installed without SA_RESTART): the blocking system call returns EINTR.
 * A signal that arrives after the thread took the call but before the
 * system call started is lost, so the signal is sent again on every pass
 * of the teardown, and of the worker while a cancelled call runs
 * (srv_slow_resignal), until the call has returned; and a call cancelled
 * before its thread starts it is not started.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec.h"
#include "opdef.h"
#include "server.h"

enum { SLOW_QUEUED = 1, SLOW_RUNNING, SLOW_DONE };

struct slow_thread {
	pthread_t t;
	struct srv_req *job; /* running now, or NULL */
	bool live;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_cond_t gone;         /* a thread exited */
	struct srv_req *head, *tail; /* queued */
	struct slow_thread *th;
	unsigned nthreads, idle;
	unsigned calls, waits; /* running: path calls (and lock tries),
	                        * lock waits */
	bool stop;
	atomic_uint live;
} pool = { .lock = PTHREAD_MUTEX_INITIALIZER,
	   .cond = PTHREAD_COND_INITIALIZER,
	   .gone = PTHREAD_COND_INITIALIZER };

static void on_usr1(int sig)
{
	(void)sig; /* only to interrupt a system call */
}

/* A lock wait (locks.c): runs under its own bounds. */
static bool is_wait(const struct srv_req *q)
{
	return q->op == VOS_OP_FCNTL_LOCK && vos__lock_waits(q->d.r.op_flags);
}

/* Take q's places (pool lock held): false if a bound is reached. */
static bool take_bounds(struct srv_req *q)
{
	struct srv_client *c = q->c;

	if (q->slow_wait) {
		if (pool.waits >= srv.cfg.lock_threads ||
		    c->lock_waits >= srv.cfg.max_lock_waits ||
		    !srv_take(&c->uid->lock_waits, srv.cfg.max_lock_waits_uid))
			return false;
		pool.waits++;
		c->lock_waits++;
		return true;
	}
	if (pool.calls >= srv.cfg.slow_threads ||
	    c->slow_running >= srv.cfg.max_slow ||
	    !srv_take(&c->uid->slow, srv.cfg.max_slow_uid))
		return false;
	pool.calls++;
	c->slow_running++;
	return true;
}

static void give_bounds(struct srv_req *q)
{
	if (q->slow_wait) {
		pool.waits--;
		q->c->lock_waits--;
		srv_give(&q->c->uid->lock_waits);
	} else {
		pool.calls--;
		q->c->slow_running--;
		srv_give(&q->c->uid->slow);
	}
}

/* The first queued call whose class, client and uid are below their
 * bounds. */
static struct srv_req *pick(void)
{
	struct srv_req *q, **pp;

	for (pp = &pool.head; (q = *pp); pp = &q->slow_next) {
		if (!take_bounds(q))
			continue;
		*pp = q->slow_next;
		if (pool.tail == q) {
			pool.tail = NULL;
			for (struct srv_req *t = pool.head; t; t = t->slow_next)
				pool.tail = t;
		}
		return q;
	}
	return NULL;
}

static void deliver(struct srv_req *q)
{
	struct srv_worker *w = q->c->w;

	pthread_mutex_lock(&w->lock);
	q->slow_next = w->slow_done;
	w->slow_done = q;
	atomic_store_explicit(&w->has_slow_done, true, memory_order_relaxed);
	pthread_mutex_unlock(&w->lock);
	srv_worker_kick(w);
}

static void *slow_main(void *arg);

/* Make sure a thread will look at the queue (pool lock held): an idle one,
 * or a new one.  pool.idle also counts threads signalled already but not
 * yet running, so a signal may find nobody waiting; a thread that takes a
 * call therefore passes the wake-up on while calls remain queued. */
static void wake_locked(void)
{
	struct slow_thread *t;
	pthread_attr_t a;

	if (pool.idle > 0) {
		pthread_cond_signal(&pool.cond);
		return;
	}
	if (pool.nthreads >= srv.cfg.slow_threads + srv.cfg.lock_threads)
		return;
	t = &pool.th[pool.nthreads];
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	t->live = true;
	if (pthread_create(&t->t, &a, slow_main, t) == 0) {
		pool.nthreads++;
		atomic_fetch_add(&pool.live, 1);
	} else {
		t->live = false;
	}
	pthread_attr_destroy(&a);
}

static void *slow_main(void *arg)
{
	struct slow_thread *me = arg;
	char *path = malloc(4096), *path2 = malloc(4096);
	sigset_t usr1;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
	pthread_mutex_lock(&pool.lock);
	for (;;) {
		struct srv_req *q = NULL;
		int64_t res;

		while (!pool.stop && !(q = pick())) {
			pool.idle++;
			pthread_cond_wait(&pool.cond, &pool.lock);
			pool.idle--;
		}
		if (pool.stop)
			break;
		if (pool.head)
			wake_locked(); /* pass the wake-up on */
		me->job = q;
		atomic_store(&q->slow_state, SLOW_RUNNING);
		pthread_mutex_unlock(&pool.lock);
		if (atomic_load(&q->slow_cancelled))
			res = -EINTR; /* cancelled as it was taken */
		else if (q->op == VOS_OP_FCNTL_LOCK)
			res = srv_lock_run(&q->d.r); /* locks.c */
		else if (vos__op_has(q->op, VOS__OPF_FD2))
			/* copy_file_range, sendfile, splice: the kernel's
			 * call on the client's two fds (SIGUSR1 stops it) */
			res = vos__exec(&q->d.r, false);
		else
			res = path && path2 ? srv.svc->run_slow(q->c, q, path,
								 path2)
					    : -ENOMEM;
		pthread_mutex_lock(&pool.lock);
		me->job = NULL;
		give_bounds(q);
		q->res = res;
		atomic_store(&q->slow_state, SLOW_DONE);
		pthread_mutex_unlock(&pool.lock);
		deliver(q);
		pthread_cond_broadcast(&pool.cond); /* bounds moved */
		pthread_mutex_lock(&pool.lock);
	}
	me->live = false;
	atomic_fetch_sub(&pool.live, 1);
	pthread_cond_broadcast(&pool.gone);
	pthread_mutex_unlock(&pool.lock);
	free(path);
	free(path2);
	return NULL;
}

int srv_slow_start(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1; /* no SA_RESTART: the call says EINTR */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0)
		return -errno;
	pool.th = calloc(srv.cfg.slow_threads + srv.cfg.lock_threads,
			 sizeof(*pool.th));
	return pool.th ? 0 : -ENOMEM;
}

int srv_slow_push(struct srv_req *q)
{
	int ret = 0;

	pthread_mutex_lock(&pool.lock);
	if (pool.stop) {
		pthread_mutex_unlock(&pool.lock);
		return -ECANCELED;
	}
	q->slow_next = NULL;
	q->slow_wait = is_wait(q);
	atomic_store(&q->slow_cancelled, false);
	atomic_store(&q->slow_state, SLOW_QUEUED);
	q->where = SRV_AT_SLOW;
	if (pool.tail)
		pool.tail->slow_next = q;
	else
		pool.head = q;
	pool.tail = q;
	if (pool.nthreads > 0) {
		wake_locked();
	} else {
		struct slow_thread *t = &pool.th[pool.nthreads];
		pthread_attr_t a;

		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		t->live = true;
		if (pthread_create(&t->t, &a, slow_main, t) == 0) {
			pool.nthreads++;
			atomic_fetch_add(&pool.live, 1);
		} else if (pool.nthreads == 0) {
			/* no thread at all: fail it rather than keep it */
			t->live = false;
			pool.head = pool.tail = NULL;
			q->where = SRV_AT_NONE;
			ret = -EAGAIN;
		}
		pthread_attr_destroy(&a);
	}
	pthread_cond_signal(&pool.cond);
	pthread_mutex_unlock(&pool.lock);
	return ret;
}

/* Take q out of the queue (pool lock held): true if it was there. */
static bool unqueue(struct srv_req *q)
{
	struct srv_req **pp, *prev = NULL;

	for (pp = &pool.head; *pp; prev = *pp, pp = &(*pp)->slow_next)
		if (*pp == q) {
			*pp = q->slow_next;
			if (pool.tail == q)
				pool.tail = prev;
			return true;
		}
	return false;
}

bool srv_slow_cancel(struct srv_req *q)
{
	bool gone;

	pthread_mutex_lock(&pool.lock);
	gone = atomic_load(&q->slow_state) == SLOW_QUEUED && unqueue(q);
	if (gone) {
		atomic_store(&q->slow_state, SLOW_DONE);
	} else if (atomic_load(&q->slow_state) == SLOW_RUNNING &&
		   !atomic_load(&q->slow_cancelled)) {
		/* running: interrupt its call if it waits (EINTR), now and
		 * on the worker's passes until it ends (srv_slow_reap) */
		atomic_store(&q->slow_cancelled, true);
		q->c->w->slow_cancelled++;
		for (unsigned i = 0; i < pool.nthreads; i++)
			if (pool.th[i].live && pool.th[i].job == q)
				pthread_kill(pool.th[i].t, SIGUSR1);
	}
	pthread_mutex_unlock(&pool.lock);
	if (gone)
		q->where = SRV_AT_NONE;
	return gone;
}

void srv_slow_resignal(struct srv_worker *w)
{
	pthread_mutex_lock(&pool.lock);
	for (unsigned i = 0; i < pool.nthreads; i++) {
		struct srv_req *q = pool.th[i].job;

		if (pool.th[i].live && q && q->c->w == w &&
		    atomic_load(&q->slow_cancelled))
			pthread_kill(pool.th[i].t, SIGUSR1);
	}
	pthread_mutex_unlock(&pool.lock);
}

void srv_slow_interrupt(struct srv_client *c)
{
	struct srv_req *drop = NULL, *q, *next;

	pthread_mutex_lock(&pool.lock);
	for (q = pool.head; q; q = next) {
		next = q->slow_next;
		if (q->c == c && unqueue(q)) {
			atomic_store(&q->slow_state, SLOW_DONE);
			q->slow_next = drop;
			drop = q;
		}
	}
	for (unsigned i = 0; i < pool.nthreads; i++)
		if (pool.th[i].live && pool.th[i].job && pool.th[i].job->c == c)
			pthread_kill(pool.th[i].t, SIGUSR1);
	pthread_mutex_unlock(&pool.lock);
	for (q = drop; q; q = next) {
		next = q->slow_next;
		q->res = -ECANCELED;
		deliver(q);
	}
}

void srv_slow_reap(struct srv_worker *w)
{
	struct srv_req *q, *next;

	if (!atomic_load_explicit(&w->has_slow_done, memory_order_relaxed))
		return;
	pthread_mutex_lock(&w->lock);
	q = w->slow_done;
	w->slow_done = NULL;
	atomic_store_explicit(&w->has_slow_done, false, memory_order_relaxed);
	pthread_mutex_unlock(&w->lock);
	for (; q; q = next) {
		next = q->slow_next;
		q->where = SRV_AT_NONE;
		if (atomic_load(&q->slow_cancelled)) {
			atomic_store(&q->slow_cancelled, false);
			w->slow_cancelled--; /* no more signals for it */
		}
		srv_finish(w, q, q->res);
	}
}

bool srv_slow_stop(void)
{
	struct timespec until;

	/* the threads are detached: interrupt the ones in a call and wait
	 * for them a little (the stop as a whole is bounded by the
	 * listener; at this point teardown has normally waited already) */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	pthread_mutex_lock(&pool.lock);
	pool.stop = true;
	pthread_cond_broadcast(&pool.cond);
	while (atomic_load(&pool.live)) {
		struct timespec slice;

		for (unsigned k = 0; k < pool.nthreads; k++)
			if (pool.th[k].live && pool.th[k].job)
				pthread_kill(pool.th[k].t, SIGUSR1);
		clock_gettime(CLOCK_REALTIME, &slice);
		slice.tv_nsec += 10000000;
		if (slice.tv_nsec >= 1000000000) {
			slice.tv_sec++;
			slice.tv_nsec -= 1000000000;
		}
		if (slice.tv_sec > until.tv_sec ||
		    (slice.tv_sec == until.tv_sec &&
		     slice.tv_nsec >= until.tv_nsec))
			break;
		pthread_cond_timedwait(&pool.gone, &pool.lock, &slice);
	}
	pthread_mutex_unlock(&pool.lock);
	if (atomic_load(&pool.live))
		return false;
	free(pool.th);
	pool.th = NULL;
	return true;
}
