/*
 * check_ring.c - the ring protocol's ordering (doc/protocol.md, section 8;
 * libvirtuos/wire/peer_mem.h), two ways:
 *
 *  1. handshake_model: every interleaving of the sleep handshake on a
 *     machine with store buffers (x86-TSO: a store waits in its CPU's
 *     buffer until it drains, in order, at any moment; a fence drains
 *     it; a load sees its own buffer first).  A publisher puts entries
 *     and looks at the sleeper's NEED_WAKEUP; a sleeper takes entries,
 *     sets NEED_WAKEUP, looks once more and sleeps until rung.  The
 *     search proves that no entry is left unseen by a sleeper nobody will
 *     ring; and, so that the test could fail, that it finds exactly that
 *     lost wake-up when either side's fence is left out.
 *
 *  2. two_threads: the real ring client (ring_client.c) and the real ring
 *     server (ring_server.h) on one region in two threads, with pipes for
 *     doorbells; both sides sleep and wake for real, the server often
 *     (a short spin), through wrap-arounds of an 8-entry ring.  Every
 *     request completes exactly once with the result the server gave it;
 *     a wait that lasts a second, or a server sleep that ends by its
 *     bound with a request waiting, is a lost wake-up and fails the test
 *     (a path that puts entries and never rings, say).  A missing fence
 *     leaves a window of nanoseconds on x86 that this rarely hits (three
 *     runs without the publisher's fence passed): that is what the model
 *     above is for.  Under ThreadSanitizer
 *     (the CI's TSan run) this also checks that every byte of an entry is
 *     read after the sequence word that publishes it (peer_mem.h's copies
 *     go through libc's memcpy there, so that it sees them: with the
 *     release store of vos__peer_put made relaxed, it reports the race).
 */
#define _GNU_SOURCE
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <virtuos/transport.h>

#include "layout.h"
#include "ring_client.h"
#include "ring_server.h"

/* ==== 1. the handshake, exhaustively, under TSO ========================= */

/* Shared words: SEQ0, SEQ1 (entries 0 and 1's sequence words), FLAG (the
 * sleeper's NEED_WAKEUP).  Each CPU's store buffer holds at most 3
 * stores. */
enum { SEQ0, SEQ1, FLAG, NWORDS };
#define SB_MAX 3
#define ENTRIES 2

struct cpu {
	uint8_t pc;
	uint8_t nsb;
	uint8_t sb_word[SB_MAX], sb_val[SB_MAX];
	uint8_t reg; /* what the last load saw */
};

struct state {
	uint8_t mem[NWORDS];
	struct cpu p, s;  /* publisher, sleeper */
	uint8_t published; /* entries the publisher has put */
	uint8_t taken;     /* entries the sleeper has taken */
	uint8_t kicks;     /* doorbell bytes not yet consumed */
	uint8_t asleep;
};

static bool fence_pub = true, fence_sleep = true;
static int pub_batch = 1; /* entries put between two fences */
static unsigned long states_seen, lost_found;

static uint8_t cpu_load(const struct state *st, const struct cpu *c, int w)
{
	for (int i = c->nsb - 1; i >= 0; i--) /* its own newest store */
		if (c->sb_word[i] == w)
			return c->sb_val[i];
	return st->mem[w];
}

static void cpu_store(struct cpu *c, int w, uint8_t v)
{
	c->sb_word[c->nsb] = (uint8_t)w;
	c->sb_val[c->nsb] = v;
	c->nsb++;
}

static void cpu_drain_one(struct state *st, struct cpu *c)
{
	st->mem[c->sb_word[0]] = c->sb_val[0];
	memmove(c->sb_word, c->sb_word + 1, SB_MAX - 1);
	memmove(c->sb_val, c->sb_val + 1, SB_MAX - 1);
	c->nsb--;
}

