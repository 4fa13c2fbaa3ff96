/*
 * router.c - the "routed" transport: sends each request to the service
 * the routing configuration names (routes.c), and gives every fd a
 * service makes a real kernel fd number.
 *
 * Services are transports in their own right (svc[0] is the local one,
 * normally io_uring-local; the others normally shm).  Each gets its own
 * host, so a completion a service reports is checked against the requests
 * that service was given: one service cannot complete another's calls.
 *
 * An fd made by a service (socket, open, accept, dup) is represented in
 * the program by a placeholder: a real kernel fd (/dev/null, O_CLOEXEC)
 * reserved for as long as the service's fd is open, so fd numbers stay
 * unique across services and the local kernel.  The table maps each
 * placeholder to (service, the service's fd); the placeholder is released
 * when the close completes.
 *
 * Waiting: when requests are in flight at one service only, its wait()
 * blocks.  When several have requests in flight, the router asks each for
 * the fd it would sleep on (sleep_fd) and blocks in one ppoll() over all
 * of them, so a completion from any service wakes it at once.  Only a
 * transport that has no such fd (none of the built-in ones) is still
 * waited on in short, growing time slices (50 us to 2 ms).  For
 * vos_ctx_fd() the router offers the same set as one fd (sleep_fd: an
 * epoll instance holding the busy services' fds).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include "builtin_transports.h"
#include "copy.h"
#include "internal.h"
#include "opdef.h"
#include "options.h"
#include "routes.h"
#include "user_mem.h"

#define SLICE_MIN_NS 50000
#define SLICE_MAX_NS 2000000

enum {
	TAG_FREE = 0, TAG_PLAIN, TAG_NEWFD, TAG_CLOSE, TAG_MULTI_FD,
	TAG_DUP_SVC,   /* dup2/dup3 of a service's fd: its F_DUPFD there */
	TAG_DUP_LOCAL, /* of a local fd onto a service's placeholder */
	TAG_DUP_CLOSE, /* then: newfd's old service fd closed there */
	TAG_COPY,      /* copy_file_range, sendfile, splice across domains:
	                * the steps of copy.c */
};

struct rsvc {
	struct vos_transport_host host; /* first: container_of */
	struct router *rt;
	unsigned idx;
	const struct vos_transport_ops *ops;
	void *priv;
	uint32_t inflight;
	int sleep_fd;  /* in the router's epoll set (router_sleep_fd), or -1 */
	bool armed;    /* its sleep_fd() returned an fd: woke() is owed */
	char options[300];
};

struct rfd {
	int32_t remote;
	uint8_t svc;  /* 0: not a service fd */
	uint8_t held; /* a request in flight puts a file at this number or
	               * takes one from it (a placeholder being made or
	               * closed, a dup's newfd): a dup onto it is -EBUSY */
};

struct rtag {
	uint8_t kind;
	uint8_t svc;
	int32_t ph;     /* placeholder (NEWFD, CLOSE; DUP_SVC and DUP_CLOSE:
	                 * the one to put at newfd, or -1) */
	int32_t newfd;  /* DUP_*: dup's newfd */
	struct rfd dup; /* DUP_CLOSE: the copy's (service, fd) */
	struct rfd gone; /* DUP_CLOSE: what newfd was, closed now */
	int32_t held[2]; /* the numbers it holds (rfd.held), or -1 */
	struct vos__copy *cp; /* COPY: its steps */
	bool queued;      /* COPY: its next step waits in the chain */
};

struct router {
	struct vos_transport_host *host;
	struct vos__routes routes;
	struct rsvc svc[VOS__MAX_SERVICES];
	unsigned nsvc;
	struct rtag *tags;
	struct rfd *fds;
	uint32_t fds_cap;
	uint32_t depth;
	uint32_t *chain;  /* tags whose next step (DUP_CLOSE, COPY) is to
	                   * be sent */
	uint32_t nchain;
	unsigned in_cb;   /* inside a service's completion (no submit) */
	int ep; /* the services' sleep fds, for router_sleep_fd (-1 until used) */
	char desc[512];
};

/* Room in the map for placeholder ph: made when the placeholder is, so
 * that recording the service's fd at completion cannot fail.  0 or
 * -ENOMEM. */
static int map_grow(struct router *rt, int ph)
{
	uint32_t cap = rt->fds_cap ? rt->fds_cap : 64;
	struct rfd *n;

	if ((uint32_t)ph < rt->fds_cap)
		return 0;
	while (cap <= (uint32_t)ph)
		cap *= 2;
	n = realloc(rt->fds, cap * sizeof(*n));
	if (!n)
		return -ENOMEM;
	memset(n + rt->fds_cap, 0, (cap - rt->fds_cap) * sizeof(*n));
	rt->fds = n;
	rt->fds_cap = cap;
	return 0;
}

/* (ph has room: map_grow() when it was made) */
static void map_set(struct router *rt, int ph, uint8_t svc, int32_t remote)
{
	rt->fds[ph].svc = svc;
	rt->fds[ph].remote = remote;
}

static const struct rfd *map_get(const struct router *rt, int fd)
{
	if (fd < 0 || (uint32_t)fd >= rt->fds_cap || !rt->fds[fd].svc)
		return NULL;
	return &rt->fds[fd];
}

/* t holds fd (which has room in the map) until tag_done(). */
static void hold(struct router *rt, struct rtag *t, int k, int fd)
{
	t->held[k] = fd;
	rt->fds[fd].held = 1;
}

