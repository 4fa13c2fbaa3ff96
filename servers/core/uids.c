/*
 * uids.c - what each uid holds across all its clients (clients, pending
 * connections, requests running, fds, slow calls), for the per-uid
 * bounds: one user with many clients gets what one user may have, not
 * what many users would.
 */
#include "config.h"

#include <stdlib.h>

#include "server.h"

#define BUCKETS 256

static struct srv_uid *table[BUCKETS];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;

struct srv_uid *srv_uid_get(uid_t uid)
{
	struct srv_uid **b = &table[uid % BUCKETS], *u;

	pthread_mutex_lock(&table_lock);
	for (u = *b; u && u->uid != uid; u = u->next)
		;
	if (!u && (u = calloc(1, sizeof(*u)))) {
		u->uid = uid;
		u->next = *b;
		*b = u;
	}
	pthread_mutex_unlock(&table_lock);
	return u;
}

bool srv_take(atomic_uint *ctr, unsigned max)
{
	unsigned v = atomic_load_explicit(ctr, memory_order_relaxed);

	do {
		if (v >= max)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(
		ctr, &v, v + 1, memory_order_relaxed, memory_order_relaxed));
	return true;
}

bool srv_take_bytes(atomic_ullong *ctr, uint64_t n, uint64_t max)
{
	unsigned long long v = atomic_load_explicit(ctr, memory_order_relaxed);

	do {
		if (n > max || v > max - n)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(
		ctr, &v, v + n, memory_order_relaxed, memory_order_relaxed));
	return true;
}
