/*
 * validate.c - the checks every request passes (validate.h), from the op
 * table's rules.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>

#include "opdef.h"
#include "validate.h"

static int fcntl_cmd_ok(uint32_t cmd)
{
	switch ((int)cmd) {
	case F_GETFL: case F_SETFL: case F_GETFD: case F_SETFD:
	case F_DUPFD: case F_DUPFD_CLOEXEC:
		return 1;
	}
	return 0;
}

static int fields_ok(const struct vos_req *r)
{
	return r->op < VOS_OP__COUNT && !r->flags && !r->reserved;
}

/* The commands, in the kernel's order: after the fd and the pointers. */
static int cmd_ok(const struct vos_req *r)
{
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
	case VOS_OP_POLL:
		if (r->op_flags > 0xffffu)
			return -EINVAL;
		break;
	}
	return 0;
}

int vos__validate_cmd(const struct vos_req *r)
{
	if (!fields_ok(r))
		return -EINVAL;
	if (vos__op_has(r->op, VOS__OPF_IOVEC) && r->len > VOS_IOV_MAX)
		return -EINVAL;
	return cmd_ok(r);
}

int vos__validate(const struct vos_req *r)
{
	const struct vos__opdef *d;
	unsigned f;

	if (!fields_ok(r))
		return -EINVAL;
	d = vos__opdef(r->op);
	f = d->flags;
	if ((f & VOS__OPF_FD) && r->fd < 0)
		return -EBADF;
	if ((f & VOS__OPF_NEED_ADDR) && !r->addr)
		return -EFAULT;
	if ((f & VOS__OPF_NEED_ADDR2) && !r->addr2)
		return -EFAULT;
	if ((f & VOS__OPF_BUF_LEN) && !r->addr && r->len)
		return -EFAULT;
	if (f & VOS__OPF_IOVEC) {
		if (r->len > VOS_IOV_MAX)
			return -EINVAL;
		if (!r->addr && r->len)
			return -EFAULT;
	}
	/* accept: an address buffer needs its length */
	if (d->addr == VOS__ARG_SOCKADDR_OUT && r->addr && !r->addr2)
		return -EFAULT;
	return cmd_ok(r);
}
