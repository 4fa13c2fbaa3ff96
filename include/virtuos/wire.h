/*
 * wire.h - the ring protocol between a program and a service domain.
 *
 * This is an ABI: the layout of the memory a client and a service share,
 * and of the messages on their control channel.  The shm transport (one
 * kernel: a sealed memfd and a doorbell socket) and the xen transport
 * (grant references + event channels) speak it alike.  doc/protocol.md is the specification; this
 * file is its C form.  Every structure has a fixed size, checked below,
 * and no field holds a pointer: shared data is addressed by byte offsets.
 *
 * The shared region:
 *
 *   offset 0         struct vos_wire_header (one page)
 *   sq_off           sq_entries x struct vos_wire_req  (client -> service)
 *   cq_off           cq_entries x struct vos_wire_cqe  (service -> client)
 *   data_off         data area: sq_entries small slots of
 *                    VOS_WIRE_SMALL_SLOT bytes, then sq_entries slots of
 *                    slot_size bytes
 *
 * Each side trusts nothing it reads from the region: the service treats
 * the client as hostile and the client treats the service as possibly
 * byzantine.  Every index, offset, length and result is range-checked
 * before use (doc/protocol.md, "Validation").
 */
#ifndef VIRTUOS_WIRE_H
#define VIRTUOS_WIRE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VOS_WIRE_MAGIC 0x56534f56u /* "VOSV" in little-endian memory */
#define VOS_WIRE_VERSION 3u

/* Limits a service enforces on an attach request. */
#define VOS_WIRE_MAX_ENTRIES 16384u
#define VOS_WIRE_MIN_SLOT 4096u
#define VOS_WIRE_MAX_SLOT (1u << 20)
#define VOS_WIRE_HEADER_SIZE 4096u
/* Each tag has a small slot (packed together, so a batch of small
 * requests touches a few cache lines and pages) and a large one. */
#define VOS_WIRE_SMALL_SLOT 256u

/* header.server_flags: written by the service, read by the client. */
#define VOS_WIRE_SERVER_NEED_WAKEUP 0x1u /* asleep: ring its doorbell */
#define VOS_WIRE_SERVER_STOPPED 0x2u     /* reserved: no completion will
                                          * come again (not set yet) */
/* header.client_flags: written by the client, read by the service. */
#define VOS_WIRE_CLIENT_NEED_WAKEUP 0x1u /* asleep: ring its doorbell */
#define VOS_WIRE_CLIENT_IDLE 0x2u        /* advisory; services ignore it
                                          * (doc/protocol.md) */

/*
 * The header page.  Each index lives on its own 64-byte line with only
 * the fields its writer owns, so the two sides never write the same line.
 */
struct vos_wire_header {
	/* line 0: set by the service before it hands the region over,
	 * never changed afterwards */
	uint32_t magic;       /* VOS_WIRE_MAGIC */
	uint16_t version;     /* VOS_WIRE_VERSION */
	uint16_t header_size; /* VOS_WIRE_HEADER_SIZE */
	uint32_t sq_entries;  /* power of two, <= VOS_WIRE_MAX_ENTRIES */
	uint32_t cq_entries;  /* == sq_entries */
	uint32_t sq_off;      /* byte offset of the request ring */
	uint32_t cq_off;      /* byte offset of the completion ring */
	uint32_t slot_size;   /* bytes per large slot: tag t's small slot is
	                       * at data_off + t * VOS_WIRE_SMALL_SLOT, its
	                       * large one at data_off + sq_entries *
	                       * VOS_WIRE_SMALL_SLOT + t * slot_size */
	uint32_t epoch;       /* identifies the service instance */
	uint64_t data_off;    /* byte offset of the data area */
	uint64_t data_size;   /* sq_entries * (SMALL_SLOT + slot_size) */
	uint64_t region_size; /* bytes in the whole region */
	uint8_t pad0[8];
	/* Each head index and each flag word on its own 64-byte line,
	 * written by one side only.  There are no tail indices: an entry
	 * carries its own sequence word (the consumer polls the entry, not
	 * an index on another line), and a producer reads the consumer's
	 * head only when its ring looks full. */
	/* line 1: written by the service */
	uint32_t sq_head; /* next request entry the service reads */
	uint8_t pad1[60];
	/* line 2: written by the client */
	uint32_t cq_head; /* next completion entry the client reads */
	uint8_t pad2[60];
	/* line 3: written by the service */
	uint32_t server_flags; /* VOS_WIRE_SERVER_* */
	uint8_t pad3[60];
	/* line 4: written by the client */
	uint32_t client_flags; /* VOS_WIRE_CLIENT_* */
	uint8_t pad4[60];
};

/*
 * A request entry: struct vos_req with every pointer replaced by a byte
 * offset into the data area plus a length.  fd and fd2 name entries of
 * the client's fd table in the service (small integers the service
 * handed out), or VOS_WIRE_FD_ROOT for a path relative to the service's
 * root (its export root, for stord).  The other fields mean what they
 * mean in struct vos_req.
 */
#define VOS_WIRE_FD_ROOT (-100) /* AT_FDCWD on Linux */