static bool held(const struct router *rt, int fd)
{
	return fd >= 0 && (uint32_t)fd < rt->fds_cap && rt->fds[fd].held;
}

/* t ends: the numbers it held are free for dups again (called in the
 * same step as any close of its placeholder, so no other request can
 * hold that number yet). */
static void tag_done(struct router *rt, struct rtag *t)
{
	for (int k = 0; k < 2; k++)
		if (t->held[k] >= 0)
			rt->fds[t->held[k]].held = 0;
	t->held[0] = t->held[1] = -1;
	t->kind = TAG_FREE;
}

/* The context's buffer pools, for every service's multishot recvs. */
static int64_t sub_buf_take(struct vos_transport_host *host, uint16_t group,
			    void **buf, uint32_t *size)
{
	struct rsvc *s = vos__container_of(host, struct rsvc, host);

	return s->rt->host->buf_take(s->rt->host, group, buf, size);
}

static void sub_buf_untake(struct vos_transport_host *host, uint16_t group,
			   uint32_t bid)
{
	struct rsvc *s = vos__container_of(host, struct rsvc, host);

	s->rt->host->buf_untake(s->rt->host, group, bid);
}

/* A connection a service's multishot accept made (its fd there,
 * remote): a placeholder of ours for it, or -errno (the connection then
 * stays open in the service until the context detaches: there is no tag
 * to close it with). */
static int64_t place_accepted(struct router *rt, unsigned svc, int64_t remote)
{
	int ph = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (ph < 0)
		return -errno;
	if (map_grow(rt, ph) < 0) {
		close(ph);
		return -ENOMEM;
	}
	map_set(rt, ph, (uint8_t)svc, (int32_t)remote);
	return ph;
}

/*
 * dup2/dup3.  Of a local fd: the local kernel's call (its dup3 puts the
 * file at newfd, closing a placeholder there).  Of a service's fd: the
 * service duplicates it (F_DUPFD there: the copy shares the open file
 * description, as a dup does), then a placeholder made at submit goes to
 * newfd with one dup3, which closes whatever newfd was at once, as the
 * kernel's dup3 does.  Either way, when newfd was a service's
 * placeholder, its fd there is closed next, as the same request's second
 * step (TAG_DUP_CLOSE, sent from chain_run(), outside any completion):
 * the call completes when that close has.  Its result is the kernel's:
 * dup2 ignores what closing the old file says.
 */

/* Put the placeholder at newfd for (svc, remote): newfd, or -errno (then
 * the copy stays open in the service until the context detaches: no tag
 * is left to close it with). */
static int64_t dup_install(struct router *rt, struct rtag *t, uint8_t svc,
			   int32_t remote)
{
	int fd = t->newfd, e = 0;

	/* the number names another file now (a local fd's cached facts
	 * and queued requests end with it) */
	if (!map_get(rt, fd) && rt->svc[0].ops->fd_forget)
		rt->svc[0].ops->fd_forget(rt->svc[0].priv, fd);
	if (t->ph != fd) { /* (else newfd was free: the placeholder took it) */
		if (dup3(t->ph, fd, O_CLOEXEC) < 0)
			e = -errno;
		close(t->ph);
	}
	t->ph = -1;
	if (e)
		return e;
	map_set(rt, fd, svc, remote);
	return fd;
}

/* Step one of tag's dup completed with res (>= 0) on service svc: if
 * newfd was a service's placeholder, its fd there is to be closed before
 * the call completes (true: queued for chain_run). */
static bool dup_chain(struct router *rt, uint64_t tag, uint8_t svc,
		      int64_t res)
{
	struct rtag *t = &rt->tags[tag];
	const struct rfd *m = map_get(rt, t->newfd);

	if (!m)
		return false;
	/* (the mapping stays until the close is done: requests on newfd
	 * meanwhile go to the old file, as the kernel's would until its
	 * dup2 had returned) */
	t->gone = *m;
	t->dup.svc = svc;
	t->dup.remote = (int32_t)res;
	if (t->kind == TAG_DUP_LOCAL)
		t->ph = -1; /* the local kernel put the file at newfd */
	t->kind = TAG_DUP_CLOSE;
	rt->chain[rt->nchain++] = (uint32_t)tag;
	return true;
}

/* The result of tag's dup when its last step is done. */
static int64_t dup_result(struct router *rt, struct rtag *t)
{
	if (t->ph >= 0)
		return dup_install(rt, t, t->dup.svc, t->dup.remote);
	rt->fds[t->newfd].svc = 0; /* the local kernel's file is there */
	return t->newfd;
}


