/*
 * fuzz_control_msg.c - libFuzzer target: the control-channel decoders
 * that both a daemon (attach requests from any local user) and a client
 * (replies from a daemon) run on what the other side sent: the framing
 * check (vos__ctl_parse) and the shm channel's receive
 * (vos__shm_ctl_recv).  Input: a message of arbitrary bytes, sent over a
 * SOCK_SEQPACKET pair.  Checked: a message is accepted only when well
 * formed, and an accepted one's header agrees with its length.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control.h"
#include "shm_control.h"

static void check_parsed(int r, const void *buf, size_t n)
{
	struct vos_wire_msg h;

	if (r == 0 || r > 0) {
		if (n < sizeof(h))
			abort();
		memcpy(&h, buf, sizeof(h));
		if (h.magic != VOS_WIRE_MAGIC || h.len != n - sizeof(h) ||
		    h.version != VOS_WIRE_VERSION)
			abort();
	} else if (r != -EBADMSG && r != -EPROTO) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static int sv[2] = { -1, -1 };
	char buf[VOS_WIRE_MSG_MAX];
	struct vos_wire_msg h;
	int fds[VOS__SHM_MAX_FDS];
	unsigned nfds;
	int r;

	/* the framing check on the bytes as they are */
	r = vos__ctl_parse(d, n, &h);
	check_parsed(r, d, n);

	/* and as the shm channel receives them */
	if (sv[0] < 0 && socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
		abort();
	if (n > VOS_WIRE_MSG_MAX + 64)
		n = VOS_WIRE_MSG_MAX + 64;
	if (send(sv[1], d, n, 0) != (ssize_t)n)
		return 0; /* e.g. n == 0 */
	r = vos__shm_ctl_recv(sv[0], buf, sizeof(buf), fds, &nfds, 0);
	if (r > 0) {
		if ((size_t)r != n)
			abort();
		check_parsed(r, buf, n);
	} else if (r != -EBADMSG && r != -EPROTO && r != 0) {
		abort();
	}
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	return 0;
}
