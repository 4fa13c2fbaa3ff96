/*
 * bufpool.c - buffer pools for multishot recvs (vos_buf_pool_create() and
 * friends), kept by the core so that every transport of a context (the
 * local kernel's, a service's ring client, under the router) fills the
 * same buffers.
 *
 * A pool is count buffers of one size in one mapping, a stack of free ids
 * (the one freed last is taken first: warm in the cache), and a state per
 * buffer: FREE, TAKEN (a transport took it for a recv: host->buf_take)
 * or the PROGRAM's (a completion named it: VOS_CQE_F_BUFFER).  A
 * transport gives back a buffer it did not fill (host->buf_untake); the
 * program gives back the ones completions named (vos_buf_return).  Each
 * move is checked against the state, so that one buffer is never handed
 * out twice, whatever a caller or a transport does.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

enum { BUF_FREE = 0, BUF_TAKEN, BUF_PROGRAM };

struct vos__bufpool {
	uint16_t group;
	uint32_t count, size;
	uint32_t users;   /* multishot recvs of it in flight */
	char *base;
	size_t map_len;
	uint32_t *free;   /* stack of free ids */
	uint32_t nfree;
	uint8_t *state;   /* per id: BUF_* */
	struct vos__bufpool *next;
};

static struct vos__bufpool *find(const struct vos__impl *impl,
				 uint16_t group)
{
	for (struct vos__bufpool *p = impl->pools; p; p = p->next)
		if (p->group == group)
			return p;
	return NULL;
}

static void pool_free(struct vos__bufpool *p)
{
	if (p->base)
		munmap(p->base, p->map_len);
	free(p->free);
	free(p->state);
	free(p);
}

int vos_buf_pool_create(struct vos_ctx *ctx, uint16_t group, uint32_t count,
			uint32_t size, void **base)
{
	struct vos__impl *impl;
	struct vos__bufpool *p;
	long page = sysconf(_SC_PAGESIZE);
	int ret = vos__impl_get(ctx, &impl);

	if (ret < 0)
		return ret;
	if (!base || count == 0 || count > VOS_BUF_POOL_MAX || size == 0 ||
	    size > (16u << 20))
		return -EINVAL;
	if (find(impl, group))
		return -EEXIST;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->group = group;
	p->count = count;
	p->size = size;
	p->map_len = ((size_t)count * size + (size_t)page - 1) &
		     ~((size_t)page - 1);
	p->base = mmap(NULL, p->map_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p->base == MAP_FAILED)
		p->base = NULL;
	p->free = calloc(count, sizeof(*p->free));
	p->state = calloc(count, 1);
	if (!p->base || !p->free || !p->state) {
		pool_free(p);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < count; i++) /* id 0 on top */
		p->free[i] = count - 1 - i;
	p->nfree = count;
	p->next = impl->pools;
	impl->pools = p;
	*base = p->base;
	return 0;
}

int vos_buf_return(struct vos_ctx *ctx, uint16_t group, uint32_t bid)
{
	struct vos__impl *impl;
	struct vos__bufpool *p;
	int ret = vos__impl_get(ctx, &impl);

	if (ret < 0)
		return ret;
	p = find(impl, group);
	if (!p)
		return -ENOENT;
	if (bid >= p->count || p->state[bid] != BUF_PROGRAM)
		return -EINVAL; /* not one the program holds */
	p->state[bid] = BUF_FREE;
	p->free[p->nfree++] = bid;
	return 0;
}

int vos_buf_pool_destroy(struct vos_ctx *ctx, uint16_t group)
{
	struct vos__impl *impl;
	struct vos__bufpool **pp;
	int ret = vos__impl_get(ctx, &impl);

	if (ret < 0)
		return ret;
	for (pp = &impl->pools; *pp; pp = &(*pp)->next) {
		struct vos__bufpool *p = *pp;

		if (p->group != group)
			continue;
		if (p->users)
			return -EBUSY;
		*pp = p->next;
		pool_free(p);
		return 0;
	}
	return -ENOENT;
}

/* ---- the core's side ------------------------------------------------------ */

int64_t vos__buf_take(struct vos_transport_host *host, uint16_t group,
		      void **buf, uint32_t *size)
{
	struct vos__impl *impl = vos__container_of(host, struct vos__impl, host);
	struct vos__bufpool *p = find(impl, group);
	uint32_t bid;

	if (!p || !p->nfree)
		return -ENOBUFS;
	bid = p->free[--p->nfree];
	p->state[bid] = BUF_TAKEN;
	*buf = p->base + (size_t)bid * p->size;
	*size = p->size;
	return bid;
}

void vos__buf_untake(struct vos_transport_host *host, uint16_t group,
		     uint32_t bid)
{
	struct vos__impl *impl = vos__container_of(host, struct vos__impl, host);
	struct vos__bufpool *p = find(impl, group);

	if (!p || bid >= p->count || p->state[bid] != BUF_TAKEN) {
		impl->bad_completions++; /* a transport's mistake */
		return;
	}
	p->state[bid] = BUF_FREE;
	p->free[p->nfree++] = bid;
}

bool vos__buf_hand_out(struct vos__impl *impl, uint16_t group, uint32_t bid)
{
	struct vos__bufpool *p = find(impl, group);

	if (!p || bid >= p->count || p->state[bid] != BUF_TAKEN)
		return false;
	p->state[bid] = BUF_PROGRAM;
	return true;
}

bool vos__buf_exists(const struct vos__impl *impl, uint16_t group)
{
	return find(impl, group) != NULL;
}

bool vos__buf_use(struct vos__impl *impl, uint16_t group, int delta)
{
	struct vos__bufpool *p = find(impl, group);

	if (!p)
		return false;
	p->users = (uint32_t)((int)p->users + delta);
	return true;
}

void vos__bufs_after_fork(struct vos__impl *impl)
{
	/* the parent's recvs are not ours: what they had taken is free
	 * (buffers the program held stay its own) */
	for (struct vos__bufpool *p = impl->pools; p; p = p->next) {
		p->users = 0;
		for (uint32_t i = 0; i < p->count; i++)
			if (p->state[i] == BUF_TAKEN) {
				p->state[i] = BUF_FREE;
				p->free[p->nfree++] = i;
			}
	}
}

void vos__bufs_free(struct vos__impl *impl)
{
	while (impl->pools) {
		struct vos__bufpool *p = impl->pools;

		impl->pools = p->next;
		pool_free(p);
	}
}
