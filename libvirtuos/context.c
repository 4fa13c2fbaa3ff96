/*
 * context.c - creating, describing, forking and destroying contexts.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "routes.h"

/* Default spin before sleeping: a blocking wake-up costs tens of
 * microseconds on our machines (doc/architecture.md), so polling for
 * 20 us is cheaper than sleeping whenever the answer is that close. */
#define VOS__DEFAULT_SPIN_NS 20000

/* struct vos_config as libvirtuos 0.1 had it */
#define CONFIG_SIZE_0_1 offsetof(struct vos_config, deadline_ns)

/* Destroyed handles, kept so that stale pointers fail with -EBADF. */
static pthread_mutex_t dead_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vos_ctx *dead_list;

void vos_config_init(struct vos_config *cfg)
{
	if (!cfg)
		return;
	memset(cfg, 0, sizeof(*cfg));
	cfg->size = sizeof(*cfg);
	cfg->queue_depth = VOS_DEFAULT_QUEUE_DEPTH;
	cfg->spin_ns = -1;
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

static void impl_free(struct vos__impl *impl)
{
	free(impl->slots);
	free(impl->free_tags);
	free(impl->pend);
	free(impl->held);
	free(impl->ready);
	free(impl->uidx);
	free(impl->mfd);
	vos__bufs_free(impl);
	vos__plainbufs_free(impl);
	free(impl->options);
	free(impl);
}

void vos__queue_reset(struct vos__impl *impl)
{
	for (uint32_t i = 0; i < impl->depth; i++) {
		impl->slots[i].state = VOS__SLOT_FREE;
		impl->slots[i].deadline = 0;
		impl->slots[i].indexed = false; /* (the index goes below) */
		impl->slots[i].pool_user = false; /* (pools: after_fork) */
		impl->slots[i].multi = false;
		/* hand out low tags first: they index transports' arrays */
		impl->free_tags[i] = impl->depth - 1 - i;
	}
	impl->nfree = impl->depth;
	impl->in_flight = 0;
	impl->outstanding = 0;
	impl->pend_head = impl->pend_tail = 0;
	impl->sync_done = false;
	impl->ndeadlines = 0;
	impl->nready = 0;
	vos__uidx_reset(impl); /* made again at the next cancel */
	free(impl->mfd);       /* (no multishot request is left) */
	impl->mfd = NULL;
	impl->mfd_cap = 0;
}

int vos_ctx_create(const struct vos_config *ucfg, struct vos_ctx **ctxp)
{
	struct vos_config cfg;
	const struct vos_transport_ops *ops;
	struct vos__impl *impl;
	struct vos_ctx *ctx;
	const char *name, *opts;
	int ret;

	if (!ctxp)
		return -EINVAL;
	*ctxp = NULL;
	vos_config_init(&cfg);
	if (ucfg) {
		/* this version's struct, or 0.1's (without deadline_ns) */
		if (ucfg->size != sizeof(cfg) && ucfg->size != CONFIG_SIZE_0_1)
			return -EINVAL;
		memcpy(&cfg, ucfg, ucfg->size);
		cfg.size = sizeof(cfg);
	}
	if (cfg.queue_depth == 0 || cfg.queue_depth > VOS_MAX_QUEUE_DEPTH ||
	    cfg.flags != 0 || cfg.reserved != 0 || cfg.deadline_ns < 0)
		return -EINVAL;

	name = cfg.transport ? cfg.transport : getenv("VOS_TRANSPORT");
	opts = cfg.options ? cfg.options : getenv("VOS_TRANSPORT_OPTIONS");
	if (!name || !*name) {
		/* a routing configuration makes routing the default; the
		 * local service's options then come from it */
		name = vos__routes_path() ? "routed" : "io_uring-local";
		if (!cfg.options && strcmp(name, "routed") == 0)
			opts = NULL;
	}
	if (!opts)
		opts = "";

	vos__register_builtin();
	ops = vos_transport_find(name);
	if (!ops) {
		vos__log(VOS__LOG_ERROR, "no transport named '%s'", name);
		return -ENOENT;
	}

	impl = calloc(1, sizeof(*impl));
	ctx = calloc(1, sizeof(*ctx));
	if (!impl || !ctx)
		goto nomem;
	impl->depth = cfg.queue_depth;
	impl->slots = calloc(impl->depth, sizeof(*impl->slots));
	impl->free_tags = calloc(impl->depth, sizeof(*impl->free_tags));
	/* grows when needed (vos__pend_grow) */
	impl->pend_mask = pow2_at_least(impl->depth < 1024 ? impl->depth
							    : 1024) - 1;
	impl->pend = calloc(impl->pend_mask + 1u, sizeof(*impl->pend));
	impl->options = strdup(opts);
	impl->cfd_ep = impl->cfd_ev = impl->cfd_tm = impl->cfd_tfd = -1;
	if (!impl->slots || !impl->free_tags || !impl->pend || !impl->options)
		goto nomem;
	vos__queue_reset(impl);
	impl->spin_ns = cfg.spin_ns < 0 ? VOS__DEFAULT_SPIN_NS : cfg.spin_ns;
	impl->deadline_ns = cfg.deadline_ns;
	impl->ops = ops;
	impl->host.queue_depth = impl->depth;
	impl->host.flags = 0;
	impl->host.options = impl->options;
	impl->host.complete = vos__complete;
	impl->host.post = vos__post;
	impl->host.buf_take = vos__buf_take;
	impl->host.buf_untake = vos__buf_untake;
	impl->host.deadline_ns = impl->deadline_ns;

	ret = ops->open(&impl->host, &impl->priv);
	if (ret < 0) {
		impl_free(impl);
		free(ctx);
		return ret;
	}
	impl->describe = ops->describe ? ops->describe(impl->priv) : ops->name;
	ctx->impl = impl;
	*ctxp = ctx;
	return 0;
nomem:
	if (impl)
		impl_free(impl);
	free(ctx);
	return -ENOMEM;
}

int vos_ctx_destroy(struct vos_ctx *ctx)
{
	struct vos__impl *impl;
	int ret = vos__impl_get(ctx, &impl);

	if (ret < 0)
		return ret;
	ctx->impl = NULL;
	vos__cfd_awake(impl);
	vos__cfd_close(impl);
	impl->ops->close(impl->priv);
	if (impl->bad_completions)
		vos__log(VOS__LOG_INFO,
			 "%s: dropped %llu completions with invalid tags",
			 impl->describe,
			 (unsigned long long)impl->bad_completions);
	if (impl->lost_completions)
		vos__log(VOS__LOG_ERROR,
			 "%s: lost %llu completions (no memory to queue them)",
			 impl->describe,
			 (unsigned long long)impl->lost_completions);
	impl_free(impl);

	pthread_mutex_lock(&dead_lock);
	ctx->next_dead = dead_list;
	dead_list = ctx;
	pthread_mutex_unlock(&dead_lock);
	return 0;
}

const char *vos_ctx_describe(const struct vos_ctx *ctx)
{
	if (!ctx || !ctx->impl)
		return NULL;
	/* as things stand now: a service attaches when first used */
	return ctx->impl->ops->describe
		       ? ctx->impl->ops->describe(ctx->impl->priv)
		       : ctx->impl->ops->name;
}

int vos_after_fork(struct vos_ctx *ctx)
{
	struct vos__impl *impl;
	int ret = vos__impl_get(ctx, &impl);

	if (ret < 0)
		return ret;
	if (!impl->ops->after_fork)
		return -EOPNOTSUPP;
	ret = impl->ops->after_fork(impl->priv);
	if (ret < 0)
		return ret;
	/* the parent's fd set is the parent's: the child asks for its own */
	impl->cfd_armed = false;
	vos__cfd_close(impl);
	vos__queue_reset(impl);
	vos__bufs_after_fork(impl);
	return 0;
}

int vos_fd_forget(struct vos_ctx *ctx, int fd)
{
	struct vos__impl *impl;
	int ret = vos__impl_get(ctx, &impl);

	if (ret < 0)
		return ret;
	if (impl->mfd) /* closed behind our back: its multishot requests end */
		vos__close_ends_multishot(impl, fd);
	if (impl->ops->fd_forget)
		impl->ops->fd_forget(impl->priv, fd);
	return 0;
}
