/*
 * virtuos.h - the libvirtuos asynchronous system-call API.
 *
 * A program creates a context (struct vos_ctx) bound to one transport,
 * fills requests (struct vos_req) with the vos_prep_*() helpers, hands them
 * over with vos_submit() and collects completions (struct vos_cqe) with
 * vos_wait().  Every request carries a 64-bit user_data that comes back in
 * its completion.  For each operation there is also a blocking wrapper
 * (vos_read(), vos_accept(), ...) built on submit + wait.
 *
 * Conventions (all functions):
 *   - a return value >= 0 is success, a negative value is -errno;
 *   - the result of an operation (cqe->res, or a wrapper's return value) is
 *     what the system call would have returned, with -errno for errors;
 *   - a context is used by one thread at a time: calls on the same context
 *     from several threads must be serialised by the caller (as with a
 *     struct io_uring).  Different contexts are independent.
 *
 * Every function is documented here and in its man page (doc/man/).
 */
#ifndef VIRTUOS_VIRTUOS_H
#define VIRTUOS_VIRTUOS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VOS_VERSION_MAJOR 0
#define VOS_VERSION_MINOR 2
#define VOS_VERSION_STRING "0.2.0"

/* Operations.  The numbering is part of the ABI: append, never reorder. */
enum vos_op {
	VOS_OP_NOP = 0,
	VOS_OP_OPENAT,
	VOS_OP_CLOSE,
	VOS_OP_READ,
	VOS_OP_WRITE,
	VOS_OP_PREAD,
	VOS_OP_PWRITE,
	VOS_OP_READV,
	VOS_OP_WRITEV,
	VOS_OP_FSYNC,
	VOS_OP_FDATASYNC,
	VOS_OP_STATX,
	VOS_OP_FTRUNCATE,
	VOS_OP_FALLOCATE,
	VOS_OP_UNLINKAT,
	VOS_OP_MKDIRAT,
	VOS_OP_RENAMEAT,
	VOS_OP_FCNTL,
	VOS_OP_IOCTL,
	VOS_OP_SOCKET,
	VOS_OP_BIND,
	VOS_OP_LISTEN,
	VOS_OP_ACCEPT,
	VOS_OP_CONNECT,
	VOS_OP_SHUTDOWN,
	VOS_OP_SEND,
	VOS_OP_RECV,
	VOS_OP_SENDMSG,
	VOS_OP_RECVMSG,
	VOS_OP_SETSOCKOPT,
	VOS_OP_GETSOCKOPT,
	VOS_OP_GETSOCKNAME,
	VOS_OP_GETPEERNAME,
	VOS_OP_POLL,
	VOS_OP_TIMEOUT,
	VOS_OP_CANCEL,
	VOS_OP_GETDENTS, /* since 0.2 */
	VOS_OP_ACCEPT_MULTI, /* since 0.2: multishot accept */
	VOS_OP_RECV_MULTI,   /* since 0.2: multishot recv into pool buffers */
	VOS_OP_LSEEK,        /* since 0.3 */
	VOS_OP_FCHMODAT,     /* since 0.3 */
	VOS_OP_FCHOWNAT,     /* since 0.3 */
	VOS_OP_FACCESSAT,    /* since 0.3 */
	VOS_OP_LINKAT,       /* since 0.3 */
	VOS_OP_SYMLINKAT,    /* since 0.3 */
	VOS_OP_READLINKAT,   /* since 0.3 */
	VOS_OP_UTIMENSAT,    /* since 0.3 */
	VOS_OP_MKNODAT,      /* since 0.3 */
	VOS_OP_TRUNCATE,     /* since 0.3 */
	VOS_OP_FADVISE,      /* since 0.3 */
	VOS_OP_SYNC_FILE_RANGE, /* since 0.3 */
	VOS_OP_SYNCFS,       /* since 0.3 */
	VOS_OP_STATFS,       /* since 0.3: statfs and fstatfs */
	VOS_OP_FCNTL_LOCK,   /* since 0.3: fcntl's record locks */
	VOS_OP_PIPE2,        /* since 0.3: local only */
	VOS_OP_SOCKETPAIR,   /* since 0.3: local only */
	VOS_OP_DUP3,         /* since 0.3: dup2 and dup3 */
	VOS_OP_OPENAT2,      /* since 0.3 */
	VOS_OP_COPY_FILE_RANGE, /* since 0.3 */
	VOS_OP_SENDFILE,     /* since 0.3 */
	VOS_OP_SPLICE,       /* since 0.3 */
	VOS_OP__COUNT /* not an operation: the number of operations */
};

/* readv/writev: use (and advance) the file position instead of an offset. */
#define VOS_OFF_CURRENT ((uint64_t)-1)

/* Largest iovcnt accepted by readv/writev (the kernel's IOV_MAX). */
#define VOS_IOV_MAX 1024

/* Queue depth limits (see struct vos_config). */
#define VOS_DEFAULT_QUEUE_DEPTH 256u
#define VOS_MAX_QUEUE_DEPTH (1u << 20) /* through a service: at most
                                              * 16384, its ring's size */

/*
 * A request: 64 bytes, filled by a vos_prep_*() helper.  Which fields an
 * operation uses is said at each helper; unused fields must be zero (the
 * helpers zero the whole request first).  The struct is copied by
 * vos_submit(): it may be reused or freed as soon as vos_submit() returns.
 * Memory it points to (buffers, paths, iovecs, sockaddrs, msghdrs, statx
 * results) must stay valid until the request's completion is returned.
 */
struct vos_req {
	uint8_t op;          /* enum vos_op */
	uint8_t flags;       /* VOS_REQ_* (0: none) */
	uint16_t reserved;   /* must be 0 */
	int32_t fd;          /* file descriptor, or dirfd for *at() */
	uint64_t off;        /* file offset, length, timeout ns, cancel target */
	uint64_t addr;       /* buffer / path / iovec / sockaddr / msghdr */
	uint64_t addr2;      /* second pointer: new path, socklen_t *, statx * */
	uint32_t len;        /* byte count / iovcnt / addrlen / backlog / how */
	uint32_t op_flags;   /* open flags, msg flags, fcntl cmd, events, ... */
	uint64_t arg;        /* mode, fcntl arg, level, domain, length ... */
	int32_t fd2;         /* renameat: new dirfd; socket: protocol */
	uint32_t deadline_ms; /* 0: the context's deadline (if any); else the
	                       * call must complete within this many ms, or
	                       * it completes with -ETIMEDOUT (see
	                       * vos_config.deadline_ns); VOS_NO_DEADLINE:
	                       * none, whatever the context says */
	uint64_t user_data;  /* returned untouched in the completion */
};

/*
 * vos_req.flags (since 0.2):
 *
 * VOS_REQ_LINK - the next request of the same vos_submit() call starts
 * only after this one has completed, and only if it succeeded: an error,
 * or fewer bytes than asked for by a read or a write (read, write, pread,
 * pwrite, readv, writev; send, recv, sendmsg, recvmsg with MSG_WAITALL),
 * completes every later request of the chain with -ECANCELED (io_uring's
 * IOSQE_IO_LINK rule).  A chain is a run of requests with this flag and
 * the one after the last of them; it ends at the end of the array.  The
 * whole chain is accepted or none of it (vos_submit() stops before a chain
 * that does not fit in the queue; -EINVAL for one longer than the queue
 * depth); a chain holding an invalid request, or a cancel, does not start
 * (the invalid ones complete with their error, the others -ECANCELED).
 * Each request's deadline starts when it does.  Cancelling a request that
 * waits its turn completes it and the rest of its chain with -ECANCELED.
 * Works on every transport: the library holds the chain and starts each
 * request when the one before it completes (one round trip each).
 */
