/*
 * encode.c - a request's buffers into its data slot, and its result's
 * outputs back (the client end of doc/protocol.md, section 4).
 *
 * Going out, this file writes the slot; coming back, the slot is memory
 * the service may still be writing: every value is copied out once
 * (vos__peer_read) and checked in the copy, and user buffers are filled
 * only with lengths checked against what was asked.
 *
 * The caller's memory (buffers, iovec arrays, paths, addresses, lengths)
 * is touched only through user_mem.h, as the kernel touches it with
 * copy_from_user: a bad pointer fails the request with -EFAULT.  A buffer
 * a result will fill has its first byte probed before the request goes,
 * so the service consumes nothing for a call that could deliver nothing
 * (the kernel writes only what it read: a buffer longer than the data may
 * be bad past it, so no more is probed).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>

#include "encode.h"
#include "opdef.h"
#include "user_mem.h"

#define ADDR_MAX 128u /* sizeof(struct sockaddr_storage) */
#define OPT_MAX 256u  /* option values carried (doc/protocol.md) */

struct cursor {
	const struct vos__shared *data;
	const struct vos__slot *s;
	uint32_t used;
};

/* Reserve n bytes aligned to align in the slot: their data-area offset in
 * *off.  -ENOSPC if they do not fit. */
static int reserve(struct cursor *c, uint32_t n, uint32_t align,
		   uint32_t *off)
{
	uint32_t at = (c->used + align - 1) & ~(align - 1);

	if (at > c->s->size || n > c->s->size - at)
		return -ENOSPC;
	c->used = at + n;
	*off = c->s->off + at;
	return 0;
}

static uint32_t room(const struct cursor *c, uint32_t align)
{
	uint32_t at = (c->used + align - 1) & ~(align - 1);

	return at >= c->s->size ? 0 : c->s->size - at;
}

/* Reserve n bytes and copy the caller's usrc into them: -EFAULT if it is
 * not readable. */
static int put_user(struct cursor *c, const void *usrc, uint32_t n,
		    uint32_t align, uint32_t *off)
{
	int ret = reserve(c, n, align, off);

	if (ret == 0 && n)
		ret = vos__user_read(vos__peer_span(c->data, *off, n), usrc, n);
	return ret;
}

/* The caller's [udst, udst + n) filled from the data area at off:
 * -EFAULT if it is not writable. */
static int back_user(const struct vos__shared *data, uint32_t off,
		     void *udst, uint64_t n)
{
	void *src = vos__peer_span(data, off, n);

	if (!src)
		return -EIO;
	return vos__user_write(udst, src, (size_t)n);
}

/* copy_file_range, sendfile, splice: an offset the caller gave (NULL: the
 * file position, sent as no buffer), copied in; the kernel writes it
 * back, so it must be writable. */
static int put_loff(struct cursor *c, uint64_t uaddr, uint32_t *off,
		    uint32_t *len)
{
	int ret;

	*len = 0;
	if (!uaddr)
		return 0;
	ret = put_user(c, (const void *)(uintptr_t)uaddr, sizeof(int64_t), 8,
		       off);
	if (ret == 0)
		ret = vos__user_probe_write((void *)(uintptr_t)uaddr,
					    sizeof(int64_t));
	*len = sizeof(int64_t);
	return ret;
}

/* The offset the service advanced, into *v: it must be the one sent
 * moved by the result, as the kernel moves it (else the service is lying:
 * -EIO).  0 (nothing to give back: *give false), or -errno. */
static int loff_get(const struct vos__shared *data, uint32_t off,
		    uint32_t len, uint64_t uaddr, int64_t res, int64_t *v,
		    bool *give)
{
	int64_t was;

	*give = uaddr && len == sizeof(*v);
	if (!*give)
		return 0;
	if (vos__user_read(&was, (const void *)(uintptr_t)uaddr,
			   sizeof(was)) < 0)
		return -EFAULT;
	if (!vos__peer_read(data, off, v, sizeof(*v)) ||
	    (uint64_t)*v != (uint64_t)was + (uint64_t)res)
		return -EIO;
	return 0;
}

/* A copy's offsets back to the caller: both checked before either is
 * written. */
