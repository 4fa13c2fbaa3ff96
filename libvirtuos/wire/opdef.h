/*
 * opdef.h - everything the code knows about an operation, in one table
 * (after io_uring's opdef.c).
 *
 * One entry per enum vos_op says: its name and blocking wrapper; what the
 * request's addr and addr2 hold (the argument kinds below), which decide
 * what the core validates, what the client copies into the data slot and
 * back, and what the service decodes and writes back; which fds it names
 * or makes; which service it belongs to; whether its byte count may be
 * shortened to a slot; and whether a service may run it directly on its
 * worker (it never waits).  The core (validate.c, router.c), the local
 * transport (route.c), the client's encoder (encode.c), the service's
 * decoder (decode.c) and the server core read this table; nothing else
 * keeps a list of ops.
 */
#ifndef VOS_WIRE_OPDEF_H
#define VOS_WIRE_OPDEF_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <virtuos/virtuos.h>

/* What a request's addr or addr2 holds. */
enum vos__arg {
	VOS__ARG_NONE = 0,
	VOS__ARG_BUF_IN,       /* len bytes the call reads (write, send) */
	VOS__ARG_BUF_OUT,      /* up to len bytes the call fills (read, recv) */
	VOS__ARG_IOV_IN,       /* struct iovec[len], gathered (writev) */
	VOS__ARG_IOV_OUT,      /* struct iovec[len], scattered into (readv) */
	VOS__ARG_PATH,         /* NUL-terminated path */
	VOS__ARG_SOCKADDR_IN,  /* len bytes of address (bind, connect) */
	VOS__ARG_SOCKADDR_OUT, /* address buffer sized by addr2's socklen_t;
	                        * both may be NULL (accept) */
	VOS__ARG_SOCKLEN,      /* socklen_t, in and out */
	VOS__ARG_OPT_IN,       /* len bytes of option value */
	VOS__ARG_OPT_OUT,      /* option buffer sized by addr2's socklen_t */
	VOS__ARG_INT_INOUT,    /* one int (ioctl) */
	VOS__ARG_STATX_OUT,    /* struct statx */
	VOS__ARG_STATFS_OUT,   /* struct statfs */
	VOS__ARG_TIMES_IN,     /* struct timespec[2], or NULL (utimensat) */
	VOS__ARG_FLOCK_INOUT,  /* struct flock: read; written back by the
	                        * GETLK commands (vos__lock_gets) */
	VOS__ARG_MSG_IN,       /* struct msghdr (sendmsg) */
	VOS__ARG_MSG_OUT,      /* struct msghdr (recvmsg) */
	VOS__ARG_LOFF_INOUT,   /* an int64_t offset, or NULL (the file
	                        * position): read, and written back advanced
	                        * (copy_file_range, sendfile, splice) */
};

/* Which service an operation belongs to, when routing by op. */
enum vos__svc {
	VOS__SVC_ANY = 0, /* goes where its fd goes (read, close, fcntl...) */
	VOS__SVC_FILE,    /* a path call: stord's */
	VOS__SVC_NET,     /* a socket call: netd's */
	VOS__SVC_LOCAL,   /* names no fd and no path: runs locally (nop,
	                   * timeout) unless a service is named */
};

/* Flags. */
#define VOS__OPF_FD        0x0001u /* fd must be >= 0 */
#define VOS__OPF_AT        0x0002u /* fd is a directory or AT_FDCWD, addr a
                                    * path relative to it */
#define VOS__OPF_AT2       0x0004u /* fd2 is one too, addr2 its path */
#define VOS__OPF_NEWFD     0x0008u /* a successful result is a new fd */
#define VOS__OPF_NEWFD_DUP 0x0010u /* ... when op_flags is F_DUPFD* */
#define VOS__OPF_XFER      0x0020u /* len is a byte count a data slot may
                                    * shorten (a short read or write) */
#define VOS__OPF_DIRECT    0x0040u /* never waits for a device or a peer:
                                    * run it now, on the calling thread */
#define VOS__OPF_READ      0x0080u /* moves data in (read, recv, accept):
                                    * waits for POLLIN */
#define VOS__OPF_RW        0x0100u /* reads or writes file data */
#define VOS__OPF_NEED_ADDR 0x0200u /* addr must not be NULL */
#define VOS__OPF_NEED_ADDR2 0x0400u /* addr2 must not be NULL */
#define VOS__OPF_BUF_LEN   0x0800u /* addr may be NULL only when len is 0 */
#define VOS__OPF_IOVEC     0x1000u /* addr is an iovec array of len */
#define VOS__OPF_NOWIRE    0x2000u /* not carried by the ring protocol
                                    * (multishot: many completions, pool
                                    * buffers; pipe2, socketpair: local
                                    * files): -EOPNOTSUPP through a
                                    * service, refused by services */
