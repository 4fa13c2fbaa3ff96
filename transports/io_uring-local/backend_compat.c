/*
 * backend_compat.c - ASYNC requests where io_uring cannot be used
 * (io_uring_disabled, a seccomp filter, an old kernel).
 *
 *   - sockets, pipes, character devices, eventfds...: the call is tried at
 *     once with a per-call "don't block" flag (MSG_DONTWAIT, RWF_NOWAIT); if
 *     it would block, it is parked until poll() says the fd is ready, then
 *     retried.  Where the fd has no RWF_NOWAIT, the request is parked first
 *     and the plain call made once the fd is ready.  An accept on a
 *     blocking socket waits for readiness the same way and is then run on
 *     a worker (accept has no per-call flag, and another process sharing
 *     the socket may take the connection first: the worker can afford to
 *     block, the caller's thread cannot).  connect on a blocking socket
 *     goes to a worker at once (bounded by the kernel's TCP timeouts);
 *   - poll requests and timeouts are parked too;
 *   - O_DIRECT reads and writes at an offset go to libaio (the kernel's AIO
 *     is asynchronous only for O_DIRECT: for buffered files io_submit()
 *     would do the I/O inside the call);
 *   - everything else goes to the worker pool.
 * The waiter sleeps in one ppoll() on the parked fds, the libaio eventfd
 * and the pool's eventfd, with the nearest timeout as its limit.  The set
 * holds each parked fd once, with the events of every request parked on
 * it: poll() refuses more entries than RLIMIT_NOFILE (EINVAL), and a
 * daemon may park far more requests than it has fds.  poll() is
 * O(parked fds) per wait: fine for a fallback, not for 10k connections.
 * For vos_ctx_fd() (sleep_fd) the same set is put into an epoll instance
 * made afresh for each sleep, with a timerfd for the nearest timeout:
 * O(parked fds) system calls per sleep, again fine for a fallback.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "local.h"

enum {
	PARK_RETRY,  /* retry with the no-wait flag when ready */
	PARK_READY,  /* when ready, make the plain call (no RWF_NOWAIT) */
	PARK_POOL,   /* when ready, hand to a worker (accept) */
	PARK_POLL,   /* a poll request: complete with revents */
	PARK_TIMER,  /* a timeout */
};

struct park {
	struct vos_req req;
	int64_t deadline; /* PARK_TIMER */
	short events;     /* PARK_RETRY, PARK_POLL */
	uint8_t kind;
};

struct compat_be {
	struct vos__local *l;
	io_context_t aio;
	int aio_efd;
	bool aio_ok;
	bool aio_tried;      /* libaio is set up on the first O_DIRECT call */
	struct iocb *iocbs;  /* per tag */
	uint8_t *in_aio;     /* per tag: 1 while libaio holds it */
	struct park *parked; /* [depth], unordered */
	uint32_t nparked;
	struct pollfd *pfds; /* [depth + 2]: two eventfds, then npfd parked
	                      * fds, each once, by fd (fill_pfds) */
	uint32_t npfd;
	struct io_event *events;
	uint32_t depth;
	int sleep_ep;        /* sleep_fd's set, or -1 */
	int timer_fd;        /* in it: the nearest timeout, or -1 */
	struct pollfd *sorted; /* [depth + 3]: the set, by fd */
};

static int aio_setup(struct compat_be *c)
{
	int ret;

	memset(&c->aio, 0, sizeof(c->aio));
	ret = io_setup((int)c->depth, &c->aio);
	if (ret < 0) {
		vos__log(VOS__LOG_DEBUG, "libaio io_setup: %s; O_DIRECT I/O "
			 "goes to worker threads", strerror(-ret));
		c->aio_ok = false;
		return 0;
	}
	c->aio_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->aio_efd < 0) {
		io_destroy(c->aio);
		c->aio_ok = false;
		return 0;
	}
	c->aio_ok = true;
	return 0;
}

static void c_free(struct compat_be *c)
{
	free(c->iocbs);
	free(c->in_aio);
	free(c->parked);
	free(c->pfds);
	free(c->events);
	free(c->sorted);
	if (c->sleep_ep >= 0)
		close(c->sleep_ep);
	if (c->timer_fd >= 0)
		close(c->timer_fd);
	free(c);
}

