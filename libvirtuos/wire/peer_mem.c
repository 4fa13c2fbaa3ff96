/*
 * peer_mem.c - the out-of-line part of peer_mem.h.
 */
#include "config.h"

#include <errno.h>

#include "peer_mem.h"

int vos__peer_read_str(const struct vos__shared *s, uint64_t off,
		       uint64_t len, char *dst, size_t cap)
{
	size_t n = len < cap ? (size_t)len : cap;
	const char *nul;

	if (cap == 0 || len == 0 || !vos__peer_read(s, off, dst, n))
		return -EFAULT;
	/* the NUL is looked for in our copy, never in the peer's memory */
	nul = memchr(dst, '\0', n);
	if (!nul)
		return len > n ? -ENAMETOOLONG : -EFAULT;
	return (int)(nul - dst);
}