static void sub_finish(struct rsvc *s, uint64_t tag, int64_t res,
		       uint32_t flags)
{
	struct router *rt = s->rt;
	struct rtag *t;

	if (tag >= rt->depth || rt->tags[tag].kind == TAG_FREE ||
	    rt->tags[tag].svc != s->idx) {
		/* not this service's request: let the core count it */
		rt->host->complete(rt->host, UINT64_MAX, res);
		return;
	}
	t = &rt->tags[tag];
	if ((t->kind == TAG_NEWFD || t->kind == TAG_DUP_SVC) && s->idx != 0 &&
	    res > INT32_MAX)
		res = -EIO; /* no fd number: a broken service */
	if (t->kind == TAG_NEWFD) {
		if (res >= 0 && s->idx != 0) {
			map_set(rt, t->ph, (uint8_t)s->idx, (int32_t)res);
			res = t->ph;
		} else {
			close(t->ph);
		}
	} else if (t->kind == TAG_CLOSE) {
		/* Linux closes the fd even when close reports an error */
		rt->fds[t->ph].svc = 0;
		close(t->ph);
	} else if (t->kind == TAG_MULTI_FD && res >= 0) {
		res = place_accepted(rt, s->idx, res); /* a last connection */
	} else if (t->kind == TAG_DUP_SVC || t->kind == TAG_DUP_LOCAL) {
		if (res >= 0 && dup_chain(rt, tag, (uint8_t)s->idx, res)) {
			s->inflight--; /* its next step goes out soon */
			return;
		}
		if (t->kind == TAG_DUP_SVC && res < 0)
			close(t->ph);
		else if (t->kind == TAG_DUP_SVC)
			res = dup_install(rt, t, (uint8_t)s->idx, (int32_t)res);
	} else if (t->kind == TAG_DUP_CLOSE) {
		res = dup_result(rt, t); /* whatever the close said */
	} else if (t->kind == TAG_COPY) {
		if (vos__copy_next(t->cp, &res)) {
			t->queued = true;
			rt->chain[rt->nchain++] = (uint32_t)tag;
			s->inflight--; /* its next step goes out soon */
			return;
		}
		t->cp = NULL; /* (freed) */
	}
	tag_done(rt, t);
	s->inflight--;
	rt->in_cb++; /* the core may submit from here: no chain_run */
	rt->host->post(rt->host, tag, res, flags);
	rt->in_cb--;
}

/* Send the steps queued by dup_chain() and the copies (copy.c).  Returns how
 * many calls it completed itself (a service that took no step). */
static int chain_run(struct router *rt)
{
	int posted = 0;
	uint32_t refused = 0;

	if (rt->in_cb)
		return 0;
	/* (steps a full service refused wait at the bottom, [0, refused),
	 * for the next run) */
	while (rt->nchain > refused) {
		uint32_t tag = rt->chain[--rt->nchain];
		struct rtag *t = &rt->tags[tag];
		struct rsvc *v;
		struct vos_req c;
		int64_t res;
		int took;

		if (t->kind == TAG_COPY) {
			t->queued = false;
			if (vos__copy_stopped(t->cp)) {
				/* cancelled before this step: not sent */
				res = -ECANCELED;
				if (vos__copy_next(t->cp, &res)) {
					t->queued = true;
					rt->chain[rt->nchain++] = tag;
					continue;
				}
				t->cp = NULL; /* (freed) */
				goto post;
			}
			t->svc = vos__copy_step(t->cp, &c);
		} else {
			vos_prep_close(&c, t->gone.remote);
			t->svc = t->gone.svc;
		}
		c.user_data = tag;
		v = &rt->svc[t->svc];
		v->inflight++;
		took = v->ops->submit(v->priv, &c, 1);
		if (took == 1)
			continue; /* sub_finish() takes it from here */
		v->inflight--;
		if (t->kind == TAG_COPY && (took == 0 || took == -EBUSY)) {
			/* the service's queue is full: the step goes when a
			 * completion makes room (the next reap) */
			memmove(rt->chain + 1, rt->chain,
				rt->nchain * sizeof(*rt->chain));
			rt->chain[0] = tag;
			rt->nchain++;
			refused++;
			t->queued = true;
			continue;
		}
		if (t->kind == TAG_COPY) {
			/* as if the step had failed */
			res = took;
			if (vos__copy_next(t->cp, &res)) {
				t->queued = true;
				rt->chain[rt->nchain++] = tag;
				continue;
			}
			t->cp = NULL; /* (freed) */
		} else {
			/* not taken: the old fd stays open there until the
			 * context detaches; the dup itself is done */
			res = dup_result(rt, t);
		}
post:
		tag_done(rt, t);
		rt->in_cb++;
		rt->host->post(rt->host, tag, res, 0);
		rt->in_cb--;
		posted++;
	}
	return posted;
}

static void sub_complete(struct vos_transport_host *host, uint64_t tag,
			 int64_t res)
{
	sub_finish(vos__container_of(host, struct rsvc, host), tag, res, 0);
}

/* A multishot request's completion (only the local service has them). */
static void sub_post(struct vos_transport_host *host, uint64_t tag,
		     int64_t res, uint32_t flags)
{
	struct rsvc *s = vos__container_of(host, struct rsvc, host);
	struct router *rt = s->rt;

	if (!(flags & VOS_CQE_F_MORE)) {
		sub_finish(s, tag, res, flags);
		return;
	}
	if (tag >= rt->depth ||
	    (rt->tags[tag].kind != TAG_PLAIN &&
	     rt->tags[tag].kind != TAG_MULTI_FD) ||
	    rt->tags[tag].svc != s->idx) {
		rt->host->complete(rt->host, UINT64_MAX, res);
		return;
	}
	if (rt->tags[tag].kind == TAG_MULTI_FD && res >= 0)
		res = place_accepted(rt, s->idx, res);
	rt->host->post(rt->host, tag, res, flags); /* it stays in flight */
}

/* The service for an absolute path, and the path relative to its root
 * in *rel; 0 (local) if no prefix matches.  The longest prefix wins. */
static unsigned by_path(const struct router *rt, const char *path,
			const char **rel)
{
	unsigned best = 0;
	size_t best_len = 0;

	if (!path || path[0] != '/')
		return 0;
	for (unsigned i = 0; i < rt->routes.nprefix; i++) {
		size_t len = rt->routes.prefix[i].len;
		const char *p = rt->routes.prefix[i].prefix;

		if (len == 1)
			len = 0; /* "/" matches everything */
		if (strncmp(path, p, len) || (path[len] && path[len] != '/'))
			continue;
		if (len >= best_len) {
			best = rt->routes.prefix[i].svc;
			best_len = len;
			*rel = path + len;
		}
	}
	if (best) {
		while (**rel == '/')
			(*rel)++;
		if (!**rel)
			*rel = ".";
	}
	return best;
}