static int c_open(struct vos__local *l, void **priv)
{
	struct compat_be *c = calloc(1, sizeof(*c));
	uint32_t depth = l->host->queue_depth;

	if (!c)
		return -ENOMEM;
	c->l = l;
	c->depth = depth;
	c->aio_efd = -1;
	c->sleep_ep = c->timer_fd = -1;
	c->iocbs = calloc(depth, sizeof(*c->iocbs));
	c->in_aio = calloc(depth, 1);
	c->parked = calloc(depth, sizeof(*c->parked));
	c->pfds = calloc(depth + 2, sizeof(*c->pfds));
	c->events = calloc(depth, sizeof(*c->events));
	if (!c->iocbs || !c->in_aio || !c->parked || !c->pfds || !c->events) {
		c_free(c);
		return -ENOMEM;
	}
	/* libaio waits for later: io_destroy() costs ~30 ms (an RCU grace
	 * period), which a context that never does O_DIRECT I/O should not
	 * pay when it is destroyed */
	/* Without io_uring's punted path to compare with, a direct call is
	 * the fastest way to run a file read that cannot wait (the other
	 * choice is a thread hop). */
	l->punted_inline = true;
	*priv = c;
	return 0;
}

static void park(struct compat_be *c, const struct vos_req *r, uint8_t kind,
		 short events, int64_t deadline)
{
	struct park *p = &c->parked[c->nparked++];

	p->req = *r;
	p->kind = kind;
	p->events = events;
	p->deadline = deadline;
}

static void unpark(struct compat_be *c, uint32_t i)
{
	c->parked[i] = c->parked[--c->nparked];
}

static int submit_aio(struct compat_be *c, const struct vos_req *r)
{
	uint32_t tag = (uint32_t)r->user_data;
	struct iocb *cb = &c->iocbs[tag];
	void *buf = (void *)(uintptr_t)r->addr;
	long long off = (long long)r->off;
	int ret;

	switch (r->op) {
	case VOS_OP_PREAD:
		io_prep_pread(cb, r->fd, buf, r->len, off);
		break;
	case VOS_OP_PWRITE:
		io_prep_pwrite(cb, r->fd, buf, r->len, off);
		break;
	case VOS_OP_READV:
		io_prep_preadv(cb, r->fd, buf, (int)r->len, off);
		break;
	case VOS_OP_WRITEV:
		io_prep_pwritev(cb, r->fd, buf, (int)r->len, off);
		break;
	default:
		return -EINVAL;
	}
	io_set_eventfd(cb, c->aio_efd);
	cb->data = (void *)(uintptr_t)tag;
	ret = io_submit(c->aio, 1, &cb);
	if (ret != 1)
		return ret < 0 ? ret : -EAGAIN;
	c->in_aio[tag] = 1;
	return 0;
}

/* A recv with MSG_WAITALL on a blocking stream waits for all it asked
 * (recv(2)); tried without waiting it says what had come: carry on with
 * the rest (carry.c), once; a request already carried on is carry.c's. */
static bool waitall_short(struct compat_be *c, const struct vos_req *r,
			  int64_t res, uint8_t fdc)
{
	uint32_t tag = (uint32_t)r->user_data;

	if (r->op != VOS_OP_RECV || !(r->op_flags & MSG_WAITALL) ||
	    (c->l->carry && c->l->carry[tag].active))
		return false;
	return vos__carry_try(c->l, r, res, fdc);
}

