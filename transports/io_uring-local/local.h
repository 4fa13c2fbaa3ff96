/*
 * local.h - the io_uring-local transport's internal interface.
 *
 * The transport executes requests on the local kernel.  For each request
 * the router (route.c) picks one of:
 *   INLINE  run the system call now, on the caller's thread (calls that
 *           cannot block, or files where the kernel would hand the call to a
 *           worker thread anyway and a direct call measured faster);
 *   TRY     run it now with "don't block" semantics (RWF_NOWAIT); if the
 *           kernel says it would block, go ASYNC;
 *   ASYNC   hand it to the backend: io_uring (backend_uring.c), or readiness
 *           polling + libaio + workers (backend_compat.c);
 *   POOL    run it on a worker thread (workpool.c): calls that may block
 *           and have no asynchronous form in the backend.
 * Every path ends in vos__local_complete(), which returns the result to the
 * core through the host's complete() callback.
 */
#ifndef VOS_LOCAL_H
#define VOS_LOCAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <virtuos/transport.h>

#include "opdef.h"

/* ---- fd classes (fdclass.c) ------------------------------------------- */

enum {
	VOS__FD_UNKNOWN = 0, /* not classified (or not open) */
	VOS__FD_MEMFS,       /* regular file on tmpfs/ramfs (memfd too) */
	VOS__FD_DISKFS,      /* regular file on a disk file system */
	VOS__FD_DIRECT,      /* regular file opened O_DIRECT */
	VOS__FD_STREAM,      /* socket, pipe, char device, eventfd...: pollable */
	VOS__FD_OTHER,       /* directory, block device */
};
#define VOS__FDC_KIND 0x07
#define VOS__FDC_NONBLOCK 0x08      /* O_NONBLOCK was set when classified */
#define VOS__FDC_NO_NOWAIT_RD 0x10  /* preadv2(RWF_NOWAIT) said EOPNOTSUPP */
#define VOS__FDC_NO_NOWAIT_WR 0x20  /* pwritev2(RWF_NOWAIT) said EOPNOTSUPP */
#define VOS__FDC_NO_OFFSET 0x40     /* a pipe, FIFO or socket: no offsets */
#define VOS__FDC_DEFER 0x80 /* (only in a backend's submit) a poll waits: do
                             * not look whether it is ready now */

/* The tag of a cancel the transport makes of its own (multishot.c): its
 * answer is dropped. */
#define VOS__QUIET_TAG UINT32_MAX

struct vos__fdclass {
	uint8_t *tab;
	uint32_t cap;
};

/* The class byte of fd, classifying it on first use (fstat, fstatfs,
 * F_GETFL).  VOS__FD_UNKNOWN if fd is not open. */
uint8_t vos__fdclass_get(struct vos__fdclass *c, int fd);
void vos__fdclass_add(struct vos__fdclass *c, int fd, uint8_t bits);
void vos__fdclass_forget(struct vos__fdclass *c, int fd);
void vos__fdclass_free(struct vos__fdclass *c);

/* ---- synchronous execution (exec.c, exec.h) ---------------------------- */

#include "exec.h"

/* Whether the op reads (true) or writes (false) data; for the NO_NOWAIT
 * bits and for the direction a stream op waits on (the op table's). */
static inline bool vos__op_is_read(uint8_t op)
{
	return vos__op_has(op, VOS__OPF_READ);
}

/* Whether the op moves file data (read, write, pread, ... writev). */
static inline bool vos__op_is_rw(uint8_t op)
{
	return vos__op_has(op, VOS__OPF_RW);
}

/* ---- worker pool (workpool.c) ------------------------------------------ */

struct vos__pool;

/* A pool for requests with tags below depth; it starts threads on demand,
 * at most max_threads, and writes to notify_fd (an eventfd) after each
 * completion.  Lock waits (F_SETLKW forms) hold no thread between their
 * tries. */
struct vos__pool *vos__pool_create(uint32_t depth, unsigned max_threads,
				   int notify_fd);
/* Queue a request (tag in user_data).  0 or -errno. */
int vos__pool_push(struct vos__pool *p, const struct vos_req *req);
/* Take the finished ones: calls fn(arg, tag, res) for each. */
int vos__pool_reap(struct vos__pool *p,
		   void (*fn)(void *arg, uint32_t tag, int64_t res),
		   void *arg);
/* Cancel a queued request, an accept waiting for a connection or a lock
 * wait between tries: 0 (it completes with -ECANCELED); -EALREADY
 * (running; a lock wait whose try is under way completes with the try's
 * result if it took the lock, else -ECANCELED); -ENOENT. */