/* The caller's path, read as the kernel reads a name before it looks at
 * it: its length in *n (PATH_MAX if it has no NUL before that: a routed
 * name that long is -ENAMETOOLONG, as the kernel says), or -EFAULT if it
 * cannot be read (then by_path must not read it). */
static int path_len(const char *path, size_t *n)
{
	*n = 0;
	return path ? vos__user_strnlen(path, PATH_MAX, n) : 0;
}

/* One (dirfd, path) pair of a path call: the service it names in *svc,
 * and in *fd and *addr what to send there.  A path that begins with '/'
 * goes by its name whatever the dirfd (the kernel does not look at the
 * dirfd then): to a service as AT_FDCWD and the path below the service's
 * root.  Any other path goes where its dirfd lives (AT_FDCWD: here).  0,
 * or -errno to fail the call here. */
static int at_side(const struct router *rt, int32_t dirfd, uint64_t addr,
		   unsigned *svc, int32_t *fd, uint64_t *out_addr)
{
	const char *path = (const char *)(uintptr_t)addr, *rel = NULL;
	const struct rfd *m;
	size_t n;

	*svc = 0;
	if (path_len(path, &n) < 0)
		return -EFAULT;
	if (n && path[0] == '/') {
		*svc = by_path(rt, path, &rel);
		if (!*svc)
			return 0;
		if (n >= PATH_MAX)
			return -ENAMETOOLONG; /* before the prefix goes */
		*fd = AT_FDCWD;
		*out_addr = (uint64_t)(uintptr_t)rel;
	} else if (dirfd != AT_FDCWD && (m = map_get(rt, dirfd))) {
		*svc = m->svc;
		*fd = m->remote;
	}
	return 0;
}

/* Whether a side of a two-path call names no directory at all: a relative
 * path from a dirfd that is neither a service's nor open here.  The kernel
 * says -EBADF for it before it could say -EXDEV. */
static bool at_side_bad(const struct router *rt, int32_t dirfd, uint64_t addr)
{
	const char *path = (const char *)(uintptr_t)addr;

	if (dirfd == AT_FDCWD || (path && path[0] == '/') ||
	    map_get(rt, dirfd))
		return false;
	return fcntl(dirfd, F_GETFD) < 0 && errno == EBADF;
}

/* Where r goes: its service in *svc and the request to send in *out.
 * 0, 1 for a copy between two domains (copy_begin), 2 or 3 for a cancel
 * answered here (0 or -EALREADY), or -errno to fail it here. */
static int route(struct router *rt, const struct vos_req *r, unsigned *svc,
		 struct vos_req *out)
{
	const struct vos__opdef *d = vos__opdef(r->op);
	const struct rfd *m;
	int ret;

	*out = *r;
	*svc = 0;
	if (r->op == VOS_OP_CANCEL) {
		struct rtag *ct = &rt->tags[r->off];

		if (ct->kind == TAG_COPY) {
			/* a copy stops before its next read (copy.c); one
			 * waiting in the chain is answered here (2: 0), one
			 * whose step in flight must finish too (3:
			 * -EALREADY); else the step is cancelled where it
			 * runs */
			int c = vos__copy_cancel(ct->cp);

			if (ct->queued)
				return 2;
			if (c < 0)
				return 3;
		}
		*svc = ct->svc; /* where its target (or its step) went */
		return 0;
	}
	if (d->svc == VOS__SVC_NET && !(d->flags & VOS__OPF_FD)) {
		/* socket(): by family */
		if (r->arg < VOS__MAX_FAMILY)
			*svc = rt->routes.family[r->arg];
		return 0;
	}
	if (d->svc == VOS__SVC_LOCAL)
		return 0; /* names no fd and no path */
	if (r->op == VOS_OP_OPENAT2 && (r->off & VOS__RESOLVE_SCOPED)) {
		/* RESOLVE_BENEATH, RESOLVE_IN_ROOT: the path is dirfd's
		 * (an absolute one too: from dirfd as the root; -EXDEV
		 * with RESOLVE_BENEATH, before the kernel looks at dirfd),
		 * so it goes where dirfd lives, as it is */
		const char *path = (const char *)(uintptr_t)r->addr;
		size_t n;

		if ((r->off & RESOLVE_BENEATH) && !(r->off & RESOLVE_IN_ROOT) &&
		    path_len(path, &n) == 0 && n && path[0] == '/')
			return -EXDEV;
		if (r->fd != AT_FDCWD && (m = map_get(rt, r->fd))) {
			*svc = m->svc;
			out->fd = m->remote;
		}
	} else if (d->flags & VOS__OPF_AT) {
		ret = at_side(rt, r->fd, r->addr, svc, &out->fd, &out->addr);
		if (ret < 0)
			return ret;
	} else if ((m = map_get(rt, r->fd))) {
		*svc = m->svc;
		out->fd = m->remote;
	}
	if (d->flags & VOS__OPF_FD2) {
		/* copy_file_range, sendfile, splice: one domain's kernel
		 * makes the call if it holds both fds; else 1 (copy_begin) */
		unsigned svc2 = (m = map_get(rt, r->fd2)) ? m->svc : 0;

		if (svc2 != *svc)
			return 1;
		if (m)
			out->fd2 = m->remote;
		return 0;
	}
	if (d->flags & VOS__OPF_AT2) {
		unsigned svc2;

		ret = at_side(rt, r->fd2, r->addr2, &svc2, &out->fd2,
			      &out->addr2);
		if (ret < 0)
			return ret;
		if (svc2 == *svc)
			return 0;
		/* the paths were read above (at_side): readable */
		if (at_side_bad(rt, r->fd, r->addr) ||
		    at_side_bad(rt, r->fd2, r->addr2))
			return -EBADF;
		return -EXDEV; /* across services, like across mounts */
	}
	return 0;
}

