/*
 * check_differential.c - every file call libvirtuos offers, on every
 * route, against the kernel's own call on a twin fixture.
 *
 * A case is one call with its arguments (an open with its flags on one of
 * the fixture's names, a pread of some length at some offset...).  Each
 * case runs on a fresh fixture with plain system calls (the reference),
 * then on a fresh fixture through each route:
 *
 *   io_uring backend, punted calls run inline  (VOS_LOCAL_PUNTED=inline)
 *   io_uring backend, punted calls on the ring (VOS_LOCAL_PUNTED=ring)
 *   compat backend                              (VOS_LOCAL_BACKEND=compat)
 *   through stord                               (a real daemon, its export)
 *
 * and its outcome must be the reference's: the result or -errno, what it
 * read (count and bytes), what an fd it made says (statx, F_GETFL,
 * F_GETFD), and the tree left behind (type, mode, owner, links, size,
 * content, link target: tree.h).  All of it runs as root, then again as
 * uid 65534 (the fixture stays root's, with a few entries of the other
 * user's), so EACCES and EPERM through stord are checked with the
 * client's credentials.
 *
 * A second part runs socket calls (socket, bind, listen, accept, connect,
 * send, recv, shutdown, get/setsockopt, get*name, sendmsg, recvmsg) on
 * sockets made through each route (netd's on the routed one), and
 * compares what they say as text.
 *
 * A difference kept by design (doc/semantics.md: stord's -EXDEV for an
 * absolute symlink; faccessat's real ids through stord; linkat with
 * AT_EMPTY_PATH by a caller that did not open the fd) is counted apart,
 * and each must be seen.  The last line says "N cases x R routes, M mismatches";
 * M must be 0.
 */
#define _GNU_SOURCE
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/openat2.h>
#include <linux/falloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/uio.h>
#include <unistd.h>
#include <virtuos/virtuos.h>

#include "daemon.h"
#include "tree.h"

#define NOBODY 65534
#define BIG 200000 /* three data slots and some */

/* ---- the fixture ---------------------------------------------------------- */

/* Files of several sizes and modes (one the other user's), directories
 * empty, full, writable by all and closed to others, symlinks relative,
 * absolute, dangling, looping and through "..", a FIFO. */
static void fixture(const char *t)
{
	static char big[BIG];
	char p[600];

	for (int i = 0; i < BIG; i++)
		big[i] = (char)(i % 251);
	ck_assert_int_eq(mkdir(t, 0755), 0);
	put_file(t, "f", "data", 4, 0644);
	put_file(t, "big", big, BIG, 0644);
	put_file(t, "ro", "ro", 2, 0444);
	put_file(t, "secret", "s", 1, 0600);
	put_file(t, "mine", "m", 1, 0644);
	snprintf(p, sizeof(p), "%s/mine", t);
	ck_assert_int_eq(chown(p, NOBODY, NOBODY), 0);
	put_file(t, "empty", "", 0, 0644);
	put_dir(t, "d", 0755);
	put_dir(t, "dn", 0755);
	put_dir(t, "dn/x", 0700);
	put_file(t, "dn/y", "y", 1, 0644);
	put_dir(t, "dw", 0777);
	put_file(t, "dw/w", "w", 1, 0644);
	put_dir(t, "locked", 0700);
	put_file(t, "locked/z", "z", 1, 0644);
	put_link(t, "ls", "f");
	put_link(t, "ld", "d");
	put_link(t, "lx", "nowhere");
	put_link(t, "loop", "loop");
	put_link(t, "la", "/etc/passwd");
	put_link(t, "lup", "../t/f");
	snprintf(p, sizeof(p), "%s/fifo", t);
	ck_assert_int_eq(mkfifo(p, 0644), 0);
}

/* ---- the cases ------------------------------------------------------------ */

enum dop {
	D_OPEN, D_STATX, D_MKDIR, D_UNLINK, D_RENAME,
	D_PREAD, D_READ, D_PWRITE, D_WRITE, D_READV, D_WRITEV,
	D_FTRUNCATE, D_FALLOCATE, D_FSYNC, D_FDATASYNC, D_GETDENTS, D_SETFL,
	D_CHMOD, D_CHOWN, D_ACCESS, D_LINK, D_SYMLINK, D_READLINK, D_LSEEK,
	D_UTIMES, D_MKNOD, D_TRUNCATE, D_STATFS,
	D_FUTIMENS, D_FADVISE, D_SYNCRANGE, D_SYNCFS, D_FSTATFS, D_LOCK,
	D_DUP, D_OPEN2, D_COPY,
};

static const char *const op_names[] = {
	"openat", "statx", "mkdirat", "unlinkat", "renameat",
	"pread", "read", "pwrite", "write", "readv", "writev",
	"ftruncate", "fallocate", "fsync", "fdatasync", "getdents", "F_SETFL",
	"fchmodat", "fchownat", "faccessat", "linkat", "symlinkat",
	"readlinkat", "lseek",
	"utimensat", "mknodat", "truncate", "statfs",
	"futimens", "fadvise", "sync_file_range", "syncfs", "fstatfs",
	"fcntl_lock", "dup3", "openat2", "copy",
};

struct dcase {
	enum dop op;
	const char *path, *path2;
	bool abs;     /* path calls: by absolute path, on AT_FDCWD */
	int flags;    /* open flags, AT_ flags, rename, fallocate mode, SETFL,
	               * readv and writev: RWF_ flags (preadv2, pwritev2),
	               * lseek's whence, fadvise's advice, sync_file_range's
	               * flags */
	int oflags;   /* fd calls: how path is opened first */
	unsigned mode; /* faccessat: its mode; fchownat: the owner (the group
	                * is len); utimensat, futimens: which times (TM_) */
	uint64_t len;
	int64_t off;  /* readv/writev: -1 is the file position */
	short whence, pid; /* fcntl_lock: the lock's (flags: the command,
	                    * mode: l_type, off: l_start, len: l_len) */
	                   /* dup3: flags its flags, mode 1 for dup2, len
	                    * the newfd (DUP_TO_*); openat2: flags, mode as
	                    * openat's, len the RESOLVE_ bits, off the size
	                    * (0: the struct's; -1: 40 bytes with a byte set
	                    * past it; -2: a NULL struct) */
	                   /* copy: whence the call (COPY_*), pid the other
	                    * end (PEER_*), mode 1 when fd is the output;
	                    * off fd's offset (-1: NULL), len the count,
	                    * flags the call's */
};

/* copy_file_range, sendfile, splice (D_COPY's whence) */
enum { COPY_CFR, COPY_SENDFILE, COPY_SPLICE, COPY_N };

/* the other end of a copy (D_COPY's pid): */
enum {
	PEER_SAME,  /* a file of the fixture, opened on the route ("mine",
	             * the other user's, to write into; "big" to read from) */
	PEER_LOCAL, /* a local file outside the fixture (O_TMPFILE in /tmp:
	             * another domain than stord's) */
	PEER_PIPE,  /* a local pipe (holding 10 bytes, to read from) */
	PEER_BAD,   /* -1 */
	PEER_N
};

/* dup3 (dup2: mode 1) of fd onto: */
enum {
	DUP_TO_FREE,   /* a free number */
	DUP_TO_FILE,   /* "big" opened from dfd (stord's on its route) */
	DUP_TO_PIPE,   /* a local pipe's read end */
	DUP_TO_SELF,   /* fd itself */
	DUP_TO_BAD,    /* -1 */
	DUP_FROM_SHUT, /* (onto a free number) from a number just closed */
	DUP_NTO
};

static struct dcase cases[5000];
static int ncases;

static void add(struct dcase c)
{
	ck_assert_int_lt(ncases, (int)(sizeof(cases) / sizeof(cases[0])));
	cases[ncases++] = c;
}

static const char *const names[] = {
	"f", "f/", "big", "ro", "secret", "mine", "empty", "d", "d/", "dn",
	"dn/x", "dn/y", "dw", "dw/w", "dw/new", "locked/z", "ls", "ld", "ld/",
	"lx", "loop", "la", "lup", "fifo", "missing", "missing/x", "", ".",
	"d/..", "new",
};
#define NNAMES (int)(sizeof(names) / sizeof(names[0]))

/* An open that would wait for the FIFO's other end. */
static bool opens_fifo_blocking(const char *name, int flags)
{
	return !strcmp(name, "fifo") &&
	       !(flags & (O_NONBLOCK | O_PATH | O_DIRECTORY)) &&
	       !((flags & O_CREAT) && (flags & O_EXCL));
}

/* The calls of 0.3: fchmodat, fchownat, faccessat, readlinkat and
 * symlinkat on every name; linkat between names; lseek on files. */
static void make_cases_v3(void)
{
	static const char *const lfrom[] = {
		"f", "f/", "d", "ls", "lx", "la", "missing", "mine", "locked/z",
	};
	static const char *const lto[] = { "new", "f", "dw/new", "d/", "ld/x" };
	static const struct { int64_t off; int whence; } seeks[] = {
		{ 0, SEEK_SET }, { 2, SEEK_SET }, { -1, SEEK_SET },
		{ 0, SEEK_END }, { -3, SEEK_END }, { 10, SEEK_CUR },
		{ 0, SEEK_DATA }, { 0, SEEK_HOLE }, { 199999, SEEK_DATA },
		{ BIG, SEEK_DATA }, { 0, 7 },
	};
	static const struct { const char *p; int of; } sfds[] = {
		{ "f", O_RDONLY }, { "big", O_RDONLY }, { "empty", O_RDWR },
		{ "d", O_RDONLY | O_DIRECTORY }, { "f", O_PATH },
	};
	const unsigned nobody = NOBODY;

	for (int n = 0; n < NNAMES; n++) {
		const char *p = names[n];
		bool named = p[0] != '\0';

		add((struct dcase){ .op = D_CHMOD, .path = p, .mode = 0600 });
		add((struct dcase){ .op = D_CHMOD, .path = p, .mode = 04755 });
		add((struct dcase){ .op = D_CHMOD, .path = p, .mode = 0640,
				    .flags = AT_SYMLINK_NOFOLLOW });
		add((struct dcase){ .op = D_CHOWN, .path = p, .mode = nobody,
				    .len = nobody });
		add((struct dcase){ .op = D_CHOWN, .path = p, .mode = (unsigned)-1,
				    .len = nobody,
				    .flags = AT_SYMLINK_NOFOLLOW });
		add((struct dcase){ .op = D_ACCESS, .path = p, .mode = R_OK });
		add((struct dcase){ .op = D_ACCESS, .path = p,
				    .mode = W_OK | X_OK, .flags = AT_EACCESS });
		add((struct dcase){ .op = D_ACCESS, .path = p, .mode = F_OK,
				    .flags = AT_SYMLINK_NOFOLLOW });
		add((struct dcase){ .op = D_READLINK, .path = p, .len = 100 });
		add((struct dcase){ .op = D_SYMLINK, .path = p,
				    .path2 = "f" });
		if (!named)
			continue;
		add((struct dcase){ .op = D_CHMOD, .path = p, .mode = 0700,
				    .abs = true });
		add((struct dcase){ .op = D_CHOWN, .path = p, .mode = 0,
				    .len = 0, .abs = true });
		add((struct dcase){ .op = D_ACCESS, .path = p, .mode = X_OK,
				    .abs = true });
		add((struct dcase){ .op = D_READLINK, .path = p, .len = 3,
				    .abs = true });
		add((struct dcase){ .op = D_SYMLINK, .path = p,
				    .path2 = "/nowhere/x", .abs = true });
	}
	for (size_t i = 0; i < sizeof(lfrom) / sizeof(lfrom[0]); i++)
		for (size_t j = 0; j < sizeof(lto) / sizeof(lto[0]); j++)
			for (int k = 0; k < 2; k++) {
				/* (not a hard link to /etc/passwd) */
				if (k && !strcmp(lfrom[i], "la"))
					continue;
				add((struct dcase){ .op = D_LINK,
						    .path = lfrom[i],
						    .path2 = lto[j],
						    .flags = k ? AT_SYMLINK_FOLLOW
							       : 0,
						    .abs = (i + j) % 3 == 0 });
			}
	/* the fd itself, flags refused, sizes refused, an empty target */
	add((struct dcase){ .op = D_CHOWN, .path = "", .mode = nobody,
			    .len = nobody, .flags = AT_EMPTY_PATH });
	add((struct dcase){ .op = D_ACCESS, .path = "", .mode = W_OK,
			    .flags = AT_EMPTY_PATH | AT_EACCESS });
	add((struct dcase){ .op = D_LINK, .path = "", .path2 = "new",
			    .flags = AT_EMPTY_PATH });
	add((struct dcase){ .op = D_CHMOD, .path = "f", .mode = 0600,
			    .flags = 0x1234 });
	add((struct dcase){ .op = D_CHMOD, .path = "f", .mode = 0600,
			    .flags = AT_EMPTY_PATH });
	add((struct dcase){ .op = D_CHOWN, .path = "f", .mode = 0, .len = 0,
			    .flags = 0x1234 });
	add((struct dcase){ .op = D_ACCESS, .path = "f", .mode = 8 });
	add((struct dcase){ .op = D_ACCESS, .path = "missing", .mode = R_OK,
			    .flags = 0x1234 });
	add((struct dcase){ .op = D_LINK, .path = "missing", .path2 = "new",
			    .flags = 0x1234 });
	add((struct dcase){ .op = D_READLINK, .path = "missing", .len = 0 });
	add((struct dcase){ .op = D_READLINK, .path = "ls",
			    .len = 0xffffffffu });
	add((struct dcase){ .op = D_READLINK, .path = "ls",
			    .len = 0x100000003ull });
	add((struct dcase){ .op = D_SYMLINK, .path = "new", .path2 = "" });
	/* lseek, then a read where it left the position */
	for (size_t i = 0; i < sizeof(sfds) / sizeof(sfds[0]); i++)
		for (size_t j = 0; j < sizeof(seeks) / sizeof(seeks[0]); j++)
			add((struct dcase){ .op = D_LSEEK, .path = sfds[i].p,
					    .oflags = sfds[i].of,
					    .off = seeks[j].off,
					    .flags = seeks[j].whence });
}

