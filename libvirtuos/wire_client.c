/*
 * wire_client.c - marshalling a request into its data slot, and checking
 * and copying back its result (the client end of doc/protocol.md,
 * "Operations").
 *
 * Everything this file reads from the slot after the service answered is
 * shared memory the service may still be writing: each value is read once
 * into a local, checked, then used.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "wire_client.h"

#define ADDR_MAX 128u /* sizeof(struct sockaddr_storage) */

struct cursor {
	const struct vos__wire_slot *s;
	uint32_t used;
};

/* Reserve n bytes aligned to align in the slot: their data-area offset in
 * *off and address in *p.  -ENOSPC if they do not fit. */
static int reserve(struct cursor *c, uint32_t n, uint32_t align,
		   uint32_t *off, uint8_t **p)
{
	uint32_t at = (c->used + align - 1) & ~(align - 1);

	if (at > c->s->size || n > c->s->size - at)
		return -ENOSPC;
	c->used = at + n;
	*off = c->s->off + at;
	*p = c->s->base + at;
	return 0;
}

static uint32_t room(const struct cursor *c, uint32_t align)
{
	uint32_t at = (c->used + align - 1) & ~(align - 1);

	return at >= c->s->size ? 0 : c->s->size - at;
}

static int put_path(struct cursor *c, const char *path, uint32_t *off,
		    uint32_t *len)
{
	size_t n = strnlen(path, c->s->size);
	uint8_t *p;

	if (n >= 4096)
		return -ENAMETOOLONG;
	if (reserve(c, (uint32_t)n + 1, 1, off, &p) < 0)
		return -ENOSPC;
	memcpy(p, path, n + 1);
	*len = (uint32_t)n + 1;
	return 0;
}

static uint64_t iov_total(const struct iovec *iov, uint32_t cnt)
{
	uint64_t t = 0;

	for (uint32_t i = 0; i < cnt; i++)
		t += iov[i].iov_len;
	return t;
}

static void gather(uint8_t *dst, const struct iovec *iov, uint32_t cnt,
		   uint32_t n)
{
	for (uint32_t i = 0; i < cnt && n; i++) {
		uint32_t k = iov[i].iov_len < n ? (uint32_t)iov[i].iov_len : n;

		memcpy(dst, iov[i].iov_base, k);
		dst += k;
		n -= k;
	}
}

static void scatter(const struct iovec *iov, uint32_t cnt, const uint8_t *src,
		    uint64_t n)
{
	for (uint32_t i = 0; i < cnt && n; i++) {
		uint64_t k = iov[i].iov_len < n ? iov[i].iov_len : n;

		memcpy(iov[i].iov_base, src, k);
		src += k;
		n -= k;
	}
}

/* A buffer of up to want bytes; the length taken goes to *len. */
static int put_buf(struct cursor *c, uint64_t want, uint32_t *off,
		   uint8_t **p, uint32_t *len)
{
	uint32_t r = room(c, 8);

	*len = want < r ? (uint32_t)want : r;
	return reserve(c, *len, 8, off, p);
}

/* An address buffer with its socklen_t: addr (ADDR_MAX) + addr2 (4). */
static int put_addr_out(struct cursor *c, socklen_t *lenp,
			struct vos_wire_req *w)
{
	uint8_t *p;
	socklen_t in;

	if (!lenp)
		return 0; /* no address wanted */
	memcpy(&in, lenp, sizeof(in));
	if (reserve(c, ADDR_MAX, 8, &w->addr, &p) < 0 ||
	    reserve(c, sizeof(socklen_t), 4, &w->addr2, &p) < 0)
		return -ENOSPC;
	w->addr_len = ADDR_MAX;
	w->addr2_len = sizeof(socklen_t);
	in = in > ADDR_MAX ? ADDR_MAX : in;
	memcpy(p, &in, sizeof(in));
	return 0;
}

int vos__wire_encode(const struct vos_req *r, int32_t fd, int32_t fd2,
		     uint64_t tag, const struct vos__wire_slot *slot,
		     struct vos_wire_req *w)
{
	struct cursor c = { slot, 0 };
	const void *ua = (const void *)(uintptr_t)r->addr;
	const void *ua2 = (const void *)(uintptr_t)r->addr2;
	uint8_t *p;
	int ret = 0;

	memset(w, 0, sizeof(*w));
	w->op = r->op;
	w->fd = fd;
	w->off = r->off;
	w->len = r->len;
	w->op_flags = r->op_flags;
	w->arg = r->arg;
	w->fd2 = fd2;
	w->tag = tag;

