/*
 * shm_control.c - control messages over a SOCK_SEQPACKET socket
 * (shm_control.h).
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <unistd.h>

#include "control.h"
#include "shm_control.h"

int vos__shm_sendmsg(int sock, const void *msg, uint32_t len, const int *fds,
		     unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VOS__SHM_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { (void *)(uintptr_t)msg, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t sent;

	if (nfds > VOS__SHM_MAX_FDS)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		m.msg_control = u.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	do
		sent = sendmsg(sock, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (sent < 0 && errno == EINTR);
	if (sent < 0)
		return -errno;
	return (size_t)sent == len ? 0 : -EMSGSIZE;
}

int vos__shm_ctl_send(int sock, uint16_t type, int32_t status,
		      const void *payload, uint32_t len, const int *fds,
		      unsigned nfds)
{
	union {
		char buf[VOS_WIRE_MSG_MAX];
		struct vos_wire_msg align;
	} msg;
	int n = vos__ctl_frame(msg.buf, sizeof(msg.buf), type, status, payload,
			       len);

	if (n < 0)
		return n;
	return vos__shm_sendmsg(sock, msg.buf, (uint32_t)n, fds, nfds);
}

int vos__shm_ctl_recv(int sock, void *buf, uint32_t cap, int *fds,
		      unsigned *nfds, int timeout_ms)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VOS__SHM_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { buf, cap };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf) };
	struct vos_wire_msg h;
	unsigned got = 0;
	ssize_t n;
	int ret;

	*nfds = 0;
	if (cap < sizeof(h))
		return -EINVAL;
	if (timeout_ms != 0) {
		struct pollfd p = { sock, POLLIN, 0 };
		int r;

		do
			r = poll(&p, 1, timeout_ms < 0 ? -1 : timeout_ms);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
	}
	do
		n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		unsigned k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (unsigned i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (got < VOS__SHM_MAX_FDS)
				fds[got++] = fd;
			else
				close(fd);
		}
	}
	*nfds = got;
	if (n == 0)
		return 0;
	ret = (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ? -EBADMSG
						       : vos__ctl_parse(buf,
								(size_t)n, &h);
	if (ret == -EPROTO)
		return ret;
	if (ret < 0) {
		for (unsigned i = 0; i < got; i++)
			close(fds[i]);
		*nfds = 0;
		return ret;
	}
	return (int)n;
}

int vos__shm_check_memfd(int fd, uint64_t size)
{
	const int want = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	struct statfs sfs;
	struct stat st;
	int seals;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != size || fstatfs(fd, &sfs) < 0 ||
	    sfs.f_type != TMPFS_MAGIC)
		return -EBADMSG;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & want) != want)
		return -EBADMSG;
	return 0;
}
