/*
 * server_lifecycle.h - how the example servers start and stop: a
 * listening TCP socket made through vos, the "ready" announcement a test
 * or a supervisor waits for, and a stop signal delivered as a completion.
 *
 * Stopping: SIGINT and SIGTERM are blocked and read from a signalfd with
 * an ordinary vos read request, so a signal is just one more completion in
 * the event loop: no race between checking a flag and going to sleep.
 */
#ifndef VOS_EXAMPLES_SERVER_LIFECYCLE_H
#define VOS_EXAMPLES_SERVER_LIFECYCLE_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <virtuos/virtuos.h>

/* A listening TCP socket on addr:port (port 0: the kernel picks); the port
 * actually bound goes to *bound.  Returns the fd or -errno. */
static inline int lc_listen(struct vos_ctx *ctx, const char *addr, int port,
			    int backlog, int *bound)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	int fd, one = 1, r;

	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
		return -EINVAL;
	sin.sin_port = htons((uint16_t)port);
	fd = vos_socket(ctx, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fd;
	if ((r = vos_setsockopt(ctx, fd, SOL_SOCKET, SO_REUSEADDR, &one,
				sizeof(one))) < 0 ||
	    (r = vos_bind(ctx, fd, (struct sockaddr *)&sin, sizeof(sin))) < 0 ||
	    (r = vos_listen(ctx, fd, backlog)) < 0 ||
	    (r = vos_getsockname(ctx, fd, (struct sockaddr *)&sin, &sl)) < 0) {
		vos_close(ctx, fd);
		return r;
	}
	*bound = ntohs(sin.sin_port);
	return fd;
}

/* Write "PORT\n" to ready_fd (if >= 0) and close it: the server is up. */
static inline void lc_announce(int ready_fd, int port)
{
	char line[16];
	int n = snprintf(line, sizeof(line), "%d\n", port);

	if (ready_fd < 0)
		return;
	if (write(ready_fd, line, (size_t)n) != n)
		perror("ready-fd");
	close(ready_fd);
}

/* Block SIGINT/SIGTERM and return a signalfd for them (or -errno).  Ignore
 * SIGPIPE: a peer that goes away is an error result, not a death. */
static inline int lc_stop_fd(void)
{
	sigset_t set;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	fd = signalfd(-1, &set, SFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/*
 * Whether an accept error means the listening socket itself is gone (its
 * service died: -EIO, -ECONNRESET; or it was closed: -EBADF...), so that
 * accepting again would only fail again.  Other errors (-EMFILE,
 * -ECONNABORTED...) pass.
 */
static inline bool lc_listener_gone(int64_t res)
{
	return res == -EIO || res == -ECONNRESET || res == -EBADF ||
	       res == -ENOTSOCK || res == -EINVAL;
}

#endif
