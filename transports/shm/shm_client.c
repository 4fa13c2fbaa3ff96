/*
 * shm_client.c - the shm transport: the ring protocol to a service daemon
 * on the same kernel.  This file is only the channel (wire/channel.h);
 * the ring itself is the wire component's generic client (ring_client.h).
 *
 * Attaching: connect to the daemon's SOCK_SEQPACKET socket, send ATTACH,
 * receive the region (a memfd) and our end of a doorbell (a Unix
 * SOCK_STREAM socket pair) with SCM_RIGHTS.  Both are checked before
 * use: the memfd must be a regular file of exactly the announced size,
 * sealed against shrinking and growing (so the daemon cannot make us
 * fault on the mapping), and the doorbell a Unix SOCK_STREAM socket.
 * A doorbell ring is one byte sent with MSG_DONTWAIT: it never blocks,
 * whatever anyone did to the socket's flags, and a full doorbell means
 * it has been rung already.  The daemon's death shows as the doorbell's
 * hang-up.
 *
 * Options ("k=v,...", besides the ring's slot= and lazy=):
 *   path=SOCKET   the daemon's socket (required)
 */
#define _GNU_SOURCE
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "ring_client.h"
#include "shm_control.h"
#include "shm_doorbell.h"

#define REGION_MAX ((uint64_t)1 << 34)

struct shm_ch {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int sock, bell;
	void *map;
	uint64_t size;
};

static int ch_create(void **priv)
{
	struct shm_ch *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->sock = c->bell = -1;
	*priv = c;
	return 0;
}

static int ch_option(void *priv, const char *key, const char *val)
{
	struct shm_ch *c = priv;

	if (strcmp(key, "path") != 0)
		return 0;
	if (strlen(val) >= sizeof(c->path))
		return -1;
	strcpy(c->path, val);
	return 1;
}

static int ch_ready(void *priv)
{
	return ((struct shm_ch *)priv)->path[0] ? 0 : -EINVAL;
}

static const char *ch_where(void *priv)
{
	return ((struct shm_ch *)priv)->path;
}

static void ch_close_all(struct shm_ch *c)
{
	if (c->map)
		munmap(c->map, c->size);
	if (c->sock >= 0)
		close(c->sock);
	if (c->bell >= 0)
		close(c->bell);
	c->map = NULL;
	c->sock = c->bell = -1;
}

static int64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* One try at attaching, by end (ms, CLOCK_MONOTONIC).  *dropped: the
 * daemon closed the connection before answering ATTACH. */
static int attach_once(struct shm_ch *c, const struct vos_wire_attach *a,
		       int64_t end, struct vos__attachment *out, bool *dropped)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int64_t left = end - now_ms() > 1 ? end - now_ms() : 1;
	struct timeval tv = { left / 1000, (left % 1000) * 1000 };
	union {
		struct vos_wire_msg h;
		char b[VOS_WIRE_MSG_MAX + 1];
	} m;
	struct vos_wire_attach_reply rep;
	int fds[VOS__SHM_MAX_FDS];
	unsigned nfds = 0;
	void *map;
	int n, ret;

	c->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (c->sock < 0)
		return -errno;
	/* a daemon whose backlog is full makes connect wait: at most this */
	setsockopt(c->sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	memcpy(sun.sun_path, c->path, sizeof(c->path));
	if (connect(c->sock, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		ret = errno == EAGAIN || errno == EINPROGRESS ? -ETIMEDOUT
							       : -errno;
		goto fail;
	}
	ret = vos__shm_ctl_send(c->sock, VOS_WIRE_MSG_ATTACH, 0, a, sizeof(*a),
				NULL, 0);
	if (ret < 0) {
		*dropped = ret == -EPIPE || ret == -ECONNRESET;
		goto fail;
	}
	/* what is left of the time (at least 1 ms: a wait, not a poll) */
	n = vos__shm_ctl_recv(c->sock, m.b, sizeof(m.b) - 1, fds, &nfds,
			      (int)(end - now_ms() > 1 ? end - now_ms() : 1));
	if (n == -EPROTO) {
		vos__log(VOS__LOG_ERROR, "shm: %s speaks wire protocol version "
			 "%u, this library speaks %u: refused", c->path,
			 m.h.version, VOS_WIRE_VERSION);
		ret = -EPROTO;
		goto fail_fds;
	}
	if (n <= 0) {
		ret = n == 0 ? -ECONNRESET : n;
		*dropped = ret == -ECONNRESET;
		goto fail_fds;
	}
	if (m.h.type != VOS_WIRE_MSG_ATTACH_REPLY || m.h.status < 0) {
		m.b[n] = '\0';
		ret = m.h.status < 0 && m.h.status >= -4095 ? m.h.status
							    : -EBADMSG;
		vos__log(VOS__LOG_ERROR, "shm: %s refused to attach: %s",
			 c->path, m.h.type == VOS_WIRE_MSG_REPLY && m.h.len ?
			 m.b + sizeof(m.h) : strerror(-ret));
		goto fail_fds;
	}
	ret = -EBADMSG;
	if (m.h.len != sizeof(rep) || nfds != 2)
		goto fail_fds;
	memcpy(&rep, m.b + sizeof(m.h), sizeof(rep));
	if (rep.region_size < VOS_WIRE_HEADER_SIZE ||
	    rep.region_size > REGION_MAX || vos__shm_check_memfd(fds[0],
							 rep.region_size) < 0 ||
	    !vos__shm_is_bell(fds[1])) {
		vos__log(VOS__LOG_ERROR, "shm: %s handed over a region that is "
			 "not a sealed memfd of the size it said, or a doorbell "
			 "that is not a SOCK_STREAM socket: refused",
			 c->path);
		goto fail_fds;
	}
	map = mmap(NULL, rep.region_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   fds[0], 0);
	if (map == MAP_FAILED) {
		ret = -errno;
		goto fail_fds;
	}
	close(fds[0]);
	c->map = map;
	c->size = rep.region_size;
	c->bell = fds[1];
	out->map = map;
	out->size = rep.region_size;
	out->epoch = rep.epoch;
	return 0;
fail_fds:
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
fail:
	ch_close_all(c);
	return ret;
}

/* A daemon holds a bounded number of connections that have not spoken
 * yet and, at the bound, closes the oldest silent one (listener.c,
 * pending_room()).  One of ours is closed so when we were descheduled
 * between connect and ATTACH while many others attached (a pre-forked
 * server's workers, all at once on few CPUs): try again, backing off,
 * until the deadline.  A refusal the daemon explains is final, and so is
 * a daemon that is gone (connect fails). */
static int ch_attach(void *priv, const struct vos_wire_attach *a,
		     int timeout_ms, struct vos__attachment *out)
{
	struct shm_ch *c = priv;
	int64_t end = now_ms() + timeout_ms;
	int backoff_ms = 1, ret;

	for (;;) {
		bool dropped = false;

		ret = attach_once(c, a, end, out, &dropped);
		if (ret == 0 || !dropped || now_ms() + backoff_ms >= end)
			return ret;
		/* not a synchronisation: spreads the retries of a burst */
		poll(NULL, 0, backoff_ms);
		if (backoff_ms < 64)
			backoff_ms *= 2;
	}
}

/* An area of our own memory for the service (GROW): a memfd sealed so
 * that neither we nor anyone can shrink or grow it (the service maps it:
 * a shrunk file would make its accesses fault), mapped here. */
static int ch_area_make(void *priv, uint64_t size, void **area, int *handle)
{
	int fd, err;
	void *m;

	(void)priv;
	fd = memfd_create("vos-buffers", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
		  F_SEAL_SEAL) < 0)
		goto sys;
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		goto sys;
	*area = m;
	*handle = fd;
	return 0;
sys:
	err = -errno;
	close(fd);
	return err;
}

