/*
 * builtin_transports.c - the list of transports compiled in.  This is the
 * one place that names them; the core finds them through the registry.
 */
#include "config.h"

#include "builtin_transports.h"


const struct vos_transport_ops *const vos__builtin_transports[] = {
	&vos__transport_local,
	&vos__transport_shm,
	&vos__transport_routed,
	NULL,
};