int vos__pool_cancel(struct vos__pool *p, uint32_t tag);
/* Stop: waits for the calls that are running to return (an accept in
 * waiting stops within 50 ms), so no call touches the caller's memory
 * afterwards; threads exit and the memory goes with the last of them.
 * notify_fd is not written after this returns. */
void vos__pool_destroy(struct vos__pool *p);

/* ---- the transport's shared state and its backends --------------------- */

enum vos__route { VOS__INLINE, VOS__TRY, VOS__ASYNC, VOS__POOL };

struct vos__local;

struct vos__backend {
	const char *name;
	/* 0, or -errno if this backend cannot work here. */
	int (*open)(struct vos__local *l, void **priv);
	/* Start one request (tag in user_data) routed ASYNC.  fdc is its fd's
	 * class byte (0 for ops without an fd).  0, or -errno to fail it. */
	int (*submit)(void *priv, const struct vos_req *req, uint8_t fdc);
	/* Cancel the request with tag target, which this backend holds; the
	 * cancel itself has tag req->user_data.  0 or -errno to fail it. */
	int (*cancel)(void *priv, const struct vos_req *req, uint32_t target);
	/* Push started requests to the kernel (end of a submit batch). */
	void (*flush)(void *priv);
	/* Deliver what is ready; never block.  Count or -errno. */
	int (*reap)(void *priv);
	/* Block until something happened (a completion of the backend or a
	 * write to l->pool_efd), for at most timeout_ns (< 0: no limit).
	 * Returns the number delivered, 0, -ETIME or -EINTR. */
	int (*wait)(void *priv, int64_t timeout_ns);
	/* An fd that becomes readable when wait() would return, or -EAGAIN
	 * (something is ready now); NULL: there is none. */
	int (*sleep_fd)(void *priv);
	/* After a sleep on sleep_fd's fd, whatever ended it, before reap().
	 * May be NULL. */
	void (*woke)(void *priv);
	/* Release everything.  inherited: we are in a forked child that never
	 * called after_fork: touch nothing shared with the parent (do not
	 * cancel its requests), just drop this process's references. */
	void (*close)(void *priv, bool inherited);
	int (*after_fork)(void *priv);
};

extern const struct vos__backend vos__backend_uring;
extern const struct vos__backend vos__backend_compat;

enum { VOS__WHERE_BACKEND = 0, VOS__WHERE_POOL = 1, VOS__WHERE_QUEUED = 2 };

/* Per tag: a request carried on after a short result (carry.c), or a
 * write on a blocking stream, run in its fd's order (order.c). */
struct vos__carry {
	bool active;        /* its rest is in the backend */
	bool ordered;       /* in its fd's queue of stream writes */
	bool orphan;        /* its fd was closed: no further piece */
	bool cancelled;     /* a cancel targeted it: no further piece */
	uint8_t fdc;        /* the fd's class */
	int64_t done;       /* bytes moved so far */
	struct vos_req rest; /* what is left to run (queued: all of it) */
	struct iovec *iov;  /* rest's iovec array (vectored ops), ours */
	int32_t next;       /* ordered: the next write on the fd, or -1 */
};

/* Per fd: its stream writes, the running one first (tags; -1: none). */
struct vos__fdq {
	int32_t head, tail;
};

struct vos__local {
	struct vos_transport_host *host;
	const struct vos__backend *be;
	void *be_priv;
	struct vos__fdclass fdc;
	struct vos__pool *pool; /* created on first use */
	int pool_efd;           /* workers -> waiter (eventfd) */
	unsigned max_workers;
	/* Where a regular-file read/write that the kernel cannot do without
	 * blocking is best run: true = a direct call here; false = the
	 * backend.  Measured at open (backend_uring.c), or forced. */
	bool punted_inline;
	/* The backend runs ftruncate itself (io_uring's FTRUNCATE, 6.9+);
	 * else it goes to the worker pool. */
	bool native_ftruncate;
	/* The backend runs linkat and symlinkat itself (io_uring's LINKAT
	 * and SYMLINKAT, 5.15+); else they go to the worker pool. */
	bool native_links;
	pid_t pid;         /* the process the state belongs to (see l_close) */
	uint8_t *op_of;    /* per tag: the op, for completion fix-ups */
	uint8_t *where;    /* per tag: VOS__WHERE_* */
	struct vos__carry *carry; /* per tag, made on first use (carry.c) */
	uint32_t carry_busy;      /* entries active or ordered: a close looks
	                           * through them only when there are some */
	struct vos__fdq *fdq;     /* per fd, made on first use (order.c) */
	uint32_t fdq_cap;
	struct vos__multi *multi; /* per tag, made on first use (multishot.c) */
	char describe[96];
};

