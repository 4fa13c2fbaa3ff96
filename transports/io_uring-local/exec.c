/*
 * exec.c - run a request as an ordinary system call on this thread.
 * Used for requests routed INLINE or TRY, and by the worker pool.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "local.h"
#include "user_mem.h"

#define PTR(x) ((void *)(uintptr_t)(x))

static ssize_t rw(const struct vos_req *r, bool nowait)
{
	struct iovec one = { PTR(r->addr), r->len };
	const struct iovec *iov = &one;
	/* the program's RWF_ flags (preadv2), and ours for a try */
	int cnt = 1, fl = (int)r->op_flags | (nowait ? RWF_NOWAIT : 0);
	off_t off = (off_t)r->off;

	switch (r->op) {
	case VOS_OP_READ:
	case VOS_OP_WRITE:
		off = -1; /* the file position */
		break;
	case VOS_OP_READV:
	case VOS_OP_WRITEV:
		iov = PTR(r->addr);
		cnt = (int)r->len;
		if (r->off == VOS_OFF_CURRENT)
			off = -1;
		break;
	}
	if (!fl && cnt == 1 && iov == &one) {
		/* the plain calls: cheapest, and read/write work on any fd */
		bool rd = vos__op_is_read(r->op);

		if (off == -1)
			return rd ? read(r->fd, one.iov_base, one.iov_len)
				  : write(r->fd, one.iov_base, one.iov_len);
		return rd ? pread(r->fd, one.iov_base, one.iov_len, off)
			  : pwrite(r->fd, one.iov_base, one.iov_len, off);
	}
	if (vos__op_is_read(r->op))
		return preadv2(r->fd, iov, cnt, off, fl);
	return pwritev2(r->fd, iov, cnt, off, fl);
}

/* statfs(path), fstatfs(fd) (an empty path with AT_EMPTY_PATH), and a
 * path from a dirfd: the file opened O_PATH, then fstatfs. */
