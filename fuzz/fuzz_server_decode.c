/*
 * fuzz_server_decode.c - libFuzzer target: the service's decoder of
 * request entries (libvirtuos/wire/decode.c) against a hostile client.
 *
 * Input: a data area size choice, then the data area's bytes, then any
 * number of 64-byte request entries.  For each entry vos__dreq_decode()
 * runs; if it accepts the entry, every buffer it hands to the executor
 * must lie inside the data area or in the decoded request's private
 * copies, every path it names must copy out (or fail) within bounds, and
 * vos__dreq_write_back() with an arbitrary result must write only there.
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
#include <sys/statfs.h>
#include <sys/uio.h>

#include "decode.h"
#include "opdef.h"

static uint8_t *area;
static size_t area_size;

static void inside(const struct vos__dreq *q, const void *p, uint64_t len)
{
	const uint8_t *b = p;

	if (!p)
		return;
	if (b >= area && len <= area_size &&
	    (uint64_t)(b - area) <= area_size - len)
		return;
	if (b >= (const uint8_t *)q && b + len <= (const uint8_t *)(q + 1))
		return;
	abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct vos__shared data;
	static struct vos__dreq q;
	char path[4096];

	if (n < 2)
		return 0;
	area_size = (size_t)(d[0] | d[1] << 8) % 8192;
	d += 2;
	n -= 2;
	if (area_size > n)
		area_size = n;
	area = malloc(area_size ? area_size : 1);
	memcpy(area, d, area_size);
	vos__shared_init(&data, area, area_size);
	d += area_size;
	n -= area_size;
	for (; n >= sizeof(struct vos_wire_req);
	     d += sizeof(struct vos_wire_req), n -= sizeof(struct vos_wire_req)) {
		const struct vos__opdef *def;
		struct vos_wire_req w;
		const struct vos_req *r = &q.r;

		memcpy(&w, d, sizeof(w));
		if (vos__dreq_decode(&data, &w, &q) != 0)
			continue;
		def = vos__opdef(r->op);
		if (!def)
			abort(); /* accepted an op out of range */
		switch (def->addr) {
		case VOS__ARG_BUF_IN: case VOS__ARG_BUF_OUT:
		case VOS__ARG_SOCKADDR_IN: case VOS__ARG_OPT_IN:
			inside(&q, (void *)(uintptr_t)r->addr, r->len);
			break;
		case VOS__ARG_SOCKADDR_OUT: case VOS__ARG_OPT_OUT:
			if (r->addr2) {
				inside(&q, (void *)(uintptr_t)r->addr2,
				       sizeof(socklen_t));
				inside(&q, (void *)(uintptr_t)r->addr, q.alen);
			}
			break;
		case VOS__ARG_INT_INOUT:
			inside(&q, (void *)(uintptr_t)r->addr, sizeof(int));
			break;
		case VOS__ARG_FLOCK_INOUT:
			/* the lock is a private copy */
			if (r->addr != (uint64_t)(uintptr_t)&q.u.fl)
				abort();
			break;
		case VOS__ARG_LOFF_INOUT:
			/* an offset is a private copy, or none */
			if (r->addr && r->addr != (uint64_t)(uintptr_t)&q.loff[0])
				abort();
			if (def->addr2 == VOS__ARG_LOFF_INOUT && r->addr2 &&
			    r->addr2 != (uint64_t)(uintptr_t)&q.loff[1])
				abort();
			break;
		case VOS__ARG_MSG_IN: case VOS__ARG_MSG_OUT:
			inside(&q, q.msg.msg_name, q.msg.msg_namelen);
			inside(&q, q.iov.iov_base, q.iov.iov_len);
			break;
		case VOS__ARG_PATH:
			if (r->addr)
				abort(); /* paths are copied, never pointed at */
			if (vos__dreq_path(&data, &q, 0, path, sizeof(path)) >= 0 &&
			    !memchr(path, '\0', sizeof(path)))
				abort();
			break;
		default:
			break;
		}
		if (def->addr2 == VOS__ARG_STATX_OUT)
			inside(&q, (void *)(uintptr_t)r->addr2,
			       sizeof(struct statx));
		if (def->addr2 == VOS__ARG_STATFS_OUT)
			inside(&q, (void *)(uintptr_t)r->addr2,
			       sizeof(struct statfs));
		if (def->addr2 == VOS__ARG_BUF_OUT)
			inside(&q, (void *)(uintptr_t)r->addr2, r->len);
		/* the times are a private copy, or none */
		if (def->addr2 == VOS__ARG_TIMES_IN && r->addr2 &&
		    r->addr2 != (uint64_t)(uintptr_t)q.u.ts)
			abort();
		if (def->addr2 == VOS__ARG_PATH)
			vos__dreq_path(&data, &q, 1, path, sizeof(path));
		/* the result goes back; an arbitrary one */
		vos__dreq_write_back(&data, &q, (int64_t)(w.arg % 70000));
	}
	free(area);
	return 0;
}