#define VOS_REQ_LINK 0x01u

/* vos_req.deadline_ms: this call has no deadline. */
#define VOS_NO_DEADLINE 0xffffffffu

/* A completion. */
struct vos_cqe {
	uint64_t user_data;  /* the request's user_data */
	int64_t res;         /* the system call's result, or -errno */
	uint32_t flags;      /* VOS_CQE_F_*, and a buffer id (since 0.2) */
	uint32_t reserved;
};

/* vos_cqe.flags (since 0.2). */
#define VOS_CQE_F_MORE 0x1u   /* a multishot request stays in flight: more
                               * completions of it will come */
#define VOS_CQE_F_BUFFER 0x2u /* the res bytes are in a buffer of the
                               * request's pool: vos_cqe_buffer() */
#define VOS_CQE_BUFFER_SHIFT 16

/* The id of the pool buffer a completion with VOS_CQE_F_BUFFER names. */
static inline unsigned vos_cqe_buffer(const struct vos_cqe *c)
{
	return c->flags >> VOS_CQE_BUFFER_SHIFT;
}

/* Configuration of a context; initialise with vos_config_init(). */
struct vos_config {
	uint32_t size;          /* sizeof(struct vos_config) (set by init) */
	uint32_t queue_depth;   /* requests submitted but not yet returned by
	                         * vos_wait(); 1..VOS_MAX_QUEUE_DEPTH */
	const char *transport;  /* transport name; NULL: $VOS_TRANSPORT, else
	                         * "io_uring-local" */
	const char *options;    /* transport options, "key=value,key=value";
	                         * NULL: $VOS_TRANSPORT_OPTIONS, else none */
	int64_t spin_ns;        /* how long vos_wait() polls before it
	                         * sleeps; 0: never spin; <0: the default */
	uint32_t flags;         /* reserved, 0 */
	uint32_t reserved;
	/* Since 0.2 (a config of the 0.1 size is still accepted):
	 * every call must complete within deadline_ns, or it is cancelled
	 * and completes with -ETIMEDOUT.  Through a service that answers
	 * neither the call nor its cancel within 200 ms more, the service
	 * is given up (its other calls fail, the next call that makes an fd
	 * attaches again): a service that stops answering cannot make a
	 * program wait forever.  0: none (the default: a recv may wait for
	 * its peer as long as the peer takes).  A request's deadline_ms
	 * overrides it. */
	int64_t deadline_ns;
};

struct vos_ctx;

/* ---- contexts ---------------------------------------------------------- */

/*
 * vos_config_init - fill *cfg with the defaults: queue depth 256, the
 * transport named by $VOS_TRANSPORT (else "io_uring-local"), default spin,
 * no deadline.
 */
void vos_config_init(struct vos_config *cfg);

/*
 * vos_ctx_create - create a context.  cfg may be NULL for the defaults.
 * Returns 0 and stores the context in *ctxp, or:
 *   -EINVAL   cfg->size unknown, queue_depth 0 or above VOS_MAX_QUEUE_DEPTH,
 *             flags not 0, deadline_ns negative, ctxp NULL, malformed
 *             options;
 *   -ENOENT   no transport by that name;
 *   -ENOMEM   out of memory;
 *   any error of the transport's open (e.g. -ECONNREFUSED for a daemon).
 */
int vos_ctx_create(const struct vos_config *cfg, struct vos_ctx **ctxp);

/*
 * vos_ctx_destroy - release a context.  Requests still in flight are
 * cancelled and their completions discarded; memory they point to may be
 * freed once this returns.  Later calls with the same pointer fail with
 * -EBADF (the handle itself is kept, 32 bytes, so that this stays safe).
 * Returns 0, -EINVAL for NULL, -EBADF if already destroyed.
 */
int vos_ctx_destroy(struct vos_ctx *ctx);

/*
 * vos_ctx_describe - a short human-readable name of the transport and the
 * backend it chose, e.g. "io_uring-local (uring)".  NULL for a NULL or
 * destroyed context.  The string lives as long as the context.
 */
const char *vos_ctx_describe(const struct vos_ctx *ctx);

/*
 * vos_after_fork - call in the child after fork() before using a context
 * inherited from the parent.  The child gets a fresh, empty queue: requests
 * the parent had in flight are the parent's and never complete in the
 * child.  Returns 0 or -errno (-EBADF for a destroyed context).
 */
int vos_after_fork(struct vos_ctx *ctx);

/*
 * vos_fd_forget - tell the context that fd was closed or changed (e.g.
 * O_NONBLOCK, O_DIRECT) behind its back.  The local transport remembers
 * what kind of file each fd is in order to route its operations; fds
 * opened, closed and changed through vos need no call.  Returns 0,
 * -EBADF for a destroyed context.
 */
int vos_fd_forget(struct vos_ctx *ctx, int fd);

/* ---- submission and completion ----------------------------------------- */

/*
 * vos_submit - hand n requests to the context.  Returns how many were
 * accepted (the first ones, in order), or:
 *   -EBUSY    none accepted: queue_depth requests are already outstanding
 *             (submitted and not yet returned by vos_wait(); the core's
 *             own cancel of a request past its deadline counts too, until
 *             answered), or the first is a chain (VOS_REQ_LINK) that does
 *             not fit in what is left; reap some;
 *   -EINVAL   ctx or reqs NULL (with n > 0), or the first is a chain
 *             longer than queue_depth;
 *   -EBADF    ctx was destroyed.
 * It never blocks waiting for the service (a peer, a device queue, a
 * timer); calls the transport runs inline take as long as the system call
 * (see vos_submit(3)).  A request that is malformed is
 * still accepted and completes with an error:
 *   -EINVAL   unknown op, unknown flags, reserved fields not zero, iovcnt above
 *             VOS_IOV_MAX, unsupported fcntl command or ioctl request;
 *   -ETIMEDOUT  (later) the request's deadline passed (vos_req.deadline_ms,
 *             vos_config.deadline_ns);
 *   -EFAULT   NULL buffer/path/iovec with a non-zero length;
 *   -EBADF    negative fd where one is needed;
 *   -ENOENT   (cancel) no such request in flight.
 */
int vos_submit(struct vos_ctx *ctx, const struct vos_req *reqs, unsigned n);

/*
 * vos_wait - copy up to max completions into cqes, waiting until at least
 * min are available or timeout_ns nanoseconds have passed (timeout_ns < 0:
 * no limit; 0: do not wait).  min is lowered to the number of requests
 * outstanding, so a wait never blocks for completions that cannot come;
 * with nothing outstanding it returns 0 at once.  Returns the number of
 * completions copied (possibly fewer than min if the time ran out), or:
 *   -ETIME    the time ran out with no completion (timeout 0 included,
 *             when min > 0);
 *   -EINTR    a signal arrived while waiting, with no completion;
 *   -EINVAL   ctx or cqes NULL, max 0, min > max;
 *   -EBADF    ctx was destroyed.
 */
