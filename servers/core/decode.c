/*
 * decode.c - turning a ring entry from a client into a request the engine
 * can run, and writing results that have out-parameters back.
 *
 * The client is hostile.  Every offset and length is checked against the
 * data area; anything the kernel reads *twice* or trusts (an address
 * length, a message header) is copied into the daemon's private memory
 * first, so the client cannot change it between our check and the
 * kernel's use.  Paths are copied by the service before use (the kernel
 * reads a path until its NUL, which the client could remove).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "server.h"

#define ADDR_MAX 128u

/* [off, off+len) inside the data area?  Returns its address or NULL. */
static void *span(struct srv_client *c, uint32_t off, uint64_t len)
{
	if ((uint64_t)off > c->data_size || len > c->data_size - off)
		return NULL;
	return c->data + off;
}

/* A NUL-terminated string of at most len bytes at off. */
static const char *string_at(struct srv_client *c, uint32_t off, uint32_t len)
{
	const char *p = span(c, off, len);

	if (!p || len == 0 || !memchr(p, '\0', len))
		return NULL;
	return p;
}

int srv_decode(struct srv_client *c, const struct vos_wire_req *w,
	       struct srv_req *q)
{
	struct vos_req *r = &q->r;
	void *a = NULL, *a2 = NULL;

	memset(r, 0, sizeof(*r));
	if (w->op >= VOS_OP__COUNT || w->flags || w->reserved)
		return -EINVAL;
	r->op = w->op;
	r->fd = w->fd;
	r->off = w->off;
	r->len = w->len;
	r->op_flags = w->op_flags;
	r->arg = w->arg;
	r->fd2 = w->fd2;

	switch (w->op) {
	case VOS_OP_READ: case VOS_OP_PREAD: case VOS_OP_RECV:
	case VOS_OP_WRITE: case VOS_OP_PWRITE: case VOS_OP_SEND:
		if (w->len > w->addr_len || !(a = span(c, w->addr, w->len)))
			return -EFAULT;
		break;
	case VOS_OP_READV: case VOS_OP_WRITEV:
		return -EINVAL; /* clients send one buffer (doc/protocol.md) */
	case VOS_OP_OPENAT: case VOS_OP_UNLINKAT: case VOS_OP_MKDIRAT:
		if (!(a = (void *)string_at(c, w->addr, w->addr_len)))
			return -EFAULT;
		break;
	case VOS_OP_RENAMEAT:
		if (!(a = (void *)string_at(c, w->addr, w->addr_len)) ||
		    !(a2 = (void *)string_at(c, w->addr2, w->addr2_len)))
			return -EFAULT;
		break;
	case VOS_OP_STATX:
		if (!(a = (void *)string_at(c, w->addr, w->addr_len)) ||
		    w->addr2_len < sizeof(struct statx) ||
		    !(a2 = span(c, w->addr2, sizeof(struct statx))))
			return -EFAULT;
		break;
	case VOS_OP_IOCTL:
		if (w->addr_len < sizeof(int) || !(a = span(c, w->addr, 4)))
			return -EFAULT;
		break;
	case VOS_OP_FCNTL:
		if (w->op_flags == F_DUPFD || w->op_flags == F_DUPFD_CLOEXEC)
			r->arg = 0;
		break;
	case VOS_OP_BIND: case VOS_OP_CONNECT:
		if (w->len > ADDR_MAX || w->len > w->addr_len ||
		    !(a = span(c, w->addr, w->len)))
			return -EFAULT;
		break;
	case VOS_OP_ACCEPT: case VOS_OP_GETSOCKNAME: case VOS_OP_GETPEERNAME:
		if (w->addr2_len == 0)
			break; /* no address wanted */
		{
			socklen_t in;
			void *lp = span(c, w->addr2, sizeof(socklen_t));

			if (!lp || w->addr2_len < sizeof(socklen_t) ||
			    !(a = span(c, w->addr, w->addr_len)))
				return -EFAULT;
			memcpy(&in, lp, sizeof(in)); /* read once */
			q->alen = in < w->addr_len ? in : w->addr_len;
			q->alen_off = w->addr2;
			a2 = &q->alen;
		}
		break;
	case VOS_OP_SETSOCKOPT:
		if (w->len > w->addr_len || !(a = span(c, w->addr, w->len)))
			return -EFAULT;
		break;
	case VOS_OP_GETSOCKOPT: {
		socklen_t in;
		void *lp = span(c, w->addr2, sizeof(socklen_t));

		if (!lp || w->addr2_len < sizeof(socklen_t) ||
		    !(a = span(c, w->addr, w->addr_len)))
			return -EFAULT;
		memcpy(&in, lp, sizeof(in));
		q->alen = in < w->addr_len ? in : w->addr_len;
		q->alen_off = w->addr2;
		a2 = &q->alen;
		break;
	}
	case VOS_OP_SENDMSG: case VOS_OP_RECVMSG: {
		struct vos_wire_msghdr h;
		uint8_t *base = span(c, w->addr, w->addr_len);
		uint32_t fixed = sizeof(h) + ADDR_MAX;

		if (!base || w->addr_len < fixed || w->addr % 8)
			return -EFAULT;
		memcpy(&h, base, sizeof(h)); /* read once */
		if (h.name_len > ADDR_MAX || h.data_len > w->addr_len - fixed)
			return -EFAULT;
		memset(&q->msg, 0, sizeof(q->msg));
		q->msg.msg_name = h.name_len ? base + sizeof(h) : NULL;
		q->msg.msg_namelen = h.name_len;
		q->iov.iov_base = base + fixed;
		q->iov.iov_len = h.data_len;
		q->msg.msg_iov = &q->iov;
		q->msg.msg_iovlen = 1;
		q->msg_off = w->addr;
		a = &q->msg;
		break;
	}
	default:
		break; /* scalars only */
	}
	r->addr = (uint64_t)(uintptr_t)a;
	r->addr2 = (uint64_t)(uintptr_t)a2;
	return 0;
}

void srv_encode_result(struct srv_client *c, struct srv_req *q, int64_t res)
{
	if (res < 0)
		return;
	switch (q->op) {
	case VOS_OP_ACCEPT: case VOS_OP_GETSOCKNAME: case VOS_OP_GETPEERNAME:
	case VOS_OP_GETSOCKOPT:
		if (q->r.addr2) {
			void *lp = span(c, q->alen_off, sizeof(socklen_t));

			if (lp)
				memcpy(lp, &q->alen, sizeof(q->alen));
		}
		break;
	case VOS_OP_RECVMSG: {
		struct vos_wire_msghdr h = { q->msg.msg_namelen, (uint32_t)res,
					     (uint32_t)q->msg.msg_flags, 0 };
		void *hp = span(c, q->msg_off, sizeof(h));

		if (hp)
			memcpy(hp, &h, sizeof(h));
		break;
	}
	default:
		break;
	}
}