/* utimensat's and futimens's times: fixed, none (now), one omitted and
 * one now, a bad nanosecond count */
enum { TM_FIXED, TM_NULL, TM_OMIT_NOW, TM_BAD, TM_OMIT, TM_BADPTR };

static const struct timespec *times_of(unsigned tm)
{
	static const struct timespec t[][2] = {
		[TM_FIXED] = { { 1000000000, 123 }, { 1500000000, 456789 } },
		[TM_OMIT_NOW] = { { 0, UTIME_OMIT }, { 0, UTIME_NOW } },
		[TM_BAD] = { { 0, 0 }, { 0, 1000000000 } },
		[TM_OMIT] = { { 0, UTIME_OMIT }, { 5, UTIME_OMIT } },
	};

	if (tm == TM_BADPTR) /* unmapped: the kernel's first -EFAULT */
		return (const struct timespec *)(uintptr_t)8;
	return tm == TM_NULL ? NULL : t[tm];
}

/* The ops of libvirtuos 0.3's second set: utimensat (futimens), mknodat,
 * truncate, statfs (fstatfs), fadvise, sync_file_range, syncfs. */
static void make_cases_v4(void)
{
	static const struct { const char *p; int of; } fds[] = {
		{ "f", O_RDONLY }, { "big", O_RDWR }, { "ro", O_RDONLY },
		{ "d", O_RDONLY | O_DIRECTORY }, { "f", O_PATH },
		{ "fifo", O_RDONLY | O_NONBLOCK },
	};
	static const struct { int64_t off, len; int flags; } adv[] = {
		{ 0, 0, POSIX_FADV_WILLNEED }, { 100, 4096, POSIX_FADV_DONTNEED },
		{ 0, 0, POSIX_FADV_SEQUENTIAL }, { 0, 0, 99 },
		{ 0, -1, POSIX_FADV_NORMAL }, { -1, 10, POSIX_FADV_NORMAL },
	};
	static const struct { int64_t off, len; int flags; } sfr[] = {
		{ 0, 0, 0 }, { 0, 4096, SYNC_FILE_RANGE_WRITE },
		{ 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
			SYNC_FILE_RANGE_WAIT_AFTER },
		{ 0, 0, 0x100 }, { -1, 0, 0 }, { 0, -1, 0 },
	};

	for (int n = 0; n < NNAMES; n++) {
		const char *p = names[n];

		add((struct dcase){ .op = D_UTIMES, .path = p,
				    .mode = TM_FIXED });
		add((struct dcase){ .op = D_UTIMES, .path = p,
				    .mode = TM_NULL });
		add((struct dcase){ .op = D_UTIMES, .path = p,
				    .mode = TM_OMIT_NOW,
				    .flags = AT_SYMLINK_NOFOLLOW });
		/* (truncate and statfs have no dirfd: by absolute path) */
		add((struct dcase){ .op = D_TRUNCATE, .path = p, .off = 5 });
		add((struct dcase){ .op = D_TRUNCATE, .path = p,
				    .off = 70000 });
		add((struct dcase){ .op = D_STATFS, .path = p });
		add((struct dcase){ .op = D_MKNOD, .path = p,
				    .mode = S_IFIFO | 0666 });
		add((struct dcase){ .op = D_MKNOD, .path = p,
				    .mode = S_IFREG | 0640 });
		if (!p[0])
			continue;
		add((struct dcase){ .op = D_UTIMES, .path = p,
				    .mode = TM_FIXED, .abs = true });
		add((struct dcase){ .op = D_MKNOD, .path = p, .mode = 0600,
				    .abs = true });
	}
	/* the fd itself, refusals in the kernel's order */
	add((struct dcase){ .op = D_UTIMES, .path = "", .mode = TM_FIXED,
			    .flags = AT_EMPTY_PATH });
	add((struct dcase){ .op = D_UTIMES, .path = NULL, .mode = TM_FIXED });
	add((struct dcase){ .op = D_UTIMES, .path = "missing", .mode = TM_BAD });
	add((struct dcase){ .op = D_UTIMES, .path = "f", .mode = TM_BAD,
			    .flags = 0x1234 });
	add((struct dcase){ .op = D_UTIMES, .path = "missing",
			    .mode = TM_FIXED, .flags = 0x1234 });
	/* both omitted: 0 before the flags and the path are looked at */
	add((struct dcase){ .op = D_UTIMES, .path = "missing", .mode = TM_OMIT,
			    .flags = 0x1234 });
	add((struct dcase){ .op = D_UTIMES, .path = "f", .mode = TM_OMIT });
	add((struct dcase){ .op = D_UTIMES, .path = NULL, .mode = TM_OMIT,
			    .flags = AT_SYMLINK_NOFOLLOW });
	add((struct dcase){ .op = D_UTIMES, .path = NULL, .mode = TM_FIXED,
			    .flags = AT_SYMLINK_NOFOLLOW });
	add((struct dcase){ .op = D_UTIMES, .path = NULL, .mode = TM_BADPTR,
			    .flags = 1 });
	add((struct dcase){ .op = D_UTIMES, .path = "missing",
			    .mode = TM_BADPTR });
	/* (len 1: on AT_FDCWD) */
	add((struct dcase){ .op = D_UTIMES, .path = NULL, .mode = TM_OMIT,
			    .len = 1 });
	add((struct dcase){ .op = D_UTIMES, .path = NULL, .mode = TM_FIXED,
			    .len = 1 });
	add((struct dcase){ .op = D_MKNOD, .path = "new", .mode = S_IFIFO | 0600,
			    .len = 1ull << 33 });
	add((struct dcase){ .op = D_TRUNCATE, .path = "missing", .off = -1 });
	add((struct dcase){ .op = D_TRUNCATE, .path = "f", .off = -1 });
	add((struct dcase){ .op = D_MKNOD, .path = "missing/x",
			    .mode = S_IFDIR | 0755 });
	add((struct dcase){ .op = D_MKNOD, .path = "new",
			    .mode = S_IFDIR | 0755 });
	add((struct dcase){ .op = D_MKNOD, .path = "new", .mode = 0170644 });
	add((struct dcase){ .op = D_MKNOD, .path = "new", .mode = S_IFSOCK });
	add((struct dcase){ .op = D_MKNOD, .path = "new",
			    .mode = S_IFCHR | 0600, .len = 0x103 });
	add((struct dcase){ .op = D_MKNOD, .path = "dw/new",
			    .mode = S_IFREG | 0777 });
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		const char *p = fds[i].p;
		int of = fds[i].of;

		add((struct dcase){ .op = D_FUTIMENS, .path = p, .oflags = of,
				    .mode = TM_FIXED });
		add((struct dcase){ .op = D_FUTIMENS, .path = p, .oflags = of,
				    .mode = TM_NULL });
		add((struct dcase){ .op = D_SYNCFS, .path = p, .oflags = of });
		add((struct dcase){ .op = D_FSTATFS, .path = p, .oflags = of });
		for (size_t j = 0; j < sizeof(adv) / sizeof(adv[0]); j++)
			add((struct dcase){ .op = D_FADVISE, .path = p,
					    .oflags = of, .off = adv[j].off,
					    .len = (uint64_t)adv[j].len,
					    .flags = adv[j].flags });
		for (size_t j = 0; j < sizeof(sfr) / sizeof(sfr[0]); j++)
			add((struct dcase){ .op = D_SYNCRANGE, .path = p,
					    .oflags = of, .off = sfr[j].off,
					    .len = (uint64_t)sfr[j].len,
					    .flags = sfr[j].flags });
	}
	add((struct dcase){ .op = D_FUTIMENS, .path = "f", .oflags = O_RDONLY,
			    .mode = TM_BAD });
}

/* fcntl's record locks on each kind of fd: every command, lock type and
 * whence, ranges the kernel takes and refuses, an l_pid the OFD forms
 * refuse, a NULL lock.  (One process: nothing conflicts; the conflicts
 * are check_ops's record_locks.) */
static void make_cases_locks(void)
{
	static const struct { const char *p; int of; } fds[] = {
		{ "f", O_RDONLY }, { "big", O_RDWR }, { "mine", O_WRONLY },
		{ "d", O_RDONLY | O_DIRECTORY }, { "f", O_PATH },
		{ "fifo", O_RDONLY | O_NONBLOCK },
	};
	static const int cmds[] = { F_GETLK, F_SETLK, F_SETLKW, F_OFD_GETLK,
				    F_OFD_SETLK, F_OFD_SETLKW };
	static const int types[] = { F_RDLCK, F_WRLCK, F_UNLCK, 7 };
	static const struct { int64_t start, len; short whence; } rng[] = {
		{ 0, 0, SEEK_SET }, { 5, 10, SEEK_CUR }, { -3, 2, SEEK_END },
		{ -1, 1, SEEK_SET }, { 10, -5, SEEK_SET }, { 0, -5, SEEK_SET },
		{ 0, 1, 9 }, { INT64_MAX, 2, SEEK_SET },
	};

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++) {
			for (size_t t = 0; t < sizeof(types) / sizeof(types[0]);
			     t++)
				add((struct dcase){ .op = D_LOCK,
						    .path = fds[i].p,
						    .oflags = fds[i].of,
						    .flags = cmds[k],
						    .mode = (unsigned)types[t],
						    .whence = SEEK_SET,
						    .len = 10 });
			for (size_t j = 1; j < sizeof(rng) / sizeof(rng[0]);
			     j++)
				add((struct dcase){ .op = D_LOCK,
						    .path = fds[i].p,
						    .oflags = fds[i].of,
						    .flags = cmds[k],
						    .mode = F_RDLCK,
						    .whence = rng[j].whence,
						    .off = rng[j].start,
						    .len = (uint64_t)rng[j].len });
			add((struct dcase){ .op = D_LOCK, .path = fds[i].p,
					    .oflags = fds[i].of,
					    .flags = cmds[k], .mode = F_RDLCK,
					    .pid = 1 });
		}
	/* a NULL lock: -EFAULT */
	add((struct dcase){ .op = D_LOCK, .path = "big", .oflags = O_RDWR,
			    .flags = F_SETLK, .mode = F_RDLCK, .pid = -1 });
	add((struct dcase){ .op = D_LOCK, .path = "big", .oflags = O_RDWR,
			    .flags = F_GETLK, .mode = F_RDLCK, .pid = -1 });
}

/* preadv2/pwritev2 with each RWF_ flag (those of Linux 6.18: NOAPPEND
 * 0x20, ATOMIC 0x40, DONTCACHE 0x80, NOSIGNAL 0x100; 0x200 is none: the
 * kernel refuses it, after its other checks) on files, an O_APPEND one, a
 * directory and a FIFO, at an offset and at the file position, and one
 * write longer than stord's data slot (O_DIRECT: doc/semantics.md) */
static void make_cases_rwf(void)
{
	static const struct { const char *p; int of; } fds[] = {
		{ "f", O_RDWR }, { "big", O_RDWR }, { "f", O_RDWR | O_APPEND },
		{ "ro", O_RDONLY }, { "d", O_RDONLY | O_DIRECTORY },
		{ "fifo", O_RDONLY | O_NONBLOCK },
	};
	static const int fl[] = { RWF_HIPRI, RWF_DSYNC, RWF_SYNC, RWF_NOWAIT,
				  RWF_APPEND, 0x20, 0x40, 0x80, 0x100, 0x200,
				  RWF_NOWAIT | RWF_APPEND,
				  RWF_DSYNC | RWF_HIPRI };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		for (size_t k = 0; k < sizeof(fl) / sizeof(fl[0]); k++) {
			add((struct dcase){ .op = D_READV, .path = fds[i].p,
					    .oflags = fds[i].of, .len = 100,
					    .off = 2, .flags = fl[k] });
			add((struct dcase){ .op = D_READV, .path = fds[i].p,
					    .oflags = fds[i].of, .len = 4096,
					    .off = -1, .flags = fl[k] });
			add((struct dcase){ .op = D_WRITEV, .path = fds[i].p,
					    .oflags = fds[i].of, .len = 5000,
					    .off = 3, .flags = fl[k] });
			add((struct dcase){ .op = D_WRITEV, .path = fds[i].p,
					    .oflags = fds[i].of, .len = 7,
					    .off = -1, .flags = fl[k] });
		}
	add((struct dcase){ .op = D_WRITEV, .path = "big", .oflags = O_RDWR,
			    .len = 150000, .off = 0, .flags = RWF_APPEND });
	add((struct dcase){ .op = D_READV, .path = "big", .oflags = O_RDWR,
			    .len = 150000, .off = 0, .flags = RWF_NOWAIT });
	add((struct dcase){ .op = D_READV, .path = "big", .oflags = O_RDWR,
			    .len = 150000, .off = -1, .flags = RWF_DSYNC });
}

