/*
 * time.c - the monotonic clock the core measures spins and timeouts with.
 */
#include "config.h"

#include <time.h>

#include "log.h"

int64_t vos__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
