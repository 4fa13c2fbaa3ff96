/*
 * link.c - linked requests (VOS_REQ_LINK): a chain runs one request after
 * the other, and a failure cancels the rest of it.
 *
 * The core holds the chain, not the transport: the first request goes
 * to the transport when it is submitted; each of the others waits here
 * (its tag in state HELD, its body in impl->held) until the one before
 * it completes.  Then, if that one succeeded, it is put on the ready
 * list and handed to the transport as soon as the transport call that
 * delivered the completion has returned (a transport is never entered
 * from its own complete() callback); if that one failed, it and the rest
 * of the chain complete with -ECANCELED at once.  So chains work alike on
 * every transport (the local kernel, a daemon's ring, the router), at
 * the price of one round trip per request of a chain.
 *
 * "Failed" is io_uring's rule for IOSQE_IO_LINK: an error, or fewer bytes
 * than asked for by a read or write (read, write, pread, pwrite, readv,
 * writev; send, recv, sendmsg, recvmsg with MSG_WAITALL).
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include "internal.h"
#include "user_mem.h"

/* Copy n bytes of the caller's memory at src, which may be anything (the
 * request is validated later, by the transport): false instead of a
 * crash if it is not readable. */
static bool copy_in(void *dst, const void *src, size_t n)
{
	return vos__user_read(dst, src, n) == 0;
}

/* The bytes an iovec array asks for; 0 (no expectation: only an error
 * breaks the chain) if it cannot be read or is longer than IOV_MAX. */
static uint64_t iov_total(const struct iovec *iov, uint64_t cnt)
{
	struct iovec part[64];
	uint64_t sum = 0;

	if (cnt > VOS_IOV_MAX)
		return 0;
	for (uint64_t i = 0; i < cnt; i += 64) {
		size_t k = cnt - i < 64 ? (size_t)(cnt - i) : 64;

		if (!copy_in(part, iov + i, k * sizeof(*part)))
			return 0;
		for (size_t j = 0; j < k; j++)
			sum += part[j].iov_len;
	}
	return sum;
}

uint64_t vos__link_expect(const struct vos_req *r)
{
	bool all = r->op_flags & MSG_WAITALL;
	struct msghdr m;

	switch (r->op) {
	case VOS_OP_READ:
	case VOS_OP_WRITE:
	case VOS_OP_PREAD:
	case VOS_OP_PWRITE:
		return r->len;
	case VOS_OP_READV:
	case VOS_OP_WRITEV:
		/* the caller's array, as the transport will read it (it may
		 * be bad: the transport's call then fails, not this) */
		return iov_total((const void *)(uintptr_t)r->addr, r->len);
	case VOS_OP_SEND:
	case VOS_OP_RECV:
		return all ? r->len : 0;
	case VOS_OP_SENDMSG:
	case VOS_OP_RECVMSG:
		if (!all || !copy_in(&m, (const void *)(uintptr_t)r->addr,
				     sizeof(m)))
			return 0;
		return iov_total(m.msg_iov, m.msg_iovlen);
	default:
		return 0;
	}
}

static void ready_remove(struct vos__impl *impl, uint32_t t)
{
	for (uint32_t i = 0; i < impl->nready; i++)
		if (impl->ready[i] == t) {
			impl->ready[i] = impl->ready[--impl->nready];
			break;
		}
	impl->slots[t].ready = false;
}

void vos__link_fail(struct vos__impl *impl, uint32_t t, int64_t err)
{
	while (t != VOS__NO_TAG) {
		struct vos__slot *s = &impl->slots[t];
		uint32_t next = s->link_next;

		if (s->ready)
			ready_remove(impl, t);
		vos__pend_push(impl, s->user_data, err);
		vos__tag_release(impl, t);
		t = next;
		err = -ECANCELED;
	}
}

void vos__link_done(struct vos__impl *impl, uint32_t next, uint64_t expect,
		    int64_t res)
{
	struct vos__slot *s = &impl->slots[next];

	s->link_prev = VOS__NO_TAG;
	if (res < 0 || (uint64_t)res < expect) {
		vos__link_fail(impl, next, -ECANCELED);
		return;
	}
	s->ready = true;
	impl->ready[impl->nready++] = next;
}

void vos__link_cancel_held(struct vos__impl *impl, uint32_t t)
{
	uint32_t prev = impl->slots[t].link_prev;

	if (prev != VOS__NO_TAG)
		impl->slots[prev].link_next = VOS__NO_TAG;
	vos__link_fail(impl, t, -ECANCELED);
}

void vos__link_launch(struct vos__impl *impl)
{
	uint32_t kept = 0;

	/* a request that completes inside submit() may make the next one
	 * ready: it is appended, and taken by this same loop */
	for (uint32_t i = 0; i < impl->nready; i++) {
		uint32_t t = impl->ready[i];
		struct vos__slot *s = &impl->slots[t];
		struct vos_req r = impl->held[t];
		int ret;

		s->ready = false;
		s->state = VOS__SLOT_ASYNC;
		vos__arm_deadline(impl, s, r.deadline_ms);
		r.user_data = t;
		ret = impl->ops->submit(impl->priv, &r, 1);
		if (ret == 1)
			continue;
		if (ret < 0 && ret != -EBUSY && ret != -EAGAIN) {
			/* as the transport would have failed it */
			vos__complete(&impl->host, t, ret);
			continue;
		}
		/* no room in the transport now: later (the core's wait
		 * looks again within 1 ms) */
		if (s->deadline) {
			s->deadline = 0;
			impl->ndeadlines--;
		}
		s->state = VOS__SLOT_HELD;
		s->ready = true;
		impl->ready[kept++] = t;
	}
	impl->nready = kept;
}
