/*
 * validate.c - the checks every request passes before a transport sees
 * it, and the names of the operations.  What fails here completes with
 * the documented -errno (virtuos.h, vos_submit()).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>

#include "internal.h"

enum {
	NEED_FD = 1 << 0,    /* fd must be >= 0 */
	NEED_ADDR = 1 << 1,  /* addr must not be NULL */
	NEED_ADDR2 = 1 << 2, /* addr2 must not be NULL */
	BUF_LEN = 1 << 3,    /* addr may be NULL only when len is 0 */
	IOVEC = 1 << 4,      /* addr is an iovec array of len entries */
};

static const struct {
	const char *name;
	unsigned rules;
} ops[VOS_OP__COUNT] = {
	[VOS_OP_NOP] = { "nop", 0 },
	[VOS_OP_OPENAT] = { "openat", NEED_ADDR },
	[VOS_OP_CLOSE] = { "close", NEED_FD },
	[VOS_OP_READ] = { "read", NEED_FD | BUF_LEN },
	[VOS_OP_WRITE] = { "write", NEED_FD | BUF_LEN },
	[VOS_OP_PREAD] = { "pread", NEED_FD | BUF_LEN },
	[VOS_OP_PWRITE] = { "pwrite", NEED_FD | BUF_LEN },
	[VOS_OP_READV] = { "readv", NEED_FD | IOVEC },
	[VOS_OP_WRITEV] = { "writev", NEED_FD | IOVEC },
	[VOS_OP_FSYNC] = { "fsync", NEED_FD },
	[VOS_OP_FDATASYNC] = { "fdatasync", NEED_FD },
	[VOS_OP_STATX] = { "statx", NEED_ADDR | NEED_ADDR2 },
	[VOS_OP_FTRUNCATE] = { "ftruncate", NEED_FD },
	[VOS_OP_FALLOCATE] = { "fallocate", NEED_FD },
	[VOS_OP_UNLINKAT] = { "unlinkat", NEED_ADDR },
	[VOS_OP_MKDIRAT] = { "mkdirat", NEED_ADDR },
	[VOS_OP_RENAMEAT] = { "renameat", NEED_ADDR | NEED_ADDR2 },
	[VOS_OP_FCNTL] = { "fcntl", NEED_FD },
	[VOS_OP_IOCTL] = { "ioctl", NEED_FD | NEED_ADDR },
	[VOS_OP_SOCKET] = { "socket", 0 },
	[VOS_OP_BIND] = { "bind", NEED_FD | NEED_ADDR },
	[VOS_OP_LISTEN] = { "listen", NEED_FD },
	[VOS_OP_ACCEPT] = { "accept", NEED_FD },
	[VOS_OP_CONNECT] = { "connect", NEED_FD | NEED_ADDR },
	[VOS_OP_SHUTDOWN] = { "shutdown", NEED_FD },
	[VOS_OP_SEND] = { "send", NEED_FD | BUF_LEN },
	[VOS_OP_RECV] = { "recv", NEED_FD | BUF_LEN },
	[VOS_OP_SENDMSG] = { "sendmsg", NEED_FD | NEED_ADDR },
	[VOS_OP_RECVMSG] = { "recvmsg", NEED_FD | NEED_ADDR },
	[VOS_OP_SETSOCKOPT] = { "setsockopt", NEED_FD | BUF_LEN },
	[VOS_OP_GETSOCKOPT] = { "getsockopt", NEED_FD | NEED_ADDR2 },
	[VOS_OP_GETSOCKNAME] = { "getsockname", NEED_FD | NEED_ADDR | NEED_ADDR2 },
	[VOS_OP_GETPEERNAME] = { "getpeername", NEED_FD | NEED_ADDR | NEED_ADDR2 },
	[VOS_OP_POLL] = { "poll", NEED_FD },
	[VOS_OP_TIMEOUT] = { "timeout", 0 },
	[VOS_OP_CANCEL] = { "cancel", 0 },
};

const char *vos_op_name(unsigned op)
{
	return op < VOS_OP__COUNT ? ops[op].name : "unknown";
}

static int fcntl_cmd_ok(uint32_t cmd)
{
	switch ((int)cmd) {
	case F_GETFL: case F_SETFL: case F_GETFD: case F_SETFD:
	case F_DUPFD: case F_DUPFD_CLOEXEC:
		return 1;
	}
	return 0;
}

int vos__validate(const struct vos_req *r)
{
	unsigned rules;

	if (r->op >= VOS_OP__COUNT || r->flags || r->reserved || r->reserved2)
		return -EINVAL;
	rules = ops[r->op].rules;
	if ((rules & NEED_FD) && r->fd < 0)
		return -EBADF;
	if ((rules & NEED_ADDR) && !r->addr)
		return -EFAULT;
	if ((rules & NEED_ADDR2) && !r->addr2)
		return -EFAULT;
	if ((rules & BUF_LEN) && !r->addr && r->len)
		return -EFAULT;
	if (rules & IOVEC) {
		if (r->len > VOS_IOV_MAX)
			return -EINVAL;
		if (!r->addr && r->len)
			return -EFAULT;
	}
	switch (r->op) {
	case VOS_OP_FCNTL:
		if (!fcntl_cmd_ok(r->op_flags))
			return -EINVAL;
		break;
	case VOS_OP_IOCTL:
		if (r->op_flags != (uint32_t)FIONREAD &&
		    r->op_flags != (uint32_t)FIONBIO)
			return -EINVAL;
		break;
	case VOS_OP_ACCEPT:
		if (r->addr && !r->addr2)
			return -EFAULT;
		break;
	case VOS_OP_POLL:
		if (r->op_flags > 0xffffu)
			return -EINVAL;
		break;
	}
	return 0;
}
