/*
 * netd - the network service daemon.
 *
 * Serves socket calls for libvirtuos clients.  With --netns NAME it runs
 * inside that network namespace, so a program in a namespace without a
 * network reaches the network only through netd.
 *
 * netd makes its calls with its own privileges, so its policy is what the
 * kernel would enforce for the client itself, decided on the private copy
 * of each request (the decoder copied addresses and option values out of
 * shared memory; the kernel gets the same copy, so a client cannot change
 * them between the check and the call):
 *   - socket(): only the families it serves; raw and packet sockets need
 *     CAP_NET_RAW; ICMP "ping" sockets need a group in ping_group_range;
 *     AF_UNIX only for clients with netd's own uid (a Unix socket made by
 *     netd would connect and bind with netd's credentials, which the
 *     kernel then reports to the peer: nobody else may borrow them);
 *   - bind(): the address family must be the socket's (AF_UNSPEC is
 *     refused), the length what the kernel wants, and a port below
 *     ip_unprivileged_port_start needs CAP_NET_BIND_SERVICE;
 *   - setsockopt(): an allowlist; options that need CAP_NET_ADMIN or
 *     CAP_NET_RAW from the kernel (SO_DEBUG, SO_MARK, SO_*BUFFORCE,
 *     SO_PRIORITY above 6, SO_BINDTODEVICE, IP(V6)_TRANSPARENT, ...) need
 *     them from the client; TCP_CONGESTION only names the host allows.
 * A client's privileges follow its uid as the kernel recorded it at
 * connect(): root may do everything, others what any user may.  (Not the
 * process's effective capability set: the process may have exec'd a
 * setuid or file-capability program since, while a child keeps the
 * socket; the daemon would then lend that program's privileges.)
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/un.h>
#include <unistd.h>

#include "opdef.h"
#include "server.h"

#define CAP(x) ((uint64_t)1 << (x))

static char netns[128];
static bool fam_inet = true, fam_inet6 = true, fam_unix;
static unsigned unpriv_port = 1024;      /* ip_unprivileged_port_start */
static long ping_lo = 1, ping_hi = 0;    /* ping_group_range */
static char congestion[512] = " reno cubic "; /* allowed, space-framed */

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

/* A line of a /proc/sys file into buf. */
static bool read_sys(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "re");
	bool ok;

	if (!f)
		return false;
	ok = fgets(buf, (int)cap, f) != NULL;
	fclose(f);
	return ok;
}