static int c_submit(void *priv, const struct vos_req *r, uint8_t fdc)
{
	struct compat_be *c = priv;
	uint32_t tag = (uint32_t)r->user_data;
	uint8_t kind = fdc & VOS__FDC_KIND;
	int64_t res;

	if (r->op == VOS_OP_TIMEOUT) {
		park(c, r, PARK_TIMER, 0, vos__now_ns() + (int64_t)r->off);
		return 0;
	}
	if (r->op == VOS_OP_POLL) {
		/* (a multishot request's poll armed again right after its
		 * run waits for the next reap: no nested run) */
		res = (fdc & VOS__FDC_DEFER) ? -EAGAIN : vos__exec(r, true);
		if (res == -EAGAIN)
			park(c, r, PARK_POLL, (short)r->op_flags, 0);
		else
			vos__local_complete(c->l, tag, res);
		return 0;
	}
	if (kind == VOS__FD_STREAM && (fdc & VOS__FDC_NONBLOCK)) {
		/* the program asked for -EAGAIN rather than waiting */
		vos__local_complete(c->l, tag, vos__exec(r, false));
		return 0;
	}
	if (kind == VOS__FD_STREAM && r->op == VOS_OP_ACCEPT) {
		park(c, r, PARK_POOL, POLLIN, 0);
		return 0;
	}
	/* data on a stream (at an offset the call itself says -ESPIPE) */
	if (kind == VOS__FD_STREAM && vos__op_moves_data(r->op)) {
		bool rd = vos__op_is_read(r->op);
		uint8_t no_nowait = rd ? VOS__FDC_NO_NOWAIT_RD
				       : VOS__FDC_NO_NOWAIT_WR;

		res = (fdc & no_nowait) ? -EOPNOTSUPP : vos__exec(r, true);
		if (res == -EOPNOTSUPP) {
			vos__fdclass_add(&c->l->fdc, r->fd, no_nowait);
			park(c, r, PARK_READY, rd ? POLLIN : POLLOUT, 0);
		} else if (res == -EAGAIN) {
			park(c, r, PARK_RETRY, rd ? POLLIN : POLLOUT, 0);
		} else if (!waitall_short(c, r, res, fdc)) {
			vos__local_complete(c->l, tag, res);
		}
		return 0;
	}
	if (kind == VOS__FD_DIRECT && !c->aio_tried) {
		c->aio_tried = true;
		aio_setup(c);
	}
	if (kind == VOS__FD_DIRECT && c->aio_ok && r->op != VOS_OP_READ &&
	    r->op != VOS_OP_WRITE && vos__op_is_rw(r->op) &&
	    !((r->op == VOS_OP_READV || r->op == VOS_OP_WRITEV) &&
	      r->off == VOS_OFF_CURRENT)) {
		if (submit_aio(c, r) == 0)
			return 0;
		/* libaio refused (e.g. -EAGAIN): a worker does it */
	}
	vos__local_to_pool(c->l, r);
	return 0;
}

static int c_cancel(void *priv, const struct vos_req *r, uint32_t target)
{
	struct compat_be *c = priv;

	for (uint32_t i = 0; i < c->nparked; i++) {
		if ((uint32_t)c->parked[i].req.user_data == target) {
			unpark(c, i);
			vos__local_complete(c->l, target, -ECANCELED);
			vos__local_complete(c->l, (uint32_t)r->user_data, 0);
			return 0;
		}
	}
	if (target < c->depth && c->in_aio[target]) {
		struct io_event ev;

		if (io_cancel(c->aio, &c->iocbs[target], &ev) == 0) {
			c->in_aio[target] = 0;
			vos__local_complete(c->l, target, -ECANCELED);
			vos__local_complete(c->l, (uint32_t)r->user_data, 0);
			return 0;
		}
		vos__local_complete(c->l, (uint32_t)r->user_data, -EALREADY);
		return 0;
	}
	vos__local_complete(c->l, (uint32_t)r->user_data, -ENOENT);
	return 0;
}

static void c_flush(void *priv)
{
	(void)priv;
}

/* By fd, so that the requests parked on one fd become one entry. */
static int cmp_pfd(const void *a, const void *b)
{
	const struct pollfd *x = a, *y = b;

	return (x->fd > y->fd) - (x->fd < y->fd);
}

/* What poll() said of p's fd, as a poll of p alone would have said it:
 * the events it asked for and those poll() always reports. */
static short revents_of(const struct compat_be *c, const struct park *p)
{
	struct pollfd key = { .fd = p->req.fd };
	const struct pollfd *e = bsearch(&key, c->pfds + 2, c->npfd,
					 sizeof(key), cmp_pfd);

	return e ? (short)(e->revents & (p->events | POLLERR | POLLHUP |
					 POLLNVAL)) : 0;
}

/* Retry or finish parked requests whose fds poll() found ready (revents
 * in c->pfds as fill_pfds() made it, before this call). */
static int settle_ready(struct compat_be *c)
{
	int n = 0;

	/* downwards: unpark() moves the last entry into the hole, and that
	 * one has been looked at already */
	for (uint32_t i = c->nparked; i-- > 0;) {
		struct park *p = &c->parked[i];
		uint32_t tag = (uint32_t)p->req.user_data;
		short rev;
		int64_t res;

		if (p->kind == PARK_TIMER || !(rev = revents_of(c, p)))
			continue;
		if (p->kind == PARK_POLL) {
			/* a closed fd: -EBADF, as io_uring says it */
			res = (rev & POLLNVAL) ? -EBADF : (uint16_t)rev;
		} else if (p->kind == PARK_POOL) {
			struct vos_req req = p->req;

			unpark(c, i);
			vos__local_to_pool(c->l, &req);
			continue;
		} else {
			struct vos_req req = p->req;

			res = vos__exec(&req, p->kind == PARK_RETRY);
			if (res == -EAGAIN)
				continue;
			unpark(c, i);
			if (!waitall_short(c, &req, res,
					   vos__fdclass_get(&c->l->fdc, req.fd)))
				vos__local_complete(c->l, tag, res);
			n++;
			continue;
		}
		unpark(c, i);
		vos__local_complete(c->l, tag, res);
		n++;
	}
	return n;
}

