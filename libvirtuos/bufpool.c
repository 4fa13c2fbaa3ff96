/*
 * bufpool.c - buffer pools for multishot recvs: the public calls, handed
 * to the transport (io_uring-local keeps the pools: bufring.c there).
 */
#include "config.h"

#include <errno.h>

#include "internal.h"

int vos_buf_pool_create(struct vos_ctx *ctx, uint16_t group, uint32_t count,
			uint32_t size, void **base)
{
	struct vos__impl *impl;
	int ret = vos__impl_get(ctx, &impl);

	if (ret < 0)
		return ret;
	if (!base || count == 0 || count > VOS_BUF_POOL_MAX || size == 0 ||
	    size > (16u << 20))
		return -EINVAL;
	if (!impl->ops->buf_pool_create)
		return -EOPNOTSUPP;
	return impl->ops->buf_pool_create(impl->priv, group, count, size, base);
}

int vos_buf_return(struct vos_ctx *ctx, uint16_t group, uint32_t bid)
{
	struct vos__impl *impl;
	int ret = vos__impl_get(ctx, &impl);

	if (ret < 0)
		return ret;
	if (!impl->ops->buf_return)
		return -ENOENT; /* no pools at all */
	return impl->ops->buf_return(impl->priv, group, bid);
}

int vos_buf_pool_destroy(struct vos_ctx *ctx, uint16_t group)
{
	struct vos__impl *impl;
	int ret = vos__impl_get(ctx, &impl);

	if (ret < 0)
		return ret;
	if (!impl->ops->buf_pool_destroy)
		return -ENOENT;
	return impl->ops->buf_pool_destroy(impl->priv, group);
}