static int netd_setup(void)
{
	char path[256], buf[512];
	int fd;

	if (netns[0]) {
		snprintf(path, sizeof(path), "/run/netns/%s", netns);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
			srv_log(0, "cannot enter network namespace %s (%s): "
				"%s", netns, path, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
		srv_log(1, "running in network namespace %s", netns);
	}
	/* the host's own rules, as this namespace has them */
	if (read_sys("/proc/sys/net/ipv4/ip_unprivileged_port_start", buf,
		     sizeof(buf)))
		unpriv_port = (unsigned)strtoul(buf, NULL, 10);
	if (read_sys("/proc/sys/net/ipv4/ping_group_range", buf, sizeof(buf)))
		sscanf(buf, "%ld %ld", &ping_lo, &ping_hi);
	if (read_sys("/proc/sys/net/ipv4/tcp_allowed_congestion_control", buf,
		     sizeof(buf))) {
		buf[strcspn(buf, "\n")] = '\0';
		buf[sizeof(congestion) - 3] = '\0'; /* room for the frame */
		snprintf(congestion, sizeof(congestion), " %.*s ",
			 (int)(sizeof(congestion) - 3), buf);
	}
	return 0;
}

static bool has_cap(const struct srv_client *c, int cap)
{
	return c->cred.caps & CAP(cap);
}

static bool in_ping_range(const struct srv_client *c)
{
	if ((long)c->cred.gid >= ping_lo && (long)c->cred.gid <= ping_hi)
		return true;
	for (int i = 0; i < c->cred.ngroups; i++)
		if ((long)c->cred.groups[i] >= ping_lo &&
		    (long)c->cred.groups[i] <= ping_hi)
			return true;
	return false;
}

/* The policy refused a socket the client may not have: but the kernel
 * checks the type and protocol before the permission, so if it would
 * not make this socket for anyone, its reason is the answer.  Asked by
 * making one here (and closing it: nothing else happens). */
static int refuse_socket(const struct vos_req *r, int err)
{
	int fd = socket((int)r->arg, (int)r->op_flags | SOCK_CLOEXEC, r->fd2);

	if (fd >= 0) {
		close(fd);
		return err;
	}
	/* the kernel's verdicts on the type and protocol only (netd's own
	 * shortage, -EMFILE or -ENOBUFS, is not the client's answer) */
	if (errno == EPROTONOSUPPORT || errno == ESOCKTNOSUPPORT ||
	    errno == EPROTOTYPE || errno == EINVAL || errno == EAFNOSUPPORT)
		return -errno;
	return err;
}

static int check_socket(const struct srv_client *c, const struct vos_req *r)
{
	int fam = (int)r->arg, type = (int)r->op_flags & 0xf, proto = r->fd2;
	int err = 0;

	if (!((fam == AF_INET && fam_inet) || (fam == AF_INET6 && fam_inet6) ||
	      (fam == AF_UNIX && fam_unix)))
		return -EAFNOSUPPORT;
	if (fam == AF_UNIX)
		return c->cred.uid == geteuid() ? 0 : -EACCES;
	if ((type == SOCK_RAW || type == SOCK_PACKET) &&
	    !has_cap(c, CAP_NET_RAW))
		err = -EPERM;
	else if (type == SOCK_DGRAM &&
		 (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) &&
		 !has_cap(c, CAP_NET_RAW) && !in_ping_range(c))
		err = -EACCES; /* what the kernel says outside the range */
	return err ? refuse_socket(r, err) : 0;
}

/* bind: on the private copy of the address the kernel will get. */
static int check_bind(const struct srv_client *c, const struct srv_req *q)
{
	const struct vos_req *r = &q->d.r;
	const uint8_t *sa = q->d.u.sa;
	const struct srv_fd *f = &c->fds[q->fdi];
	sa_family_t fam;
	uint16_t port;

	if (r->len < sizeof(sa_family_t))
		return -EINVAL;
	memcpy(&fam, sa, sizeof(fam));
	if (f->family == AF_UNIX)
		return fam == AF_UNIX ? 0 : -EINVAL;
	/* the kernel's order: the length for the socket's family, then the
	 * family (AF_UNSPEC included: refused) */
	if ((f->family == AF_INET && r->len < sizeof(struct sockaddr_in)) ||
	    (f->family == AF_INET6 && r->len < 24 /* SIN6_LEN_RFC2133 */))
		return -EINVAL;
	if (fam != f->family)
		return -EAFNOSUPPORT;
	/* sin_port and sin6_port are both at offset 2 (IPv4-mapped IPv6
	 * addresses too) */
	memcpy(&port, sa + 2, sizeof(port));
	port = ntohs(port);
	if (port && port < unpriv_port && !has_cap(c, CAP_NET_BIND_SERVICE))
		return -EACCES;
	return 0;
}

static bool opt_in(int name, const int *list)
{
	for (; *list >= 0; list++)
		if (*list == name)
			return true;
	return false;
}

/* Options anyone may set (the kernel asks no capability for them). */
static const int sol_socket_ok[] = {
	SO_REUSEADDR, SO_REUSEPORT, SO_KEEPALIVE, SO_LINGER, SO_RCVBUF,
	SO_SNDBUF, SO_RCVLOWAT, SO_SNDLOWAT, SO_RCVTIMEO, SO_SNDTIMEO,
	SO_BROADCAST, SO_OOBINLINE, SO_TIMESTAMP, SO_TIMESTAMPNS,
	SO_RXQ_OVFL, SO_PEEK_OFF, SO_DONTROUTE, SO_INCOMING_CPU,
	SO_PASSCRED, SO_PRIORITY /* value checked */,
#ifdef SO_RCVTIMEO_NEW
	SO_RCVTIMEO_NEW, SO_SNDTIMEO_NEW, SO_TIMESTAMP_NEW,
	SO_TIMESTAMPNS_NEW,
#endif
	-1,
};
static const int tcp_ok[] = {
	TCP_NODELAY, TCP_MAXSEG, TCP_CORK, TCP_KEEPIDLE, TCP_KEEPINTVL,
	TCP_KEEPCNT, TCP_SYNCNT, TCP_LINGER2, TCP_DEFER_ACCEPT,
	TCP_WINDOW_CLAMP, TCP_QUICKACK, TCP_USER_TIMEOUT, TCP_NOTSENT_LOWAT,
	TCP_FASTOPEN, TCP_FASTOPEN_CONNECT, TCP_THIN_LINEAR_TIMEOUTS,
	TCP_CONGESTION /* value checked */, -1,
};
static const int ip_ok[] = {
	IP_TOS, IP_TTL, IP_MULTICAST_IF, IP_MULTICAST_TTL, IP_MULTICAST_LOOP,
	IP_ADD_MEMBERSHIP, IP_DROP_MEMBERSHIP, IP_ADD_SOURCE_MEMBERSHIP,
	IP_DROP_SOURCE_MEMBERSHIP, IP_BLOCK_SOURCE, IP_UNBLOCK_SOURCE,
	IP_PKTINFO, IP_RECVTOS, IP_RECVTTL, IP_RECVERR, IP_MTU_DISCOVER,
	IP_FREEBIND, IP_BIND_ADDRESS_NO_PORT, IP_RECVORIGDSTADDR, -1,
};
static const int ipv6_ok[] = {
	IPV6_V6ONLY, IPV6_UNICAST_HOPS, IPV6_MULTICAST_IF,
	IPV6_MULTICAST_HOPS, IPV6_MULTICAST_LOOP, IPV6_ADD_MEMBERSHIP,
	IPV6_DROP_MEMBERSHIP, IPV6_RECVPKTINFO, IPV6_TCLASS, IPV6_RECVTCLASS,
	IPV6_RECVERR, IPV6_MTU_DISCOVER, IPV6_RECVHOPLIMIT, IPV6_DONTFRAG,
	-1,
};
static const int udp_ok[] = { UDP_CORK, UDP_SEGMENT, UDP_GRO, -1 };

/* SOL_SOCKET options that can only be read: setsockopt says
 * -ENOPROTOOPT for them, to anyone. */
static const int sol_socket_read_only[] = {
	SO_TYPE, SO_ERROR, SO_ACCEPTCONN, SO_PEERCRED, SO_PEERNAME,
	SO_PROTOCOL, SO_DOMAIN, SO_PEERSEC, SO_PEERGROUPS, SO_COOKIE,
	SO_MEMINFO, SO_INCOMING_NAPI_ID, -1,
};

/* The policy refused an option: but the kernel says -ENOPROTOOPT, to
 * anyone and before any permission, for a level an inet socket does not
 * have, for a SOL_SOCKET option that does not exist (a number past 80:
 * Linux 6.18 ends at 79) and for one that can only be read.  Decided from these tables alone: netd asks the kernel nothing
 * with the client's level and option (as root, that could reach code no
 * client may reach).  Within the other levels an option that does not
 * exist stays -EPERM (doc/semantics.md). */
static int refuse_option(const struct vos_req *r, int err)
{
	int level = (int)r->arg, name = (int)r->op_flags;

	switch (level) {
	case SOL_SOCKET:
		if (name <= 0 || name > 80 ||
		    opt_in(name, sol_socket_read_only))
			return -ENOPROTOOPT;
		return err;
	case IPPROTO_IP: case IPPROTO_IPV6: case IPPROTO_TCP:
	case IPPROTO_UDP: case IPPROTO_RAW: case IPPROTO_ICMPV6:
		return err;
	default:
		return -ENOPROTOOPT;
	}
}

/* setsockopt: on the private copy of the value the kernel will get. */
static int check_setsockopt(const struct srv_client *c,
			    const struct srv_req *q)
{
	const struct vos_req *r = &q->d.r;
	int level = (int)r->arg, name = (int)r->op_flags;
	bool ok;

	if (has_cap(c, CAP_NET_ADMIN) && has_cap(c, CAP_NET_RAW))
		return 0; /* what root could do itself */
	switch (level) {
	case SOL_SOCKET:
		ok = opt_in(name, sol_socket_ok);
		if (ok && name == SO_PRIORITY) {
			int v;

			if (r->len < sizeof(v))
				return -EINVAL;
			memcpy(&v, q->d.u.opt, sizeof(v));
			ok = (v >= 0 && v <= 6) || has_cap(c, CAP_NET_ADMIN);
		}
		break;
	case IPPROTO_TCP:
		ok = opt_in(name, tcp_ok);
		if (ok && name == TCP_CONGESTION &&
		    !has_cap(c, CAP_NET_ADMIN)) {
			char want[20], framed[24];
			size_t n = r->len < sizeof(want) - 1 ? r->len
							     : sizeof(want) - 1;

			memcpy(want, q->d.u.opt, n);
			want[n] = '\0';
			want[strcspn(want, " ")] = '\0';
			snprintf(framed, sizeof(framed), " %s ", want);
			ok = want[0] && strstr(congestion, framed);
		}
		break;
	case IPPROTO_IP:
		ok = opt_in(name, ip_ok);
		break;
	case IPPROTO_IPV6:
		ok = opt_in(name, ipv6_ok);
		break;
	case IPPROTO_UDP:
		ok = opt_in(name, udp_ok);
		break;
	default:
		ok = false;
		break;
	}
	return ok ? 0 : refuse_option(r, -EPERM);
}

/* A path call whose directory fd is one of ours, a socket (fstat and
 * fstatfs are statx and statfs of "" with AT_EMPTY_PATH): the kernel's
 * answer for the socket itself where it only reads it; -ENOTDIR and
 * -ENOENT as the kernel says them for a path under a socket.  The rest
 * (changing a socket's mode, owner or times; an absolute path) is
 * -EOPNOTSUPP: files are stord's. */
static int on_socket(struct srv_req *q, int64_t *res)
{
	const struct vos_req *r = &q->d.r;
	char path[PATH_MAX];
	int ret = vos__dreq_path(&q->data, &q->d, 0, path, sizeof(path));

	if (ret < 0)
		return ret;
	/* (an absolute path comes here only scoped to the socket: an
	 * openat2 with RESOLVE_IN_ROOT, which starts it at the socket) */
	if (path[0] == '/' &&
	    !(q->op == VOS_OP_OPENAT2 && (r->off & RESOLVE_IN_ROOT)))
		return -EOPNOTSUPP;
	if (path[0])
		return -ENOTDIR; /* a socket is no directory */
	/* (an open's flags are no AT_ flags: O_DSYNC is AT_EMPTY_PATH's
	 * bit) */
	if (q->op == VOS_OP_OPENAT || q->op == VOS_OP_OPENAT2 ||
	    !(r->op_flags & AT_EMPTY_PATH))
		return -ENOENT;
	switch (q->op) {
	case VOS_OP_STATX:
		*res = statx(r->fd, "", (int)r->op_flags, (unsigned)r->arg,
			     (struct statx *)(uintptr_t)r->addr2) < 0 ? -errno
								       : 0;
		return SRV_DONE;
	case VOS_OP_STATFS:
		*res = fstatfs(r->fd, (struct statfs *)(uintptr_t)r->addr2) < 0
			       ? -errno : 0;
		return SRV_DONE;
	default:
		return -EOPNOTSUPP;
	}
}

static int netd_execute(struct srv_client *c, struct srv_req *q, int64_t *res)
{
	const struct vos__opdef *d = vos__opdef(q->op);
	const struct vos_req *r = &q->d.r;

	if (d->svc == VOS__SVC_FILE)
		return on_socket(q, res);
	switch (q->op) {
	case VOS_OP_SOCKET:
		return check_socket(c, r);
	case VOS_OP_BIND:
		return check_bind(c, q);
	case VOS_OP_SETSOCKOPT:
		return check_setsockopt(c, q);
	default:
		/* connect grants nothing a client could not do itself on
		 * an inet socket (Unix sockets were vetted when made); the
		 * kernel gets the private copy of the address */
		return SRV_RUN;
	}
}

static void netd_fd_made(struct srv_client *c, struct srv_req *q, int idx)
{
	if (q->op == VOS_OP_SOCKET) {
		c->fds[idx].family = (int)q->d.r.arg;
		c->fds[idx].type = (int)q->d.r.op_flags & 0xf;
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
		"                        inet,inet6; also: unix, served only to\n"
		"                        clients with netd's own uid)\n",
	.option = netd_option,
	.setup = netd_setup,
	.root_fd = -1,
	.execute = netd_execute,
	.fd_made = netd_fd_made,
};

int main(int argc, char **argv)
{
	return srv_main(&netd, argc, argv);
}
