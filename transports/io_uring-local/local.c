/*
 * local.c - the io_uring-local transport: requests run on this kernel,
 * in this process.  This file is the transport's face to the core (the
 * vtable), the submit loop that applies the router's decisions, and the
 * choice of backend.
 *
 * Options (vos_config.options or $VOS_TRANSPORT_OPTIONS, "k=v,k=v"):
 *   backend=auto|uring|compat   default auto ($VOS_LOCAL_BACKEND overrides
 *                               auto): io_uring if it works, else compat
 *                               with one log line saying why;
 *   workers=N                   worker threads at most (default 4, 1..64).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "internal.h"
#include "local.h"

#define DEFAULT_WORKERS 4
#define MAX_WORKERS 64

struct options {
	char backend[16];
	unsigned workers;
};

static int parse_options(const char *s, struct options *o)
{
	strcpy(o->backend, "auto");
	o->workers = DEFAULT_WORKERS;
	while (s && *s) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		char item[64], *eq;

		if (len == 0 || len >= sizeof(item))
			return -EINVAL;
		memcpy(item, s, len);
		item[len] = '\0';
		eq = strchr(item, '=');
		if (!eq)
			return -EINVAL;
		*eq++ = '\0';
		if (strcmp(item, "backend") == 0) {
			if (strcmp(eq, "auto") && strcmp(eq, "uring") &&
			    strcmp(eq, "compat"))
				return -EINVAL;
			strcpy(o->backend, eq);
		} else if (strcmp(item, "workers") == 0) {
			char *e;
			long v = strtol(eq, &e, 10);

			if (*e || v < 1 || v > MAX_WORKERS)
				return -EINVAL;
			o->workers = (unsigned)v;
		} else {
			return -EINVAL;
		}
		s = end ? end + 1 : NULL;
	}
	if (strcmp(o->backend, "auto") == 0) {
		const char *env = getenv("VOS_LOCAL_BACKEND");

		if (env && (strcmp(env, "uring") == 0 ||
			    strcmp(env, "compat") == 0))
			strcpy(o->backend, env);
	}
	return 0;
}

void vos__local_complete(struct vos__local *l, uint32_t tag, int64_t res)
{
	if (tag >= l->host->queue_depth)
		return; /* VOS__QUIET_TAG: the transport's own cancel */
	if (vos__multi_done(l, tag, res))
		return; /* a multishot request's poll or accept */
	if (vos__carry_done(l, tag, res))
		return; /* the rest of a short file read or write */
	/* a new file under a number we may have seen before (for fcntl
	 * other than F_DUPFD res is no fd: forgetting it is harmless) */
	if (res >= 0 &&
	    vos__op_has(l->op_of[tag], VOS__OPF_NEWFD | VOS__OPF_NEWFD_DUP))
		vos__fdclass_forget(&l->fdc, (int)res);
	l->host->complete(l->host, tag, res);
}

static void pool_done(void *arg, uint32_t tag, int64_t res)
{
	vos__local_complete(arg, tag, res);
}

void vos__local_to_pool(struct vos__local *l, const struct vos_req *req)
{
	uint32_t tag = (uint32_t)req->user_data;
	int ret = -ENOMEM;

	if (!l->pool)
		l->pool = vos__pool_create(l->host->queue_depth,
					   l->max_workers, l->pool_efd);
	if (l->pool)
		ret = vos__pool_push(l->pool, req);
	if (ret < 0) {
		vos__local_complete(l, tag, ret);
		return;
	}
	l->where[tag] = VOS__WHERE_POOL;
}

static void run_inline(struct vos__local *l, const struct vos_req *r)
{
	uint32_t tag = (uint32_t)r->user_data;
	int gone = vos__op_closes_fd(r); /* close, or dup2/dup3's newfd */
	int64_t res;

	/* a dup that will fail (oldfd not open) leaves newfd alone */
	if (r->op == VOS_OP_DUP3 && gone >= 0 && fcntl(r->fd, F_GETFD) < 0)
		gone = -1;

	if (vos__op_sets_fl(r))
		vos__fdclass_forget(&l->fdc, r->fd);
	if (gone >= 0) {
		/* what was submitted on the fd takes its file before the
		 * number is free (or names another file): queued writes and
		 * prepared SQEs go in now; nothing carried on sends another
		 * piece to it */
		vos__fdclass_forget(&l->fdc, gone);
		vos__order_flush(l, gone);
		vos__carry_orphan(l, gone);
		l->be->flush(l->be_priv);
	}
	if (vos__op_makes_pair(r->op)) {
		/* two new files under numbers we may have seen before:
		 * forgotten before the program learns them */
		int p[2];

		res = vos__pair_make(r, p);
		if (res == 0) {
			vos__fdclass_forget(&l->fdc, p[0]);
			vos__fdclass_forget(&l->fdc, p[1]);
			res = vos__pair_give(r, p);
		}
	} else {
		res = vos__exec(r, false);
	}
	vos__local_complete(l, tag, res);
}