/* Whether t holds a placeholder not yet given to the program. */
static bool holds_ph(const struct rtag *t)
{
	return t->kind == TAG_NEWFD ||
	       ((t->kind == TAG_DUP_SVC || t->kind == TAG_DUP_CLOSE) &&
		t->ph >= 0);
}

/* Hand batch[0..n) to service s; undo what it did not take.  Returns how
 * many it took. */
static unsigned flush(struct router *rt, unsigned s, struct vos_req *batch,
		      unsigned n)
{
	struct rsvc *v = &rt->svc[s];
	int took;

	if (n == 0)
		return 0;
	v->inflight += n;
	took = v->ops->submit(v->priv, batch, n);
	if (took < 0)
		took = 0;
	for (unsigned i = (unsigned)took; i < n; i++) {
		struct rtag *t = &rt->tags[batch[i].user_data];

		if (holds_ph(t))
			close(t->ph);
		tag_done(rt, t);
		v->inflight--;
	}
	return (unsigned)took;
}

/* A dup2 or dup3 (r, routed to service s, sent as *out): how it goes
 * (t->kind; see dup_install()).  0 to send it, 1 if answered here with
 * *res, or -errno. */
static int dup_begin(struct router *rt, const struct vos_req *r, unsigned s,
		     struct rtag *t, struct vos_req *out, int64_t *res)
{
	struct rlimit rl;

	t->newfd = (int32_t)r->arg;
	t->ph = -1;
	if (r->len && r->fd == t->newfd && s != 0) {
		*res = t->newfd; /* dup2 onto itself: an open fd */
		return 1;
	}
	/* a number a request in flight is putting a file at, or taking
	 * one from: the kernel's dup2 says -EBUSY in that race */
	if (held(rt, t->newfd))
		return -EBUSY;
	if (s == 0) {
		t->kind = TAG_PLAIN;
		if (map_get(rt, t->newfd)) {
			t->kind = TAG_DUP_LOCAL;
			hold(rt, t, 0, t->newfd);
		}
		return 0;
	}
	/* the kernel's bound on newfd (its EBADF), before the service
	 * makes anything */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && (rlim_t)t->newfd >= rl.rlim_cur)
		return -EBADF;
	t->ph = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (t->ph < 0)
		return -errno;
	if (map_grow(rt, t->newfd) < 0 || map_grow(rt, t->ph) < 0) {
		close(t->ph);
		return -ENOMEM;
	}
	hold(rt, t, 0, t->newfd);
	hold(rt, t, 1, t->ph);
	out->op = VOS_OP_FCNTL;
	out->op_flags = (r->op_flags & O_CLOEXEC) ? F_DUPFD_CLOEXEC : F_DUPFD;
	out->arg = 0;
	out->len = 0;
	t->kind = TAG_DUP_SVC;
	return 0;
}


/* r's fds live in two domains: its copy begun, the first step queued for
 * chain_run (0), or answered here (1, the result in *res), or -errno. */
static int copy_begin(struct router *rt, const struct vos_req *r,
		      uint64_t tag, int64_t *res)
{
	struct rtag *t = &rt->tags[tag];
	const int32_t fd[2] = { r->fd, r->fd2 };
	struct vos__copy_end end[2];
	int ret;

	for (int k = 0; k < 2; k++) {
		const struct rfd *m = map_get(rt, fd[k]);

		end[k].svc = m ? m->svc : 0;
		end[k].fd = m ? m->remote : fd[k];
	}
	ret = vos__copy_begin(r, end, &t->cp, res);
	if (ret != 0)
		return ret;
	t->kind = TAG_COPY;
	t->queued = true;
	rt->chain[rt->nchain++] = (uint32_t)tag;
	return 0;
}

