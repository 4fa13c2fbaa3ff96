/*
 * server.h - the server core shared by netd and stord (prefix srv_).
 *
 * A daemon is this core plus a struct srv_service: the policy that says
 * which calls the service takes and how it runs the ones it handles
 * itself.  The core does everything else: the control socket, attaching
 * clients (region, eventfds, credentials), the workers that drain the
 * rings and run requests on the foundation's engine (a vos_ctx on the
 * io_uring-local transport per worker), per-client fd tables, the bound on
 * in-flight requests per client, and releasing all a client held when it
 * goes away.
 *
 *   listener.c   control socket, attach/detach, stats, signals
 *   session.c    one attached client: region, fd table, teardown
 *   worker.c     the worker loop: spin, then sleep
 *   decode.c     ring entry -> request, validating every field
 *   config.c     flags and the config file
 */
#ifndef SRV_SERVER_H
#define SRV_SERVER_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <virtuos/virtuos.h>
#include <virtuos/wire.h>

#include "ring.h"

#define SRV_MAX_GROUPS 64
#define SRV_MAX_FDS 65536 /* per client; fits the client's 20-bit field */
#define SRV_MAX_WORKERS 64

struct srv_client;

/* ---- configuration (config.c) ------------------------------------------ */

struct srv_config {
	char socket_path[108];
	char config_file[256];
	char pidfile[256];
	bool foreground;
	unsigned workers;       /* 0: one per CPU */
	unsigned spin_us;       /* worker spin before sleeping */
	unsigned max_inflight;  /* per client */
	unsigned max_clients;
	unsigned max_entries;   /* largest ring a client may ask for */
	unsigned max_slot;      /* largest slot a client may ask for */
	char engine_options[128];
	int log_level;          /* 0 errors, 1 info (default), 2 debug */
	bool fault_garbage;     /* fault injection: corrupt completions */
	int ready_fd;           /* write "ready\n" here once serving, or -1 */
};

/* ---- what makes netd netd and stord stord ------------------------------ */

struct srv_service {
	const char *name;      /* "netd" */
	const char *summary;   /* one line for --help */
	const char *default_socket;
	const char *extra_help; /* lines for --help (service options) */
	/* A service option (flag "--key value" or config "key = value"):
	 * 1 taken, 0 not ours, -1 bad value (an error says why). */
	int (*option)(const char *key, const char *val);
	/* After configuration, before any thread: enter namespaces, open
	 * the export root.  0 or -1 (it logged why). */
	int (*setup)(void);
	/* The fd *at() calls with VOS_WIRE_FD_ROOT resolve against, or -1. */
	int root_fd;
	/*
	 * Vet or run one request for client c (fds already mapped to real
	 * ones; FD_ROOT already replaced by root_fd).  Returns 0 to have the
	 * engine run r, 1 if it ran r itself (result in *res), or -errno to
	 * refuse it.  Runs on a worker thread.
	 */
	int (*execute)(struct srv_client *c, struct vos_req *r, int64_t *res);
};

/* ---- one request of a client ------------------------------------------- */

enum { SRV_REQ_FREE = 0, SRV_REQ_RUNNING, SRV_REQ_UNPOSTED };

struct srv_req {
	struct srv_client *c;
	uint32_t tag;
	uint8_t state;
	uint8_t op;
	bool in_engine;         /* submitted to the engine, not done */
	int32_t fdi, fdi2;      /* fd-table entries held, or -1 */
	int64_t res;            /* for UNPOSTED */
	struct vos_req r;       /* what the engine runs */
	/* private copies of lengths and headers the kernel reads, so the
	 * client cannot change them under the kernel (decode.c) */
	socklen_t alen;
	uint32_t alen_off;      /* where alen goes back in the data area */
	struct msghdr msg;
	struct iovec iov;
	uint32_t msg_off;       /* the wire msghdr, for recvmsg */
};

/* ---- one attached client (session.c) ----------------------------------- */

struct srv_fd {
	int real;       /* the daemon's fd, or -1 when the entry is free */
	uint32_t refs;  /* the table's own (while open) + requests using it */
	bool open;
	bool socket;
};

