/*
 * raw.h - the ring protocol spoken by hand, for the hostile-peer tests:
 * a client that attaches to a real daemon and then does what no library
 * client would (keeps the region's memfd, writes any entry, rings or does
 * not ring, changes its doorbell's flags), and the pieces a fake daemon
 * needs to hand a victim client a region of its own making.
 *
 * Test code only: it touches shared memory directly, which the library
 * never does (libvirtuos/wire/peer_mem.h).  Every wait is bounded.
 */
#ifndef VOS_TEST_RAW_H
#define VOS_TEST_RAW_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <virtuos/virtuos.h>
#include <virtuos/wire.h>

#include "layout.h"
#include "shm_control.h"

struct raw {
	int sock;        /* control connection */
	int bell;        /* our end of the doorbell */
	int memfd;       /* the region's memfd, kept (for the attacks) */
	uint8_t *map;
	uint64_t size;
	struct vos__geom g;
	uint32_t sq_tail, cq_head;
	int32_t status;  /* the reply's status when refused */
	char why[256];   /* the reply's text when refused */
};

static inline int64_t raw_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connect to a daemon's socket: the fd, or -errno. */
static inline int raw_connect(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	if (s < 0)
		return -errno;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if (connect(s, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = -errno;

		close(s);
		return e;
	}
	return s;
}

/* Attach with a ring of entries x slot bytes (umask 022).  0, or -errno
 * (the daemon's refusal: r->status and r->why say what it said). */
static inline int raw_attach(struct raw *r, const char *path,
			     uint32_t entries, uint32_t slot)
{
	struct vos_wire_attach a = { entries, slot, 0, 022 };
	struct vos_wire_attach_reply rep;
	union {
		struct vos_wire_msg h;
		char b[VOS_WIRE_MSG_MAX + 1];
	} m;
	int fds[VOS__SHM_MAX_FDS];
	unsigned nfds = 0;
	struct stat st;
	int n;

	memset(r, 0, sizeof(*r));
	r->sock = raw_connect(path);
	r->bell = r->memfd = -1;
	if (r->sock < 0)
		return r->sock;
	n = vos__shm_ctl_send(r->sock, VOS_WIRE_MSG_ATTACH, 0, &a, sizeof(a),
			      NULL, 0);
	if (n == 0)
		n = vos__shm_ctl_recv(r->sock, m.b, sizeof(m.b) - 1, fds, &nfds,
				      5000);
	if (n <= 0)
		goto fail;
	m.b[n] = '\0';
	if (m.h.type != VOS_WIRE_MSG_ATTACH_REPLY) {
		r->status = m.h.status;
		snprintf(r->why, sizeof(r->why), "%.255s", m.b + sizeof(m.h));
		n = m.h.status < 0 ? m.h.status : -EBADMSG;
		goto fail;
	}
	if (nfds != 2 || m.h.len != sizeof(rep)) {
		n = -EBADMSG;
		goto fail;
	}
	memcpy(&rep, m.b + sizeof(m.h), sizeof(rep));
	r->memfd = fds[0];
	r->bell = fds[1];
	nfds = 0;
	if (fstat(r->memfd, &st) < 0 || (uint64_t)st.st_size != rep.region_size ||
	    !vos__geom_make(entries, slot, &r->g)) {
		n = -EBADMSG;
		goto fail;
	}
	r->size = rep.region_size;
	r->map = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      r->memfd, 0);
	if (r->map == MAP_FAILED) {
		r->map = NULL;
		n = -errno;
		goto fail;
	}
	return 0;
fail:
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	if (r->memfd >= 0)
		close(r->memfd);
	if (r->bell >= 0)
		close(r->bell);
	close(r->sock);
	r->sock = r->bell = r->memfd = -1;
	return n < 0 ? n : -ECONNRESET;
}

static inline struct vos_wire_header *raw_hdr(struct raw *r)
{
	return (struct vos_wire_header *)(void *)r->map;
}

static inline uint8_t *raw_data(struct raw *r)
{
	return r->map + r->g.data_off;
}

/* Ring the daemon's doorbell (without MSG_DONTWAIT if blocking: an
 * attacker may). */