/* openat2: every name with each RESOLVE_ bit (and absolute, scoped and
 * not); flags and modes as openat2 takes them; the struct's own faults */
static void make_cases_openat2(void)
{
	static const uint64_t res[] = {
		0, RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_SYMLINKS,
		RESOLVE_NO_MAGICLINKS, RESOLVE_NO_XDEV,
		RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS,
	}; /* (not RESOLVE_CACHED alone: its -EAGAIN says what the dentry
	    * cache holds at the time, on any route; its refusals are below) */
	static const struct { int fl; unsigned mode; uint64_t res;
			      int64_t size; } odd[] = {
		{ O_RDONLY, 0, 0, 8 }, { O_RDONLY, 0, 0, 23 },
		{ O_RDONLY, 0, 0, 4097 }, { O_RDONLY, 0, 0, -1 },
		{ O_RDONLY, 0, 0, -2 }, { O_RDONLY, 0, 0, 32 },
		{ O_RDONLY, 0640, 0, 0 }, { O_CREAT | O_WRONLY, 010000, 0, 0 },
		{ O_CREAT | O_WRONLY, 0640, RESOLVE_CACHED, 0 },
		{ O_TRUNC | O_WRONLY, 0, RESOLVE_CACHED, 0 },
		{ O_RDONLY, 0, 0x40, 0 },
		{ O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_IN_ROOT, 0 },
		{ 0x4, 0, 0, 0 }, { O_PATH | O_RDWR, 0, 0, 0 },
		{ O_PATH | O_NOFOLLOW | O_CLOEXEC, 0, 0, 0 },
		{ O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0755, 0, 0 },
		{ O_CREAT | O_RDWR, 0640, RESOLVE_BENEATH, 0 },
		{ O_CREAT | O_RDWR, 0640, RESOLVE_IN_ROOT, 0 },
		{ O_TMPFILE | O_RDWR, 0600, 0, 0 }, { O_TMPFILE, 0600, 0, 0 },
		{ O_DIRECTORY, 0, RESOLVE_IN_ROOT, 0 },
		{ 0100000 /* the kernel's O_LARGEFILE */, 0, 0, 0 },
	};
	/* absolute paths from the directory fd (stord's on its route):
	 * RESOLVE_IN_ROOT takes it for "/", RESOLVE_BENEATH refuses them */
	static const char *const rooted[] = {
		"/f", "/la", "/d/../f", "/../f", "/ld/", "/missing", "/lup",
	};
	static const uint64_t rres[] = { RESOLVE_IN_ROOT, RESOLVE_BENEATH,
					 RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS };
	static const char *const onames[] = { "new", "f", "d", "dw/new", "ld/" };

	for (int n = 0; n < NNAMES; n++)
		for (unsigned i = 0; i < sizeof(res) / sizeof(res[0]); i++) {
			if (opens_fifo_blocking(names[n], O_RDONLY))
				continue;
			add((struct dcase){ .op = D_OPEN2, .path = names[n],
					    .len = res[i] });
			/* (not NO_XDEV: the export's own path may cross a
			 * mount, which stord starts below) */
			if (names[n][0] && res[i] != RESOLVE_NO_XDEV &&
			    res[i] != RESOLVE_NO_SYMLINKS)
				add((struct dcase){ .op = D_OPEN2,
						    .path = names[n],
						    .abs = true,
						    .len = res[i] });
		}
	for (unsigned i = 0; i < sizeof(rooted) / sizeof(rooted[0]); i++)
		for (unsigned k = 0; k < sizeof(rres) / sizeof(rres[0]); k++)
			add((struct dcase){ .op = D_OPEN2, .path = rooted[i],
					    .len = rres[k] });
	for (unsigned i = 0; i < sizeof(odd) / sizeof(odd[0]); i++)
		for (unsigned n = 0; n < sizeof(onames) / sizeof(onames[0]);
		     n++)
			add((struct dcase){ .op = D_OPEN2, .path = onames[n],
					    .flags = odd[i].fl,
					    .mode = odd[i].mode,
					    .len = odd[i].res,
					    .off = odd[i].size });
}

/* copy_file_range, sendfile and splice from and into every kind of fd,
 * with every kind of other end, with and without an offset */
static void make_cases_copy(void)
{
	static const struct { const char *p; int of; } fds[] = {
		{ "f", O_RDONLY }, { "big", O_RDONLY }, { "big", O_RDWR },
		{ "f", O_WRONLY }, { "dw/w", O_WRONLY | O_APPEND },
		{ "d", O_RDONLY | O_DIRECTORY }, { "f", O_PATH },
		{ "fifo", O_RDONLY | O_NONBLOCK }, { "empty", O_RDWR },
	};
	static const struct { int64_t off; uint64_t len; } more[] = {
		{ 0, 0 }, { 3, 10 }, { BIG - 1, 10 }, { -5, 10 }, { BIG, 10 },
		{ -1, 0 }, { 7, 150000 },
	};

	for (int call = 0; call < COPY_N; call++)
		for (unsigned i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
			for (int out = 0; out < 2; out++)
				for (int peer = 0; peer < PEER_N; peer++)
					add((struct dcase){
						.op = D_COPY, .path = fds[i].p,
						.oflags = fds[i].of,
						.whence = (short)call,
						.pid = (short)peer,
						.mode = (unsigned)out,
						.off = -1, .len = 150000 });
	/* offsets and counts, on a file that reads and writes */
	for (int call = 0; call < COPY_N; call++)
		for (unsigned m = 0; m < sizeof(more) / sizeof(more[0]); m++)
			for (int out = 0; out < 2; out++)
				for (int peer = 0; peer < PEER_N; peer++)
					add((struct dcase){
						.op = D_COPY, .path = "big",
						.oflags = O_RDWR,
						.whence = (short)call,
						.pid = (short)peer,
						.mode = (unsigned)out,
						.off = more[m].off,
						.len = more[m].len });
	/* flags: copy_file_range takes none, splice its four */
	add((struct dcase){ .op = D_COPY, .path = "big", .oflags = O_RDONLY,
			    .whence = COPY_CFR, .pid = PEER_LOCAL, .off = -1,
			    .len = 10, .flags = 1 });
	add((struct dcase){ .op = D_COPY, .path = "big", .oflags = O_RDONLY,
			    .whence = COPY_SPLICE, .pid = PEER_PIPE, .off = 0,
			    .len = 10, .flags = 0x10 });
	add((struct dcase){ .op = D_COPY, .path = "big", .oflags = O_RDONLY,
			    .whence = COPY_SPLICE, .pid = PEER_PIPE, .off = 0,
			    .len = 10, .flags = SPLICE_F_MORE | SPLICE_F_MOVE });
	add((struct dcase){ .op = D_COPY, .path = "empty", .oflags = O_RDWR,
			    .whence = COPY_SPLICE, .pid = PEER_PIPE, .mode = 1,
			    .off = -1, .len = 10, .flags = SPLICE_F_NONBLOCK });
}

/* dup2 and dup3 of files and a directory onto every kind of newfd */
static void make_cases_dup(void)
{
	static const struct { const char *p; int of; } from[] = {
		{ "f", O_RDONLY }, { "big", O_RDWR | O_APPEND },
		{ "f", O_PATH }, { "d", O_RDONLY | O_DIRECTORY },
	};
	static const int how[][2] = { /* mode, flags */
		{ 1, 0 }, { 0, 0 }, { 0, O_CLOEXEC }, { 0, O_NONBLOCK },
	};

	for (unsigned i = 0; i < sizeof(from) / sizeof(from[0]); i++)
		for (int to = 0; to < DUP_NTO; to++)
			for (unsigned h = 0; h < sizeof(how) / sizeof(how[0]);
			     h++)
				add((struct dcase){ .op = D_DUP,
						    .path = from[i].p,
						    .oflags = from[i].of,
						    .mode = (unsigned)how[h][0],
						    .flags = how[h][1],
						    .len = (uint64_t)to });
}

static void make_cases(void)
{
	static const int oflags[] = {
		O_RDONLY, O_WRONLY, O_RDWR, O_WRONLY | O_CREAT | O_EXCL,
		O_WRONLY | O_CREAT, O_WRONLY | O_TRUNC, O_RDONLY | O_DIRECTORY,
		O_RDONLY | O_NOFOLLOW, O_PATH, O_WRONLY | O_APPEND,
		O_RDWR | O_CREAT | O_DIRECTORY, O_RDONLY | O_NONBLOCK,
		O_RDONLY | O_CLOEXEC, O_RDWR | __O_TMPFILE,
	};
	static const char *const from[] = {
		"f", "f/", "d", "d/", "dn", "ls", "lx", "missing", "mine",
		"dw/w", "locked/z", ".",
	};
	static const char *const to[] = {
		"new", "d", "dn", "f", "dw/new", "ls/", "d/sub",
	};
	static const int rflags[] = { 0, RENAME_NOREPLACE, RENAME_EXCHANGE };
	static const uint64_t lens[] = { 0, 1, 4096, 65536, 65537, 150000,
					 300000 };
	static const int64_t offs[] = { 0, 1, 199999, BIG, 500000 };

	ncases = 0;
	for (int n = 0; n < NNAMES; n++) {
		for (size_t i = 0; i < sizeof(oflags) / sizeof(oflags[0]); i++) {
			if (opens_fifo_blocking(names[n], oflags[i]))
				continue;
			add((struct dcase){ .op = D_OPEN, .path = names[n],
					    .flags = oflags[i],
					    .mode = 0640 });
			if (i < 4 && names[n][0])
				add((struct dcase){ .op = D_OPEN,
						    .path = names[n],
						    .abs = true,
						    .flags = oflags[i],
						    .mode = 0640 });
		}
		add((struct dcase){ .op = D_STATX, .path = names[n] });
		add((struct dcase){ .op = D_STATX, .path = names[n],
				    .flags = AT_SYMLINK_NOFOLLOW });
		if (names[n][0])
			add((struct dcase){ .op = D_STATX, .path = names[n],
					    .abs = true });
		add((struct dcase){ .op = D_MKDIR, .path = names[n],
				    .mode = 0750 });
		add((struct dcase){ .op = D_MKDIR, .path = names[n],
				    .mode = 07777 });
		add((struct dcase){ .op = D_UNLINK, .path = names[n] });
		add((struct dcase){ .op = D_UNLINK, .path = names[n],
				    .flags = AT_REMOVEDIR });
		if (names[n][0])
			add((struct dcase){ .op = D_UNLINK, .path = names[n],
					    .abs = true });
	}
	make_cases_v3();
	make_cases_dup();
	make_cases_copy();
	make_cases_openat2();
	make_cases_v4();
	make_cases_locks();
	make_cases_rwf();
	add((struct dcase){ .op = D_STATX, .path = "", .flags = AT_EMPTY_PATH });
	/* NULL for "" (Linux 6.11 and later; -EFAULT before) */
	add((struct dcase){ .op = D_STATX, .path = NULL,
			    .flags = AT_EMPTY_PATH });
	add((struct dcase){ .op = D_STATX, .path = "f", .flags = 0x40000000 });
	add((struct dcase){ .op = D_UNLINK, .path = "f", .flags = 0x1234 });
	for (size_t i = 0; i < sizeof(from) / sizeof(from[0]); i++)
		for (size_t j = 0; j < sizeof(to) / sizeof(to[0]); j++)
			for (size_t k = 0; k < 3; k++)
				add((struct dcase){ .op = D_RENAME,
						    .path = from[i],
						    .path2 = to[j],
						    .flags = rflags[k],
						    .abs = (i + j + k) % 4 == 0 });
	/* reads: every length at every offset of the big file */
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		for (size_t j = 0; j < sizeof(offs) / sizeof(offs[0]); j++) {
			add((struct dcase){ .op = D_PREAD, .path = "big",
					    .oflags = O_RDONLY,
					    .len = lens[i], .off = offs[j] });
			add((struct dcase){ .op = D_READV, .path = "big",
					    .oflags = O_RDONLY,
					    .len = lens[i], .off = offs[j] });
		}
	{
		/* reads, writes and the rest on files, a directory, a
		 * read-only file, the other user's, a write-only fd */
		static const struct { const char *p; int of; } fds[] = {
			{ "f", O_RDWR }, { "big", O_RDWR }, { "empty", O_RDONLY },
			{ "d", O_RDONLY | O_DIRECTORY }, { "ro", O_RDONLY },
			{ "mine", O_RDWR }, { "f", O_WRONLY }, { "ls", O_RDWR },
			{ "f", O_RDWR | O_APPEND }, { "dw/w", O_RDONLY },
		};

		for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
			const char *p = fds[i].p;
			int of = fds[i].of;

			add((struct dcase){ .op = D_READ, .path = p, .oflags = of,
					    .len = 100 });
			add((struct dcase){ .op = D_READ, .path = p, .oflags = of,
					    .len = 300000 });
			add((struct dcase){ .op = D_READV, .path = p,
					    .oflags = of, .len = 100,
					    .off = -1 });
			add((struct dcase){ .op = D_PREAD, .path = p,
					    .oflags = of, .len = 10, .off = 2 });
			for (int k = 0; k < 3; k++) {
				static const uint64_t wl[] = { 1, 5000, 70000 };
				static const int64_t wo[] = { 0, 3, 250000 };

				add((struct dcase){ .op = D_PWRITE, .path = p,
						    .oflags = of, .len = wl[k],
						    .off = wo[k] });
				add((struct dcase){ .op = D_WRITEV, .path = p,
						    .oflags = of, .len = wl[k],
						    .off = k ? wo[k] : -1 });
			}
			add((struct dcase){ .op = D_WRITE, .path = p,
					    .oflags = of, .len = 7 });
			add((struct dcase){ .op = D_WRITE, .path = p,
					    .oflags = of, .len = 100000 });
			add((struct dcase){ .op = D_FTRUNCATE, .path = p,
					    .oflags = of, .off = 0 });
			add((struct dcase){ .op = D_FTRUNCATE, .path = p,
					    .oflags = of, .off = 300000 });
			add((struct dcase){ .op = D_FALLOCATE, .path = p,
					    .oflags = of, .off = 0,
					    .len = 8192 });
			add((struct dcase){ .op = D_FALLOCATE, .path = p,
					    .oflags = of,
					    .flags = FALLOC_FL_KEEP_SIZE |
						     FALLOC_FL_PUNCH_HOLE,
					    .off = 1, .len = 2 });
			add((struct dcase){ .op = D_FSYNC, .path = p,
					    .oflags = of });
			add((struct dcase){ .op = D_FDATASYNC, .path = p,
					    .oflags = of });
			add((struct dcase){ .op = D_GETDENTS, .path = p,
					    .oflags = of, .len = 4096 });
			add((struct dcase){ .op = D_SETFL, .path = p,
					    .oflags = of,
					    .flags = O_APPEND | O_NONBLOCK });
		}
		add((struct dcase){ .op = D_GETDENTS, .path = "dn",
				    .oflags = O_RDONLY | O_DIRECTORY, .len = 64 });
		add((struct dcase){ .op = D_GETDENTS, .path = "dn",
				    .oflags = O_RDONLY | O_DIRECTORY, .len = 10 });
		add((struct dcase){ .op = D_GETDENTS, .path = ".",
				    .oflags = O_RDONLY | O_DIRECTORY,
				    .len = 65536 });
		add((struct dcase){ .op = D_FTRUNCATE, .path = "f",
				    .oflags = O_RDWR, .off = -1 });
		add((struct dcase){ .op = D_FALLOCATE, .path = "f",
				    .oflags = O_RDWR, .off = 0, .len = 0 });
		add((struct dcase){ .op = D_FALLOCATE, .path = "f",
				    .oflags = O_RDWR, .off = -1, .len = 5 });
		add((struct dcase){ .op = D_FALLOCATE, .path = "f",
				    .oflags = O_RDWR,
				    .flags = FALLOC_FL_PUNCH_HOLE, .off = 0,
				    .len = 2 });
	}
}

