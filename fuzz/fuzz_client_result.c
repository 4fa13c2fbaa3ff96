/*
 * fuzz_client_result.c - libFuzzer target: the client's decoders of what
 * a (possibly byzantine) service leaves in shared memory: the region
 * header check (vos__header_check, on a private copy) and the result
 * copy-back (vos__wire_result), for requests vos__wire_encode() really
 * made.
 *
 * Input: a header page's bytes; then a request choice (op, lengths), the
 * slot's bytes as the service left them, and a result.  The user buffers
 * are exactly the sizes the request names, so ASan reports any copy-back
 * beyond them; a result that is not -EIO or within what was asked
 * aborts, and so does a geometry accepted that does not fit its mapping.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "encode.h"
#include "opdef.h"
#include "layout.h"

#define SLOT 4096

static uint32_t take(const uint8_t **d, size_t *n)
{
	uint32_t v = 0;

	if (*n >= 4) {
		memcpy(&v, *d, 4);
		*d += 4;
		*n -= 4;
	}
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static const uint8_t ops[] = {
		VOS_OP_READ, VOS_OP_PREAD, VOS_OP_RECV, VOS_OP_READV,
		VOS_OP_WRITE, VOS_OP_STATX, VOS_OP_IOCTL, VOS_OP_ACCEPT,
		VOS_OP_GETSOCKNAME, VOS_OP_GETSOCKOPT, VOS_OP_RECVMSG,
		VOS_OP_SENDMSG, VOS_OP_FSYNC, VOS_OP_OPENAT, VOS_OP_WRITEV,
		VOS_OP_SEND, VOS_OP_SETSOCKOPT, VOS_OP_BIND,
		VOS_OP_COPY_FILE_RANGE, VOS_OP_SPLICE, VOS_OP_SENDFILE,
	};
	struct vos_wire_header h;
	struct vos__geom g;
	struct vos__shared data;
	struct vos__slot slot = { 0, SLOT };
	struct vos_wire_req w;
	struct vos_req r;
	uint8_t *area;
	uint32_t len, sel, lens, mapped;
	int64_t res, out;

	/* 1: any header, checked against any mapping size */
	if (n < sizeof(h) + 4)
		return 0;
	memcpy(&h, d, sizeof(h));
	d += sizeof(h);
	n -= sizeof(h);
	mapped = take(&d, &n);
	if (vos__header_check(&h, mapped, &g) == 0 &&
	    (g.size > mapped || g.data_off + g.data_size != g.size ||
	     g.data_off < g.cq_off + (uint64_t)g.entries * 32))
		abort(); /* a geometry that does not fit what is mapped */

	/* 2: a request, its slot as the service left it, a result */
	sel = take(&d, &n);
	len = take(&d, &n) % (SLOT + 100);
	lens = take(&d, &n);
	res = (int64_t)(int32_t)take(&d, &n) * (take(&d, &n) % 3 == 0 ? 4096 : 1);
	area = calloc(1, SLOT);
	vos__shared_init(&data, area, SLOT);
	memset(&r, 0, sizeof(r));
	r.op = ops[sel % sizeof(ops)];
	{
		char *buf = malloc(len ? len : 1), *buf2 = malloc(16);
		char path[8] = "p";
		struct iovec iov[2] = { { buf, len / 2 }, { buf + len / 2, len - len / 2 } };
		struct statx *stx = malloc(sizeof(*stx));
		socklen_t *sl = malloc(sizeof(*sl));
		int *ip = malloc(sizeof(int));
		struct msghdr m = { 0 };
		struct vos__zarea za;
		struct vos__zareas zs;
		int64_t offs[2] = { 0, 0 }, was[2];

		memset(buf, 0, len ? len : 1);
		*sl = lens % 200;
		*ip = 0;
		r.len = len;
		r.addr = (uint64_t)(uintptr_t)buf;
		switch (r.op) {
		case VOS_OP_READV: case VOS_OP_WRITEV:
			r.addr = (uint64_t)(uintptr_t)iov;
			r.len = 2;
			r.off = lens & 1 ? VOS_OFF_CURRENT : 0;
			break;
		case VOS_OP_STATX:
			r.addr = (uint64_t)(uintptr_t)path;
			r.addr2 = (uint64_t)(uintptr_t)stx;
			break;
		case VOS_OP_IOCTL:
			r.addr = (uint64_t)(uintptr_t)ip;
			r.op_flags = lens & 1 ? 0x541B /* FIONREAD */ : 0x5421;
			break;
		case VOS_OP_ACCEPT: case VOS_OP_GETSOCKNAME:
		case VOS_OP_GETSOCKOPT:
			/* the user buffer holds exactly *sl bytes */
			free(buf);
			buf = malloc(*sl ? *sl : 1);
			r.addr = (uint64_t)(uintptr_t)buf;
			r.addr2 = (uint64_t)(uintptr_t)sl;
			break;
		case VOS_OP_RECVMSG: case VOS_OP_SENDMSG:
			m.msg_name = buf2;
			m.msg_namelen = 16;
			m.msg_iov = iov;
			m.msg_iovlen = 2;
			r.addr = (uint64_t)(uintptr_t)&m;
			break;
		case VOS_OP_OPENAT:
			r.addr = (uint64_t)(uintptr_t)path;
			break;
		case VOS_OP_BIND: case VOS_OP_SETSOCKOPT:
			r.len = len % 300;
			break;
		case VOS_OP_COPY_FILE_RANGE: case VOS_OP_SPLICE:
		case VOS_OP_SENDFILE:
			/* offsets (or none), a count */
			memcpy(offs, &lens, sizeof(lens));
			r.addr = lens & 8 ? (uint64_t)(uintptr_t)&offs[0] : 0;
			r.addr2 = lens & 16 ? (uint64_t)(uintptr_t)&offs[1] : 0;
			r.len = 0;
			r.arg = len;
			break;
		default:
			break;
		}
		/* with bit 2: the buffer lies in a shared area (zero copy: named
		 * by an offset past the slots, nothing copied back) */
		za = (struct vos__zarea){ (const uint8_t *)buf, len ? len : 1,
					  SLOT + 4096 };
		zs = (struct vos__zareas){ &za, 1 };
		if (vos__wire_encode(&r, 3, -1, 0, &data, &slot, lens & 2,
				     lens & 4 ? &zs : NULL, &w) == 0) {
			/* the service scribbles on the slot */
			memcpy(area, d, n < SLOT ? n : SLOT);
			memcpy(was, offs, sizeof(was));
			out = vos__wire_result(&r, &w, &data, res);
			if (out != res && out != -EIO)
				abort();
			/* a copy's offsets: as they were, or moved by the
			 * result it returned (never past the count); both as
			 * they were when it failed */
			if (vos__opdef(r.op)->addr == VOS__ARG_LOFF_INOUT) {
				if (out > 0 && (uint64_t)out > r.arg)
					abort();
				for (int k = 0; k < 2; k++)
					if (offs[k] != was[k] &&
					    (out < 0 ||
					     (uint64_t)offs[k] !=
						     (uint64_t)was[k] +
						     (uint64_t)out))
						abort();
			}
			if (out > 0 && (r.op == VOS_OP_READ || r.op == VOS_OP_PREAD ||
					r.op == VOS_OP_RECV || r.op == VOS_OP_READV ||
					r.op == VOS_OP_WRITE || r.op == VOS_OP_SEND ||
					r.op == VOS_OP_WRITEV) &&
			    (uint64_t)out > w.len)
				abort();
		}
		free(buf);
		free(buf2);
		free(stx);
		free(sl);
		free(ip);
	}
	free(area);
	return 0;
}