int vos_wait(struct vos_ctx *ctx, struct vos_cqe *cqes, unsigned max,
	     unsigned min, int64_t timeout_ns);

/*
 * vos_cancel - try to cancel the request with this user_data and wait for
 * the answer.  Returns 0 (it will complete with -ECANCELED, or -EINTR),
 * -ENOENT (no such request in flight: it may already have completed),
 * -EALREADY (it is running and cannot be stopped; it will complete).
 * The cancelled request's own completion is returned by vos_wait().
 */
int vos_cancel(struct vos_ctx *ctx, uint64_t user_data);

/*
 * vos_ctx_fd - a file descriptor that polls readable (POLLIN) when
 * vos_wait() on ctx may return a completion without waiting, so that a
 * context can live in an epoll, libuv or libevent loop (since 0.2).  It
 * belongs to the context (do not close it; it lives until
 * vos_ctx_destroy(); after fork the child calls vos_ctx_fd() again for its
 * own).  Use: wait for POLLIN (level- or edge-triggered); then call
 * vos_wait(ctx, cqes, max, 1, 0) until it returns -ETIME, and wait for the
 * fd again.  Every call into the context (vos_submit, vos_wait, a blocking
 * wrapper) leaves the fd up to date when it returns.  Request deadlines
 * are enforced: the fd becomes readable when the soonest one is due, and
 * vos_wait() with min 1 then cancels what is late.  Returns the fd, or
 * -errno (-EBADF destroyed, -EINVAL NULL, -EMFILE ...).
 */
int vos_ctx_fd(struct vos_ctx *ctx);

/* Most contexts vos_wait_any() takes at once. */
#define VOS_WAIT_ANY_MAX 64u

/*
 * vos_wait_any - wait until one of n contexts has a completion ready, or
 * timeout_ns nanoseconds have passed (< 0: no limit; 0: do not wait), and
 * return the index of such a context (then vos_wait() on it with timeout 0
 * returns at least one completion).  Contexts with nothing outstanding
 * are skipped.  Returns the index, or -ETIME (time ran out), -EINTR (a
 * signal), -EAGAIN (none of them has anything outstanding), -EINVAL (ctxs
 * NULL, n 0 or above VOS_WAIT_ANY_MAX), -EBADF (a destroyed context).  It
 * uses each context's vos_ctx_fd() (since 0.2).
 */
int vos_wait_any(struct vos_ctx *const *ctxs, unsigned n, int64_t timeout_ns);

/* The name of an operation ("read", ...), or "unknown". */
const char *vos_op_name(unsigned op);

/* ---- request preparation (inline) ------------------------------------- */

static inline void vos__prep(struct vos_req *r, uint8_t op, int fd)
{
	memset(r, 0, sizeof(*r));
	r->op = op;
	r->fd = fd;
}

/* nop: completes with 0.  Measures the path to the service and back. */
static inline void vos_prep_nop(struct vos_req *r)
{
	vos__prep(r, VOS_OP_NOP, -1);
}

/* openat(dirfd, path, flags, mode): result is the new fd. */
static inline void vos_prep_openat(struct vos_req *r, int dirfd,
				   const char *path, int flags, mode_t mode)
{
	vos__prep(r, VOS_OP_OPENAT, dirfd);
	r->addr = (uint64_t)(uintptr_t)path;
	r->op_flags = (uint32_t)flags;
	r->arg = mode;
}

struct open_how; /* <linux/openat2.h> */

/* openat2(dirfd, path, how, size): how is read when the request is
 * submitted (not later), as the kernel reads it: its size, unknown flags
 * and RESOLVE_ bits, mode rules, each refused as openat2(2) refuses them.
 * RESOLVE_BENEATH and RESOLVE_IN_ROOT scope the path to dirfd: such a
 * call goes where dirfd lives, whatever the path (an absolute one
 * included).  (since 0.3) */
static inline void vos_prep_openat2(struct vos_req *r, int dirfd,
				    const char *path,
				    const struct open_how *how, size_t size)
{
	vos__prep(r, VOS_OP_OPENAT2, dirfd);
	r->addr = (uint64_t)(uintptr_t)path;
	r->addr2 = (uint64_t)(uintptr_t)how;
	r->off = size;
}

/* close(fd) */
static inline void vos_prep_close(struct vos_req *r, int fd)
{
	vos__prep(r, VOS_OP_CLOSE, fd);
}

/* read(fd, buf, len) at the file position. */
static inline void vos_prep_read(struct vos_req *r, int fd, void *buf,
				 uint32_t len)
{
	vos__prep(r, VOS_OP_READ, fd);
	r->addr = (uint64_t)(uintptr_t)buf;
	r->len = len;
}

/* write(fd, buf, len) at the file position. */
static inline void vos_prep_write(struct vos_req *r, int fd, const void *buf,
				  uint32_t len)
{
	vos__prep(r, VOS_OP_WRITE, fd);
	r->addr = (uint64_t)(uintptr_t)buf;
	r->len = len;
}

/* pread(fd, buf, len, off) */
static inline void vos_prep_pread(struct vos_req *r, int fd, void *buf,
				  uint32_t len, uint64_t off)
{
	vos__prep(r, VOS_OP_PREAD, fd);
	r->addr = (uint64_t)(uintptr_t)buf;
	r->len = len;
	r->off = off;
}

/* pwrite(fd, buf, len, off) */
static inline void vos_prep_pwrite(struct vos_req *r, int fd, const void *buf,
				   uint32_t len, uint64_t off)
{
	vos__prep(r, VOS_OP_PWRITE, fd);
	r->addr = (uint64_t)(uintptr_t)buf;
	r->len = len;
	r->off = off;
}

/* preadv(fd, iov, iovcnt, off); off VOS_OFF_CURRENT: readv(). */
static inline void vos_prep_readv(struct vos_req *r, int fd,
				  const struct iovec *iov, unsigned iovcnt,
				  uint64_t off)
{
	vos__prep(r, VOS_OP_READV, fd);
	r->addr = (uint64_t)(uintptr_t)iov;
	r->len = iovcnt;
	r->off = off;
}

/* pwritev(fd, iov, iovcnt, off); off VOS_OFF_CURRENT: writev(). */
static inline void vos_prep_writev(struct vos_req *r, int fd,
				   const struct iovec *iov, unsigned iovcnt,
				   uint64_t off)
{
	vos__prep(r, VOS_OP_WRITEV, fd);
	r->addr = (uint64_t)(uintptr_t)iov;
	r->len = iovcnt;
	r->off = off;
}

/* preadv2(fd, iov, iovcnt, off, flags) (since 0.3): readv with RWF_
 * flags (RWF_NOWAIT, RWF_HIPRI, ...) in op_flags; off VOS_OFF_CURRENT:
 * the file position.  (Any read or write takes RWF_ flags in op_flags.) */
