/*
 * buf_alloc.c - vos_buf_alloc() and vos_buf_free(): buffers a transport
 * shares with its service (the ring client's areas: wire/areas.h), else
 * ordinary page-aligned memory, kept in a list so that a pointer that is
 * not one is refused rather than freed.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "internal.h"

struct vos__plainbuf {
	void *p;
	struct vos__plainbuf *next;
};

int vos_buf_alloc(struct vos_ctx *ctx, int fd, size_t len, void **buf)
{
	struct vos__impl *impl;
	struct vos__plainbuf *b;
	int ret = vos__impl_get(ctx, &impl);

	if (ret < 0)
		return ret;
	if (!buf || len == 0)
		return -EINVAL;
	*buf = NULL;
	if (impl->ops->buf_alloc && fd >= 0 &&
	    impl->ops->buf_alloc(impl->priv, fd, len, buf) == 0)
		return 0;
	b = malloc(sizeof(*b));
	if (!b)
		return -ENOMEM;
	if (posix_memalign(&b->p, 4096, len) != 0) {
		free(b);
		return -ENOMEM;
	}
	b->next = impl->plain;
	impl->plain = b;
	*buf = b->p;
	return 0;
}

int vos_buf_free(struct vos_ctx *ctx, void *buf)
{
	struct vos__impl *impl;
	int ret = vos__impl_get(ctx, &impl);

	if (ret < 0)
		return ret;
	if (!buf)
		return -EINVAL;
	if (impl->ops->buf_free && impl->ops->buf_free(impl->priv, buf) == 0)
		return 0;
	for (struct vos__plainbuf **pp = &impl->plain; *pp; pp = &(*pp)->next) {
		struct vos__plainbuf *b = *pp;

		if (b->p == buf) {
			*pp = b->next;
			free(b->p);
			free(b);
			return 0;
		}
	}
	return -EINVAL;
}

void vos__plainbufs_free(struct vos__impl *impl)
{
	while (impl->plain) {
		struct vos__plainbuf *b = impl->plain;

		impl->plain = b->next;
		free(b->p);
		free(b);
	}
}