static int submit_all(struct router *rt, const struct vos_req *reqs,
		      unsigned n)
{
	struct vos_req batch[32];
	unsigned nb = 0, cur = 0, done = 0;

	for (unsigned i = 0; i < n; i++) {
		const struct vos_req *r = &reqs[i];
		struct rtag *t = &rt->tags[r->user_data];
		struct vos_req out;
		unsigned s;
		int err = route(rt, r, &s, &out);

		t->held[0] = t->held[1] = -1;
		if (nb && (s != cur || err || nb == 32)) {
			unsigned took = flush(rt, cur, batch, nb);

			done += took;
			if (took < nb)
				return done ? (int)done : -EBUSY;
			nb = 0;
		}
		if (err == 2 || err == 3) {
			t->kind = TAG_FREE;
			rt->host->complete(rt->host, r->user_data,
					   err == 2 ? 0 : -EALREADY);
			done++;
			continue;
		}
		if (err == 1) {
			int64_t res;

			err = copy_begin(rt, r, r->user_data, &res);
			if (err >= 0) {
				if (err == 1) {
					t->kind = TAG_FREE;
					rt->host->complete(rt->host,
							   r->user_data, res);
				}
				done++;
				continue;
			}
		}
		if (err == 0 && r->op == VOS_OP_DUP3) {
			int64_t res = 0;

			err = dup_begin(rt, r, s, t, &out, &res);
			if (err == 1) {
				t->kind = TAG_FREE;
				rt->host->complete(rt->host, r->user_data, res);
				done++;
				continue;
			}
		} else if (err == 0 && s != 0 && r->op == VOS_OP_ACCEPT_MULTI) {
			/* a placeholder per connection, as they come */
			t->kind = TAG_MULTI_FD;
		} else if (err == 0 && s != 0 && vos__op_makes_fd(r)) {
			t->ph = open("/dev/null", O_RDONLY | O_CLOEXEC);
			if (t->ph >= 0 && r->op == VOS_OP_FCNTL && r->arg) {
				/* F_DUPFD's lowest number applies to ours */
				int d = fcntl(t->ph, F_DUPFD_CLOEXEC, (int)r->arg);

				close(t->ph);
				t->ph = d;
			}
			if (t->ph < 0) {
				err = -errno;
			} else if ((err = map_grow(rt, t->ph)) < 0) {
				close(t->ph); /* no room to record it */
			} else {
				hold(rt, t, 0, t->ph);
			}
			t->kind = TAG_NEWFD;
		} else if (err == 0 && s != 0 && r->op == VOS_OP_CLOSE) {
			t->ph = r->fd;
			hold(rt, t, 0, t->ph);
			t->kind = TAG_CLOSE;
		} else {
			t->kind = TAG_PLAIN;
		}
		if (err) {
			tag_done(rt, t);
			rt->host->complete(rt->host, r->user_data, err);
			done++;
			continue;
		}
		t->svc = (uint8_t)s;
		cur = s;
		batch[nb++] = out;
	}
	done += flush(rt, cur, batch, nb);
	return done || n == 0 ? (int)done : -EBUSY;
}

static int router_submit(void *priv, const struct vos_req *reqs, unsigned n)
{
	struct router *rt = priv;
	int ret = submit_all(rt, reqs, n);

	chain_run(rt); /* second steps of dups done at once (local ones) */
	return ret;
}

static int router_reap(void *priv)
{
	struct router *rt = priv;
	int total = 0;

	for (unsigned i = 0; i < rt->nsvc; i++) {
		int r;

		if (!rt->svc[i].inflight)
			continue; /* nothing can come from it */
		r = rt->svc[i].ops->reap(rt->svc[i].priv);
		if (r > 0)
			total += r;
	}
	return total + chain_run(rt); /* dups whose close step is due */
}

/* Wait on every busy service in time slices (for a transport without a
 * sleep fd). */
static int wait_sliced(struct router *rt, int64_t timeout_ns)
{
	int64_t slice = SLICE_MIN_NS, deadline;

	deadline = timeout_ns < 0 ? -1 : vos__now_ns() + timeout_ns;
	for (;;) {
		for (unsigned i = 0; i < rt->nsvc; i++) {
			int64_t t = slice;
			int r;

			if (!rt->svc[i].inflight)
				continue;
			if (deadline >= 0) {
				int64_t left = deadline - vos__now_ns();

				if (left <= 0)
					return -ETIME;
				t = left < t ? left : t;
			}
			r = rt->svc[i].ops->wait(rt->svc[i].priv, t);
			if (r > 0)
				return r + router_reap(rt);
			if (router_reap(rt) > 0)
				return 1;
			if (r < 0 && r != -ETIME && r != -EAGAIN)
				return r; /* -EINTR, or the service's error */
		}
		slice = slice * 2 > SLICE_MAX_NS ? SLICE_MAX_NS : slice * 2;
	}
}

static int router_wait(void *priv, int64_t timeout_ns)
{
	struct router *rt = priv;
	struct pollfd p[VOS__MAX_SERVICES];
	unsigned busy = 0, only = 0, armed[VOS__MAX_SERVICES], narmed = 0;
	struct timespec ts, *tsp = NULL;
	int r = 0, n;

	if (chain_run(rt) > 0) /* (none is due here, normally) */
		return 1;
	for (unsigned i = 0; i < rt->nsvc; i++)
		if (rt->svc[i].inflight) {
			busy++;
			only = i;
		}
	if (busy == 0)
		return -EAGAIN;
	if (busy == 1) {
		/* (its completions may leave a dup's close step due) */
		int p;

		r = rt->svc[only].ops->wait(rt->svc[only].priv, timeout_ns);
		p = chain_run(rt);
		return r > 0 ? r + p : p ? p : r;
	}
	/* several: one ppoll over the fds each would sleep on */
	for (unsigned i = 0; i < rt->nsvc && r >= 0; i++) {
		struct rsvc *s = &rt->svc[i];

		if (!s->inflight)
			continue;
		r = s->ops->sleep_fd ? s->ops->sleep_fd(s->priv) : -EOPNOTSUPP;
		if (r >= 0) {
			p[narmed] = (struct pollfd){ r, POLLIN, 0 };
			armed[narmed++] = i;
		}
	}
	if (r >= 0) {
		if (timeout_ns >= 0) {
			ts.tv_sec = timeout_ns / 1000000000;
			ts.tv_nsec = timeout_ns % 1000000000;
			tsp = &ts;
		}
		r = ppoll(p, narmed, tsp, NULL);
		if (r < 0)
			r = -errno;
	}
	for (unsigned k = 0; k < narmed; k++)
		rt->svc[armed[k]].ops->woke(rt->svc[armed[k]].priv);
	if (r == -EOPNOTSUPP)
		return wait_sliced(rt, timeout_ns);
	n = router_reap(rt);
	if (n > 0)
		return n;
	if (r == -EAGAIN || r > 0)
		return -EAGAIN; /* something was ready: look again */
	return r < 0 ? r : -ETIME;
}

