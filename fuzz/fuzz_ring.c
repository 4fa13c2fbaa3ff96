/*
 * fuzz_ring.c - libFuzzer target: both ends' ring logic against a peer
 * that writes anything, anywhere in the shared region, at any moment.
 *
 * The client end is the real generic ring client (ring_client.c) over a
 * fake channel whose "region" is memory this target owns; the service end
 * is the real ring_server.c on the same region.  The input is a script:
 * submit a request through the client; let the service take what is
 * published (decoding each entry) and post results; overwrite bytes of
 * the region (heads, entries and their sequence words, flags, the data
 * area) as a hostile peer
 * would; reap; expire a tag; sleep and wake; fork.
 *
 * Invariants (abort() on violation): the client completes each tag it
 * took exactly once, and only tags it took; a read's result is never
 * more than was asked; every decoded buffer lies in the data area or the request's copies
 * (ASan checks every access besides).
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <virtuos/transport.h>

#include "decode.h"
#include "layout.h"
#include "ring_client.h"
#include "ring_server.h"

#define DEPTH 8
#define SLOT 4096

static uint8_t *region;
static struct vos__geom geom;
static struct vos__rs srv_ring;
static int efd = -1;
static bool peer_gone;

/* ---- the fake channel -------------------------------------------------- */

static int ch_create(void **ch) { *ch = &geom; return 0; }
static int ch_option(void *ch, const char *k, const char *v)
{
	(void)ch; (void)k; (void)v;
	return 0;
}
static int ch_ready(void *ch) { (void)ch; return 0; }
static int ch_attach(void *ch, const struct vos_wire_attach *a,
		     int timeout_ms, struct vos__attachment *out)
{
	(void)ch; (void)a; (void)timeout_ms;
	out->map = region;
	out->size = geom.size;
	out->epoch = 7;
	return 0;
}
static void ch_notify(void *ch) { (void)ch; }
static int ch_wait_fd(void *ch) { (void)ch; return efd; }
static int ch_drain(void *ch) { (void)ch; return peer_gone ? -ECONNRESET : 0; }
static void ch_detach(void *ch, bool tell) { (void)ch; (void)tell; }
static void ch_destroy(void *ch) { (void)ch; }
static const char *ch_where(void *ch) { (void)ch; return "fuzz"; }

/* (no buffer areas: vos_buf_alloc gives ordinary memory) */
static const struct vos__chan_client chan = {
	.name = "fuzz", .create = ch_create, .option = ch_option,
	.ready = ch_ready, .attach = ch_attach, .notify = ch_notify,
	.wait_fd = ch_wait_fd, .drain = ch_drain, .detach = ch_detach,
	.destroy = ch_destroy, .where = ch_where,
};

/* ---- the host: checks each completion --------------------------------- */

struct out {
	bool busy;
	uint8_t op;
	uint32_t len;
};
static struct out outs[DEPTH];
static struct vos_transport_host host;

static void complete(struct vos_transport_host *h, uint64_t tag, int64_t res)
{
	(void)h;
	if (tag >= DEPTH || !outs[tag].busy)
		abort(); /* a completion for a tag not taken */
	if ((outs[tag].op == VOS_OP_READ || outs[tag].op == VOS_OP_PREAD) &&
	    res > (int64_t)outs[tag].len)
		abort(); /* more than was asked */
	outs[tag].busy = false;
}

/* Multishot requests run as one-shot steps: "more" completions come for
 * them only, and a buffer they name must be one the client took. */
#define NBUF 8
#define BUFSZ 256
static uint8_t buf_state[NBUF]; /* 0 free, 1 taken, 2 the program's */
static char pool_mem[NBUF][BUFSZ];

static void post(struct vos_transport_host *h, uint64_t tag, int64_t res,
		 uint32_t flags)
{
	if (!(flags & VOS_CQE_F_MORE)) {
		if (flags & VOS_CQE_F_BUFFER)
			abort(); /* a last completion names no buffer */
		complete(h, tag, res);
		return;
	}
	if (tag >= DEPTH || !outs[tag].busy ||
	    (outs[tag].op != VOS_OP_ACCEPT_MULTI &&
	     outs[tag].op != VOS_OP_RECV_MULTI))
		abort(); /* "more" for a request that is not multishot */
	if (flags & VOS_CQE_F_BUFFER) {
		unsigned bid = flags >> VOS_CQE_BUFFER_SHIFT;

		if (outs[tag].op != VOS_OP_RECV_MULTI || bid >= NBUF ||
		    buf_state[bid] != 1 || res < 0 || res > BUFSZ)
			abort(); /* a buffer it did not take, or overfilled */
		buf_state[bid] = 0; /* the program returns it at once */
	}
}

static int64_t buf_take(struct vos_transport_host *h, uint16_t group,
			void **buf, uint32_t *size)
{
	(void)h;
	if (group != 1)
		return -ENOBUFS;
	for (unsigned i = 0; i < NBUF; i++)
		if (buf_state[i] == 0) {
			buf_state[i] = 1;
			*buf = pool_mem[i];
			*size = BUFSZ;
			return i;
		}
	return -ENOBUFS;
}

