/*
 * user_mem.c - guarded copies to and from the calling program's memory
 * (user_mem.h).
 *
 * A guarded copy:   setjmp(jb); guard = { &jb, range }; copy;
 *                   guard.jb = NULL
 * The fault handler: if guard.jb and the fault is in the range (or the
 *                   kernel gave no address: a non-canonical pointer),
 *                   longjmp(*guard.jb): the copy returns -EFAULT.
 *                   Otherwise the previous handler's business.
 *
 * The guard is thread-local and the handler runs on the faulting thread,
 * so only compiler ordering matters between the copy and its guard: the
 * signal fences below keep the copy between the stores that arm and
 * disarm it (gcc knows what memcpy touches and would move them).
 *
 * The handler is installed with SA_NODEFER and an empty mask; before it
 * leaves by siglongjmp it sets the mask the thread had at the fault (from
 * the ucontext, as sigreturn would), so the copy's setjmp need not save
 * one (no system call on the fast path).
 *
 * Under the sanitizers the copies are plain loops the sanitizers do not
 * look into: their interceptors of memcpy and strnlen would otherwise
 * report the bad pointer this file exists to survive.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "user_mem.h"

#if defined(__SANITIZE_ADDRESS__)
#define ASAN 1
#elif defined(__SANITIZE_THREAD__)
#define TSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASAN 1
#elif __has_feature(thread_sanitizer)
#define TSAN 1
#endif
#endif
#if defined(ASAN) || defined(TSAN)
#define SANITIZED 1
#endif

/* After a copy that did not fault, the sanitizer is told what it read and
 * wrote, so an overrun of a buffer or a race is still reported. */
#ifdef ASAN
/* (declared as gcc declares its builtins of the same names) */
void __asan_loadN(void *addr, long size);
void __asan_storeN(void *addr, long size);
#define TELL(d, s, n)                                                      \
	(__asan_loadN((void *)(uintptr_t)(s), (long)(n)),                  \
	 __asan_storeN((void *)(uintptr_t)(d), (long)(n)))
#elif defined(TSAN)
void __tsan_read_range(void *addr, long size);
void __tsan_write_range(void *addr, long size);
#define TELL(d, s, n)                                                      \
	(__tsan_read_range((void *)(uintptr_t)(s), (long)(n)),              \
	 __tsan_write_range((void *)(uintptr_t)(d), (long)(n)))
#else
#define TELL(d, s, n) ((void)0)
#endif

/* what the sanitizers must not instrument: these functions dereference
 * pointers that may be bad on purpose */
#define UNCHECKED                                                          \
	__attribute__((no_sanitize("address", "thread", "undefined")))

/* The jump back.  The compiler's own setjmp saves the frame and stack
 * pointers and a label (about 1 ns); the function that calls it restores
 * the other registers itself.  The sanitizers must see the jump (they
 * keep shadow stacks): under them, libc's, which they intercept. */
#ifdef SANITIZED
typedef sigjmp_buf jump_t;
#define SET_JUMP(b) sigsetjmp((b), 0)
#define JUMP(b) siglongjmp((b), 1)
#else
typedef void *jump_t[5];
#define SET_JUMP(b) __builtin_setjmp(b)
#define JUMP(b) __builtin_longjmp((b), 1)
#endif

struct guard {
	jump_t *jb;       /* armed while not NULL */
	uintptr_t lo, hi; /* the caller's bytes the copy touches */
};

static __thread struct guard guard __attribute__((tls_model("initial-exec")));

static pthread_once_t installed = PTHREAD_ONCE_INIT;
static bool ready; /* installed (acquire: then page and old_* are set) */
static struct sigaction old_segv, old_bus;
static uintptr_t page; /* the page size, set with the handler */

/* A fault the guard answers for: the kernel's (not sent by kill or
 * sigqueue) and in the armed range; a general protection fault (a
 * non-canonical address) comes with no address (SI_KERNEL). */
static bool ours(const siginfo_t *si)
{
	uintptr_t a = (uintptr_t)si->si_addr;

	if (si->si_code <= 0)
		return false;
	if (si->si_code == SI_KERNEL)
		return true;
	return a >= guard.lo && a < guard.hi;
}

/* Not ours: what would have happened without us. */
static void chain(int sig, siginfo_t *si, void *uc)
{
	const struct sigaction *o = sig == SIGBUS ? &old_bus : &old_segv;
	struct sigaction dfl;

	if (o->sa_flags & SA_SIGINFO) {
		o->sa_sigaction(sig, si, uc);
		return;
	}
	if (o->sa_handler != SIG_DFL && o->sa_handler != SIG_IGN) {
		o->sa_handler(sig);
		return;
	}
	if (o->sa_handler == SIG_IGN && si->si_code <= 0)
		return; /* sent, and ignored */
	/* the default action: a fault happens again when we return (and
	 * the kernel kills even where SIGSEGV was ignored); a signal that
	 * was sent is sent again */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigaction(sig, &dfl, NULL);
	if (si->si_code <= 0)
		raise(sig);
}

