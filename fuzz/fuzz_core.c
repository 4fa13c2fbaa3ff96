/*
 * fuzz_core.c - libFuzzer target: the core's bookkeeping against an
 * arbitrary application and a hostile transport.
 *
 * The input is a script.  Each step picks one of: submit a batch of
 * arbitrary 64-byte requests; have the transport complete an arbitrary tag
 * (in flight or not, in range or not) with an arbitrary result; complete
 * a tag it really holds; vos_wait with arbitrary max/min; cancel an
 * arbitrary user_data; run a blocking wrapper.  This is the boundary a
 * shared-memory transport will feed with whatever the far side writes.
 *
 * Invariants checked (abort() on violation, which libFuzzer reports):
 *   - every completion the application receives carries the user_data of
 *     a request it submitted and has not yet seen completed;
 *   - vos_submit takes at most what it was offered, and -EBUSY only when
 *     queue_depth requests are outstanding or the first is a chain
 *     (VOS_REQ_LINK) that does not fit;
 *   - a completion with VOS_CQE_F_MORE (the transport's post()) reaches
 *     the application only for a multishot request still in flight;
 *   - every request that reaches the transport is valid (op in range,
 *     reserved fields zero, tag below the queue depth);
 *   - once the transport has completed everything it was given, every
 *     request the core accepted has completed exactly once.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <virtuos/transport.h>
#include <virtuos/virtuos.h>

#define DEPTH 8
#define MAX_SUBMITTED 4096
/* tags the transport was given and has not completed itself: a tag the
 * script completed "by hand" (arbitrary tag) stays here, stale */
#define MAX_HELD 16384

/* ---- the hostile transport ---------------------------------------------- */

struct fz {
	struct vos_transport_host *host;
	uint64_t held[MAX_HELD];
	unsigned nheld;
};

static struct fz *current;

static int fz_open(struct vos_transport_host *host, void **priv)
{
	struct fz *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->host = host;
	current = f;
	*priv = f;
	return 0;
}

static int fz_submit(void *priv, const struct vos_req *reqs, unsigned n)
{
	struct fz *f = priv;

	for (unsigned i = 0; i < n; i++) {
		const struct vos_req *r = &reqs[i];

		if (r->op >= VOS_OP__COUNT || r->flags || r->reserved ||
		    r->user_data >= DEPTH)
			abort(); /* the core let an invalid request through */
		if (f->nheld == MAX_HELD)
			return (int)i; /* "full": the core must cope */
		f->held[f->nheld++] = r->user_data;
	}
	return (int)n;
}

static int fz_reap(void *priv)
{
	(void)priv;
	return 0;
}

/* Blocking calls need progress: complete the oldest held tag, or fail
 * (never block: the fuzzer must not hang). */
static int fz_wait(void *priv, int64_t timeout_ns)
{
	struct fz *f = priv;
	uint64_t tag;

	(void)timeout_ns;
	if (f->nheld == 0)
		return -EIO;
	tag = f->held[0];
	memmove(f->held, f->held + 1, --f->nheld * sizeof(f->held[0]));
	f->host->complete(f->host, tag, 0);
	return 1;
}

static void fz_close(void *priv)
{
	free(priv);
	current = NULL;
}

static const struct vos_transport_ops fz_ops = {
	.abi = VOS_TRANSPORT_ABI,
	.name = "fuzz",
	.open = fz_open,
	.submit = fz_submit,
	.reap = fz_reap,
	.wait = fz_wait,
	.close = fz_close,
};

/* ---- the application's view --------------------------------------------- */

static uint64_t outstanding_ud[MAX_SUBMITTED];
static unsigned n_outstanding;

/* A completion with VOS_CQE_F_MORE leaves its request outstanding (a
 * multishot request's). */
static void expect_completion(uint64_t ud, uint32_t flags)
{
	for (unsigned i = 0; i < n_outstanding; i++) {
		if (outstanding_ud[i] == ud) {
			if (!(flags & VOS_CQE_F_MORE))
				outstanding_ud[i] =
					outstanding_ud[--n_outstanding];
			return;
		}
	}
	abort(); /* a completion for nothing we submitted, or twice */
}

struct input {
	const uint8_t *p;
	size_t left;
};

static int take(struct input *in, void *out, size_t n)
{
	if (in->left < n)
		return 0;
	memcpy(out, in->p, n);
	in->p += n;
	in->left -= n;
	return 1;
}

/* Take completions; returns how many. */
static int drain(struct vos_ctx *ctx, unsigned max, unsigned min)
{
	struct vos_cqe c[DEPTH * 2];
	int n;

	if (max == 0 || max > DEPTH * 2)
		max = DEPTH * 2;
	if (min > max)
		min = max;
	n = vos_wait(ctx, c, max, min, 0);
	if (n > (int)max)
		abort();
	for (int i = 0; i < n; i++)
		expect_completion(c[i].user_data, c[i].flags);
	return n > 0 ? n : 0;
}

/* The program's memory the requests point into: bytes of the script,
 * large enough for the longest read the core makes from a pointer (an
 * iovec array of VOS_IOV_MAX, a page of struct open_how) past any
 * offset, and a NUL at its end for paths. */
static uint8_t memory[4096 + 1024 * 16 + 8192];

/* A request's pointer field as the fuzzed program passes it: NULL, into
 * its memory, or an unmapped page. */
