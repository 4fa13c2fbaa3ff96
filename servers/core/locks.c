/*
 * locks.c - a client's fcntl record lock: a wait on the slow pool
 * (slow.c), a try or an unlock on the worker (worker.c).  POSIX locks
 * would all be the daemon's process's, shared by every client, so each
 * becomes the OFD lock of the client's fd here.
 */
#define _GNU_SOURCE
#include "config.h"

#include <fcntl.h>
#include <errno.h>

#include "exec.h"
#include "opdef.h"
#include "server.h"

/* A client's POSIX record lock (F_GETLK, F_SETLK, F_SETLKW) as the OFD
 * lock of its fd here (their l_pid must be 0; a POSIX one's is ignored):
 * the lock conflicts with other clients' and other processes' locks, and
 * goes when the client closes the fd or goes (doc/semantics.md). */
static void lock_as_ofd(struct vos_req *r)
{
	struct flock *fl = (struct flock *)(uintptr_t)r->addr;
	uint32_t cmd = r->op_flags;

	if (cmd == F_GETLK)
		cmd = F_OFD_GETLK;
	else if (cmd == F_SETLK)
		cmd = F_OFD_SETLK;
	else if (cmd == F_SETLKW)
		cmd = F_OFD_SETLKW;
	else
		return; /* an OFD form already: the kernel checks l_pid */
	r->op_flags = cmd;
	fl->l_pid = 0;
}

/* A lock command that never waits, as lock_as_ofd() makes it, with what
 * F_GETLK does that F_OFD_GETLK does not: it refuses F_UNLCK (after the
 * fd's own checks: an O_PATH fd's -EBADF comes first, so the call is
 * made, as a read lock), and where nothing conflicts it leaves l_pid as
 * the caller gave it. */
static int64_t lock_now(struct vos_req *r)
{
	struct flock *fl = (struct flock *)(uintptr_t)r->addr;
	bool posix_get = r->op_flags == F_GETLK;
	pid_t pid = fl->l_pid;
	int64_t res;

	if (posix_get && fl->l_type == F_UNLCK) {
		fl->l_type = F_RDLCK;
		lock_as_ofd(r);
		res = vos__exec(r, false);
		return res == -EBADF ? res : -EINVAL;
	}
	lock_as_ofd(r);
	res = vos__exec(r, false);
	if (posix_get && res == 0 && fl->l_type == F_UNLCK)
		fl->l_pid = pid;
	return res;
}

int64_t srv_lock_run(struct vos_req *r)
{
	if (vos__lock_waits(r->op_flags)) {
		lock_as_ofd(r);
		return vos__exec(r, false); /* SIGUSR1 stops it: -EINTR */
	}
	return lock_now(r);
}
