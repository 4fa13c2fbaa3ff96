/*
 * ctx_fd.c - a context inside another event loop: vos_ctx_fd() and
 * vos_wait_any().
 *
 * The fd a program gets is an epoll instance of the context's own that
 * holds three things: an eventfd the core keeps readable while completions
 * wait in its queue (or linked requests wait to be started), a timerfd set
 * to the soonest request deadline (the core enforces deadlines when it is
 * called), and the fd the transport would sleep on (its sleep_fd(): the
 * io_uring ring, a service's doorbell, the router's set of them).  The core *arms* it at
 * the end of every call into the context that may have changed what is in
 * flight (vos_submit, vos_wait, a blocking wrapper): with nothing queued,
 * it asks the transport to get ready to sleep (a ring transport then sets
 * NEED_WAKEUP, so the service rings the doorbell when it publishes) and
 * puts that fd into the set.  At the start of the next call it tells the
 * transport it is awake again (woke()), as the transport interface asks.
 *
 * So the fd is readable exactly when vos_wait(ctx, ..., 0) may return a
 * completion.  A transport that cannot sleep on an fd (none of the
 * built-in ones) leaves it readable while requests are in flight: the
 * program then polls.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static void ev_set(struct vos__impl *impl, bool on)
{
	uint64_t v = 1;

	if (impl->cfd_ev_on == on)
		return;
	if (on) {
		if (write(impl->cfd_ev, &v, sizeof(v)) < 0) {
			/* EAGAIN: the counter is full, so it is readable */
		}
	} else if (read(impl->cfd_ev, &v, sizeof(v)) < 0) {
		/* EAGAIN: it was not readable */
	}
	impl->cfd_ev_on = on;
}

/* Put the transport's sleep fd into the set (or keep it there). */
static void watch(struct vos__impl *impl, int fd)
{
	struct epoll_event e = { .events = EPOLLIN };

	if (impl->cfd_tfd >= 0 && impl->cfd_tfd != fd)
		epoll_ctl(impl->cfd_ep, EPOLL_CTL_DEL, impl->cfd_tfd, NULL);
	e.data.fd = fd;
	/* MOD first: the number may name a new file (a service attached
	 * again) whose entry the kernel dropped when the old one closed */
	if (epoll_ctl(impl->cfd_ep, EPOLL_CTL_MOD, fd, &e) < 0 &&
	    epoll_ctl(impl->cfd_ep, EPOLL_CTL_ADD, fd, &e) < 0) {
		impl->cfd_tfd = -1;
		ev_set(impl, true); /* cannot watch it: say "look" */
		return;
	}
	impl->cfd_tfd = fd;
}

/* Take the transport's fd out of the set (it was readied to sleep no
 * more: it may stay readable with nothing for us). */
static void unwatch(struct vos__impl *impl)
{
	if (impl->cfd_tfd >= 0)
		epoll_ctl(impl->cfd_ep, EPOLL_CTL_DEL, impl->cfd_tfd, NULL);
	impl->cfd_tfd = -1;
}

void vos__cfd_awake(struct vos__impl *impl)
{
	if (impl->cfd_armed) {
		impl->cfd_armed = false;
		impl->ops->woke(impl->priv);
	}
}

/* The timer: the soonest request deadline, or none. */
static void deadline_timer(struct vos__impl *impl)
{
	struct itimerspec t = { { 0, 0 }, { 0, 0 } };

	if (!impl->ndeadlines && !impl->cfd_tm_on)
		return;
	if (impl->ndeadlines) {
		int64_t d = impl->next_deadline > 0 ? impl->next_deadline : 1;

		t.it_value.tv_sec = d / 1000000000;
		t.it_value.tv_nsec = d % 1000000000;
	}
	/* (setting it also clears an expiry nobody read) */
	timerfd_settime(impl->cfd_tm, TFD_TIMER_ABSTIME, &t, NULL);
	impl->cfd_tm_on = impl->ndeadlines != 0;
}