/* Route one request; *fdc receives its fd's class byte (or 0). */
enum vos__route vos__route(struct vos__local *l, const struct vos_req *r,
			   uint8_t *fdc);
/* Return a result to the core (with the transport's fix-ups). */
void vos__local_complete(struct vos__local *l, uint32_t tag, int64_t res);
/* ---- file reads and writes carried on after a short try (carry.c) ---- */

struct vos__carry;
/* r (a file read or write, routed TRY) moved res bytes without blocking.
 * If that is short of what it asked (0 < res < its length), carry on with
 * the rest and return true: the request completes later, once, with the
 * total.  Otherwise false: complete it with res. */
bool vos__carry_try(struct vos__local *l, const struct vos_req *r,
		    int64_t res, uint8_t fdc);
/* A backend's result for tag: true if it was the rest of a carried
 * request (then it is taken care of). */
bool vos__carry_done(struct vos__local *l, uint32_t tag, int64_t res);
bool vos__carry_alloc(struct vos__local *l);
/* Set c's two flags, keeping l->carry_busy true to them. */
static inline void vos__carry_set(struct vos__local *l, struct vos__carry *c,
				  bool active, bool ordered)
{
	bool was = c->active || c->ordered, is = active || ordered;

	c->active = active;
	c->ordered = ordered;
	if (was != is)
		l->carry_busy += is ? 1u : (uint32_t)-1;
}
void vos__carry_free(struct vos__local *l);

/* ---- writes on blocking streams, in order and whole (order.c) ---------- */

/* Whether r (routed ASYNC, fd class fdc) is a write or send on a blocking
 * stream (socket, pipe, terminal...): such writes run one at a time per
 * fd, in submission order, each to its full length. */
bool vos__order_wants(const struct vos_req *r, uint8_t fdc);
/* Take r into its fd's queue (running it if the fd has none running).
 * false: no memory; run it unordered, as before. */
bool vos__order_take(struct vos__local *l, const struct vos_req *r,
		     uint8_t fdc);
/* The backend's result for ordered tag. */
void vos__order_done(struct vos__local *l, uint32_t tag, int64_t res);
/* Cancel a queued (not yet running) tag: it completes with -ECANCELED. */
void vos__order_cancel(struct vos__local *l, uint32_t tag);
/* fd is about to be closed through the transport: its queued writes go to
 * the backend now, unordered (the caller flushes the backend before the
 * close, so they take their file while the number still names it). */
void vos__order_flush(struct vos__local *l, int fd);
/* fd was closed, reopened or changed behind the transport's back: its
 * queued writes complete with -EBADF (they never ran: the number may name
 * another file now). */
void vos__order_drop(struct vos__local *l, int fd);
/* No request carried on or ordered on fd may send another piece to it
 * (it is being closed or was): they finish with what they moved. */
void vos__carry_orphan(struct vos__local *l, int fd);
/* A cancel targets tag: if it is carried on, no further piece. */
void vos__carry_cancel(struct vos__local *l, uint32_t tag);

/* Run a request on the worker pool, creating the pool if needed.  On
 * failure the request completes with the error. */
void vos__local_to_pool(struct vos__local *l, const struct vos_req *req);

/* ---- multishot accept and recv (multishot.c) --------------------------- */

/* Per tag: a multishot request in flight. */
struct vos__multi {
	uint8_t phase;  /* 0: none; waiting in a poll, or on the pool */
	uint8_t op;     /* VOS_OP_ACCEPT_MULTI, VOS_OP_RECV_MULTI */
	uint8_t fdc;
	bool cancelled;
	bool stream;    /* a stream socket (0 bytes: the end) */
	uint16_t group; /* recv: its pool */
	int32_t fd;
	uint32_t len;   /* recv: at most this much per completion (0: all) */
	uint32_t flags; /* accept4's or recv's */
};

/* If r is a multishot request, start it (or fail it) and return true. */
bool vos__multi_start(struct vos__local *l, const struct vos_req *r);
/* A backend's or the pool's result for tag: true if it belongs to a
 * multishot request (then it is taken care of). */
bool vos__multi_done(struct vos__local *l, uint32_t tag, int64_t res);
/* A cancel targets tag: if it is a multishot request, stop it (it ends
 * with -ECANCELED, or a last accepted fd) and return true. */
bool vos__multi_cancel(struct vos__local *l, uint32_t tag);
void vos__multi_free(struct vos__local *l);

#endif /* VOS_LOCAL_H */
