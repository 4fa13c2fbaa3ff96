/*
 * stord - the storage service daemon.
 *
 * Serves file calls for libvirtuos clients, confined to an export root:
 * every path is resolved with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS) from the directory the call names (the export
 * root for paths the client routes here), so neither "..", an absolute
 * path, a symlink nor a /proc magic link leads out of it.  A ".." that
 * leaves that directory but not the root (from a subdirectory's fd) is
 * resolved again from the root, as the kernel would take it.  A
 * program's openat2 adds its RESOLVE_ bits, which only narrow this: its
 * RESOLVE_IN_ROOT (the directory as "/") stands in for RESOLVE_BENEATH,
 * and with either of the two nothing is resolved again from the root.
 *
 * Path calls run on the server core's slow pool, never on a worker: an
 * open of a FIFO waits for the other end, a lookup on slow media for the
 * disk, and a worker serves many clients.  On the pool thread they run
 * with the client's credentials (effective uid and gid, hence fs ids and
 * no capability of the daemon's, and supplementary groups, set per
 * thread; a failed switch refuses the call), so the kernel's permission
 * checks are the client's; the
 * client's umask (sent when it attached) applies to what it creates.
 * Calls on open fds (read, write, fsync...) go to the engine; their
 * permissions were checked when the fd was opened, as in the kernel.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "opdef.h"
#include "server.h"

static char root_path[4096];
static char root_real[PATH_MAX]; /* root_path, canonical (realpath) */
static gid_t own_groups[VOS__CRED_MAX_GROUPS];
static int own_ngroups;
static uid_t own_uid; /* the daemon's effective ids, read at setup (a */
static gid_t own_gid; /* thread that became a client's says the client's) */

static int stord_option(const char *key, const char *val)
{
	if (strcmp(key, "root") != 0)
		return 0;
	if (strlen(val) >= sizeof(root_path)) {
		fprintf(stderr, "stord: root path too long\n");
		return -1;
	}
	strcpy(root_path, val);
	return 1;
}

static struct srv_service stord;

