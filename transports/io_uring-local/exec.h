/*
 * exec.h - running a request as its plain system call, on this thread
 * (exec.c).  The local transport's INLINE route, its worker pool and the
 * service daemons' workers (for the op table's DIRECT calls, which never
 * wait) all use this one executor.
 */
#ifndef VOS_LOCAL_EXEC_H
#define VOS_LOCAL_EXEC_H

#include <stdbool.h>
#include <stdint.h>
#include <virtuos/virtuos.h>

/* Run the request's system call on this thread.  With nowait, calls that
 * have a per-call "don't block" form use it (RWF_NOWAIT, MSG_DONTWAIT,
 * poll with timeout 0) and return -EAGAIN instead of blocking.  The
 * result, or -errno. */
int64_t vos__exec(const struct vos_req *r, bool nowait);

#endif /* VOS_LOCAL_EXEC_H */
