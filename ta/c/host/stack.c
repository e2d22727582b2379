/*
 * stack.c - coroutine stacks for a TA built for the host (build-host.sh):
 * each is mapped on its own with a PROT_NONE guard page below it, so that
 * TA code overflowing its stack faults at the first byte past the end
 * (SIGSEGV: the simulator reports the TA dead) instead of writing over
 * the memory below. On OP-TEE, entry.c takes the stack from TEE_Malloc
 * and only its canary catches an overflow (see there).
 *
 * An ordinary Linux source file, like host_main.c; the sandbox's seccomp
 * filter allows mmap, mprotect and munmap.
 */
#define _GNU_SOURCE 1
#include <stddef.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../src/coro.h"

static size_t page_size(void)
{
	long n = sysconf(_SC_PAGESIZE);

	return n > 0 ? (size_t)n : 4096;
}

void *tzp_host_stack_alloc(size_t size)
{
	size_t pg = page_size(), len;
	char *p;

	if (size > (size_t)-1 - 2 * pg)
		return NULL;
	len = pg + ((size + pg - 1) & ~(pg - 1));
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (mprotect(p, pg, PROT_NONE) != 0) {
		munmap(p, len);
		return NULL;
	}
	return p + pg;
}

void tzp_host_stack_free(void *stack, size_t size)
{
	size_t pg = page_size();

	if (stack != NULL)
		munmap((char *)stack - pg, pg + ((size + pg - 1) & ~(pg - 1)));
}
