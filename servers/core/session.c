/*
 * session.c - one attached client: its region, eventfds, credentials and
 * fd table (the client's shadow state), and releasing all of it.
 *
 * The fd table maps the small numbers a client uses to the daemon's real
 * fds.  An entry is reference-counted: the table holds one reference while
 * the fd is open, and each request using it holds one while it runs.  A
 * close drops the table's reference; the real fd is closed, and the number
 * can be handed out again, only when the last request using it is done.
 * So a request never runs on a real fd number that has since been reused
 * (possibly for another client).
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server.h"

struct srv_client *srv_client_new(int sock, const struct vos_wire_attach *a,
				  int *err, char *why, size_t whylen)
{
	struct vos__ring_layout l;
	struct srv_client *c;
	socklen_t sl = sizeof(struct ucred);
	int memfd = -1;

	*err = -EINVAL;
	if (a->flags || a->reserved || a->sq_entries > srv.cfg.max_entries ||
	    a->slot_size > srv.cfg.max_slot ||
	    !vos__ring_layout(a->sq_entries, a->slot_size, &l)) {
		snprintf(why, whylen, "ring of %u entries x %u bytes refused "
			 "(at most %u x %u, powers of two, slots multiples of 64 "
			 "and >= %u)", a->sq_entries, a->slot_size,
			 srv.cfg.max_entries, srv.cfg.max_slot,
			 VOS_WIRE_MIN_SLOT);
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		goto nomem;
	c->sock = sock;
	c->efd_sq = c->efd_cq = -1;
	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &c->cred, &sl) < 0) {
		*err = -errno;
		snprintf(why, whylen, "SO_PEERCRED: %s", strerror(errno));
		free(c);
		return NULL;
	}
	sl = sizeof(c->groups);
	if (getsockopt(sock, SOL_SOCKET, SO_PEERGROUPS, c->groups, &sl) == 0)
		c->ngroups = (int)(sl / sizeof(gid_t));
	else
		c->ngroups = 0; /* more than SRV_MAX_GROUPS: primary only */

	c->entries = a->sq_entries;
	c->slot_size = a->slot_size;
	c->region_size = l.size;
	c->data_size = l.data_size;
	memfd = memfd_create("vos-region", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, (off_t)l.size) < 0)
		goto sys;
	c->region = mmap(NULL, l.size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 memfd, 0);
	if (c->region == MAP_FAILED) {
		c->region = NULL;
		goto sys;
	}
	c->hdr = (struct vos_wire_header *)c->region;
	c->hdr->magic = VOS_WIRE_MAGIC;
	c->hdr->version = VOS_WIRE_VERSION;
	c->hdr->header_size = VOS_WIRE_HEADER_SIZE;
	c->hdr->sq_entries = c->hdr->cq_entries = c->entries;
	c->hdr->sq_off = l.sq_off;
	c->hdr->cq_off = l.cq_off;
	c->hdr->slot_size = c->slot_size;
	c->hdr->epoch = srv.epoch;
	c->hdr->data_off = l.data_off;
	c->hdr->data_size = l.data_size;
	c->hdr->region_size = l.size;
	c->sq = (struct vos_wire_req *)(c->region + l.sq_off);
	c->cq = (struct vos_wire_cqe *)(c->region + l.cq_off);
	c->data = c->region + l.data_off;
	c->efd_sq = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	c->efd_cq = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->efd_sq < 0 || c->efd_cq < 0)
		goto sys;
	c->reqs = calloc(c->entries, sizeof(*c->reqs));
	c->nfds_cap = 64;
	c->fds = calloc(c->nfds_cap, sizeof(*c->fds));
	if (!c->reqs || !c->fds)
		goto nomem;
	for (uint32_t i = 0; i < c->nfds_cap; i++)
		c->fds[i].real = -1;
	*err = memfd; /* the caller sends it, then closes it */
	return c;
sys:
	*err = -errno;
	snprintf(why, whylen, "cannot make the region: %s", strerror(errno));
	goto fail;
nomem:
	*err = -ENOMEM;
	snprintf(why, whylen, "out of memory");
fail:
	if (memfd >= 0)
		close(memfd);
	if (c) {
		c->sock = -1; /* the caller still owns it */
		srv_client_free(c);
	}
	return NULL;
}

/* Release everything.  The worker calls this once no request of c runs
 * (in the engine or anywhere else). */
void srv_client_free(struct srv_client *c)
{
	for (uint32_t i = 0; c->fds && i < c->nfds_cap; i++)
		if (c->fds[i].real >= 0)
			close(c->fds[i].real);
	if (c->region)
		munmap(c->region, c->region_size);
	if (c->efd_sq >= 0)
		close(c->efd_sq);
	if (c->efd_cq >= 0)
		close(c->efd_cq);
	if (c->sock >= 0)
		close(c->sock);
	free(c->fds);
	free(c->reqs);
	free(c);
}

int srv_fd_install(struct srv_client *c, int real, bool socket)
{
	uint32_t i;

	for (i = c->fd_hint; i < c->nfds_cap; i++)
		if (c->fds[i].real < 0)
			break;
	if (i == c->nfds_cap) {
		uint32_t cap = c->nfds_cap * 2;
		struct srv_fd *n;

		if (cap > SRV_MAX_FDS)
			return -EMFILE;
		n = realloc(c->fds, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		for (uint32_t k = c->nfds_cap; k < cap; k++)
			n[k] = (struct srv_fd){ .real = -1 };
		c->fds = n;
		c->nfds_cap = cap;
	}
	c->fds[i] = (struct srv_fd){ real, 1, true, socket };
	c->fd_hint = i + 1;
	return (int)i;
}

/* Take a reference on entry idx for a request: 0 and *real, or -EBADF. */
int srv_fd_get(struct srv_client *c, int32_t idx, int *real)
{
	if (idx < 0 || (uint32_t)idx >= c->nfds_cap || !c->fds[idx].open)
		return -EBADF;
	c->fds[idx].refs++;
	*real = c->fds[idx].real;
	return 0;
}

void srv_fd_put(struct srv_client *c, int32_t idx)
{
	struct srv_fd *f;

	if (idx < 0)
		return;
	f = &c->fds[idx];
	if (--f->refs == 0) {
		close(f->real);
		f->real = -1;
		f->open = false;
		if ((uint32_t)idx < c->fd_hint)
			c->fd_hint = (uint32_t)idx;
	}
}

int srv_fd_close(struct srv_client *c, int32_t idx)
{
	if (idx < 0 || (uint32_t)idx >= c->nfds_cap || !c->fds[idx].open)
		return -EBADF;
	c->fds[idx].open = false;
	srv_fd_put(c, idx);
	return 0;
}

/* Wake requests blocked on the client's sockets (its teardown). */
void srv_fd_shutdown_all(struct srv_client *c)
{
	for (uint32_t i = 0; i < c->nfds_cap; i++)
		if (c->fds[i].real >= 0 && c->fds[i].socket)
			shutdown(c->fds[i].real, SHUT_RDWR);
}
