/*
 * backend_uring.c - ASYNC requests on io_uring.
 *
 * One ring per context; the io_uring user_data of a request is its tag.
 * The worker pool's eventfd is watched by a multishot poll on the ring
 * (user_data NOTIFY_UD), so a waiter blocked in io_uring_enter() wakes for
 * pool completions too: one place to sleep.
 *
 * At open the backend also measures, once per process, whether a 4 KiB
 * read that io_uring must hand to a kernel worker (a memfd: tmpfs has no
 * RWF_NOWAIT) is faster through the ring or as a direct pread(); the
 * answer sets vos__local.punted_inline (see route.c).
 */
#include "config.h"

#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"
#include "local.h"

/* Newer than our liburing (2.3): the kernel's number for the opcode. */
#define VOS__IORING_OP_FTRUNCATE 55 /* Linux 6.9 */

#define NOTIFY_UD UINT64_MAX
#define CANCEL_ALL_UD (UINT64_MAX - 2)
/* how long close waits for cancelled requests to finish */
#define CLOSE_DRAIN_NS 1000000000
/* SQ slack beyond the queue depth: the notify poll re-arm */
#define SQ_SLACK 8
/* SQ entries at most (the CQ has twice as many) */
#define SQ_MAX 8192u

struct uring_be {
	struct vos__local *l;
	struct io_uring ring;
	struct __kernel_timespec *ts; /* per tag, for timeouts */
	unsigned queued; /* SQEs prepared since the last io_uring_submit() */
	unsigned inflight; /* our requests in the ring (tags, not notify) */
	bool notify_armed;
};

/* The ops we hand to the ring: all must be there, or we do not use it. */
static const int needed_ops[] = {
	IORING_OP_READ, IORING_OP_WRITE, IORING_OP_READV, IORING_OP_WRITEV,
	IORING_OP_FSYNC, IORING_OP_OPENAT, IORING_OP_STATX,
	IORING_OP_FALLOCATE, IORING_OP_UNLINKAT, IORING_OP_MKDIRAT,
	IORING_OP_RENAMEAT, IORING_OP_ACCEPT, IORING_OP_CONNECT,
	IORING_OP_SEND, IORING_OP_RECV, IORING_OP_SENDMSG, IORING_OP_RECVMSG,
	IORING_OP_POLL_ADD, IORING_OP_TIMEOUT, IORING_OP_ASYNC_CANCEL,
};

static struct io_uring_sqe *get_sqe(struct uring_be *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe) {
		/* SQ full (cannot happen within the depth); push and retry */
		io_uring_submit(&u->ring);
		u->queued = 0;
		sqe = io_uring_get_sqe(&u->ring);
	}
	if (sqe)
		u->queued++;
	return sqe;
}

static void arm_notify(struct uring_be *u)
{
	struct io_uring_sqe *sqe;

	if (u->notify_armed || u->l->pool_efd < 0)
		return;
	sqe = get_sqe(u);
	if (!sqe)
		return;
	io_uring_prep_poll_multishot(sqe, u->l->pool_efd, POLLIN);
	sqe->user_data = NOTIFY_UD;
	u->notify_armed = true;
}

static int64_t median(int64_t *v, int n)
{
	for (int i = 1; i < n; i++)
		for (int k = i; k > 0 && v[k - 1] > v[k]; k--) {
			int64_t t = v[k];
			v[k] = v[k - 1];
			v[k - 1] = t;
		}
	return v[n / 2];
}

/*
 * Time 4 KiB reads of a memfd: direct pread() vs io_uring at batch 1.
 * Returns true if the direct call is faster (or the test cannot run).
 */
