/*
 * multishot.c - multishot accept and recv on any backend: one request,
 * a completion per connection or per received run of bytes.
 *
 * Both are built on readiness, the same way on io_uring and on the compat
 * backend: the request waits in the backend as a one-shot POLLIN poll
 * under its own tag (an idle connection holds a poll and no buffer); when
 * the poll fires, the accepts or recvs run here without blocking, up to
 * MULTI_BURST of them (each becomes a completion with VOS_CQE_F_MORE; a
 * recv fills a buffer taken from the request's pool at that moment), and
 * the poll is armed again, deferred (VOS__FDC_DEFER: the compat backend
 * would otherwise run a ready poll at once, one call deeper each burst).
 * An accept on a blocking listening socket runs on the worker pool
 * instead (another process sharing the socket may take the connection
 * between the poll and the accept: a worker may block, the caller's
 * thread may not), and the poll is armed again when it returns.
 *
 * A multishot request ends with one completion without VOS_CQE_F_MORE:
 * an error, 0 at the end of a stream, -ENOBUFS when data came and no
 * buffer was free, or -ECANCELED once cancelled (a cancel also stops it
 * between its poll and its next run; an accept the worker had already
 * made comes as that last completion, a new fd).  A close of its fd
 * through the context is preceded by a cancel of it (the core's, for
 * every transport), so its poll never outlives the file.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "local.h"

/* Accepts or recvs per wake-up of one request, before its poll is armed
 * again (so one busy connection cannot starve the others of a reap). */
#define MULTI_BURST 16

enum { PHASE_POLL = 1, PHASE_POOL };

static void post(struct vos__local *l, uint32_t tag, int64_t res,
		 uint32_t flags)
{
	l->host->post(l->host, tag, res, flags);
}

/* The request ends with res. */
static void finish(struct vos__local *l, uint32_t tag, int64_t res)
{
	l->multi[tag].phase = 0;
	l->host->complete(l->host, tag, res);
}

/* Wait for the next readiness in the backend. */
static void arm(struct vos__local *l, uint32_t tag, bool defer)
{
	struct vos__multi *m = &l->multi[tag];
	struct vos_req p;
	int ret;

	vos_prep_poll(&p, m->fd, POLLIN);
	p.user_data = tag;
	m->phase = PHASE_POLL;
	l->where[tag] = VOS__WHERE_BACKEND;
	ret = l->be->submit(l->be_priv, &p,
			    (uint8_t)(m->fdc | (defer ? VOS__FDC_DEFER : 0)));
	if (ret < 0)
		finish(l, tag, ret);
}

bool vos__multi_start(struct vos__local *l, const struct vos_req *r)
{
	uint32_t tag = (uint32_t)r->user_data;
	struct vos__multi *m;
	int type = 0;
	socklen_t tl = sizeof(type);

	if (!vos__op_has(r->op, VOS__OPF_MULTI))
		return false;
	if (!l->multi) {
		l->multi = calloc(l->host->queue_depth, sizeof(*l->multi));
		if (!l->multi) {
			l->host->complete(l->host, tag, -ENOMEM);
			return true;
		}
	}
	m = &l->multi[tag];
	m->op = r->op;
	m->fd = r->fd;
	m->flags = r->op_flags;
	m->len = r->len;
	m->group = (uint16_t)r->arg;
	m->cancelled = false;
	m->fdc = vos__fdclass_get(&l->fdc, r->fd);
	if ((m->fdc & VOS__FDC_KIND) == VOS__FD_UNKNOWN) {
		l->host->complete(l->host, tag, -EBADF);
		return true;
	}
	/* a zero-length datagram is a message; on a stream, the end */
	m->stream = getsockopt(r->fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
		    type == SOCK_STREAM;
	arm(l, tag, false);
	return true;
}

/* The poll fired: accept without blocking, up to MULTI_BURST, then arm
 * again (or hand the accept to the pool). */
static void run_accept(struct vos__local *l, uint32_t tag)
{
	struct vos__multi *m = &l->multi[tag];

	if (!(m->fdc & VOS__FDC_NONBLOCK)) {
		/* a blocking listener: the accept may block (see above) */
		struct vos_req a;

		vos_prep_accept(&a, m->fd, NULL, NULL, (int)m->flags);
		a.user_data = tag;
		m->phase = PHASE_POOL;
		vos__local_to_pool(l, &a);
		return;
	}
	for (int i = 0; i < MULTI_BURST; i++) {
		int fd = accept4(m->fd, NULL, NULL, (int)m->flags);

		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			finish(l, tag, -errno);
			return;
		}
		vos__fdclass_forget(&l->fdc, fd);
		post(l, tag, fd, VOS_CQE_F_MORE);
	}
	arm(l, tag, true);
}