static int64_t loffs_back(const struct vos_req *r,
			  const struct vos_wire_req *w,
			  const struct vos__shared *data, bool two,
			  int64_t res)
{
	int64_t v[2];
	bool give[2] = { false, false };
	int e;

	if ((uint64_t)res > r->arg)
		return -EIO; /* more than was asked for */
	e = loff_get(data, w->addr, w->addr_len, r->addr, res, &v[0],
		     &give[0]);
	if (e == 0 && two)
		e = loff_get(data, w->addr2, w->addr2_len, r->addr2, res,
			     &v[1], &give[1]);
	if (e < 0)
		return e;
	if ((give[0] && vos__user_write((void *)(uintptr_t)r->addr, &v[0],
					sizeof(v[0])) < 0) ||
	    (give[1] && vos__user_write((void *)(uintptr_t)r->addr2, &v[1],
					sizeof(v[1])) < 0))
		return -EFAULT;
	return res;
}

/* Reserve n bytes and copy src (private) into them. */
static int put(struct cursor *c, const void *src, uint32_t n, uint32_t align,
	       uint32_t *off)
{
	int ret = reserve(c, n, align, off);

	if (ret == 0 && n)
		vos__peer_write(c->data, *off, src, n);
	return ret;
}

/* The caller's path, with its NUL (written here: the caller's string
 * may change while it is copied). */
static int put_path(struct cursor *c, const char *path, uint32_t *off,
		    uint32_t *len)
{
	size_t n;
	int ret = vos__user_strnlen(path, 4096, &n);

	if (ret < 0)
		return ret;
	if (n >= 4096)
		return -ENAMETOOLONG;
	*len = (uint32_t)n + 1;
	ret = put_user(c, path, (uint32_t)n + 1, 1, off);
	if (ret == 0)
		vos__peer_write(c->data, *off + (uint32_t)n, "", 1);
	return ret;
}

/* The caller's iovec i: 0 or -EFAULT. */
static int uiov(const struct iovec *uarr, uint32_t i, struct iovec *v)
{
	return vos__user_read(v, uarr + i, sizeof(*v));
}

/* The bytes the caller's iovecs ask for in *t: 0 or -EFAULT. */
static int iov_total(const struct iovec *uarr, uint32_t cnt, uint64_t *t)
{
	struct iovec v;

	*t = 0;
	for (uint32_t i = 0; i < cnt; i++) {
		if (uiov(uarr, i, &v) < 0)
			return -EFAULT;
		*t += v.iov_len;
	}
	return 0;
}

/* The first n bytes of the caller's iovecs into the data area at off
 * (write), or the first byte they would receive probed (read): 0 or
 * -EFAULT. */
static int gather(const struct vos__shared *data, uint32_t off,
		  const struct iovec *uarr, uint32_t cnt, uint32_t n, bool rd)
{
	struct iovec v;
	int ret = 0;

	for (uint32_t i = 0; i < cnt && n && ret == 0; i++) {
		uint32_t k;

		if (uiov(uarr, i, &v) < 0)
			return -EFAULT;
		k = v.iov_len < n ? (uint32_t)v.iov_len : n;
		if (rd && k)
			return vos__user_probe_write(v.iov_base, 1);
		if (!rd)
			ret = vos__user_read(vos__peer_span(data, off, k),
					     v.iov_base, k);
		off += k;
		n -= k;
	}
	return ret;
}

/* n bytes from the data area at off into the caller's iovecs (n already
 * checked against what was sent): 0, -EFAULT or -EIO. */
static int scatter(const struct vos__shared *data, uint32_t off,
		   const struct iovec *uarr, uint32_t cnt, uint64_t n)
{
	struct iovec v;

	for (uint32_t i = 0; i < cnt && n; i++) {
		uint64_t k;
		int ret;

		if (uiov(uarr, i, &v) < 0)
			return -EFAULT;
		k = v.iov_len < n ? v.iov_len : n;
		ret = back_user(data, off, v.iov_base, k);
		if (ret < 0)
			return ret;
		off += (uint32_t)k;
		n -= k;
	}
	return 0;
}

/* A buffer of up to want bytes (all of it, unless may_shorten); the
 * length taken in *len. */
static int put_buf(struct cursor *c, uint64_t want, bool may_shorten,
		   uint32_t *off, uint32_t *len)
{
	uint32_t r = room(c, 8);

	if (want > r && !may_shorten)
		return -ENOSPC;
	*len = want < r ? (uint32_t)want : r;
	return reserve(c, *len, 8, off);
}

/* An address buffer (ADDR_MAX) and its socklen_t: for accept and
 * get*name, where both may be absent. */
static int put_addr_out(struct cursor *c, const struct vos_req *r,
			struct vos_wire_req *w)
{
	const socklen_t *lenp = (const socklen_t *)(uintptr_t)r->addr2;
	socklen_t in;
	int ret;