static int stord_setup(void)
{
	if (!root_path[0]) {
		srv_log(0, "no export root: give --root DIR (or root = DIR in "
			"the config file)");
		return -1;
	}
	stord.root_fd = open(root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (stord.root_fd < 0 || !realpath(root_path, root_real)) {
		srv_log(0, "cannot open export root %s: %s", root_path,
			strerror(errno));
		return -1;
	}
	own_uid = geteuid();
	own_gid = getegid();
	own_ngroups = getgroups(VOS__CRED_MAX_GROUPS, own_groups);
	if (own_ngroups < 0)
		own_ngroups = 0;
	/* only the client's umask applies to what it creates */
	umask(0);
	srv_log(1, "export root %s", root_path);
	return 0;
}

/* This thread's identity: its effective ids (and with them the
 * file-system ids) and groups, by raw system calls (glibc's wrappers would
 * change every thread's).  The effective uid, not only the fs uid: a
 * thread of a root daemon whose euid leaves 0 loses every effective
 * capability (CAP_SYS_PTRACE, CAP_SYS_ADMIN... that setfsuid keeps), and
 * checks made on the euid (/proc/sys, /proc/<pid> links) see the client.
 * The real and saved uids stay the daemon's, so it can come back.  0, or
 * -EPERM if any step failed. */
static int become(const struct srv_client *c)
{
	/* groups and gid while the capabilities last, the uid last */
	if (syscall(SYS_setgroups, c->cred.ngroups, c->cred.groups) != 0 ||
	    syscall(SYS_setresgid, -1, c->cred.gid, -1) != 0 ||
	    syscall(SYS_setresuid, -1, c->cred.uid, -1) != 0)
		return -EPERM;
	return 0;
}

static int become_self(void)
{
	/* the uid first: back to the daemon's, which brings its
	 * capabilities back for the rest */
	if (syscall(SYS_setresuid, -1, own_uid, -1) != 0 ||
	    syscall(SYS_setresgid, -1, own_gid, -1) != 0 ||
	    syscall(SYS_setgroups, own_ngroups, own_groups) != 0)
		return -EPERM;
	return 0;
}

/* openat2 beneath dirfd, with a program's RESOLVE_ bits (openat2) added:
 * its RESOLVE_IN_ROOT in place of RESOLVE_BENEATH (both keep the path in
 * dirfd; the kernel refuses the two together). */
static int openat2_in(int dirfd, const char *path, uint64_t flags,
		      uint64_t mode, uint64_t resolve)
{
	struct open_how how = { .flags = flags | O_CLOEXEC, .mode = mode,
				.resolve = resolve | RESOLVE_NO_MAGICLINKS };
	long fd;

	/* a terminal in the export never becomes the daemon's controlling
	 * terminal (O_PATH takes no such flag; it opens nothing) */
	if (!(flags & O_PATH))
		how.flags |= O_NOCTTY;

	if (!(resolve & RESOLVE_IN_ROOT))
		how.resolve |= RESOLVE_BENEATH;
	fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
	return fd < 0 ? -errno : (int)fd;
}

static int openat2_beneath(int dirfd, const char *path, uint64_t flags,
			   uint64_t mode)
{
	return openat2_in(dirfd, path, flags, mode, 0);
}

/* Where the directory dirfd is below the export root, into rel ("" for
 * the root): from /proc/self/fd, then checked by opening rel from the
 * root and comparing the two (so a directory renamed meanwhile, deleted,
 * or not below the root at all is refused).  0, or -EXDEV. */
static int below_root(int dirfd, char *rel, size_t cap)
{
	char link[64], at[PATH_MAX];
	size_t rl = strlen(root_real);
	struct stat a, b;
	bool same;
	ssize_t n;
	int fd;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
	n = readlink(link, at, sizeof(at) - 1);
	if (n <= 0)
		return -EXDEV;
	at[n] = '\0';
	if (rl == 1)
		rl = 0; /* the root is "/" */
	if (strncmp(at, root_real, rl) || (at[rl] && at[rl] != '/'))
		return -EXDEV;
	if (snprintf(rel, cap, "%s", at + rl + (at[rl] == '/')) >= (int)cap)
		return -EXDEV;
	fd = openat2_beneath(stord.root_fd, rel[0] ? rel : ".",
			     O_PATH | O_DIRECTORY, 0);
	if (fd < 0)
		return -EXDEV;
	same = fstat(fd, &a) == 0 && fstat(dirfd, &b) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
	close(fd);
	return same ? 0 : -EXDEV;
}

/* Open path from dirfd, never out of the export root: beneath dirfd; and
 * where that leaves dirfd (a ".." from a subdirectory of the export, which
 * the kernel takes), beneath the root, from where dirfd is below it.  Out
 * of the root stays -EXDEV. */
static int resolve_how(int dirfd, const char *path, uint64_t flags,
		       uint64_t mode, uint64_t resolve)
{
	char rel[PATH_MAX], joined[PATH_MAX];
	int fd = openat2_in(dirfd, path, flags, mode, resolve);

	/* (a program's BENEATH or IN_ROOT asked for dirfd's bounds) */
	if (fd != -EXDEV || dirfd == stord.root_fd || path[0] == '/' ||
	    (resolve & VOS__RESOLVE_SCOPED) ||
	    below_root(dirfd, rel, sizeof(rel)) < 0 ||
	    snprintf(joined, sizeof(joined), "%s%s%s", rel, rel[0] ? "/" : "",
		     path) >= (int)sizeof(joined))
		return fd;
	return openat2_in(stord.root_fd, joined, flags, mode, resolve);
}

static int resolve(int dirfd, const char *path, uint64_t flags, uint64_t mode)
{
	return resolve_how(dirfd, path, flags, mode, 0);
}

/* Split path into its directory (opened beneath dirfd, O_PATH) and its
 * last component (left in *leaf).  The leaf keeps its trailing slashes,
 * and "." and ".." stay what they are: the kernel's unlinkat, mkdirat and
 * renameat then give their own answers for them ("file/" is ENOTDIR, not
 * the file; rmdir("..") ENOTEMPTY, rename(".") EBUSY...), and none of them
 * follows a symlink in, or looks up, such a last component.  The fd, or
 * -errno. */
static int parent_of(int dirfd, char *path, char **leaf)
{
	size_t end = strlen(path), start;

	while (end > 0 && path[end - 1] == '/')
		end--;
	if (end == 0)
		return -EXDEV; /* "/": absolute */
	start = end;
	while (start > 0 && path[start - 1] != '/')
		start--;
	*leaf = path + start;
	if (start == 0)
		return resolve(dirfd, ".", O_PATH | O_DIRECTORY, 0);
	if (strspn(path, "/") == start)
		return -EXDEV; /* "/x": absolute */
	path[start - 1] = '\0'; /* "a//x" leaves "a/": the same directory */
	return resolve(dirfd, path, O_PATH | O_DIRECTORY, 0);
}

/* What the kernel refuses in a path call's flags and mode before it
 * reads the path (in its order); 0 if nothing. */
static int flags_first(const struct vos_req *r)
{
	switch (r->op) {
	case VOS_OP_FCHMODAT: /* glibc's fchmodat, as programs call it */
		return r->op_flags & ~(uint32_t)AT_SYMLINK_NOFOLLOW ? -EINVAL
								    : 0;
	case VOS_OP_FCHOWNAT:
		return r->op_flags & ~(uint32_t)(AT_SYMLINK_NOFOLLOW |
						 AT_EMPTY_PATH) ? -EINVAL : 0;
	case VOS_OP_FACCESSAT:
		return (r->arg & ~(uint64_t)(R_OK | W_OK | X_OK)) ||
		       (r->op_flags & ~(uint32_t)(AT_EACCESS |
						  AT_SYMLINK_NOFOLLOW |
						  AT_EMPTY_PATH)) ? -EINVAL : 0;
	case VOS_OP_LINKAT:
		return r->op_flags & ~(uint32_t)(AT_SYMLINK_FOLLOW |
						 AT_EMPTY_PATH) ? -EINVAL : 0;
	case VOS_OP_READLINKAT:
		return (int32_t)r->len <= 0 ? -EINVAL : 0;
	case VOS_OP_OPENAT2:
		/* openat2's mode rules, before the client's umask goes in
		 * (the kernel checks the rest: flags, RESOLVE_ bits) */
		if (r->op_flags & (O_CREAT | (__O_TMPFILE & ~O_DIRECTORY)))
			return r->arg & ~(uint64_t)07777 ? -EINVAL : 0;
		return r->arg ? -EINVAL : 0;
	case VOS_OP_UTIMENSAT:
		/* (the times' nanoseconds are checked after the lookup);
		 * futimens's form: "" and the fd open for I/O */
		if (r->op_flags & VOS__AT_FD_ONLY)
			return r->op_flags != (VOS__AT_FD_ONLY | AT_EMPTY_PATH)
			       ? -EINVAL : 0;
		return r->op_flags & ~(uint32_t)(AT_SYMLINK_NOFOLLOW |
						 AT_EMPTY_PATH) ? -EINVAL : 0;
	case VOS_OP_MKNODAT: /* the kernel's may_mknod() */
		switch (r->arg & S_IFMT) {
		case 0: case S_IFREG: case S_IFCHR: case S_IFBLK:
		case S_IFIFO: case S_IFSOCK:
			return 0;
		case S_IFDIR:
			return -EPERM;
		default:
			return -EINVAL;
		}
	default:
		return 0;
	}
}

/* Whether an empty path names the dirfd itself: AT_EMPTY_PATH where the
 * call takes it, and always for readlinkat (the kernel's LOOKUP_EMPTY). */
static bool empty_names_fd(const struct vos_req *r)
{
	switch (r->op) {
	case VOS_OP_STATX: case VOS_OP_FCHOWNAT: case VOS_OP_FACCESSAT:
	case VOS_OP_LINKAT: case VOS_OP_UTIMENSAT: case VOS_OP_STATFS:
		return r->op_flags & AT_EMPTY_PATH;
	case VOS_OP_READLINKAT:
		return true;
	default:
		return false;
	}
}

/* The file path names, opened O_PATH beneath the export (the dirfd
 * itself for an empty path that names it); nofollow: the last component
 * is not followed.  The fd, or -errno. */
static int lookup(const struct vos_req *r, const char *path, bool nofollow)
{
	int fd;

	if (!path[0]) {
		fd = dup(r->fd);
		return fd < 0 ? -errno : fd;
	}
	return resolve(r->fd, path, O_PATH | (nofollow ? O_NOFOLLOW : 0), 0);
}

/* chmod of an O_PATH fd: through its /proc/self/fd link (fchmod refuses
 * O_PATH fds, and fchmodat2's AT_EMPTY_PATH is Linux 6.6+); the link
 * leads to the file that fd holds, looked up beneath the export. */
static int chmod_fd(int fd, mode_t mode)
{
	char link[64];

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	return chmod(link, mode) < 0 ? -errno : 0;
}

/* truncate of an O_PATH fd: through its /proc/self/fd link, as
 * chmod_fd() (ftruncate needs an fd open for writing, which would also
 * open a FIFO or a device); the kernel's checks are truncate(2)'s. */
static int truncate_fd(int fd, off_t length)
{
	char link[64];

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	return truncate(link, length) < 0 ? -errno : 0;
}

/* The calls that act on the file a path names (fchmodat, fchownat,
 * faccessat, readlinkat, utimensat, truncate, statfs), on the O_PATH fd
 * lookup() opened: the kernel checks the thread's ids, the client's. */
static int64_t on_file(const struct vos_req *r, const char *path)
{
	bool nofollow = r->op == VOS_OP_READLINKAT ||
			(r->op_flags & AT_SYMLINK_NOFOLLOW);
	int64_t ret;
	struct stat st;
	int fd;

	if ((r->op_flags & VOS__AT_FD_ONLY) &&
	    (path[0] || (fcntl(r->fd, F_GETFL) & O_PATH)))
		return path[0] ? -EINVAL : -EBADF; /* futimens: as the kernel */
	fd = lookup(r, path, nofollow);
	if (fd < 0)
		return fd;
	switch (r->op) {
	case VOS_OP_FCHMODAT:
		/* a symlink's mode cannot change (glibc's and fchmodat2's
		 * answer) */
		if (nofollow && fstat(fd, &st) == 0 && S_ISLNK(st.st_mode))
			ret = -EOPNOTSUPP;
		else
			ret = chmod_fd(fd, (mode_t)r->arg);
		break;
	case VOS_OP_FCHOWNAT:
		ret = fchownat(fd, "", (uid_t)r->arg, (gid_t)r->off,
			       AT_EMPTY_PATH) < 0 ? -errno : 0;
		break;
	case VOS_OP_UTIMENSAT:
		/* the times: decode.c's private copy, or NULL (now) */
		ret = utimensat(fd, "", (const void *)(uintptr_t)r->addr2,
				AT_EMPTY_PATH) < 0 ? -errno : 0;
		break;
	case VOS_OP_TRUNCATE:
		ret = truncate_fd(fd, (off_t)r->off);
		break;
	case VOS_OP_STATFS: /* into the data area (decode.c) */
		ret = fstatfs(fd, (void *)(uintptr_t)r->addr2) < 0 ? -errno : 0;
		break;
	case VOS_OP_FACCESSAT:
		/* AT_EACCESS always: the thread's fsuid is the client's;
		 * without it the kernel would check stord's real ids */
		ret = faccessat(fd, "", (int)r->arg,
				AT_EMPTY_PATH | AT_EACCESS) < 0 ? -errno : 0;
		break;
	default: /* VOS_OP_READLINKAT: into the data area (decode.c) */
		ret = readlinkat(fd, "", (char *)(uintptr_t)r->addr2, r->len);
		ret = ret < 0 ? -errno : ret;
		/* the kernel says -ENOENT for an empty path that names no
		 * link, -EINVAL for a name that does not: ours was a name */
		if (ret == -ENOENT && path[0])
			ret = -EINVAL;
		break;
	}
	close(fd);
	return ret;
}

/* The new name's parent (renameat, linkat: fd2 and path2), or -errno
 * with the old one's fd closed. */
static int new_parent(const struct vos_req *r, char *path2, char **leaf2,
		      int fd)
{
	int fd2 = parent_of(r->fd2, path2, leaf2);

	if (fd2 < 0)
		close(fd);
	return fd2;
}

/* linkat: the new name made in its parent; the old file, when followed or
 * named by an fd, through its O_PATH fd (its /proc/self/fd link with
 * AT_SYMLINK_FOLLOW: no capability needed, and the file was looked up
 * beneath the export); else the old name from its parent, not followed. */
static int64_t link_call(const struct vos_req *r, char *path, char *path2)
{
	char *leaf, *leaf2, link[64];
	int64_t ret;
	int fd, fd2;
	bool by_fd = (r->op_flags & AT_SYMLINK_FOLLOW) ||
		     (!path[0] && (r->op_flags & AT_EMPTY_PATH));

	fd = by_fd ? lookup(r, path, false) : parent_of(r->fd, path, &leaf);
	if (fd < 0)
		return fd;
	fd2 = new_parent(r, path2, &leaf2, fd);
	if (fd2 < 0)
		return fd2;
	if (!by_fd) {
		ret = linkat(fd, leaf, fd2, leaf2, 0);
	} else if (!path[0]) {
		/* the kernel's rule for AT_EMPTY_PATH (a capability), on
		 * the thread's creds: the client's */
		ret = linkat(fd, "", fd2, leaf2, AT_EMPTY_PATH);
	} else {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		ret = linkat(AT_FDCWD, link, fd2, leaf2, AT_SYMLINK_FOLLOW);
	}
	ret = ret < 0 ? -errno : 0;
	close(fd);
	close(fd2);
	return ret;
}

static int64_t path_call(struct srv_client *c, struct srv_req *q, char *path,
			 char *path2)
{
	const struct vos_req *r = &q->d.r;
	const struct vos__opdef *d = vos__opdef(r->op);
	char *leaf, *leaf2;
	int64_t ret;
	int fd, fd2;

	/* utimensat with both times omitted: done before anything is looked
	 * at (the times are decode.c's private copy) */
	if (r->op == VOS_OP_UTIMENSAT && r->addr2 &&
	    ((const struct timespec *)(uintptr_t)r->addr2)[0].tv_nsec ==
	    UTIME_OMIT &&
	    ((const struct timespec *)(uintptr_t)r->addr2)[1].tv_nsec ==
	    UTIME_OMIT)
		return 0;
	ret = flags_first(r);
	if (ret == 0)
		ret = vos__dreq_path(&q->data, &q->d, 0, path, 4096);
	if (ret >= 0 && d->addr2 == VOS__ARG_PATH)
		ret = vos__dreq_path(&q->data, &q->d, 1, path2, 4096);
	if (ret < 0)
		return ret;
	/* an empty path names nothing (AT_EMPTY_PATH aside), as for the
	 * kernel */
	if ((!path[0] && !empty_names_fd(r)) ||
	    (d->addr2 == VOS__ARG_PATH && !path2[0]))
		return -ENOENT;
	switch (r->op) {
	case VOS_OP_OPENAT: {
		/* what openat(2) makes of its arguments before openat2 sees
		 * them (the kernel's build_open_how): unknown flag bits
		 * dropped, the mode only with O_CREAT or O_TMPFILE, and
		 * only its permission bits */
		uint64_t flags = r->op_flags & VOS__OPEN_FLAGS, mode = 0;

		if ((flags & O_CREAT) ||
		    (flags & __O_TMPFILE) == __O_TMPFILE) /* it holds
							    * O_DIRECTORY */
			mode = r->arg & 07777 & ~(uint64_t)c->umask;
		if (flags & O_PATH)
			flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
		return resolve(r->fd, path, flags, mode);
	}
	case VOS_OP_OPENAT2:
		/* as the program asked (the kernel refuses what openat2
		 * refuses), its RESOLVE_ bits with ours */
		return resolve_how(r->fd, path, r->op_flags,
				   r->arg & ~(uint64_t)c->umask, r->off);
	case VOS_OP_STATX:
		/* statx(2)'s own checks, in its order: before the lookup */
		if ((r->op_flags & AT_STATX_SYNC_TYPE) == AT_STATX_SYNC_TYPE ||
		    (r->arg & STATX__RESERVED) ||
		    (r->op_flags & ~(uint64_t)(AT_SYMLINK_NOFOLLOW |
					       AT_NO_AUTOMOUNT | AT_EMPTY_PATH |
					       AT_STATX_SYNC_TYPE)))
			return -EINVAL;
		if (!path[0] && (r->op_flags & AT_EMPTY_PATH)) {
			fd = dup(r->fd);
			if (fd < 0)
				return -errno;
		} else {
			fd = resolve(r->fd, path, O_PATH |
				     (r->op_flags & AT_SYMLINK_NOFOLLOW ?
				      O_NOFOLLOW : 0), 0);
			if (fd < 0)
				return fd;
		}
		ret = statx(fd, "", AT_EMPTY_PATH | (r->op_flags &
			    AT_STATX_SYNC_TYPE), (unsigned)r->arg,
			    (struct statx *)(uintptr_t)r->addr2) < 0 ? -errno : 0;
		close(fd);
		return ret;
	case VOS_OP_UNLINKAT: case VOS_OP_MKDIRAT:
		fd = parent_of(r->fd, path, &leaf);
		if (fd < 0)
			return fd;
		if (r->op == VOS_OP_UNLINKAT)
			ret = unlinkat(fd, leaf, (int)r->op_flags);
		else
			ret = mkdirat(fd, leaf, (mode_t)r->arg & ~c->umask);
		ret = ret < 0 ? -errno : 0;
		close(fd);
		return ret;
	case VOS_OP_RENAMEAT:
		fd = parent_of(r->fd, path, &leaf);
		if (fd < 0)
			return fd;
		fd2 = new_parent(r, path2, &leaf2, fd);
		if (fd2 < 0)
			return fd2;
		ret = renameat2(fd, leaf, fd2, leaf2, r->op_flags) < 0 ? -errno
								       : 0;
		close(fd);
		close(fd2);
		return ret;
	case VOS_OP_FCHMODAT: case VOS_OP_FCHOWNAT: case VOS_OP_FACCESSAT:
	case VOS_OP_READLINKAT: case VOS_OP_UTIMENSAT: case VOS_OP_TRUNCATE:
	case VOS_OP_STATFS:
		return on_file(r, path);
	case VOS_OP_MKNODAT:
		fd = parent_of(r->fd, path, &leaf);
		if (fd < 0)
			return fd;
		/* the client's umask on the permission bits, as mkdirat */
		ret = mknodat(fd, leaf, (mode_t)r->arg & ~c->umask,
			      (dev_t)r->off) < 0 ? -errno : 0;
		close(fd);
		return ret;
	case VOS_OP_LINKAT:
		return link_call(r, path, path2);
	case VOS_OP_SYMLINKAT:
		/* the target (path2) is stored, never looked up */
		fd = parent_of(r->fd, path, &leaf);
		if (fd < 0)
			return fd;
		ret = symlinkat(path2, fd, leaf) < 0 ? -errno : 0;
		close(fd);
		return ret;
	default:
		return -EINVAL;
	}
}

static int64_t stord_run_slow(struct srv_client *c, struct srv_req *q,
			      char *path, char *path2)
{
	int64_t res = become(c);

	if (res == 0)
		res = path_call(c, q, path, path2);
	if (become_self() < 0) {
		/* the thread cannot get its own identity back: it has only
		 * the client's, less than its own; say so once */
		srv_log(0, "slow pool: cannot restore the daemon's "
			"credentials on a thread");
	}
	return res;
}

static int stord_execute(struct srv_client *c, struct srv_req *q, int64_t *res)
{
	const struct vos__opdef *d = vos__opdef(q->op);

	(void)c;
	(void)res;
	if (d->svc == VOS__SVC_NET) /* sockets are netd's */
		return (d->flags & VOS__OPF_FD) ? -ENOTSOCK : -EOPNOTSUPP;
	if (d->svc == VOS__SVC_FILE)
		return SRV_SLOW; /* path calls may block: the slow pool */
	return SRV_RUN;
}

static struct srv_service stord = {
	.name = "stord",
	.summary = "The libvirtuos storage service: file calls in their own "
		   "protection domain, confined to an export root.",
	.default_socket = "/run/virtuos/stord.sock",
	.extra_help =
		"Storage options:\n"
		"      --root DIR        the export root (required): no path\n"
		"                        leads out of it\n",
	.option = stord_option,
	.setup = stord_setup,
	.root_fd = -1,
	.execute = stord_execute,
	.run_slow = stord_run_slow,
};

int main(int argc, char **argv)
{
	return srv_main(&stord, argc, argv);
}
