/*
 * workpool.c - a few threads that run blocking calls which have no
 * asynchronous form in the backend.  Requests are indexed by tag, so the
 * pool allocates nothing per request.  Threads start on demand (up to
 * max_threads) and sleep on a condition variable when idle: this path is
 * for slow calls, where a wake-up's cost does not matter.
 *
 * An accept, and a splice that would wait on a pipe, wait for readiness
 * in slices of ACCEPT_SLICE_MS, checking for cancellation between them,
 * so that they can be cancelled and the pool destroyed without waiting
 * for a client that never comes.  A
 * lock wait holds no thread while it waits: each try is the non-waiting
 * call, and between tries the job sits on the retry list until its time
 * comes (lock_try), so any number of waits leave the threads to the other
 * calls.  Other calls run to their end (connect and fsync are bounded by
 * the kernel).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "local.h"

enum { JOB_FREE = 0, JOB_QUEUED, JOB_RUNNING, JOB_RETRY, JOB_DONE };
#define NO_JOB UINT32_MAX
#define ACCEPT_SLICE_MS 50
#define LOCK_SLICE_MIN_MS 1
#define LOCK_SLICE_MS 32

struct job {
	struct vos_req req;
	int64_t res;
	uint64_t due;  /* JOB_RETRY: when to try again (CLOCK_MONOTONIC ns) */
	uint32_t next; /* queue, retry list or done list */
	uint8_t state;
	uint8_t slice_ms; /* lock waits: the next pause between tries */
	bool cancel;   /* set by cancel while RUNNING (accept, lock waits) */
};

struct vos__pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_cond_t idle_cond; /* signalled when nrunning drops to 0 */
	struct job *jobs;     /* [depth] */
	uint32_t depth;
	uint32_t q_head, q_tail; /* FIFO of queued jobs */
	uint32_t retry;          /* lock waits between tries (unordered) */
	uint32_t done;           /* LIFO of finished jobs */
	unsigned nthreads, nidle, nrunning, nqueued, max_threads;
	unsigned refs;           /* the owner + each thread */
	bool stopping;
	int notify_fd;
};

static void pool_unref_locked(struct vos__pool *p)
{
	bool last = --p->refs == 0;

	pthread_mutex_unlock(&p->lock);
	if (last) {
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->cond);
		pthread_cond_destroy(&p->idle_cond);
		free(p->jobs);
		free(p);
	}
}

/* Wait (lock not held) until fd is ready for events, or until the job is
 * cancelled or the pool stops: then -ECANCELED.  0 when ready (or in
 * error: the call will report it). */
static int ready_wait(struct vos__pool *p, struct job *j, int fd,
		      short events)
{
	for (;;) {
		struct pollfd pfd = { fd, events, 0 };
		bool stop;

		if (poll(&pfd, 1, ACCEPT_SLICE_MS) != 0)
			return 0;
		pthread_mutex_lock(&p->lock);
		stop = j->cancel || p->stopping;
		pthread_mutex_unlock(&p->lock);
		if (stop)
			return -ECANCELED;
	}
}

/* Whether fd's file has O_NONBLOCK (or is not open: the call says so). */
static bool nonblocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 || (fl & O_NONBLOCK);
}

/* Whether fd is ready for events now. */
static bool ready_now(int fd, short events)
{
	struct pollfd pfd = { fd, events, 0 };

	return poll(&pfd, 1, 0) > 0;
}

/* A splice that may wait: tried with SPLICE_F_NONBLOCK (the kernel checks
 * everything else first, and answers at once); while that says -EAGAIN,
 * the end that is not ready is waited for in slices, so that the job can
 * be cancelled, and the call tried again.  -EAGAIN is the answer when the
 * program asked for it: SPLICE_F_NONBLOCK, or the end that is not ready
 * is O_NONBLOCK.  (If both ends look ready yet the call says -EAGAIN
 * twice more, the plain call runs, and may wait as the kernel's would.) */