	switch (r->op) {
	case VOS_OP_READ: case VOS_OP_PREAD: case VOS_OP_RECV:
		ret = put_buf(&c, r->len, &w->addr, &p, &w->addr_len);
		w->len = w->addr_len;
		break;
	case VOS_OP_WRITE: case VOS_OP_PWRITE: case VOS_OP_SEND:
		ret = put_buf(&c, r->len, &w->addr, &p, &w->addr_len);
		if (ret == 0)
			memcpy(p, ua, w->addr_len);
		w->len = w->addr_len;
		break;
	case VOS_OP_READV: case VOS_OP_WRITEV: {
		const struct iovec *iov = ua;
		bool rd = r->op == VOS_OP_READV;

		ret = put_buf(&c, iov_total(iov, r->len), &w->addr, &p,
			      &w->addr_len);
		if (ret == 0 && !rd)
			gather(p, iov, r->len, w->addr_len);
		/* one buffer: a plain (p)read or (p)write on the wire */
		if (r->off == VOS_OFF_CURRENT)
			w->op = rd ? VOS_OP_READ : VOS_OP_WRITE;
		else
			w->op = rd ? VOS_OP_PREAD : VOS_OP_PWRITE;
		w->len = w->addr_len;
		break;
	}
	case VOS_OP_OPENAT: case VOS_OP_UNLINKAT: case VOS_OP_MKDIRAT:
		ret = put_path(&c, ua, &w->addr, &w->addr_len);
		break;
	case VOS_OP_RENAMEAT:
		ret = put_path(&c, ua, &w->addr, &w->addr_len);
		if (ret == 0)
			ret = put_path(&c, ua2, &w->addr2, &w->addr2_len);
		break;
	case VOS_OP_STATX:
		ret = put_path(&c, ua, &w->addr, &w->addr_len);
		if (ret == 0)
			ret = reserve(&c, sizeof(struct statx), 8, &w->addr2,
				      &p);
		w->addr2_len = sizeof(struct statx);
		break;
	case VOS_OP_FCNTL:
		if (r->op_flags == F_DUPFD || r->op_flags == F_DUPFD_CLOEXEC)
			w->arg = 0; /* the service picks its own number */
		break;
	case VOS_OP_IOCTL:
		ret = reserve(&c, sizeof(int), 4, &w->addr, &p);
		w->addr_len = sizeof(int);
		if (ret == 0)
			memcpy(p, ua, sizeof(int)); /* FIONBIO reads it */
		break;
	case VOS_OP_BIND: case VOS_OP_CONNECT:
		if (r->len > ADDR_MAX)
			return -EINVAL;
		ret = reserve(&c, r->len, 8, &w->addr, &p);
		if (ret == 0)
			memcpy(p, ua, r->len);
		w->addr_len = r->len;
		break;
	case VOS_OP_ACCEPT: case VOS_OP_GETSOCKNAME: case VOS_OP_GETPEERNAME:
		ret = put_addr_out(&c, (socklen_t *)(uintptr_t)r->addr2, w);
		break;
	case VOS_OP_SETSOCKOPT:
		ret = reserve(&c, r->len, 8, &w->addr, &p);
		if (ret == 0 && r->len)
			memcpy(p, ua, r->len);
		w->addr_len = r->len;
		break;
	case VOS_OP_GETSOCKOPT: {
		socklen_t in;

		memcpy(&in, ua2, sizeof(in));
		ret = reserve(&c, sizeof(socklen_t), 4, &w->addr2, &p);
		if (ret == 0) {
			in = in > 256 ? 256 : in;
			memcpy(p, &in, sizeof(in));
			ret = reserve(&c, in, 8, &w->addr, &p);
		}
		w->addr_len = in;
		w->addr2_len = sizeof(socklen_t);
		break;
	}
	case VOS_OP_SENDMSG: case VOS_OP_RECVMSG: {
		const struct msghdr *m = ua;
		struct vos_wire_msghdr h = { 0 };
		uint32_t hoff, noff, doff;
		uint8_t *hp, *np, *dp;
		bool rd = r->op == VOS_OP_RECVMSG;

		if (m->msg_controllen || m->msg_namelen > ADDR_MAX)
			return m->msg_controllen ? -EOPNOTSUPP : -EINVAL;
		if (reserve(&c, sizeof(h), 8, &hoff, &hp) < 0 ||
		    reserve(&c, ADDR_MAX, 8, &noff, &np) < 0)
			return -ENOSPC;
		h.name_len = m->msg_name ? m->msg_namelen : 0;
		if (!rd && h.name_len)
			memcpy(np, m->msg_name, h.name_len);
		ret = put_buf(&c, iov_total(m->msg_iov, (uint32_t)m->msg_iovlen),
			      &doff, &dp, &h.data_len);
		if (ret == 0 && !rd)
			gather(dp, m->msg_iov, (uint32_t)m->msg_iovlen,
			       h.data_len);
		memcpy(hp, &h, sizeof(h));
		w->addr = hoff;
		/* header, name area, data: the service finds them at fixed
		 * distances from addr (doc/protocol.md) */
		w->addr_len = (doff - hoff) + h.data_len;
		(void)noff;
		break;
	}
	default: /* scalars only */
		break;
	}
	return ret;
}