	if (!lenp)
		return 0; /* no address wanted: addr2_len 0 says so */
	if (vos__user_read(&in, lenp, sizeof(in)) < 0 ||
	    vos__user_probe_write((void *)(uintptr_t)lenp, sizeof(in)) < 0)
		return -EFAULT;
	if ((int)in < 0)
		return -EINVAL; /* the kernel's answer to a negative length */
	in = in > ADDR_MAX ? ADDR_MAX : in;
	if (r->addr && in && vos__user_probe_write((void *)(uintptr_t)r->addr, 1))
		return -EFAULT;
	ret = reserve(c, ADDR_MAX, 8, &w->addr);
	if (ret == 0)
		ret = put(c, &in, sizeof(in), 4, &w->addr2);
	w->addr_len = ADDR_MAX;
	w->addr2_len = sizeof(socklen_t);
	return ret;
}

/* getsockopt: the option buffer (what *optlen says, at most OPT_MAX)
 * and the socklen_t. */
static int put_opt_out(struct cursor *c, const struct vos_req *r,
		       struct vos_wire_req *w)
{
	socklen_t in;
	int ret;

	if (vos__user_read(&in, (const void *)(uintptr_t)r->addr2,
			   sizeof(in)) < 0)
		return -EFAULT;
	if (!r->addr && in)
		return -EFAULT; /* no buffer for the value: the kernel says so */
	in = in > OPT_MAX ? OPT_MAX : in;
	ret = put(c, &in, sizeof(in), 4, &w->addr2);
	if (ret == 0)
		ret = reserve(c, in, 8, &w->addr);
	w->addr_len = in;
	w->addr2_len = sizeof(socklen_t);
	return ret;
}

/* sendmsg/recvmsg: header, name area (ADDR_MAX), data, at fixed distances
 * from addr (doc/protocol.md). */
static int put_msg(struct cursor *c, const struct vos_req *r, bool in,
		   bool may_shorten, struct vos_wire_req *w)
{
	struct vos_wire_msghdr h = { 0 };
	uint32_t hoff, noff, doff;
	struct msghdr m;
	uint64_t total;
	int ret;

	if (vos__user_read(&m, (const void *)(uintptr_t)r->addr, sizeof(m)))
		return -EFAULT;
	if (m.msg_controllen)
		return -EOPNOTSUPP; /* ancillary data does not cross */
	if (m.msg_name && m.msg_namelen > ADDR_MAX)
		return -EINVAL;
	if (reserve(c, sizeof(h), 8, &hoff) < 0 ||
	    reserve(c, ADDR_MAX, 8, &noff) < 0)
		return -ENOSPC;
	h.name_len = m.msg_name ? m.msg_namelen : 0;
	if (in && h.name_len &&
	    vos__user_read(vos__peer_span(c->data, noff, h.name_len),
			   m.msg_name, h.name_len) < 0)
		return -EFAULT;
	if (!in && h.name_len && vos__user_probe_write(m.msg_name, 1))
		return -EFAULT;
	if (iov_total(m.msg_iov, (uint32_t)m.msg_iovlen, &total) < 0)
		return -EFAULT;
	ret = put_buf(c, total, may_shorten, &doff, &h.data_len);
	if (ret < 0)
		return ret;
	ret = gather(c->data, doff, m.msg_iov, (uint32_t)m.msg_iovlen,
		     h.data_len, !in);
	if (ret < 0)
		return ret;
	vos__peer_write(c->data, hoff, &h, sizeof(h));
	w->addr = hoff;
	w->addr_len = (doff - hoff) + h.data_len;
	return 0;
}

/* Whether [p, p + len) lies inside one of z's areas: its offset. */
static bool in_area(const struct vos__zareas *z, const void *p, uint64_t len,
		    uint32_t *off)
{
	uintptr_t a = (uintptr_t)p;

	if (!z || !len)
		return false;
	for (unsigned i = 0; i < z->n; i++) {
		uintptr_t b = (uintptr_t)z->a[i].base;

		if (a >= b && a - b <= z->a[i].size &&
		    len <= z->a[i].size - (a - b)) {
			*off = z->a[i].off + (uint32_t)(a - b);
			return true;
		}
	}
	return false;
}

