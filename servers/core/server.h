/*
 * server.h - the server core shared by netd and stord (prefix srv_).
 *
 * A daemon is this core plus a struct srv_service: the policy that says
 * which calls the service takes and how it runs the ones it handles
 * itself.  The core does everything else, on top of the wire component
 * (libvirtuos/wire: the rings, decoding, the channel interface): the
 * endpoint and attaching clients (through a server channel), the workers
 * that drain the rings and run requests on the foundation's engine (a
 * vos_ctx on the io_uring-local transport per worker), timers, a pool of
 * threads for calls that may block, per-client fd tables, the bounds per
 * client and per uid, and releasing all a client held when it goes away.
 *
 *   listener.c   the endpoint, attach/detach, pending connections, stats,
 *                signals, the stop
 *   session.c    one attached client: its ring, fd table, credentials
 *   worker.c     the worker loop: drain, run, post; spin, then sleep
 *   timers.c     TIMEOUT requests, kept by the worker (no engine slot)
 *   slow.c       the slow-call pool: calls that may block (path calls)
 *   uids.c       what each uid holds, for the per-uid bounds
 *   config.c     flags and the config file
 *   channels.c   the server channels this daemon can listen on
 */
#ifndef SRV_SERVER_H
#define SRV_SERVER_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <virtuos/virtuos.h>
#include <virtuos/wire.h>

#include "channel.h"
#include "decode.h"
#include "ring_server.h"

#define SRV_MAX_WORKERS 64
/* Each worker's engine: an io_uring-local context this deep (four times
 * the largest ring a client may have: parked requests wait there). */
#define SRV_ENG_DEPTH (4u * VOS_WIRE_MAX_ENTRIES)
/* Parked requests of one worker beyond which each uid gets only its
 * share of them (SRV_PARKED_SOFT / uids with clients there), so that the
 * engine always keeps room for the others (worker.c). */
#define SRV_PARKED_SOFT (SRV_ENG_DEPTH / 4)
#define SRV_FD_LIMIT (1u << 20) /* fits the client's 20-bit field */

struct srv_client;
struct srv_req;

/* ---- configuration (config.c) ------------------------------------------ */

struct srv_config {
	char socket_path[108];
	char config_file[256];
	char pidfile[256];
	bool foreground;
	unsigned workers;        /* 0: one per CPU */
	unsigned spin_us;        /* worker spin before sleeping */
	unsigned max_inflight;   /* requests running, per client */
	unsigned max_inflight_uid; /* ... per uid, on each worker */
	unsigned max_parked_uid; /* requests waiting for a peer (parked),
	                          * per uid on each worker */
	unsigned max_clients;
	unsigned max_clients_uid;
	unsigned max_fds;        /* open fds per client */
	unsigned max_fds_uid;    /* ... per uid */
	unsigned max_pending;    /* connections that have not attached yet */
	unsigned max_pending_uid;
	unsigned attach_timeout_ms; /* for them to say what they want */
	unsigned slow_threads;   /* threads for calls that may block */
	unsigned max_slow;       /* such calls running, per client */
	unsigned max_slow_uid;   /* ... per uid */
	unsigned lock_threads;   /* threads for lock waits (F_SETLKW) */
	unsigned max_lock_waits; /* lock waits running, per client */
	unsigned max_lock_waits_uid; /* ... per uid */
	unsigned max_region_mib_uid; /* shared memory of one uid's clients */
	unsigned max_grow_mib;   /* buffer areas one client may share */
	unsigned max_entries;    /* largest ring a client may ask for */
	unsigned max_slot;       /* largest slot a client may ask for */
	unsigned socket_mode;    /* the endpoint's permission bits */
	char socket_group[64];   /* its group (name or number), or "" */
	char engine_options[128];
	int log_level;           /* 0 errors, 1 info (default), 2 debug */
	bool fault_garbage;      /* fault injection: corrupt completions */
	int ready_fd;            /* write "ready\n" here once serving, or -1 */
	/* which were set by the file or a flag (others get computed
	 * defaults once the fd limit is known) */
	bool set_max_fds, set_max_fds_uid;
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
	 * Vet or run one request q of client c (its fds already mapped to
	 * real ones in q->d.r; FD_ROOT already replaced by root_fd; the
	 * private copies in q->d are what the kernel will see).  Returns
	 * SRV_RUN to have the core run it, SRV_DONE if it ran it itself
	 * (result in *res), SRV_SLOW to have run_slow() run it on a pool
	 * thread, or -errno to refuse it.  Runs on a worker thread: it must
	 * not block.
	 */
	int (*execute)(struct srv_client *c, struct srv_req *q, int64_t *res);
	/* Run q on a slow-pool thread (it may block; it is interrupted with
	 * EINTR when its client goes away or the daemon stops).  Returns the
	 * result.  path and path2 are the thread's scratch (PATH_MAX). */
	int64_t (*run_slow)(struct srv_client *c, struct srv_req *q,
			    char *path, char *path2);
	/* A socket was made by q (socket, accept): remember what the
	 * policy needs (family, type) in the fd entry.  May be NULL. */
	void (*fd_made)(struct srv_client *c, struct srv_req *q, int idx);
};