static void buf_untake(struct vos_transport_host *h, uint16_t group,
		       uint32_t bid)
{
	(void)h;
	if (group != 1 || bid >= NBUF || buf_state[bid] != 1)
		abort(); /* gave back a buffer it did not take */
	buf_state[bid] = 0;
}

static uint8_t take8(const uint8_t **d, size_t *n)
{
	uint8_t v = 0;

	if (*n) {
		v = **d;
		(*d)++;
		(*n)--;
	}
	return v;
}

static uint32_t take32(const uint8_t **d, size_t *n)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v |= (uint32_t)take8(d, n) << (8 * i);
	return v;
}

static char bufs[DEPTH][SLOT + 64];
static char paths[DEPTH][64];

static void submit(void *rc, const uint8_t **d, size_t *n)
{
	struct vos_req r;
	uint32_t tag;
	uint8_t sel = take8(d, n);

	for (tag = 0; tag < DEPTH && outs[tag].busy; tag++)
		;
	if (tag == DEPTH)
		return;
	memset(&r, 0, sizeof(r));
	switch (sel % 7) {
	case 0:
		vos_prep_nop(&r);
		break;
	case 1:
		vos_prep_pread(&r, (1 << 20) | 3, bufs[tag],
			       take32(d, n) % (SLOT + 64), 0);
		break;
	case 2:
		vos_prep_write(&r, (1 << 20) | 3, bufs[tag],
			       take32(d, n) % (SLOT + 64));
		break;
	case 3:
		snprintf(paths[tag], sizeof(paths[tag]), "p%u", take8(d, n));
		vos_prep_openat(&r, AT_FDCWD, paths[tag], 0, 0);
		break;
	case 5:
		vos_prep_recv_multishot(&r, (1 << 20) | 3, take8(d, n) % 2,
					take32(d, n) % 512, 0);
		break;
	case 6:
		vos_prep_accept_multishot(&r, (1 << 20) | 3, 0);
		break;
	default:
		vos_prep_fcntl(&r, (1 << 20) | (take8(d, n) % 4), F_DUPFD, 0);
		break;
	}
	r.user_data = tag;
	outs[tag] = (struct out){ true, r.op, r.len };
	if (vos__rc_submit(rc, &r, 1) != 1)
		outs[tag].busy = false;
}

/* The service: take what is published, decode it, answer it. */
static void serve(const uint8_t **d, size_t *n)
{
	static struct vos__dreq q;
	struct vos_wire_req w;

	/* at most a ring's worth per pass, as a worker's batch bounds it */
	for (uint32_t k = 0; k < geom.entries && vos__rs_take(&srv_ring, &w);
	     k++) {
		if (vos__dreq_decode(&srv_ring.data, &w, &q) == 0)
			vos__dreq_write_back(&srv_ring.data, &q,
					     (int64_t)(int32_t)take32(d, n));
		vos__rs_post(&srv_ring, w.tag, (int64_t)(int32_t)take32(d, n));
	}
	vos__rs_consumed(&srv_ring);
	vos__rs_publish(&srv_ring);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	void *rc = NULL;

	if (efd < 0) {
		efd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK); /* always ready */
		if (!vos__geom_make(DEPTH, SLOT, &geom))
			abort();
		region = aligned_alloc(4096, (geom.size + 4095) & ~(uint64_t)4095);
	}
	memset(region, 0, geom.size);
	memset(outs, 0, sizeof(outs));
	peer_gone = false;
	vos__rs_init(&srv_ring, region, geom.size, &geom, 7);
	host = (struct vos_transport_host){ DEPTH, 0, "slot=4096", complete,
					    0, post, buf_take, buf_untake };
	memset(buf_state, 0, sizeof(buf_state));
	if (vos__rc_open(&host, &chan, &rc) < 0)
		abort();
	while (n) {
		switch (take8(&d, &n) % 8) {
		case 0: case 1:
			submit(rc, &d, &n);
			break;
		case 2:
			serve(&d, &n);
			break;
		case 3: { /* the peer writes anywhere */
			uint32_t off = take32(&d, &n) % geom.size;
			uint32_t len = take8(&d, &n) % 16;

			while (len-- && off < geom.size)
				region[off++] = take8(&d, &n);
			break;
		}
		case 4:
			vos__rc_reap(rc);
			break;
		case 5:
			vos__rc_expire(rc, take8(&d, &n) % (DEPTH + 2));
			break;
		case 6:
			if (vos__rc_sleep_fd(rc) >= 0)
				vos__rc_woke(rc);
			vos__rc_reap(rc);
			break;
		default:
			peer_gone = take8(&d, &n) % 4 == 0;
			vos__rc_wait(rc, 0);
			break;
		}
	}
	vos__rc_close(rc);
	return 0;
}
