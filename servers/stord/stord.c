/*
 * stord - the storage service daemon.
 *
 * Serves file calls for libvirtuos clients, confined to an export root:
 * every path is resolved with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS) from the directory the call names (the export
 * root for paths the client routes here), so neither "..", an absolute
 * path, a symlink nor a /proc magic link leads out of it.  Path calls run
 * with the client's credentials (fsuid, fsgid and supplementary groups,
 * set per thread), so the kernel's permission checks are the client's.
 * Calls on open fds (read, write, fsync...) go to the engine; their
 * permissions were checked when the fd was opened, as in the kernel.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "server.h"

#define RESOLVE (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)

static char root_path[4096];
static gid_t own_groups[SRV_MAX_GROUPS];
static int own_ngroups;

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
	if (stord.root_fd < 0) {
		srv_log(0, "cannot open export root %s: %s", root_path,
			strerror(errno));
		return -1;
	}
	own_ngroups = getgroups(SRV_MAX_GROUPS, own_groups);
	if (own_ngroups < 0)
		own_ngroups = 0;
	srv_log(1, "export root %s", root_path);
	return 0;
}

/* This thread's file-system identity becomes the client's (raw system
 * calls: glibc's wrappers would change every thread's). */
static void become(const struct srv_client *c)
{
	syscall(SYS_setgroups, c->ngroups, c->groups);
	syscall(SYS_setfsgid, c->cred.gid);
	syscall(SYS_setfsuid, c->cred.uid);
}

static void become_self(void)
{
	syscall(SYS_setfsuid, geteuid());
	syscall(SYS_setfsgid, getegid());
	syscall(SYS_setgroups, own_ngroups, own_groups);
}

static int resolve(int dirfd, const char *path, uint64_t flags, uint64_t mode)
{
	struct open_how how = { .flags = flags | O_CLOEXEC, .mode = mode,
				.resolve = RESOLVE };
	long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

/* Copy the client's path out of shared memory (bounded by the data area,
 * which it may change under us) into buf.  -EFAULT if unterminated. */
static int copy_path(const struct srv_client *c, uint64_t addr, char *buf)
{
	const char *p = (const char *)(uintptr_t)addr;
	size_t room = c->data_size - (size_t)((const uint8_t *)p - c->data);
	size_t n = strnlen(p, room < 4096 ? room : 4096);

	if (n == room || n >= 4096)
		return -ENAMETOOLONG;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return 0;
}

/* Split path into its directory (opened beneath dirfd, O_PATH) and its
 * last component (left in *leaf).  The fd, or -errno. */
static int parent_of(int dirfd, char *path, char **leaf)
{
	size_t n = strlen(path);
	char *slash;

	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
	slash = strrchr(path, '/');
	if (slash == path)
		return -EXDEV; /* "/x": absolute */
	*leaf = slash ? slash + 1 : path;
	if (!**leaf || !strcmp(*leaf, ".") || !strcmp(*leaf, ".."))
		return -EINVAL;
	if (!slash)
		return resolve(dirfd, ".", O_PATH | O_DIRECTORY, 0);
	*slash = '\0';
	return resolve(dirfd, path, O_PATH | O_DIRECTORY, 0);
}

static int64_t path_call(struct srv_client *c, struct vos_req *r)
{
	struct srv_worker *w = c->w;
	char *leaf, *leaf2;
	int64_t ret;
	int fd, fd2;

	if (copy_path(c, r->addr, w->path) < 0)
		return -ENAMETOOLONG;
	if (r->op == VOS_OP_RENAMEAT && copy_path(c, r->addr2, w->path2) < 0)
		return -ENAMETOOLONG;
	switch (r->op) {
	case VOS_OP_OPENAT:
		return resolve(r->fd, w->path, r->op_flags, r->arg);
	case VOS_OP_STATX:
		if (!w->path[0] && (r->op_flags & AT_EMPTY_PATH))
			fd = dup(r->fd);
		else
			fd = resolve(r->fd, w->path, O_PATH |
				     (r->op_flags & AT_SYMLINK_NOFOLLOW ?
				      O_NOFOLLOW : 0), 0);
		if (fd < 0)
			return fd;
		ret = statx(fd, "", AT_EMPTY_PATH | (r->op_flags &
			    AT_STATX_SYNC_TYPE), (unsigned)r->arg,
			    (struct statx *)(uintptr_t)r->addr2) < 0 ? -errno : 0;
		close(fd);
		return ret;
	case VOS_OP_UNLINKAT: case VOS_OP_MKDIRAT:
		fd = parent_of(r->fd, w->path, &leaf);
		if (fd < 0)
			return fd;
		if (r->op == VOS_OP_UNLINKAT)
			ret = unlinkat(fd, leaf, (int)r->op_flags);
		else
			ret = mkdirat(fd, leaf, (mode_t)r->arg);
		ret = ret < 0 ? -errno : 0;
		close(fd);
		return ret;
	case VOS_OP_RENAMEAT:
		fd = parent_of(r->fd, w->path, &leaf);
		if (fd < 0)
			return fd;
		fd2 = parent_of(r->fd2, w->path2, &leaf2);
		if (fd2 < 0) {
			close(fd);
			return fd2;
		}
		ret = renameat2(fd, leaf, fd2, leaf2, r->op_flags) < 0 ? -errno
								       : 0;
		close(fd);
		close(fd2);
		return ret;
	default:
		return -EINVAL;
	}
}

static int stord_execute(struct srv_client *c, struct vos_req *r, int64_t *res)
{
	switch (r->op) {
	case VOS_OP_OPENAT: case VOS_OP_STATX: case VOS_OP_UNLINKAT:
	case VOS_OP_MKDIRAT: case VOS_OP_RENAMEAT:
		become(c);
		*res = path_call(c, r);
		become_self();
		return 1;
	case VOS_OP_SOCKET: case VOS_OP_BIND: case VOS_OP_LISTEN:
	case VOS_OP_ACCEPT: case VOS_OP_CONNECT:
		return -EOPNOTSUPP; /* sockets are netd's */
	default:
		return 0;
	}
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
};

int main(int argc, char **argv)
{
	return srv_main(&stord, argc, argv);
}