/* No free buffer: what is there decides how the request goes on. */
static void no_buffer(struct vos__local *l, uint32_t tag)
{
	struct vos__multi *m = &l->multi[tag];
	char c;
	ssize_t n = recv(m->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n > 0)
		finish(l, tag, -ENOBUFS); /* data, and nowhere to put it */
	else if (n == 0 && m->stream)
		finish(l, tag, 0); /* the end of the stream */
	else if (n == 0 || errno == EAGAIN || errno == EWOULDBLOCK)
		finish(l, tag, -ENOBUFS); /* an empty datagram needs one too */
	else
		finish(l, tag, -errno);
}

static void run_recv(struct vos__local *l, uint32_t tag)
{
	struct vos__multi *m = &l->multi[tag];

	for (int i = 0; i < MULTI_BURST; i++) {
		uint32_t size;
		void *buf;
		int64_t bid = l->host->buf_take(l->host, m->group, &buf, &size);
		ssize_t n;

		if (bid < 0) {
			no_buffer(l, tag);
			return;
		}
		if (m->len && m->len < size)
			size = m->len;
		n = recv(m->fd, buf, size, (int)m->flags | MSG_DONTWAIT);
		if (n > 0 || (n == 0 && !m->stream)) {
			/* (the core hands the buffer to the program) */
			post(l, tag, n, VOS_CQE_F_MORE | VOS_CQE_F_BUFFER |
					    ((uint32_t)bid
					     << VOS_CQE_BUFFER_SHIFT));
			continue;
		}
		l->host->buf_untake(l->host, m->group, (uint32_t)bid);
		if (n == 0) {
			finish(l, tag, 0); /* the end of the stream */
			return;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		finish(l, tag, -errno);
		return;
	}
	arm(l, tag, true);
}

bool vos__multi_done(struct vos__local *l, uint32_t tag, int64_t res)
{
	struct vos__multi *m;

	if (!l->multi || tag >= l->host->queue_depth || !l->multi[tag].phase)
		return false;
	m = &l->multi[tag];
	if (m->phase == PHASE_POOL) {
		/* a blocking listener's accept came back from the pool */
		if (res >= 0) {
			vos__fdclass_forget(&l->fdc, (int)res);
			if (m->cancelled) {
				/* it is the program's: the last one */
				finish(l, tag, res);
				return true;
			}
			post(l, tag, res, VOS_CQE_F_MORE);
			arm(l, tag, true);
		} else {
			finish(l, tag, m->cancelled ? -ECANCELED : res);
		}
		return true;
	}
	/* PHASE_POLL: the poll's result */
	if (res < 0 || m->cancelled) {
		finish(l, tag, m->cancelled ? -ECANCELED : res);
		return true;
	}
	if (m->op == VOS_OP_ACCEPT_MULTI)
		run_accept(l, tag);
	else
		run_recv(l, tag);
	return true;
}

/* Stop tag's request where it waits (its last completion comes from
 * there, -ECANCELED; a cancel the backend or the pool makes of it is the
 * transport's own, its answer dropped). */
static void stop(struct vos__local *l, uint32_t tag)
{
	struct vos__multi *m = &l->multi[tag];
	struct vos_req c;

	m->cancelled = true;
	if (m->phase == PHASE_POOL) {
		if (l->pool)
			vos__pool_cancel(l->pool, tag);
		return;
	}
	vos_prep_cancel(&c, tag);
	c.user_data = VOS__QUIET_TAG;
	if (l->be->cancel(l->be_priv, &c, tag) == 0)
		l->be->flush(l->be_priv); /* now: a close may follow */
}

bool vos__multi_cancel(struct vos__local *l, uint32_t target)
{
	if (!l->multi || target >= l->host->queue_depth ||
	    !l->multi[target].phase)
		return false;
	if (!l->multi[target].cancelled)
		stop(l, target);
	return true;
}

void vos__multi_free(struct vos__local *l)
{
	free(l->multi);
	l->multi = NULL;
}