/*
 * The publisher, per batch of pub_batch entries (as ring_client.c's
 * sq_put ... publish_requests, and ring_server.h's cq_put ... publish):
 *   0: store SEQ_i          (vos__peer_put: the body, then the word);
 *      again while the batch has entries to put
 *   1: fence                (vos__peer_fence)
 *   2: load FLAG            (vos__peer_load)
 *   3: if FLAG: ring        (chan->notify)
 * Returns false if the step cannot run now (a fence with stores pending).
 */
static bool pub_step(struct state *st)
{
	struct cpu *c = &st->p;

	switch (c->pc) {
	case 0:
		if (st->published == ENTRIES || c->nsb == SB_MAX)
			return false;
		cpu_store(c, SEQ0 + st->published, 1);
		st->published++;
		if (st->published % pub_batch && st->published < ENTRIES)
			return true; /* the rest of the batch first */
		c->pc = fence_pub ? 1 : 2;
		return true;
	case 1:
		if (c->nsb)
			return false; /* the fence waits for the drain */
		c->pc = 2;
		return true;
	case 2:
		c->reg = cpu_load(st, c, FLAG);
		c->pc = 3;
		return true;
	default:
		if (c->reg && st->kicks < 2)
			st->kicks++;
		c->pc = 0;
		return true;
	}
}

/*
 * The sleeper (ring_server.h's sleep_begin/has_requests, worker.c's
 * sleep_now; ring_client.c's vos__rc_sleep_fd/woke):
 *   0: load SEQ_taken: there -> take it (stay at 0); else go on
 *   1: store FLAG = 1       (vos__peer_set_flag: a relaxed fetch_or;
 *                           on x86 a locked instruction, which drains the
 *                           store buffer by itself, but C11 promises no
 *                           order for it: the model takes a plain store,
 *                           what C11 allows and weaker machines do)
 *   2: fence                (vos__peer_fence)
 *   3: load SEQ_taken       (vos__peer_ready)
 *   4: there -> store FLAG = 0, back to 0; else sleep (5)
 *   5: asleep: a kick wakes it (consumed), store FLAG = 0, back to 0
 */
static bool sleep_step(struct state *st)
{
	struct cpu *c = &st->s;

	if (st->taken == ENTRIES)
		return false;
	switch (c->pc) {
	case 0:
		if (cpu_load(st, c, SEQ0 + st->taken))
			st->taken++;
		else
			c->pc = 1;
		return true;
	case 1:
		if (c->nsb == SB_MAX)
			return false;
		cpu_store(c, FLAG, 1);
		c->pc = fence_sleep ? 2 : 3;
		return true;
	case 2:
		if (c->nsb)
			return false;
		c->pc = 3;
		return true;
	case 3:
		c->reg = cpu_load(st, c, SEQ0 + st->taken);
		c->pc = 4;
		return true;
	case 4:
		if (c->reg) {
			if (c->nsb == SB_MAX)
				return false;
			cpu_store(c, FLAG, 0);
			c->pc = 0;
		} else {
			st->asleep = 1;
			c->pc = 5;
		}
		return true;
	default:
		if (!st->kicks || c->nsb == SB_MAX)
			return false;
		st->kicks--;
		st->asleep = 0;
		cpu_store(c, FLAG, 0);
		c->pc = 0;
		return true;
	}
}

/* States seen: an open-addressing set of their bytes (the struct is all
 * uint8_t: no padding). */
#define SEEN_BITS 20
static struct state *seen_tab;
static uint8_t *seen_used;

static bool seen_add(const struct state *st)
{
	uint64_t h = 1469598103934665603ull;
	const uint8_t *b = (const uint8_t *)st;

	for (size_t i = 0; i < sizeof(*st); i++)
		h = (h ^ b[i]) * 1099511628211ull;
	for (size_t i = h & ((1u << SEEN_BITS) - 1);;
	     i = (i + 1) & ((1u << SEEN_BITS) - 1)) {
		if (!seen_used[i]) {
			seen_used[i] = 1;
			seen_tab[i] = *st;
			states_seen++;
			ck_assert_uint_lt(states_seen, (1u << SEEN_BITS) / 2);
			return true;
		}
		if (!memcmp(&seen_tab[i], st, sizeof(*st)))
			return false;
	}
}