void vos__cfd_arm(struct vos__impl *impl)
{
	int fd;

	vos__cfd_awake(impl);
	deadline_timer(impl);
	if (impl->pend_tail != impl->pend_head || impl->nready) {
		ev_set(impl, true);
		return;
	}
	if (impl->in_flight == 0) {
		/* nothing can complete */
		unwatch(impl);
		ev_set(impl, false);
		return;
	}
	fd = impl->ops->sleep_fd ? impl->ops->sleep_fd(impl->priv)
				 : -EOPNOTSUPP;
	if (fd < 0) {
		/* -EAGAIN: something is ready now; otherwise the transport
		 * cannot sleep on an fd: either way, "look" */
		unwatch(impl);
		ev_set(impl, true);
		return;
	}
	impl->cfd_armed = impl->ops->woke != NULL;
	ev_set(impl, false);
	watch(impl, fd);
}

int vos_ctx_fd(struct vos_ctx *ctx)
{
	struct vos__impl *impl;
	struct epoll_event e = { .events = EPOLLIN };
	int ret = vos__impl_get(ctx, &impl);

	if (ret < 0)
		return ret;
	if (impl->cfd_ep < 0) {
		int ep = epoll_create1(EPOLL_CLOEXEC);
		int ev = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		int tm = timerfd_create(CLOCK_MONOTONIC,
					TFD_NONBLOCK | TFD_CLOEXEC);
		struct epoll_event e2 = { .events = EPOLLIN };

		e.data.fd = ev;
		e2.data.fd = tm;
		if (ep < 0 || ev < 0 || tm < 0 ||
		    epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e) < 0 ||
		    epoll_ctl(ep, EPOLL_CTL_ADD, tm, &e2) < 0) {
			ret = -errno;
			if (ep >= 0)
				close(ep);
			if (ev >= 0)
				close(ev);
			if (tm >= 0)
				close(tm);
			return ret;
		}
		impl->cfd_ep = ep;
		impl->cfd_ev = ev;
		impl->cfd_tm = tm;
		impl->cfd_ev_on = impl->cfd_tm_on = false;
		impl->cfd_tfd = -1;
	}
	vos__cfd_arm(impl);
	return impl->cfd_ep;
}

void vos__cfd_close(struct vos__impl *impl)
{
	if (impl->cfd_ep >= 0) {
		close(impl->cfd_ep);
		close(impl->cfd_ev);
		close(impl->cfd_tm);
	}
	impl->cfd_ep = impl->cfd_ev = impl->cfd_tm = impl->cfd_tfd = -1;
	impl->cfd_armed = false;
	impl->cfd_ev_on = impl->cfd_tm_on = false;
}

int vos_wait_any(struct vos_ctx *const *ctxs, unsigned n, int64_t timeout_ns)
{
	struct pollfd p[VOS_WAIT_ANY_MAX];
	struct timespec ts, *tsp = NULL;
	int64_t deadline = -1;
	int ret;

	if (!ctxs || n == 0 || n > VOS_WAIT_ANY_MAX)
		return -EINVAL;
	if (timeout_ns >= 0)
		deadline = vos__now_ns() + timeout_ns;
	for (;;) {
		unsigned busy = 0;

		for (unsigned i = 0; i < n; i++) {
			struct vos__impl *impl;
			int fd;

			ret = vos__impl_get(ctxs[i], &impl);
			if (ret < 0)
				return ret;
			if (impl->outstanding == 0) {
				p[i] = (struct pollfd){ -1, 0, 0 };
				continue;
			}
			busy++;
			/* what is ready now, without waiting */
			if (impl->pend_tail == impl->pend_head) {
				vos__cfd_awake(impl);
				vos__reap_now(impl);
			}
			if (impl->pend_tail != impl->pend_head) {
				vos__cfd_arm(impl);
				return (int)i;
			}
			fd = vos_ctx_fd(ctxs[i]);
			if (fd < 0)
				return fd;
			p[i] = (struct pollfd){ fd, POLLIN, 0 };
		}
		if (!busy)
			return -EAGAIN;
		if (deadline >= 0) {
			int64_t left = deadline - vos__now_ns();

			if (left < 0)
				left = 0;
			ts.tv_sec = left / 1000000000;
			ts.tv_nsec = left % 1000000000;
			tsp = &ts;
		}
		ret = ppoll(p, n, tsp, NULL);
		if (ret < 0)
			return -errno;
		if (ret == 0)
			return -ETIME;
		/* something may be ready: look again (a readable fd that
		 * delivers nothing, e.g. a completion for an expired request,
		 * goes round once more) */
	}
}
