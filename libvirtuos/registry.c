/*
 * registry.c - transports by name.  The core reaches every transport
 * through here; the built-in ones are listed in builtin_transports.c.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "builtin_transports.h"
#include "internal.h"

#define VOS__MAX_TRANSPORTS 16

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static const struct vos_transport_ops *registry[VOS__MAX_TRANSPORTS];
static unsigned registry_len;
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

int vos_transport_register(const struct vos_transport_ops *ops)
{
	int ret = 0;

	if (!ops || ops->abi != VOS_TRANSPORT_ABI || !ops->name ||
	    !*ops->name || !ops->open || !ops->submit || !ops->reap ||
	    !ops->wait || !ops->close)
		return -EINVAL;
	pthread_mutex_lock(&reg_lock);
	for (unsigned i = 0; i < registry_len; i++)
		if (strcmp(registry[i]->name, ops->name) == 0)
			ret = -EEXIST;
	if (ret == 0 && registry_len == VOS__MAX_TRANSPORTS)
		ret = -ENOSPC;
	if (ret == 0)
		registry[registry_len++] = ops;
	pthread_mutex_unlock(&reg_lock);
	return ret;
}

const struct vos_transport_ops *vos_transport_find(const char *name)
{
	const struct vos_transport_ops *found = NULL;

	if (!name)
		return NULL;
	vos__register_builtin();
	pthread_mutex_lock(&reg_lock);
	for (unsigned i = 0; i < registry_len && !found; i++)
		if (strcmp(registry[i]->name, name) == 0)
			found = registry[i];
	pthread_mutex_unlock(&reg_lock);
	return found;
}

static void register_builtin_once(void)
{
	for (const struct vos_transport_ops *const *p = vos__builtin_transports;
	     *p; p++)
		vos_transport_register(*p);
}

void vos__register_builtin(void)
{
	pthread_once(&builtin_once, register_builtin_once);
}
