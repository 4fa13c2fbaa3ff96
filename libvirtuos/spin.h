/*
 * spin.h - how both ends of a ring wait without sleeping (the library's
 * vos_wait and a service worker): a pause per poll, and now and then a
 * yield of the CPU.
 *
 * A spinner must not hold a CPU that a runnable thread needs: on two
 * vCPUs, two clients spinning in vos_wait and a worker spinning for work
 * leave the worker that would answer them waiting for a time slice (NOP
 * throughput fell to a fifth with two client processes; bench part 6).
 * sched_yield() gives the CPU to a runnable thread of this CPU if there is
 * one, and returns otherwise; it costs about 750 ns here (KVM host), so
 * a spinner yields only once it has spun VOS__SPIN_YIELD_NS without
 * result, and then once per VOS__SPIN_YIELD_NS: a round trip shorter
 * than that never pays for it (yielding every 16 polls made a batch-1
 * fcntl through netd 9x slower), a long wait pays about a tenth of its
 * spin.
 */
#ifndef VOS_SPIN_H
#define VOS_SPIN_H

#include <sched.h>
#include <stdint.h>

#define VOS__SPIN_YIELD_NS 8000

static inline void vos__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

/* At each look at the clock while spinning (now, in ns): yield the CPU
 * if the spin has gone on VOS__SPIN_YIELD_NS since it began or since the
 * last yield.  *next starts at the spin's start + VOS__SPIN_YIELD_NS. */
static inline void vos__spin_yield_due(int64_t now, int64_t *next)
{
	if (now < *next)
		return;
	sched_yield();
	*next = now + VOS__SPIN_YIELD_NS;
}

#endif /* VOS_SPIN_H */
