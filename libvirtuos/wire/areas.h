/*
 * areas.h - the ring client's buffer areas: memory of the client's own
 * that it shares with the service (GROW, doc/protocol.md section 2), so
 * that a read or write on a buffer inside moves no byte through a data
 * slot (vos_buf_alloc()).
 *
 * An area is made by the channel (shm: a sealed memfd) and mapped by both
 * sides; the client hands out page-aligned buffers from it, first fit.
 * Areas belong to the client, not to an attachment: when the service
 * goes away they stay mapped (a program's buffers never disappear under
 * it) and are offered again to the next attachment; if the service does
 * not take one (a service without GROW, or past its limits), its buffers
 * still work, through the slots.
 *
 * When an attachment ends because the service died, broke the protocol
 * or missed a deadline, each area it had is moved onto fresh memory
 * (vos__areas_disown()): a late write of the old service (a read that
 * finished after its call had failed) lands in memory nobody maps any
 * more, never in a buffer the program has taken back.
 *
 * In a forked child each area becomes a private copy, as fork(2) makes
 * of ordinary memory (the parent's service must not see, nor write into,
 * the child's buffers), and serves no more allocations.  That happens in
 * a pthread_atfork() child handler, before fork() returns in the child;
 * a child made by a raw clone(2) gets it only at vos_after_fork().
 */
#ifndef VOS_WIRE_AREAS_H
#define VOS_WIRE_AREAS_H

#include <stdbool.h>
#include <stdint.h>

#include <virtuos/wire.h>

#include "channel.h"
#include "encode.h"

#define VOS__AREA_MIN (4u << 20) /* an area is at least this big, and at
                                  * least as big as all before it */
#define VOS__AREAS_MAX VOS_WIRE_GROW_MAX /* what a service takes */

struct vos__area {
	uint8_t *map;
	uint64_t size;
	int handle;      /* the channel's, or -1: a forked child's copy */
	bool shared;     /* the current attachment took it */
	uint32_t off;    /* ... at this data-area offset */
	uint32_t *run;   /* per page: pages of the buffer starting there, or 0 */
	uint8_t *busy;   /* per page: in a buffer */
};

struct vos__areas {
	struct vos__area a[VOS__AREAS_MAX];
	unsigned n;
	struct vos__zarea z[VOS__AREAS_MAX]; /* the shared ones, for encode */
	struct vos__zareas zs;
	uint64_t end; /* the data area's end in the current attachment */
	const struct vos__chan_client *ch; /* set with the first area */
	struct vos__areas *next, **pprev;  /* on the fork list (areas.c) */
};

void vos__areas_init(struct vos__areas *as);

/* A buffer of len bytes (> 0) from an area, made (and, when attached,
 * shared) if none has room.  0 and *buf; -ENOMEM, -ENOSPC (no more
 * areas), or the channel's error making one. */
int vos__areas_alloc(struct vos__areas *as, const struct vos__chan_client *ch,
		     void *chp, bool attached, uint64_t len, int timeout_ms,
		     void **buf);

/* Give back a buffer vos__areas_alloc() gave: 0, or -ENOENT if buf is not
 * the start of one. */
int vos__areas_free(struct vos__areas *as, void *buf);

/* A new attachment whose slots end at data_size: offer it every area. */
void vos__areas_attached(struct vos__areas *as,
			 const struct vos__chan_client *ch, void *chp,
			 uint64_t data_size, int timeout_ms);

/* The attachment is gone: no area is shared. */
void vos__areas_detached(struct vos__areas *as);

/* The attachment was lost (the service died, broke the protocol, or
 * missed a deadline): move every area it had onto fresh memory of the
 * channel's (the contents copied, the addresses kept), so that the old
 * service can no longer write into the program's buffers.  Call before
 * the calls in flight are failed.  A store another thread makes to a
 * buffer during the copy may be lost (the program must not touch a
 * buffer that is in flight; see vos_buf_alloc(3)). */
void vos__areas_disown(struct vos__areas *as, void *chp);

/* In a forked child: every area becomes a private copy, in place. */
void vos__areas_after_fork(struct vos__areas *as,
			   const struct vos__chan_client *ch);

void vos__areas_destroy(struct vos__areas *as,
			const struct vos__chan_client *ch);

/* The shared areas, for encoding (NULL when there are none). */
static inline const struct vos__zareas *vos__areas_z(const struct vos__areas *as)
{
	return as->zs.n ? &as->zs : 0;
}

#endif /* VOS_WIRE_AREAS_H */
