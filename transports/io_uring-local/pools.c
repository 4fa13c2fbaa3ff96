/*
 * pools.c - buffer pools for multishot recvs (vos_buf_pool_create() and
 * friends): count buffers of one size in one mapping, a stack of free
 * buffer ids (the one freed last is taken first: it is warm in the
 * cache), and a bit per buffer saying it is the program's (a completion
 * named it and it was not returned yet), so that a return of a free or
 * foreign buffer is refused rather than handing one buffer out twice.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "local.h"

struct vos__bufpool {
	uint16_t group;
	uint32_t count, size;
	uint32_t users;  /* multishot recvs of it in flight */
	char *base;
	size_t map_len;
	uint32_t *free; /* stack of free ids */
	uint32_t nfree;
	uint64_t *owned; /* bit per id: the program's */
	struct vos__bufpool *next;
};

struct vos__bufpool *vos__pool_find(struct vos__local *l, uint16_t group)
{
	for (struct vos__bufpool *p = l->pools; p; p = p->next)
		if (p->group == group)
			return p;
	return NULL;
}

static void pool_free(struct vos__bufpool *p)
{
	if (p->base)
		munmap(p->base, p->map_len);
	free(p->free);
	free(p->owned);
	free(p);
}

int vos__pools_create(struct vos__local *l, uint16_t group, uint32_t count,
		      uint32_t size, void **base)
{
	struct vos__bufpool *p;
	long page = sysconf(_SC_PAGESIZE);

	if (vos__pool_find(l, group))
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
	p->owned = calloc((count + 63) / 64, sizeof(*p->owned));
	if (!p->base || !p->free || !p->owned) {
		pool_free(p);
		return -ENOMEM;
	}
	/* id 0 on top */
	for (uint32_t i = 0; i < count; i++)
		p->free[i] = count - 1 - i;
	p->nfree = count;
	p->next = l->pools;
	l->pools = p;
	*base = p->base;
	return 0;
}

int vos__pools_return(struct vos__local *l, uint16_t group, uint32_t bid)
{
	struct vos__bufpool *p = vos__pool_find(l, group);

	if (!p)
		return -ENOENT;
	if (bid >= p->count || !(p->owned[bid / 64] & (1ull << (bid % 64))))
		return -EINVAL; /* not one the program holds */
	p->owned[bid / 64] &= ~(1ull << (bid % 64));
	p->free[p->nfree++] = bid;
	return 0;
}

int vos__pools_destroy(struct vos__local *l, uint16_t group)
{
	struct vos__bufpool **pp;

	for (pp = &l->pools; *pp; pp = &(*pp)->next) {
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

void vos__pools_free(struct vos__local *l)
{
	while (l->pools) {
		struct vos__bufpool *p = l->pools;

		l->pools = p->next;
		pool_free(p);
	}
}

void vos__pools_after_fork(struct vos__local *l)
{
	for (struct vos__bufpool *p = l->pools; p; p = p->next)
		p->users = 0;
}

/* A free buffer for a recv (its address in *buf, its size in *size), or
 * -1 if none is free. */
int64_t vos__pool_take(struct vos__bufpool *p, void **buf, uint32_t *size)
{
	uint32_t bid;

	if (!p->nfree)
		return -1;
	bid = p->free[--p->nfree];
	*buf = p->base + (size_t)bid * p->size;
	*size = p->size;
	return bid;
}

/* Give back a buffer the recv did not fill (nothing came). */
void vos__pool_untake(struct vos__bufpool *p, uint32_t bid)
{
	p->free[p->nfree++] = bid;
}

/* The buffer goes to the program with a completion. */
void vos__pool_hand_out(struct vos__bufpool *p, uint32_t bid)
{
	p->owned[bid / 64] |= 1ull << (bid % 64);
}

void vos__pool_use(struct vos__bufpool *p, int delta)
{
	p->users = (uint32_t)((int)p->users + delta);
}