/* flags: op_flags of a read or write holds RWF_ flags (preadv2(2); since
 * libvirtuos 0.3).  A service built before refuses an entry with any flag
 * set (-EINVAL) rather than run it without them; a read or write without
 * this flag has op_flags 0. */
#define VOS_WIRE_F_RWF 0x01

struct vos_wire_req {
	uint8_t op;         /* enum vos_op */
	uint8_t flags;      /* 0, or VOS_WIRE_F_RWF */
	uint16_t reserved;  /* 0 */
	int32_t fd;
	uint64_t off;
	uint32_t addr;      /* data-area offset of the first buffer */
	uint32_t addr_len;  /* its length in bytes */
	uint32_t addr2;     /* data-area offset of the second buffer */
	uint32_t addr2_len; /* its length in bytes */
	uint32_t len;
	uint32_t op_flags;
	uint64_t arg;
	int32_t fd2;
	uint32_t nonce;     /* the submitting thread's nonce (for cancel) */
	uint32_t tag;       /* returned in the completion; < sq_entries */
	uint32_t seq;       /* written last (a release store): this entry's
	                     * ring index + 1, so the service knows the entry
	                     * is there by reading the entry itself */
};

/* A completion entry. */
struct vos_wire_cqe {
	uint32_t tag;   /* the request's tag */
	uint32_t flags; /* 0 */
	int64_t res;    /* result or -errno */
	uint32_t aux;   /* op-specific (doc/protocol.md) */
	uint32_t reserved[2];
	uint32_t seq;   /* written last (a release store): the entry's ring
	                 * index + 1 (as in struct vos_wire_req) */
};

/*
 * Message headers for sendmsg/recvmsg in the data area.  Data follows
 * the header: name (name_len bytes, padded to 8), then the payload
 * (data_len bytes).  recvmsg: the service writes back name_len, data_len
 * and msg_flags.  Ancillary data does not cross the boundary.
 */
struct vos_wire_msghdr {
	uint32_t name_len;
	uint32_t data_len;
	uint32_t msg_flags;
	uint32_t reserved;
};

/* ---- the control channel (a SOCK_SEQPACKET Unix socket) --------------- */

enum vos_wire_msg_type {
	VOS_WIRE_MSG_ATTACH = 1,       /* client -> service */
	VOS_WIRE_MSG_ATTACH_REPLY = 2, /* + the region and the doorbell (shm:
	                                * SCM_RIGHTS, a sealed memfd and one
	                                * end of a SOCK_STREAM socket pair) */
	VOS_WIRE_MSG_DETACH = 3,       /* client -> service; no reply */
	VOS_WIRE_MSG_GROW = 4,         /* client -> service: + one area of
	                                * the client's own memory (shm: a
	                                * sealed memfd) the data area grows
	                                * by; answered with REPLY */
	VOS_WIRE_MSG_CLONE_FDS = 5,    /* a forked child takes a copy of its
	                                * parent's fd table */
	VOS_WIRE_MSG_STATS = 6,        /* vosctl -> service */
	VOS_WIRE_MSG_REPLY = 7,        /* generic reply: status + text */
};

struct vos_wire_msg {
	uint32_t magic;   /* VOS_WIRE_MAGIC */
	uint16_t version; /* VOS_WIRE_VERSION of the sender */
	uint16_t type;    /* enum vos_wire_msg_type */
	int32_t status;   /* replies: 0 or -errno */
	uint32_t len;     /* payload bytes after this header */
};

struct vos_wire_attach {
	uint32_t sq_entries; /* wanted ring size (power of two) */
	uint32_t slot_size;  /* wanted data bytes per slot */
	uint32_t flags;      /* 0 */
	uint32_t umask;      /* the client's file mode creation mask (0..0777):
	                      * files the service creates for it get it */
};

struct vos_wire_attach_reply {
	uint64_t region_size;
	uint32_t epoch;
	uint32_t reserved;
};

/* GROW: the client shares size bytes of its own memory (a multiple of
 * 4096), which requests may then name at data-area offsets off ..
 * off + size - 1.  off is where the data area ends so far: the first
 * area starts at data_size rounded up to 4096, each next one where the
 * one before ended; the data area stays below 4 GiB.  A service takes at
 * most VOS_WIRE_GROW_MAX areas per attachment (each is a mapping of its
 * own in the service: the count, not only the bytes, is bounded). */
#define VOS_WIRE_GROW_MAX 16u

struct vos_wire_grow {
	uint64_t off;
	uint64_t size;
};

/* The largest control message (header + payload). */
#define VOS_WIRE_MSG_MAX 4096u

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
_Static_assert(sizeof(struct vos_wire_header) == 320, "wire header");
_Static_assert(sizeof(struct vos_wire_req) == 64, "wire request");
_Static_assert(sizeof(struct vos_wire_cqe) == 32, "wire completion");
_Static_assert(sizeof(struct vos_wire_msghdr) == 16, "wire msghdr");
_Static_assert(sizeof(struct vos_wire_msg) == 16, "wire message");
_Static_assert(sizeof(struct vos_wire_grow) == 16, "wire grow");
#endif

#ifdef __cplusplus
}
#endif
#endif /* VIRTUOS_WIRE_H */
