/*
 * netd - the network service daemon.
 *
 * Serves socket calls for libvirtuos clients.  With --netns NAME it runs
 * inside that network namespace, so a program in a namespace without a
 * network reaches the network only through netd.  It runs socket calls
 * with its own privileges, so it refuses what an unprivileged client could
 * not do itself: raw sockets, ports below 1024, privileged socket
 * options; and families it is not configured for.
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server.h"

static char netns[128];
static bool fam_inet = true, fam_inet6 = true, fam_unix;

static int netd_option(const char *key, const char *val)
{
	if (strcmp(key, "netns") == 0) {
		if (strlen(val) >= sizeof(netns) || strchr(val, '/')) {
			fprintf(stderr, "netd: bad namespace name '%s'\n", val);
			return -1;
		}
		strcpy(netns, val);
		return 1;
	}
	if (strcmp(key, "families") == 0) {
		char buf[128], *save, *t;

		fam_inet = fam_inet6 = fam_unix = false;
		snprintf(buf, sizeof(buf), "%s", val);
		for (t = strtok_r(buf, ",", &save); t;
		     t = strtok_r(NULL, ",", &save)) {
			if (!strcmp(t, "inet"))
				fam_inet = true;
			else if (!strcmp(t, "inet6"))
				fam_inet6 = true;
			else if (!strcmp(t, "unix"))
				fam_unix = true;
			else {
				fprintf(stderr, "netd: unknown family '%s' "
					"(inet, inet6, unix)\n", t);
				return -1;
			}
		}
		return 1;
	}
	return 0;
}

static int netd_setup(void)
{
	char path[256];
	int fd;

	if (!netns[0])
		return 0;
	snprintf(path, sizeof(path), "/run/netns/%s", netns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		srv_log(0, "cannot enter network namespace %s (%s): %s", netns,
			path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	srv_log(1, "running in network namespace %s", netns);
	return 0;
}

static int port_of(const struct vos_req *r)
{
	const struct sockaddr *sa = (const void *)(uintptr_t)r->addr;

	if (r->len >= sizeof(struct sockaddr_in) && sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)
			     ->sin_port);
	if (r->len >= sizeof(struct sockaddr_in6) && sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)sa)
			     ->sin6_port);
	return -1;
}

static int netd_execute(struct srv_client *c, struct vos_req *r, int64_t *res)
{
	bool root = c->cred.uid == 0;

	(void)res;
	switch (r->op) {
	case VOS_OP_OPENAT: case VOS_OP_STATX: case VOS_OP_UNLINKAT:
	case VOS_OP_MKDIRAT: case VOS_OP_RENAMEAT:
		return -EOPNOTSUPP; /* files are stord's */
	case VOS_OP_SOCKET: {
		int fam = (int)r->arg, type = (int)r->op_flags & 0xf;

		if (!((fam == AF_INET && fam_inet) ||
		      (fam == AF_INET6 && fam_inet6) ||
		      (fam == AF_UNIX && fam_unix)))
			return -EAFNOSUPPORT;
		if (!root && type != SOCK_STREAM && type != SOCK_DGRAM)
			return -EPERM;
		return 0;
	}
	case VOS_OP_BIND: {
		int port = port_of(r);

		if (!root && port > 0 && port < 1024)
			return -EACCES;
		return 0;
	}
	case VOS_OP_SETSOCKOPT:
		if (!root && (((int)r->arg == SOL_SOCKET &&
			       ((int)r->op_flags == SO_MARK ||
				(int)r->op_flags == SO_BINDTODEVICE)) ||
			      ((int)r->arg == IPPROTO_IP &&
			       (int)r->op_flags == IP_TRANSPARENT)))
			return -EPERM;
		return 0;
	default:
		return 0;
	}
}

static struct srv_service netd = {
	.name = "netd",
	.summary = "The libvirtuos network service: socket calls in their own "
		   "protection domain.",
	.default_socket = "/run/virtuos/netd.sock",
	.extra_help =
		"Network options:\n"
		"      --netns NAME      serve from network namespace NAME\n"
		"                        (/run/netns/NAME, as made by ip netns)\n"
		"      --families LIST   socket families served (default\n"
		"                        inet,inet6; also: unix)\n",
	.option = netd_option,
	.setup = netd_setup,
	.root_fd = -1,
	.execute = netd_execute,
};

int main(int argc, char **argv)
{
	return srv_main(&netd, argc, argv);
}
