/*
 * validate.c - the checks every request passes (validate.h), from the op
 * table's rules.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include "opdef.h"
#include "validate.h"

int vos__validate(const struct vos_req *r)
{
	const struct vos__opdef *d;
	unsigned f;

	if (!vos__fields_ok(r))
		return -EINVAL;
	d = vos__opdef(r->op);
	f = d->flags;
	/* the kernel refuses a negative offset before it looks at the fd */
	if (vos__op_positional(r) && r->off > (uint64_t)INT64_MAX)
		return -EINVAL;
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
	return vos__cmd_ok(r);
}
