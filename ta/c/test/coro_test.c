/*
 * coro_test.c - checks tzp_coro_switch on the machine it runs on: two
 * coroutines keep many integer and floating-point values live across
 * thousands of switches (so the compiler keeps them in callee-saved
 * registers), and the stack stays aligned. Run by cross-check.sh, natively
 * and under qemu-user for aarch64 and arm where available.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../src/coro.h"

#define ROUNDS 10000

/* The procedure call standard's stack alignment. */
#if defined(__arm__)
#define STACK_ALIGN 8
#else
#define STACK_ALIGN 16
#endif

static void *main_ctx, *co_ctx;
static volatile long co_sum;
static volatile double co_fsum;
static volatile int rounds;

static void co(void *arg)
{
	long a = (long)(intptr_t)arg, b = a * 3, c = a * 5, d = a * 7, e = a * 11, f = a * 13;
	long g = a * 17, h = a * 19, i = a * 23, j = a * 29;
	double x = 1.5, y = 2.25, z = 3.125, w = 4.0625;
	volatile char probe[STACK_ALIGN] __attribute__((aligned(STACK_ALIGN)));

	for (;;) {
		/* The compiler aligns probe by assuming an aligned stack: a
		 * misaligned one shows as a misaligned probe. */
		probe[0] = 0;
		if (((uintptr_t)probe & (STACK_ALIGN - 1)) != 0) {
			printf("misaligned coroutine frame %p\n", (void *)probe);
			exit(1);
		}
		co_sum = a + b + c + d + e + f + g + h + i + j;
		co_fsum = x + y + z + w;
		rounds++;
		tzp_coro_switch(&co_ctx, main_ctx);
		a += 1, b += 3, c += 5, d += 7, e += 11, f += 13, g += 17, h += 19, i += 23, j += 29;
		x += 0.5, y += 0.25, z += 0.125, w += 0.0625;
	}
}

int main(void)
{
	static char stack[64 * 1024];
	long m1 = 101, m2 = 202, m3 = 303, m4 = 404, m5 = 505, m6 = 606;
	double f1 = 0.5, f2 = 0.25;
	long k, want;
	double fwant;

	co_ctx = tzp_coro_init(stack, sizeof(stack), co, (void *)(intptr_t)1);
	if (co_ctx == NULL) {
		printf("tzp_coro_init failed\n");
		return 1;
	}
	for (k = 0; k < ROUNDS; k++) {
		tzp_coro_switch(&main_ctx, co_ctx);
		want = (1 + k) * (1 + 3 + 5 + 7 + 11 + 13 + 17 + 19 + 23 + 29);
		fwant = 1.5 + 2.25 + 3.125 + 4.0625 + (double)k * (0.5 + 0.25 + 0.125 + 0.0625);
		if (co_sum != want || co_fsum != fwant || rounds != k + 1) {
			printf("round %ld: coroutine sum %ld (want %ld), fsum %f (want %f)\n", k, co_sum,
			       want, co_fsum, fwant);
			return 1;
		}
		m1 += 1, m2 += 2, m3 += 3, m4 += 4, m5 += 5, m6 += 6, f1 += 1.0, f2 += 2.0;
	}
	if (m1 != 101 + ROUNDS || m2 != 202 + 2 * ROUNDS || m3 != 303 + 3 * ROUNDS ||
	    m4 != 404 + 4 * ROUNDS || m5 != 505 + 5 * ROUNDS || m6 != 606 + 6 * ROUNDS ||
	    f1 != 0.5 + ROUNDS || f2 != 0.25 + 2.0 * ROUNDS) {
		printf("the entry side lost its registers\n");
		return 1;
	}
	printf("coroutine switch ok: %d rounds\n", ROUNDS);
	return 0;
}