/* ---- one case on one route ------------------------------------------------ */

struct outcome {
	long res;
	char info[256];
};

/* A route's call: ctx NULL is the kernel's own. */
#define CALL(native, vos) (ctx ? (long)(vos) : kres((long)(native)))

static long kres(long r)
{
	return r < 0 ? -errno : r;
}

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ ((const unsigned char *)p)[i]) * 1099511628211ull;
	return h;
}

/* What an fd says of itself. */
static void describe_fd(struct vos_ctx *ctx, int fd, char *out, size_t cap)
{
	struct statx sx;
	long st, fl, fdf;

	memset(&sx, 0, sizeof(sx));
	st = CALL(statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx),
		  vos_statx(ctx, fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS,
			    &sx));
	fl = CALL(fcntl(fd, F_GETFL), vos_fcntl(ctx, fd, F_GETFL, 0));
	fdf = CALL(fcntl(fd, F_GETFD), vos_fcntl(ctx, fd, F_GETFD, 0));
	snprintf(out, cap, "statx %ld mode %o uid %u nlink %u size %llu "
		 "fl %lx fd %ld", st, sx.stx_mode, sx.stx_uid, sx.stx_nlink,
		 S_ISREG(sx.stx_mode) ? (unsigned long long)sx.stx_size : 0ull,
		 fl < 0 ? fl : fl & (O_ACCMODE | O_APPEND | O_NONBLOCK | O_PATH |
				     O_DIRECT | O_NOATIME | O_DIRECTORY),
		 fdf);
}

/* A file's access and modification times after utimensat: "now" when
 * within a minute of the clock (the call's UTIME_NOW), else as set. */
static void stamps(struct vos_ctx *ctx, int dfd, const char *path, int flags,
		   char *out, size_t cap)
{
	struct statx sx;
	struct timespec now;
	char t[2][40];
	long st;

	memset(&sx, 0, sizeof(sx));
	st = CALL(statx(dfd, path, flags, STATX_ATIME | STATX_MTIME, &sx),
		  vos_statx(ctx, dfd, path, flags, STATX_ATIME | STATX_MTIME,
			    &sx));
	clock_gettime(CLOCK_REALTIME, &now);
	for (int i = 0; i < 2; i++) {
		const struct statx_timestamp *x = i ? &sx.stx_mtime
						    : &sx.stx_atime;

		if (x->tv_sec > now.tv_sec - 60 && x->tv_sec <= now.tv_sec + 1)
			snprintf(t[i], sizeof(t[i]), "now");
		else
			snprintf(t[i], sizeof(t[i]), "%lld.%09u",
				 (long long)x->tv_sec, x->tv_nsec);
	}
	snprintf(out, cap, "statx %ld atime %s mtime %s", st, t[0], t[1]);
}

/* What statfs says that does not change from call to call. */
static void describe_fs(const struct statfs *sf, char *out, size_t cap)
{
	snprintf(out, cap, "type %lx bsize %ld namelen %ld flags %lx",
		 (unsigned long)sf->f_type, (long)sf->f_bsize,
		 (long)sf->f_namelen, (unsigned long)sf->f_flags);
}

static void close_fd(struct vos_ctx *ctx, int fd)
{
	if (ctx)
		vos_close(ctx, fd);
	else
		close(fd);
}

/* The names a directory fd lists, as a count and a hash of the sorted
 * names ("." and ".." left out), with buffers of len bytes. */
static long list_dir(struct vos_ctx *ctx, int fd, uint64_t len, char *out,
		     size_t cap)
{
	static char names_seen[64][256];
	char *buf = malloc(len);
	int n = 0;
	long r;
	uint64_t h = 1469598103934665603ull;

	ck_assert_ptr_nonnull(buf);
	while ((r = CALL(syscall(SYS_getdents64, fd, buf, len),
			 vos_getdents(ctx, fd, buf, len))) > 0) {
		for (long o = 0; o < r;) {
			struct dirent64 *e = (struct dirent64 *)(buf + o);

			if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
				ck_assert_int_lt(n, 64);
				snprintf(names_seen[n++], 256, "%s", e->d_name);
			}
			o += e->d_reclen;
		}
	}
	qsort(names_seen, (size_t)n, sizeof(names_seen[0]), tree_line_cmp);
	for (int i = 0; i < n; i++)
		h = fnv(names_seen[i], strlen(names_seen[i]) + 1, h);
	snprintf(out, cap, "%d names %016llx", n, (unsigned long long)h);
	free(buf);
	return r < 0 ? r : n;
}

static void pattern(char *b, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		b[i] = (char)('A' + i % 23);
}

/* The result as "newfd" (1000) or -errno, and in info what newfd then
 * says (describe_fd), what it reads, where fd's offset went (shared), and
 * what the pipe's read end says once its write end is gone (a dup onto
 * it closed it). */
static long dup_case(struct vos_ctx *ctx, int dfd, int fd,
		     const struct dcase *c, char *out, size_t cap)
{
	int to = -1, p[2] = { -1, -1 }, from = fd;
	char rb[16], d[200];
	long r, n, pos;

	switch (c->len) {
	case DUP_TO_FREE:
	case DUP_FROM_SHUT:
		to = dup(0);
		close(to);
		break;
	case DUP_TO_FILE:
		to = (int)CALL(openat(dfd, "big", O_RDONLY, 0),
			       vos_openat(ctx, dfd, "big", O_RDONLY, 0));
		ck_assert_int_ge(to, 0);
		break;
	case DUP_TO_PIPE:
		ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
		to = p[0];
		break;
	case DUP_TO_SELF:
		to = fd;
		break;
	}
	if (c->len == DUP_FROM_SHUT) {
		from = dup(0);
		close(from);
		if (from == to)
			to++; /* (free as well, or the call says so alike) */
	}
	r = c->mode ? CALL(dup2(from, to), vos_dup2(ctx, from, to))
		    : CALL(dup3(from, to, c->flags),
			   vos_dup3(ctx, from, to, c->flags));
	if (r >= 0) {
		describe_fd(ctx, to, d, sizeof(d));
		n = CALL(read(to, rb, sizeof(rb)),
			 vos_read(ctx, to, rb, sizeof(rb)));
		pos = to == fd ? 0 : CALL(lseek(fd, 0, SEEK_CUR),
					  vos_lseek(ctx, fd, 0, SEEK_CUR));
		snprintf(out, cap, "%s; read %ld %016llx; fd at %ld", d, n,
			 n > 0 ? (unsigned long long)fnv(rb, (size_t)n, 1) : 0,
			 pos);
	}
	if (p[1] >= 0) {
		/* a dup onto the read end closed it: the write end's
		 * peer is gone */
		n = write(p[1], "x", 1) < 0 ? -errno : 1;
		snprintf(out + strlen(out), cap - strlen(out), "; pipe %ld", n);
		close(p[1]);
	}
	if (to != fd && to >= 0 && (r >= 0 || c->len == DUP_TO_FILE ||
				    c->len == DUP_TO_PIPE))
		close_fd(ctx, to);
	return r >= 0 ? (r == to ? 1000 : 2000) : r;
}

/* A copy between fd (c->path on the route) and its other end: the
 * result, and in info the offset written back, where fd's position went,
 * and what the other end holds or says (the bytes a local file or the
 * pipe got, a local input's position). */