int vos__wire_encode(const struct vos_req *r, int32_t fd, int32_t fd2,
		     uint64_t tag, const struct vos__shared *data,
		     const struct vos__slot *slot, bool may_shorten,
		     const struct vos__zareas *z, struct vos_wire_req *w)
{
	const struct vos__opdef *d = vos__opdef(r->op);
	struct cursor c = { data, slot, 0 };
	const void *ua = (const void *)(uintptr_t)r->addr;
	int ret = 0;

	if (!d)
		return -EINVAL;
	*w = (struct vos_wire_req){ .op = r->op, .fd = fd, .off = r->off,
				    .len = r->len, .op_flags = r->op_flags,
				    .arg = r->arg, .fd2 = fd2, .tag = tag };
	if (vos__op_takes_rwf(r->op) && r->op_flags)
		w->flags = VOS_WIRE_F_RWF; /* (an older service refuses it) */
	if ((d->flags & VOS__OPF_NEWFD_DUP) &&
	    (r->op_flags == F_DUPFD || r->op_flags == F_DUPFD_CLOEXEC))
		w->arg = 0; /* F_DUPFD: the service picks its own number */

	switch (d->addr) {
	case VOS__ARG_BUF_IN:
	case VOS__ARG_BUF_OUT:
		if (in_area(z, ua, r->len, &w->addr)) {
			/* the service reads or fills it where it is */
			w->addr_len = w->len = r->len;
			break;
		}
		ret = put_buf(&c, r->len, may_shorten, &w->addr, &w->addr_len);
		if (ret == 0 && d->addr == VOS__ARG_BUF_IN)
			ret = vos__user_read(vos__peer_span(data, w->addr,
							    w->addr_len),
					     ua, w->addr_len);
		else if (ret == 0 && w->addr_len &&
			 !(r->op == VOS_OP_RECV && (r->op_flags & MSG_TRUNC)))
			/* (MSG_TRUNC: a stream fills nothing, a datagram's
			 * copy is guarded when it comes back) */
			ret = vos__user_probe_write((void *)(uintptr_t)ua, 1);
		w->len = w->addr_len;
		break;
	case VOS__ARG_IOV_IN:
	case VOS__ARG_IOV_OUT: {
		bool rd = d->addr == VOS__ARG_IOV_OUT;
		uint64_t total;

		if (iov_total(ua, r->len, &total) < 0)
			return -EFAULT;
		ret = put_buf(&c, total, may_shorten, &w->addr, &w->addr_len);
		if (ret == 0)
			ret = gather(data, w->addr, ua, r->len, w->addr_len, rd);
		/* one buffer: a plain (p)read or (p)write on the wire */
		if (r->off == VOS_OFF_CURRENT)
			w->op = rd ? VOS_OP_READ : VOS_OP_WRITE;
		else
			w->op = rd ? VOS_OP_PREAD : VOS_OP_PWRITE;
		w->len = w->addr_len;
		break;
	}
	case VOS__ARG_PATH:
		ret = put_path(&c, ua, &w->addr, &w->addr_len);
		break;
	case VOS__ARG_SOCKADDR_IN:
		if (r->len > ADDR_MAX)
			return -EINVAL;
		ret = put_user(&c, ua, r->len, 8, &w->addr);
		w->addr_len = r->len;
		break;
	case VOS__ARG_SOCKADDR_OUT:
		ret = put_addr_out(&c, r, w);
		break;
	case VOS__ARG_OPT_IN:
		if (r->len > OPT_MAX)
			return -EINVAL;
		ret = put_user(&c, ua, r->len, 8, &w->addr);
		w->addr_len = r->len;
		break;
	case VOS__ARG_OPT_OUT:
		ret = put_opt_out(&c, r, w);
		break;
	case VOS__ARG_INT_INOUT:
		ret = put_user(&c, ua, sizeof(int), 4, &w->addr);
		if (ret == 0)
			ret = vos__user_probe_write((void *)(uintptr_t)ua,
						    sizeof(int));
		w->addr_len = sizeof(int);
		break;
	case VOS__ARG_FLOCK_INOUT:
		/* the kernel reads the lock, and the GETLK forms write it
		 * back (a SETLK's may be read-only) */
		ret = put_user(&c, ua, sizeof(struct flock), 8, &w->addr);
		if (ret == 0 && vos__lock_gets(r->op_flags))
			ret = vos__user_probe_write((void *)(uintptr_t)ua,
						    sizeof(struct flock));
		w->addr_len = sizeof(struct flock);
		break;
	case VOS__ARG_MSG_IN:
	case VOS__ARG_MSG_OUT:
		ret = put_msg(&c, r, d->addr == VOS__ARG_MSG_IN, may_shorten, w);
		break;
	case VOS__ARG_LOFF_INOUT:
		ret = put_loff(&c, r->addr, &w->addr, &w->addr_len);
		break;
	default:
		break; /* scalars only */
	}
	if (ret < 0)
		return ret;
	switch (d->addr2) {
	case VOS__ARG_PATH:
		ret = put_path(&c, (const char *)(uintptr_t)r->addr2, &w->addr2,
			       &w->addr2_len);
		break;
	case VOS__ARG_STATX_OUT:
		ret = reserve(&c, sizeof(struct statx), 8, &w->addr2);
		if (ret == 0)
			ret = vos__user_probe_write((void *)(uintptr_t)r->addr2,
						    sizeof(struct statx));
		w->addr2_len = sizeof(struct statx);
		break;
	case VOS__ARG_STATFS_OUT:
		ret = reserve(&c, sizeof(struct statfs), 8, &w->addr2);
		if (ret == 0)
			ret = vos__user_probe_write((void *)(uintptr_t)r->addr2,
						    sizeof(struct statfs));
		w->addr2_len = sizeof(struct statfs);
		break;
	case VOS__ARG_TIMES_IN:
		/* utimensat: the kernel copies the times before it looks at
		 * anything else; NULL travels as no buffer */
		if (!r->addr2)
			break;
		ret = put_user(&c, (const void *)(uintptr_t)r->addr2,
			       2 * sizeof(struct timespec), 8, &w->addr2);
		w->addr2_len = 2 * sizeof(struct timespec);
		break;
	case VOS__ARG_BUF_OUT: {
		/* readlinkat: a link's target is shorter than PATH_MAX, so
		 * a larger buffer gets the same bytes; a NULL one is not
		 * probed (the kernel looks the path up first, then faults) */
		uint32_t n = r->len < PATH_MAX ? r->len : PATH_MAX;

		ret = reserve(&c, n, 1, &w->addr2);
		if (ret == 0 && r->addr2)
			ret = vos__user_probe_write((void *)(uintptr_t)r->addr2,
						    1);
		w->addr2_len = w->len = n;
		break;
	}
	case VOS__ARG_LOFF_INOUT:
		ret = put_loff(&c, r->addr2, &w->addr2, &w->addr2_len);
		break;
	default:
		break; /* none, or the SOCKLEN placed with addr */
	}
	return ret;
}