static int ch_area_share(void *priv, int handle, uint64_t size, uint64_t off,
			 int timeout_ms)
{
	struct shm_ch *c = priv;
	struct vos_wire_grow g = { off, size };
	union {
		struct vos_wire_msg h;
		char b[VOS_WIRE_MSG_MAX + 1];
	} m;
	int fds[VOS__SHM_MAX_FDS];
	unsigned nfds = 0;
	int n;

	if (c->sock < 0)
		return -ENOTCONN;
	n = vos__shm_ctl_send(c->sock, VOS_WIRE_MSG_GROW, 0, &g, sizeof(g),
			      &handle, 1);
	if (n < 0)
		return n;
	n = vos__shm_ctl_recv(c->sock, m.b, sizeof(m.b) - 1, fds, &nfds,
			      timeout_ms > 0 ? timeout_ms : 1);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	if (n <= 0 || m.h.type != VOS_WIRE_MSG_REPLY) {
		/* no reply in time, or not a reply: the control channel is
		 * out of step (a late "ok" would be read as the answer to
		 * the next GROW, at another offset).  Hang it up: the
		 * service drops the attachment, the ring sees its doorbell
		 * hang up and attaches anew. */
		shutdown(c->sock, SHUT_RDWR);
		vos__log(VOS__LOG_ERROR, "shm: %s did not answer a GROW (%s): "
			 "control channel closed", c->path,
			 n < 0 ? strerror(-n) : n == 0 ? "hung up"
			 : "another message");
		return n < 0 ? n : n == 0 ? -ECONNRESET : -EBADMSG;
	}
	if (m.h.status < 0) {
		m.b[n] = '\0';
		vos__log(VOS__LOG_INFO, "shm: %s did not take %llu bytes of "
			 "buffers: %s", c->path, (unsigned long long)size,
			 m.h.len ? m.b + sizeof(m.h) : strerror(-m.h.status));
		return m.h.status >= -4095 ? m.h.status : -EBADMSG;
	}
	return 0;
}

static void ch_area_drop(int handle)
{
	close(handle);
}

static void ch_notify(void *priv)
{
	vos__shm_ring(((struct shm_ch *)priv)->bell);
}

static int ch_wait_fd(void *priv)
{
	return ((struct shm_ch *)priv)->bell;
}

static int ch_drain(void *priv)
{
	return vos__shm_drain(((struct shm_ch *)priv)->bell);
}

static void ch_detach(void *priv, bool tell)
{
	struct shm_ch *c = priv;

	if (tell && c->sock >= 0)
		vos__shm_ctl_send(c->sock, VOS_WIRE_MSG_DETACH, 0, NULL, 0,
				  NULL, 0);
	ch_close_all(c);
}

static void ch_destroy(void *priv)
{
	struct shm_ch *c = priv;

	ch_close_all(c);
	free(c);
}

static const struct vos__chan_client shm_channel = {
	.name = "shm",
	.create = ch_create,
	.option = ch_option,
	.ready = ch_ready,
	.attach = ch_attach,
	.area_make = ch_area_make,
	.area_share = ch_area_share,
	.area_drop = ch_area_drop,
	.notify = ch_notify,
	.wait_fd = ch_wait_fd,
	.drain = ch_drain,
	.detach = ch_detach,
	.destroy = ch_destroy,
	.where = ch_where,
};

static int shm_tr_open(struct vos_transport_host *host, void **priv)
{
	return vos__rc_open(host, &shm_channel, priv);
}

const struct vos_transport_ops vos__transport_shm =
	VOS__RING_TRANSPORT("shm", shm_tr_open);