static inline void vos_prep_readv2(struct vos_req *r, int fd,
				   const struct iovec *iov, unsigned iovcnt,
				   uint64_t off, int flags)
{
	vos_prep_readv(r, fd, iov, iovcnt, off);
	r->op_flags = (uint32_t)flags;
}

/* pwritev2(fd, iov, iovcnt, off, flags) (since 0.3): RWF_APPEND,
 * RWF_DSYNC, RWF_SYNC, RWF_NOWAIT, ... in op_flags. */
static inline void vos_prep_writev2(struct vos_req *r, int fd,
				    const struct iovec *iov, unsigned iovcnt,
				    uint64_t off, int flags)
{
	vos_prep_writev(r, fd, iov, iovcnt, off);
	r->op_flags = (uint32_t)flags;
}

/* fsync(fd) */
static inline void vos_prep_fsync(struct vos_req *r, int fd)
{
	vos__prep(r, VOS_OP_FSYNC, fd);
}

/* fdatasync(fd) */
static inline void vos_prep_fdatasync(struct vos_req *r, int fd)
{
	vos__prep(r, VOS_OP_FDATASYNC, fd);
}

/* getdents64(fd, buf, len): directory entries (struct linux_dirent64,
 * as <dirent.h> lays out struct dirent64) into buf; 0 at the end of the
 * directory.  As many whole entries as fit: -EINVAL if not even one. */
static inline void vos_prep_getdents(struct vos_req *r, int fd, void *buf,
				     uint32_t len)
{
	vos__prep(r, VOS_OP_GETDENTS, fd);
	r->addr = (uint64_t)(uintptr_t)buf;
	r->len = len;
}

struct statx;
/* statx(dirfd, path, flags, mask, stx) */
static inline void vos_prep_statx(struct vos_req *r, int dirfd,
				  const char *path, int flags, unsigned mask,
				  struct statx *stx)
{
	vos__prep(r, VOS_OP_STATX, dirfd);
	r->addr = (uint64_t)(uintptr_t)path;
	r->op_flags = (uint32_t)flags;
	r->arg = mask;
	r->addr2 = (uint64_t)(uintptr_t)stx;
}

/* ftruncate(fd, length) */
static inline void vos_prep_ftruncate(struct vos_req *r, int fd,
				      uint64_t length)
{
	vos__prep(r, VOS_OP_FTRUNCATE, fd);
	r->off = length;
}

/* fallocate(fd, mode, off, len) */
static inline void vos_prep_fallocate(struct vos_req *r, int fd, int mode,
				      uint64_t off, uint64_t len)
{
	vos__prep(r, VOS_OP_FALLOCATE, fd);
	r->op_flags = (uint32_t)mode;
	r->off = off;
	r->arg = len;
}

/* unlinkat(dirfd, path, flags) */
static inline void vos_prep_unlinkat(struct vos_req *r, int dirfd,
				     const char *path, int flags)
{
	vos__prep(r, VOS_OP_UNLINKAT, dirfd);
	r->addr = (uint64_t)(uintptr_t)path;
	r->op_flags = (uint32_t)flags;
}

/* mkdirat(dirfd, path, mode) */
static inline void vos_prep_mkdirat(struct vos_req *r, int dirfd,
				    const char *path, mode_t mode)
{
	vos__prep(r, VOS_OP_MKDIRAT, dirfd);
	r->addr = (uint64_t)(uintptr_t)path;
	r->arg = mode;
}

/* renameat2(olddirfd, oldpath, newdirfd, newpath, flags) */
static inline void vos_prep_renameat(struct vos_req *r, int olddirfd,
				     const char *oldpath, int newdirfd,
				     const char *newpath, unsigned flags)
{
	vos__prep(r, VOS_OP_RENAMEAT, olddirfd);
	r->addr = (uint64_t)(uintptr_t)oldpath;
	r->fd2 = newdirfd;
	r->addr2 = (uint64_t)(uintptr_t)newpath;
	r->op_flags = flags;
}

/* lseek(fd, offset, whence): result is the new file position (since
 * 0.3).  Through a service the position is that of the service's open
 * file, the one its reads and writes use. */
static inline void vos_prep_lseek(struct vos_req *r, int fd, int64_t offset,
				  int whence)
{
	vos__prep(r, VOS_OP_LSEEK, fd);
	r->off = (uint64_t)offset;
	r->op_flags = (uint32_t)whence;
}

/* fchmodat(dirfd, path, mode, flags): flags 0 or AT_SYMLINK_NOFOLLOW
 * (since 0.3) */
static inline void vos_prep_fchmodat(struct vos_req *r, int dirfd,
				     const char *path, mode_t mode, int flags)
{
	vos__prep(r, VOS_OP_FCHMODAT, dirfd);
	r->addr = (uint64_t)(uintptr_t)path;
	r->arg = mode;
	r->op_flags = (uint32_t)flags;
}

/* fchownat(dirfd, path, owner, group, flags): flags of
 * AT_SYMLINK_NOFOLLOW and AT_EMPTY_PATH (with path "", the fd itself, as
 * fchown(2)); (uid_t)-1 / (gid_t)-1 leave that id (since 0.3) */
static inline void vos_prep_fchownat(struct vos_req *r, int dirfd,
				     const char *path, uid_t owner,
				     gid_t group, int flags)
{
	vos__prep(r, VOS_OP_FCHOWNAT, dirfd);
	r->addr = (uint64_t)(uintptr_t)path;
	r->arg = (uint32_t)owner;
	r->off = (uint32_t)group;
	r->op_flags = (uint32_t)flags;
}

/* faccessat(dirfd, path, mode, flags), as faccessat2(2): flags of
 * AT_EACCESS, AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH (since 0.3) */
static inline void vos_prep_faccessat(struct vos_req *r, int dirfd,
				      const char *path, int mode, int flags)
{
	vos__prep(r, VOS_OP_FACCESSAT, dirfd);
	r->addr = (uint64_t)(uintptr_t)path;
	r->arg = (uint32_t)mode;
	r->op_flags = (uint32_t)flags;
}

/* linkat(olddirfd, oldpath, newdirfd, newpath, flags): flags 0 or
 * AT_SYMLINK_FOLLOW (since 0.3) */
static inline void vos_prep_linkat(struct vos_req *r, int olddirfd,
				   const char *oldpath, int newdirfd,
				   const char *newpath, int flags)
{
	vos__prep(r, VOS_OP_LINKAT, olddirfd);
	r->addr = (uint64_t)(uintptr_t)oldpath;
	r->fd2 = newdirfd;
	r->addr2 = (uint64_t)(uintptr_t)newpath;
	r->op_flags = (uint32_t)flags;
}

/* symlinkat(target, newdirfd, linkpath): the link is made at (newdirfd,
 * linkpath), which decides where the call goes; target is stored as it is
 * (since 0.3) */
static inline void vos_prep_symlinkat(struct vos_req *r, const char *target,
				      int newdirfd, const char *linkpath)
{
	vos__prep(r, VOS_OP_SYMLINKAT, newdirfd);
	r->addr = (uint64_t)(uintptr_t)linkpath;
	r->addr2 = (uint64_t)(uintptr_t)target;
}

/* readlinkat(dirfd, path, buf, bufsiz): result is the number of bytes
 * placed in buf (no NUL added), as readlinkat(2) (since 0.3) */