static void to_backend(struct vos__local *l, const struct vos_req *r,
		       uint8_t fdc)
{
	uint32_t tag = (uint32_t)r->user_data;
	int ret;

	l->where[tag] = VOS__WHERE_BACKEND;
	ret = l->be->submit(l->be_priv, r, fdc);
	if (ret < 0)
		vos__local_complete(l, tag, ret);
}

/* Run r along the route the router chose for it (fdc: its fd's class). */
static void dispatch(struct vos__local *l, const struct vos_req *r,
		     enum vos__route route, uint8_t fdc)
{
	uint32_t tag = (uint32_t)r->user_data;
	int64_t res;

	switch (route) {
	case VOS__INLINE:
		run_inline(l, r);
		return;
	case VOS__TRY:
		res = vos__exec(r, true);
		if (res == -EOPNOTSUPP) {
			/* no RWF_NOWAIT on this file: remember, route again */
			vos__fdclass_add(&l->fdc, r->fd,
					 vos__op_is_read(r->op)
						 ? VOS__FDC_NO_NOWAIT_RD
						 : VOS__FDC_NO_NOWAIT_WR);
			if (l->punted_inline) {
				run_inline(l, r);
				return;
			}
		} else if (res != -EAGAIN) {
			/* (a short try is carried on, not handed back) */
			if (!vos__carry_try(l, r, res, fdc))
				vos__local_complete(l, tag, res);
			return;
		}
		to_backend(l, r, fdc);
		return;
	case VOS__ASYNC:
		/* a write on a blocking stream: in its fd's order, whole */
		if (vos__order_wants(r, fdc) && vos__order_take(l, r, fdc))
			return;
		to_backend(l, r, fdc);
		return;
	case VOS__POOL:
		vos__local_to_pool(l, r);
		return;
	}
}

static void submit_one(struct vos__local *l, const struct vos_req *r)
{
	uint32_t tag = (uint32_t)r->user_data;
	enum vos__route route;
	uint8_t fdc;

	l->op_of[tag] = r->op;
	if (r->op == VOS_OP_CANCEL) {
		uint32_t target = (uint32_t)r->off;
		int64_t res;

		vos__carry_cancel(l, target); /* no piece after this */
		if (vos__multi_cancel(l, target)) {
			/* stopped: it ends with -ECANCELED (or a last fd) */
			vos__local_complete(l, tag, 0);
			return;
		}
		if (l->where[target] == VOS__WHERE_QUEUED) {
			vos__order_cancel(l, target); /* it never started */
			vos__local_complete(l, tag, 0);
		} else if (l->where[target] == VOS__WHERE_POOL && l->pool)
			vos__local_complete(l, tag,
					    vos__pool_cancel(l->pool, target));
		else if ((res = l->be->cancel(l->be_priv, r, target)) < 0)
			vos__local_complete(l, tag, res);
		return;
	}
	if (vos__multi_start(l, r))
		return;
	/* two statements: fdc is written by vos__route, and the order in
	 * which a call's arguments are evaluated is unspecified */
	route = vos__route(l, r, &fdc);
	dispatch(l, r, route, fdc);
}

/* ---- coalescing ----------------------------------------------------------
 *
 * Reads (or writes) of one regular file that a batch holds back to back,
 * each starting where the one before ends, run as a single preadv (or
 * pwritev): one system call for the lot.  Only requests routed INLINE are
 * merged.  The merged result is shared out in order, each request taking
 * up to its length.  The first request that comes up short keeps what it
 * got (if anything); it and every request after it otherwise run alone, so
 * each gets exactly what its own call would say: 0 past the end of the
 * file, -EFAULT for its bad buffer, -ENOSPC for its write.  (Alone, a
 * pread/pwrite repeats idempotently; at the file position the call carries
 * on from where the merged one stopped, as sequential calls would.)  If the
 * merged call fails outright, every request runs alone.
 */