static long copy_case(struct vos_ctx *ctx, int dfd, int fd,
		      const struct dcase *c, char *out, size_t cap)
{
	static const char pipe_bytes[] = "pipe-bytes";
	char got[4096];
	int other = -1, p[2] = { -1, -1 }, in, outfd;
	int64_t off = c->off, *offp = c->off == -1 ? NULL : &off;
	long r, n, pos, opos = -1;

	switch (c->pid) {
	case PEER_SAME:
		other = (int)CALL(openat(dfd, c->mode ? "big" : "mine",
					 c->mode ? O_RDONLY : O_RDWR, 0),
				  vos_openat(ctx, dfd, c->mode ? "big" : "mine",
					     c->mode ? O_RDONLY : O_RDWR, 0));
		ck_assert_int_ge(other, 0);
		break;
	case PEER_LOCAL:
		other = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		ck_assert_int_ge(other, 0);
		ck_assert_int_eq(write(other, "local-bytes-0123456789", 22), 22);
		ck_assert_int_eq(lseek(other, c->mode ? 2 : 0, SEEK_SET),
				 c->mode ? 2 : 0);
		break;
	case PEER_PIPE:
		ck_assert_int_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
		if (c->mode) {
			ck_assert_int_eq(write(p[1], pipe_bytes, 10), 10);
			/* (blocking again: the call may wait as it would) */
			ck_assert_int_eq(fcntl(p[0], F_SETFL, 0), 0);
		}
		other = c->mode ? p[0] : p[1];
		break;
	default:
		break;
	}
	in = c->mode ? other : fd;
	outfd = c->mode ? fd : other;
	switch (c->whence) {
	case COPY_CFR:
		r = CALL(copy_file_range(in, c->mode ? NULL : offp, outfd,
					 c->mode ? offp : NULL, c->len,
					 (unsigned)c->flags),
			 vos_copy_file_range(ctx, in, c->mode ? NULL : offp,
					     outfd, c->mode ? offp : NULL,
					     c->len, (unsigned)c->flags));
		break;
	case COPY_SENDFILE:
		/* (fd's offset: sendfile has only the input's) */
		r = CALL(sendfile(outfd, in, c->mode ? NULL : offp, c->len),
			 vos_sendfile(ctx, outfd, in, c->mode ? NULL : offp,
				      c->len));
		break;
	default:
		r = CALL(splice(in, c->mode ? NULL : offp, outfd,
				c->mode ? offp : NULL, c->len,
				(unsigned)c->flags),
			 vos_splice(ctx, in, c->mode ? NULL : offp, outfd,
				    c->mode ? offp : NULL, c->len,
				    (unsigned)c->flags));
		break;
	}
	pos = CALL(lseek(fd, 0, SEEK_CUR), vos_lseek(ctx, fd, 0, SEEK_CUR));
	n = 0;
	if (c->pid == PEER_LOCAL && !c->mode) {
		n = pread(other, got, sizeof(got), 0);
	} else if (c->pid == PEER_LOCAL) {
		opos = lseek(other, 0, SEEK_CUR);
	} else if (c->pid == PEER_PIPE) {
		/* what the pipe holds now (nonblocking: its write end is
		 * open) */
		ck_assert_int_eq(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
		n = read(p[0], got, sizeof(got));
	}
	snprintf(out, cap, "off %lld; fd at %ld; other at %ld; holds %ld "
		 "%016llx", (long long)off, pos, opos, n,
		 n > 0 ? (unsigned long long)fnv(got, (size_t)n, 1) : 0);
	if (c->pid == PEER_SAME)
		close_fd(ctx, other);
	else if (other >= 0)
		close(other);
	if (p[0] >= 0 && p[0] != other)
		close(p[0]);
	if (p[1] >= 0 && p[1] != other)
		close(p[1]);
	return r;
}

static void run_case(struct vos_ctx *ctx, int dfd, const char *root,
		     const struct dcase *c, struct outcome *o)
{
	char p1[700], p2[700], *buf = NULL;
	const char *a = c->path, *b = c->path2;
	int d1 = dfd, d2 = dfd, fd;
	long r = 0;

	o->info[0] = '\0';
	if (c->abs || c->op == D_TRUNCATE || c->op == D_STATFS) {
		snprintf(p1, sizeof(p1), "%s/%s", root, c->path);
		a = p1;
		d1 = AT_FDCWD;
		if (b && c->op != D_SYMLINK) { /* (its target: as given) */
			snprintf(p2, sizeof(p2), "%s/%s", root, c->path2);
			b = p2;
			d2 = AT_FDCWD;
		}
	}
	switch (c->op) {
	case D_OPEN:
		fd = (int)CALL(openat(d1, a, c->flags, c->mode),
			       vos_openat(ctx, d1, a, c->flags, c->mode));
		o->res = fd < 0 ? fd : 0;
		if (fd >= 0) {
			describe_fd(ctx, fd, o->info, sizeof(o->info));
			close_fd(ctx, fd);
		}
		return;
	case D_OPEN2: {
		struct { struct open_how h; uint64_t more[2]; } how = {
			{ .flags = (uint64_t)(uint32_t)c->flags,
			  .mode = c->mode, .resolve = c->len }, { 0, 0 } };
		struct open_how *hp = c->off == -2 ? NULL : &how.h;
		size_t size = c->off > 0 ? (size_t)c->off : sizeof(how.h);

		if (c->off == -1) {
			how.more[1] = 1;
			size = sizeof(how);
		}
		fd = (int)CALL(syscall(SYS_openat2, d1, a, hp, size),
			       vos_openat2(ctx, d1, a, hp, size));
		o->res = fd < 0 ? fd : 0;
		if (fd >= 0) {
			describe_fd(ctx, fd, o->info, sizeof(o->info));
			close_fd(ctx, fd);
		}
		return;
	}
	case D_STATX: {
		struct statx sx;

		memset(&sx, 0, sizeof(sx));
		/* (the system call: glibc declares the path non-NULL,
		 * which the kernel no longer needs) */
		o->res = CALL(syscall(SYS_statx, d1, a, c->flags,
				      STATX_BASIC_STATS, &sx),
			      vos_statx(ctx, d1, a, c->flags,
					STATX_BASIC_STATS, &sx));
		if (o->res == 0)
			snprintf(o->info, sizeof(o->info),
				 "mode %o uid %u gid %u nlink %u size %llu",
				 sx.stx_mode, sx.stx_uid, sx.stx_gid,
				 S_ISDIR(sx.stx_mode) ? 0 : sx.stx_nlink,
				 S_ISREG(sx.stx_mode) ?
				 (unsigned long long)sx.stx_size : 0ull);
		return;
	}
	case D_MKDIR:
		o->res = CALL(mkdirat(d1, a, c->mode),
			      vos_mkdirat(ctx, d1, a, c->mode));
		return;
	case D_UNLINK:
		o->res = CALL(unlinkat(d1, a, c->flags),
			      vos_unlinkat(ctx, d1, a, c->flags));
		return;
	case D_RENAME:
		o->res = CALL(renameat2(d1, a, d2, b, (unsigned)c->flags),
			      vos_renameat(ctx, d1, a, d2, b,
					   (unsigned)c->flags));
		return;
	case D_CHMOD:
		o->res = CALL(fchmodat(d1, a, c->mode, c->flags),
			      vos_fchmodat(ctx, d1, a, c->mode, c->flags));
		return;
	case D_CHOWN:
		o->res = CALL(fchownat(d1, a, c->mode, (gid_t)c->len, c->flags),
			      vos_fchownat(ctx, d1, a, c->mode, (gid_t)c->len,
					   c->flags));
		return;
	case D_ACCESS:
		o->res = CALL(faccessat(d1, a, (int)c->mode, c->flags),
			      vos_faccessat(ctx, d1, a, (int)c->mode,
					    c->flags));
		return;
	case D_LINK:
		o->res = CALL(linkat(d1, a, d2, b, c->flags),
			      vos_linkat(ctx, d1, a, d2, b, c->flags));
		return;
	case D_SYMLINK:
		/* path2 is the target, stored as given */
		o->res = CALL(symlinkat(c->path2, d1, a),
			      vos_symlinkat(ctx, c->path2, d1, a));
		return;
	case D_UTIMES:
		/* (the system call: glibc refuses a NULL path, the kernel
		 * takes it as futimens) */
		if (c->len == 1)
			d1 = AT_FDCWD;
		o->res = CALL(syscall(SYS_utimensat, d1, a, times_of(c->mode),
				      c->flags),
			      vos_utimensat(ctx, d1, a, times_of(c->mode),
					    c->flags));
		if (o->res == 0 && (a || d1 != AT_FDCWD))
			stamps(ctx, d1, a ? a : "",
			       (a && a[0] ? 0 : AT_EMPTY_PATH) |
			       (c->flags & AT_SYMLINK_NOFOLLOW), o->info,
			       sizeof(o->info));
		return;
	case D_MKNOD:
		o->res = CALL(mknodat(d1, a, c->mode, (dev_t)c->len),
			      vos_mknodat(ctx, d1, a, c->mode, (dev_t)c->len));
		return;
	case D_TRUNCATE:
		o->res = CALL(truncate(a, c->off), vos_truncate(ctx, a, c->off));
		return;
	case D_STATFS: {
		struct statfs sf;

		memset(&sf, 0, sizeof(sf));
		o->res = CALL(statfs(a, &sf), vos_statfs(ctx, a, &sf));
		if (o->res == 0)
			describe_fs(&sf, o->info, sizeof(o->info));
		return;
	}
	case D_READLINK: {
		char lb[128];
		/* (the system call: glibc's readlinkat takes a size_t and
		 * the kernel its low 32 bits, as vos_readlinkat) */
		size_t n = c->len < sizeof(lb) ? (size_t)c->len : c->len;

		memset(lb, 0, sizeof(lb));
		o->res = CALL(syscall(SYS_readlinkat, d1, a, lb, n),
			      vos_readlinkat(ctx, d1, a, lb, n));
		if (o->res > 0)
			snprintf(o->info, sizeof(o->info), "\"%.*s\"",
				 (int)(o->res < 100 ? o->res : 100), lb);
		return;
	}
	default:
		break;
	}
	/* the fd calls: the file first */
	fd = (int)CALL(openat(dfd, c->path, c->oflags, 0),
		       vos_openat(ctx, dfd, c->path, c->oflags, 0));
	if (fd < 0) {
		o->res = fd;
		snprintf(o->info, sizeof(o->info), "(the open)");
		return;
	}
	if (c->len && c->op != D_FADVISE && c->op != D_SYNCRANGE &&
	    c->op != D_LOCK) {
		buf = malloc(c->len);
		ck_assert_ptr_nonnull(buf);
		pattern(buf, c->len);
	}
	switch (c->op) {
	case D_PREAD:
		r = CALL(pread(fd, buf, c->len, c->off),
			 vos_pread(ctx, fd, buf, c->len, c->off));
		break;
	case D_READ:
		r = CALL(read(fd, buf, c->len), vos_read(ctx, fd, buf, c->len));
		break;
	case D_PWRITE:
		r = CALL(pwrite(fd, buf, c->len, c->off),
			 vos_pwrite(ctx, fd, buf, c->len, c->off));
		break;
	case D_WRITE:
		r = CALL(write(fd, buf, c->len),
			 vos_write(ctx, fd, buf, c->len));
		break;
	case D_READV:
	case D_WRITEV: {
		/* three pieces: a third, a third, the rest */
		uint64_t t = c->len / 3;
		struct iovec v[3] = { { buf, t }, { buf + t, t },
				      { buf + 2 * t, c->len - 2 * t } };

		/* vos_readv's offset -1 is readv(2)'s file position; with
		 * RWF_ flags, preadv2's too */
		if (c->flags && c->op == D_READV)
			r = CALL(preadv2(fd, v, 3, c->off, c->flags),
				 vos_preadv2(ctx, fd, v, 3, c->off, c->flags));
		else if (c->flags)
			r = CALL(pwritev2(fd, v, 3, c->off, c->flags),
				 vos_pwritev2(ctx, fd, v, 3, c->off,
					      c->flags));
		else if (c->op == D_READV)
			r = CALL(c->off == -1 ? readv(fd, v, 3)
					      : preadv(fd, v, 3, c->off),
				 vos_readv(ctx, fd, v, 3, c->off));
		else
			r = CALL(c->off == -1 ? writev(fd, v, 3)
					      : pwritev(fd, v, 3, c->off),
				 vos_writev(ctx, fd, v, 3, c->off));
		break;
	}
	case D_FTRUNCATE:
		r = CALL(ftruncate(fd, c->off), vos_ftruncate(ctx, fd, c->off));
		break;
	case D_FALLOCATE:
		r = CALL(fallocate(fd, c->flags, c->off, (off_t)c->len),
			 vos_fallocate(ctx, fd, c->flags, c->off,
				       (off_t)c->len));
		break;
	case D_FSYNC:
		r = CALL(fsync(fd), vos_fsync(ctx, fd));
		break;
	case D_FDATASYNC:
		r = CALL(fdatasync(fd), vos_fdatasync(ctx, fd));
		break;
	case D_GETDENTS:
		r = list_dir(ctx, fd, c->len, o->info, sizeof(o->info));
		break;
	case D_LSEEK: {
		char rb[16];
		long n;

		r = CALL(lseek(fd, c->off, c->flags),
			 vos_lseek(ctx, fd, c->off, c->flags));
		/* where the reads now start */
		n = CALL(read(fd, rb, sizeof(rb)),
			 vos_read(ctx, fd, rb, sizeof(rb)));
		snprintf(o->info, sizeof(o->info), "then read %ld: %016llx", n,
			 n > 0 ? (unsigned long long)fnv(rb, (size_t)n, 1) : 0);
		break;
	}
	case D_FUTIMENS:
		r = CALL(futimens(fd, times_of(c->mode)),
			 vos_futimens(ctx, fd, times_of(c->mode)));
		if (r == 0)
			stamps(ctx, fd, "", AT_EMPTY_PATH, o->info,
			       sizeof(o->info));
		break;
	case D_FADVISE:
		/* (the system call: posix_fadvise returns the error) */
		r = CALL(syscall(SYS_fadvise64, fd, c->off, (off_t)c->len,
				 c->flags),
			 vos_fadvise(ctx, fd, c->off, (off_t)c->len, c->flags));
		break;
	case D_SYNCRANGE:
		r = CALL(sync_file_range(fd, c->off, (off_t)c->len,
					 (unsigned)c->flags),
			 vos_sync_file_range(ctx, fd, c->off, (off_t)c->len,
					     (unsigned)c->flags));
		break;
	case D_SYNCFS:
		r = CALL(syncfs(fd), vos_syncfs(ctx, fd));
		break;
	case D_FSTATFS: {
		struct statfs sf;

		memset(&sf, 0, sizeof(sf));
		r = CALL(fstatfs(fd, &sf), vos_fstatfs(ctx, fd, &sf));
		if (r == 0)
			describe_fs(&sf, o->info, sizeof(o->info));
		break;
	}
	case D_LOCK: {
		/* pid -1: a NULL lock */
		struct flock fl = { .l_type = (short)c->mode,
				    .l_whence = c->whence, .l_start = c->off,
				    .l_len = (off_t)c->len,
				    .l_pid = c->pid > 0 ? c->pid : 0 };
		struct flock *p = c->pid < 0 ? NULL : &fl;

		r = CALL(fcntl(fd, c->flags, p),
			 vos_fcntl(ctx, fd, c->flags, (long)p));
		/* what a GETLK wrote back (nothing conflicts: F_UNLCK,
		 * the rest as given) */
		if (r == 0 && (c->flags == F_GETLK || c->flags == F_OFD_GETLK))
			snprintf(o->info, sizeof(o->info),
				 "type %d whence %d start %lld len %lld pid %d",
				 fl.l_type, fl.l_whence, (long long)fl.l_start,
				 (long long)fl.l_len, (int)fl.l_pid);
		break;
	}
	case D_DUP:
		r = dup_case(ctx, dfd, fd, c, o->info, sizeof(o->info));
		break;
	case D_COPY:
		r = copy_case(ctx, dfd, fd, c, o->info, sizeof(o->info));
		break;
	case D_SETFL:
		r = CALL(fcntl(fd, F_SETFL, c->flags),
			 vos_fcntl(ctx, fd, F_SETFL, c->flags));
		describe_fd(ctx, fd, o->info, sizeof(o->info));
		break;
	default:
		ck_abort_msg("op %d", c->op);
	}
	o->res = r;
	if ((c->op == D_PREAD || c->op == D_READ || c->op == D_READV) && r > 0)
		snprintf(o->info, sizeof(o->info), "bytes %016llx",
			 (unsigned long long)fnv(buf, (size_t)r,
						 1469598103934665603ull));
	free(buf);
	close_fd(ctx, fd);
}


static void describe_case(const struct dcase *c, char *out, size_t cap)
{
	snprintf(out, cap, "%s(\"%s\"%s%s%s, flags %#x, oflags %#x, mode %o, "
		 "len %llu, off %lld)", op_names[c->op],
		 c->path ? c->path : "(NULL)",
		 c->path2 ? ", \"" : "", c->path2 ? c->path2 : "",
		 c->path2 ? "\"" : "", c->flags, c->oflags, c->mode,
		 (unsigned long long)c->len, (long long)c->off);
	if (c->abs)
		strncat(out, " by absolute path", cap - strlen(out) - 1);
	if (c->op == D_COPY) {
		size_t l = strlen(out);

		snprintf(out + l, cap - l, " [%s, other end %d, fd is the %s]",
			 c->whence == COPY_CFR ? "copy_file_range" :
			 c->whence == COPY_SENDFILE ? "sendfile" : "splice",
			 c->pid, c->mode ? "output" : "input");
	}
}

/* ---- socket calls ---------------------------------------------------------
 *
 * A socket case sets up its sockets through the route (netd's, on the
 * routed one), makes its call, and writes what it saw as text: results or
 * -errno, and what the sockets say of themselves (ports masked: each run
 * gets its own).
 */

struct scase {
	const char *name;
	void (*run)(struct vos_ctx *ctx, const int *a, char *out, size_t cap);
	int a[4];
};

#define OUT(...)                                                           \
	do {                                                                \
		size_t l_ = strlen(out);                                    \
		snprintf(out + l_, cap - l_, __VA_ARGS__);                  \
	} while (0)

static int s_socket(struct vos_ctx *ctx, int d, int t, int p)
{
	return (int)CALL(socket(d, t, p), vos_socket(ctx, d, t, p));
}

static struct sockaddr_in lo4(int port)
{
	struct sockaddr_in s = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port) };

	s.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return s;
}

