/*
 * validate.h - the checks a request passes before anything runs it: in
 * the core, before a transport sees it (what fails completes with the
 * documented -errno, virtuos.h), and in a service, on the decoded copy of
 * what a client sent (the same rules: a service runs nothing a well-made
 * client could not have asked for).
 */
#ifndef VOS_WIRE_VALIDATE_H
#define VOS_WIRE_VALIDATE_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <virtuos/virtuos.h>

#include "opdef.h"

/* Everything, including the user pointers: 0 or -errno (-EINVAL,
 * -EFAULT, -EBADF). */
int vos__validate(const struct vos_req *r);

/* Whether r's NULL path names its fd, as the kernel takes it: a statx
 * with AT_EMPTY_PATH (Linux 6.11 and later; asked once; older kernels say
 * -EFAULT, and so does vos__validate), a utimensat with a dirfd other than
 * AT_FDCWD and flags 0 (futimens).  The core sends it as "" with
 * AT_EMPTY_PATH. */
bool vos__null_path_ok(const struct vos_req *r);

/* A utimensat's times, read as the kernel reads them, first: -EFAULT, 1
 * if both are UTIME_OMIT (the call does nothing and says 0, whatever its
 * flags, path or fd), else 0 (also for any other op). */
int vos__times_omitted(const struct vos_req *r);

struct open_how;

/* An openat2's struct open_how (addr2, size in off), read and checked as
 * openat2(2) reads and checks it before it looks at the path: size below
 * 24 -EINVAL, above a page -E2BIG, unreadable -EFAULT, bytes past the
 * struct not zero -E2BIG; unknown flags or RESOLVE_ bits, BENEATH with
 * IN_ROOT, a mode where nothing is created or past 07777, O_PATH with
 * other than its flags, O_TMPFILE without write access -EINVAL;
 * RESOLVE_CACHED with O_CREAT, O_TRUNC or O_TMPFILE -EAGAIN.  0 and *how
 * filled, or -errno. */
int vos__open_how_get(const struct vos_req *r, struct open_how *how);

/* An openat2 request as the transports see it (opdef.c): r's struct read
 * again (r passed vos__open_how_get()) into out's op_flags, arg and off,
 * addr2 0.  A struct that no longer passes (another thread changed or
 * unmapped it since) becomes RESOLVE_ bits no kernel knows: -EINVAL
 * wherever it runs. */
void vos__open_how_flatten(const struct vos_req *r, struct vos_req *out);

static inline bool vos__fields_ok(const struct vos_req *r)
{
	return r->op < VOS_OP__COUNT && !r->flags && !r->reserved;
}

/* The commands: the fcntl commands, ioctl requests and poll events that
 * are supported. */
static inline int vos__cmd_ok(const struct vos_req *r)
{
	switch (r->op) {
	case VOS_OP_FCNTL:
		switch ((int)r->op_flags) {
		case F_GETFL: case F_SETFL: case F_GETFD: case F_SETFD:
		case F_DUPFD: case F_DUPFD_CLOEXEC:
			return 0;
		}
		return -EINVAL;
	case VOS_OP_FCNTL_LOCK:
		return vos__lock_cmd_ok(r->op_flags) ? 0 : -EINVAL;
	case VOS_OP_IOCTL:
		return r->op_flags == (uint32_t)FIONREAD ||
		       r->op_flags == (uint32_t)FIONBIO ? 0 : -EINVAL;
	case VOS_OP_POLL:
		return r->op_flags > 0xffffu ? -EINVAL : 0;
	case VOS_OP_RECV_MULTI:
		/* a pool's group; a peek or a wait for all would never end,
		 * and a length past the buffer (MSG_TRUNC) names no data */
		return r->arg > 0xffffu ||
		       (r->op_flags & (MSG_PEEK | MSG_WAITALL | MSG_TRUNC))
			       ? -EINVAL : 0;
	}
	return 0;
}

/* The op and its commands only (op in range, reserved fields zero,
 * iovcnt, the commands above): what a service checks on a decoded
 * request, whose pointers are its own.  0 or -EINVAL. */
static inline int vos__validate_cmd(const struct vos_req *r)
{
	if (!vos__fields_ok(r))
		return -EINVAL;
	if (vos__op_has(r->op, VOS__OPF_IOVEC) && r->len > VOS_IOV_MAX)
		return -EINVAL;
	return vos__cmd_ok(r);
}

#endif /* VOS_WIRE_VALIDATE_H */
