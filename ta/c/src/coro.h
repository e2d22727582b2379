/*
 * coro.h - the TA's coroutine: a stack of its own for TA code, and a switch
 * between it and the entry point's stack. Both calls are used only by
 * entry.c, on one thread.
 *
 * tzp_coro_init prepares a new coroutine on the stack [base, base+size)
 * that will call fn(arg) when first switched to; fn must never return. It
 * returns the context to switch to.
 *
 * tzp_coro_switch saves the current context in *save and resumes to.
 *
 * Implementations: coro.S (aarch64, arm, x86_64: a few instructions that
 * save the callee-saved registers on the old stack and restore them from
 * the new) and coro_ucontext.c (the portable fallback for other hosts, or
 * any host built with -DTZPOSIX_CORO_UCONTEXT).
 */
#ifndef TZPOSIX_CORO_H
#define TZPOSIX_CORO_H

#include <stddef.h>

#if !defined(TZPOSIX_CORO_UCONTEXT) && \
	!(defined(__aarch64__) || defined(__arm__) || defined(__x86_64__))
#define TZPOSIX_CORO_UCONTEXT 1
#endif

void *tzp_coro_init(void *base, size_t size, void (*fn)(void *), void *arg);
void tzp_coro_switch(void **save, void *to);

/* Coroutine stacks of a TA built for the host (build-host.sh defines
 * TZPOSIX_HOST): host/stack.c maps each with a PROT_NONE guard page below
 * it. tzp_host_stack_alloc returns NULL when it cannot. */
void *tzp_host_stack_alloc(size_t size);
void tzp_host_stack_free(void *stack, size_t size);

#endif /* TZPOSIX_CORO_H */
