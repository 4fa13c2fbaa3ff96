/*
 * decode.c - a request entry into a request the engine can run, and its
 * outputs back (decode.h; doc/protocol.md, sections 4 and 7.1).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "decode.h"
#include "opdef.h"
#include "validate.h"

/* A socklen_t the client left at off (addr2), read once: 0, -EFAULT. */
static int read_len(const struct vos__shared *data, const struct vos_wire_req *w,
		    socklen_t *out)
{
	if (w->addr2_len < sizeof(socklen_t) ||
	    !vos__peer_read(data, w->addr2, out, sizeof(*out)))
		return -EFAULT;
	return 0;
}

static int decode_msg(const struct vos__shared *data,
		      const struct vos_wire_req *w, bool in,
		      struct vos__dreq *q)
{
	const uint32_t fixed = sizeof(struct vos_wire_msghdr) + VOS__ADDR_MAX;
	struct vos_wire_msghdr h;
	void *body;

	if (w->addr % 8 || w->addr_len < fixed ||
	    !vos__peer_in(data, w->addr, w->addr_len) ||
	    !vos__peer_read(data, w->addr, &h, sizeof(h)))
		return -EFAULT;
	if (h.name_len > VOS__ADDR_MAX || h.data_len > w->addr_len - fixed)
		return -EFAULT;
	body = vos__peer_span(data, (uint64_t)w->addr + fixed, h.data_len);
	memset(&q->msg, 0, sizeof(q->msg));
	if (h.name_len && in) {
		/* the destination, private: what the kernel sends to is what
		 * any check saw */
		vos__peer_read(data, (uint64_t)w->addr + sizeof(h), q->u.sa,
			       h.name_len);
		q->msg.msg_name = q->u.sa;
		q->msg.msg_namelen = h.name_len;
	} else if (h.name_len) {
		/* recvmsg: the kernel writes the sender's address here */
		q->msg.msg_name = vos__peer_span(data,
						 (uint64_t)w->addr + sizeof(h),
						 VOS__ADDR_MAX);
		q->msg.msg_namelen = VOS__ADDR_MAX;
	}
	q->iov.iov_base = body;
	q->iov.iov_len = h.data_len;
	q->msg.msg_iov = &q->iov;
	q->msg.msg_iovlen = 1;
	q->out_off = w->addr;
	q->r.addr = (uint64_t)(uintptr_t)&q->msg;
	return 0;
}

/* An offset of copy_file_range, sendfile or splice: none (len 0: the
 * file position), or 8 bytes copied into *dst, whose place goes back at
 * *out_off; *a is pointed at the copy.  0 or -EFAULT. */
static int loff_in(const struct vos__shared *data, uint32_t off,
		   uint32_t len, int64_t *dst, uint32_t *out_off, void **a)
{
	if (len == 0)
		return 0;
	if (len != sizeof(*dst) || !vos__peer_read(data, off, dst, sizeof(*dst)))
		return -EFAULT;
	*out_off = off;
	*a = dst;
	return 0;
}

