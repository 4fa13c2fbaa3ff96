/*
 * user_mem.c - guarded copies to and from the calling program's memory
 * (user_mem.h), as the kernel makes its own: copy routines whose faults
 * resume at a fixup that returns -EFAULT (the kernel's exception table).
 *
 * The routines (x86-64 assembly below) are leaves that touch no stack:
 * wherever one faults, the stack pointer still points at its return
 * address.  The SIGSEGV/SIGBUS handler, if the faulting instruction lies
 * between vos__uasm_begin and vos__uasm_end, moves the saved instruction
 * pointer to vos__uasm_fault (mov $-EFAULT, %rax; ret) and returns: the
 * kernel's sigreturn then restores everything the thread had (signal
 * mask, floating-point state and rounding mode, sigaltstack, protection
 * keys), and the routine returns -EFAULT to its caller.  No state is kept
 * per thread or per copy, and a fault anywhere else is not ours: it goes
 * to the handler that was there before, or to the default action.
 *
 * The routines: a copy (bytes below 16, 16-byte moves 64 at a time below
 * 4 KiB, rep movsb above: within a few ns of memcpy at every size on this
 * machine), a byte loop for strnlen (paths only), and a probe that reads
 * and writes back the first and the last byte.  On other architectures the copies
 * are plain and a bad pointer crashes the program as it did before
 * (doc/semantics.md, "Bad buffers").
 *
 * The sanitizers do not see into assembly; after a copy that did not
 * fault, they are told what it read and wrote, so an overrun of a buffer
 * or a race is still reported.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
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

#ifdef ASAN
/* (declared as gcc declares its builtins of the same names) */
void __asan_loadN(void *addr, long size);
void __asan_storeN(void *addr, long size);
#define TELL(d, s, n)                                                      \
	(__asan_loadN((void *)(uintptr_t)(s), (long)(n)),                  \
	 __asan_storeN((void *)(uintptr_t)(d), (long)(n)))
/* Whether [p, p + n) lies outside the program's memory as ASan lays it
 * out on x86-64 (low memory below 0x7fff8000, high memory from
 * 0x10007fff8000): its shadow is mapped, so a guarded copy from a wild
 * pointer into it would succeed, and ASan would then stop the program
 * on the TELL (or on a later read of the bytes).  Such an address is
 * unmapped in a build without ASan: -EFAULT, as there. */
#if defined(__x86_64__)
#define NOT_APP(p, n) not_app((uintptr_t)(p), (size_t)(n))
static inline bool not_app(uintptr_t a, size_t n)
{
	uintptr_t e = a + (n ? n : 1);

	if (e < a)
		return true;
	return !(e <= 0x7fff8000ull ||
		 (a >= 0x10007fff8000ull && e <= 0x800000000000ull));
}
#endif
#elif defined(TSAN)
void __tsan_read_range(void *addr, long size);
void __tsan_write_range(void *addr, long size);
#define TELL(d, s, n)                                                      \
	(__tsan_read_range((void *)(uintptr_t)(s), (long)(n)),              \
	 __tsan_write_range((void *)(uintptr_t)(d), (long)(n)))
#else
#define TELL(d, s, n) ((void)0)
#endif
#ifndef NOT_APP
#define NOT_APP(p, n) false
#endif

#if defined(__x86_64__) && defined(__linux__)
#define GUARDED 1

/* long copy(dst %rdi, src %rsi, n %rdx): 0; long strnlen(s %rdi,
 * max %rsi): the length; long probe(p %rdi, n %rsi > 0): 0; each
 * -EFAULT through the fixup. */
