/*
 * transport.h - the interface between the libvirtuos core and a transport.
 *
 * A transport carries requests to whatever executes them (the local kernel,
 * a daemon over shared memory, a Xen driver domain) and brings completions
 * back.  The core owns the bookkeeping a user sees (user_data, queue depth,
 * the completion queue, blocking wrappers, cancellation lookup, spinning);
 * a transport only moves requests and results.  You can write one from this
 * file alone:
 *
 *   1. Fill a struct vos_transport_ops (abi = VOS_TRANSPORT_ABI) and call
 *      vos_transport_register() once, before the first vos_ctx_create()
 *      that names it.  The built-in transports are registered by the core.
 *   2. The core calls open() once per context.  It passes a host: the
 *      configuration, the queue depth, and the complete() callback.
 *   3. The core calls submit() with requests whose user_data field has been
 *      replaced by a *tag*: an integer below host->queue_depth that names the
 *      request until it completes.  A tag is never reused while its request
 *      is in flight.  For each accepted request the transport must call
 *      host->complete(host, tag, res) exactly once, from a call into the
 *      transport made by the core's thread (submit, reap or wait), never
 *      from another thread.  A multishot request (VOS_OP_ACCEPT_MULTI,
 *      VOS_OP_RECV_MULTI) first gets any number of host->post(host, tag,
 *      res, VOS_CQE_F_MORE | ...) calls; a transport that does not run
 *      them completes them with -EOPNOTSUPP.
 *   4. The core has already validated the request: op < VOS_OP__COUNT,
 *      reserved fields zero, fd >= 0 where needed, non-NULL buffers for
 *      non-zero lengths, iovcnt <= VOS_IOV_MAX, supported fcntl/ioctl
 *      commands.  Requests the core handles alone (a cancel whose target is
 *      not in flight) never reach the transport.  For VOS_OP_CANCEL the
 *      core puts the target's *tag* in req->off.
 *   5. complete() validates the tag (range and in-flight); a transport that
 *      relays untrusted peers may pass their values through unchecked, the
 *      core drops bad ones and counts them.
 *
 * Threading: the core calls a transport's functions for one context from
 * one thread at a time.  A transport may run threads of its own; they must
 * hand results to the core's thread (for example through a queue that
 * reap() drains) rather than call complete() themselves.
 */
#ifndef VIRTUOS_TRANSPORT_H
#define VIRTUOS_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <virtuos/virtuos.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever struct vos_transport_ops or struct vos_transport_host
 * change incompatibly.  2: host flags and deadline_ns; sleep_fd, woke and
 * expire.  3: host post(), buf_take() and buf_untake(). */
#define VOS_TRANSPORT_ABI 4

/* host->flags */
#define VOS_TRANSPORT_LAZY 0x1u /* open() must not fail because a peer is
                                 * down: connect when first used (the
                                 * routing layer sets it for services) */

struct vos_transport_host {
	/* Requests that may be in flight at once; tags are < queue_depth. */
	uint32_t queue_depth;
	uint32_t flags; /* VOS_TRANSPORT_* */
	/* Transport options string ("key=value,..."), or "" (never NULL). */
	const char *options;
	/* Report the completion of the request with this tag.  See above. */
	void (*complete)(struct vos_transport_host *host, uint64_t tag,
			 int64_t res);
	/* The context's deadline for a call (vos_config.deadline_ns), 0 if
	 * none.  The core enforces it on requests (expire()); a transport that
	 * must block inside submit() to connect (VOS_TRANSPORT_LAZY) gives up
	 * connecting after at most this long. */
	int64_t deadline_ns;
	/* complete() with completion flags (VOS_CQE_F_*, a buffer id): with
	 * VOS_CQE_F_MORE the request stays in flight (a multishot request's
	 * completion); without it, the same as complete(). */
	void (*post)(struct vos_transport_host *host, uint64_t tag,
		     int64_t res, uint32_t flags);
	/* The context's buffer pools (vos_buf_pool_create()), for a
	 * multishot recv: take a free buffer of pool group (its id, or
	 * -ENOBUFS: none free, or no such pool) for a recv; give back one
	 * the recv did not fill.  A buffer taken and then named by a post()
	 * with VOS_CQE_F_BUFFER is the program's. */
	int64_t (*buf_take)(struct vos_transport_host *host, uint16_t group,
			    void **buf, uint32_t *size);
	void (*buf_untake)(struct vos_transport_host *host, uint16_t group,
			   uint32_t bid);
};

