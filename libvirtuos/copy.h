/*
 * copy.h - copy_file_range, sendfile and splice between two domains (the
 * local kernel and a service, or two services): the library's own copy,
 * as steps the router sends (copy.c).
 */
#ifndef VOS_COPY_H
#define VOS_COPY_H

#include <stdbool.h>
#include <stdint.h>
#include <virtuos/virtuos.h>

struct vos__copy;

/* One end of a copy: the service its fd lives in (0: the local kernel)
 * and the fd there. */
struct vos__copy_end {
	uint8_t svc;
	int32_t fd;
};

/* Begin r (copy_file_range, sendfile or splice) whose ends are end[0]
 * (fd_in) and end[1] (fd_out): 0 and the copy in *cp, whose first step
 * is due (vos__copy_step); 1 with the call's result in *res (answered
 * without a step); or -errno. */
int vos__copy_begin(const struct vos_req *r,
		    const struct vos__copy_end end[2], struct vos__copy **cp,
		    int64_t *res);

/* The request of cp's due step (its user_data left to the caller), and
 * the service it goes to. */
uint8_t vos__copy_step(struct vos__copy *cp, struct vos_req *c);

/* cp's step completed with res: true if another step is due, else false
 * and the call's result in *res (cp is freed then). */
bool vos__copy_next(struct vos__copy *cp, int64_t *res);

/* Stop cp before its next read: the call completes with what was written
 * by then, or -ECANCELED.  0 if the step in flight may be cancelled where
 * it runs too (a probe, a read, a write of what a file gave), else
 * -EALREADY (a write of what a stream gave, which would be lost; the
 * final seek): let it complete. */
int vos__copy_cancel(struct vos__copy *cp);

/* Whether cp was cancelled and its due step is not to be sent (then
 * vos__copy_next() with -ECANCELED ends it). */
bool vos__copy_stopped(const struct vos__copy *cp);

/* Free a copy that will not finish (its context goes away). */
void vos__copy_free(struct vos__copy *cp);

#endif /* VOS_COPY_H */