static bool measure_punted_inline(struct io_uring *ring)
{
	enum { ROUNDS = 7, OPS = 8 };
	int64_t sys[ROUNDS], ur[ROUNDS];
	char buf[4096] = { 0 }; /* ours: contexts may open on several threads */
	bool inline_wins = true;
	int fd;

	fd = memfd_create("vos-calibrate", MFD_CLOEXEC);
	if (fd < 0)
		return true;
	if (pwrite(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
		goto out;
	for (int r = 0; r < ROUNDS; r++) {
		int64_t t0 = vos__now_ns();

		for (int i = 0; i < OPS; i++)
			if (pread(fd, buf, sizeof(buf), 0) < 0)
				goto out;
		sys[r] = vos__now_ns() - t0;
		t0 = vos__now_ns();
		for (int i = 0; i < OPS; i++) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
			struct io_uring_cqe *cqe;

			if (!sqe)
				goto out;
			io_uring_prep_read(sqe, fd, buf, sizeof(buf), 0);
			sqe->user_data = 0;
			if (io_uring_submit_and_wait(ring, 1) < 0 ||
			    io_uring_peek_cqe(ring, &cqe) < 0)
				goto out;
			io_uring_cqe_seen(ring, cqe);
		}
		ur[r] = vos__now_ns() - t0;
	}
	inline_wins = median(sys, ROUNDS) <= median(ur, ROUNDS);
	vos__log(VOS__LOG_DEBUG,
		 "punted 4 KiB read: pread %lld ns, io_uring %lld ns: %s",
		 (long long)(median(sys, ROUNDS) / OPS),
		 (long long)(median(ur, ROUNDS) / OPS),
		 inline_wins ? "direct call" : "ring");
out:
	close(fd);
	return inline_wins;
}

/* The measurement, once per process: 0 unknown, 1 inline, 2 ring. */
static _Atomic int punted_verdict;

static bool punted_inline(struct io_uring *ring)
{
	const char *force = getenv("VOS_LOCAL_PUNTED");
	int v;

	if (force && strcmp(force, "inline") == 0)
		return true;
	if (force && strcmp(force, "ring") == 0)
		return false;
	/* relaxed: a racing second measurement is harmless */
	v = atomic_load_explicit(&punted_verdict, memory_order_relaxed);
	if (v == 0) {
		v = measure_punted_inline(ring) ? 1 : 2;
		atomic_store_explicit(&punted_verdict, v,
				      memory_order_relaxed);
	}
	return v == 1;
}

static int check_ops(struct uring_be *u, struct io_uring *ring)
{
	struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
	int ret = 0;

	if (!probe)
		return -EOPNOTSUPP;
	/* optional: without it, ftruncate goes to the worker pool */
	u->l->native_ftruncate =
		io_uring_opcode_supported(probe, VOS__IORING_OP_FTRUNCATE);
	/* optional too: else linkat and symlinkat go to the pool */
	u->l->native_links =
		io_uring_opcode_supported(probe, IORING_OP_LINKAT) &&
		io_uring_opcode_supported(probe, IORING_OP_SYMLINKAT);
	for (size_t i = 0; i < sizeof(needed_ops) / sizeof(needed_ops[0]); i++)
		if (!io_uring_opcode_supported(probe, needed_ops[i])) {
			vos__log(VOS__LOG_DEBUG, "io_uring lacks opcode %d",
				 needed_ops[i]);
			ret = -EOPNOTSUPP;
		}
	io_uring_free_probe(probe);
	return ret;
}

static int ring_init(struct uring_be *u)
{
	struct io_uring_params p;
	unsigned entries = u->l->host->queue_depth + SQ_SLACK;
	int ret;

	/* The SQ only needs to hold what one submit prepares (get_sqe()
	 * submits when it is full), and the kernel keeps completions the CQ
	 * has no room for (IORING_FEAT_NODROP): a deep context (a request
	 * per connection, 100k of them) need not map a ring that deep. */
	if (entries > SQ_MAX)
		entries = SQ_MAX;

	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN;
	p.cq_entries = 2 * entries;
	ret = io_uring_queue_init_params(entries, &u->ring, &p);
	if (ret == -EINVAL) { /* kernel without COOP_TASKRUN */
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = 2 * entries;
		ret = io_uring_queue_init_params(entries, &u->ring, &p);
	}
	if (ret < 0)
		return ret;
	ret = check_ops(u, &u->ring);
	if (ret < 0) {
		io_uring_queue_exit(&u->ring);
		return ret;
	}
	u->notify_armed = false;
	return 0;
}

static int u_open(struct vos__local *l, void **priv)
{
	struct uring_be *u = calloc(1, sizeof(*u));
	int ret;

	if (!u)
		return -ENOMEM;
	u->l = l;
	u->ts = calloc(l->host->queue_depth, sizeof(*u->ts));
	if (!u->ts) {
		free(u);
		return -ENOMEM;
	}
	ret = ring_init(u);
	if (ret < 0) {
		free(u->ts);
		free(u);
		return ret;
	}
	l->punted_inline = punted_inline(&u->ring);
	*priv = u;
	return 0;
}

#define PTR(x) ((void *)(uintptr_t)(x))

static int u_submit(void *priv, const struct vos_req *r, uint8_t fdc)
{
	struct uring_be *u = priv;
	struct io_uring_sqe *sqe;
	uint32_t tag = (uint32_t)r->user_data;
	uint64_t cur = (uint64_t)-1; /* io_uring: "the file position" */

	(void)fdc;
	sqe = get_sqe(u);
	if (!sqe)
		return -EBUSY;
	switch (r->op) {
	case VOS_OP_READ:
		io_uring_prep_read(sqe, r->fd, PTR(r->addr), r->len, cur);
		break;
	case VOS_OP_WRITE:
		io_uring_prep_write(sqe, r->fd, PTR(r->addr), r->len, cur);
		break;
	case VOS_OP_PREAD:
		io_uring_prep_read(sqe, r->fd, PTR(r->addr), r->len, r->off);
		break;
	case VOS_OP_PWRITE:
		io_uring_prep_write(sqe, r->fd, PTR(r->addr), r->len, r->off);
		break;
	case VOS_OP_READV:
		io_uring_prep_readv(sqe, r->fd, PTR(r->addr), r->len,
				    r->off == VOS_OFF_CURRENT ? cur : r->off);
		break;
	case VOS_OP_WRITEV:
		io_uring_prep_writev(sqe, r->fd, PTR(r->addr), r->len,
				     r->off == VOS_OFF_CURRENT ? cur : r->off);
		break;
	case VOS_OP_FSYNC:
		io_uring_prep_fsync(sqe, r->fd, 0);
		break;
	case VOS_OP_FDATASYNC:
		io_uring_prep_fsync(sqe, r->fd, IORING_FSYNC_DATASYNC);
		break;
	case VOS_OP_OPENAT:
		io_uring_prep_openat(sqe, r->fd, PTR(r->addr), (int)r->op_flags,
				     (mode_t)r->arg);
		break;
	case VOS_OP_STATX:
		io_uring_prep_statx(sqe, r->fd, PTR(r->addr), (int)r->op_flags,
				    (unsigned)r->arg, PTR(r->addr2));
		break;
	case VOS_OP_FALLOCATE:
		io_uring_prep_fallocate(sqe, r->fd, (int)r->op_flags,
					(off_t)r->off, (off_t)r->arg);
		break;
	case VOS_OP_UNLINKAT:
		io_uring_prep_unlinkat(sqe, r->fd, PTR(r->addr),
				       (int)r->op_flags);
		break;
	case VOS_OP_MKDIRAT:
		io_uring_prep_mkdirat(sqe, r->fd, PTR(r->addr), (mode_t)r->arg);
		break;
	case VOS_OP_RENAMEAT:
		io_uring_prep_renameat(sqe, r->fd, PTR(r->addr), r->fd2,
				       PTR(r->addr2), r->op_flags);
		break;
	case VOS_OP_LINKAT:
		io_uring_prep_linkat(sqe, r->fd, PTR(r->addr), r->fd2,
				     PTR(r->addr2), (int)r->op_flags);
		break;
	case VOS_OP_SYMLINKAT:
		io_uring_prep_symlinkat(sqe, PTR(r->addr2), r->fd,
					PTR(r->addr));
		break;
	case VOS_OP_ACCEPT:
		io_uring_prep_accept(sqe, r->fd, PTR(r->addr), PTR(r->addr2),
				     (int)r->op_flags);
		break;
	case VOS_OP_CONNECT:
		io_uring_prep_connect(sqe, r->fd, PTR(r->addr), r->len);
		break;
	case VOS_OP_SEND:
		io_uring_prep_send(sqe, r->fd, PTR(r->addr), r->len,
				   (int)r->op_flags);
		break;
	case VOS_OP_RECV:
		io_uring_prep_recv(sqe, r->fd, PTR(r->addr), r->len,
				   (int)r->op_flags);
		break;
	case VOS_OP_SENDMSG:
		io_uring_prep_sendmsg(sqe, r->fd, PTR(r->addr), r->op_flags);
		break;
	case VOS_OP_RECVMSG:
		io_uring_prep_recvmsg(sqe, r->fd, PTR(r->addr), r->op_flags);
		break;
	case VOS_OP_POLL:
		io_uring_prep_poll_add(sqe, r->fd, r->op_flags);
		break;
	case VOS_OP_FTRUNCATE:
		/* no helper in liburing 2.3: the fields io_ftruncate_prep reads */
		io_uring_prep_rw(VOS__IORING_OP_FTRUNCATE, sqe, r->fd, NULL, 0,
				 r->off);
		break;
	case VOS_OP_TIMEOUT:
		u->ts[tag].tv_sec = (int64_t)(r->off / 1000000000u);
		u->ts[tag].tv_nsec = (long long)(r->off % 1000000000u);
		io_uring_prep_timeout(sqe, &u->ts[tag], 0, 0);
		break;
	default:
		/* the router sends nothing else here; give the SQE a NOP */
		io_uring_prep_nop(sqe);
		sqe->user_data = NOTIFY_UD - 1;
		return -ENOSYS;
	}
	if (r->op_flags && vos__op_takes_rwf(r->op))
		/* the program's RWF_ flags (route.c sends here only a
		 * stream's): without RWF_HIPRI, which io_uring refuses
		 * outside a polled ring and a stream's call ignores */
		sqe->rw_flags = (__kernel_rwf_t)(r->op_flags & ~RWF_HIPRI);
	sqe->user_data = tag;
	u->inflight++;
	return 0;
}

static int u_cancel(void *priv, const struct vos_req *r, uint32_t target)
{
	struct uring_be *u = priv;
	struct io_uring_sqe *sqe = get_sqe(u);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_cancel64(sqe, target, 0);
	sqe->user_data = r->user_data;
	u->inflight++;
	return 0;
}

static void u_flush(void *priv)
{
	struct uring_be *u = priv;

	arm_notify(u);
	/* batches run wholly inline queue nothing: no system call */
	if (u->queued) {
		io_uring_submit(&u->ring);
		u->queued = 0;
	}
}

static int u_reap(void *priv)
{
	struct uring_be *u = priv;
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	int n = 0;

	/* the common case when ops ran inline: one acquire load (and
	 * nothing prepared outside a submit waits to go in) */
	if (io_uring_cq_ready(&u->ring) == 0) {
		if (u->queued) {
			io_uring_submit(&u->ring);
			u->queued = 0;
		}
		/* completions the CQ had no room for wait in the kernel until
		 * it is entered for them (and the ring fd polls readable) */
		if (!io_uring_cq_has_overflow(&u->ring))
			return 0;
		io_uring_get_events(&u->ring);
		if (io_uring_cq_ready(&u->ring) == 0)
			return 0;
	}
	io_uring_for_each_cqe(&u->ring, head, cqe) {
		uint64_t ud = cqe->user_data;
		int64_t res = cqe->res;

		seen++;
		if (ud == NOTIFY_UD) {
			uint64_t v;

			/* the pool's results are taken by local.c */
			if (read(u->l->pool_efd, &v, sizeof(v)) < 0) {
				/* EAGAIN: already drained */
			}
			if (!(cqe->flags & IORING_CQE_F_MORE))
				u->notify_armed = false;
			continue;
		}
		if (ud == VOS__QUIET_TAG) {
			u->inflight--; /* the transport's own cancel */
			continue;
		}
		if (ud >= u->l->host->queue_depth)
			continue; /* our own NOP for an unroutable op */
		u->inflight--;
		if (u->l->op_of[ud] == VOS_OP_TIMEOUT && res == -ETIME)
			res = 0; /* expired: the documented result */
		vos__local_complete(u->l, (uint32_t)ud, res);
		n++;
	}
	io_uring_cq_advance(&u->ring, seen);
	if (!u->notify_armed && u->l->pool_efd >= 0)
		arm_notify(u);
	/* what completions prepared (the rest of a short write or read, the
	 * next write queued on a stream: carry.c, order.c) goes in now: the
	 * waits do not submit */
	if (u->queued) {
		io_uring_submit(&u->ring);
		u->queued = 0;
	}
	return n;
}

static int u_wait(void *priv, int64_t timeout_ns)
{
	struct uring_be *u = priv;
	struct io_uring_cqe *cqe;
	int ret;

	/* what was prepared after the last submit (a multishot request's
	 * poll armed again by a worker's result) goes in before we sleep */
	if (u->queued) {
		io_uring_submit(&u->ring);
		u->queued = 0;
	}
	if (timeout_ns < 0) {
		ret = io_uring_wait_cqe(&u->ring, &cqe);
	} else {
		struct __kernel_timespec ts = {
			.tv_sec = timeout_ns / 1000000000,
			.tv_nsec = timeout_ns % 1000000000,
		};
		ret = io_uring_wait_cqe_timeout(&u->ring, &cqe, &ts);
	}
	if (ret < 0) /* -ETIME, -EINTR, or the ring's own error */
		return ret;
	return u_reap(u);
}

/* The ring's fd is readable when completions are there.  (With
 * COOP_TASKRUN a completion may wait as task work: the kernel then wakes
 * a thread sleeping in poll, runs the work on its way back and restarts
 * the poll, which sees the completion.) */
static int u_sleep_fd(void *priv)
{
	struct uring_be *u = priv;

	if (u->queued) {
		io_uring_submit(&u->ring);
		u->queued = 0;
	}
	if (io_uring_cq_ready(&u->ring))
		return -EAGAIN;
	return u->ring.ring_fd;
}

/*
 * Cancel everything of ours in the ring and wait (at most CLOSE_DRAIN_NS)
 * until it has all completed: the kernel tears a closed ring down
 * asynchronously, and a request running on one of its workers could
 * otherwise still write into the caller's memory after close returns.
 * The completions are counted, not delivered: the core is going away.
 */
static void drain_for_close(struct uring_be *u)
{
	struct io_uring_sqe *sqe;
	int64_t deadline;

	if (u->inflight == 0)
		return;
	sqe = io_uring_get_sqe(&u->ring);
	if (sqe) {
		io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
		sqe->user_data = CANCEL_ALL_UD;
		io_uring_submit(&u->ring);
	}
	deadline = vos__now_ns() + CLOSE_DRAIN_NS;
	while (u->inflight > 0) {
		struct __kernel_timespec ts = { 0, 100 * 1000000 };
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		if (vos__now_ns() >= deadline) {
			vos__log(VOS__LOG_ERROR, "io_uring-local: %u requests "
				 "still running at close", u->inflight);
			break;
		}
		if (io_uring_wait_cqe_timeout(&u->ring, &cqe, &ts) < 0)
			continue;
		io_uring_for_each_cqe(&u->ring, head, cqe) {
			if (cqe->user_data < u->l->host->queue_depth)
				u->inflight--;
			seen++;
		}
		io_uring_cq_advance(&u->ring, seen);
	}
}

static void u_close(void *priv, bool inherited)
{
	struct uring_be *u = priv;

	/* in a child that never called after_fork the ring is the parent's
	 * too: cancelling would cancel the parent's requests */
	if (!inherited)
		drain_for_close(u);
	io_uring_queue_exit(&u->ring);
	free(u->ts);
	free(u);
}

static int u_after_fork(void *priv)
{
	struct uring_be *u = priv;

	/* the rings are shared memory with the parent: leave them to it */
	io_uring_queue_exit(&u->ring);
	u->queued = 0;
	u->inflight = 0;
	return ring_init(u);
}

const struct vos__backend vos__backend_uring = {
	.name = "uring",
	.open = u_open,
	.submit = u_submit,
	.cancel = u_cancel,
	.flush = u_flush,
	.reap = u_reap,
	.wait = u_wait,
	.sleep_fd = u_sleep_fd,
	.close = u_close,
	.after_fork = u_after_fork,
};
