/*
 * channel.h - what a transport provides under the generic ring client
 * (ring_client.c) and the generic ring server (ring_server.c): a
 * *channel*.  It shares pages with the peer, rings the peer's doorbell,
 * gives an fd to wait on, and carries control messages.  Everything else
 * (the layout, the rings, the ordering, encoding and decoding, failure)
 * is the wire component's, the same for every channel.
 *
 *   transports/shm   a sealed memfd, a SOCK_STREAM doorbell pair, a
 *                    SOCK_SEQPACKET control socket (SCM_RIGHTS)
 *   transports/xen   grant references, event channels, xenstore (to come)
 *
 * Rules for every channel: a notification never blocks (a full doorbell
 * means "already rung"); nothing the peer can change (file status flags
 * of a shared file description, a file's size) is relied on; what the
 * peer hands over is checked for what it claims to be before it is used.
 */
#ifndef VOS_WIRE_CHANNEL_H
#define VOS_WIRE_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <virtuos/wire.h>

/* ---- the client end ------------------------------------------------------ */

/* What attach() gives the ring client. */
struct vos__attachment {
	void *map;      /* the region, mapped (the ring client reads it only
	                 * through peer_mem.h) */
	uint64_t size;  /* bytes mapped: the region must fit in them */
	uint32_t epoch; /* from the service's reply */
};

struct vos__chan_client {
	const char *name; /* "shm" */
	/* Channel state; options are given one key at a time to option().
	 * 0 or -ENOMEM. */
	int (*create)(void **ch);
	/* One "key=value" of the transport's options that the ring client
	 * does not take itself: 1 taken, 0 not a key of this channel, -1 a
	 * bad value. */
	int (*option)(void *ch, const char *key, const char *val);
	/* After the options: 0, or -EINVAL if one it needs is missing. */
	int (*ready)(void *ch);
	/* Carry the ATTACH request *a to the service and take what it shares:
	 * the region (mapped) and the doorbell, within timeout_ms in all
	 * (connecting included: -ETIMEDOUT after it).  0, or -errno (the
	 * channel has logged why, with the service's own sentence when it
	 * refused). */
	int (*attach)(void *ch, const struct vos_wire_attach *a, int timeout_ms,
		      struct vos__attachment *out);
	/* Memory of the client's own for the service to share (GROW): size
	 * bytes (a multiple of 4096), mapped here at *map; *handle is the
	 * channel's name for it (shm: a memfd sealed against shrinking and
	 * growing).  0 or -errno. */
	int (*area_make)(void *ch, uint64_t size, void **map, int *handle);
	/* Offer the area (handle, size bytes) to the attached service at
	 * data-area offset off: GROW and its REPLY, within timeout_ms.  0,
	 * or -errno (-EOPNOTSUPP: a service without GROW; the service's own
	 * sentence is logged).  Without a REPLY in time the channel hangs up
	 * its control connection (a late reply must never answer a later
	 * GROW): the attachment is then lost, as when the service dies. */
	int (*area_share)(void *ch, int handle, uint64_t size, uint64_t off,
			  int timeout_ms);
	/* Let go of an area's handle (its mapping is the ring client's). */
	void (*area_drop)(int handle);
	/* Ring the service's doorbell.  Never blocks. */
	void (*notify)(void *ch);
	/* An fd that becomes readable (or hung up) when the service rang our
	 * doorbell or went away. */
	int (*wait_fd)(void *ch);
	/* After waking: consume the rings.  0, or -ECONNRESET when the
	 * service is gone.  Never blocks. */
	int (*drain)(void *ch);
	/* Unmap and close the attachment (tell: say DETACH first; false in a
	 * forked child, whose parent keeps it). */
	void (*detach)(void *ch, bool tell);
	void (*destroy)(void *ch);
	/* Where the service is, for messages ("/run/virtuos/netd.sock"). */
	const char *(*where)(void *ch);
};