enum { SRV_RUN = 0, SRV_DONE = 1, SRV_SLOW = 2 };

/* ---- what each uid holds (uids.c) --------------------------------------- */

struct srv_uid {
	uid_t uid;
	atomic_uint clients, pending, fds, slow, lock_waits;
	atomic_ullong region_bytes; /* shared regions of its clients */
	struct srv_uid *next;
};

/* What a uid's clients on one worker have running: the engine is the
 * worker's, so that is where the bound on engine slots applies (plain
 * counts, touched by that worker only: nothing shared per request). */
struct srv_wuid {
	uid_t uid;
	unsigned inflight; /* running */
	unsigned parked;   /* waiting for a peer in the engine */
	unsigned clients;  /* its clients on this worker */
	struct srv_wuid *next;
};

/* The entry of uid (made on first use; entries live as long as the
 * daemon: there are as many as there are users).  NULL: out of memory. */
struct srv_uid *srv_uid_get(uid_t uid);
/* Take one unit of counter *ctr if it is below max: true if taken. */
bool srv_take(atomic_uint *ctr, unsigned max);
/* Take n bytes of *ctr if that stays within max: true if taken. */
bool srv_take_bytes(atomic_ullong *ctr, uint64_t n, uint64_t max);
static inline void srv_give(atomic_uint *ctr)
{
	atomic_fetch_sub_explicit(ctr, 1, memory_order_relaxed);
}

/* ---- one request of a client ------------------------------------------- */

enum { SRV_REQ_FREE = 0, SRV_REQ_RUNNING, SRV_REQ_UNPOSTED };
enum { SRV_AT_NONE = 0, SRV_AT_ENGINE, SRV_AT_TIMER, SRV_AT_SLOW };

struct srv_req {
	struct srv_client *c;
	uint32_t tag;
	uint8_t state;
	uint8_t op;
	uint8_t where;          /* SRV_AT_*: where it runs */
	bool cancel_sent;       /* an engine cancel is on its way */
	bool parked;            /* counted as parked, not running */
	int32_t fdi, fdi2;      /* fd-table entries held, or -1 */
	int64_t res;            /* for UNPOSTED */
	uint64_t expires;       /* timers: CLOCK_MONOTONIC ns */
	uint32_t heap_idx;      /* timers: place in the worker's heap */
	struct srv_req *slow_next; /* slow pool: queue / done list */
	atomic_int slow_state;  /* slow pool: queued, running, done */
	bool slow_wait;         /* slow pool: a lock wait (its own bounds) */
	atomic_bool slow_cancelled; /* slow pool: cancelled while running;
	                         * its thread is signalled until it ends */
	struct vos__dreq d;     /* the decoded request (private copies) */
	struct vos__shared data; /* the data area as it was at decode: the
	                          * slow pool reads it while the worker
	                          * grows the client's */
};

