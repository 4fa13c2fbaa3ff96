/*
 * areas.c - the ring client's buffer areas (areas.h).
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "areas.h"
#include "log.h"

#define PAGE 4096u

/* Every set of areas that has one, for the pthread_atfork() child
 * handler: a child must have private copies before fork() returns in it
 * (until then a store of either process to a buffer would be seen by the
 * other).  The lock also keeps an area from being made, moved or freed
 * while fork() copies the address space. */
static pthread_mutex_t fork_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static struct vos__areas *fork_list;

static void private_copies(struct vos__areas *as);

static void fork_prepare(void)
{
	pthread_mutex_lock(&fork_lock);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&fork_lock);
}

static void fork_child(void)
{
	for (struct vos__areas *as = fork_list; as; as = as->next)
		private_copies(as);
	pthread_mutex_unlock(&fork_lock);
}

static void fork_setup(void)
{
	if (pthread_atfork(fork_prepare, fork_parent, fork_child) != 0)
		vos__log(VOS__LOG_ERROR, "pthread_atfork failed: buffer areas "
			 "become private in a child only at vos_after_fork()");
}

void vos__areas_init(struct vos__areas *as)
{
	memset(as, 0, sizeof(*as));
	as->zs.a = as->z;
}

/* Copy the pages of a that are in buffers to to (the rest means
 * nothing: a buffer's contents are undefined until written). */
static void copy_buffers(const struct vos__area *a, uint8_t *to)
{
	uint64_t pages = a->size / PAGE;

	for (uint64_t p = 0; p < pages;) {
		uint64_t n = a->run[p];

		if (!n) {
			p++;
			continue;
		}
		memcpy(to + p * PAGE, a->map + p * PAGE, n * PAGE);
		p += n;
	}
}

/* Put private anonymous memory with a's buffers under a's addresses: a
 * serves no more allocations and is shared with nobody.  false (logged)
 * if that failed and a stays as it was. */
static bool make_private(struct vos__area *a)
{
	void *copy = mmap(NULL, a->size, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (copy != MAP_FAILED) {
		copy_buffers(a, copy);
		/* moved over the shared mapping in one step: the buffers
		 * keep their addresses */
		if (mremap(copy, a->size, a->size,
			   MREMAP_MAYMOVE | MREMAP_FIXED, a->map) != MAP_FAILED)
			return true;
		munmap(copy, a->size);
	}
	vos__log(VOS__LOG_ERROR, "buffer area: no private copy (%s): it "
		 "stays shared", strerror(errno));
	return false;
}

static void private_copies(struct vos__areas *as)
{
	for (unsigned i = 0; i < as->n; i++) {
		struct vos__area *a = &as->a[i];

		a->shared = false;
		if (a->handle < 0)
			continue;
		make_private(a);
		as->ch->area_drop(a->handle);
		a->handle = -1;
	}
	as->zs.n = 0;
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
	/* at least VOS__AREA_MIN, and as big as all so far: a few areas
	 * cover what a service takes (it takes VOS__AREAS_MAX at most) */
	size = 0;
	for (unsigned i = 0; i < as->n; i++)
		size += as->a[i].size;
	if (size < VOS__AREA_MIN)
		size = VOS__AREA_MIN;
	if (size < n * PAGE)
		size = n * PAGE;
	pthread_once(&fork_once, fork_setup);
	pthread_mutex_lock(&fork_lock);
	ret = ch->area_make(chp, size, &map, &handle);
	if (ret < 0) {
		pthread_mutex_unlock(&fork_lock);
		return ret;
	}
	a = &as->a[as->n];
	*a = (struct vos__area){ map, size, handle, false, 0, NULL, NULL };
	a->run = calloc(size / PAGE, sizeof(*a->run));
	a->busy = calloc(size / PAGE, 1);
	if (!a->run || !a->busy) {
		free(a->run);
		free(a->busy);
		munmap(map, size);
		ch->area_drop(handle);
		pthread_mutex_unlock(&fork_lock);
		return -ENOMEM;
	}
	if (as->n++ == 0) {
		as->ch = ch;
		as->next = fork_list;
		if (fork_list)
			fork_list->pprev = &as->next;
		as->pprev = &fork_list;
		fork_list = as;
	}
	pthread_mutex_unlock(&fork_lock);
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

void vos__areas_disown(struct vos__areas *as, void *chp)
{
	pthread_mutex_lock(&fork_lock);
	for (unsigned i = 0; i < as->n; i++) {
		struct vos__area *a = &as->a[i];
		void *map;
		int handle;

		if (!a->shared || a->handle < 0)
			continue;
		/* fresh memory of the channel's, so that the area can be
		 * shared again with the next attachment */
		if (as->ch->area_make(chp, a->size, &map, &handle) == 0) {
			copy_buffers(a, map);
			if (mremap(map, a->size, a->size, MREMAP_MAYMOVE |
				   MREMAP_FIXED, a->map) != MAP_FAILED) {
				as->ch->area_drop(a->handle);
				a->handle = handle;
				continue;
			}
			munmap(map, a->size);
			as->ch->area_drop(handle);
		}
		/* else private memory: the area serves no more */
		if (make_private(a)) {
			as->ch->area_drop(a->handle);
			a->handle = -1;
		}
	}
	pthread_mutex_unlock(&fork_lock);
}

void vos__areas_after_fork(struct vos__areas *as,
			   const struct vos__chan_client *ch)
{
	(void)ch;
	/* (the pthread_atfork() handler did it already, unless the child
	 * was made some other way) */
	pthread_mutex_lock(&fork_lock);
	private_copies(as);
	pthread_mutex_unlock(&fork_lock);
}

void vos__areas_destroy(struct vos__areas *as,
			const struct vos__chan_client *ch)
{
	if (!as->n)
		return;
	pthread_mutex_lock(&fork_lock);
	*as->pprev = as->next;
	if (as->next)
		as->next->pprev = as->pprev;
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
	pthread_mutex_unlock(&fork_lock);
}
