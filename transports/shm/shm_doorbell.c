/*
 * shm_doorbell.c - ringing and draining a doorbell (shm_doorbell.h).
 */
#include "config.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "shm_doorbell.h"

#define DRAIN_MAX 256 /* reads per drain, at most */

void vos__shm_ring(int bell)
{
	char one = 1;

	if (send(bell, &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* EAGAIN: rung already; EPIPE: gone, the next drain says */
	}
}

int vos__shm_drain(int bell)
{
	char buf[64];

	/* bounded: a peer that keeps ringing cannot keep us here */
	for (int i = 0; i < DRAIN_MAX; i++) {
		ssize_t n = recv(bell, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0 && (size_t)n < sizeof(buf))
			return 0; /* a stream: less than asked is all there was */
		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		return -ECONNRESET; /* 0: hung up; an error: gone too */
	}
	return 0;
}

int vos__shm_is_bell(int fd)
{
	struct stat st;
	int type = 0, domain = 0;
	socklen_t l = sizeof(type), l2 = sizeof(domain);

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
	       getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) == 0 &&
	       getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &l2) == 0 &&
	       type == SOCK_STREAM && domain == AF_UNIX;
}