static inline void vos_prep_readlinkat(struct vos_req *r, int dirfd,
				       const char *path, char *buf,
				       uint32_t bufsiz)
{
	vos__prep(r, VOS_OP_READLINKAT, dirfd);
	r->addr = (uint64_t)(uintptr_t)path;
	r->addr2 = (uint64_t)(uintptr_t)buf;
	r->len = bufsiz;
}

struct timespec;
struct statfs;
struct flock;

/* utimensat(dirfd, path, times, flags): times NULL sets both to now;
 * flags of AT_SYMLINK_NOFOLLOW and AT_EMPTY_PATH; a NULL path with a
 * dirfd other than AT_FDCWD (and flags 0) names the fd itself, as
 * futimens(3) (since 0.3) */
static inline void vos_prep_utimensat(struct vos_req *r, int dirfd,
				      const char *path,
				      const struct timespec *times, int flags)
{
	vos__prep(r, VOS_OP_UTIMENSAT, dirfd);
	r->addr = (uint64_t)(uintptr_t)path;
	r->addr2 = (uint64_t)(uintptr_t)times;
	r->op_flags = (uint32_t)flags;
}

/* mknodat(dirfd, path, mode, dev) (since 0.3) */
static inline void vos_prep_mknodat(struct vos_req *r, int dirfd,
				    const char *path, mode_t mode, dev_t dev)
{
	vos__prep(r, VOS_OP_MKNODAT, dirfd);
	r->addr = (uint64_t)(uintptr_t)path;
	r->arg = mode;
	r->off = (uint64_t)dev;
}

/* truncate(path, length): a relative path from the working directory
 * (since 0.3) */
static inline void vos_prep_truncate(struct vos_req *r, const char *path,
				     int64_t length)
{
	vos__prep(r, VOS_OP_TRUNCATE, -100 /* AT_FDCWD */);
	r->addr = (uint64_t)(uintptr_t)path;
	r->off = (uint64_t)length;
}

/* posix_fadvise(fd, off, len, advice), as the fadvise64 system call: the
 * result is 0 or -errno (since 0.3) */
static inline void vos_prep_fadvise(struct vos_req *r, int fd, int64_t off,
				    int64_t len, int advice)
{
	vos__prep(r, VOS_OP_FADVISE, fd);
	r->off = (uint64_t)off;
	r->arg = (uint64_t)len;
	r->op_flags = (uint32_t)advice;
}

/* sync_file_range(fd, off, nbytes, flags) (since 0.3) */
static inline void vos_prep_sync_file_range(struct vos_req *r, int fd,
					    int64_t off, int64_t nbytes,
					    unsigned flags)
{
	vos__prep(r, VOS_OP_SYNC_FILE_RANGE, fd);
	r->off = (uint64_t)off;
	r->arg = (uint64_t)nbytes;
	r->op_flags = flags;
}

/* syncfs(fd) (since 0.3) */
static inline void vos_prep_syncfs(struct vos_req *r, int fd)
{
	vos__prep(r, VOS_OP_SYNCFS, fd);
}

/* statfs(path, buf) (since 0.3) */
static inline void vos_prep_statfs(struct vos_req *r, const char *path,
				   struct statfs *buf)
{
	vos__prep(r, VOS_OP_STATFS, -100 /* AT_FDCWD */);
	r->addr = (uint64_t)(uintptr_t)path;
	r->addr2 = (uint64_t)(uintptr_t)buf;
}

/* fstatfs(fd, buf): the same op, on the fd itself (an empty path with
 * AT_EMPTY_PATH, 0x1000) (since 0.3) */
static inline void vos_prep_fstatfs(struct vos_req *r, int fd,
				    struct statfs *buf)
{
	vos__prep(r, VOS_OP_STATFS, fd);
	r->addr = (uint64_t)(uintptr_t)"";
	r->addr2 = (uint64_t)(uintptr_t)buf;
	r->op_flags = 0x1000; /* AT_EMPTY_PATH */
}

/* fcntl's record locks: cmd is F_GETLK, F_SETLK, F_SETLKW (5, 6, 7) or
 * F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW (36, 37, 38); lock is read (and
 * for the GETLK forms written back) as fcntl(2) does.  Through a service
 * the lock belongs to the service's open file description: the POSIX
 * forms become the OFD ones there (doc/semantics.md).  (since 0.3) */
static inline void vos_prep_fcntl_lock(struct vos_req *r, int fd, int cmd,
				       struct flock *lock)
{
	vos__prep(r, VOS_OP_FCNTL_LOCK, fd);
	r->op_flags = (uint32_t)cmd;
	r->addr = (uint64_t)(uintptr_t)lock;
}

/* fcntl(fd, cmd, arg): cmd is F_GETFL, F_SETFL, F_GETFD, F_SETFD, F_DUPFD
 * or F_DUPFD_CLOEXEC, or a record-lock command with arg a struct flock *
 * (vos_prep_fcntl_lock, since 0.3); any other completes with -EINVAL. */
static inline void vos_prep_fcntl(struct vos_req *r, int fd, int cmd,
				  long arg)
{
	if ((cmd >= 5 && cmd <= 7) || (cmd >= 36 && cmd <= 38)) {
		/* F_GETLK..F_SETLKW, F_OFD_GETLK..F_OFD_SETLKW */
		vos_prep_fcntl_lock(r, fd, cmd, (struct flock *)arg);
		return;
	}
	vos__prep(r, VOS_OP_FCNTL, fd);
	r->op_flags = (uint32_t)cmd;
	r->arg = (uint64_t)arg;
}

/* ioctl(fd, request, argp): request is FIONREAD or FIONBIO (argp an int *);
 * any other completes with -EINVAL. */
static inline void vos_prep_ioctl(struct vos_req *r, int fd,
				  unsigned long request, int *argp)
{
	vos__prep(r, VOS_OP_IOCTL, fd);
	r->op_flags = (uint32_t)request;
	r->addr = (uint64_t)(uintptr_t)argp;
}

/* socket(domain, type, protocol): result is the new fd. */
static inline void vos_prep_socket(struct vos_req *r, int domain, int type,
				   int protocol)
{
	vos__prep(r, VOS_OP_SOCKET, -1);
	r->arg = (uint64_t)domain;
	r->op_flags = (uint32_t)type;
	r->fd2 = protocol;
}

/* pipe2(fds, flags) and socketpair(domain, type, protocol, sv): always
 * made by the local kernel (a pipe or a pair of connected sockets in the
 * program's own domain, whatever the routes say), as the system calls
 * make them; through a service context (no routing) -EOPNOTSUPP.  The
 * two fds are written to the array only when the call succeeds; one the
 * library cannot write to is -EFAULT, and nothing is left open.
 * (since 0.3) */
static inline void vos_prep_pipe2(struct vos_req *r, int fds[2], int flags)
{
	vos__prep(r, VOS_OP_PIPE2, -1);
	r->addr = (uint64_t)(uintptr_t)fds;
	r->op_flags = (uint32_t)flags;
}

static inline void vos_prep_socketpair(struct vos_req *r, int domain,
				       int type, int protocol, int sv[2])
{
	vos__prep(r, VOS_OP_SOCKETPAIR, -1);
	r->addr = (uint64_t)(uintptr_t)sv;
	r->arg = (uint64_t)domain;
	r->op_flags = (uint32_t)type;
	r->fd2 = protocol;
}