struct srv_client {
	uint64_t id;
	struct ucred cred;
	gid_t groups[SRV_MAX_GROUPS];
	int ngroups;
	int sock, efd_sq, efd_cq;
	uint8_t *region;
	uint64_t region_size;
	struct vos_wire_header *hdr;
	struct vos_wire_req *sq;
	struct vos_wire_cqe *cq;
	uint8_t *data;
	uint64_t data_size;
	uint32_t entries, slot_size;
	uint32_t sq_head, cq_tail; /* our copies of the indices we own */
	uint32_t cq_head_seen;     /* the client's head when we last looked */
	bool cq_dirty;

	struct srv_req *reqs;  /* entries of them, by tag */
	uint32_t inflight;     /* requests RUNNING or UNPOSTED */
	uint32_t unposted;

	struct srv_fd *fds;
	uint32_t nfds_cap;
	uint32_t fd_hint;      /* lowest index that may be free */

	struct srv_worker *w;
	bool poll_armed;       /* an engine poll watches efd_sq */
	bool cancelling;
	bool broken;           /* broke the protocol: being dropped */
	atomic_uint stat_inflight;
	/* set by the listener: control socket closed.  Kept away from the
	 * plain bools above, which the compiler may load together. */
	atomic_bool dying;
	atomic_ullong stat_done;
	struct srv_client *next; /* in its worker's list */
};

/* ---- workers (worker.c) ------------------------------------------------ */

struct srv_worker {
	pthread_t thread;
	struct vos_ctx *eng;
	uint32_t eng_depth;
	uint32_t eng_out;     /* engine requests not yet completed */
	int wake_efd;         /* the listener kicks it for new clients */
	bool wake_armed;
	pthread_mutex_t lock; /* guards incoming */
	struct srv_client *incoming;
	atomic_bool has_incoming; /* a hint: incoming may be non-empty */
	struct srv_client *clients;
	atomic_uint nclients;
	atomic_bool stop;
	int start_err;        /* the engine's creation, on its thread */
	uint64_t rng;         /* fault injection */
	char path[4096], path2[4096]; /* scratch for synchronous path calls */
};

/* ---- the daemon ---------------------------------------------------------- */

struct srv {
	const struct srv_service *svc;
	struct srv_config cfg;
	unsigned nworkers;
	struct srv_worker workers[SRV_MAX_WORKERS];
	sem_t started;         /* each worker posts once its engine exists */
	atomic_uint spinners;  /* workers spinning now */
	unsigned max_spinners; /* CPUs */
	uint32_t epoch;
	atomic_uint nclients;
	atomic_bool stopping;
	pthread_mutex_t reg_lock; /* guards the registry below */
	struct srv_client **reg;
	unsigned nreg, reg_cap;
	uint64_t next_id;
};

extern struct srv srv;

/* main entry: parse argv, set up, serve until SIGTERM. */
int srv_main(const struct srv_service *svc, int argc, char **argv);

/* config.c */
int srv_config_parse(int argc, char **argv);
void srv_usage(FILE *out);

/* listener.c */
void srv_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void srv_registry_remove(struct srv_client *c);

/* session.c */
struct srv_client *srv_client_new(int sock, const struct vos_wire_attach *a,
				  int *err, char *why, size_t whylen);
void srv_client_free(struct srv_client *c);
int srv_fd_install(struct srv_client *c, int real, bool socket);
int srv_fd_get(struct srv_client *c, int32_t idx, int *real);
void srv_fd_put(struct srv_client *c, int32_t idx);
int srv_fd_close(struct srv_client *c, int32_t idx);
void srv_fd_shutdown_all(struct srv_client *c);

/* worker.c */
int srv_workers_start(void);
void srv_workers_stop(void);
void srv_worker_add(struct srv_client *c);
void srv_worker_kick(struct srv_worker *w);

/* decode.c */
int srv_decode(struct srv_client *c, const struct vos_wire_req *w,
	       struct srv_req *q);
void srv_encode_result(struct srv_client *c, struct srv_req *q, int64_t res);

#endif /* SRV_SERVER_H */