#define MERGE_MAX 64

static bool single_buffer_rw(uint8_t op)
{
	/* file data through one buffer: read, write, pread, pwrite */
	return vos__op_has(op, VOS__OPF_RW) && !vos__op_has(op, VOS__OPF_IOVEC);
}

/* Does b continue a, on the same file, in the same direction? */
static bool continues(const struct vos_req *a, const struct vos_req *b)
{
	if (b->op != a->op || b->fd != a->fd || b->len == 0 ||
	    a->op_flags || b->op_flags)
		return false; /* (RWF_ flags: each its own call) */
	if (a->op == VOS_OP_READ || a->op == VOS_OP_WRITE)
		return true; /* the file position carries on by itself */
	return b->off == a->off + a->len;
}

/* Run r[0..n) (n >= 2, all INLINE, each continuing the one before) as one
 * vectored call. */
static void run_merged(struct vos__local *l, const struct vos_req *r,
		       unsigned n)
{
	struct iovec iov[MERGE_MAX];
	bool rd = vos__op_is_read(r[0].op);
	/* not (ssize_t)-1: RWF flags 0 and offset -1 mean the file position */
	bool at_pos = r[0].op == VOS_OP_READ || r[0].op == VOS_OP_WRITE;
	off_t off = at_pos ? -1 : (off_t)r[0].off;
	ssize_t total;
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++) {
		iov[i].iov_base = (void *)(uintptr_t)r[i].addr;
		iov[i].iov_len = r[i].len;
		l->op_of[(uint32_t)r[i].user_data] = r[i].op;
	}
	total = rd ? preadv2(r[0].fd, iov, (int)n, off, 0)
		   : pwritev2(r[0].fd, iov, (int)n, off, 0);
	if (total >= 0) {
		for (; k < n; k++) {
			size_t give = (size_t)total < r[k].len ? (size_t)total
								: r[k].len;

			if (give == 0 && r[k].len)
				break;
			vos__local_complete(l, (uint32_t)r[k].user_data,
					    (int64_t)give);
			total -= (ssize_t)give;
			if (give < r[k].len) {
				k++;
				break;
			}
		}
	}
	for (; k < n; k++)
		run_inline(l, &r[k]);
}

static int l_submit(void *priv, const struct vos_req *reqs, unsigned n)
{
	struct vos__local *l = priv;

	for (unsigned i = 0; i < n;) {
		const struct vos_req *r = &reqs[i];
		unsigned run = 1;
		enum vos__route route;
		uint8_t fdc;

		if (i + 1 < n && single_buffer_rw(r->op) &&
		    continues(r, &reqs[i + 1])) {
			route = vos__route(l, r, &fdc);
			if (route == VOS__INLINE &&
			    ((fdc & VOS__FDC_KIND) == VOS__FD_MEMFS ||
			     (fdc & VOS__FDC_KIND) == VOS__FD_DISKFS)) {
				/* same fd and op: the same route for all */
				while (i + run < n && run < MERGE_MAX &&
				       continues(&reqs[i + run - 1],
						 &reqs[i + run]))
					run++;
				run_merged(l, r, run);
			} else {
				/* routed already: do not route again */
				l->op_of[(uint32_t)r->user_data] = r->op;
				dispatch(l, r, route, fdc);
			}
		} else {
			submit_one(l, r);
		}
		i += run;
	}
	l->be->flush(l->be_priv);
	return (int)n;
}

static int reap_pool(struct vos__local *l)
{
	return l->pool ? vos__pool_reap(l->pool, pool_done, l) : 0;
}

static int l_reap(void *priv)
{
	struct vos__local *l = priv;
	int n = l->be->reap(l->be_priv);

	return n < 0 ? n : n + reap_pool(l);
}

static int l_wait(void *priv, int64_t timeout_ns)
{
	struct vos__local *l = priv;
	int n = l->be->wait(l->be_priv, timeout_ns);
	int p = reap_pool(l);

	if (n < 0)
		return p > 0 ? p : n;
	return n + p;
}

static int l_sleep_fd(void *priv)
{
	struct vos__local *l = priv;

	if (!l->be->sleep_fd)
		return -EOPNOTSUPP;
	if (reap_pool(l) > 0)
		return -EAGAIN;
	return l->be->sleep_fd(l->be_priv);
}

