/*
 * validate.h - the checks a request passes before anything runs it: in
 * the core, before a transport sees it (what fails completes with the
 * documented -errno, virtuos.h), and in a service, on the decoded copy of
 * what a client sent (the same rules: a service runs nothing a well-made
 * client could not have asked for).
 */
#ifndef VOS_WIRE_VALIDATE_H
#define VOS_WIRE_VALIDATE_H

#include <virtuos/virtuos.h>

/* Everything, including the user pointers: 0 or -errno (-EINVAL,
 * -EFAULT, -EBADF). */
int vos__validate(const struct vos_req *r);

/* The op and its commands only (op in range, reserved fields zero, the
 * fcntl commands, ioctl requests and poll events that are supported):
 * what a service checks on a decoded request, whose pointers are its
 * own.  0 or -EINVAL. */
int vos__validate_cmd(const struct vos_req *r);

#endif /* VOS_WIRE_VALIDATE_H */