/* The router's own woke(): every service readied to sleep is awake. */
static void router_woke(void *priv)
{
	struct router *rt = priv;

	for (unsigned i = 0; i < rt->nsvc; i++)
		if (rt->svc[i].armed) {
			rt->svc[i].armed = false;
			rt->svc[i].ops->woke(rt->svc[i].priv);
		}
}

/*
 * The router's own sleep_fd() (for vos_ctx_fd()): the one busy service's
 * fd, or, when several are busy, an epoll set of theirs (one fd that
 * becomes readable when any of them does).  -EAGAIN if one has something
 * now; -EOPNOTSUPP if a busy one cannot sleep on an fd.
 */
static int router_sleep_fd(void *priv)
{
	struct router *rt = priv;
	unsigned busy = 0;
	int r = -EAGAIN, fd = -1;

	/* a dup's close step is sent before the set is made: its service
	 * is then busy, and in the set */
	if (chain_run(rt) > 0)
		return -EAGAIN;
	for (unsigned i = 0; i < rt->nsvc; i++)
		busy += rt->svc[i].inflight != 0;
	if (busy > 1 && rt->ep < 0) {
		rt->ep = epoll_create1(EPOLL_CLOEXEC);
		if (rt->ep < 0)
			return -errno;
	}
	for (unsigned i = 0; i < rt->nsvc; i++) {
		struct rsvc *s = &rt->svc[i];
		struct epoll_event e = { .events = EPOLLIN };

		if (!s->inflight || !s->ops->sleep_fd || !s->ops->woke) {
			if (s->inflight) {
				r = -EOPNOTSUPP;
				break;
			}
			if (s->sleep_fd >= 0) /* idle: out of the set */
				epoll_ctl(rt->ep, EPOLL_CTL_DEL, s->sleep_fd,
					  NULL);
			s->sleep_fd = -1;
			continue;
		}
		r = s->ops->sleep_fd(s->priv);
		if (r < 0)
			break;
		s->armed = true;
		fd = r;
		if (busy == 1)
			continue;
		if (s->sleep_fd >= 0 && s->sleep_fd != r)
			epoll_ctl(rt->ep, EPOLL_CTL_DEL, s->sleep_fd, NULL);
		e.data.fd = r;
		/* MOD first: the number may name a new file (a service that
		 * attached again); the kernel dropped the old one's entry */
		if (epoll_ctl(rt->ep, EPOLL_CTL_MOD, r, &e) < 0 &&
		    epoll_ctl(rt->ep, EPOLL_CTL_ADD, r, &e) < 0) {
			r = -errno;
			s->sleep_fd = -1;
			break;
		}
		s->sleep_fd = r;
	}
	if (r < 0) {
		router_woke(rt);
		return r;
	}
	return busy == 1 ? fd : rt->ep;
}

static void router_close(void *priv)
{
	struct router *rt = priv;

	for (unsigned i = 0; i < rt->nsvc; i++)
		rt->svc[i].ops->close(rt->svc[i].priv);
	for (uint32_t fd = 0; fd < rt->fds_cap; fd++)
		if (rt->fds[fd].svc)
			close((int)fd);
	for (uint32_t t = 0; t < rt->depth; t++) {
		if (holds_ph(&rt->tags[t]))
			close(rt->tags[t].ph);
		vos__copy_free(rt->tags[t].cp);
	}
	if (rt->ep >= 0)
		close(rt->ep);
	free(rt->fds);
	free(rt->tags);
	free(rt->chain);
	free(rt);
}

static int router_after_fork(void *priv)
{
	struct router *rt = priv;

	for (unsigned i = 0; i < rt->nsvc; i++) {
		struct rsvc *s = &rt->svc[i];
		int r = s->ops->after_fork ? s->ops->after_fork(s->priv)
					   : -EOPNOTSUPP;

		if (r < 0)
			return r;
		s->inflight = 0;
		s->armed = false;
		s->sleep_fd = -1;
	}
	if (rt->ep >= 0) /* the parent's set */
		close(rt->ep);
	rt->ep = -1;
	for (uint32_t t = 0; t < rt->depth; t++) {
		if (holds_ph(&rt->tags[t]))
			close(rt->tags[t].ph);
		vos__copy_free(rt->tags[t].cp); /* (the parent's) */
		rt->tags[t].cp = NULL;
		tag_done(rt, &rt->tags[t]);
	}
	rt->nchain = 0;
	return 0;
}

static void router_fd_forget(void *priv, int fd)
{
	struct router *rt = priv;

	if (map_get(rt, fd))
		rt->fds[fd].svc = 0; /* the service's fd stays open there */
	if (rt->svc[0].ops->fd_forget)
		rt->svc[0].ops->fd_forget(rt->svc[0].priv, fd);
}

static int router_expire(void *priv, uint64_t tag)
{
	struct router *rt = priv;
	struct rsvc *s;

	if (tag >= rt->depth || rt->tags[tag].kind == TAG_FREE)
		return -ENOENT;
	s = &rt->svc[rt->tags[tag].svc];
	return s->ops->expire ? s->ops->expire(s->priv, tag) : -EOPNOTSUPP;
}

