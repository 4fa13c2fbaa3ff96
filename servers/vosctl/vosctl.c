/*
 * vosctl - look at and tidy up libvirtuos service daemons.
 *
 *   vosctl [--routes FILE] [list]     every service in the routes file:
 *                                     up or down, its clients, in flight
 *   vosctl stats SOCKET               one daemon's report, as it sends it
 *   vosctl clear [--routes FILE] NAME a dead service's leftovers: its
 *                                     stale socket, so clients fail fast
 *                                     with ENOENT until it is restarted
 *
 * The daemons answer on their control socket (a STATS message, see
 * doc/protocol.md); vosctl never touches their shared memory.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <virtuos/wire.h>

#include "shm_control.h"
#include "options.h"
#include "routes.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vosctl [--routes FILE] [list]\n"
		"       vosctl stats SOCKET\n"
		"       vosctl [--routes FILE] clear SERVICE\n"
		"Look at libvirtuos service daemons (netd, stord).\n\n"
		"  list          each service of the routes file: up or down,\n"
		"                pid, attached clients, requests in flight\n"
		"  stats SOCKET  the report of the daemon on SOCKET\n"
		"  clear NAME    remove a dead service's stale socket (refused\n"
		"                while the daemon answers)\n"
		"  --routes FILE the routes file (default: $VOS_ROUTES, else\n"
		"                %s)\n"
		"  -h, --help    this text\n\n"
		"Exit status: 0 ok; 1 a service is down (list) or could not be\n"
		"cleared; 2 usage.  See vosctl(8).\n", VOS__ROUTES_DEFAULT);
}

/* The STATS report of the daemon on sock into buf: 0, or -errno. */
static int query(const char *sock, char *buf, size_t cap)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char m[VOS_WIRE_MSG_MAX];
	int fds[VOS__SHM_MAX_FDS];
	unsigned nfds;
	int s, n;

	if (strlen(sock) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	strcpy(sun.sun_path, sock);
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		n = -errno;
		close(s);
		return n;
	}
	n = vos__shm_ctl_send(s, VOS_WIRE_MSG_STATS, 0, NULL, 0, NULL, 0);
	if (n == 0)
		n = vos__shm_ctl_recv(s, m, sizeof(m) - 1, fds, &nfds, 5000);
	close(s);
	for (unsigned i = 0; n >= 0 && i < nfds; i++)
		close(fds[i]);
	if (n < 0)
		return n;
	if (n <= (int)sizeof(struct vos_wire_msg))
		return -EBADMSG;
	m[n] = '\0';
	snprintf(buf, cap, "%s", m + sizeof(struct vos_wire_msg));
	return 0;
}

/* The path= option of a shm service, or NULL. */
static const char *sock_of(const struct vos__routes *rt, unsigned i,
			   char *buf, size_t cap)
{
	const char *o = rt->svc[i].options;
	char key[32];

	if (strcmp(rt->svc[i].transport, "shm"))
		return NULL;
	while (vos__opt_next(&o, key, sizeof(key), buf, cap) > 0)
		if (!strcmp(key, "path"))
			return buf;
	return NULL;
}

static int load(const char *routes, struct vos__routes *rt)
{
	const char *p = routes ? routes : vos__routes_path();

	if (!p) {
		fprintf(stderr, "vosctl: no routes file (give --routes, set "
			"VOS_ROUTES, or create %s)\n", VOS__ROUTES_DEFAULT);
		return -1;
	}
	return vos__routes_load(p, rt) < 0 ? -1 : 0;
}

