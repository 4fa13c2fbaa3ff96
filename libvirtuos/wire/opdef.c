/*
 * opdef.c - the op table (see opdef.h), and vos_op_name().
 */
#include "config.h"


#include "opdef.h"

#define A(kind) VOS__ARG_##kind
#define F(flag) VOS__OPF_##flag

const struct vos__opdef vos__opdefs[VOS_OP__COUNT] = {
	[VOS_OP_NOP] = { "nop", "vos_nop", A(NONE), A(NONE), VOS__SVC_LOCAL,
		F(DIRECT) },
	[VOS_OP_OPENAT] = { "openat", "vos_openat", A(PATH), A(NONE),
		VOS__SVC_FILE, F(AT) | F(NEWFD) | F(NEED_ADDR) },
	[VOS_OP_CLOSE] = { "close", "vos_close", A(NONE), A(NONE),
		VOS__SVC_ANY, F(FD) | F(DIRECT) },
	[VOS_OP_READ] = { "read", "vos_read", A(BUF_OUT), A(NONE),
		VOS__SVC_ANY, F(FD) | F(XFER) | F(READ) | F(RW) | F(BUF_LEN) },
	[VOS_OP_WRITE] = { "write", "vos_write", A(BUF_IN), A(NONE),
		VOS__SVC_ANY, F(FD) | F(XFER) | F(RW) | F(BUF_LEN) },
	[VOS_OP_PREAD] = { "pread", "vos_pread", A(BUF_OUT), A(NONE),
		VOS__SVC_ANY, F(FD) | F(XFER) | F(READ) | F(RW) | F(BUF_LEN) |
		F(OFFSET) },
	[VOS_OP_PWRITE] = { "pwrite", "vos_pwrite", A(BUF_IN), A(NONE),
		VOS__SVC_ANY, F(FD) | F(XFER) | F(RW) | F(BUF_LEN) |
		F(OFFSET) },
	[VOS_OP_READV] = { "readv", "vos_readv", A(IOV_OUT), A(NONE),
		VOS__SVC_ANY, F(FD) | F(READ) | F(RW) | F(IOVEC) | F(OFFSET) },
	[VOS_OP_WRITEV] = { "writev", "vos_writev", A(IOV_IN), A(NONE),
		VOS__SVC_ANY, F(FD) | F(RW) | F(IOVEC) | F(OFFSET) },
	[VOS_OP_FSYNC] = { "fsync", "vos_fsync", A(NONE), A(NONE),
		VOS__SVC_ANY, F(FD) },
	[VOS_OP_FDATASYNC] = { "fdatasync", "vos_fdatasync", A(NONE), A(NONE),
		VOS__SVC_ANY, F(FD) },
	[VOS_OP_STATX] = { "statx", "vos_statx", A(PATH), A(STATX_OUT),
		VOS__SVC_FILE, F(AT) | F(NEED_ADDR) | F(NEED_ADDR2) },
	[VOS_OP_FTRUNCATE] = { "ftruncate", "vos_ftruncate", A(NONE), A(NONE),
		VOS__SVC_ANY, F(FD) },
	[VOS_OP_FALLOCATE] = { "fallocate", "vos_fallocate", A(NONE), A(NONE),
		VOS__SVC_ANY, F(FD) },
	[VOS_OP_UNLINKAT] = { "unlinkat", "vos_unlinkat", A(PATH), A(NONE),
		VOS__SVC_FILE, F(AT) | F(NEED_ADDR) },
	[VOS_OP_MKDIRAT] = { "mkdirat", "vos_mkdirat", A(PATH), A(NONE),
		VOS__SVC_FILE, F(AT) | F(NEED_ADDR) },
	[VOS_OP_RENAMEAT] = { "renameat", "vos_renameat", A(PATH), A(PATH),
		VOS__SVC_FILE, F(AT) | F(AT2) | F(NEED_ADDR) | F(NEED_ADDR2) },
	[VOS_OP_FCNTL] = { "fcntl", "vos_fcntl", A(NONE), A(NONE),
		VOS__SVC_ANY, F(FD) | F(NEWFD_DUP) | F(DIRECT) },
	[VOS_OP_IOCTL] = { "ioctl", "vos_ioctl", A(INT_INOUT), A(NONE),
		VOS__SVC_ANY, F(FD) | F(NEED_ADDR) | F(DIRECT) },
	[VOS_OP_SOCKET] = { "socket", "vos_socket", A(NONE), A(NONE),
		VOS__SVC_NET, F(NEWFD) | F(DIRECT) },
	[VOS_OP_BIND] = { "bind", "vos_bind", A(SOCKADDR_IN), A(NONE),
		VOS__SVC_NET, F(FD) | F(NEED_ADDR) | F(DIRECT) },
	[VOS_OP_LISTEN] = { "listen", "vos_listen", A(NONE), A(NONE),
		VOS__SVC_NET, F(FD) | F(DIRECT) },
	[VOS_OP_ACCEPT] = { "accept", "vos_accept", A(SOCKADDR_OUT),
		A(SOCKLEN), VOS__SVC_NET, F(FD) | F(NEWFD) | F(READ) },
	[VOS_OP_CONNECT] = { "connect", "vos_connect", A(SOCKADDR_IN), A(NONE),
		VOS__SVC_NET, F(FD) | F(NEED_ADDR) },
	[VOS_OP_SHUTDOWN] = { "shutdown", "vos_shutdown", A(NONE), A(NONE),
		VOS__SVC_NET, F(FD) | F(DIRECT) },
	[VOS_OP_SEND] = { "send", "vos_send", A(BUF_IN), A(NONE), VOS__SVC_NET,
		F(FD) | F(XFER) | F(BUF_LEN) },
	[VOS_OP_RECV] = { "recv", "vos_recv", A(BUF_OUT), A(NONE),
		VOS__SVC_NET, F(FD) | F(XFER) | F(READ) | F(BUF_LEN) },
	[VOS_OP_SENDMSG] = { "sendmsg", "vos_sendmsg", A(MSG_IN), A(NONE),
		VOS__SVC_NET, F(FD) | F(NEED_ADDR) },
	[VOS_OP_RECVMSG] = { "recvmsg", "vos_recvmsg", A(MSG_OUT), A(NONE),
		VOS__SVC_NET, F(FD) | F(READ) | F(NEED_ADDR) },
	[VOS_OP_SETSOCKOPT] = { "setsockopt", "vos_setsockopt", A(OPT_IN),
		A(NONE), VOS__SVC_NET, F(FD) | F(BUF_LEN) | F(DIRECT) },
	[VOS_OP_GETSOCKOPT] = { "getsockopt", "vos_getsockopt", A(OPT_OUT),
		A(SOCKLEN), VOS__SVC_NET, F(FD) | F(NEED_ADDR2) | F(DIRECT) },
	[VOS_OP_GETSOCKNAME] = { "getsockname", "vos_getsockname",
		A(SOCKADDR_OUT), A(SOCKLEN), VOS__SVC_NET,
		F(FD) | F(NEED_ADDR) | F(NEED_ADDR2) | F(DIRECT) },
	[VOS_OP_GETPEERNAME] = { "getpeername", "vos_getpeername",
		A(SOCKADDR_OUT), A(SOCKLEN), VOS__SVC_NET,
		F(FD) | F(NEED_ADDR) | F(NEED_ADDR2) | F(DIRECT) },
	[VOS_OP_POLL] = { "poll", "vos_poll", A(NONE), A(NONE), VOS__SVC_ANY,
		F(FD) },
	[VOS_OP_TIMEOUT] = { "timeout", "vos_sleep", A(NONE), A(NONE),
		VOS__SVC_LOCAL, 0 },
	[VOS_OP_CANCEL] = { "cancel", "vos_cancel", A(NONE), A(NONE),
		VOS__SVC_LOCAL, 0 },
	/* a directory's entries: the fd's service; a data slot may hold
	 * fewer entries than the buffer (the caller reads on until 0) */
	[VOS_OP_GETDENTS] = { "getdents", "vos_getdents", A(BUF_OUT),
		A(NONE), VOS__SVC_ANY, F(FD) | F(XFER) | F(BUF_LEN) },
	/* multishot: no blocking wrapper; local fds only (multishot.c in
	 * io_uring-local) */
	[VOS_OP_ACCEPT_MULTI] = { "accept_multishot", "", A(NONE), A(NONE),
		VOS__SVC_NET, F(FD) | F(NEWFD) | F(READ) | F(NOWIRE) |
		F(MULTI) },
	[VOS_OP_RECV_MULTI] = { "recv_multishot", "", A(NONE), A(NONE),
		VOS__SVC_ANY, F(FD) | F(READ) | F(NOWIRE) | F(MULTI) },
	/* the position of the fd's open file: where the fd lives; not
	 * DIRECT: SEEK_END, SEEK_DATA and SEEK_HOLE may ask a FUSE server
	 * or an NFS server, or read a disk (route.c) */
	[VOS_OP_LSEEK] = { "lseek", "vos_lseek", A(NONE), A(NONE),
		VOS__SVC_ANY, F(FD) },
	[VOS_OP_FCHMODAT] = { "fchmodat", "vos_fchmodat", A(PATH), A(NONE),
		VOS__SVC_FILE, F(AT) | F(NEED_ADDR) },
	[VOS_OP_FCHOWNAT] = { "fchownat", "vos_fchownat", A(PATH), A(NONE),
		VOS__SVC_FILE, F(AT) | F(NEED_ADDR) },
	[VOS_OP_FACCESSAT] = { "faccessat", "vos_faccessat", A(PATH), A(NONE),
		VOS__SVC_FILE, F(AT) | F(NEED_ADDR) },
	[VOS_OP_LINKAT] = { "linkat", "vos_linkat", A(PATH), A(PATH),
		VOS__SVC_FILE, F(AT) | F(AT2) | F(NEED_ADDR) | F(NEED_ADDR2) },
	/* addr: the link's path (it routes the call); addr2: the target,
	 * stored as it is, never looked up */
	[VOS_OP_SYMLINKAT] = { "symlinkat", "vos_symlinkat", A(PATH), A(PATH),
		VOS__SVC_FILE, F(AT) | F(NEED_ADDR) | F(NEED_ADDR2) },
	/* addr2: len bytes the call fills (a NULL one faults after the
	 * lookup, as in the kernel) */
	[VOS_OP_READLINKAT] = { "readlinkat", "vos_readlinkat", A(PATH),
		A(BUF_OUT), VOS__SVC_FILE, F(AT) | F(NEED_ADDR) },
	/* a NULL path with a dirfd is futimens (validate.c); NULL times:
	 * now */
	[VOS_OP_UTIMENSAT] = { "utimensat", "vos_utimensat", A(PATH),
		A(TIMES_IN), VOS__SVC_FILE, F(AT) | F(NEED_ADDR) },
	[VOS_OP_MKNODAT] = { "mknodat", "vos_mknodat", A(PATH), A(NONE),
		VOS__SVC_FILE, F(AT) | F(NEED_ADDR) },
	[VOS_OP_TRUNCATE] = { "truncate", "vos_truncate", A(PATH), A(NONE),
		VOS__SVC_FILE, F(AT) | F(NEED_ADDR) },
	[VOS_OP_FADVISE] = { "fadvise", "vos_fadvise", A(NONE), A(NONE),
		VOS__SVC_ANY, F(FD) },
	[VOS_OP_SYNC_FILE_RANGE] = { "sync_file_range", "vos_sync_file_range",
		A(NONE), A(NONE), VOS__SVC_ANY, F(FD) },
	[VOS_OP_SYNCFS] = { "syncfs", "vos_syncfs", A(NONE), A(NONE),
		VOS__SVC_ANY, F(FD) },
	/* statfs(path), and fstatfs as "" with AT_EMPTY_PATH */
	[VOS_OP_STATFS] = { "statfs", "vos_statfs", A(PATH), A(STATFS_OUT),
		VOS__SVC_FILE, F(AT) | F(NEED_ADDR) | F(NEED_ADDR2) },
	/* fcntl's record locks (vos_prep_fcntl sends the lock commands
	 * here): the lock's struct flock in addr, the command in op_flags;
	 * not DIRECT: the SETLKW forms wait (route.c, the servers' slow
	 * pool) */
	[VOS_OP_FCNTL_LOCK] = { "fcntl_lock", "vos_fcntl_lock",
		A(FLOCK_INOUT), A(NONE), VOS__SVC_ANY, F(FD) },
	/* a pipe or a socket pair of the local kernel's, whatever the
	 * routes say (the two fds go to addr, written by exec.c) */
	[VOS_OP_PIPE2] = { "pipe2", "vos_pipe2", A(NONE), A(NONE),
		VOS__SVC_LOCAL, F(DIRECT) | F(NOWIRE) },
	[VOS_OP_SOCKETPAIR] = { "socketpair", "vos_socketpair", A(NONE),
		A(NONE), VOS__SVC_LOCAL, F(DIRECT) | F(NOWIRE) },
	/* dup2, dup3: goes where oldfd goes; a service's fd is duplicated
	 * there as F_DUPFD (router.c), so the op itself is never on the
	 * wire.  Not FD: the kernel's flag checks come before the fd's */
	[VOS_OP_DUP3] = { "dup3", "vos_dup3", A(NONE), A(NONE),
		VOS__SVC_ANY, F(DIRECT) | F(NOWIRE) },
	/* openat2: the program's struct open_how is read by the core when
	 * the request is submitted (validate.c: vos__open_how_get); from
	 * there on how.flags is in op_flags, how.mode in arg, how.resolve
	 * in off, and addr2 is 0 (what the transports and the wire see) */
	[VOS_OP_OPENAT2] = { "openat2", "vos_openat2", A(PATH), A(NONE),
		VOS__SVC_FILE, F(AT) | F(NEWFD) | F(NEED_ADDR) },
	/* fd_in and fd_out in one domain: that kernel's call (the service's
	 * with its two fds); in two: the router copies (router.c) */
	[VOS_OP_COPY_FILE_RANGE] = { "copy_file_range", "vos_copy_file_range",
		A(LOFF_INOUT), A(LOFF_INOUT), VOS__SVC_ANY, F(FD2) },
	[VOS_OP_SENDFILE] = { "sendfile", "vos_sendfile", A(LOFF_INOUT),
		A(NONE), VOS__SVC_ANY, F(FD2) },
	[VOS_OP_SPLICE] = { "splice", "vos_splice", A(LOFF_INOUT),
		A(LOFF_INOUT), VOS__SVC_ANY, F(FD2) },
};

/* virtuos.h's vos_prep_fcntl() names the lock commands by number */
_Static_assert(F_GETLK == 5 && F_SETLK == 6 && F_SETLKW == 7 &&
	       F_OFD_GETLK == 36 && F_OFD_SETLK == 37 && F_OFD_SETLKW == 38,
	       "fcntl lock command numbers");

const char *vos_op_name(unsigned op)
{
	const struct vos__opdef *d = vos__opdef(op);

	return d ? d->name : "unknown";
}