static inline void raw_ring(struct raw *r)
{
	char one = 1;

	if (send(r->bell, &one, 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* full or gone */
	}
}

/* The sequence word of entry e (entries are 64 or 32 bytes, the word
 * their last 4), and whether the completion at index i is there. */
#define RAW_SEQ(e) (*(uint32_t *)(void *)((uint8_t *)(e) + sizeof(*(e)) - 4))

static inline bool raw_cq_ready(const struct raw *r, uint32_t i)
{
	struct vos_wire_cqe *cq = (void *)(r->map + r->g.cq_off);

	return __atomic_load_n(&RAW_SEQ(&cq[i & (r->g.entries - 1)]),
			       __ATOMIC_ACQUIRE) == i + 1;
}

/* How many completions from cq_head on are there (at most a ring). */
static inline uint32_t raw_cq_count(const struct raw *r)
{
	uint32_t n = 0;

	while (n < r->g.entries && raw_cq_ready(r, r->cq_head + n))
		n++;
	return n;
}

/* Put n entries in the request ring (each with its sequence word, stored
 * last); ring the doorbell if the daemon sleeps (or always, with ring). */
static inline void raw_submit(struct raw *r, const struct vos_wire_req *w,
			      unsigned n, bool ring)
{
	struct vos_wire_header *h = raw_hdr(r);
	struct vos_wire_req *sq = (void *)(r->map + r->g.sq_off);

	for (unsigned i = 0; i < n; i++) {
		struct vos_wire_req *e = &sq[r->sq_tail & (r->g.entries - 1)];

		memcpy(e, &w[i], sizeof(*e) - 4);
		__atomic_store_n(&RAW_SEQ(e), r->sq_tail + 1,
				 __ATOMIC_RELEASE);
		r->sq_tail++;
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (ring || (__atomic_load_n(&h->server_flags, __ATOMIC_RELAXED) &
		     VOS_WIRE_SERVER_NEED_WAKEUP))
		raw_ring(r);
}

/* Take up to max completions, waiting at most timeout_ms for the first
 * (NEED_WAKEUP set while waiting).  How many, 0 if none came. */
static inline int raw_reap(struct raw *r, struct vos_wire_cqe *e,
			   unsigned max, int timeout_ms)
{
	struct vos_wire_header *h = raw_hdr(r);
	struct vos_wire_cqe *cq = (void *)(r->map + r->g.cq_off);
	int64_t end = raw_now_ms() + timeout_ms;
	unsigned got = 0;

	for (;;) {
		while (got < max && raw_cq_ready(r, r->cq_head))
			e[got++] = cq[r->cq_head++ & (r->g.entries - 1)];
		__atomic_store_n(&h->cq_head, r->cq_head, __ATOMIC_RELEASE);
		if (got || raw_now_ms() >= end)
			return (int)got;
		__atomic_fetch_or(&h->client_flags, VOS_WIRE_CLIENT_NEED_WAKEUP,
				  __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (!raw_cq_ready(r, r->cq_head)) {
			struct pollfd p = { r->bell, POLLIN, 0 };
			char buf[64];
			int64_t left = end - raw_now_ms();

			if (poll(&p, 1, left > 0 ? (int)left : 0) > 0 &&
			    recv(r->bell, buf, sizeof(buf), MSG_DONTWAIT) == 0)
				return (int)got; /* the daemon hung up */
		}
		__atomic_fetch_and(&h->client_flags,
				   ~VOS_WIRE_CLIENT_NEED_WAKEUP,
				   __ATOMIC_RELAXED);
	}
}

/* One request entry: op with fd, tag; the rest zero. */
static inline struct vos_wire_req raw_req(uint8_t op, int32_t fd, uint64_t tag)
{
	struct vos_wire_req w;

	memset(&w, 0, sizeof(w));
	w.op = op;
	w.fd = fd;
	w.fd2 = -1;
	w.tag = tag;
	return w;
}

/* Run one request and wait for its result (at most timeout_ms): the
 * result, or INT64_MIN if none came. */
static inline int64_t raw_call(struct raw *r, const struct vos_wire_req *w,
			       int timeout_ms)
{
	struct vos_wire_cqe e;
	int64_t end = raw_now_ms() + timeout_ms;

	raw_submit(r, w, 1, false);
	while (raw_now_ms() < end) {
		int n = raw_reap(r, &e, 1, (int)(end - raw_now_ms()));

		if (n == 1 && e.tag == w->tag)
			return e.res;
		if (n == 0)
			break;
	}
	return INT64_MIN;
}

static inline void raw_close(struct raw *r)
{
	if (r->map)
		munmap(r->map, r->size);
	if (r->memfd >= 0)
		close(r->memfd);
	if (r->bell >= 0)
		close(r->bell);
	if (r->sock >= 0)
		close(r->sock);
	memset(r, 0, sizeof(*r));
	r->sock = r->bell = r->memfd = -1;
}

#endif /* VOS_TEST_RAW_H */