static uint64_t program_ptr(uint64_t x)
{
	if (!x)
		return 0;
	if (x & 1)
		return (uint64_t)(uintptr_t)(memory + (x >> 1) % 4096);
	return 4096;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int registered;
	struct input in = { data, size };
	struct vos_config cfg;
	struct vos_ctx *ctx;
	uint64_t next_ud = 0;
	bool deadlines = false; /* a request with a deadline was taken */
	bool multis = false;    /* a multishot request was taken */
	uint8_t step;
	static struct timespec times[2];

	if (!registered) {
		if (vos_transport_register(&fz_ops) != 0)
			abort();
		registered = 1;
	}
	vos_config_init(&cfg);
	cfg.transport = "fuzz";
	cfg.queue_depth = DEPTH;
	cfg.spin_ns = 0;
	if (vos_ctx_create(&cfg, &ctx) != 0)
		abort();
	n_outstanding = 0;

	while (take(&in, &step, 1)) {
		switch (step % 7) {
		case 0: { /* submit a batch of arbitrary requests */
			struct vos_req reqs[DEPTH + 4];
			uint8_t k;
			bool chain;
			int ret;

			if (!take(&in, &k, 1))
				break;
			/* some of the program's memory, from the script */
			(void)take(&in, memory, 64);
			memory[sizeof(memory) - 1] = 0;
			k = (uint8_t)(k % (DEPTH + 4) + 1);
			for (unsigned i = 0; i < k; i++) {
				if (!take(&in, &reqs[i], sizeof(reqs[i])))
					memset(&reqs[i], 0, sizeof(reqs[i]));
				/* distinct user_data, so completions can be
				 * matched exactly; cancels keep their target */
				reqs[i].user_data = next_ud++;
				/* the core reads the program's memory at
				 * some pointers (a utimensat's times, an
				 * openat2's struct, a chain's iovecs): the
				 * program's own memory (the script's bytes),
				 * or an unmapped page (-EFAULT, the guarded
				 * copy); never a wild pointer into freed heap
				 * or the sanitizer's shadow, which the copy's
				 * report to ASan would call the program's
				 * bug */
				reqs[i].addr = program_ptr(reqs[i].addr);
				reqs[i].addr2 = program_ptr(reqs[i].addr2);
				if (reqs[i].op == VOS_OP_UTIMENSAT &&
				    reqs[i].addr2 && reqs[i].addr2 != 4096)
					reqs[i].addr2 =
						(uint64_t)(uintptr_t)times;
			}
			ret = vos_submit(ctx, reqs, k);
			if (ret > (int)k)
				abort();
			chain = k > 1 && (reqs[0].flags & VOS_REQ_LINK);
			/* busy with room to spare; except that the core's
			 * cancel of a request past its deadline holds a slot
			 * until the transport answers it (vos_submit(3)), and
			 * a chain is taken whole or not at all */
			if (ret == -EBUSY && n_outstanding < DEPTH &&
			    !deadlines && !chain && !multis)
				abort();
			/* -EINVAL: a first chain longer than the depth */
			if (ret < 0 && ret != -EBUSY &&
			    !(ret == -EINVAL && chain))
				abort();
			for (unsigned i = 0; i < k && i < (unsigned)ret; i++) {
				deadlines |= reqs[i].deadline_ms != 0;
				/* its "more" completions take places in the
				 * queue until returned */
				multis |= reqs[i].op == VOS_OP_ACCEPT_MULTI ||
					  reqs[i].op == VOS_OP_RECV_MULTI;
			}
			for (int i = 0; i < ret; i++)
				outstanding_ud[n_outstanding++] =
					reqs[i].user_data;
			if (n_outstanding > DEPTH)
				abort(); /* more outstanding than the depth */
			break;
		}
		case 1: { /* the transport completes an arbitrary tag */
			uint64_t tag;
			int64_t res;

			if (!take(&in, &tag, sizeof(tag)) ||
			    !take(&in, &res, sizeof(res)))
				break;
			current->host->complete(current->host, tag, res);
			break;
		}
		case 2: { /* the transport completes a tag it holds */
			uint8_t b;
			unsigned i;

			if (!take(&in, &b, 1) || current->nheld == 0)
				break;
			i = b % current->nheld;
			current->host->complete(current->host,
						current->held[i], b);
			current->held[i] = current->held[--current->nheld];
			break;
		}
		case 3: { /* collect */
			uint8_t mm[2];

			if (!take(&in, mm, 2))
				break;
			drain(ctx, mm[0] % (DEPTH * 2 + 1), mm[1] % (DEPTH + 1));
			break;
		}
		case 4: { /* cancel something, maybe nothing */
			uint64_t target;
			int ret;

			if (!take(&in, &target, sizeof(target)))
				break;
			ret = vos_cancel(ctx, target % (next_ud + 2));
			if (ret > 0)
				abort();
			break;
		}
		case 5: /* a blocking wrapper */
			if (vos_nop(ctx) > 0)
				abort();
			break;
		case 6: { /* the transport posts "more" for a tag, any flags */
			uint8_t b[2];
			uint64_t tag;

			if (!take(&in, b, 2))
				break;
			tag = current->nheld && (b[0] & 1)
				      ? current->held[b[0] % current->nheld]
				      : b[0];
			current->host->post(current->host, tag, b[1],
					    VOS_CQE_F_MORE |
						    ((uint32_t)b[1] << 8));
			break;
		}
		}
	}
	/* the transport completes all it holds: every request accepted must
	 * then have completed, exactly once */
	for (;;) {
		/* (a drain may start a linked request whose predecessor the
		 * script completed by hand: the transport then holds it) */
		while (drain(ctx, DEPTH * 2, 0) > 0)
			; /* (multishot "more" completions may be many) */
		if (!current->nheld)
			break;
		fz_wait(current, 0);
	}
	if (n_outstanding != 0)
		abort(); /* an accepted request never completed */
	vos_ctx_destroy(ctx);
	return 0;
}
