/*
 * log.h - the library's diagnostics (log.c) and its clock (time.c), for
 * every part of it: the core, the wire component, the transports.
 */
#ifndef VOS_LOG_H
#define VOS_LOG_H

#include <stdint.h>

enum { VOS__LOG_ERROR = 0, VOS__LOG_INFO = 1, VOS__LOG_DEBUG = 2 };

/* One line on stderr, "libvirtuos: ...", if $VOS_LOG lets level through. */
void vos__log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t vos__now_ns(void);

#endif /* VOS_LOG_H */
