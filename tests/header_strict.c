/*
 * header_strict.c - the public headers compile in a strict C11 unit with
 * no feature-test macros and -pedantic, and their inline helpers produce
 * the documented request layout.  (No config.h here, on purpose.)
 */
#include <virtuos/transport.h>
#include <virtuos/virtuos.h>

#include <stddef.h>
#include <stdio.h>

_Static_assert(sizeof(struct vos_req) == 64, "a request is 64 bytes");
_Static_assert(offsetof(struct vos_req, user_data) == 56,
	       "user_data is the last 8 bytes");
_Static_assert(sizeof(struct vos_cqe) == 24, "a completion is 24 bytes");

int main(void)
{
	struct vos_req r;
	char buf[8];

	vos_prep_pread(&r, 3, buf, sizeof(buf), 100);
	if (r.op != VOS_OP_PREAD || r.fd != 3 || r.len != 8 || r.off != 100 ||
	    r.addr != (uint64_t)(uintptr_t)buf || r.flags || r.user_data) {
		fprintf(stderr, "vos_prep_pread filled the request wrongly\n");
		return 1;
	}
	puts("headers: strict C11 ok");
	return 0;
}
