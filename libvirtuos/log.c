/*
 * log.c - the library's diagnostics on stderr.  $VOS_LOG sets how much:
 * "quiet" (nothing), "error", "info" (the default: errors and one-time
 * notices such as a backend fallback) or "debug".
 */
#include "config.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static int log_level(void)
{
	/* relaxed: every thread computes the same value from the environment */
	static _Atomic int cached = -2;
	int level = atomic_load_explicit(&cached, memory_order_relaxed);
	const char *v;

	if (level != -2)
		return level;
	v = getenv("VOS_LOG");
	if (!v || !*v || strcmp(v, "info") == 0)
		level = VOS__LOG_INFO;
	else if (strcmp(v, "quiet") == 0)
		level = -1;
	else if (strcmp(v, "error") == 0)
		level = VOS__LOG_ERROR;
	else if (strcmp(v, "debug") == 0)
		level = VOS__LOG_DEBUG;
	else
		level = VOS__LOG_INFO;
	atomic_store_explicit(&cached, level, memory_order_relaxed);
	return level;
}

void vos__log(int level, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (level > log_level())
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* one write per line so concurrent lines do not interleave */
	fprintf(stderr, "libvirtuos: %s\n", line);
}