/* ---- one attached client (session.c) ----------------------------------- */

struct srv_fd {
	int real;       /* the daemon's fd, or -1 when the entry is free */
	uint32_t refs;  /* the table's own (while open) + requests using it */
	bool open;
	bool socket;
	int family, type; /* sockets: for the policy */
	uint32_t desc;    /* its open file description: dups share it */
	bool cloexec;     /* the client's FD_CLOEXEC: F_GETFD and F_SETFD
	                   * answer from here, as the flag is the fd's, not
	                   * the file's (the daemon's own fd may have it
	                   * set either way: stord opens everything
	                   * O_CLOEXEC) */
};

struct srv_client {
	uint64_t id;
	struct vos__cred cred;
	unsigned umask;
	struct srv_uid *uid;
	struct srv_wuid *wuid;   /* its uid on its worker (set by it) */
	uint64_t region_bytes;   /* charged to its uid */
	int conn;                /* the control connection */
	struct vos__offer offer; /* the region and the doorbell */
	struct vos__rs ring;
	/* its buffer areas (GROW), mapped after the region by the listener:
	 * where the data area ends now (the listener's), and that end for
	 * the worker, published once the area is mapped */
	uint64_t grown_end;
	unsigned grown;          /* areas taken (<= VOS_WIRE_GROW_MAX) */
	atomic_ullong data_end;

	struct srv_req *reqs;    /* entries of them, by tag */
	uint32_t inflight;       /* requests RUNNING or UNPOSTED, not parked */
	uint32_t parked;         /* requests waiting for a peer or readiness
	                          * in the engine (a recv, an accept, a poll,
	                          * anything on a socket): they cost an engine
	                          * slot and a tag the client owns, no worker
	                          * time, so --max-inflight does not count
	                          * them (a server's posted recvs must never
	                          * hold back its sends) */
	uint32_t unposted;
	uint32_t slow_running;   /* its calls on the slow pool */
	uint32_t lock_waits;     /* its lock waits there (slow.c) */
	uint64_t done;           /* requests completed (stat_done's source) */
	uint32_t timers;

	struct srv_fd *fds;
	uint32_t nfds_cap;
	uint32_t nfds_open;
	uint32_t fd_hint;        /* lowest index that may be free */
	uint32_t desc_seq;       /* names open file descriptions */

	struct srv_worker *w;
	bool poll_armed;         /* an engine poll watches the doorbell */
	bool poll_cancel_sent;   /* teardown: its cancel is on its way */
	bool cancelling;
	int64_t teardown_ns;     /* when its teardown began (srv_now_ns) */
	bool cancels_done;       /* teardown: every engine request of it has
	                          * its cancel on the way */
	bool broken;             /* broke the protocol: being dropped */
	atomic_uint stat_inflight;
	atomic_uint stat_parked;
	/* set by the listener: control connection closed.  Kept away from
	 * the plain bools above, which the compiler may load together. */
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
	int wake_efd;         /* the listener and the slow pool kick it */
	bool wake_armed;
	pthread_mutex_t lock; /* guards incoming and slow_done */
	struct srv_client *incoming;
	struct srv_req *slow_done; /* finished on the slow pool */
	atomic_bool has_incoming;  /* hints: the lists may be non-empty */
	atomic_bool has_slow_done;
	unsigned slow_cancelled; /* its requests cancelled on the slow pool
	                          * and still running (worker thread) */
	int64_t resignal_at;     /* when to signal them again (srv_now_ns) */
	struct srv_client *clients;
	atomic_uint nclients;
	atomic_bool stop;
	int start_err;        /* the engine's creation, on its thread */
	uint64_t rng;         /* fault injection */
	struct srv_req **heap; /* timers, soonest first */
	uint32_t nheap, heap_cap;
	struct srv_wuid *wuids; /* the uids of its clients */
	unsigned nuids;         /* ... that have clients here now */
	unsigned parked;        /* parked requests of all its clients */
};