/* Depth-first over every interleaving of steps and store-buffer drains
 * (each state once).
 * A final state (nothing can move) with an entry not taken is the lost
 * wake-up: the sleeper sleeps, the publisher is done, nobody rings. */
static void explore(const struct state *st, int depth)
{
	bool moved = false;
	struct state n;

	ck_assert_int_lt(depth, 1000); /* the model is finite */
	for (int a = 0; a < 4; a++) {
		n = *st;
		switch (a) {
		case 0: if (!pub_step(&n)) continue; break;
		case 1: if (!sleep_step(&n)) continue; break;
		case 2: if (!n.p.nsb) continue; cpu_drain_one(&n, &n.p); break;
		default: if (!n.s.nsb) continue; cpu_drain_one(&n, &n.s); break;
		}
		moved = true;
		if (seen_add(&n))
			explore(&n, depth + 1);
	}
	if (!moved && st->taken < ENTRIES)
		lost_found++;
}

static unsigned long search(bool fp, bool fs, int batch)
{
	struct state st;

	memset(&st, 0, sizeof(st));
	fence_pub = fp;
	fence_sleep = fs;
	pub_batch = batch;
	states_seen = lost_found = 0;
	if (!seen_tab) {
		seen_tab = calloc(1u << SEEN_BITS, sizeof(*seen_tab));
		seen_used = calloc(1u << SEEN_BITS, 1);
		ck_assert(seen_tab && seen_used);
	}
	memset(seen_used, 0, 1u << SEEN_BITS);
	seen_add(&st);
	explore(&st, 0);
	return lost_found;
}

START_TEST(handshake_model)
{
	unsigned long both, seen, batched, seen2, no_pub, no_sleep;

	both = search(true, true, 1);
	seen = states_seen;
	batched = search(true, true, ENTRIES); /* one fence for both */
	seen2 = states_seen;
	no_pub = search(false, true, 1);
	no_sleep = search(true, false, 1);
	ck_assert_msg(both == 0, "%lu final states lose a wake-up", both);
	ck_assert_msg(batched == 0, "%lu final states lose a wake-up with "
		      "one fence per batch", batched);
	/* the search can fail: without either fence it finds the loss */
	ck_assert_msg(no_pub > 0, "no loss found without the publisher's fence");
	ck_assert_msg(no_sleep > 0, "no loss found without the sleeper's fence");
	printf("handshake_model: %lu states (two entries, a fence after each; "
	       "store buffers of 3) and %lu (one fence for the batch of two): "
	       "no lost wake-up with both sides' fences; without the "
	       "publisher's fence %lu final states lose one, without the "
	       "sleeper's %lu\n", seen, seen2, no_pub, no_sleep);
}
END_TEST

/* ==== 2. the real ring client and server, two threads =================== */

#define DEPTH 8
#define SLOT 4096

static struct vos__geom geom;
static uint8_t *region;
static int to_srv[2], to_cli[2]; /* doorbells: pipes, non-blocking */
static atomic_bool srv_stop, srv_lost;
static atomic_long srv_sleeps, srv_kicks, cli_kicks;

static void ring_bell(int fd)
{
	char one = 1;

	if (write(fd, &one, 1) < 0) {
		/* full: rung already */
	}
}

static void drain_bell(int fd)
{
	char b[64];

	while (read(fd, b, sizeof(b)) > 0)
		;
}

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
static void ch_notify(void *ch)
{
	(void)ch;
	atomic_fetch_add(&cli_kicks, 1);
	ring_bell(to_srv[1]);
}
static int ch_wait_fd(void *ch) { (void)ch; return to_cli[0]; }
static int ch_drain(void *ch)
{
	(void)ch;
	drain_bell(to_cli[0]);
	return 0;
}
static void ch_detach(void *ch, bool tell) { (void)ch; (void)tell; }
static void ch_destroy(void *ch) { (void)ch; }
static const char *ch_where(void *ch) { (void)ch; return "check_ring"; }