static int list(const char *routes)
{
	struct vos__routes rt;
	int down = 0;

	if (load(routes, &rt) < 0)
		return 2;
	printf("%-10s %-6s %-8s %-8s %-8s %-8s %s\n", "SERVICE", "STATE",
	       "PID", "CLIENTS", "RUNNING", "PARKED", "SOCKET");
	for (unsigned i = 1; i < rt.nsvc; i++) {
		char path[256], st[VOS_WIRE_MSG_MAX], *line;
		const char *sock = sock_of(&rt, i, path, sizeof(path));
		long pid = -1, clients = 0, running = 0, parked = 0;
		int r;

		if (!sock) {
			printf("%-10s %-6s %-8s %-8s %-8s %-8s (%s transport)\n",
			       rt.svc[i].name, "?", "-", "-", "-", "-",
			       rt.svc[i].transport);
			continue;
		}
		r = query(sock, st, sizeof(st));
		if (r < 0) {
			printf("%-10s %-6s %-8s %-8s %-8s %-8s %s (%s)\n",
			       rt.svc[i].name, "down", "-", "-", "-", "-", sock,
			       strerror(-r));
			down++;
			continue;
		}
		sscanf(st, "service %*s pid %ld", &pid);
		line = strstr(st, "clients ");
		if (line)
			clients = strtol(line + 8, NULL, 10);
		/* the daemon's totals (its client lines may be cut short) */
		line = strstr(st, " total-running ");
		if (line)
			running = strtol(line + 15, NULL, 10);
		line = strstr(st, " total-parked ");
		if (line)
			parked = strtol(line + 14, NULL, 10);
		printf("%-10s %-6s %-8ld %-8ld %-8ld %-8ld %s\n",
		       rt.svc[i].name, "up", pid, clients, running, parked,
		       sock);
		for (line = strstr(st, "\nclient "); line;
		     line = strstr(line + 1, "\nclient ")) {
			char one[256];
			size_t n = strcspn(line + 1, "\n");

			snprintf(one, sizeof(one), "%.*s", (int)n, line + 1);
			printf("    %s\n", one);
		}
	}
	return down ? 1 : 0;
}

static int clear(const char *routes, const char *name)
{
	struct vos__routes rt;
	char path[256], st[VOS_WIRE_MSG_MAX];
	const char *sock = NULL;
	struct stat sb;

	if (load(routes, &rt) < 0)
		return 2;
	for (unsigned i = 1; i < rt.nsvc; i++)
		if (!strcmp(rt.svc[i].name, name))
			sock = sock_of(&rt, i, path, sizeof(path));
	if (!sock) {
		fprintf(stderr, "vosctl: no shm service '%s' in the routes "
			"file\n", name);
		return 2;
	}
	if (query(sock, st, sizeof(st)) == 0) {
		fprintf(stderr, "vosctl: %s is running (%s): stop it first\n",
			name, sock);
		return 1;
	}
	if (lstat(sock, &sb) < 0) {
		printf("%s: nothing to clear (%s does not exist)\n", name, sock);
		return 0;
	}
	if (!S_ISSOCK(sb.st_mode)) {
		fprintf(stderr, "vosctl: %s is not a socket: left alone\n",
			sock);
		return 1;
	}
	if (unlink(sock) < 0) {
		fprintf(stderr, "vosctl: cannot remove %s: %s\n", sock,
			strerror(errno));
		return 1;
	}
	printf("%s: removed the stale socket %s; its clients now fail with "
	       "ENOENT at once until it restarts\n", name, sock);
	return 0;
}

int main(int argc, char **argv)
{
	const char *routes = NULL;
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--routes") && i + 1 < argc) {
			routes = argv[++i];
			continue;
		}
		usage(stderr);
		return 2;
	}
	if (i == argc || !strcmp(argv[i], "list"))
		return list(routes);
	if (!strcmp(argv[i], "stats") && i + 2 == argc) {
		char st[VOS_WIRE_MSG_MAX];
		int r = query(argv[i + 1], st, sizeof(st));

		if (r < 0) {
			fprintf(stderr, "vosctl: %s: %s\n", argv[i + 1],
				strerror(-r));
			return 1;
		}
		fputs(st, stdout);
		return 0;
	}
	if (!strcmp(argv[i], "clear") && i + 2 == argc)
		return clear(routes, argv[i + 1]);
	usage(stderr);
	return 2;
}