/* ---- the daemon ---------------------------------------------------------- */

struct srv {
	const struct srv_service *svc;
	const struct vos__chan_server *chan;
	struct srv_config cfg;
	unsigned nworkers;
	struct srv_worker workers[SRV_MAX_WORKERS];
	sem_t started;         /* each worker posts once its engine exists */
	sem_t exited;          /* ... and once it has stopped */
	atomic_uint spinners;  /* workers spinning now */
	unsigned max_spinners; /* CPUs */
	uint32_t epoch;
	atomic_uint nclients;
	atomic_uint fds;       /* clients' fds open in the daemon, all uids */
	unsigned max_fds_total; /* RLIMIT_NOFILE less the daemon's own */
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
void srv_config_limits(void);
void srv_usage(FILE *out);

/* listener.c */
void srv_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void srv_registry_remove(struct srv_client *c);

/* channels.c: the server channel named name (NULL: the default) */
const struct vos__chan_server *srv_channel(const char *name);

/* session.c */
struct srv_client *srv_client_new(int conn, const struct vos__cred *cred,
				  struct srv_uid *uid,
				  const struct vos_wire_attach *a, int *err,
				  char *why, size_t whylen);
void srv_client_free(struct srv_client *c);
int srv_fd_install(struct srv_client *c, int real, bool socket);
int srv_fd_get(struct srv_client *c, int32_t idx, int *real);
void srv_fd_put(struct srv_client *c, int32_t idx);
int srv_fd_close(struct srv_client *c, int32_t idx);
/* fcntl F_GETFD / F_SETFD on entry idx (held by the request): the
 * client's FD_CLOEXEC. */
int64_t srv_fd_fdflags(struct srv_client *c, int32_t idx,
		       const struct vos_req *r);
void srv_fd_shutdown_all(struct srv_client *c);

/* worker.c */
int srv_workers_start(void);
bool srv_workers_stop(int64_t deadline_ns);
void srv_worker_add(struct srv_client *c);
void srv_worker_kick(struct srv_worker *w);
int64_t srv_now_ns(void);
void srv_finish(struct srv_worker *w, struct srv_req *q, int64_t res);

/* timers.c (worker thread only) */
int srv_timer_add(struct srv_worker *w, struct srv_req *q);
bool srv_timer_cancel(struct srv_worker *w, struct srv_req *q);
/* Fire what is due; the ns until the next one (-1: none). */
int64_t srv_timers_run(struct srv_worker *w);
void srv_timers_free(struct srv_worker *w);

/* locks.c: a FCNTL_LOCK request's call (a wait: slow pool thread; else
 * the worker), as the OFD lock of the client's fd; the result, or
 * -errno. */
int64_t srv_lock_run(struct vos_req *r);

/* slow.c */
int srv_slow_start(void);
/* Stop the pool: true once every thread of it has exited. */
bool srv_slow_stop(void);
/* Queue q (worker thread).  0, or -errno (it then did not queue it). */
int srv_slow_push(struct srv_req *q);
/* Cancel q if still queued: true (it completes with -ECANCELED);
 * false: it runs, and its call is interrupted if it waits (it then
 * completes with -EINTR); srv_slow_resignal() repeats the interruption
 * until it has ended. */
bool srv_slow_cancel(struct srv_req *q);
/* Interrupt again the calls of w's clients cancelled on the pool and
 * still running (worker thread; w->slow_cancelled says if any). */
void srv_slow_resignal(struct srv_worker *w);
/* Interrupt c's calls on the pool (its teardown; again until done). */
void srv_slow_interrupt(struct srv_client *c);
/* Deliver finished calls to w (worker thread). */
void srv_slow_reap(struct srv_worker *w);

#endif /* SRV_SERVER_H */
