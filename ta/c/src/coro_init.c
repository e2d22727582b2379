/*
 * coro_init.c - first frames for the coroutines of coro.S, and the
 * ucontext fallback (see coro.h).
 */
#define _GNU_SOURCE 1 /* makecontext and friends, where used */
#include "coro.h"

#if defined(TZPOSIX_CORO_UCONTEXT)

#include <ucontext.h>

/* makecontext passes only int arguments; the one coroutine being started
 * is handed over here (entry points never run concurrently). */
static void (*start_fn)(void *);
static void *start_arg;

static void start(void)
{
	void (*fn)(void *) = start_fn;
	void *arg = start_arg;

	fn(arg);
}

void *tzp_coro_init(void *base, size_t size, void (*fn)(void *), void *arg)
{
	ucontext_t *uc = base;
	size_t hdr = (sizeof(*uc) + 15) & ~(size_t)15;

	if (size < hdr + 4096 || getcontext(uc) != 0)
		return NULL;
	uc->uc_stack.ss_sp = (char *)base + hdr;
	uc->uc_stack.ss_size = size - hdr;
	uc->uc_link = NULL;
	start_fn = fn;
	start_arg = arg;
	makecontext(uc, start, 0);
	return uc;
}

void tzp_coro_switch(void **save, void *to)
{
	/* This frame lives until someone switches back to it. */
	ucontext_t here;

	*save = &here;
	swapcontext(&here, to);
}

#else

#include <stdint.h>

void tzp_coro_start(void);

void *tzp_coro_init(void *base, size_t size, void (*fn)(void *), void *arg)
{
	uintptr_t top = ((uintptr_t)base + size) & ~(uintptr_t)15;
	uintptr_t *f;
	int i;

	if (size < 4096)
		return NULL;
#if defined(__aarch64__)
	/* x19 = fn, x20 = arg, x29 = 0, x30 = tzp_coro_start. */
	f = (uintptr_t *)(top - 160);
	for (i = 0; i < 20; i++)
		f[i] = 0;
	f[0] = (uintptr_t)fn;
	f[1] = (uintptr_t)arg;
	f[11] = (uintptr_t)tzp_coro_start;
#elif defined(__arm__)
	/* pad, d8-d15, r4 = fn, r5 = arg, r6-r11, lr = tzp_coro_start. */
	f = (uintptr_t *)(top - 104);
	for (i = 0; i < 26; i++)
		f[i] = 0;
	f[17] = (uintptr_t)fn;
	f[18] = (uintptr_t)arg;
	f[25] = (uintptr_t)tzp_coro_start;
#elif defined(__x86_64__)
	/* r15, r14, r13 = fn, r12 = arg, rbx, rbp, return = tzp_coro_start. */
	f = (uintptr_t *)(top - 56);
	for (i = 0; i < 7; i++)
		f[i] = 0;
	f[2] = (uintptr_t)fn;
	f[3] = (uintptr_t)arg;
	f[6] = (uintptr_t)tzp_coro_start;
#endif
	return f;
}

#endif