UNCHECKED static void on_fault(int sig, siginfo_t *si, void *uc)
{
	jump_t *jb = guard.jb;

	if (jb && ours(si)) {
		guard.jb = NULL;
		/* the mask the thread had at the fault, as sigreturn would
		 * restore it (a layer between the kernel and us, such as
		 * ThreadSanitizer's, may block more while handlers run):
		 * one system call, on this path only */
		pthread_sigmask(SIG_SETMASK,
				&((const ucontext_t *)uc)->uc_sigmask, NULL);
		JUMP(*jb);
	}
	chain(sig, si, uc);
}

static void install(void)
{
	struct sigaction sa;

	page = (uintptr_t)sysconf(_SC_PAGESIZE);
	/* the old actions first, so a fault on another thread right after
	 * ours is in place already finds where to go */
	sigaction(SIGSEGV, NULL, &old_segv);
	sigaction(SIGBUS, NULL, &old_bus);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	/* release: pairs with the acquire in guarded() */
	__atomic_store_n(&ready, true, __ATOMIC_RELEASE);
}

/* The pages of [p, p + n): libc's string functions read whole aligned
 * words, some before p, none on a page the bytes do not touch. */
static void range_of(const void *p, size_t n, uintptr_t *lo, uintptr_t *hi)
{
	uintptr_t a = (uintptr_t)p, e = n > UINTPTR_MAX - a ? UINTPTR_MAX : a + n;

	*lo = a & ~(page - 1);
	*hi = e > UINTPTR_MAX - (page - 1) ? UINTPTR_MAX
					   : (e + page - 1) & ~(page - 1);
}

/* ---- the copies themselves (faults allowed) ----------------------------- */

enum kind { COPY, STRNLEN, PROBE };

UNCHECKED static inline size_t raw(enum kind k, void *dst, const void *src,
				   size_t n)
{
#ifdef SANITIZED
	volatile unsigned char *d = dst;
	const volatile unsigned char *s = src;
#endif
	size_t i = 0;

	switch (k) {
	case COPY:
#ifdef SANITIZED
		for (i = 0; i < n; i++)
			d[i] = s[i];
#else
		memcpy(dst, src, n);
#endif
		return n;
	case STRNLEN:
#ifdef SANITIZED
		while (i < n && s[i])
			i++;
		return i;
#else
		return strnlen(src, n);
#endif
	case PROBE: {
		volatile unsigned char *p = dst;

		/* the first byte, the first of each later page, the last */
		while (i < n) {
			p[i] = p[i];
			i += page - (((uintptr_t)p + i) & (page - 1));
		}
		if (n)
			p[n - 1] = p[n - 1];
		return n;
	}
	}
	return 0;
}

/* One guarded copy.  What it needs after the setjmp is read through a
 * volatile pointer, so a jump back finds nothing the jump clobbered. */
struct job {
	enum kind k;
	void *dst;
	const void *src;
	size_t n;
	size_t r;
};

UNCHECKED __attribute__((noinline)) static int guarded(struct job *jp,
							const void *user)
{
	struct job *volatile j = jp;
	jump_t jb;

	/* acquire: pairs with install()'s release of ready */
	if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE))
		pthread_once(&installed, install);
	range_of(user, jp->n, &guard.lo, &guard.hi);
	if (SET_JUMP(jb)) {
		/* the handler disarmed the guard */
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		return -EFAULT;
	}
	__atomic_signal_fence(__ATOMIC_SEQ_CST); /* the range, then armed */
	guard.jb = &jb;
	__atomic_signal_fence(__ATOMIC_SEQ_CST); /* armed, then the copy */
	j->r = raw(j->k, j->dst, j->src, j->n);
	__atomic_signal_fence(__ATOMIC_SEQ_CST); /* the copy, then disarmed */
	guard.jb = NULL;
	if (j->k == COPY)
		TELL(j->dst, j->src, j->n);
	return 0;
}

int vos__user_read(void *dst, const void *usrc, size_t n)
{
	struct job j = { COPY, dst, usrc, n, 0 };

	return n ? guarded(&j, usrc) : 0;
}

int vos__user_write(void *udst, const void *src, size_t n)
{
	struct job j = { COPY, udst, src, n, 0 };

	return n ? guarded(&j, udst) : 0;
}

int vos__user_strnlen(const char *us, size_t max, size_t *len)
{
	struct job j = { STRNLEN, NULL, us, max, 0 };
	int ret = max ? guarded(&j, us) : 0;

	*len = j.r;
	return ret;
}

int vos__user_probe_write(void *udst, size_t n)
{
	struct job j = { PROBE, udst, NULL, n, 0 };

	return n ? guarded(&j, udst) : 0;
}