/* dup3(oldfd, newfd, flags) (flags: 0 or O_CLOEXEC) and dup2(oldfd,
 * newfd) (the same op with len 1: oldfd == newfd is then newfd if oldfd
 * is open, where dup3 says -EINVAL): newfd becomes a copy of oldfd,
 * whatever it was before (a local fd, a service's, or none).  An fd of a
 * service stays the service's: the service duplicates it and newfd
 * becomes its placeholder (doc/semantics.md).  (since 0.3) */
static inline void vos_prep_dup3(struct vos_req *r, int oldfd, int newfd,
				 int flags)
{
	vos__prep(r, VOS_OP_DUP3, oldfd);
	r->arg = (uint32_t)newfd;
	r->op_flags = (uint32_t)flags;
}

static inline void vos_prep_dup2(struct vos_req *r, int oldfd, int newfd)
{
	vos_prep_dup3(r, oldfd, newfd, 0);
	r->len = 1;
}

/*
 * copy_file_range, sendfile, splice: count bytes from fd_in to fd_out.
 * fd is fd_in, fd2 fd_out, addr and addr2 their offsets (int64_t *, the
 * kernel's loff_t; NULL: the file position, which the call advances),
 * arg the count, op_flags the flags.  An offset given is read when the
 * call starts and written back, advanced, when it succeeds.  Where both
 * fds live in one domain (the local kernel, or one service) that domain's
 * kernel makes the call; across domains the library copies, read then
 * write, and what that can and cannot give is in doc/semantics.md.
 * (since 0.3)
 */
static inline void vos_prep_copy_file_range(struct vos_req *r, int fd_in,
					    int64_t *off_in, int fd_out,
					    int64_t *off_out, size_t len,
					    unsigned flags)
{
	vos__prep(r, VOS_OP_COPY_FILE_RANGE, fd_in);
	r->fd2 = fd_out;
	r->addr = (uint64_t)(uintptr_t)off_in;
	r->addr2 = (uint64_t)(uintptr_t)off_out;
	r->arg = len;
	r->op_flags = flags;
}

/* sendfile(out_fd, in_fd, offset, count) (as copy_file_range above: fd
 * is in_fd, fd2 out_fd) */
static inline void vos_prep_sendfile(struct vos_req *r, int out_fd,
				     int in_fd, int64_t *offset, size_t count)
{
	vos__prep(r, VOS_OP_SENDFILE, in_fd);
	r->fd2 = out_fd;
	r->addr = (uint64_t)(uintptr_t)offset;
	r->arg = count;
}

/* splice(fd_in, off_in, fd_out, off_out, len, flags) */
static inline void vos_prep_splice(struct vos_req *r, int fd_in,
				   int64_t *off_in, int fd_out,
				   int64_t *off_out, size_t len,
				   unsigned flags)
{
	/* (the fields as copy_file_range's) */
	vos_prep_copy_file_range(r, fd_in, off_in, fd_out, off_out, len, flags);
	r->op = VOS_OP_SPLICE;
}

/* bind(fd, addr, addrlen) */
static inline void vos_prep_bind(struct vos_req *r, int fd,
				 const struct sockaddr *addr, socklen_t addrlen)
{
	vos__prep(r, VOS_OP_BIND, fd);
	r->addr = (uint64_t)(uintptr_t)addr;
	r->len = addrlen;
}

/* listen(fd, backlog) */
static inline void vos_prep_listen(struct vos_req *r, int fd, int backlog)
{
	vos__prep(r, VOS_OP_LISTEN, fd);
	r->len = (uint32_t)backlog;
}

/* accept4(fd, addr, addrlen, flags): addr and addrlen may be NULL. */
static inline void vos_prep_accept(struct vos_req *r, int fd,
				   struct sockaddr *addr, socklen_t *addrlen,
				   int flags)
{
	vos__prep(r, VOS_OP_ACCEPT, fd);
	r->addr = (uint64_t)(uintptr_t)addr;
	r->addr2 = (uint64_t)(uintptr_t)addrlen;
	r->op_flags = (uint32_t)flags;
}

/* connect(fd, addr, addrlen) */
static inline void vos_prep_connect(struct vos_req *r, int fd,
				    const struct sockaddr *addr,
				    socklen_t addrlen)
{
	vos__prep(r, VOS_OP_CONNECT, fd);
	r->addr = (uint64_t)(uintptr_t)addr;
	r->len = addrlen;
}

/* shutdown(fd, how) */
static inline void vos_prep_shutdown(struct vos_req *r, int fd, int how)
{
	vos__prep(r, VOS_OP_SHUTDOWN, fd);
	r->len = (uint32_t)how;
}

/* send(fd, buf, len, flags) */
static inline void vos_prep_send(struct vos_req *r, int fd, const void *buf,
				 uint32_t len, int flags)
{
	vos__prep(r, VOS_OP_SEND, fd);
	r->addr = (uint64_t)(uintptr_t)buf;
	r->len = len;
	r->op_flags = (uint32_t)flags;
}

/* recv(fd, buf, len, flags) */
static inline void vos_prep_recv(struct vos_req *r, int fd, void *buf,
				 uint32_t len, int flags)
{
	vos__prep(r, VOS_OP_RECV, fd);
	r->addr = (uint64_t)(uintptr_t)buf;
	r->len = len;
	r->op_flags = (uint32_t)flags;
}

/* sendmsg(fd, msg, flags) */
static inline void vos_prep_sendmsg(struct vos_req *r, int fd,
				    const struct msghdr *msg, int flags)
{
	vos__prep(r, VOS_OP_SENDMSG, fd);
	r->addr = (uint64_t)(uintptr_t)msg;
	r->op_flags = (uint32_t)flags;
}

/* recvmsg(fd, msg, flags) */
static inline void vos_prep_recvmsg(struct vos_req *r, int fd,
				    struct msghdr *msg, int flags)
{
	vos__prep(r, VOS_OP_RECVMSG, fd);
	r->addr = (uint64_t)(uintptr_t)msg;
	r->op_flags = (uint32_t)flags;
}

/* setsockopt(fd, level, optname, optval, optlen) */
static inline void vos_prep_setsockopt(struct vos_req *r, int fd, int level,
				       int optname, const void *optval,
				       socklen_t optlen)
{
	vos__prep(r, VOS_OP_SETSOCKOPT, fd);
	r->arg = (uint64_t)level;
	r->op_flags = (uint32_t)optname;
	r->addr = (uint64_t)(uintptr_t)optval;
	r->len = optlen;
}

/* getsockopt(fd, level, optname, optval, optlen) */
static inline void vos_prep_getsockopt(struct vos_req *r, int fd, int level,
				       int optname, void *optval,
				       socklen_t *optlen)
{
	vos__prep(r, VOS_OP_GETSOCKOPT, fd);
	r->arg = (uint64_t)level;
	r->op_flags = (uint32_t)optname;
	r->addr = (uint64_t)(uintptr_t)optval;
	r->addr2 = (uint64_t)(uintptr_t)optlen;
}