/* A buffer for requests on fd: from the transport fd is routed to. */
static int router_buf_alloc(void *priv, int fd, size_t len, void **buf)
{
	struct router *rt = priv;
	const struct rfd *f = map_get(rt, fd);
	const struct rsvc *s = &rt->svc[f ? f->svc : 0];

	return s->ops->buf_alloc ? s->ops->buf_alloc(s->priv, f ? f->remote
						     : fd, len, buf)
				 : -EOPNOTSUPP;
}

static int router_buf_free(void *priv, void *buf)
{
	struct router *rt = priv;

	for (unsigned i = 0; i < rt->nsvc; i++)
		if (rt->svc[i].ops->buf_free &&
		    rt->svc[i].ops->buf_free(rt->svc[i].priv, buf) == 0)
			return 0;
	return -ENOENT;
}

/* "routed: local=... netd=shm (path, epoch ...)", as things stand now
 * (a service attaches when first used, and again after it failed). */
static const char *router_describe(void *priv)
{
	struct router *rt = priv;
	size_t dl = (size_t)snprintf(rt->desc, sizeof(rt->desc), "routed:");

	for (unsigned i = 0; i < rt->nsvc && dl < sizeof(rt->desc); i++) {
		const struct rsvc *s = &rt->svc[i];

		dl += (size_t)snprintf(rt->desc + dl, sizeof(rt->desc) - dl,
				       " %s=%s", rt->routes.svc[i].name,
				       s->ops->describe ?
				       s->ops->describe(s->priv) : s->ops->name);
	}
	return rt->desc;
}

static int router_open(struct vos_transport_host *host, void **priv)
{
	const char *o = host->options, *path = NULL;
	char key[32], val[256];
	struct router *rt;
	int r;

	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return -ENOMEM;
	while ((r = vos__opt_next(&o, key, sizeof(key), val, sizeof(val))) > 0) {
		if (strcmp(key, "routes") != 0) {
			r = -EINVAL;
			break;
		}
		path = strdup(val);
	}
	if (r < 0) {
		vos__log(VOS__LOG_ERROR, "routed: bad options '%s' (routes=FILE)",
			 host->options);
		free(rt);
		return -EINVAL;
	}
	if (!path) {
		const char *p = vos__routes_path();

		path = p ? strdup(p) : NULL;
	}
	if (!path) {
		vos__log(VOS__LOG_ERROR, "routed: no routes file (set "
			 "VOS_ROUTES or create %s)", VOS__ROUTES_DEFAULT);
		free(rt);
		return -ENOENT;
	}
	r = vos__routes_load(path, &rt->routes);
	free((void *)path);
	if (r < 0) {
		free(rt);
		return r;
	}
	rt->host = host;
	rt->ep = -1;
	for (unsigned i = 0; i < VOS__MAX_SERVICES; i++)
		rt->svc[i].sleep_fd = -1;
	rt->depth = host->queue_depth;
	rt->tags = calloc(rt->depth, sizeof(*rt->tags));
	rt->chain = calloc(rt->depth, sizeof(*rt->chain));
	if (!rt->tags || !rt->chain) {
		free(rt->tags);
		free(rt->chain);
		free(rt);
		return -ENOMEM;
	}
	for (uint32_t t = 0; t < rt->depth; t++)
		rt->tags[t].held[0] = rt->tags[t].held[1] = -1;
	for (unsigned i = 0; i < rt->routes.nsvc; i++) {
		struct rsvc *s = &rt->svc[i];
		const char *tn = rt->routes.svc[i].transport;

		s->rt = rt;
		s->idx = i;
		s->ops = vos_transport_find(tn);
		if (!s->ops || s->ops == &vos__transport_routed) {
			vos__log(VOS__LOG_ERROR, "routed: service %s: no "
				 "transport named '%s'", rt->routes.svc[i].name,
				 tn);
			r = -ENOENT;
			goto fail;
		}
		/* (fits: options are < 256 bytes, s->options holds 300) */
		strcpy(s->options, rt->routes.svc[i].options);
		s->host.queue_depth = rt->depth;
		/* a service that is down must not stop the program: it is
		 * reached when first used */
		s->host.flags = i ? VOS_TRANSPORT_LAZY : 0;
		s->host.options = s->options;
		s->host.complete = sub_complete;
		s->host.post = sub_post;
		s->host.buf_take = sub_buf_take;
		s->host.buf_untake = sub_buf_untake;
		s->host.deadline_ns = rt->host->deadline_ns;
		r = s->ops->open(&s->host, &s->priv);
		if (r < 0) {
			vos__log(VOS__LOG_ERROR, "routed: service %s: %s",
				 rt->routes.svc[i].name, strerror(-r));
			goto fail;
		}
		rt->nsvc++;
	}
	*priv = rt;
	return 0;
fail:
	for (unsigned i = 0; i < rt->nsvc; i++)
		rt->svc[i].ops->close(rt->svc[i].priv);
	free(rt->tags);
	free(rt->chain);
	free(rt);
	return r;
}

const struct vos_transport_ops vos__transport_routed = {
	.abi = VOS_TRANSPORT_ABI,
	.name = "routed",
	.open = router_open,
	.submit = router_submit,
	.reap = router_reap,
	.wait = router_wait,
	.close = router_close,
	.after_fork = router_after_fork,
	.fd_forget = router_fd_forget,
	.describe = router_describe,
	.sleep_fd = router_sleep_fd,
	.woke = router_woke,
	.expire = router_expire,
	.buf_alloc = router_buf_alloc,
	.buf_free = router_buf_free,
};
