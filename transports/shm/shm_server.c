/*
 * shm_server.c - the shm channel, service end (wire/channel.h): a Unix
 * SOCK_SEQPACKET endpoint, credentials from the kernel, a sealed memfd
 * region and a doorbell pair per client.
 *
 * Nothing here relies on what the client controls: the region is sealed
 * (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) before it is handed over,
 * so no client can truncate it under our mapping; the doorbell is a
 * socket pair whose two ends are two open file descriptions, so a client
 * that changes its end's flags changes nothing of ours, and we ring it
 * with MSG_DONTWAIT anyway; control messages are sent with MSG_DONTWAIT
 * and anything a client attaches to its messages is closed unread.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "channel.h"
#include "shm_control.h"
#include "shm_doorbell.h"


static int srv_listen(const char *path, const struct vos__listen_opts *o,
		      int *lfd, char *why, size_t whylen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char dir[sizeof(sun.sun_path)], *slash;
	mode_t old;
	int fd, probe, err;

	if (strlen(path) >= sizeof(sun.sun_path) || !*path) {
		snprintf(why, whylen, "socket path '%s' is empty or too long",
			 path);
		return -EINVAL;
	}
	strcpy(sun.sun_path, path);
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0755); /* /run/virtuos on first start */
	}
	/* a live daemon on the path: refuse; a stale socket: replace */
	probe = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&sun,
				  sizeof(sun)) == 0) {
		close(probe);
		snprintf(why, whylen, "another daemon is serving %s", path);
		return -EADDRINUSE;
	}
	if (probe >= 0)
		close(probe);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto sys;
	/* created owner-only, then given its mode: never more open than
	 * asked, not even for a moment */
	old = umask(0177);
	err = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (err < 0 || (o->gid >= 0 && chown(path, (uid_t)-1,
					     (gid_t)o->gid) < 0) ||
	    chmod(path, o->mode) < 0 || listen(fd, (int)o->backlog) < 0)
		goto sys;
	*lfd = fd;
	return 0;
sys:
	err = -errno;
	snprintf(why, whylen, "cannot listen on %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return err;
}

static void srv_unlisten(const char *path, int lfd)
{
	close(lfd);
	unlink(path);
}

static int srv_accept(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	return fd < 0 ? -errno : fd;
}

static int srv_cred(int conn, struct vos__cred *c)
{
	struct ucred uc;
	socklen_t l = sizeof(uc);

	memset(c, 0, sizeof(*c));
	if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &uc, &l) < 0)
		return -errno;
	c->pid = uc.pid;
	c->uid = uc.uid;
	c->gid = uc.gid;
	l = sizeof(c->groups);
	if (getsockopt(conn, SOL_SOCKET, SO_PEERGROUPS, c->groups, &l) == 0)
		c->ngroups = (int)(l / sizeof(gid_t));
	else
		c->ngroups = 0; /* more than fit: the primary group only */
	/* Privilege follows the uid the kernel recorded at connect(), which
	 * nothing the client does later changes: root has every capability,
	 * others none.  (A process's effective set is no evidence: it may
	 * have exec'd a setuid or file-capability program since connecting,
	 * while a child of it keeps the socket.) */
	c->caps = c->uid == 0 ? ~(uint64_t)0 : 0;
	return 0;
}

/* One message; at most want_fd descriptors are kept (into *fd), any
 * other that came is closed unread. */
static int recv_some(int conn, void *buf, uint32_t cap, int *fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VOS__SHM_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { buf, cap };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf) };
	ssize_t n = recvmsg(conn, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

	if (fd)
		*fd = -1;
	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) /
					       sizeof(int); i++) {
				int f;

				memcpy(&f, CMSG_DATA(c) + i * sizeof(int),
				       sizeof(f));
				if (fd && *fd < 0)
					*fd = f;
				else
					close(f);
			}
	if (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
		if (fd && *fd >= 0)
			close(*fd);
		if (fd)
			*fd = -1;
		return -EBADMSG;
	}
	return (int)n;
}