/* accept, get*name: the address and its length back. */
static int64_t addr_back(const struct vos_req *r, const struct vos_wire_req *w,
			 const struct vos__shared *data, int64_t res)
{
	socklen_t *ulen = (socklen_t *)(uintptr_t)r->addr2;
	socklen_t in, out;

	if (!ulen || !w->addr2_len)
		return res;
	if (vos__user_read(&in, ulen, sizeof(in)) < 0)
		return -EFAULT;
	if (!vos__peer_read(data, w->addr2, &out, sizeof(out)) ||
	    out > ADDR_MAX)
		return -EIO;
	if ((r->addr && back_user(data, w->addr, (void *)(uintptr_t)r->addr,
				  in < out ? in : out) < 0) ||
	    vos__user_write(ulen, &out, sizeof(out)) < 0)
		return -EFAULT;
	return res;
}

/* getsockopt: the value and its length back. */
static int64_t opt_back(const struct vos_req *r, const struct vos_wire_req *w,
			const struct vos__shared *data, int64_t res)
{
	socklen_t out;

	if (!vos__peer_read(data, w->addr2, &out, sizeof(out)) ||
	    out > w->addr_len)
		return -EIO;
	if ((r->addr && back_user(data, w->addr, (void *)(uintptr_t)r->addr,
				  out) < 0) ||
	    vos__user_write((void *)(uintptr_t)r->addr2, &out,
			    sizeof(out)) < 0)
		return -EFAULT;
	return res;
}

/* sendmsg/recvmsg: the count checked; for recvmsg the name, the flags
 * and the data back. */
