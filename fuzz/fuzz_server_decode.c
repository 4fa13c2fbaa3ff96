/*
 * fuzz_server_decode.c - libFuzzer target: the service's decoder of ring
 * entries (servers/core/decode.c) against a hostile client.
 *
 * Input: a data area size choice, then the data area's bytes, then any
 * number of 64-byte request entries.  For each entry srv_decode() runs;
 * if it accepts the entry, every buffer it hands to the engine must lie
 * inside the data area (or in the request's private copies), and
 * srv_encode_result() with an arbitrary result must write only there.
 * ASan catches any access outside; the checks below abort() on a buffer
 * that escapes.
 */
#define _GNU_SOURCE
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "server.h"

struct srv srv; /* decode.c does not use it; the header declares it */

static void inside(const struct srv_client *c, const struct srv_req *q,
		   const void *p, uint64_t len)
{
	const uint8_t *b = p;

	if (!p)
		return;
	if (b >= c->data && len <= c->data_size &&
	    (uint64_t)(b - c->data) <= c->data_size - len)
		return;
	if (b >= (const uint8_t *)q && b + len <= (const uint8_t *)(q + 1))
		return;
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct srv_client c;
	struct srv_req q;
	size_t size;

	if (n < 2)
		return 0;
	size = (size_t)(d[0] | d[1] << 8) % 8192;
	d += 2;
	n -= 2;
	if (size > n)
		size = n;
	memset(&c, 0, sizeof(c));
	c.data = malloc(size ? size : 1);
	memcpy(c.data, d, size);
	c.data_size = size;
	c.entries = 64;
	d += size;
	n -= size;
	for (; n >= sizeof(struct vos_wire_req);
	     d += sizeof(struct vos_wire_req), n -= sizeof(struct vos_wire_req)) {
		struct vos_wire_req w;

		memcpy(&w, d, sizeof(w));
		memset(&q, 0, sizeof(q));
		q.op = w.op;
		if (srv_decode(&c, &w, &q) != 0)
			continue;
		switch (q.r.op) {
		case VOS_OP_READ: case VOS_OP_PREAD: case VOS_OP_RECV:
		case VOS_OP_WRITE: case VOS_OP_PWRITE: case VOS_OP_SEND:
		case VOS_OP_SETSOCKOPT: case VOS_OP_BIND: case VOS_OP_CONNECT:
			inside(&c, &q, (void *)(uintptr_t)q.r.addr, q.r.len);
			break;
		case VOS_OP_STATX:
			inside(&c, &q, (void *)(uintptr_t)q.r.addr2,
			       sizeof(struct statx));
			/* fall through: the path */
		case VOS_OP_OPENAT: case VOS_OP_UNLINKAT: case VOS_OP_MKDIRAT:
			if (q.r.addr)
				inside(&c, &q, (void *)(uintptr_t)q.r.addr,
				       strlen((char *)(uintptr_t)q.r.addr) + 1);
			break;
		case VOS_OP_ACCEPT: case VOS_OP_GETSOCKNAME:
		case VOS_OP_GETPEERNAME: case VOS_OP_GETSOCKOPT:
			if (q.r.addr2) {
				inside(&c, &q, (void *)(uintptr_t)q.r.addr2,
				       sizeof(socklen_t));
				inside(&c, &q, (void *)(uintptr_t)q.r.addr,
				       q.alen);
			}
			break;
		case VOS_OP_SENDMSG: case VOS_OP_RECVMSG:
			inside(&c, &q, q.msg.msg_name, q.msg.msg_namelen);
			inside(&c, &q, q.iov.iov_base, q.iov.iov_len);
			break;
		default:
			break;
		}
		/* the result goes back; an arbitrary one */
		srv_encode_result(&c, &q, (int64_t)(w.arg % 70000));
	}
	free(c.data);
	return 0;
}
