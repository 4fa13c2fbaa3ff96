/*
 * route.c - where each request runs (see local.h for the four routes).
 *
 * The rules, and the measurements behind them (doc/architecture.md):
 *   - calls that never wait for a device or a peer (the op table's DIRECT
 *     ops: fcntl, ioctl, socket, bind, listen, get/setsockopt, get*name,
 *     shutdown, close, nop) run INLINE:
 *     a syscall costs 0.1-0.3 us, io_uring's round trip 0.3 us and a thread
 *     hop tens of us;
 *   - reads and writes with the program's RWF_ flags (preadv2) run INLINE
 *     with RWF_NOWAIT; on a file, else, on the POOL (the plain call with
 *     its flags); on a stream as without flags;
 *   - file reads and writes go TRY first: preadv2/pwritev2 with RWF_NOWAIT
 *     finish inline when the data is in memory and say EAGAIN when the call
 *     would block, which then goes ASYNC;
 *   - where the file system has no RWF_NOWAIT (EOPNOTSUPP: tmpfs here, and
 *     ext4 buffered writes), io_uring would run the call on a kernel worker,
 *     12-15x slower than a direct call at batch 1; punted_inline, measured
 *     when the transport opens, says which of the two wins on this machine;
 *   - sockets, pipes and character devices with O_NONBLOCK run INLINE: the
 *     call cannot block, and its -EAGAIN is what the program asked for
 *     (io_uring would instead wait for readiness);
 *   - O_DIRECT files, blocking sockets, pipes and the rest go ASYNC;
 *   - a read or write at an offset on a stream goes INLINE on a pipe or a
 *     socket (the call says -ESPIPE at once, before it could wait), to the
 *     POOL on a character device or an anonymous inode (the kernel's
 *     pread decides: some have offsets, /dev/zero, some not): io_uring
 *     would ignore the offset and read or write the stream;
 *   - ftruncate on a disk file system (it can take long on a large file)
 *     goes ASYNC where the backend has it natively (io_uring FTRUNCATE,
 *     Linux 6.9), else to the POOL;
 *   - lseek with SEEK_SET or SEEK_CUR runs INLINE, with the others
 *     (SEEK_END asks a FUSE server for the size, SEEK_DATA/HOLE may read
 *     a disk) on the POOL;
 *   - path calls io_uring has (openat, statx, unlinkat, mkdirat, renameat;
 *     linkat and symlinkat since 5.15) go ASYNC, the others (getdents,
 *     fchmodat, fchownat, faccessat, readlinkat, utimensat, mknodat,
 *     truncate, statfs; openat2, whose struct would have to outlive the
 *     submission) to the POOL: a lookup may read a disk; so do
 *     syncfs, fadvise and sync_file_range; and copy_file_range, sendfile
 *     and splice (io_uring's splice takes no offset pointers to advance;
 *     a splice that would wait on a pipe waits cancellably: workpool.c);
 *   - fcntl's record locks run INLINE, the waiting forms (F_SETLKW,
 *     F_OFD_SETLKW) on the POOL, in slices (workpool.c).
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "local.h"

static enum vos__route route_rw(struct vos__local *l, const struct vos_req *r,
				uint8_t fdc)
{
	uint8_t no_nowait = vos__op_is_read(r->op) ? VOS__FDC_NO_NOWAIT_RD
						   : VOS__FDC_NO_NOWAIT_WR;

	if ((fdc & VOS__FDC_KIND) == VOS__FD_UNKNOWN)
		return VOS__INLINE; /* not open: the call says -EBADF */
	if (r->op_flags) {
		/* the program's RWF_ flags (preadv2).  RWF_NOWAIT never
		 * waits, and its -EAGAIN is the answer; a stream refuses
		 * RWF_ATOMIC and RWF_DONTCACHE at once (only regular files
		 * and block devices have them).  Files: the plain call with
		 * its flags, on a thread (a try's -EOPNOTSUPP could then be
		 * the flags', and libaio has no flags).  Streams: as without
		 * flags (the backends pass them on; a stream's call ignores
		 * the other known flags) */
		if ((r->op_flags & RWF_NOWAIT) ||
		    ((fdc & VOS__FDC_KIND) == VOS__FD_STREAM &&
		     (r->op_flags & (VOS__RWF_ATOMIC | VOS__RWF_DONTCACHE))))
			return VOS__INLINE;
		/* (a flag newer than this library: what it does is not
		 * known, so on a thread whatever the fd) */
		if ((fdc & VOS__FDC_KIND) != VOS__FD_STREAM ||
		    (r->op_flags & ~VOS__RWF_KNOWN))
			return VOS__POOL;
	}
	switch (fdc & VOS__FDC_KIND) {
	case VOS__FD_STREAM:
		if (vos__op_positional(r))
			return (fdc & (VOS__FDC_NO_OFFSET | VOS__FDC_NONBLOCK))
				       ? VOS__INLINE : VOS__POOL;
		return (fdc & VOS__FDC_NONBLOCK) ? VOS__INLINE : VOS__ASYNC;
	case VOS__FD_MEMFS:
	case VOS__FD_DISKFS:
		if (!(fdc & no_nowait))
			return VOS__TRY;
		return l->punted_inline ? VOS__INLINE : VOS__ASYNC;
	default:
		return VOS__ASYNC;
	}
}