/* getsockname(fd, addr, addrlen) */
static inline void vos_prep_getsockname(struct vos_req *r, int fd,
					struct sockaddr *addr,
					socklen_t *addrlen)
{
	vos__prep(r, VOS_OP_GETSOCKNAME, fd);
	r->addr = (uint64_t)(uintptr_t)addr;
	r->addr2 = (uint64_t)(uintptr_t)addrlen;
}

/* getpeername(fd, addr, addrlen) */
static inline void vos_prep_getpeername(struct vos_req *r, int fd,
					struct sockaddr *addr,
					socklen_t *addrlen)
{
	vos__prep(r, VOS_OP_GETPEERNAME, fd);
	r->addr = (uint64_t)(uintptr_t)addr;
	r->addr2 = (uint64_t)(uintptr_t)addrlen;
}

/* One-shot readiness: completes with the revents (POLLIN, ...) once fd
 * is ready for one of events. */
static inline void vos_prep_poll(struct vos_req *r, int fd, short events)
{
	vos__prep(r, VOS_OP_POLL, fd);
	r->op_flags = (uint16_t)events;
}

/* Completes with 0 after ns nanoseconds (-ECANCELED if cancelled). */
static inline void vos_prep_timeout(struct vos_req *r, uint64_t ns)
{
	vos__prep(r, VOS_OP_TIMEOUT, -1);
	r->off = ns;
}

/* Cancel the request whose user_data is target: completes with 0,
 * -ENOENT or -EALREADY (see vos_cancel()). */
static inline void vos_prep_cancel(struct vos_req *r, uint64_t target)
{
	vos__prep(r, VOS_OP_CANCEL, -1);
	r->off = target;
}

/* Multishot accept (since 0.2): one request, a completion per accepted
 * connection (the new fd, with VOS_CQE_F_MORE while the request stays
 * armed); it ends with a completion without VOS_CQE_F_MORE: an error, or
 * -ECANCELED once cancelled (or, if a connection was being accepted when
 * the cancel came, that connection's fd: it is the program's).  Closing
 * the fd through the context cancels it first.  Its completions count in
 * the queue depth until vos_wait() returns them.  flags as accept4's.
 * On every transport: through a service the library runs it as one
 * accept after another (vos_prep(3)). */
static inline void vos_prep_accept_multishot(struct vos_req *r, int fd,
					     int flags)
{
	vos__prep(r, VOS_OP_ACCEPT_MULTI, fd);
	r->op_flags = (uint32_t)flags;
}

/* Multishot recv (since 0.2): one request, a completion per received run of
 * bytes, each in a buffer taken from pool `group` (vos_buf_pool_create():
 * VOS_CQE_F_BUFFER, vos_cqe_buffer()), at most len bytes (0: the pool's
 * buffer size), with VOS_CQE_F_MORE while the request stays armed.  It ends
 * with a completion without VOS_CQE_F_MORE: 0 at the end of the stream,
 * -ENOBUFS when the pool has no free buffer (return some and submit
 * again), another error, or -ECANCELED once cancelled.  A connection that
 * is idle holds no buffer.  flags as recv's (MSG_WAITALL, MSG_PEEK and
 * MSG_TRUNC are refused; a pool that does not exist yet ends it at once
 * with -ENOBUFS).  On every transport: through a service the library runs it
 * as a poll, then a recv into the buffer, and again (vos_prep(3)). */
static inline void vos_prep_recv_multishot(struct vos_req *r, int fd,
					   uint16_t group, uint32_t len,
					   int flags)
{
	vos__prep(r, VOS_OP_RECV_MULTI, fd);
	r->arg = group;
	r->len = len;
	r->op_flags = (uint32_t)flags;
}

/* ---- buffer pools (since 0.2) ----------------------------------------- */

/* Largest count of a pool; largest group id is 65535. */
#define VOS_BUF_POOL_MAX 32768u

/*
 * vos_buf_pool_create - make pool `group` of count buffers of size bytes
 * each, for multishot recvs; *base receives their memory (buffer i at
 * base + i * size).  All buffers start free.  Returns 0, or -EEXIST (the
 * group exists), -EINVAL (count 0 or above VOS_BUF_POOL_MAX, size 0 or
 * above 16 MiB, base NULL), -ENOMEM, -EBADF.  The pools are the
 * context's: every transport under it fills them.
 */
int vos_buf_pool_create(struct vos_ctx *ctx, uint16_t group, uint32_t count,
			uint32_t size, void **base);
/*
 * vos_buf_return - give buffer bid of pool group back after its completion
 * was handled: a multishot recv may fill it again.  Returns 0, -ENOENT (no
 * such pool), -EINVAL (bid out of range, or not a buffer a completion
 * handed out: already free), -EBADF.
 */
int vos_buf_return(struct vos_ctx *ctx, uint16_t group, uint32_t bid);
/*
 * vos_buf_pool_destroy - free pool group.  Returns 0, -ENOENT, -EBUSY (a
 * multishot recv of it is in flight), -EBADF.
 */
int vos_buf_pool_destroy(struct vos_ctx *ctx, uint16_t group);

/* ---- zero-copy buffers (since 0.3) -------------------------------------- */

/*
 * vos_buf_alloc - len bytes of memory for reads and writes on fd, page-
 * aligned, in *buf.  When fd belongs to a service daemon on this machine
 * (the shm transport), the memory is shared with that service: a read,
 * pread, recv, write, pwrite or send on fd whose buffer lies inside it
 * moves no byte through a data slot (one request, whatever its length;
 * the service reads or fills the buffer in place).  Otherwise, or if the
 * service does not take the memory, it is ordinary memory and every call
 * works as with any buffer.  Results are the same either way.
 *
 * Shared buffers are the service's to read and write while a call on
 * them is in flight, and a misbehaving service could write into them at
 * any time: keep nothing there that the service must not see.  They
 * outlive a restart of the service (the next attachment shares them
 * again), are private copies in a forked child (as fork(2) makes of
 * ordinary memory, no longer shared with a service), and are freed with
 * vos_buf_free() or when the context is destroyed.
 *
 * Returns 0, or -EINVAL (buf NULL, len 0), -ENOMEM, -EBADF.
 */
int vos_buf_alloc(struct vos_ctx *ctx, int fd, size_t len, void **buf);
/*
 * vos_buf_free - give back a buffer vos_buf_alloc() gave.  Returns 0, or
 * -EINVAL (buf is not one, or was freed already), -EBADF.
 */
int vos_buf_free(struct vos_ctx *ctx, void *buf);

/* ---- blocking wrappers ------------------------------------------------ */
/*
 * Each submits one request and waits for its completion; completions of
 * other requests that arrive meanwhile are kept for the next vos_wait().
 * They return the operation's result (>= 0, or -errno), or -EBUSY if the
 * queue is full, -EBADF for a destroyed context, -EINVAL for a NULL one.
 * vos_sleep() returns 0 after ns nanoseconds.
 */
int vos_nop(struct vos_ctx *ctx);
int vos_openat(struct vos_ctx *ctx, int dirfd, const char *path, int flags,
	       mode_t mode);