static int64_t splice_run(struct vos__pool *p, struct job *j)
{
	struct vos_req r = j->req;
	int64_t res;
	int tries = 0;

	if (r.op_flags & SPLICE_F_NONBLOCK)
		return vos__exec(&r, false);
	r.op_flags |= SPLICE_F_NONBLOCK;
	for (;;) {
		int fd = -1;
		short ev = 0;

		res = vos__exec(&r, false);
		if (res != -EAGAIN)
			return res;
		if (!ready_now(r.fd, POLLIN)) {
			fd = r.fd;
			ev = POLLIN;
		} else if (!ready_now(r.fd2, POLLOUT)) {
			fd = r.fd2;
			ev = POLLOUT;
		}
		if (fd < 0) {
			if (++tries > 2)
				return vos__exec(&j->req, false);
			continue;
		}
		if (nonblocking(fd))
			return -EAGAIN;
		res = ready_wait(p, j, fd, ev);
		if (res < 0)
			return res;
	}
}

/* Tell the owner a job is done (lock held: destroy closes the fd under
 * it too). */
static void notify_locked(struct vos__pool *p)
{
	uint64_t one = 1;

	if (p->notify_fd >= 0 &&
	    write(p->notify_fd, &one, sizeof(one)) < 0) {
		/* full counter: the reader is awake anyway */
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A lock wait (F_SETLKW, F_OFD_SETLKW) is tries of the non-waiting form,
 * LOCK_SLICE_MIN_MS apart at first, doubling up to LOCK_SLICE_MS, until
 * the lock is taken, the call fails otherwise, or the request is
 * cancelled or the pool stops (-ECANCELED).  The kernel's own wait cannot
 * be stopped without a signal, and a library may not take one of the
 * program's; what this costs against the kernel's wait (no -EDEADLK, no
 * queueing behind other waiters, up to LOCK_SLICE_MS late) is in
 * doc/semantics.md.  One try (lock not held): true if the job is done
 * (its result in *res), false if it is to be tried again. */
static bool lock_try(struct job *j, int64_t *res)
{
	*res = vos__exec(&j->req, true);
	return *res != -EAGAIN && *res != -EACCES;
}

/* Put j on the retry list, due after its slice (lock held). */
static void retry_later(struct vos__pool *p, uint32_t t)
{
	struct job *j = &p->jobs[t];

	if (j->slice_ms == 0)
		j->slice_ms = LOCK_SLICE_MIN_MS;
	j->due = now_ns() + (uint64_t)j->slice_ms * 1000000u;
	if (j->slice_ms < LOCK_SLICE_MS)
		j->slice_ms *= 2;
	j->state = JOB_RETRY;
	j->next = p->retry;
	p->retry = t;
	if (p->nidle)
		/* threads asleep without a bound: let them see its time */
		pthread_cond_broadcast(&p->cond);
}

/* Take a retry that is due off the list (lock held): its tag, or NO_JOB;
 * *first gets the soonest time of those not due (0: none). */
static uint32_t take_due(struct vos__pool *p, uint64_t *first)
{
	uint64_t now = now_ns();
	uint32_t *link = &p->retry;

	*first = 0;
	while (*link != NO_JOB) {
		uint32_t t = *link;
		struct job *j = &p->jobs[t];

		if (j->due <= now) {
			*link = j->next;
			return t;
		}
		if (*first == 0 || j->due < *first)
			*first = j->due;
		link = &j->next;
	}
	return NO_JOB;
}

/* Sleep until signalled, or until `until` (CLOCK_MONOTONIC ns; 0: no
 * bound), lock held. */
static void idle_wait(struct vos__pool *p, uint64_t until)
{
	struct timespec ts;

	if (until == 0) {
		pthread_cond_wait(&p->cond, &p->lock);
		return;
	}
	ts.tv_sec = (time_t)(until / 1000000000u);
	ts.tv_nsec = (long)(until % 1000000000u);
	pthread_cond_timedwait(&p->cond, &p->lock, &ts);
}

static int start_thread(struct vos__pool *p);

static void *worker(void *arg)
{
	struct vos__pool *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct job *j;
		uint32_t t = NO_JOB;
		uint64_t first = 0;
		int64_t res;
		bool retried;

		for (;;) {
			if (p->stopping)
				break;
			t = take_due(p, &first);
			if (t != NO_JOB || p->q_head != NO_JOB)
				break;
			p->nidle++;
			idle_wait(p, first);
			p->nidle--;
		}
		if (p->stopping)
			break;
		retried = t != NO_JOB;
		if (!retried) {
			t = p->q_head;
			j = &p->jobs[t];
			p->nqueued--;
			p->q_head = j->next;
			if (p->q_head == NO_JOB)
				p->q_tail = NO_JOB;
			j->cancel = false;
			j->slice_ms = 0;
			/* a call that may block: lock waits between tries
			 * keep a thread of their own while the pool may
			 * grow (none is idle to try them) */
			if (p->retry != NO_JOB && p->nidle == 0 &&
			    p->nthreads < p->max_threads)
				(void)start_thread(p);
		}
		j = &p->jobs[t];
		j->state = JOB_RUNNING;
		p->nrunning++;
		pthread_mutex_unlock(&p->lock);

		res = 0;
		if (j->req.op == VOS_OP_FCNTL_LOCK &&
		    vos__lock_waits(j->req.op_flags)) {
			if (!lock_try(j, &res)) {
				pthread_mutex_lock(&p->lock);
				--p->nrunning;
				if (p->stopping || j->cancel) {
					res = -ECANCELED;
				} else {
					retry_later(p, t);
					if (p->nrunning == 0)
						pthread_cond_broadcast(
							&p->idle_cond);
					continue; /* the lock is held */
				}
				p->nrunning++;
				pthread_mutex_unlock(&p->lock);
			}
		} else {
			if (j->req.op == VOS_OP_ACCEPT)
				res = ready_wait(p, j, j->req.fd, POLLIN);
			if (j->req.op == VOS_OP_SPLICE)
				res = splice_run(p, j);
			else if (res == 0)
				res = vos__exec(&j->req, false);
		}

		pthread_mutex_lock(&p->lock);
		if (--p->nrunning == 0)
			pthread_cond_broadcast(&p->idle_cond);
		if (p->stopping)
			break;
		j->res = res;
		j->state = JOB_DONE;
		j->next = p->done;
		p->done = t;
		notify_locked(p);
	}
	p->nthreads--;
	pool_unref_locked(p);
	return NULL;
}

struct vos__pool *vos__pool_create(uint32_t depth, unsigned max_threads,
				   int notify_fd)
{
	struct vos__pool *p = calloc(1, sizeof(*p));
	pthread_condattr_t ca;

	if (!p)
		return NULL;
	p->jobs = calloc(depth, sizeof(*p->jobs));
	if (!p->jobs) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	/* timed waits (lock retries) on CLOCK_MONOTONIC: a clock change
	 * moves no retry */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&p->idle_cond, NULL);
	p->depth = depth;
	p->q_head = p->q_tail = p->done = p->retry = NO_JOB;
	p->max_threads = max_threads ? max_threads : 1;
	p->refs = 1;
	p->notify_fd = notify_fd;
	return p;
}