static int64_t copy_addr_back(const struct vos_req *r,
			      const struct vos_wire_req *w,
			      const struct vos__wire_slot *s, int64_t res)
{
	socklen_t *ulen = (socklen_t *)(uintptr_t)r->addr2;
	socklen_t in, out;

	if (!ulen || !w->addr2_len)
		return res;
	memcpy(&in, ulen, sizeof(in));
	memcpy(&out, s->base + (w->addr2 - s->off), sizeof(out));
	if (out > ADDR_MAX)
		return -EIO;
	if (r->addr)
		memcpy((void *)(uintptr_t)r->addr,
		       s->base + (w->addr - s->off), in < out ? in : out);
	memcpy(ulen, &out, sizeof(out));
	return res;
}

int64_t vos__wire_result(const struct vos_req *r, const struct vos_wire_req *w,
			 const struct vos__wire_slot *s, int64_t res)
{
	/* addr is only meaningful for ops that have a buffer */
#define a (s->base + (w->addr - s->off))
	if (res < -4095)
		return -EIO;
	if (res < 0)
		return res;
	switch (r->op) {
	case VOS_OP_READ: case VOS_OP_PREAD: case VOS_OP_RECV:
		if (res > w->len)
			return -EIO;
		memcpy((void *)(uintptr_t)r->addr, a, (size_t)res);
		return res;
	case VOS_OP_READV:
		if (res > w->len)
			return -EIO;
		scatter((const struct iovec *)(uintptr_t)r->addr, r->len, a,
			(uint64_t)res);
		return res;
	case VOS_OP_WRITE: case VOS_OP_PWRITE: case VOS_OP_SEND:
	case VOS_OP_WRITEV:
		return res > w->len ? -EIO : res;
	case VOS_OP_STATX:
		if (res != 0)
			return -EIO;
		memcpy((void *)(uintptr_t)r->addr2, s->base + (w->addr2 - s->off),
		       sizeof(struct statx));
		return 0;
	case VOS_OP_IOCTL:
		if (r->op_flags == (uint32_t)FIONREAD)
			memcpy((void *)(uintptr_t)r->addr, a, sizeof(int));
		return res;
	case VOS_OP_ACCEPT: case VOS_OP_GETSOCKNAME: case VOS_OP_GETPEERNAME:
		return copy_addr_back(r, w, s, res);
	case VOS_OP_GETSOCKOPT: {
		socklen_t out;

		memcpy(&out, s->base + (w->addr2 - s->off), sizeof(out));
		if (out > w->addr_len)
			return -EIO;
		memcpy((void *)(uintptr_t)r->addr, a, out);
		memcpy((void *)(uintptr_t)r->addr2, &out, sizeof(out));
		return res;
	}
	case VOS_OP_SENDMSG: case VOS_OP_RECVMSG: {
		struct msghdr *m = (struct msghdr *)(uintptr_t)r->addr;
		struct vos_wire_msghdr h;
		const uint8_t *name = a + sizeof(h);
		const uint8_t *data;
		uint32_t sent_data;

		/* what we sent: header, name area, data (see encode) */
		sent_data = w->addr_len - (uint32_t)sizeof(h) - ADDR_MAX;
		data = name + ADDR_MAX;
		if ((uint64_t)res > sent_data)
			return -EIO;
		if (r->op == VOS_OP_SENDMSG)
			return res;
		memcpy(&h, a, sizeof(h));
		if (h.name_len > ADDR_MAX)
			return -EIO;
		if (m->msg_name) {
			memcpy(m->msg_name, name,
			       h.name_len < m->msg_namelen ? h.name_len
							   : m->msg_namelen);
			m->msg_namelen = h.name_len;
		}
		scatter(m->msg_iov, (uint32_t)m->msg_iovlen, data,
			(uint64_t)res);
		m->msg_flags = (int)h.msg_flags;
		m->msg_controllen = 0;
		return res;
	}
	default:
		return res;
	}
#undef a
}