#define VOS__OPF_MULTI     0x4000u /* multishot: completes many times */
#define VOS__OPF_OFFSET    0x8000u /* off is a file offset (pread...; readv
                                    * and writev: or VOS_OFF_CURRENT) */
#define VOS__OPF_FD2      0x10000u /* fd and fd2 both name fds (fd_in and
                                    * fd_out), each checked by the kernel
                                    * that runs the call (not FD: a
                                    * splice of 0 bytes looks at neither) */

/* utimensat's op_flags bit for futimens (a NULL path with a dirfd): the
 * core sends it as "" with AT_EMPTY_PATH and this bit, which keeps the
 * kernel's rule for that form: the fd must be open for I/O (not O_PATH:
 * -EBADF) and no other flag is taken.  A program cannot set it. */
#define VOS__AT_FD_ONLY 0x80000000u

struct vos__opdef {
	const char *name;    /* "read" */
	const char *wrapper; /* its blocking wrapper, "vos_read" */
	uint8_t addr, addr2; /* enum vos__arg */
	uint8_t svc;         /* enum vos__svc */
	uint32_t flags;      /* VOS__OPF_* */
};

extern const struct vos__opdef vos__opdefs[VOS_OP__COUNT];

/* The entry of op, or NULL for an op out of range (bound it before
 * indexing: the op may come from the peer). */
static inline const struct vos__opdef *vos__opdef(unsigned op)
{
	return op < VOS_OP__COUNT ? &vos__opdefs[op] : 0;
}

static inline bool vos__op_has(unsigned op, uint32_t flag)
{
	return op < VOS_OP__COUNT && (vos__opdefs[op].flags & flag);
}

/* Whether a successful r returns a new file descriptor. */
static inline bool vos__op_makes_fd(const struct vos_req *r)
{
	uint32_t f;

	if (r->op >= VOS_OP__COUNT)
		return false;
	f = vos__opdefs[r->op].flags;
	return (f & VOS__OPF_NEWFD) ||
	       ((f & VOS__OPF_NEWFD_DUP) &&
		(r->op_flags == F_DUPFD || r->op_flags == F_DUPFD_CLOEXEC));
}

/* Whether the fd a successful r makes is close-on-exec, as the kernel
 * sets it: O_CLOEXEC (openat), SOCK_CLOEXEC (socket, accept),
 * F_DUPFD_CLOEXEC. */
static inline bool vos__op_new_cloexec(const struct vos_req *r)
{
	switch (r->op) {
	case VOS_OP_OPENAT:
	case VOS_OP_OPENAT2:
		return r->op_flags & O_CLOEXEC;
	case VOS_OP_SOCKET:
	case VOS_OP_ACCEPT:
		return r->op_flags & SOCK_CLOEXEC;
	case VOS_OP_FCNTL:
		return r->op_flags == F_DUPFD_CLOEXEC;
	default:
		return false;
	}
}

/* Whether r changes its file's status flags (O_NONBLOCK...): fcntl
 * F_SETFL, ioctl FIONBIO.  They belong to the open file description, so
 * every fd that shares it (dups) changes too. */
static inline bool vos__op_sets_fl(const struct vos_req *r)
{
	return (r->op == VOS_OP_FCNTL && r->op_flags == F_SETFL) ||
	       (r->op == VOS_OP_IOCTL && r->op_flags == (uint32_t)FIONBIO);
}

/* Whether the op moves data through buffers of the caller's (read, write,
 * their p- and v- forms, send, recv, sendmsg, recvmsg): what its argument
 * kind says. */
static inline bool vos__op_moves_data(unsigned op)
{
	uint8_t a;

	if (op >= VOS_OP__COUNT)
		return false;
	a = vos__opdefs[op].addr;
	return a == VOS__ARG_BUF_IN || a == VOS__ARG_BUF_OUT ||
	       a == VOS__ARG_IOV_IN || a == VOS__ARG_IOV_OUT ||
	       a == VOS__ARG_MSG_IN || a == VOS__ARG_MSG_OUT;
}

/* Whether r reads or writes at an offset of its own (pread, pwrite, and
 * readv/writev with one): the kernel refuses a negative one, and a file
 * with no offsets (a pipe, a socket) refuses any with -ESPIPE, where
 * io_uring would ignore it and read or write the stream. */
static inline bool vos__op_positional(const struct vos_req *r)
{
	uint32_t f;

	if (r->op >= VOS_OP__COUNT)
		return false;
	f = vos__opdefs[r->op].flags;
	return (f & VOS__OPF_OFFSET) &&
	       !((f & VOS__OPF_IOVEC) && r->off == VOS_OFF_CURRENT);
}