static int start_thread(struct vos__pool *p)
{
	pthread_attr_t attr;
	pthread_t th;
	sigset_t all, old;
	int err;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	/* signals are the application's business: keep them off workers */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&th, &attr, worker, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (err)
		return -err;
	p->nthreads++;
	p->refs++;
	return 0;
}

int vos__pool_push(struct vos__pool *p, const struct vos_req *req)
{
	uint32_t t = (uint32_t)req->user_data;
	int ret = 0;

	if (t >= p->depth)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	p->jobs[t].req = *req;
	p->jobs[t].state = JOB_QUEUED;
	p->jobs[t].next = NO_JOB;
	if (p->q_tail == NO_JOB)
		p->q_head = t;
	else
		p->jobs[p->q_tail].next = t;
	p->q_tail = t;
	p->nqueued++;
	/* An idle thread that was signalled still counts as idle until it
	 * wakes: compare with what is queued, or two jobs pushed back to back
	 * could share one thread, and a job that blocks starve the other. */
	if (p->nqueued > p->nidle && p->nthreads < p->max_threads)
		ret = start_thread(p);
	if (ret < 0 && p->nthreads > 0)
		ret = 0; /* the running threads will get to it */
	if (ret < 0) {
		/* no thread at all: take it back out */
		p->q_head = p->q_tail = NO_JOB;
		p->nqueued = 0;
		p->jobs[t].state = JOB_FREE;
	} else {
		pthread_cond_signal(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
	return ret;
}

int vos__pool_reap(struct vos__pool *p,
		   void (*fn)(void *arg, uint32_t tag, int64_t res), void *arg)
{
	uint32_t t;
	int n = 0;

	pthread_mutex_lock(&p->lock);
	t = p->done;
	p->done = NO_JOB;
	pthread_mutex_unlock(&p->lock);
	while (t != NO_JOB) {
		/* the thread finished with the job: only we touch it now */
		struct job *j = &p->jobs[t];
		uint32_t next = j->next;

		j->state = JOB_FREE;
		fn(arg, t, j->res);
		n++;
		t = next;
	}
	return n;
}

/* tag, out of the queue or the retry list, completes -ECANCELED (lock
 * held): 0. */
static int cancelled(struct vos__pool *p, uint32_t tag)
{
	p->jobs[tag].res = -ECANCELED;
	p->jobs[tag].state = JOB_DONE;
	p->jobs[tag].next = p->done;
	p->done = tag;
	notify_locked(p);
	return 0;
}

int vos__pool_cancel(struct vos__pool *p, uint32_t tag)
{
	int ret = -ENOENT;

	if (tag >= p->depth)
		return -ENOENT;
	pthread_mutex_lock(&p->lock);
	if (p->jobs[tag].state == JOB_RUNNING) {
		/* an accept's wait, and a splice's, sees the flag within
		 * its slice: it ends -ECANCELED (unless its call completes
		 * first); a lock wait's try is under way: its result stands
		 * if it took the lock, else it ends -ECANCELED */
		if (p->jobs[tag].req.op == VOS_OP_ACCEPT ||
		    p->jobs[tag].req.op == VOS_OP_SPLICE) {
			p->jobs[tag].cancel = true;
			ret = 0;
		} else {
			if (p->jobs[tag].req.op == VOS_OP_FCNTL_LOCK)
				p->jobs[tag].cancel = true;
			ret = -EALREADY;
		}
	} else if (p->jobs[tag].state == JOB_RETRY) {
		uint32_t *link = &p->retry;

		while (*link != tag)
			link = &p->jobs[*link].next;
		*link = p->jobs[tag].next;
		ret = cancelled(p, tag);
	} else if (p->jobs[tag].state == JOB_QUEUED) {
		uint32_t *link = &p->q_head, prev = NO_JOB;

		while (*link != tag) {
			prev = *link;
			link = &p->jobs[*link].next;
		}
		*link = p->jobs[tag].next;
		if (p->q_tail == tag)
			p->q_tail = prev;
		p->nqueued--;
		ret = cancelled(p, tag);
	}
	pthread_mutex_unlock(&p->lock);
	return ret;
}

void vos__pool_destroy(struct vos__pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	p->notify_fd = -1;
	pthread_cond_broadcast(&p->cond);
	/* no call may write into the caller's memory after we return */
	while (p->nrunning > 0)
		pthread_cond_wait(&p->idle_cond, &p->lock);
	pool_unref_locked(p);
}