enum vos__route vos__route(struct vos__local *l, const struct vos_req *r,
			   uint8_t *fdc)
{
	*fdc = 0;
	if (vos__op_has(r->op, VOS__OPF_DIRECT))
		return VOS__INLINE; /* never waits (the op table says so) */
	if (vos__op_has(r->op, VOS__OPF_RW)) { /* file data */
		*fdc = vos__fdclass_get(&l->fdc, r->fd);
		return route_rw(l, r, *fdc);
	}
	if (vos__op_is_socket(r->op) && vos__op_has(r->op, VOS__OPF_FD)) {
		/* a socket call that may wait for its peer (accept, connect,
		 * send, recv, sendmsg, recvmsg: the direct ones went above);
		 * with MSG_DONTWAIT the program asked for -EAGAIN, never a
		 * wait, whatever the socket's flags */
		*fdc = vos__fdclass_get(&l->fdc, r->fd);
		if ((*fdc & VOS__FDC_KIND) == VOS__FD_UNKNOWN ||
		    (*fdc & VOS__FDC_NONBLOCK) ||
		    (vos__op_moves_data(r->op) && (r->op_flags & MSG_DONTWAIT)))
			return VOS__INLINE;
		return VOS__ASYNC;
	}
	switch (r->op) {
	case VOS_OP_FSYNC:
	case VOS_OP_FDATASYNC:
		*fdc = vos__fdclass_get(&l->fdc, r->fd);
		/* nothing to write back on a memory file system */
		return (*fdc & VOS__FDC_KIND) == VOS__FD_MEMFS ? VOS__INLINE
							       : VOS__ASYNC;
	case VOS_OP_FTRUNCATE:
		*fdc = vos__fdclass_get(&l->fdc, r->fd);
		if ((*fdc & VOS__FDC_KIND) == VOS__FD_MEMFS ||
		    (*fdc & VOS__FDC_KIND) == VOS__FD_UNKNOWN)
			return VOS__INLINE;
		return l->native_ftruncate ? VOS__ASYNC : VOS__POOL;
	case VOS_OP_FCNTL_LOCK:
		/* a lock wait has no end of its own: the pool, in slices it
		 * can be stopped between (workpool.c); the rest never wait */
		return vos__lock_waits(r->op_flags) ? VOS__POOL : VOS__INLINE;
	case VOS_OP_GETDENTS:
	case VOS_OP_OPENAT2:
	case VOS_OP_FCHMODAT:
	case VOS_OP_FCHOWNAT:
	case VOS_OP_FACCESSAT:
	case VOS_OP_READLINKAT:
	case VOS_OP_UTIMENSAT:
	case VOS_OP_MKNODAT:
	case VOS_OP_TRUNCATE:
	case VOS_OP_STATFS:
	case VOS_OP_SYNCFS:
	case VOS_OP_FADVISE:
	case VOS_OP_SYNC_FILE_RANGE:
	case VOS_OP_COPY_FILE_RANGE:
	case VOS_OP_SENDFILE:
	case VOS_OP_SPLICE:
		/* no io_uring opcode (fadvise's and sync_file_range's would
		 * do; the pool keeps them simple); may read or write a
		 * disk: a worker thread */
		return VOS__POOL;
	case VOS_OP_LINKAT:
	case VOS_OP_SYMLINKAT:
		return l->native_links ? VOS__ASYNC : VOS__POOL;
	case VOS_OP_LSEEK:
		/* SEEK_SET and SEEK_CUR only move the position; the others
		 * may wait for a FUSE or NFS server or read a disk */
		return r->op_flags == SEEK_SET || r->op_flags == SEEK_CUR
		       ? VOS__INLINE : VOS__POOL;
	case VOS_OP_TIMEOUT:
		return r->off == 0 ? VOS__INLINE : VOS__ASYNC;
	case VOS_OP_POLL:
		*fdc = vos__fdclass_get(&l->fdc, r->fd);
		return VOS__ASYNC;
	default: /* openat, statx, fallocate, unlinkat, mkdirat, renameat */
		return VOS__ASYNC;
	}
}