struct vos_transport_ops {
	uint32_t abi;        /* VOS_TRANSPORT_ABI */
	const char *name;    /* the name configurations use */

	/* Create the transport's state for one context.  Store it in *priv.
	 * Returns 0 or -errno (the context is then not created). */
	int (*open)(struct vos_transport_host *host, void **priv);

	/* Take n validated requests (user_data holds the tag).  Returns how
	 * many were taken, in order (0..n), or -errno if none.  Must not block
	 * waiting on the executor (it may run short operations inline and
	 * complete them at once). */
	int (*submit)(void *priv, const struct vos_req *reqs, unsigned n);

	/* Deliver every completion that is ready, without blocking.  Returns
	 * how many were delivered, or -errno. */
	int (*reap)(void *priv);

	/* Block until at least one completion has been delivered, timeout_ns
	 * nanoseconds have passed (-ETIME; < 0 means no limit), or a signal
	 * arrived (-EINTR).  Returns the number delivered (> 0) or -errno. */
	int (*wait)(void *priv, int64_t timeout_ns);

	/* Release everything.  Requests still in flight are abandoned: do not
	 * call complete() from here. */
	void (*close)(void *priv);

	/* In a forked child: drop the parent's in-flight requests (never call
	 * complete() for them) and make the transport usable.  0 or -errno.
	 * NULL: the transport cannot be used after fork (-EOPNOTSUPP). */
	int (*after_fork)(void *priv);

	/* Forget cached facts about fd (see vos_fd_forget()).  May be NULL. */
	void (*fd_forget)(void *priv, int fd);

	/* A short description of the instance, e.g. "io_uring-local (uring)".
	 * May be NULL (the name is used). */
	const char *(*describe)(void *priv);

	/* Waiting on several transports at once (the routing layer does).
	 * sleep_fd: get ready to sleep and return an fd that becomes readable
	 * (POLLIN or POLLHUP) when reap() may have something to deliver; or
	 * -EAGAIN if reap() has something now (do not sleep).  After the
	 * sleep, whatever ended it, the core calls woke() on every transport
	 * whose sleep_fd returned an fd, then reap().  Both may be NULL: the
	 * transport is then waited on with wait() in time slices. */
	int (*sleep_fd)(void *priv);
	void (*woke)(void *priv);

	/* The request with this tag ran past its deadline (vos_req's
	 * deadline_ms, or the context's) and the core's cancel of it has not
	 * been answered either, 200 ms later.  The transport completes it
	 * with -ETIMEDOUT (a ring transport also declares its peer failed:
	 * the other requests in flight there fail as if it had died).
	 * Returns 0, -ENOENT (not in flight), or -EOPNOTSUPP (NULL works
	 * too: the request then completes whenever it does). */
	int (*expire)(void *priv, uint64_t tag);

	/* Buffers for vos_buf_alloc() (since ABI 4): len bytes of memory
	 * that the transport's peer reads and writes in place for requests
	 * on fd, so no byte is copied for them.  0 and *buf, or -errno (the
	 * core then gives ordinary memory).  May be NULL. */
	int (*buf_alloc)(void *priv, int fd, size_t len, void **buf);
	/* Give back a buffer buf_alloc() gave: 0, or -ENOENT if buf is not
	 * one of them.  May be NULL (with buf_alloc). */
	int (*buf_free)(void *priv, void *buf);
};

/*
 * vos_transport_register - make a transport available by name.  Returns 0,
 * -EINVAL (NULL, wrong abi, missing open/submit/reap/wait/close, or no
 * name), -EEXIST (the name is taken), -ENOSPC (the registry holds 16).
 */
int vos_transport_register(const struct vos_transport_ops *ops);

/* vos_transport_find - the registered transport with this name, or NULL. */
const struct vos_transport_ops *vos_transport_find(const char *name);

#ifdef __cplusplus
}
#endif
#endif /* VIRTUOS_TRANSPORT_H */