static int statfs_at(const struct vos_req *r)
{
	const char *path = PTR(r->addr);
	int fd, ret, e;

	if (!path[0] && (r->op_flags & AT_EMPTY_PATH))
		return fstatfs(r->fd, PTR(r->addr2));
	if (r->fd == AT_FDCWD || path[0] == '/')
		return statfs(path, PTR(r->addr2));
	fd = openat(r->fd, path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = fstatfs(fd, PTR(r->addr2));
	e = errno;
	close(fd);
	errno = e;
	return ret;
}

int vos__pair_make(const struct vos_req *r, int p[2])
{
	int old[2], ret;

	/* as the kernel: an array that cannot be written fails before
	 * any fd exists (the check writes back what was there) */
	if (vos__user_read(old, PTR(r->addr), sizeof(old)) < 0 ||
	    vos__user_write(PTR(r->addr), old, sizeof(old)) < 0)
		return -EFAULT;
	ret = r->op == VOS_OP_PIPE2
		      ? pipe2(p, (int)r->op_flags)
		      : socketpair((int)r->arg, (int)r->op_flags, r->fd2, p);
	return ret < 0 ? -errno : 0;
}

int vos__pair_give(const struct vos_req *r, const int p[2])
{
	if (vos__user_write(PTR(r->addr), p, 2 * sizeof(int)) < 0) {
		/* unmapped since the check (another thread) */
		close(p[0]);
		close(p[1]);
		return -EFAULT;
	}
	return 0;
}

static int64_t new_pair(const struct vos_req *r)
{
	int p[2], ret = vos__pair_make(r, p);

	return ret < 0 ? ret : vos__pair_give(r, p);
}

int64_t vos__exec(const struct vos_req *r, bool nowait)
{
	int dontwait = nowait ? MSG_DONTWAIT : 0;
	int64_t ret;

	switch (r->op) {
	case VOS_OP_NOP:
		return 0;
	case VOS_OP_OPENAT:
		ret = openat(r->fd, PTR(r->addr), (int)r->op_flags,
			     (mode_t)r->arg);
		break;
	case VOS_OP_CLOSE:
		ret = close(r->fd);
		break;
	case VOS_OP_READ: case VOS_OP_WRITE: case VOS_OP_PREAD:
	case VOS_OP_PWRITE: case VOS_OP_READV: case VOS_OP_WRITEV:
		ret = rw(r, nowait);
		break;
	case VOS_OP_FSYNC:
		ret = fsync(r->fd);
		break;
	case VOS_OP_FDATASYNC:
		ret = fdatasync(r->fd);
		break;
	case VOS_OP_STATX:
		ret = statx(r->fd, PTR(r->addr), (int)r->op_flags,
			    (unsigned)r->arg, PTR(r->addr2));
		break;
	case VOS_OP_FTRUNCATE:
		ret = ftruncate(r->fd, (off_t)r->off);
		break;
	case VOS_OP_GETDENTS:
		ret = syscall(SYS_getdents64, r->fd, PTR(r->addr),
			      (unsigned)r->len);
		break;
	case VOS_OP_FALLOCATE:
		ret = fallocate(r->fd, (int)r->op_flags, (off_t)r->off,
				(off_t)r->arg);
		break;
	case VOS_OP_UNLINKAT:
		ret = unlinkat(r->fd, PTR(r->addr), (int)r->op_flags);
		break;
	case VOS_OP_MKDIRAT:
		ret = mkdirat(r->fd, PTR(r->addr), (mode_t)r->arg);
		break;
	case VOS_OP_RENAMEAT:
		ret = renameat2(r->fd, PTR(r->addr), r->fd2, PTR(r->addr2),
				r->op_flags);
		break;
	case VOS_OP_LSEEK:
		ret = lseek(r->fd, (off_t)r->off, (int)r->op_flags);
		break;
	case VOS_OP_FCHMODAT:
		ret = fchmodat(r->fd, PTR(r->addr), (mode_t)r->arg,
			       (int)r->op_flags);
		break;
	case VOS_OP_FCHOWNAT:
		ret = fchownat(r->fd, PTR(r->addr), (uid_t)r->arg,
			       (gid_t)r->off, (int)r->op_flags);
		break;
	case VOS_OP_FACCESSAT:
		/* glibc's faccessat is faccessat2(2) where the kernel has it */
		ret = faccessat(r->fd, PTR(r->addr), (int)r->arg,
				(int)r->op_flags);
		break;
	case VOS_OP_LINKAT:
		ret = linkat(r->fd, PTR(r->addr), r->fd2, PTR(r->addr2),
			     (int)r->op_flags);
		break;
	case VOS_OP_SYMLINKAT:
		ret = symlinkat(PTR(r->addr2), r->fd, PTR(r->addr));
		break;
	case VOS_OP_READLINKAT:
		ret = readlinkat(r->fd, PTR(r->addr), PTR(r->addr2), r->len);
		break;
	case VOS_OP_UTIMENSAT:
		/* (the system call: glibc refuses the NULL path of
		 * futimens, which the kernel takes) */
		if (r->op_flags & VOS__AT_FD_ONLY)
			ret = syscall(SYS_utimensat, r->fd, NULL, PTR(r->addr2),
				      0);
		else
			ret = utimensat(r->fd, PTR(r->addr), PTR(r->addr2),
					(int)r->op_flags);
		break;
	case VOS_OP_MKNODAT:
		ret = mknodat(r->fd, PTR(r->addr), (mode_t)r->arg,
			      (dev_t)r->off);
		break;
	case VOS_OP_TRUNCATE:
		/* (r->fd is AT_FDCWD: the op has no dirfd of its own) */
		ret = truncate(PTR(r->addr), (off_t)r->off);
		break;
	case VOS_OP_FADVISE:
		/* the system call, which says -1 and errno (posix_fadvise
		 * returns the error) */
		ret = syscall(SYS_fadvise64, r->fd, (off_t)r->off,
			      (off_t)r->arg, (int)r->op_flags);
		break;
	case VOS_OP_SYNC_FILE_RANGE:
		ret = sync_file_range(r->fd, (off_t)r->off, (off_t)r->arg,
				      r->op_flags);
		break;
	case VOS_OP_SYNCFS:
		ret = syncfs(r->fd);
		break;
	case VOS_OP_STATFS:
		ret = statfs_at(r);
		break;
	case VOS_OP_FCNTL:
		ret = fcntl(r->fd, (int)r->op_flags, (long)r->arg);
		break;
	case VOS_OP_FCNTL_LOCK: {
		/* nowait: a SETLKW form as its SETLK (the pool's slices,
		 * workpool.c, wait between tries) */
		int cmd = (int)r->op_flags;

		if (nowait && cmd == F_SETLKW)
			cmd = F_SETLK;
		else if (nowait && cmd == F_OFD_SETLKW)
			cmd = F_OFD_SETLK;
		ret = fcntl(r->fd, cmd, PTR(r->addr));
		break;
	}
	case VOS_OP_PIPE2:
	case VOS_OP_SOCKETPAIR:
		return new_pair(r);
	case VOS_OP_OPENAT2: {
		/* (the core read the program's struct: opdef.c) */
		struct open_how how = { .flags = r->op_flags, .mode = r->arg,
					.resolve = r->off };

		ret = syscall(SYS_openat2, r->fd, PTR(r->addr), &how,
			      sizeof(how));
		break;
	}
	case VOS_OP_COPY_FILE_RANGE:
		/* (addr, addr2: the caller's offsets, or a service's private
		 * copies of them; the kernel reads and writes them) */
		ret = syscall(SYS_copy_file_range, r->fd, PTR(r->addr), r->fd2,
			      PTR(r->addr2), (size_t)r->arg, r->op_flags);
		break;
	case VOS_OP_SENDFILE:
#ifdef SYS_sendfile64
		ret = syscall(SYS_sendfile64, r->fd2, r->fd, PTR(r->addr),
			      (size_t)r->arg);
#else
		ret = syscall(SYS_sendfile, r->fd2, r->fd, PTR(r->addr),
			      (size_t)r->arg);
#endif
		break;
	case VOS_OP_SPLICE:
		ret = syscall(SYS_splice, r->fd, PTR(r->addr), r->fd2,
			      PTR(r->addr2), (size_t)r->arg, r->op_flags);
		break;
	case VOS_OP_DUP3:
		ret = r->len ? dup2(r->fd, (int)r->arg)
			     : dup3(r->fd, (int)r->arg, (int)r->op_flags);
		break;
	case VOS_OP_IOCTL:
		ret = ioctl(r->fd, (unsigned long)r->op_flags, PTR(r->addr));
		break;
	case VOS_OP_SOCKET:
		ret = socket((int)r->arg, (int)r->op_flags, r->fd2);
		break;
	case VOS_OP_BIND:
		ret = bind(r->fd, PTR(r->addr), r->len);
		break;
	case VOS_OP_LISTEN:
		ret = listen(r->fd, (int)r->len);
		break;
	case VOS_OP_ACCEPT:
		ret = accept4(r->fd, PTR(r->addr), PTR(r->addr2),
			      (int)r->op_flags);
		break;
	case VOS_OP_CONNECT:
		ret = connect(r->fd, PTR(r->addr), r->len);
		break;
	case VOS_OP_SHUTDOWN:
		ret = shutdown(r->fd, (int)r->len);
		break;
	case VOS_OP_SEND:
		ret = send(r->fd, PTR(r->addr), r->len,
			   (int)r->op_flags | dontwait);
		break;
	case VOS_OP_RECV:
		ret = recv(r->fd, PTR(r->addr), r->len,
			   (int)r->op_flags | dontwait);
		break;
	case VOS_OP_SENDMSG:
		ret = sendmsg(r->fd, PTR(r->addr), (int)r->op_flags | dontwait);
		break;
	case VOS_OP_RECVMSG:
		ret = recvmsg(r->fd, PTR(r->addr), (int)r->op_flags | dontwait);
		break;
	case VOS_OP_SETSOCKOPT:
		ret = setsockopt(r->fd, (int)r->arg, (int)r->op_flags,
				 PTR(r->addr), r->len);
		break;
	case VOS_OP_GETSOCKOPT:
		ret = getsockopt(r->fd, (int)r->arg, (int)r->op_flags,
				 PTR(r->addr), PTR(r->addr2));
		break;
	case VOS_OP_GETSOCKNAME:
		ret = getsockname(r->fd, PTR(r->addr), PTR(r->addr2));
		break;
	case VOS_OP_GETPEERNAME:
		ret = getpeername(r->fd, PTR(r->addr), PTR(r->addr2));
		break;
	case VOS_OP_POLL: {
		struct pollfd p = { r->fd, (short)r->op_flags, 0 };

		ret = poll(&p, 1, nowait ? 0 : -1);
		if (ret == 0)
			return -EAGAIN;
		if (ret > 0 && (p.revents & POLLNVAL))
			return -EBADF; /* as io_uring says it */
		if (ret > 0)
			ret = (uint16_t)p.revents;
		break;
	}
	case VOS_OP_TIMEOUT: {
		struct timespec ts = { (time_t)(r->off / 1000000000u),
				       (long)(r->off % 1000000000u) };

		if (r->off == 0)
			return 0;
		if (nowait)
			return -EAGAIN;
		ret = clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
		return -ret; /* 0, or the error number itself */
	}
	default:
		return -EINVAL;
	}
	return ret < 0 ? -errno : ret;
}
