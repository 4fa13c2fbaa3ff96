/*
 * channels.c - the server channels a daemon can listen on: the one list
 * of them (as libvirtuos/builtin_transports.c is for the client side).
 */
#include "config.h"

#include <string.h>

#include "server.h"

extern const struct vos__chan_server vos__shm_server; /* transports/shm */

static const struct vos__chan_server *const channels[] = {
	&vos__shm_server,
	NULL,
};

const struct vos__chan_server *srv_channel(const char *name)
{
	if (!name)
		return channels[0];
	for (unsigned i = 0; channels[i]; i++)
		if (strcmp(channels[i]->name, name) == 0)
			return channels[i];
	return NULL;
}