/* Complete expired timeouts, earliest deadline first (several can expire
 * between two looks when the process was not scheduled for a while). */
static int settle_timers(struct compat_be *c)
{
	int64_t now = vos__now_ns();
	int n = 0;

	for (;;) {
		uint32_t first = UINT32_MAX;

		for (uint32_t i = 0; i < c->nparked; i++)
			if (c->parked[i].kind == PARK_TIMER &&
			    c->parked[i].deadline <= now &&
			    (first == UINT32_MAX ||
			     c->parked[i].deadline < c->parked[first].deadline))
				first = i;
		if (first == UINT32_MAX)
			return n;
		{
			uint32_t tag = (uint32_t)c->parked[first].req.user_data;

			unpark(c, first);
			vos__local_complete(c->l, tag, 0);
			n++;
		}
	}
}

static int settle_parked(struct compat_be *c)
{
	int n = settle_ready(c);

	return n + settle_timers(c);
}

static int reap_aio(struct compat_be *c)
{
	struct timespec zero = { 0, 0 };
	int got, n = 0;

	if (!c->aio_ok)
		return 0;
	do {
		got = io_getevents(c->aio, 0, (long)c->depth, c->events, &zero);
		for (int i = 0; i < got; i++) {
			uint32_t tag = (uint32_t)(uintptr_t)c->events[i].data;
			long res = (long)c->events[i].res;

			if (tag >= c->depth || !c->in_aio[tag])
				continue;
			c->in_aio[tag] = 0;
			vos__local_complete(c->l, tag, res);
			n++;
		}
	} while (got == (int)c->depth);
	return n;
}

/* Fill pfds: [0] pool eventfd, [1] aio eventfd, [2..2 + npfd) the parked
 * fds, each once with the events of all its requests, sorted by fd.
 * Returns the nearest timer deadline, or -1. */
static int64_t fill_pfds(struct compat_be *c)
{
	struct pollfd *set = c->pfds + 2;
	int64_t nearest = -1;
	uint32_t n = 0, m = 0;

	c->pfds[0] = (struct pollfd){ c->l->pool_efd, POLLIN, 0 };
	c->pfds[1] = (struct pollfd){ c->aio_ok ? c->aio_efd : -1, POLLIN, 0 };
	for (uint32_t i = 0; i < c->nparked; i++) {
		struct park *p = &c->parked[i];

		if (p->kind == PARK_TIMER) {
			if (nearest < 0 || p->deadline < nearest)
				nearest = p->deadline;
		} else {
			set[n++] = (struct pollfd){ p->req.fd, p->events, 0 };
		}
	}
	if (n > 1)
		qsort(set, n, sizeof(*set), cmp_pfd);
	for (uint32_t i = 0; i < n; i++) {
		if (m && set[m - 1].fd == set[i].fd)
			set[m - 1].events |= set[i].events;
		else
			set[m++] = set[i];
	}
	c->npfd = m;
	return nearest;
}

static int c_reap(void *priv)
{
	struct compat_be *c = priv;
	int n = reap_aio(c);

	if (c->nparked) {
		fill_pfds(c);
		if (poll(c->pfds + 2, c->npfd, 0) >= 0)
			n += settle_parked(c);
	}
	return n;
}

static void drain_efd(int fd)
{
	uint64_t v;

	if (fd >= 0 && read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing to drain */
	}
}