/* What a socket says of itself. */
static void s_describe(struct vos_ctx *ctx, int fd, char *out, size_t cap)
{
	static const int opts[] = { SO_TYPE, SO_PROTOCOL, SO_DOMAIN,
				    SO_ERROR, SO_ACCEPTCONN, SO_REUSEADDR };

	OUT(" fl %lx fd %ld",
	    CALL(fcntl(fd, F_GETFL), vos_fcntl(ctx, fd, F_GETFL, 0)) &
		    (O_ACCMODE | O_NONBLOCK),
	    CALL(fcntl(fd, F_GETFD), vos_fcntl(ctx, fd, F_GETFD, 0)));
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		int v = -1;
		socklen_t l = sizeof(v);
		long r = CALL(getsockopt(fd, SOL_SOCKET, opts[i], &v, &l),
			      vos_getsockopt(ctx, fd, SOL_SOCKET, opts[i], &v,
					     &l));

		OUT(" o%d=%ld/%d/%u", opts[i], r, v, (unsigned)l);
	}
}

static void s_name(struct vos_ctx *ctx, int fd, bool peer, socklen_t len,
		   char *out, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t l = len;
	long r;

	memset(&ss, 0xee, sizeof(ss));
	r = peer ? CALL(getpeername(fd, (struct sockaddr *)&ss, &l),
			vos_getpeername(ctx, fd, (struct sockaddr *)&ss, &l))
		 : CALL(getsockname(fd, (struct sockaddr *)&ss, &l),
			vos_getsockname(ctx, fd, (struct sockaddr *)&ss, &l));
	OUT(" %s %ld len %u", peer ? "peer" : "name", r, (unsigned)l);
	if (r == 0 && len >= sizeof(struct sockaddr_in) &&
	    ss.ss_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		OUT(" %08x:%s", ntohl(in->sin_addr.s_addr),
		    in->sin_port ? "P" : "0");
	} else if (r == 0) {
		OUT(" family %d", len >= 2 ? ss.ss_family : -1);
	}
}

/* socket(domain, type, protocol), and what it says of itself */
static void sc_socket(struct vos_ctx *ctx, const int *a, char *out,
		      size_t cap)
{
	int fd = s_socket(ctx, a[0], a[1], a[2]);

	OUT("socket %d", fd < 0 ? fd : 0);
	if (fd >= 0) {
		s_describe(ctx, fd, out, cap);
		close_fd(ctx, fd);
	}
}

/* bind a fresh TCP (a[0] 0) or UDP socket to 127.0.0.1:a[1] with
 * addrlen a[2] (family a[3] when not 0), twice */
static void sc_bind(struct vos_ctx *ctx, const int *a, char *out, size_t cap)
{
	int fd = s_socket(ctx, AF_INET, a[0] ? SOCK_DGRAM : SOCK_STREAM, 0);
	struct sockaddr_in s = lo4(a[1]);

	ck_assert_int_ge(fd, 0);
	if (a[3])
		s.sin_family = (sa_family_t)a[3];
	for (int i = 0; i < 2; i++)
		OUT(" bind %ld",
		    CALL(bind(fd, (struct sockaddr *)&s, (socklen_t)a[2]),
			 vos_bind(ctx, fd, (struct sockaddr *)&s,
				  (socklen_t)a[2])));
	s_name(ctx, fd, false, sizeof(s), out, cap);
	close_fd(ctx, fd);
}

/* listen (backlog a[1]) on a TCP socket bound or not (a[2]), or UDP (a[0]);
 * then a non-blocking accept, and one on a socket that does not listen */
static void sc_listen(struct vos_ctx *ctx, const int *a, char *out,
		      size_t cap)
{
	int fd = s_socket(ctx, AF_INET, (a[0] ? SOCK_DGRAM : SOCK_STREAM) |
				  SOCK_NONBLOCK, 0);
	struct sockaddr_in s = lo4(0);

	ck_assert_int_ge(fd, 0);
	if (a[2])
		OUT(" bind %ld", CALL(bind(fd, (struct sockaddr *)&s, sizeof(s)),
				      vos_bind(ctx, fd, (struct sockaddr *)&s,
					       sizeof(s))));
	OUT(" listen %ld", CALL(listen(fd, a[1]), vos_listen(ctx, fd, a[1])));
	OUT(" accept %ld",
	    CALL(accept4(fd, NULL, NULL, 0), vos_accept(ctx, fd, NULL, NULL,
							0)));
	s_describe(ctx, fd, out, cap);
	close_fd(ctx, fd);
}

