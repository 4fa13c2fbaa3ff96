/*
 * areas.c - the ring client's buffer areas (areas.h).
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "areas.h"
#include "log.h"

#define PAGE 4096u

void vos__areas_init(struct vos__areas *as)
{
	memset(as, 0, sizeof(*as));
	as->zs.a = as->z;
}

/* The shared areas, as encode wants them. */
static void zlist(struct vos__areas *as)
{
	unsigned k = 0;

	for (unsigned i = 0; i < as->n; i++)
		if (as->a[i].shared)
			as->z[k++] = (struct vos__zarea){ as->a[i].map,
							 as->a[i].size,
							 as->a[i].off };
	as->zs.n = k;
}

/* Offer area a to the attached service at the data area's end. */
static void share(struct vos__areas *as, struct vos__area *a,
		  const struct vos__chan_client *ch, void *chp, int timeout_ms)
{
	int ret;

	a->shared = false;
	if (a->handle < 0 || as->end + a->size > UINT32_MAX)
		return;
	ret = ch->area_share(chp, a->handle, a->size, as->end, timeout_ms);
	if (ret < 0) {
		vos__log(VOS__LOG_DEBUG, "%s: a buffer area of %llu bytes "
			 "is not shared (%s): its buffers go through the "
			 "slots", ch->name, (unsigned long long)a->size,
			 strerror(-ret));
		return;
	}
	a->shared = true;
	a->off = (uint32_t)as->end;
	as->end += a->size;
}

/* First fit: the first run of n free pages in a, or -1. */
static int64_t fit(const struct vos__area *a, uint64_t n)
{
	uint64_t pages = a->size / PAGE, run = 0;

	for (uint64_t p = 0; p < pages; p++) {
		run = a->busy[p] ? 0 : run + 1;
		if (run == n)
			return (int64_t)(p + 1 - n);
	}
	return -1;
}

static void take(struct vos__area *a, uint64_t p, uint64_t n)
{
	a->run[p] = (uint32_t)n;
	memset(a->busy + p, 1, n);
}

int vos__areas_alloc(struct vos__areas *as, const struct vos__chan_client *ch,
		     void *chp, bool attached, uint64_t len, int timeout_ms,
		     void **buf)
{
	uint64_t n = (len + PAGE - 1) / PAGE, size;
	struct vos__area *a;
	void *map;
	int handle, ret;

	if (len == 0 || len > UINT32_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < as->n; i++) {
		int64_t p;

		a = &as->a[i];
		if (a->handle < 0 || (p = fit(a, n)) < 0)
			continue;
		take(a, (uint64_t)p, n);
		*buf = a->map + (uint64_t)p * PAGE;
		return 0;
	}
	if (as->n == VOS__AREAS_MAX || !ch->area_make)
		return -ENOSPC;
	size = n * PAGE < VOS__AREA_MIN ? VOS__AREA_MIN : n * PAGE;
	ret = ch->area_make(chp, size, &map, &handle);
	if (ret < 0)
		return ret;
	a = &as->a[as->n];
	*a = (struct vos__area){ map, size, handle, false, 0, NULL, NULL };
	a->run = calloc(size / PAGE, sizeof(*a->run));
	a->busy = calloc(size / PAGE, 1);
	if (!a->run || !a->busy) {
		free(a->run);
		free(a->busy);
		munmap(map, size);
		ch->area_drop(handle);
		return -ENOMEM;
	}
	as->n++;
	if (attached) {
		share(as, a, ch, chp, timeout_ms);
		zlist(as);
	}
	take(a, 0, n);
	*buf = a->map;
	return 0;
}

int vos__areas_free(struct vos__areas *as, void *buf)
{
	uintptr_t b = (uintptr_t)buf;

	for (unsigned i = 0; i < as->n; i++) {
		struct vos__area *a = &as->a[i];
		uintptr_t m = (uintptr_t)a->map;
		uint64_t p;

		if (b < m || b - m >= a->size)
			continue;
		p = (b - m) / PAGE;
		if ((b - m) % PAGE || !a->run[p])
			return -ENOENT; /* inside, not a buffer's start */
		memset(a->busy + p, 0, a->run[p]);
		a->run[p] = 0;
		return 0;
	}
	return -ENOENT;
}

void vos__areas_attached(struct vos__areas *as,
			 const struct vos__chan_client *ch, void *chp,
			 uint64_t data_size, int timeout_ms)
{
	as->end = (data_size + PAGE - 1) & ~(uint64_t)(PAGE - 1);
	for (unsigned i = 0; i < as->n; i++)
		share(as, &as->a[i], ch, chp, timeout_ms);
	zlist(as);
}

void vos__areas_detached(struct vos__areas *as)
{
	for (unsigned i = 0; i < as->n; i++)
		as->a[i].shared = false;
	as->zs.n = 0;
}

void vos__areas_after_fork(struct vos__areas *as,
			   const struct vos__chan_client *ch)
{
	for (unsigned i = 0; i < as->n; i++) {
		struct vos__area *a = &as->a[i];
		void *copy;

		a->shared = false;
		if (a->handle < 0)
			continue;
		/* the contents into private memory, moved over the shared
		 * mapping in one step: the buffers keep their addresses */
		copy = mmap(NULL, a->size, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (copy != MAP_FAILED) {
			memcpy(copy, a->map, a->size);
			if (mremap(copy, a->size, a->size,
				   MREMAP_MAYMOVE | MREMAP_FIXED,
				   a->map) == MAP_FAILED) {
				munmap(copy, a->size);
				vos__log(VOS__LOG_ERROR, "buffer area: no "
					 "private copy in the child (%s): it "
					 "stays shared with the parent",
					 strerror(errno));
			}
		} else {
			vos__log(VOS__LOG_ERROR, "buffer area: no private copy "
				 "in the child (%s): it stays shared with the "
				 "parent", strerror(errno));
		}
		ch->area_drop(a->handle);
		a->handle = -1;
	}
	as->zs.n = 0;
}

void vos__areas_destroy(struct vos__areas *as,
			const struct vos__chan_client *ch)
{
	for (unsigned i = 0; i < as->n; i++) {
		struct vos__area *a = &as->a[i];

		munmap(a->map, a->size);
		if (a->handle >= 0)
			ch->area_drop(a->handle);
		free(a->run);
		free(a->busy);
	}
	as->n = 0;
	as->zs.n = 0;
}
