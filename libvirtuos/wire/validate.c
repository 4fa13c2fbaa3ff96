/*
 * validate.c - the checks every request passes (validate.h), from the op
 * table's rules.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "opdef.h"
#include "user_mem.h"
#include "validate.h"

/* Whether this kernel's openat(2) refuses O_CREAT | O_DIRECTORY before it
 * reads the path (Linux 6.4 and later): asked once, of a call that can
 * make nothing (dirfd -1, an empty path). */
static bool creat_dir_refused(void)
{
	static int verdict; /* 0 unknown, 1 refused, 2 not */
	int v = __atomic_load_n(&verdict, __ATOMIC_RELAXED);

	if (v == 0) {
		int e = errno, fd = openat(-1, "", O_CREAT | O_DIRECTORY |
					   O_RDWR | O_CLOEXEC, 0600);

		v = fd < 0 && errno == EINVAL ? 1 : 2;
		if (fd >= 0)
			close(fd);
		errno = e;
		/* relaxed: a second asking gets the same answer */
		__atomic_store_n(&verdict, v, __ATOMIC_RELAXED);
	}
	return v == 1;
}

bool vos__null_path_ok(const struct vos_req *r)
{
	static int verdict; /* 0 unknown, 1 taken, 2 -EFAULT */
	int v;

	/* utimensat(fd, NULL, times, 0) is futimens: always taken */
	if (r->op == VOS_OP_UTIMENSAT)
		return !r->addr && r->fd != AT_FDCWD && r->op_flags == 0;
	if (r->op != VOS_OP_STATX || r->addr || !(r->op_flags & AT_EMPTY_PATH))
		return false;
	v = __atomic_load_n(&verdict, __ATOMIC_RELAXED);
	if (v == 0) {
		struct statx sx;
		int e = errno;

		/* dirfd -1: -EBADF where NULL is taken, -EFAULT where not */
		v = syscall(SYS_statx, -1, NULL, AT_EMPTY_PATH, STATX_TYPE,
			    &sx) < 0 && errno == EBADF ? 1 : 2;
		errno = e;
		/* relaxed: a second asking gets the same answer */
		__atomic_store_n(&verdict, v, __ATOMIC_RELAXED);
	}
	return v == 1;
}

/* What openat(2) refuses for its flags alone, before it reads the path
 * (the kernel's build_open_how and build_open_flags); io_uring's openat
 * reads the path first (an empty one: -ENOENT), and stord looks at it
 * first too, so this is answered here, in the kernel's order. */
static int openat_flags_ok(uint64_t f)
{
	/* the kernel's __O_TMPFILE bit (glibc's __O_TMPFILE adds
	 * O_DIRECTORY) */
	const uint64_t tmpfile_bit = __O_TMPFILE & ~(uint64_t)O_DIRECTORY;

	if (f & O_PATH) /* the others are dropped */
		f &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	if ((f & tmpfile_bit) &&
	    ((f & (__O_TMPFILE | O_CREAT)) != __O_TMPFILE ||
	     (f & O_ACCMODE) == O_RDONLY))
		return -EINVAL;
	if ((f & (O_CREAT | O_DIRECTORY)) == (O_CREAT | O_DIRECTORY) &&
	    creat_dir_refused())
		return -EINVAL;
	return 0;
}

int vos__open_how_get(const struct vos_req *r, struct open_how *how)
{
	const unsigned char *u = (const unsigned char *)(uintptr_t)r->addr2;
	const uint64_t tmpfile_bit = __O_TMPFILE & ~(uint64_t)O_DIRECTORY;
	uint64_t size = r->off, f;
	unsigned char tail[64];

	memset(how, 0, sizeof(*how));
	if (size < 24) /* OPEN_HOW_SIZE_VER0 */
		return -EINVAL;
	if (size > (uint64_t)sysconf(_SC_PAGESIZE)) /* the kernel's bound */
		return -E2BIG;
	/* a larger struct than ours: what we do not know must be zero */
	for (uint64_t at = sizeof(*how); at < size; at += sizeof(tail)) {
		size_t n = size - at < sizeof(tail) ? (size_t)(size - at)
						     : sizeof(tail);

		/* (the address as a number: u may be NULL) */
		if (vos__user_read(tail, (const void *)(uintptr_t)(r->addr2 + at),
				   n) < 0)
			return -EFAULT;
		for (size_t i = 0; i < n; i++)
			if (tail[i])
				return -E2BIG;
	}
	if (vos__user_read(how, u, size < sizeof(*how) ? (size_t)size
						       : sizeof(*how)) < 0)
		return -EFAULT;
	f = how->flags;
	if ((f & ~VOS__OPEN_FLAGS) || (how->resolve & ~VOS__RESOLVE_KNOWN) ||
	    (how->resolve & VOS__RESOLVE_SCOPED) == VOS__RESOLVE_SCOPED)
		return -EINVAL;
	if (f & (O_CREAT | tmpfile_bit) ? how->mode & ~(uint64_t)07777
					: how->mode)
		return -EINVAL;
	if ((f & (O_CREAT | O_DIRECTORY)) == (O_CREAT | O_DIRECTORY) &&
	    creat_dir_refused())
		return -EINVAL;
	if ((f & tmpfile_bit) &&
	    ((f & (__O_TMPFILE | O_CREAT)) != __O_TMPFILE ||
	     (f & O_ACCMODE) == O_RDONLY))
		return -EINVAL;
	if ((f & O_PATH) &&
	    (f & ~(uint64_t)(O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)))
		return -EINVAL;
	if ((how->resolve & RESOLVE_CACHED) &&
	    (f & (O_TRUNC | O_CREAT | tmpfile_bit)))
		return -EAGAIN;
	return 0;
}

