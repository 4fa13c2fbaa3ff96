/*
 * udindex.c - the user_data -> tag index that cancels look requests up in.
 *
 * A cancel names its target by user_data.  Scanning every tag was fine at
 * a depth of 256; at a depth of 100,000 (a request per connection) or in a
 * daemon's engine (a cancel per request of a client being torn down) it
 * made each cancel cost the whole queue.  The index is made on a
 * context's first cancel (a context that never cancels pays a branch per
 * request) and kept from then on.
 *
 * An open-addressing table (twice the depth rounded up to a power of two,
 * linear probing, deletion by shifting back: no tombstones) maps each
 * user_data in use to the first of the tags that carry it; the tags that
 * share one are a list through their slots (ud_prev, ud_next), so a
 * program that gives every request the same user_data costs no longer
 * probes.  It holds the user requests in flight or held behind a linked
 * one (ASYNC, HELD), cancels excepted: what a cancel may name.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "internal.h"

static inline uint32_t home(const struct vos__impl *impl, uint64_t ud)
{
	return (uint32_t)((ud * 0x9e3779b97f4a7c15ull) >> 32) & impl->uidx_mask;
}

/* The table position holding ud's list, or where it would go (empty). */
static uint32_t where(const struct vos__impl *impl, uint64_t ud)
{
	uint32_t i = home(impl, ud);

	while (impl->uidx[i] &&
	       impl->slots[impl->uidx[i] - 1].user_data != ud)
		i = (i + 1) & impl->uidx_mask;
	return i;
}

void vos__uidx_add(struct vos__impl *impl, uint32_t tag)
{
	struct vos__slot *s = &impl->slots[tag];
	uint32_t i = where(impl, s->user_data);

	s->ud_prev = VOS__NO_TAG;
	s->ud_next = impl->uidx[i] ? impl->uidx[i] - 1 : VOS__NO_TAG;
	if (s->ud_next != VOS__NO_TAG)
		impl->slots[s->ud_next].ud_prev = tag;
	impl->uidx[i] = tag + 1;
	s->indexed = true;
}

void vos__uidx_del(struct vos__impl *impl, uint32_t tag)
{
	struct vos__slot *s = &impl->slots[tag];
	uint32_t i, j;

	s->indexed = false;
	if (s->ud_next != VOS__NO_TAG)
		impl->slots[s->ud_next].ud_prev = s->ud_prev;
	if (s->ud_prev != VOS__NO_TAG) {
		impl->slots[s->ud_prev].ud_next = s->ud_next;
		return; /* the list's first stays */
	}
	i = where(impl, s->user_data);
	if (!impl->uidx[i])
		return; /* (not there: cannot happen) */
	if (s->ud_next != VOS__NO_TAG) {
		impl->uidx[i] = s->ud_next + 1; /* the next is the first now */
		return;
	}
	/* the last with this user_data: shift back the entries after it that
	 * probed past i */
	for (j = (i + 1) & impl->uidx_mask; impl->uidx[j];
	     j = (j + 1) & impl->uidx_mask) {
		uint32_t h = home(impl, impl->slots[impl->uidx[j] - 1].user_data);

		/* j's entry may move to i if its home h is not in (i, j] */
		if ((j > i && (h <= i || h > j)) || (j < i && h <= i && h > j)) {
			impl->uidx[i] = impl->uidx[j];
			i = j;
		}
	}
	impl->uidx[i] = 0;
}

int vos__uidx_find(struct vos__impl *impl, uint64_t ud)
{
	uint32_t i;

	if (!impl->uidx && vos__uidx_build(impl) < 0)
		return -ENOMEM;
	i = where(impl, ud);
	return impl->uidx[i] ? (int)(impl->uidx[i] - 1) : -ENOENT;
}

int vos__uidx_build(struct vos__impl *impl)
{
	uint32_t n = 1;

	while (n < 2 * impl->depth)
		n <<= 1;
	impl->uidx = calloc(n, sizeof(*impl->uidx));
	if (!impl->uidx)
		return -ENOMEM;
	impl->uidx_mask = n - 1;
	for (uint32_t t = 0; t < impl->depth; t++)
		if ((impl->slots[t].state == VOS__SLOT_ASYNC ||
		     impl->slots[t].state == VOS__SLOT_HELD) &&
		    impl->slots[t].op != VOS_OP_CANCEL)
			vos__uidx_add(impl, t);
	return 0;
}

void vos__uidx_reset(struct vos__impl *impl)
{
	free(impl->uidx);
	impl->uidx = NULL;
}
