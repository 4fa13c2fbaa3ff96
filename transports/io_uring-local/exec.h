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

/* pipe2, socketpair in two steps, so that the caller can note the new
 * numbers before the program can see them: make the pair into p (0, or
 * -errno: the kernel's, or -EFAULT if the caller's array cannot be
 * written, with nothing made), then give it (the array written; -EFAULT
 * with both fds closed if it cannot be written after all). */
int vos__pair_make(const struct vos_req *r, int p[2]);
int vos__pair_give(const struct vos_req *r, const int p[2]);

#endif /* VOS_LOCAL_EXEC_H */
