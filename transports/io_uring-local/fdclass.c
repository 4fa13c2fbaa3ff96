/*
 * fdclass.c - what kind of file each fd is, remembered so that routing a
 * request costs no system call.  An entry is made on the first request for
 * an fd and dropped when vos closes the fd, creates a new fd with that
 * number, or changes its flags (F_SETFL, FIONBIO); vos_fd_forget() drops
 * it for changes made behind vos's back.
 */
#include "config.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "local.h"

/* fds above this are classified on every request instead of cached */
#define FDCLASS_MAX_CACHED (1u << 20)

static uint8_t classify(int fd)
{
	struct stat st;
	struct statfs sf;
	int fl;

	if (fstat(fd, &st) < 0)
		return VOS__FD_UNKNOWN;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return VOS__FD_UNKNOWN;
	if (S_ISREG(st.st_mode)) {
		if (fstatfs(fd, &sf) == 0 &&
		    (sf.f_type == TMPFS_MAGIC || sf.f_type == RAMFS_MAGIC))
			return VOS__FD_MEMFS;
		return (fl & O_DIRECT) ? VOS__FD_DIRECT : VOS__FD_DISKFS;
	}
	if (S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode))
		return VOS__FD_OTHER;
	/* sockets, pipes, character devices, and anonymous inodes (eventfd,
	 * signalfd, timerfd: no file type bits): all can be polled */
	return VOS__FD_STREAM | ((fl & O_NONBLOCK) ? VOS__FDC_NONBLOCK : 0) |
	       (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)
			? VOS__FDC_NO_OFFSET : 0);
}

static int grow(struct vos__fdclass *c, int fd)
{
	uint32_t ncap = c->cap ? c->cap : 256;
	uint8_t *t;

	while (ncap <= (uint32_t)fd)
		ncap *= 2;
	t = realloc(c->tab, ncap);
	if (!t)
		return -1;
	memset(t + c->cap, 0, ncap - c->cap);
	c->tab = t;
	c->cap = ncap;
	return 0;
}

uint8_t vos__fdclass_get(struct vos__fdclass *c, int fd)
{
	uint8_t v;

	if (fd < 0)
		return VOS__FD_UNKNOWN;
	if ((uint32_t)fd < c->cap && c->tab[fd])
		return c->tab[fd];
	v = classify(fd);
	if (v && (uint32_t)fd < FDCLASS_MAX_CACHED &&
	    ((uint32_t)fd < c->cap || grow(c, fd) == 0))
		c->tab[fd] = v;
	return v;
}

void vos__fdclass_add(struct vos__fdclass *c, int fd, uint8_t bits)
{
	if (fd >= 0 && (uint32_t)fd < c->cap && c->tab[fd])
		c->tab[fd] |= bits;
}

void vos__fdclass_forget(struct vos__fdclass *c, int fd)
{
	if (fd >= 0 && (uint32_t)fd < c->cap)
		c->tab[fd] = 0;
}

void vos__fdclass_free(struct vos__fdclass *c)
{
	free(c->tab);
	c->tab = NULL;
	c->cap = 0;
}
