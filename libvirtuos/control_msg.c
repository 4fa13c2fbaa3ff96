/*
 * control_msg.c - sending and receiving control-channel messages.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "control_msg.h"

int vos__ctl_send(int sock, uint16_t type, int32_t status,
		  const void *payload, uint32_t len, const int *fds,
		  unsigned nfds)
{
	struct vos_wire_msg h = { VOS_WIRE_MAGIC, VOS_WIRE_VERSION, type,
				  status, len };
	struct iovec iov[2] = { { &h, sizeof(h) },
				{ (void *)(uintptr_t)payload, len } };
	union {
		char buf[CMSG_SPACE(sizeof(int) * VOS__CTL_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = len ? 2 : 1 };
	ssize_t n;

	if (nfds > VOS__CTL_MAX_FDS || sizeof(h) + len > VOS_WIRE_MSG_MAX)
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
		n = sendmsg(sock, &m, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == sizeof(h) + len ? 0 : -EMSGSIZE;
}

int vos__ctl_recv(int sock, void *buf, uint32_t cap, int *fds, unsigned *nfds,
		  int timeout_ms)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VOS__CTL_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { buf, cap };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = u.buf,
			    .msg_controllen = sizeof(u.buf) };
	struct vos_wire_msg h;
	unsigned got = 0;
	ssize_t n;

	*nfds = 0;
	if (cap < sizeof(h))
		return -EINVAL;
	if (timeout_ms >= 0) {
		struct pollfd p = { sock, POLLIN, 0 };
		int r;

		do
			r = poll(&p, 1, timeout_ms);
		while (r < 0 && errno == EINTR);
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
	}
	do
		n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned k = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));

		for (unsigned i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (got < VOS__CTL_MAX_FDS)
				fds[got++] = fd;
			else
				close(fd);
		}
	}
	*nfds = got;
	if (n == 0)
		return 0;
	memcpy(&h, buf, n < (ssize_t)sizeof(h) ? (size_t)n : sizeof(h));
	if ((size_t)n < sizeof(h) || (m.msg_flags & MSG_TRUNC) ||
	    h.magic != VOS_WIRE_MAGIC || h.len != (size_t)n - sizeof(h))
		goto bad;
	if (h.version != VOS_WIRE_VERSION)
		return -EPROTO;
	return (int)n;
bad:
	for (unsigned i = 0; i < got; i++)
		close(fds[i]);
	*nfds = 0;
	return -EBADMSG;
}
