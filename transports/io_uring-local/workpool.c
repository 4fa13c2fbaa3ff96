/*
 * workpool.c - a few threads that run blocking calls which have no
 * asynchronous form in the backend.  Requests are indexed by tag, so the
 * pool allocates nothing per request.  Threads start on demand (up to
 * max_threads) and sleep on a condition variable when idle: this path is
 * for slow calls, where a wake-up's cost does not matter.
 *
 * An accept waits for readiness in slices of ACCEPT_SLICE_MS, checking for
 * cancellation between them, so that a blocking accept can be cancelled and
 * the pool destroyed without waiting for a client that never comes.  Other
 * calls run to their end (connect and fsync are bounded by the kernel).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "local.h"

enum { JOB_FREE = 0, JOB_QUEUED, JOB_RUNNING, JOB_DONE };
#define NO_JOB UINT32_MAX
#define ACCEPT_SLICE_MS 50
#define LOCK_SLICE_MIN_MS 1
#define LOCK_SLICE_MS 32

struct job {
	struct vos_req req;
	int64_t res;
	uint32_t next; /* queue or done list */
	uint8_t state;
	bool cancel;   /* set by cancel while RUNNING (accept, lock waits) */
};

struct vos__pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_cond_t idle_cond; /* signalled when nrunning drops to 0 */
	pthread_cond_t wait_cond; /* lock waits between tries: broadcast on
	                           * a cancel and when the pool stops */
	struct job *jobs;     /* [depth] */
	uint32_t depth;
	uint32_t q_head, q_tail; /* FIFO of queued jobs */
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
		pthread_cond_destroy(&p->wait_cond);
		free(p->jobs);
		free(p);
	}
}

/* Wait (lock not held) until the accept's socket is readable, or until
 * it is cancelled or the pool stops: then -ECANCELED.  0 when readable. */
static int accept_wait(struct vos__pool *p, struct job *j)
{
	for (;;) {
		struct pollfd pfd = { j->req.fd, POLLIN, 0 };
		bool stop;

		if (poll(&pfd, 1, ACCEPT_SLICE_MS) != 0)
			return 0; /* ready, or an error accept will report */
		pthread_mutex_lock(&p->lock);
		stop = j->cancel || p->stopping;
		pthread_mutex_unlock(&p->lock);
		if (stop)
			return -ECANCELED;
	}
}

/* A lock wait (F_SETLKW, F_OFD_SETLKW) as tries of the non-waiting
 * form, LOCK_SLICE_MIN_MS apart at first, doubling up to LOCK_SLICE_MS,
 * until the lock is taken, the call fails otherwise, or the request is
 * cancelled or the pool stops (-ECANCELED).  The kernel's own wait
 * cannot be stopped without a signal, and a library may not take one of
 * the program's; what this costs against the kernel's wait (no
 * -EDEADLK, no queueing behind other waiters, up to LOCK_SLICE_MS late)
 * is in doc/semantics.md. */
static int64_t lock_wait(struct vos__pool *p, struct job *j)
{
	unsigned ms = LOCK_SLICE_MIN_MS;

	for (;;) {
		int64_t res = vos__exec(&j->req, true);
		struct timespec until;
		bool stop;

		if (res != -EAGAIN && res != -EACCES)
			return res;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)ms * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&p->lock);
		while (!(stop = j->cancel || p->stopping) &&
		       pthread_cond_timedwait(&p->wait_cond, &p->lock,
					      &until) == 0)
			; /* another job's cancel: wait the slice out */
		pthread_mutex_unlock(&p->lock);
		if (stop)
			return -ECANCELED;
		if (ms < LOCK_SLICE_MS)
			ms *= 2;
	}
}

static void *worker(void *arg)
{
	struct vos__pool *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct job *j;
		uint32_t t;
		int64_t res;

		while (p->q_head == NO_JOB && !p->stopping) {
			p->nidle++;
			pthread_cond_wait(&p->cond, &p->lock);
			p->nidle--;
		}
		if (p->stopping)
			break;
		t = p->q_head;
		j = &p->jobs[t];
		p->nqueued--;
		p->q_head = j->next;
		if (p->q_head == NO_JOB)
			p->q_tail = NO_JOB;
		j->state = JOB_RUNNING;
		j->cancel = false;
		p->nrunning++;
		pthread_mutex_unlock(&p->lock);

		res = 0;
		if (j->req.op == VOS_OP_ACCEPT)
			res = accept_wait(p, j);
		if (j->req.op == VOS_OP_FCNTL_LOCK &&
		    vos__lock_waits(j->req.op_flags))
			res = lock_wait(p, j);
		else if (res == 0)
			res = vos__exec(&j->req, false);

		pthread_mutex_lock(&p->lock);
		if (--p->nrunning == 0)
			pthread_cond_broadcast(&p->idle_cond);
		if (p->stopping)
			break;
		j->res = res;
		j->state = JOB_DONE;
		j->next = p->done;
		p->done = t;
		if (p->notify_fd >= 0) {
			uint64_t one = 1;
			/* under the lock: destroy closes the fd under it too */
			if (write(p->notify_fd, &one, sizeof(one)) < 0) {
				/* full counter: the reader is awake anyway */
			}
		}
	}
	p->nthreads--;
	pool_unref_locked(p);
	return NULL;
}

struct vos__pool *vos__pool_create(uint32_t depth, unsigned max_threads,
				   int notify_fd)
{
	struct vos__pool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->jobs = calloc(depth, sizeof(*p->jobs));
	if (!p->jobs) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	pthread_cond_init(&p->idle_cond, NULL);
	pthread_cond_init(&p->wait_cond, NULL);
	p->depth = depth;
	p->q_head = p->q_tail = p->done = NO_JOB;
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

int vos__pool_cancel(struct vos__pool *p, uint32_t tag)
{
	int ret = -ENOENT;

	if (tag >= p->depth)
		return -ENOENT;
	pthread_mutex_lock(&p->lock);
	if (p->jobs[tag].state == JOB_RUNNING) {
		if (p->jobs[tag].req.op == VOS_OP_ACCEPT ||
		    p->jobs[tag].req.op == VOS_OP_FCNTL_LOCK) {
			/* accept_wait and lock_wait see it */
			p->jobs[tag].cancel = true;
			pthread_cond_broadcast(&p->wait_cond);
			ret = 0;
		} else {
			ret = -EALREADY;
		}
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
		p->jobs[tag].res = -ECANCELED;
		p->jobs[tag].state = JOB_DONE;
		p->jobs[tag].next = p->done;
		p->done = tag;
		ret = 0;
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
	pthread_cond_broadcast(&p->wait_cond);
	/* no call may write into the caller's memory after we return */
	while (p->nrunning > 0)
		pthread_cond_wait(&p->idle_cond, &p->lock);
	pool_unref_locked(p);
}