void vos__open_how_flatten(const struct vos_req *r, struct vos_req *out)
{
	struct open_how how;

	if (vos__open_how_get(r, &how) < 0)
		how = (struct open_how){ .resolve = UINT64_MAX };
	out->op_flags = (uint32_t)how.flags;
	out->arg = how.mode;
	out->off = how.resolve;
	out->addr2 = 0;
}

int vos__times_omitted(const struct vos_req *r)
{
	struct timespec t[2];

	if (r->op != VOS_OP_UTIMENSAT || !r->addr2)
		return 0;
	if (vos__user_read(t, (const void *)(uintptr_t)r->addr2,
			   sizeof(t)) < 0)
		return -EFAULT;
	return t[0].tv_nsec == UTIME_OMIT && t[1].tv_nsec == UTIME_OMIT;
}

int vos__validate(const struct vos_req *r)
{
	const struct vos__opdef *d;
	unsigned f;

	if (!vos__fields_ok(r))
		return -EINVAL;
	d = vos__opdef(r->op);
	f = d->flags;
	/* utimensat reads its times before anything else, and with both
	 * omitted has nothing to do (stage() makes it a NOP) */
	if (r->op == VOS_OP_UTIMENSAT) {
		int t = vos__times_omitted(r);

		if (t != 0)
			return t < 0 ? t : 0;
	}
	/* the kernel refuses a negative offset before it looks at the fd */
	if (vos__op_positional(r) && r->off > (uint64_t)INT64_MAX)
		return -EINVAL;
	/* openat's flag-only refusals come before it reads the path, and
	 * openat2's struct open_how before that */
	if (r->op == VOS_OP_OPENAT && openat_flags_ok(r->op_flags) < 0)
		return -EINVAL;
	if (r->op == VOS_OP_OPENAT2) {
		struct open_how how;
		int e = vos__open_how_get(r, &how);

		if (e < 0)
			return e;
	}
	/* readlinkat takes its size as an int: <= 0 before the path */
	if (r->op == VOS_OP_READLINKAT && (int32_t)r->len <= 0)
		return -EINVAL;
	/* a device number mknodat cannot carry (glibc's check, before the
	 * path) */
	if (r->op == VOS_OP_MKNODAT && r->off > UINT32_MAX)
		return -EINVAL;
	/* a negative length before the path (truncate) or the fd */
	if ((r->op == VOS_OP_TRUNCATE && (int64_t)r->off < 0) ||
	    (r->op == VOS_OP_STATFS && (r->op_flags & ~(uint32_t)AT_EMPTY_PATH)))
		return -EINVAL;
	/* utimensat on the fd itself (a NULL path) takes no flags; the
	 * core's own bit is not a program's */
	if (r->op == VOS_OP_UTIMENSAT &&
	    ((!r->addr && r->fd != AT_FDCWD && r->op_flags) ||
	     (r->op_flags & VOS__AT_FD_ONLY)))
		return -EINVAL;
	/* dup3's flags, then oldfd == newfd (dup2 alone takes that), then
	 * the numbers, as the kernel checks them; len 1 is dup2's (no
	 * flags), nothing else */
	if (r->op == VOS_OP_DUP3 &&
	    (r->len > 1 || (r->op_flags & ~(uint32_t)(r->len ? 0 : O_CLOEXEC)) ||
	     (!r->len && r->fd == (int32_t)r->arg)))
		return -EINVAL;
	if (r->op == VOS_OP_DUP3 && (r->fd < 0 || (int32_t)r->arg < 0))
		return -EBADF;
	if ((f & VOS__OPF_FD) && r->fd < 0)
		return -EBADF;
	if ((f & VOS__OPF_NEED_ADDR) && !r->addr && !vos__null_path_ok(r))
		return -EFAULT;
	if ((f & VOS__OPF_NEED_ADDR2) && !r->addr2)
		return -EFAULT;
	/* (a recv with MSG_TRUNC discards: on a stream the kernel fills no
	 * buffer, so NULL is the idiom; on a datagram socket it copies, and
	 * the copy says -EFAULT) */
	if ((f & VOS__OPF_BUF_LEN) && !r->addr && r->len &&
	    !(r->op == VOS_OP_RECV && (r->op_flags & MSG_TRUNC)))
		return -EFAULT;
	if (f & VOS__OPF_IOVEC) {
		if (r->len > VOS_IOV_MAX)
			return -EINVAL;
		if (!r->addr && r->len)
			return -EFAULT;
	}
	/* accept: an address buffer needs its length */
	if (d->addr == VOS__ARG_SOCKADDR_OUT && r->addr && !r->addr2)
		return -EFAULT;
	return vos__cmd_ok(r);
}