int vos__dreq_decode(const struct vos__shared *data,
		     const struct vos_wire_req *w, struct vos__dreq *q)
{
	const struct vos__opdef *d = vos__opdef(w->op);
	struct vos_req *r = &q->r;
	void *a = NULL, *a2 = NULL;
	socklen_t in;

	/* every field, from the private copy (no memset: this runs per
	 * request) */
	r->op = w->op;
	r->flags = 0;
	r->reserved = 0;
	r->fd = w->fd;
	r->off = w->off;
	r->addr = 0;
	r->addr2 = 0;
	r->len = w->len;
	r->op_flags = w->op_flags;
	r->arg = w->arg;
	r->fd2 = w->fd2;
	r->deadline_ms = 0;
	r->user_data = 0;
	q->path_len[0] = q->path_len[1] = 0;
	q->out_off = q->out_off2 = 0;
	if (!d || w->reserved || (w->flags & ~VOS_WIRE_F_RWF))
		return -EINVAL;
	/* RWF_ flags: on a read or write, and only with the flag saying so */
	if (vos__op_takes_rwf(w->op) ? (w->op_flags && !w->flags) : w->flags)
		return -EINVAL;
	if (d->flags & VOS__OPF_NOWIRE)
		return -EOPNOTSUPP; /* multishot: not on the wire */
	/* the same rules a client's core applies: fcntl commands, ioctl
	 * requests and poll events that are supported, nothing else */
	if (vos__validate_cmd(r) < 0)
		return -EINVAL;

	switch (d->addr) {
	case VOS__ARG_BUF_IN:
	case VOS__ARG_BUF_OUT:
		if (w->len > w->addr_len ||
		    !(a = vos__peer_span(data, w->addr, w->len)))
			return -EFAULT;
		break;
	case VOS__ARG_IOV_IN:
	case VOS__ARG_IOV_OUT:
		return -EINVAL; /* clients send one buffer (doc/protocol.md) */
	case VOS__ARG_PATH:
		if (!w->addr_len || !vos__peer_in(data, w->addr, w->addr_len))
			return -EFAULT;
		q->path_off[0] = w->addr;
		q->path_len[0] = w->addr_len;
		break;
	case VOS__ARG_SOCKADDR_IN:
	case VOS__ARG_OPT_IN: {
		/* an address or an option value: private, whole */
		uint32_t max = d->addr == VOS__ARG_SOCKADDR_IN ? VOS__ADDR_MAX
							       : VOS__OPT_MAX;

		if (w->len > max)
			return -EINVAL;
		if (w->len > w->addr_len ||
		    !vos__peer_read(data, w->addr, q->u.opt, w->len))
			return -EFAULT;
		a = q->u.opt;
		break;
	}
	case VOS__ARG_SOCKADDR_OUT:
		/* accept, get*name: no address wanted, or a buffer sized by
		 * a socklen_t, as getsockopt's */
		if (w->addr2_len == 0)
			break;
		/* fall through */
	case VOS__ARG_OPT_OUT:
		if (read_len(data, w, &in) < 0 ||
		    !(a = vos__peer_span(data, w->addr, w->addr_len)))
			return -EFAULT;
		q->alen = in < w->addr_len ? in : w->addr_len;
		q->out_off = w->addr2;
		a2 = &q->alen;
		break;
	case VOS__ARG_INT_INOUT:
		if (w->addr_len < sizeof(int) ||
		    !vos__peer_read(data, w->addr, &q->ival, sizeof(int)))
			return -EFAULT;
		q->out_off = w->addr;
		a = &q->ival;
		break;
	case VOS__ARG_FLOCK_INOUT: /* copied; written back by GETLK */
		if (w->addr_len != sizeof(q->u.fl) ||
		    !vos__peer_read(data, w->addr, &q->u.fl, sizeof(q->u.fl)))
			return -EFAULT;
		q->out_off = w->addr;
		a = &q->u.fl;
		break;
	case VOS__ARG_MSG_IN:
	case VOS__ARG_MSG_OUT:
		return decode_msg(data, w, d->addr == VOS__ARG_MSG_IN, q);
	case VOS__ARG_LOFF_INOUT:
		if (loff_in(data, w->addr, w->addr_len, &q->loff[0],
			    &q->out_off, &a) < 0)
			return -EFAULT;
		break;
	default:
		break; /* scalars only */
	}
	switch (d->addr2) {
	case VOS__ARG_PATH:
		if (!w->addr2_len || !vos__peer_in(data, w->addr2, w->addr2_len))
			return -EFAULT;
		q->path_off[1] = w->addr2;
		q->path_len[1] = w->addr2_len;
		break;
	case VOS__ARG_BUF_OUT: /* readlinkat: the kernel fills it */
		if (w->len > w->addr2_len ||
		    !(a2 = vos__peer_span(data, w->addr2, w->len)))
			return -EFAULT;
		break;
	case VOS__ARG_STATX_OUT:
		if (w->addr2_len < sizeof(struct statx) ||
		    !(a2 = vos__peer_span(data, w->addr2,
					  sizeof(struct statx))))
			return -EFAULT;
		break;
	case VOS__ARG_STATFS_OUT:
		if (w->addr2_len < sizeof(struct statfs) ||
		    !(a2 = vos__peer_span(data, w->addr2,
					  sizeof(struct statfs))))
			return -EFAULT;
		break;
	case VOS__ARG_LOFF_INOUT:
		if (loff_in(data, w->addr2, w->addr2_len, &q->loff[1],
			    &q->out_off2, &a2) < 0)
			return -EFAULT;
		break;
	case VOS__ARG_TIMES_IN: /* none (now), or both, copied */
		if (w->addr2_len == 0)
			break;
		if (w->addr2_len != sizeof(q->u.ts) ||
		    !vos__peer_read(data, w->addr2, q->u.ts, sizeof(q->u.ts)))
			return -EFAULT;
		a2 = q->u.ts;
		break;
	default:
		break;
	}
	if ((d->flags & VOS__OPF_NEWFD_DUP) &&
	    (r->op_flags == F_DUPFD || r->op_flags == F_DUPFD_CLOEXEC))
		r->arg = 0; /* F_DUPFD: our own lowest number */
	r->addr = (uint64_t)(uintptr_t)a;
	r->addr2 = (uint64_t)(uintptr_t)a2;
	return 0;
}

int vos__dreq_path(const struct vos__shared *data, const struct vos__dreq *q,
		   unsigned i, char *buf, size_t cap)
{
	if (i > 1 || !q->path_len[i])
		return -EFAULT;
	return vos__peer_read_str(data, q->path_off[i], q->path_len[i], buf,
				  cap);
}

void vos__dreq_write_back(const struct vos__shared *data,
			  const struct vos__dreq *q, int64_t res)
{
	const struct vos__opdef *d = vos__opdef(q->r.op);

	if (res < 0 || !d)
		return;
	switch (d->addr) {
	case VOS__ARG_SOCKADDR_OUT:
	case VOS__ARG_OPT_OUT:
		if (q->r.addr2)
			vos__peer_write(data, q->out_off, &q->alen,
					sizeof(q->alen));
		break;
	case VOS__ARG_INT_INOUT:
		vos__peer_write(data, q->out_off, &q->ival, sizeof(q->ival));
		break;
	case VOS__ARG_FLOCK_INOUT:
		if (vos__lock_gets(q->r.op_flags))
			vos__peer_write(data, q->out_off, &q->u.fl,
					sizeof(q->u.fl));
		break;
	case VOS__ARG_LOFF_INOUT:
		if (q->r.addr)
			vos__peer_write(data, q->out_off, &q->loff[0],
					sizeof(q->loff[0]));
		if (q->r.addr2)
			vos__peer_write(data, q->out_off2, &q->loff[1],
					sizeof(q->loff[1]));
		break;
	case VOS__ARG_MSG_OUT: {
		struct vos_wire_msghdr h = { q->msg.msg_namelen, (uint32_t)res,
					     (uint32_t)q->msg.msg_flags, 0 };

		if (!q->msg.msg_name)
			h.name_len = 0;
		vos__peer_write(data, q->out_off, &h, sizeof(h));
		break;
	}
	default:
		break;
	}
}