static void l_woke(void *priv)
{
	struct vos__local *l = priv;

	if (l->be->woke) /* then reap() takes what woke us */
		l->be->woke(l->be_priv);
}

static void local_free(struct vos__local *l)
{
	vos__pool_destroy(l->pool);
	if (l->pool_efd >= 0)
		close(l->pool_efd);
	vos__fdclass_free(&l->fdc);
	vos__carry_free(l);
	vos__multi_free(l);
	free(l->op_of);
	free(l->where);
	free(l);
}

static int l_open(struct vos_transport_host *host, void **priv)
{
	struct vos__local *l;
	struct options o;
	int ret;

	ret = parse_options(host->options, &o);
	if (ret < 0) {
		vos__log(VOS__LOG_ERROR, "io_uring-local: bad options '%s'",
			 host->options);
		return ret;
	}
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->host = host;
	l->pid = getpid();
	l->max_workers = o.workers;
	l->op_of = calloc(host->queue_depth, 1);
	l->where = calloc(host->queue_depth, 1);
	l->pool_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!l->op_of || !l->where || l->pool_efd < 0) {
		ret = l->pool_efd < 0 ? -errno : -ENOMEM;
		local_free(l);
		return ret;
	}

	ret = -ENOENT;
	if (strcmp(o.backend, "compat") != 0) {
		l->be = &vos__backend_uring;
		ret = l->be->open(l, &l->be_priv);
		if (ret < 0 && strcmp(o.backend, "uring") == 0) {
			vos__log(VOS__LOG_ERROR,
				 "io_uring-local: io_uring unavailable (%s)",
				 strerror(-ret));
			local_free(l);
			return ret;
		}
		if (ret < 0) {
			/* one line per process, not per context; relaxed:
			 * the flag orders nothing, it only has to be set once */
			static int said;

			if (!__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
				vos__log(VOS__LOG_INFO,
					 "io_uring unavailable (%s); using "
					 "the compat backend (libaio + "
					 "worker threads)", strerror(-ret));
		}
	}
	if (ret < 0) {
		l->be = &vos__backend_compat;
		ret = l->be->open(l, &l->be_priv);
		if (ret < 0) {
			local_free(l);
			return ret;
		}
	}
	snprintf(l->describe, sizeof(l->describe), "io_uring-local (%s)",
		 l->be->name);
	*priv = l;
	return 0;
}

static void l_close(void *priv)
{
	struct vos__local *l = priv;
	bool inherited = getpid() != l->pid;

	/* A forked child destroying a context it never called after_fork
	 * on: the pool's threads are the parent's (its lock may have been
	 * held at fork), and the ring is shared with the parent.  Leave both
	 * alone; only this process's references go. */
	if (!inherited)
		vos__pool_destroy(l->pool); /* first: its threads run our calls */
	l->pool = NULL;
	l->be->close(l->be_priv, inherited);
	local_free(l);
}

static int l_after_fork(void *priv)
{
	struct vos__local *l = priv;

	/* The parent's worker threads do not exist here, and their lock may
	 * have been held at fork time: leave the old pool untouched. */
	l->pool = NULL;
	l->pid = getpid();
	/* the parent's requests are not ours: no carry, no fd queues, no
	 * multishot requests */
	vos__carry_free(l);
	vos__multi_free(l);
	memset(l->where, 0, l->host->queue_depth);
	close(l->pool_efd); /* shared with the parent: take our own */
	l->pool_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->pool_efd < 0)
		return -errno;
	return l->be->after_fork(l->be_priv);
}

static void l_fd_forget(void *priv, int fd)
{
	struct vos__local *l = priv;

	vos__fdclass_forget(&l->fdc, fd);
	/* closed or reopened behind our back: the number may name another
	 * file now; nothing more goes to it */
	vos__order_drop(l, fd);
	vos__carry_orphan(l, fd);
}

static const char *l_describe(void *priv)
{
	struct vos__local *l = priv;

	return l->describe;
}

const struct vos_transport_ops vos__transport_local = {
	.abi = VOS_TRANSPORT_ABI,
	.name = "io_uring-local",
	.open = l_open,
	.submit = l_submit,
	.reap = l_reap,
	.wait = l_wait,
	.sleep_fd = l_sleep_fd,
	.woke = l_woke,
	.close = l_close,
	.after_fork = l_after_fork,
	.fd_forget = l_fd_forget,
	.describe = l_describe,
};