/* A read or write may carry preadv2(2)/pwritev2(2)'s RWF_ flags in
 * op_flags (since 0.3), any of them: the kernel that runs the call answers
 * each as its version does (it checks the fd, the offset and the buffers
 * first, so a flag it does not know is -EOPNOTSUPP only after those; and
 * each flag acts on the caller's own fd only).  These are the ones Linux
 * knew by 6.18 (RWF_NOAPPEND 6.9, RWF_ATOMIC 6.11, RWF_DONTCACHE 6.14,
 * RWF_NOSIGNAL 6.17); the local transport routes by them (route.c). */
#define VOS__RWF_KNOWN 0x1ffu
#define VOS__RWF_ATOMIC 0x40u    /* (not in older headers) */
#define VOS__RWF_DONTCACHE 0x80u

/* Whether op takes RWF_ flags in op_flags: the file reads and writes
 * (read, write, pread, pwrite, readv, writev). */
static inline bool vos__op_takes_rwf(unsigned op)
{
	return op < VOS_OP__COUNT && (vos__opdefs[op].flags & VOS__OPF_RW);
}

/* Whether the op makes two fds and writes them to addr (pipe2,
 * socketpair). */
static inline bool vos__op_makes_pair(unsigned op)
{
	return op == VOS_OP_PIPE2 || op == VOS_OP_SOCKETPAIR;
}

/* The fd a successful r closes or replaces, or -1: close's fd; the newfd
 * of a dup2 or dup3 (arg) that is not oldfd.  What was queued on that
 * number, and what is known of it, belongs to the file it named. */
static inline int vos__op_closes_fd(const struct vos_req *r)
{
	if (r->op == VOS_OP_CLOSE)
		return r->fd;
	if (r->op == VOS_OP_DUP3 && (int32_t)r->arg != r->fd)
		return (int32_t)r->arg;
	return -1;
}

/* The kernel's O_LARGEFILE bit (glibc's O_LARGEFILE is 0 where it is
 * always on, as on x86-64, yet the kernel takes the bit: F_GETFL shows
 * it). */
#if defined(__x86_64__) || defined(__i386__)
#define VOS__O_LARGEFILE 0100000
#elif defined(__aarch64__) || defined(__arm__)
#define VOS__O_LARGEFILE 0400000
#else
#define VOS__O_LARGEFILE O_LARGEFILE
#endif

/* The open flags the kernel knows (its VALID_OPEN_FLAGS): openat(2)
 * drops others, openat2(2) refuses them. */
#define VOS__OPEN_FLAGS                                                     \
	((uint64_t)(O_RDONLY | O_WRONLY | O_RDWR | O_CREAT | O_EXCL |       \
		    O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC |  \
		    FASYNC | O_DIRECT | VOS__O_LARGEFILE | O_DIRECTORY |    \
		    O_NOFOLLOW | O_NOATIME | O_CLOEXEC | O_PATH |           \
		    __O_TMPFILE | O_SYNC))

/* The RESOLVE_ bits of openat2 (the kernel's VALID_RESOLVE_FLAGS), and
 * the two that scope a path to its dirfd. */
#define VOS__RESOLVE_KNOWN 0x3fu /* NO_XDEV..CACHED */
#define VOS__RESOLVE_SCOPED 0x18u /* RESOLVE_BENEATH | RESOLVE_IN_ROOT */

/* fcntl's record-lock commands (VOS_OP_FCNTL_LOCK's op_flags). */
static inline bool vos__lock_cmd_ok(uint32_t cmd)
{
	return cmd == F_GETLK || cmd == F_SETLK || cmd == F_SETLKW ||
	       cmd == F_OFD_GETLK || cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW;
}

/* Whether a lock command writes its struct flock back (the GETLK forms). */
static inline bool vos__lock_gets(uint32_t cmd)
{
	return cmd == F_GETLK || cmd == F_OFD_GETLK;
}

/* Whether a lock command waits for a conflicting lock to go (the SETLKW
 * forms): it runs where it can be stopped (a pool thread). */
static inline bool vos__lock_waits(uint32_t cmd)
{
	return cmd == F_SETLKW || cmd == F_OFD_SETLKW;
}

/* A socket call (it fails with -ECONNRESET, not -EIO, when its service
 * dies). */
static inline bool vos__op_is_socket(unsigned op)
{
	return op < VOS_OP__COUNT && vos__opdefs[op].svc == VOS__SVC_NET;
}

#endif /* VOS_WIRE_OPDEF_H */