static int c_wait(void *priv, int64_t timeout_ns)
{
	struct compat_be *c = priv;
	int64_t nearest = fill_pfds(c), limit = timeout_ns;
	struct timespec ts, *tsp = NULL;
	int ret;

	if (nearest >= 0) {
		int64_t until = nearest - vos__now_ns();

		if (until < 0)
			until = 0;
		if (limit < 0 || until < limit)
			limit = until;
	}
	if (limit >= 0) {
		ts.tv_sec = limit / 1000000000;
		ts.tv_nsec = limit % 1000000000;
		tsp = &ts;
	}
	ret = ppoll(c->pfds, c->npfd + 2, tsp, NULL);
	if (ret < 0)
		return -errno;
	if (c->pfds[0].revents)
		drain_efd(c->pfds[0].fd);
	if (c->pfds[1].revents)
		drain_efd(c->aio_efd);
	/* 0 is fine: the core checks its deadline and calls again */
	return reap_aio(c) + settle_parked(c);
}

/* The set to sleep on: the pool's and libaio's eventfds, a timerfd for
 * the nearest timeout, each parked fd (with the events of every request
 * parked on it). */
static int c_sleep_fd(void *priv)
{
	struct compat_be *c = priv;
	int64_t nearest = fill_pfds(c);
	struct itimerspec t = { { 0, 0 }, { 0, 0 } };
	uint32_t n = 0;
	int ep;

	if (c->sleep_ep >= 0)
		close(c->sleep_ep); /* the last sleep's set */
	c->sleep_ep = -1;
	if (nearest >= 0 && nearest <= vos__now_ns())
		return -EAGAIN;
	if (c->timer_fd < 0) {
		c->timer_fd = timerfd_create(CLOCK_MONOTONIC,
					     TFD_NONBLOCK | TFD_CLOEXEC);
		if (c->timer_fd < 0)
			return -errno;
	}
	if (!c->sorted) {
		c->sorted = calloc(c->depth + 3, sizeof(*c->sorted));
		if (!c->sorted)
			return -ENOMEM;
	}
	if (nearest >= 0) {
		t.it_value.tv_sec = nearest / 1000000000;
		t.it_value.tv_nsec = nearest % 1000000000;
	}
	timerfd_settime(c->timer_fd, TFD_TIMER_ABSTIME, &t, NULL);
	for (uint32_t i = 0; i < c->npfd + 2; i++)
		if (c->pfds[i].fd >= 0)
			c->sorted[n++] = c->pfds[i];
	c->sorted[n++] = (struct pollfd){ c->timer_fd, POLLIN, 0 };
	qsort(c->sorted, n, sizeof(*c->sorted), cmp_pfd);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		return -errno;
	for (uint32_t i = 0; i < n;) {
		struct epoll_event e = { .events = 0 };
		int fd = c->sorted[i].fd;

		while (i < n && c->sorted[i].fd == fd)
			e.events |= (uint16_t)c->sorted[i++].events;
		e.data.fd = fd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) < 0) {
			/* (a closed fd: its request is settled by reap()) */
			close(ep);
			return -EAGAIN;
		}
	}
	c->sleep_ep = ep;
	return ep;
}

static void c_woke(void *priv)
{
	struct compat_be *c = priv;

	/* what woke the sleeper stays readable until drained; reap() then
	 * takes everything that is ready */
	drain_efd(c->l->pool_efd);
	if (c->aio_ok)
		drain_efd(c->aio_efd);
}

static void c_close(void *priv, bool inherited)
{
	struct compat_be *c = priv;

	if (c->aio_ok) {
		/* io_destroy waits for the I/O in flight; an AIO context is not
		 * inherited, so a child has nothing to destroy */
		if (!inherited)
			io_destroy(c->aio);
		close(c->aio_efd);
	}
	c_free(c);
}

static int c_after_fork(void *priv)
{
	struct compat_be *c = priv;

	/* the AIO context is not inherited; the eventfd is, shared */
	if (c->aio_ok)
		close(c->aio_efd);
	c->aio_efd = -1;
	c->aio_ok = false;
	/* the parent's sets and timer: ours are made when needed */
	if (c->sleep_ep >= 0)
		close(c->sleep_ep);
	if (c->timer_fd >= 0)
		close(c->timer_fd);
	c->sleep_ep = c->timer_fd = -1;
	c->aio_tried = false; /* set up again on first use */
	memset(c->in_aio, 0, c->depth);
	c->nparked = c->npfd = 0;
	return 0;
}

const struct vos__backend vos__backend_compat = {
	.name = "compat",
	.open = c_open,
	.submit = c_submit,
	.cancel = c_cancel,
	.flush = c_flush,
	.reap = c_reap,
	.wait = c_wait,
	.sleep_fd = c_sleep_fd,
	.woke = c_woke,
	.close = c_close,
	.after_fork = c_after_fork,
};