/* A connected TCP pair through ctx: client *c, accepted *v. */
static void s_pair(struct vos_ctx *ctx, int *c, int *v)
{
	struct sockaddr_in s = lo4(0);
	socklen_t l = sizeof(s);
	int lf = s_socket(ctx, AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(lf, 0);
	ck_assert_int_eq(CALL(bind(lf, (struct sockaddr *)&s, sizeof(s)),
			      vos_bind(ctx, lf, (struct sockaddr *)&s,
				       sizeof(s))), 0);
	ck_assert_int_eq(CALL(listen(lf, 4), vos_listen(ctx, lf, 4)), 0);
	ck_assert_int_eq(CALL(getsockname(lf, (struct sockaddr *)&s, &l),
			      vos_getsockname(ctx, lf, (struct sockaddr *)&s,
					      &l)), 0);
	*c = s_socket(ctx, AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(*c, 0);
	ck_assert_int_eq(CALL(connect(*c, (struct sockaddr *)&s, sizeof(s)),
			      vos_connect(ctx, *c, (struct sockaddr *)&s,
					  sizeof(s))), 0);
	*v = (int)CALL(accept4(lf, NULL, NULL, 0),
		       vos_accept(ctx, lf, NULL, NULL, 0));
	ck_assert_int_ge(*v, 0);
	close_fd(ctx, lf);
}

/* preadv2/pwritev2 with RWF_ flags a[0] on a connected TCP pair (a[1]
 * 0) or a pipe (1): a read with RWF_NOWAIT of nothing, a write of 5 bytes
 * at the file position, their read, a read at an offset */
static void sc_rwf(struct vos_ctx *ctx, const int *a, char *out, size_t cap)
{
	int c, v, p[2];
	char b[8] = "hello";
	struct iovec in = { b, sizeof(b) }, five = { b, 5 };
	long w;

	if (a[1]) {
		ck_assert_int_eq(CALL(pipe2(p, O_CLOEXEC),
				      vos_pipe2(ctx, p, O_CLOEXEC)), 0);
		c = p[0];
		v = p[1];
	} else {
		s_pair(ctx, &c, &v);
	}
	OUT(" nowait %ld", CALL(preadv2(c, &in, 1, -1, a[0] | RWF_NOWAIT),
				vos_preadv2(ctx, c, &in, 1, -1,
					    a[0] | RWF_NOWAIT)));
	w = CALL(pwritev2(v, &five, 1, -1, a[0]),
		 vos_pwritev2(ctx, v, &five, 1, -1, a[0]));
	OUT(" write %ld", w);
	if (w > 0) /* (else a read would wait) */
		OUT(" read %ld", CALL(preadv2(c, &in, 1, -1, a[0]),
				      vos_preadv2(ctx, c, &in, 1, -1, a[0])));
	OUT(" at 0 %ld", CALL(preadv2(c, &in, 1, 0, a[0]),
			      vos_preadv2(ctx, c, &in, 1, 0, a[0])));
	close_fd(ctx, c);
	close_fd(ctx, v);
}

/* File calls on a socket (TCP: a[0] 0, UDP: 1): fstat (its type and
 * mode; the owner is netd's user through netd, doc/semantics.md),
 * fstatfs, and paths under it, relative (a[1] 0: "x", 1: "") */
static void sc_fileops(struct vos_ctx *ctx, const int *a, char *out,
		       size_t cap)
{
	int fd = s_socket(ctx, AF_INET, a[0] ? SOCK_DGRAM : SOCK_STREAM, 0);
	const char *p = a[1] ? "" : "x";
	struct statx sx;
	struct statfs sf;
	char fs[128];
	long r;

	ck_assert_int_ge(fd, 0);
	memset(&sx, 0, sizeof(sx));
	r = CALL(statx(fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_MODE, &sx),
		 vos_statx(ctx, fd, "", AT_EMPTY_PATH, STATX_TYPE | STATX_MODE,
			   &sx));
	OUT(" fstat %ld mode %o", r, r == 0 ? sx.stx_mode : 0);
	memset(&sf, 0, sizeof(sf));
	r = CALL(fstatfs(fd, &sf), vos_fstatfs(ctx, fd, &sf));
	describe_fs(&sf, fs, sizeof(fs));
	OUT(" fstatfs %ld %s", r, r == 0 ? fs : "");
	OUT(" openat %ld", CALL(openat(fd, p, O_RDONLY | O_CLOEXEC),
				vos_openat(ctx, fd, p, O_RDONLY | O_CLOEXEC,
					   0)));
	OUT(" stat %ld", CALL(statx(fd, p, 0, STATX_MODE, &sx),
			      vos_statx(ctx, fd, p, 0, STATX_MODE, &sx)));
	OUT(" mkdirat %ld", CALL(mkdirat(fd, p, 0700),
				 vos_mkdirat(ctx, fd, p, 0700)));
	OUT(" openat O_DSYNC %ld", CALL(openat(fd, p, O_RDONLY | O_DSYNC),
					vos_openat(ctx, fd, p,
						   O_RDONLY | O_DSYNC, 0)));
	/* openat2 from the socket, scoped: an absolute path too */
	for (int k = 0; k < 3; k++) {
		static const uint64_t res[] = { 0, RESOLVE_IN_ROOT,
						RESOLVE_BENEATH };
		struct open_how how = { .flags = O_RDONLY,
					.resolve = res[k] };
		const char *q = a[1] ? "/x" : p;

		OUT(" openat2 %ld", CALL(syscall(SYS_openat2, fd, q, &how,
						 sizeof(how)),
					 vos_openat2(ctx, fd, q, &how,
						     sizeof(how))));
	}
	close_fd(ctx, fd);
}

/* connect a fresh TCP (a[0] 0) or UDP socket to a closed port of
 * 127.0.0.1 (a[1] 0), to port 9 with addrlen a[2], or to 0.0.0.0 */
static void sc_connect(struct vos_ctx *ctx, const int *a, char *out,
		       size_t cap)
{
	int fd = s_socket(ctx, AF_INET, a[0] ? SOCK_DGRAM : SOCK_STREAM, 0);
	struct sockaddr_in s = lo4(a[1]);

	ck_assert_int_ge(fd, 0);
	if (!a[1]) {
		/* a port that was just free: nobody listens there */
		int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		socklen_t l = sizeof(s);

		ck_assert_int_eq(bind(t, (struct sockaddr *)&s, sizeof(s)), 0);
		ck_assert_int_eq(getsockname(t, (struct sockaddr *)&s, &l), 0);
		close(t);
	}
	OUT(" connect %ld",
	    CALL(connect(fd, (struct sockaddr *)&s, (socklen_t)a[2]),
		 vos_connect(ctx, fd, (struct sockaddr *)&s, (socklen_t)a[2])));
	s_name(ctx, fd, true, sizeof(s), out, cap);
	s_describe(ctx, fd, out, cap);
	close_fd(ctx, fd);
}

/* On a connected pair: send a[0] bytes with flags a[1], then recv up to
 * a[2] bytes with flags a[3] on the other end; after the peer's
 * shutdown(SHUT_WR) when a[3] has MSG_OOB (then a plain recv). */
static void sc_sendrecv(struct vos_ctx *ctx, const int *a, char *out,
			size_t cap)
{
	char buf[256] = "0123456789abcdefghijklmnopqrstuvwxyz", in[256];
	int c, v, rf = a[3] & ~MSG_OOB;
	long r;

	s_pair(ctx, &c, &v);
	if (a[0] >= 0)
		OUT(" send %ld", CALL(send(c, buf, (size_t)a[0], a[1]),
				      vos_send(ctx, c, buf, (size_t)a[0],
					       a[1])));
	if (a[3] & MSG_OOB)
		OUT(" shut %ld", CALL(shutdown(c, SHUT_WR),
				      vos_shutdown(ctx, c, SHUT_WR)));
	memset(in, 0, sizeof(in));
	/* a length below 0: NULL for the buffer (the discard idiom) */
	r = CALL(recv(v, a[2] < 0 ? NULL : in, (size_t)abs(a[2]), rf),
		 vos_recv(ctx, v, a[2] < 0 ? NULL : in, (size_t)abs(a[2]),
			  rf));
	OUT(" recv %ld '%.*s'", r, r > 0 ? (int)r : 0, in);
	if (a[3] & MSG_OOB)
		OUT(" send-after-shut %ld",
		    CALL(send(c, "x", 1, MSG_NOSIGNAL),
			 vos_send(ctx, c, "x", 1, MSG_NOSIGNAL)));
	{
		int n = -1;

		r = CALL(ioctl(v, FIONREAD, &n), vos_ioctl(ctx, v, FIONREAD,
							   &n));
		OUT(" fionread %ld", r < 0 ? r : n);
	}
	close_fd(ctx, c);
	close_fd(ctx, v);
}

/* Calls on a socket that is not connected: send, recv (non-blocking),
 * shutdown(how a[0]), getpeername */
static void sc_unconnected(struct vos_ctx *ctx, const int *a, char *out,
			   size_t cap)
{
	int fd = s_socket(ctx, AF_INET, (a[1] ? SOCK_DGRAM : SOCK_STREAM) |
				  SOCK_NONBLOCK, 0);
	char b[8];

	ck_assert_int_ge(fd, 0);
	OUT(" send %ld", CALL(send(fd, "x", 1, MSG_NOSIGNAL),
			      vos_send(ctx, fd, "x", 1, MSG_NOSIGNAL)));
	OUT(" recv %ld", CALL(recv(fd, b, sizeof(b), 0),
			      vos_recv(ctx, fd, b, sizeof(b), 0)));
	OUT(" shutdown %ld", CALL(shutdown(fd, a[0]),
				  vos_shutdown(ctx, fd, a[0])));
	s_name(ctx, fd, true, sizeof(struct sockaddr_in), out, cap);
	s_name(ctx, fd, false, (socklen_t)a[2], out, cap);
	close_fd(ctx, fd);
}

/* The file calls that go where the fd goes, on a socket (a[0]: UDP):
 * lseek, fadvise, sync_file_range, syncfs */
static void sc_filecalls(struct vos_ctx *ctx, const int *a, char *out,
			 size_t cap)
{
	int fd = s_socket(ctx, AF_INET, a[0] ? SOCK_DGRAM : SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	OUT(" lseek %ld", CALL(lseek(fd, 0, SEEK_SET),
			       vos_lseek(ctx, fd, 0, SEEK_SET)));
	OUT(" fadvise %ld", CALL(syscall(SYS_fadvise64, fd, 0, 0,
					 POSIX_FADV_WILLNEED),
				 vos_fadvise(ctx, fd, 0, 0,
					     POSIX_FADV_WILLNEED)));
	OUT(" sync_file_range %ld",
	    CALL(sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE),
		 vos_sync_file_range(ctx, fd, 0, 0, SYNC_FILE_RANGE_WRITE)));
	OUT(" syncfs %ld", CALL(syncfs(fd), vos_syncfs(ctx, fd)));
	/* (not fstatfs: netd refuses it, doc/semantics.md) */
	close_fd(ctx, fd);
}

/* pipe2 (a[0] 0) with flags a[1], or socketpair (a[0] 1) of domain
 * a[2], type a[1], protocol a[3]; a[0] 2: pipe2 into a NULL array, 3:
 * into an unmapped one, 4: into a read-only page (left as it was).  What the fds say of themselves (F_GETFL,
 * F_GETFD), and 5 bytes written into one end and read from the other;
 * the lowest free fd number after (nothing left open on a failure). */
static void sc_pair(struct vos_ctx *ctx, const int *a, char *out, size_t cap)
{
	int p[2] = { -1, -1 }, *arr = p, before = dup(0), after;
	char b[8];
	long r;

	close(before);
	if (a[0] == 4) {
		arr = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			   -1, 0);
		ck_assert(arr != MAP_FAILED);
	} else if (a[0] >= 2) {
		arr = a[0] == 2 ? NULL : (int *)(uintptr_t)16;
	}
	if (a[0] == 1)
		r = CALL(socketpair(a[2], a[1], a[3], arr),
			 vos_socketpair(ctx, a[2], a[1], a[3], arr));
	else
		r = CALL(pipe2(arr, a[1]), vos_pipe2(ctx, arr, a[1]));
	OUT(" made %ld", r);
	if (a[0] == 4) {
		OUT(" ro %d", arr[0]);
		munmap(arr, 4096);
	}
	if (r == 0) {
		for (int k = 0; k < 2; k++)
			OUT(" fl %lx fd %ld",
			    CALL(fcntl(p[k], F_GETFL),
				 vos_fcntl(ctx, p[k], F_GETFL, 0)),
			    CALL(fcntl(p[k], F_GETFD),
				 vos_fcntl(ctx, p[k], F_GETFD, 0)));
		OUT(" write %ld", CALL(write(p[1], "hello", 5),
				       vos_write(ctx, p[1], "hello", 5)));
		r = CALL(read(p[0], b, sizeof(b)),
			 vos_read(ctx, p[0], b, sizeof(b)));
		OUT(" read %ld %.*s", r, r > 0 ? (int)r : 0, b);
		close_fd(ctx, p[0]);
		close_fd(ctx, p[1]);
	}
	/* (numbers differ between runs; one left open shows as the lowest
	 * free number moving) */
	after = dup(0);
	close(after);
	OUT(" next fd %s", before == after ? "same" : "moved");
}

/* setsockopt(level a[0], name a[1], value a[2], optlen a[3]), then
 * getsockopt of it with a full and a short optlen */
static void sc_sockopt(struct vos_ctx *ctx, const int *a, char *out,
		       size_t cap)
{
	int fd = s_socket(ctx, AF_INET, SOCK_STREAM, 0), v = a[2];

	ck_assert_int_ge(fd, 0);
	OUT(" set %ld", CALL(setsockopt(fd, a[0], a[1], &v, (socklen_t)a[3]),
			     vos_setsockopt(ctx, fd, a[0], a[1], &v,
					    (socklen_t)a[3])));
	for (int k = 0; k < 2; k++) {
		int got = -7;
		socklen_t l = k ? 1 : sizeof(int);
		long r = CALL(getsockopt(fd, a[0], a[1], &got, &l),
			      vos_getsockopt(ctx, fd, a[0], a[1], &got, &l));

		OUT(" get %ld %d/%u", r, r == 0 ? got : -7, (unsigned)l);
	}
	close_fd(ctx, fd);
}

/* UDP: sendmsg to a bound peer, recvmsg into a buffer of a[0] bytes with
 * a name buffer of a[1] bytes and flags a[2] */
static void sc_dgram(struct vos_ctx *ctx, const int *a, char *out,
		     size_t cap)
{
	int r1 = s_socket(ctx, AF_INET, SOCK_DGRAM, 0);
	int s1 = s_socket(ctx, AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in to = lo4(0), from;
	socklen_t l = sizeof(to);
	char data[64] = "a datagram of thirty-one bytes.", in[64];
	struct iovec iv = { data, 31 }, ov = { in, (size_t)a[0] };
	struct msghdr m = { .msg_name = &to, .msg_namelen = sizeof(to),
			    .msg_iov = &iv, .msg_iovlen = 1 };
	long r;

	ck_assert_int_ge(r1, 0);
	ck_assert_int_ge(s1, 0);
	ck_assert_int_eq(CALL(bind(r1, (struct sockaddr *)&to, sizeof(to)),
			      vos_bind(ctx, r1, (struct sockaddr *)&to,
				       sizeof(to))), 0);
	ck_assert_int_eq(CALL(getsockname(r1, (struct sockaddr *)&to, &l),
			      vos_getsockname(ctx, r1, (struct sockaddr *)&to,
					      &l)), 0);
	OUT(" sendmsg %ld", CALL(sendmsg(s1, &m, 0), vos_sendmsg(ctx, s1, &m,
								  0)));
	memset(&from, 0, sizeof(from));
	memset(in, 0, sizeof(in));
	m = (struct msghdr){ .msg_name = a[1] ? &from : NULL,
			     .msg_namelen = (socklen_t)a[1], .msg_iov = &ov,
			     .msg_iovlen = 1 };
	r = CALL(recvmsg(r1, &m, a[2]), vos_recvmsg(ctx, r1, &m, a[2]));
	OUT(" recvmsg %ld '%.*s' namelen %u flags %#x family %d", r,
	    r > 0 ? (int)(r < a[0] ? r : a[0]) : 0, in,
	    (unsigned)m.msg_namelen, (unsigned)m.msg_flags,
	    a[1] >= 2 ? from.sin_family : -1);
	close_fd(ctx, r1);
	close_fd(ctx, s1);
}

static struct scase scases[200];
static int nscases;

static void sadd(const char *name,
		 void (*run)(struct vos_ctx *, const int *, char *, size_t),
		 int a0, int a1, int a2, int a3)
{
	ck_assert_int_lt(nscases, (int)(sizeof(scases) / sizeof(scases[0])));
	scases[nscases++] = (struct scase){ name, run, { a0, a1, a2, a3 } };
}

static void make_socket_cases(void)
{
	static const int fams[] = { AF_INET, AF_INET6 };
	static const int types[] = {
		SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET,
		SOCK_STREAM | SOCK_NONBLOCK, SOCK_DGRAM | SOCK_CLOEXEC,
		SOCK_STREAM | 0x40000000,
	};
	static const int protos[] = { 0, IPPROTO_TCP, IPPROTO_UDP,
				      IPPROTO_ICMP };
	static const int sd[] = { 0, 1 };

	nscases = 0;
	for (size_t f = 0; f < 2; f++)
		for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
			for (size_t p = 0; p < 4; p++)
				sadd("socket", sc_socket, fams[f], types[t],
				     protos[p], 0);
	for (size_t u = 0; u < 2; u++) {
		sadd("bind", sc_bind, sd[u], 0, sizeof(struct sockaddr_in), 0);
		sadd("bind", sc_bind, sd[u], 80, sizeof(struct sockaddr_in),
		     0);
		sadd("bind", sc_bind, sd[u], 0, 4, 0);
		sadd("bind", sc_bind, sd[u], 0, 0, 0);
		sadd("bind", sc_bind, sd[u], 0, sizeof(struct sockaddr_in),
		     AF_INET6);
		sadd("bind", sc_bind, sd[u], 0, sizeof(struct sockaddr_in),
		     AF_UNIX);
		sadd("listen", sc_listen, sd[u], 5, 1, 0);
		sadd("listen", sc_listen, sd[u], -1, 0, 0);
		sadd("connect", sc_connect, sd[u], 0,
		     sizeof(struct sockaddr_in), 0);
		sadd("connect", sc_connect, sd[u], 9, 3, 0);
		sadd("connect", sc_connect, sd[u], 9, 0, 0);
		for (int how = 0; how < 4; how += 3)
			sadd("unconnected", sc_unconnected, how == 3 ? 7 : how,
			     sd[u], u ? 4 : sizeof(struct sockaddr_in), 0);
	}
	sadd("unconnected", sc_unconnected, SHUT_RDWR, 0, 0, 0);
	sadd("pair", sc_pair, 0, 0, 0, 0);
	sadd("pair", sc_pair, 0, O_CLOEXEC | O_NONBLOCK, 0, 0);
	sadd("pair", sc_pair, 0, O_DIRECT, 0, 0);
	sadd("pair", sc_pair, 0, 0x1234, 0, 0);
	sadd("pair", sc_pair, 2, 0, 0, 0);
	sadd("pair", sc_pair, 3, O_CLOEXEC, 0, 0);
	sadd("pair", sc_pair, 4, 0, 0, 0);
	{
		static const int rwf[] = { 0, RWF_HIPRI, RWF_DSYNC, RWF_SYNC,
					   RWF_APPEND, 0x20, 0x40, 0x80,
					   0x100, 0x200 };

		for (size_t i = 0; i < sizeof(rwf) / sizeof(rwf[0]); i++)
			for (int k = 0; k < 2; k++)
				sadd("rwf", sc_rwf, rwf[i], k, 0, 0);
	}
	for (int k = 0; k < 4; k++)
		sadd("fileops", sc_fileops, k & 1, k >> 1, 0, 0);
	sadd("pair", sc_pair, 1, SOCK_STREAM, AF_UNIX, 0);
	sadd("pair", sc_pair, 1, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	     AF_UNIX, 0);
	sadd("pair", sc_pair, 1, SOCK_SEQPACKET, AF_UNIX, 0);
	sadd("pair", sc_pair, 1, SOCK_STREAM, AF_INET, 0);
	sadd("pair", sc_pair, 1, SOCK_STREAM, AF_UNIX, IPPROTO_TCP);
	sadd("pair", sc_pair, 1, 0x7777, AF_UNIX, 0);
	sadd("pair", sc_pair, 1, SOCK_STREAM, 12345, 0);
	sadd("filecalls", sc_filecalls, 0, 0, 0, 0);
	sadd("filecalls", sc_filecalls, 1, 0, 0, 0);
	sadd("sendrecv", sc_sendrecv, 5, 0, 100, 0);
	sadd("sendrecv", sc_sendrecv, 5, 0, 3, 0);
	sadd("sendrecv", sc_sendrecv, 5, 0, 100, MSG_PEEK);
	sadd("sendrecv", sc_sendrecv, 10, 0, 10, MSG_WAITALL);
	sadd("sendrecv", sc_sendrecv, 10, 0, 4, MSG_TRUNC);
	sadd("sendrecv", sc_sendrecv, 10, 0, -4, MSG_TRUNC);
	sadd("sendrecv", sc_sendrecv, 10, 0, -4, 0);
	sadd("sendrecv", sc_sendrecv, -1, 0, 100, MSG_DONTWAIT);
	sadd("sendrecv", sc_sendrecv, 0, 0, 100, MSG_DONTWAIT);
	sadd("sendrecv", sc_sendrecv, 5, 0, 0, 0);
	sadd("sendrecv", sc_sendrecv, 5, MSG_NOSIGNAL, 100, 0);
	sadd("sendrecv", sc_sendrecv, 5, 0, 100, MSG_OOB);
	sadd("sendrecv", sc_sendrecv, -1, 0, 100, MSG_OOB);
	sadd("sendrecv", sc_sendrecv, 3, 0x40000000, 100, MSG_DONTWAIT);
	sadd("sockopt", sc_sockopt, SOL_SOCKET, SO_REUSEADDR, 1, sizeof(int));
	sadd("sockopt", sc_sockopt, SOL_SOCKET, SO_KEEPALIVE, 1, sizeof(int));
	sadd("sockopt", sc_sockopt, SOL_SOCKET, SO_RCVBUF, 65536, sizeof(int));
	sadd("sockopt", sc_sockopt, SOL_SOCKET, SO_REUSEADDR, 1, 2);
	sadd("sockopt", sc_sockopt, SOL_SOCKET, 9999, 1, sizeof(int));
	sadd("sockopt", sc_sockopt, IPPROTO_TCP, TCP_NODELAY, 1, sizeof(int));
	sadd("sockopt", sc_sockopt, IPPROTO_TCP, TCP_MAXSEG, 1000,
	     sizeof(int));
	sadd("sockopt", sc_sockopt, 12345, 1, 1, sizeof(int));
	sadd("sockopt", sc_sockopt, SOL_SOCKET, SO_TYPE, 1, sizeof(int));
	sadd("sockopt", sc_sockopt, IPPROTO_IP, IP_TTL, 7, sizeof(int));
	sadd("sockopt", sc_sockopt, IPPROTO_IP, IP_TTL, 0, sizeof(int));
	sadd("dgram", sc_dgram, 64, sizeof(struct sockaddr_in), 0, 0);
	sadd("dgram", sc_dgram, 10, sizeof(struct sockaddr_in), 0, 0);
	sadd("dgram", sc_dgram, 10, sizeof(struct sockaddr_in), MSG_TRUNC,
	     0);
	sadd("dgram", sc_dgram, 64, 4, 0, 0);
	sadd("dgram", sc_dgram, 64, 0, MSG_PEEK, 0);
}

/* ---- routes and the run --------------------------------------------------- */

struct route {
	const char *name;
	const char *backend, *punted; /* local routes */
	bool stord;
	struct vos_ctx *ctx;
	int dfd;
	char root[300];
};

static struct route routes[] = {
	{ "io_uring, punted inline", "uring", "inline", false, NULL, -1, "" },
	{ "io_uring, punted on the ring", "uring", "ring", false, NULL, -1, "" },
	{ "compat", "compat", NULL, false, NULL, -1, "" },
	{ "stord, netd", NULL, NULL, true, NULL, -1, "" },
};
#define NROUTES (int)(sizeof(routes) / sizeof(routes[0]))

static char work[80], exp_dir[100], nat_root[120], routes_file[120];
static struct td stord, netd;

static void remove_work(void)
{
	td_rm_tree(work);
}

static void as_user(uid_t uid)
{
	/* effective ids only: the real ones stay root's, to come back */
	if (uid == 0) {
		ck_assert_int_eq(seteuid(0), 0);
		ck_assert_int_eq(setegid(0), 0);
	} else {
		ck_assert_int_eq(setegid((gid_t)uid), 0);
		ck_assert_int_eq(seteuid(uid), 0);
	}
}

static void open_routes(uid_t uid)
{
	for (int i = 0; i < NROUTES; i++) {
		struct route *r = &routes[i];

		if (r->stord) {
			setenv("VOS_ROUTES", routes_file, 1);
			unsetenv("VOS_LOCAL_BACKEND");
			unsetenv("VOS_LOCAL_PUNTED");
			snprintf(r->root, sizeof(r->root), "%s/t", exp_dir);
		} else {
			setenv("VOS_ROUTES", "none", 1);
			setenv("VOS_LOCAL_BACKEND", r->backend, 1);
			if (r->punted)
				setenv("VOS_LOCAL_PUNTED", r->punted, 1);
			else
				unsetenv("VOS_LOCAL_PUNTED");
			snprintf(r->root, sizeof(r->root), "%s", nat_root);
		}
		/* a service takes the client's ids when it attaches */
		as_user(uid);
		ck_assert_int_eq(vos_ctx_create(NULL, &r->ctx), 0);
		as_user(0);
		if (r->stord)
			ck_assert_ptr_nonnull(strstr(vos_ctx_describe(r->ctx),
						     "routed"));
	}
}

static void close_routes(void)
{
	for (int i = 0; i < NROUTES; i++) {
		vos_ctx_destroy(routes[i].ctx);
		routes[i].ctx = NULL;
	}
}

/* One case on one route (NULL: the kernel's), as uid: its outcome and
 * the tree it left. */
static void one(struct route *r, uid_t uid, const struct dcase *c,
		struct outcome *o, char *tree, size_t cap)
{
	const char *root = r ? r->root : nat_root;
	struct vos_ctx *ctx = r ? r->ctx : NULL;
	int dfd;

	fixture(root);
	as_user(uid);
	if (r && r->stord)
		dfd = vos_openat(ctx, AT_FDCWD, root, O_RDONLY | O_DIRECTORY,
				 0);
	else
		dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dfd, 0);
	run_case(ctx, dfd, root, c, o);
	if (r && r->stord)
		ck_assert_int_eq(vos_close(ctx, dfd), 0);
	else
		close(dfd);
	as_user(0);
	tree_of(root, tree, cap);
	td_rm_tree(root);
}

/* The differences doc/semantics.md lists, each counted: */
enum { BD_ABS_LINK, BD_ACCESS_REAL_IDS, BD_FLINK_OPENER, BD__N };
static const char *const bd_what[BD__N] = {
	"stord says -EXDEV for an absolute symlink (\"Confinement\")",
	"faccessat without AT_EACCESS through stord checks the ids the "
	"client attached with, not its real ids (here root's)",
	"linkat(fd, \"\", AT_EMPTY_PATH) by an unprivileged caller on a "
	"thread or service that did not open fd: -ENOENT",
};

static int by_design(const struct route *r, uid_t uid, const struct dcase *c,
		     const struct outcome *ref, const struct outcome *o)
{
	if (r->stord && o->res == -EXDEV && ref->res != -EXDEV &&
	    ((c->path && !strcmp(c->path, "la")) ||
	     (c->path2 && !strcmp(c->path2, "la"))))
		return BD_ABS_LINK;
	/* (this suite's unprivileged part changes only its effective ids) */
	if (r->stord && uid != 0 && c->op == D_ACCESS &&
	    !(c->flags & AT_EACCESS) && getuid() == 0 && o->res == -EACCES)
		return BD_ACCESS_REAL_IDS;
	if (uid != 0 && c->op == D_LINK && (c->flags & AT_EMPTY_PATH) &&
	    c->path && !c->path[0] && o->res == -ENOENT)
		return BD_FLINK_OPENER;
	return -1;
}

static int run_all(uid_t uid, int *designed)
{
	static char t_ref[16384], t_got[16384];
	int mism = 0;

	open_routes(uid);
	for (int i = 0; i < ncases; i++) {
		const struct dcase *c = &cases[i];
		struct outcome ref, got;

		one(NULL, uid, c, &ref, t_ref, sizeof(t_ref));
		for (int k = 0; k < NROUTES; k++) {
			struct route *r = &routes[k];
			bool same;
			int bd;

			one(r, uid, c, &got, t_got, sizeof(t_got));
			same = got.res == ref.res &&
			       !strcmp(got.info, ref.info) &&
			       !strcmp(t_got, t_ref);
			if (same)
				continue;
			bd = by_design(r, uid, c, &ref, &got);
			if (bd >= 0 && !strcmp(t_got, t_ref)) {
				designed[bd]++;
				continue;
			}
			if (++mism <= 60) {
				char d[400];

				describe_case(c, d, sizeof(d));
				printf("MISMATCH uid %u, %s: %s\n  kernel: %ld %s\n"
				       "  route:  %ld %s\n", (unsigned)uid,
				       r->name, d, ref.res, ref.info, got.res,
				       got.info);
				if (strcmp(t_got, t_ref))
					printf("  kernel's tree:\n%s  route's "
					       "tree:\n%s", t_ref, t_got);
			}
		}
	}
	/* the socket calls: no fixture */
	for (int i = 0; i < nscases; i++) {
		const struct scase *c = &scases[i];
		char ref[1024] = "", got[1024];

		as_user(uid);
		c->run(NULL, c->a, ref, sizeof(ref));
		for (int k = 0; k < NROUTES; k++) {
			got[0] = '\0';
			c->run(routes[k].ctx, c->a, got, sizeof(got));
			if (!strcmp(got, ref))
				continue;
			if (++mism <= 60)
				printf("MISMATCH uid %u, %s: %s(%d, %d, %d, %d)\n"
				       "  kernel:%s\n  route: %s\n",
				       (unsigned)uid, routes[k].name, c->name,
				       c->a[0], c->a[1], c->a[2], c->a[3], ref,
				       got);
		}
		as_user(0);
	}
	close_routes();
	return mism;
}

START_TEST(every_call_as_the_kernel)
{
	const char *t = getenv("TMPDIR");
	int mism, designed[BD__N] = { 0 };
	FILE *f;

	atexit(remove_work);
	snprintf(work, sizeof(work), "%s/vos-diff-XXXXXX", t && *t ? t : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(work));
	ck_assert_int_eq(chmod(work, 0755), 0); /* the other user gets in */
	snprintf(exp_dir, sizeof(exp_dir), "%s/export", work);
	ck_assert_int_eq(mkdir(exp_dir, 0755), 0);
	snprintf(nat_root, sizeof(nat_root), "%s/native", work);
	ck_assert_int_eq(mkdir(nat_root, 0755), 0);
	strcat(nat_root, "/t");
	snprintf(routes_file, sizeof(routes_file), "%s/routes.conf", work);
	f = fopen(routes_file, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "service stord shm path=%s/stord.sock\n"
		   "service netd shm path=%s/netd.sock\n"
		   "path %s stord\nfamily inet netd\nfamily inet6 netd\n",
		work, work, exp_dir);
	fclose(f);
	ck_assert_int_eq(chmod(routes_file, 0644), 0);
	{
		char s[100];
		const char *args[] = { "--root", exp_dir, NULL };

		snprintf(s, sizeof(s), "%s/stord.sock", work);
		td_start(&stord, "stord", s, args);
		snprintf(s, sizeof(s), "%s/netd.sock", work);
		td_start(&netd, "netd", s, NULL);
	}
	umask(022);
	/* no supplementary groups: the other user's run must not keep
	 * root's */
	ck_assert_int_eq(setgroups(0, NULL), 0);
	make_cases();
	make_socket_cases();
	mism = run_all(0, designed);
	mism += run_all(NOBODY, designed);
	ck_assert_int_eq(td_stop(&stord), 0);
	ck_assert_int_eq(td_stop(&netd), 0);
	for (int i = 0; i < BD__N; i++)
		printf("by design (doc/semantics.md): %d (route, case) pairs: "
		       "%s\n", designed[i], bd_what[i]);
	printf("%d cases x %d routes, %d mismatches\n",
	       (ncases + nscases) * 2, NROUTES, mism);
	ck_assert_int_ge(ncases, 300);
	ck_assert_int_ge(nscases, 80);
	for (int i = 0; i < BD__N; i++)
		ck_assert_int_gt(designed[i], 0); /* the table reaches it */
	ck_assert_int_eq(mism, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("differential");
	TCase *tc = tcase_create("every call");
	SRunner *sr;
	int failed;

	setvbuf(stdout, NULL, _IOLBF, 0); /* a failing check exits at once */
	if (geteuid() != 0) {
		printf("check_differential: needs root (it runs every case "
		       "as root and as uid %d)\n", NOBODY);
		return 77; /* skipped */
	}
	signal(SIGPIPE, SIG_IGN);
	tcase_set_timeout(tc, 900);
	tcase_add_test(tc, every_call_as_the_kernel);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