/* (no buffer areas: vos_buf_alloc gives ordinary memory) */
static const struct vos__chan_client chan = {
	.name = "test", .create = ch_create, .option = ch_option,
	.ready = ch_ready, .attach = ch_attach, .notify = ch_notify,
	.wait_fd = ch_wait_fd, .drain = ch_drain, .detach = ch_detach,
	.destroy = ch_destroy, .where = ch_where,
};

static uint32_t done_count[DEPTH];
static int64_t last_res[DEPTH];
static bool busy[DEPTH];

static void complete(struct vos_transport_host *h, uint64_t tag, int64_t res)
{
	(void)h;
	ck_assert_uint_lt(tag, DEPTH);
	ck_assert_msg(busy[tag], "tag %llu completed twice",
		      (unsigned long long)tag);
	busy[tag] = false;
	done_count[tag]++;
	last_res[tag] = res;
}

static void post(struct vos_transport_host *h, uint64_t tag, int64_t res,
		 uint32_t flags)
{
	ck_assert_uint_eq(flags, 0);
	complete(h, tag, res);
}

static uint64_t xs(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The server: take, answer (a NOP's result here is its arg, so each
 * answer is checkable), publish, ring if the client sleeps; after a short spin,
 * sleep with the handshake, bounded. */
static void *server(void *arg)
{
	struct vos__rs *rs = arg;
	uint64_t rng = 12345;

	while (!atomic_load(&srv_stop)) {
		struct vos_wire_req w;
		unsigned n = 0;

		while (vos__rs_take(rs, &w)) {
			while (!vos__rs_post(rs, w.tag, (int64_t)w.arg))
				; /* the client reaps: room comes */
			n++;
		}
		vos__rs_consumed(rs);
		if (vos__rs_publish(rs)) {
			atomic_fetch_add(&srv_kicks, 1);
			ring_bell(to_cli[1]);
		}
		if (n || xs(&rng) % 16)
			continue; /* (a spin of some passes) */
		vos__rs_sleep_begin(rs);
		vos__peer_fence();
		if (!vos__rs_has_requests(rs) && !atomic_load(&srv_stop)) {
			struct pollfd p = { to_srv[0], POLLIN, 0 };

			atomic_fetch_add(&srv_sleeps, 1);
			/* bounded; a sleep that ends by its bound with a
			 * request waiting was a lost wake-up */
			if (poll(&p, 1, 2000) == 0 && vos__rs_has_requests(rs))
				atomic_store(&srv_lost, true);
			drain_bell(to_srv[0]);
		}
		vos__rs_sleep_end(rs);
	}
	return NULL;
}

/* The region (zeroed, as a service makes it), the doorbells, the server
 * end on them; ring_down() undoes it. */
static void ring_up(struct vos__rs *rs)
{
	ck_assert(vos__geom_make(DEPTH, SLOT, &geom));
	region = aligned_alloc(4096, (geom.size + 4095) & ~(uint64_t)4095);
	ck_assert_ptr_nonnull(region);
	memset(region, 0, geom.size);
	ck_assert_int_eq(pipe2(to_srv, O_NONBLOCK | O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(to_cli, O_NONBLOCK | O_CLOEXEC), 0);
	ck_assert_int_eq(vos__rs_init(rs, region, geom.size, &geom, 7), 0);
}

static void ring_down(void)
{
	free(region);
	close(to_srv[0]);
	close(to_srv[1]);
	close(to_cli[0]);
	close(to_cli[1]);
}

START_TEST(two_threads)
{
	enum { TOTAL = 60000 };
	struct vos_transport_host host = { DEPTH, 0, "slot=4096", complete, 0,
					   post, NULL, NULL };
	struct vos__rs rs;
	pthread_t t;
	void *rc;
	uint64_t rng = 99, sent = 0, got = 0, cli_sleeps = 0;
	uint64_t expect[DEPTH];
	struct timespec t0, t1;

	ring_up(&rs);
	ck_assert_int_eq(vos__rc_open(&host, &chan, &rc), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, server, &rs), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (got < TOTAL) {
		struct vos_req r[DEPTH];
		unsigned n = 0, want = 1 + (unsigned)(xs(&rng) % DEPTH);
		int ret;

		for (uint32_t tag = 0; tag < DEPTH && n < want &&
		     sent < TOTAL; tag++) {
			if (busy[tag])
				continue;
			memset(&r[n], 0, sizeof(r[n]));
			r[n].op = VOS_OP_NOP;
			r[n].fd = -1;
			r[n].arg = xs(&rng) & 0xffffff; /* the server's answer */
			r[n].user_data = tag;
			expect[tag] = r[n].arg;
			busy[tag] = true;
			n++;
			sent++;
		}
		if (n) {
			ret = vos__rc_submit(rc, r, n);
			ck_assert_int_eq(ret, (int)n);
		}
		/* reap: sometimes spin a little, sometimes sleep at once */
		for (unsigned spin = (unsigned)(xs(&rng) % 64); spin; spin--)
			if (vos__rc_reap(rc) > 0)
				break;
		{
			struct timespec w0, w1;
			double waited;

			clock_gettime(CLOCK_MONOTONIC, &w0);
			ret = vos__rc_wait(rc, 2000000000LL);
			clock_gettime(CLOCK_MONOTONIC, &w1);
			waited = (double)(w1.tv_sec - w0.tv_sec) +
				 (double)(w1.tv_nsec - w0.tv_nsec) / 1e9;
			/* a wake-up takes microseconds; a wait that lasts
			 * a second was not woken (whether or not the
			 * completion was there at its end) */
			ck_assert_msg(waited < 1.0, "a wait of %.2f s: a lost "
				      "wake-up (%llu of %d done)", waited,
				      (unsigned long long)got, TOTAL);
		}
		ck_assert_msg(!atomic_load(&srv_lost), "the server slept "
			      "through a request: a lost wake-up");
		if (ret > 0)
			cli_sleeps++; /* (woken or found at the last look) */
		got = 0;
		for (int i = 0; i < DEPTH; i++)
			got += done_count[i];
		for (int tag = 0; tag < DEPTH; tag++)
			if (!busy[tag] && done_count[tag] &&
			    last_res[tag] != (int64_t)expect[tag])
				ck_abort_msg("tag %d: result %lld, sent %llu",
					     tag, (long long)last_res[tag],
					     (unsigned long long)expect[tag]);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	atomic_store(&srv_stop, true);
	ring_bell(to_srv[1]);
	pthread_join(t, NULL);
	vos__rc_close(rc);
	{
		uint64_t all = 0;

		for (int i = 0; i < DEPTH; i++)
			all += done_count[i];
		ck_assert_uint_eq(all, TOTAL);
	}
	printf("two_threads: %d requests through an %d-entry ring (%d laps), "
	       "each completed once with its own result in %.2f s; the "
	       "server slept %ld times, the client waited %llu times; kicks "
	       "client->server %ld, server->client %ld\n", TOTAL, DEPTH,
	       TOTAL / DEPTH, (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       atomic_load(&srv_sleeps), (unsigned long long)cli_sleeps,
	       atomic_load(&cli_kicks), atomic_load(&srv_kicks));
	ring_down();
}
END_TEST

/* A full ring: the client has a request in every entry.  The service
 * takes them all and answers one, without anything else: the client, seeing
 * that completion, reuses its tag at once, and its entry must be free
 * (the service gives its head back before it posts: ring_server.h). */
START_TEST(head_before_completion)
{
	struct vos_transport_host host = { DEPTH, 0, "slot=4096", complete, 0,
					   post, NULL, NULL };
	struct vos__rs rs;
	struct vos_req r[DEPTH];
	struct vos_wire_req w;
	void *rc;

	memset(busy, 0, sizeof(busy));
	memset(done_count, 0, sizeof(done_count));
	ring_up(&rs);
	ck_assert_int_eq(vos__rc_open(&host, &chan, &rc), 0);
	for (int lap = 0; lap < 3 * DEPTH; lap++) {
		unsigned n = lap == 0 ? DEPTH : 1;

		for (unsigned i = 0; i < n; i++) {
			uint32_t tag = lap == 0 ? i : (uint32_t)(lap - 1) % DEPTH;

			memset(&r[i], 0, sizeof(r[i]));
			r[i].op = VOS_OP_NOP;
			r[i].fd = -1;
			r[i].arg = (uint64_t)lap;
			r[i].user_data = tag;
			busy[tag] = true;
		}
		/* every entry holds a request now (after the first lap, the
		 * one answered last was reused) */
		ck_assert_int_eq(vos__rc_submit(rc, r, n), (int)n);
		while (vos__rs_take(&rs, &w))
			;
		/* answer the oldest request only: no vos__rs_consumed() */
		ck_assert(vos__rs_post(&rs, (uint32_t)lap % DEPTH, 0));
		ck_assert_int_eq(vos__rc_reap(rc), 1);
	}
	vos__rc_close(rc);
	ring_down();
}
END_TEST

/* Ops the protocol does not carry (pipe2, socketpair: files of the local
 * kernel; dup3: the router sends it as F_DUPFD) are answered by the client itself, EOPNOTSUPP, and spend no
 * ring entry: the service sees nothing, and a request after them goes
 * through as usual. */
START_TEST(nowire_refused)
{
	struct vos_transport_host host = { DEPTH, 0, "slot=4096", complete, 0,
					   post, NULL, NULL };
	static const enum vos_op ops[] = { VOS_OP_PIPE2, VOS_OP_SOCKETPAIR,
					   VOS_OP_DUP3 };
	struct vos__rs rs;
	struct vos_req r[4];
	struct vos_wire_req w;
	int fds[2] = { -1, -1 };
	void *rc;

	memset(busy, 0, sizeof(busy));
	memset(done_count, 0, sizeof(done_count));
	ring_up(&rs);
	ck_assert_int_eq(vos__rc_open(&host, &chan, &rc), 0);
	for (unsigned i = 0; i < 4; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].op = i < 3 ? ops[i] : VOS_OP_NOP;
		r[i].fd = -1;
		r[i].addr = (uint64_t)(uintptr_t)fds;
		r[i].arg = 77;
		r[i].user_data = i;
		busy[i] = true;
	}
	ck_assert_int_eq(vos__rc_submit(rc, r, 4), 4);
	for (unsigned i = 0; i < 3; i++) {
		ck_assert_uint_eq(done_count[i], 1);
		ck_assert_int_eq(last_res[i], -EOPNOTSUPP);
	}
	ck_assert_int_eq(fds[0], -1); /* nothing written to the caller */
	ck_assert(vos__rs_take(&rs, &w));
	ck_assert_uint_eq(w.op, VOS_OP_NOP); /* the only request sent */
	ck_assert_uint_eq(w.tag, 3);
	ck_assert(!vos__rs_take(&rs, &w));
	ck_assert(vos__rs_post(&rs, 3, 77));
	vos__rs_consumed(&rs);
	vos__rs_publish(&rs);
	ck_assert_int_eq(vos__rc_reap(rc), 1);
	ck_assert_int_eq(last_res[3], 77);
	vos__rc_close(rc);
	ring_down();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ring");
	TCase *tc = tcase_create("ring");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, handshake_model);
	tcase_add_test(tc, two_threads);
	tcase_add_test(tc, head_before_completion);
	tcase_add_test(tc, nowire_refused);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