static int64_t msg_back(const struct vos_req *r, const struct vos_wire_req *w,
			const struct vos__shared *data, bool in, int64_t res)
{
	struct msghdr *um = (struct msghdr *)(uintptr_t)r->addr, m;
	struct vos_wire_msghdr h;
	int flags;
	size_t zero = 0;
	uint32_t name = w->addr + (uint32_t)sizeof(h);
	uint32_t body = name + ADDR_MAX;
	uint32_t sent = w->addr_len - (uint32_t)sizeof(h) - ADDR_MAX;

	if ((uint64_t)res > sent && (in || !(r->op_flags & MSG_TRUNC)))
		return -EIO; /* more than was there (MSG_TRUNC: a recvmsg may
			      * say a datagram's whole length) */
	if (in)
		return res;
	if (!vos__peer_read(data, w->addr, &h, sizeof(h)) ||
	    h.name_len > ADDR_MAX)
		return -EIO;
	if (vos__user_read(&m, um, sizeof(m)) < 0)
		return -EFAULT;
	if (m.msg_name &&
	    (back_user(data, name, m.msg_name,
		       h.name_len < m.msg_namelen ? h.name_len
						  : m.msg_namelen) < 0 ||
	     vos__user_write(&um->msg_namelen, &h.name_len,
			     sizeof(um->msg_namelen)) < 0))
		return -EFAULT;
	flags = (int)h.msg_flags;
	if (scatter(data, body, m.msg_iov, (uint32_t)m.msg_iovlen,
		    (uint64_t)res < sent ? (uint64_t)res : sent) < 0 ||
	    vos__user_write(&um->msg_flags, &flags, sizeof(flags)) < 0 ||
	    vos__user_write(&um->msg_controllen, &zero, sizeof(zero)) < 0)
		return -EFAULT;
	return res;
}

int64_t vos__wire_result(const struct vos_req *r, const struct vos_wire_req *w,
			 const struct vos__shared *data, int64_t res)
{
	const struct vos__opdef *d = vos__opdef(r->op);

	if (res < -4095)
		return -EIO;
	if (res < 0 || !d)
		return res;
	switch (d->addr) {
	case VOS__ARG_BUF_OUT:
		/* with MSG_TRUNC, recv says a datagram's whole length */
		if (res > w->len && !(r->op == VOS_OP_RECV &&
				      (r->op_flags & MSG_TRUNC)))
			return -EIO;
		if (w->addr >= data->size)
			break; /* a buffer of the caller's area: in place */
		if (back_user(data, w->addr, (void *)(uintptr_t)r->addr,
			      (uint64_t)(res < w->len ? res : w->len)) < 0)
			return -EFAULT;
		break;
	case VOS__ARG_IOV_OUT: {
		int ret;

		if (res > w->len)
			return -EIO;
		ret = scatter(data, w->addr,
			      (const struct iovec *)(uintptr_t)r->addr, r->len,
			      (uint64_t)res);
		if (ret < 0)
			return ret;
		break;
	}
	case VOS__ARG_BUF_IN:
	case VOS__ARG_IOV_IN:
		if (res > w->len)
			return -EIO;
		break;
	case VOS__ARG_INT_INOUT:
		if (back_user(data, w->addr, (void *)(uintptr_t)r->addr,
			      sizeof(int)) < 0)
			return -EFAULT;
		break;
	case VOS__ARG_FLOCK_INOUT:
		if (vos__lock_gets(r->op_flags) &&
		    back_user(data, w->addr, (void *)(uintptr_t)r->addr,
			      sizeof(struct flock)) < 0)
			return -EFAULT;
		break;
	case VOS__ARG_SOCKADDR_OUT:
		return addr_back(r, w, data, res);
	case VOS__ARG_OPT_OUT:
		return opt_back(r, w, data, res);
	case VOS__ARG_MSG_IN:
	case VOS__ARG_MSG_OUT:
		return msg_back(r, w, data, d->addr == VOS__ARG_MSG_IN, res);
	case VOS__ARG_LOFF_INOUT:
		return loffs_back(r, w, data, d->addr2 == VOS__ARG_LOFF_INOUT,
				  res);
	default:
		break;
	}
	if (d->addr2 == VOS__ARG_BUF_OUT) {
		if (res > w->len)
			return -EIO;
		if (back_user(data, w->addr2, (void *)(uintptr_t)r->addr2,
			      (uint64_t)res) < 0)
			return -EFAULT;
	}
	if (d->addr2 == VOS__ARG_STATX_OUT || d->addr2 == VOS__ARG_STATFS_OUT) {
		if (res != 0)
			return -EIO;
		if (back_user(data, w->addr2, (void *)(uintptr_t)r->addr2,
			      d->addr2 == VOS__ARG_STATX_OUT ?
			      sizeof(struct statx) : sizeof(struct statfs)) < 0)
			return -EFAULT;
	}
	return res;
}
