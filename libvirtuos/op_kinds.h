/*
 * op_kinds.h - what kind of operation a request is, as the router, the
 * shm transport and the server core all need to know it (one definition).
 */
#ifndef VOS_OP_KINDS_H
#define VOS_OP_KINDS_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <virtuos/virtuos.h>

/* A *at() call: fd is a directory (or AT_FDCWD) and addr a path. */
static inline bool vos__op_is_at(uint8_t op)
{
	return op == VOS_OP_OPENAT || op == VOS_OP_STATX ||
	       op == VOS_OP_UNLINKAT || op == VOS_OP_MKDIRAT ||
	       op == VOS_OP_RENAMEAT;
}

/* Whether the request's fd field names a file descriptor at all. */
static inline bool vos__op_names_fd(uint8_t op)
{
	return op != VOS_OP_NOP && op != VOS_OP_SOCKET &&
	       op != VOS_OP_TIMEOUT && op != VOS_OP_CANCEL;
}

/* Whether a successful r returns a new file descriptor. */
static inline bool vos__op_makes_fd(const struct vos_req *r)
{
	switch (r->op) {
	case VOS_OP_OPENAT: case VOS_OP_SOCKET: case VOS_OP_ACCEPT:
		return true;
	case VOS_OP_FCNTL:
		return r->op_flags == F_DUPFD || r->op_flags == F_DUPFD_CLOEXEC;
	default:
		return false;
	}
}

/* A socket call (it fails with -ECONNRESET, not -EIO, when its service
 * dies). */
static inline bool vos__op_is_socket(uint8_t op)
{
	switch (op) {
	case VOS_OP_SOCKET: case VOS_OP_BIND: case VOS_OP_LISTEN:
	case VOS_OP_ACCEPT: case VOS_OP_CONNECT: case VOS_OP_SHUTDOWN:
	case VOS_OP_SEND: case VOS_OP_RECV: case VOS_OP_SENDMSG:
	case VOS_OP_RECVMSG: case VOS_OP_SETSOCKOPT: case VOS_OP_GETSOCKOPT:
	case VOS_OP_GETSOCKNAME: case VOS_OP_GETPEERNAME:
		return true;
	default:
		return false;
	}
}

#endif /* VOS_OP_KINDS_H */
