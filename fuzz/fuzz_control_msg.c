/*
 * fuzz_control_msg.c - libFuzzer target: the control-channel decoder
 * (vos__ctl_recv) that both a daemon (attach requests from any local
 * user) and a client (replies from a daemon) run on what the other side
 * sent.  Input: a message of arbitrary bytes, sent over a SOCK_SEQPACKET
 * pair.  Checked: the return value is the message length only for a
 * well-formed message, and a well-formed one's header agrees with it.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static int sv[2] = { -1, -1 };
	char buf[VOS_WIRE_MSG_MAX];
	int fds[VOS__CTL_MAX_FDS];
	unsigned nfds;
	int r;

	if (sv[0] < 0 && socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
		abort();
	if (n > VOS_WIRE_MSG_MAX + 64)
		n = VOS_WIRE_MSG_MAX + 64;
	if (send(sv[1], d, n, 0) != (ssize_t)n)
		return 0; /* e.g. n == 0 */
	r = vos__ctl_recv(sv[0], buf, sizeof(buf), fds, &nfds, 0);
	if (r > 0) {
		struct vos_wire_msg h;

		if ((size_t)r != n || n < sizeof(h))
			abort();
		memcpy(&h, buf, sizeof(h));
		if (h.magic != VOS_WIRE_MAGIC || h.len != n - sizeof(h))
			abort();
	} else if (r != -EBADMSG && r != -EPROTO && r != 0) {
		abort();
	}
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	return 0;
}