__asm__(".text\n"
	".p2align 4\n"
	".globl vos__uasm_begin\n"
	".hidden vos__uasm_begin\n"
	"vos__uasm_begin:\n"
	".globl vos__uasm_copy\n"
	".hidden vos__uasm_copy\n"
	".type vos__uasm_copy, @function\n"
	"vos__uasm_copy:\n"
	"	cmpq $4096, %rdx\n"
	"	jae .Lvos_rep\n"
	"	cmpq $16, %rdx\n"
	"	jb .Lvos_small\n"
	/* the last 16 bytes first (stored last, overlapping) */
	"	movdqu -16(%rsi,%rdx), %xmm1\n"
	"	leaq -16(%rdi,%rdx), %r8\n"
	".Lvos_64:\n"
	"	cmpq $64, %rdx\n"
	"	jb .Lvos_16\n"
	"	movdqu (%rsi), %xmm0\n"
	"	movdqu %xmm0, (%rdi)\n"
	"	movdqu 16(%rsi), %xmm0\n"
	"	movdqu %xmm0, 16(%rdi)\n"
	"	movdqu 32(%rsi), %xmm0\n"
	"	movdqu %xmm0, 32(%rdi)\n"
	"	movdqu 48(%rsi), %xmm0\n"
	"	movdqu %xmm0, 48(%rdi)\n"
	"	addq $64, %rsi\n"
	"	addq $64, %rdi\n"
	"	subq $64, %rdx\n"
	"	jmp .Lvos_64\n"
	".Lvos_16:\n"
	"	cmpq $16, %rdx\n"
	"	jb .Lvos_tail\n"
	"	movdqu (%rsi), %xmm0\n"
	"	movdqu %xmm0, (%rdi)\n"
	"	addq $16, %rsi\n"
	"	addq $16, %rdi\n"
	"	subq $16, %rdx\n"
	"	jmp .Lvos_16\n"
	".Lvos_tail:\n"
	"	movdqu %xmm1, (%r8)\n"
	"	xorl %eax, %eax\n"
	"	ret\n"
	".Lvos_small:\n"
	"	testq %rdx, %rdx\n"
	"	jz .Lvos_done\n"
	".Lvos_byte:\n"
	"	movb (%rsi), %al\n"
	"	movb %al, (%rdi)\n"
	"	incq %rsi\n"
	"	incq %rdi\n"
	"	decq %rdx\n"
	"	jnz .Lvos_byte\n"
	".Lvos_done:\n"
	"	xorl %eax, %eax\n"
	"	ret\n"
	".Lvos_rep:\n"
	"	movq %rdx, %rcx\n"
	"	rep movsb\n"
	"	xorl %eax, %eax\n"
	"	ret\n"
	".size vos__uasm_copy, .-vos__uasm_copy\n"
	".globl vos__uasm_strnlen\n"
	".hidden vos__uasm_strnlen\n"
	".type vos__uasm_strnlen, @function\n"
	"vos__uasm_strnlen:\n"
	"	xorl %eax, %eax\n"
	"1:	cmpq %rsi, %rax\n"
	"	jae 2f\n"
	"	cmpb $0, (%rdi,%rax)\n"
	"	je 2f\n"
	"	incq %rax\n"
	"	jmp 1b\n"
	"2:	ret\n"
	".size vos__uasm_strnlen, .-vos__uasm_strnlen\n"
	".globl vos__uasm_probe\n"
	".hidden vos__uasm_probe\n"
	".type vos__uasm_probe, @function\n"
	"vos__uasm_probe:\n"
	"	movb (%rdi), %al\n"
	"	movb %al, (%rdi)\n"
	"	movb -1(%rdi,%rsi), %al\n"
	"	movb %al, -1(%rdi,%rsi)\n"
	"	xorl %eax, %eax\n"
	"	ret\n"
	".size vos__uasm_probe, .-vos__uasm_probe\n"
	".globl vos__uasm_fault\n"
	".hidden vos__uasm_fault\n"
	"vos__uasm_fault:\n"
	"	movq $-14, %rax\n" /* -EFAULT */
	"	ret\n"
	".globl vos__uasm_end\n"
	".hidden vos__uasm_end\n"
	"vos__uasm_end:\n");

_Static_assert(EFAULT == 14, "the fixup returns -14");

long vos__uasm_copy(void *dst, const void *src, size_t n);
long vos__uasm_strnlen(const char *s, size_t max);
long vos__uasm_probe(void *p, size_t n);
extern const char vos__uasm_begin[], vos__uasm_end[], vos__uasm_fault[];

static pthread_once_t installed = PTHREAD_ONCE_INIT;
static bool ready; /* installed (acquire: then old_* are set) */
static struct sigaction old_segv, old_bus;

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

static void on_fault(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	uintptr_t pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];

	/* a fault of the kernel's (not one sent by kill or sigqueue) in one
	 * of the routines: resume at the fixup, through sigreturn */
	if (si->si_code > 0 && pc >= (uintptr_t)vos__uasm_begin &&
	    pc < (uintptr_t)vos__uasm_end) {
		uc->uc_mcontext.gregs[REG_RIP] = (greg_t)(uintptr_t)
							 vos__uasm_fault;
		return;
	}
	chain(sig, si, ucv);
}

static void install(void)
{
	struct sigaction sa;

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
	/* release: pairs with the acquire in arm() */
	__atomic_store_n(&ready, true, __ATOMIC_RELEASE);
}

static inline void arm(void)
{
	/* acquire: pairs with install()'s release of ready */
	if (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE))
		pthread_once(&installed, install);
}

static int copy(void *dst, const void *src, size_t n)
{
	if (NOT_APP(dst, n) || NOT_APP(src, n))
		return -EFAULT;
	arm();
	if (vos__uasm_copy(dst, src, n) < 0)
		return -EFAULT;
	TELL(dst, src, n);
	return 0;
}

#else /* not guarded: plain copies */

static int copy(void *dst, const void *src, size_t n)
{
	memcpy(dst, src, n);
	return 0;
}

#endif

int vos__user_read(void *dst, const void *usrc, size_t n)
{
	return n ? copy(dst, usrc, n) : 0;
}

int vos__user_write(void *udst, const void *src, size_t n)
{
	return n ? copy(udst, src, n) : 0;
}

int vos__user_strnlen(const char *us, size_t max, size_t *len)
{
#ifdef GUARDED
	long r;

	*len = 0;
	if (!max)
		return 0;
	if (NOT_APP(us, 1))
		return -EFAULT;
	arm();
	r = vos__uasm_strnlen(us, max);
	if (r >= 0 && NOT_APP(us, (size_t)r + 1))
		return -EFAULT;
	if (r < 0)
		return -EFAULT;
	*len = (size_t)r;
#else
	*len = max ? strnlen(us, max) : 0;
#endif
	return 0;
}

int vos__user_probe_write(void *udst, size_t n)
{
	if (!n)
		return 0;
#ifdef GUARDED
	if (NOT_APP(udst, n))
		return -EFAULT;
	arm();
	return vos__uasm_probe(udst, n) < 0 ? -EFAULT : 0;
#else
	{
		volatile unsigned char *p = udst;

		p[0] = p[0];
		p[n - 1] = p[n - 1];
	}
	return 0;
#endif
}
