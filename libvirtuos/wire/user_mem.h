/*
 * user_mem.h - the one place that touches the calling program's memory
 * where a system call would have checked it: buffers, iovec arrays,
 * paths, addresses and lengths a request points to.
 *
 * The kernel copies a system call's arguments with copy_from_user and
 * copy_to_user, and a bad pointer (NULL with a length, unmapped, or
 * read-only where it must write) costs the call -EFAULT, never the
 * process.  Requests that go to a service are copied by this library
 * instead, so these helpers give the same answer: each copy is guarded,
 * and a fault inside it makes the helper return -EFAULT.
 *
 * How (doc/semantics.md, "Bad buffers"): on x86-64 the copies are small
 * assembly routines; the first use installs a SIGSEGV and SIGBUS handler
 * for the process (chained to the one that was there) that, for a fault
 * inside them, resumes at a fixup returning -EFAULT, through sigreturn,
 * as the kernel's exception table does.  A valid buffer pays a call and a
 * load (bench/vos-bench-usercopy).  Elsewhere the copies are plain.
 *
 * If the program installs its own SIGSEGV handler after ours, its handler
 * sees these faults and the program crashes as it would without us.
 */
#ifndef VOS_WIRE_USER_MEM_H
#define VOS_WIRE_USER_MEM_H

#include <stddef.h>

/* n bytes of the caller's memory at usrc into dst: 0, or -EFAULT (dst
 * then holds an unspecified prefix).  n == 0 never faults. */
int vos__user_read(void *dst, const void *usrc, size_t n);

/* n bytes from src into the caller's memory at udst: 0, or -EFAULT. */
int vos__user_write(void *udst, const void *src, size_t n);

/* The length of the caller's string us, at most max (max when there is
 * no NUL in its first max bytes) in *len: 0, or -EFAULT. */
int vos__user_strnlen(const char *us, size_t max, size_t *len);

/* Whether the caller's [udst, udst + n) can be written, checked before a
 * request that will fill it is sent (so a bad buffer fails the call
 * before the service consumes data, as the kernel's does): its first and
 * its last byte are read and written back with their own values (n is a
 * page or less: a statx buffer; encode.c probes a read's first byte only:
 * the kernel writes only what it read, so a buffer longer than the data
 * may be bad past it).  0, or -EFAULT.  Like the kernel's copy, a program
 * that writes the buffer from another thread while a read fills it gets
 * what it gets. */
int vos__user_probe_write(void *udst, size_t n);

#endif /* VOS_WIRE_USER_MEM_H */
