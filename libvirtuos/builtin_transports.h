/*
 * builtin_transports.h - the transports compiled into libvirtuos.
 */
#ifndef VOS_BUILTIN_TRANSPORTS_H
#define VOS_BUILTIN_TRANSPORTS_H

#include <virtuos/transport.h>

/* NULL-terminated; registered on first use (registry.c). */
extern const struct vos_transport_ops *const vos__builtin_transports[];

extern const struct vos_transport_ops vos__transport_local;  /* io_uring-local */
extern const struct vos_transport_ops vos__transport_shm;    /* transports/shm */
extern const struct vos_transport_ops vos__transport_routed; /* router.c */

#endif