int vos_close(struct vos_ctx *ctx, int fd);
ssize_t vos_read(struct vos_ctx *ctx, int fd, void *buf, size_t len);
ssize_t vos_write(struct vos_ctx *ctx, int fd, const void *buf, size_t len);
ssize_t vos_pread(struct vos_ctx *ctx, int fd, void *buf, size_t len,
		  off_t off);
ssize_t vos_pwrite(struct vos_ctx *ctx, int fd, const void *buf, size_t len,
		   off_t off);
ssize_t vos_readv(struct vos_ctx *ctx, int fd, const struct iovec *iov,
		  int iovcnt, off_t off);
ssize_t vos_writev(struct vos_ctx *ctx, int fd, const struct iovec *iov,
		   int iovcnt, off_t off);
ssize_t vos_preadv2(struct vos_ctx *ctx, int fd, const struct iovec *iov,
		    int iovcnt, off_t off, int flags);   /* since 0.3 */
ssize_t vos_pwritev2(struct vos_ctx *ctx, int fd, const struct iovec *iov,
		     int iovcnt, off_t off, int flags);  /* since 0.3 */
int vos_fsync(struct vos_ctx *ctx, int fd);
int vos_fdatasync(struct vos_ctx *ctx, int fd);
ssize_t vos_getdents(struct vos_ctx *ctx, int fd, void *buf, size_t len);
int vos_statx(struct vos_ctx *ctx, int dirfd, const char *path, int flags,
	      unsigned mask, struct statx *stx);
int vos_ftruncate(struct vos_ctx *ctx, int fd, off_t length);
int vos_fallocate(struct vos_ctx *ctx, int fd, int mode, off_t off,
		  off_t len);
int vos_unlinkat(struct vos_ctx *ctx, int dirfd, const char *path, int flags);
int vos_mkdirat(struct vos_ctx *ctx, int dirfd, const char *path,
		mode_t mode);
int vos_renameat(struct vos_ctx *ctx, int olddirfd, const char *oldpath,
		 int newdirfd, const char *newpath, unsigned flags);
off_t vos_lseek(struct vos_ctx *ctx, int fd, off_t offset, int whence);
int vos_fchmodat(struct vos_ctx *ctx, int dirfd, const char *path,
		 mode_t mode, int flags);
int vos_fchownat(struct vos_ctx *ctx, int dirfd, const char *path,
		 uid_t owner, gid_t group, int flags);
int vos_faccessat(struct vos_ctx *ctx, int dirfd, const char *path, int mode,
		  int flags);
int vos_linkat(struct vos_ctx *ctx, int olddirfd, const char *oldpath,
	       int newdirfd, const char *newpath, int flags);
int vos_symlinkat(struct vos_ctx *ctx, const char *target, int newdirfd,
		  const char *linkpath);
ssize_t vos_readlinkat(struct vos_ctx *ctx, int dirfd, const char *path,
		       char *buf, size_t bufsiz);
int vos_utimensat(struct vos_ctx *ctx, int dirfd, const char *path,
		  const struct timespec *times, int flags);
int vos_futimens(struct vos_ctx *ctx, int fd, const struct timespec *times);
int vos_mknodat(struct vos_ctx *ctx, int dirfd, const char *path, mode_t mode,
		dev_t dev);
int vos_truncate(struct vos_ctx *ctx, const char *path, off_t length);
int vos_fadvise(struct vos_ctx *ctx, int fd, off_t off, off_t len, int advice);
int vos_sync_file_range(struct vos_ctx *ctx, int fd, off_t off, off_t nbytes,
			unsigned flags);
int vos_syncfs(struct vos_ctx *ctx, int fd);
int vos_statfs(struct vos_ctx *ctx, const char *path, struct statfs *buf);
int vos_fstatfs(struct vos_ctx *ctx, int fd, struct statfs *buf);
int vos_fcntl(struct vos_ctx *ctx, int fd, int cmd, long arg);
int vos_fcntl_lock(struct vos_ctx *ctx, int fd, int cmd, struct flock *lock);
int vos_ioctl(struct vos_ctx *ctx, int fd, unsigned long request, int *argp);
int vos_socket(struct vos_ctx *ctx, int domain, int type, int protocol);
int vos_pipe2(struct vos_ctx *ctx, int fds[2], int flags);
int vos_socketpair(struct vos_ctx *ctx, int domain, int type, int protocol,
		   int sv[2]);
int vos_dup2(struct vos_ctx *ctx, int oldfd, int newfd);
int vos_openat2(struct vos_ctx *ctx, int dirfd, const char *path,
		const struct open_how *how, size_t size);
int vos_dup3(struct vos_ctx *ctx, int oldfd, int newfd, int flags);
ssize_t vos_copy_file_range(struct vos_ctx *ctx, int fd_in, int64_t *off_in,
			    int fd_out, int64_t *off_out, size_t len,
			    unsigned flags);
ssize_t vos_sendfile(struct vos_ctx *ctx, int out_fd, int in_fd,
		     int64_t *offset, size_t count);
ssize_t vos_splice(struct vos_ctx *ctx, int fd_in, int64_t *off_in,
		   int fd_out, int64_t *off_out, size_t len, unsigned flags);
int vos_bind(struct vos_ctx *ctx, int fd, const struct sockaddr *addr,
	     socklen_t addrlen);
int vos_listen(struct vos_ctx *ctx, int fd, int backlog);
int vos_accept(struct vos_ctx *ctx, int fd, struct sockaddr *addr,
	       socklen_t *addrlen, int flags);
int vos_connect(struct vos_ctx *ctx, int fd, const struct sockaddr *addr,
		socklen_t addrlen);
int vos_shutdown(struct vos_ctx *ctx, int fd, int how);
ssize_t vos_send(struct vos_ctx *ctx, int fd, const void *buf, size_t len,
		 int flags);
ssize_t vos_recv(struct vos_ctx *ctx, int fd, void *buf, size_t len,
		 int flags);
ssize_t vos_sendmsg(struct vos_ctx *ctx, int fd, const struct msghdr *msg,
		    int flags);
ssize_t vos_recvmsg(struct vos_ctx *ctx, int fd, struct msghdr *msg,
		    int flags);
int vos_setsockopt(struct vos_ctx *ctx, int fd, int level, int optname,
		   const void *optval, socklen_t optlen);
int vos_getsockopt(struct vos_ctx *ctx, int fd, int level, int optname,
		   void *optval, socklen_t *optlen);
int vos_getsockname(struct vos_ctx *ctx, int fd, struct sockaddr *addr,
		    socklen_t *addrlen);
int vos_getpeername(struct vos_ctx *ctx, int fd, struct sockaddr *addr,
		    socklen_t *addrlen);
int vos_poll(struct vos_ctx *ctx, int fd, short events);
int vos_sleep(struct vos_ctx *ctx, uint64_t ns);

/* The most a read or write moves in one call: the kernel's MAX_RW_COUNT.
 * vos_read/vos_write/vos_pread/vos_pwrite clamp a longer length to it, as
 * the system calls do (vos_getdents refuses one with -EINVAL); a request's
 * len is 32 bits, and the async API splits nothing for you. */
#define VOS_MAX_RW_LEN 0x7ffff000u

#ifdef __cplusplus
}
#endif
#endif /* VIRTUOS_VIRTUOS_H */