static int srv_recv(int conn, void *buf, uint32_t cap)
{
	/* attached fds are closed unread */
	return recv_some(conn, buf, cap, NULL);
}

static int srv_recv_fd(int conn, void *buf, uint32_t cap, int *fd)
{
	return recv_some(conn, buf, cap, fd);
}

static int srv_send(int conn, const void *buf, uint32_t len)
{
	ssize_t n = send(conn, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EMSGSIZE;
}

static void offer_close(struct vos__offer *o)
{
	if (o->map) /* the region, and the areas mapped after it */
		munmap(o->map, o->size + o->reserve);
	if (o->priv >= 0)
		close(o->priv);
	for (int i = 0; i < 2; i++)
		if (o->give[i] >= 0)
			close(o->give[i]);
	o->map = NULL;
	o->priv = o->wait_fd = o->give[0] = o->give[1] = -1;
}

static int srv_make_offer(uint64_t size, uint64_t reserve,
			  struct vos__offer *o)
{
	int memfd, sv[2], err;
	void *map;

	o->map = NULL;
	o->size = size;
	o->reserve = reserve;
	o->priv = o->wait_fd = o->give[0] = o->give[1] = -1;
	memfd = memfd_create("vos-region", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (memfd < 0)
		return -errno;
	o->give[0] = memfd;
	if (ftruncate(memfd, (off_t)size) < 0)
		goto sys;
	/* address space for the region and the client's areas after it
	 * (nothing is committed: the areas are the client's memory) */
	map = mmap(NULL, size + reserve, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (map == MAP_FAILED)
		goto sys;
	o->map = map;
	if (mmap(map, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 memfd, 0) == MAP_FAILED)
		goto sys;
	/* from here on nobody can change its size, nor add seals */
	if (fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
		  F_SEAL_SEAL) < 0)
		goto sys;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		       0, sv) < 0)
		goto sys;
	o->priv = o->wait_fd = sv[0];
	o->give[1] = sv[1];
	return 0;
sys:
	err = -errno;
	offer_close(o);
	return err;
}

static int srv_area_map(struct vos__offer *o, int handle, uint64_t size,
			uint64_t at)
{
	int err = 0;

	/* the client's memory: a shrinkable file would let it make our
	 * accesses fault (SIGBUS) whenever it likes */
	if (at < o->size || at > o->size + o->reserve ||
	    size > o->size + o->reserve - at || size % 4096 || at % 4096 ||
	    vos__shm_check_memfd(handle, size) < 0)
		err = -EBADMSG;
	else if (mmap((uint8_t *)o->map + at, size, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_FIXED, handle, 0) == MAP_FAILED) {
		err = -errno;
		/* a failed MAP_FIXED may leave a hole: keep the range ours,
		 * or say that it is lost (nothing may be mapped there again:
		 * something else of ours may have landed in it) */
		if (mmap((uint8_t *)o->map + at, size, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
			 MAP_FIXED, -1, 0) == MAP_FAILED)
			err = -ENOTRECOVERABLE;
	}
	close(handle);
	return err;
}

static int srv_send_offer(int conn, const void *reply, uint32_t len,
			  struct vos__offer *o)
{
	int ret = vos__shm_sendmsg(conn, reply, len, o->give, 2);

	if (ret < 0)
		return ret;
	/* the client holds them now */
	close(o->give[0]);
	close(o->give[1]);
	o->give[0] = o->give[1] = -1;
	return 0;
}

static void srv_notify(const struct vos__offer *o)
{
	vos__shm_ring(o->priv);
}

static int srv_drain(const struct vos__offer *o)
{
	return vos__shm_drain(o->priv);
}

const struct vos__chan_server vos__shm_server = {
	.name = "shm",
	.listen = srv_listen,
	.unlisten = srv_unlisten,
	.accept = srv_accept,
	.cred = srv_cred,
	.recv = srv_recv,
	.send = srv_send,
	.recv_fd = srv_recv_fd,
	.make_offer = srv_make_offer,
	.area_map = srv_area_map,
	.send_offer = srv_send_offer,
	.notify = srv_notify,
	.drain = srv_drain,
	.withdraw = offer_close,
};
