/*
 * control.c - control-channel framing (control.h).
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "control.h"

int vos__ctl_frame(void *buf, size_t cap, uint16_t type, int32_t status,
		   const void *payload, uint32_t len)
{
	struct vos_wire_msg h = { VOS_WIRE_MAGIC, VOS_WIRE_VERSION, type,
				  status, len };
	size_t total = sizeof(h) + (size_t)len;

	if (total > VOS_WIRE_MSG_MAX || total > cap)
		return -EMSGSIZE;
	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy((char *)buf + sizeof(h), payload, len);
	return (int)total;
}

int vos__ctl_parse(const void *buf, size_t n, struct vos_wire_msg *h)
{
	if (n < sizeof(*h) || n > VOS_WIRE_MSG_MAX)
		return -EBADMSG;
	memcpy(h, buf, sizeof(*h));
	if (h->magic != VOS_WIRE_MAGIC || h->len != n - sizeof(*h))
		return -EBADMSG;
	if (h->version != VOS_WIRE_VERSION)
		return -EPROTO;
	return 0;
}