/* ---- the service end ------------------------------------------------------- */

/* Who a client is, as the channel learned it when the client connected
 * (nothing the client writes later changes it). */
#define VOS__CRED_MAX_GROUPS 64
struct vos__cred {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	int ngroups;          /* supplementary groups, or 0 if more than fit */
	gid_t groups[VOS__CRED_MAX_GROUPS];
	uint64_t caps;        /* capabilities it may use (1 << CAP_x): from
	                       * the uid (root: all), never from the
	                       * process, which may exec since */
};

/* How the service's endpoint is made. */
struct vos__listen_opts {
	unsigned mode;        /* permission bits of the endpoint */
	int gid;              /* its group, or -1 */
	unsigned backlog;
};

/* A region and a doorbell offered to one client. */
struct vos__offer {
	void *map;            /* the region, mapped here */
	uint64_t size;
	uint64_t reserve;     /* address space after it, for areas */
	int wait_fd;          /* readable when the client rang */
	int priv;             /* the channel's (its end of the doorbell) */
	int give[2];          /* the client's handles until sent, or -1 */
};

struct vos__chan_server {
	const char *name;
	/* Make the endpoint at where; *lfd becomes readable when a client
	 * connects.  0 or -errno (why says it in words). */
	int (*listen)(const char *where, const struct vos__listen_opts *o,
		      int *lfd, char *why, size_t whylen);
	/* Remove the endpoint. */
	void (*unlisten)(const char *where, int lfd);
	/* Take a new control connection (non-blocking): its fd, or -errno
	 * (-EAGAIN: none). */
	int (*accept)(int lfd);
	/* Who is on the other end of conn, as the kernel recorded it when
	 * it connected: pid, uid, gid, groups, capabilities by uid. */
	int (*cred)(int conn, struct vos__cred *c);
	/* One control message from conn into buf (anything attached is
	 * refused): its length, 0 at end, -EAGAIN, -EBADMSG, -errno.  Never
	 * blocks. */
	int (*recv)(int conn, void *buf, uint32_t cap);
	/* Send one control message.  Never blocks (-EAGAIN: the client does
	 * not read). */
	int (*send)(int conn, const void *buf, uint32_t len);
	/* One control message from conn, as recv(), with at most one fd
	 * attached (GROW's area): *fd, or -1 if none came. */
	int (*recv_fd)(int conn, void *buf, uint32_t cap, int *fd);
	/* Make a region of size bytes (sealed: it can neither shrink nor
	 * grow) and a doorbell, and map the region here, at the start of
	 * reserve more bytes of address space kept for the client's areas
	 * (area_map).  0 or -errno. */
	int (*make_offer)(uint64_t size, uint64_t reserve, struct vos__offer *o);
	/* Map the client's area (the handle recv_fd took, size bytes) at
	 * o->map + at, inside the reserve, after checking that it is what
	 * it must be (shm: a memfd of exactly size bytes, sealed against
	 * shrinking and growing).  Takes handle.  0, -EBADMSG if it is not,
	 * -ENOTRECOVERABLE if the range could not be kept reserved after a
	 * failure (nothing may be mapped there again), or -errno. */
	int (*area_map)(struct vos__offer *o, int handle, uint64_t size,
			uint64_t at);
	/* Send them to the client on conn with the message reply (len bytes:
	 * the ATTACH_REPLY), and let go of the client's handles.  0 or
	 * -errno. */
	int (*send_offer)(int conn, const void *reply, uint32_t len,
			  struct vos__offer *o);
/* Ring the client's doorbell.  Never blocks. */
	void (*notify)(const struct vos__offer *o);
	/* Consume the client's rings.  0, or -ECONNRESET when the client
	 * closed or shut down its end.  Never blocks, bounded work. */
	int (*drain)(const struct vos__offer *o);
	/* Unmap and close. */
	void (*withdraw)(struct vos__offer *o);
};

#endif /* VOS_WIRE_CHANNEL_H */
