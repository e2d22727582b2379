/*
 * stack_test.c - checks the guard page of a host TA's coroutine stack
 * (host/stack.c): the whole stack is usable, the byte below it faults,
 * and a coroutine recursing without end dies of SIGSEGV at the guard.
 * Run by ta/native's TestStackGuard.
 */
#define _GNU_SOURCE 1
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/coro.h"

#define SIZE (64 * 1024)

static void *main_ctx, *co_ctx;
static volatile int depth = 1 << 20; /* 512 MB of frames: far past the stack */

static int deep(volatile char *prev, int n)
{
	volatile char frame[512];

	if (n >= depth)
		return 0;
	frame[0] = (char)n;
	frame[511] = prev ? prev[0] : 0;
	return deep(frame, n + 1) + frame[0];
}

static void co(void *arg)
{
	(void)arg;
	deep(NULL, 0);
	tzp_coro_switch(&co_ctx, main_ctx);
}

/* segv reports whether fn, run in a child, dies of SIGSEGV. */
static int segv(void (*fn)(char *), char *stack)
{
	int st;
	pid_t pid = fork();

	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		fn(stack);
		_exit(0);
	}
	if (waitpid(pid, &st, 0) != pid) {
		perror("waitpid");
		exit(2);
	}
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV;
}

static void touch_all(char *s)
{
	int i;

	for (i = 0; i < SIZE; i++)
		((volatile char *)s)[i] = 1;
}

static void touch_below(char *s)
{
	((volatile char *)s)[-1] = 1;
}

static void overflow(char *s)
{
	co_ctx = tzp_coro_init(s, SIZE, co, NULL);
	if (co_ctx == NULL)
		_exit(3);
	tzp_coro_switch(&main_ctx, co_ctx);
}

int main(void)
{
	char *s = tzp_host_stack_alloc(SIZE);

	if (s == NULL) {
		printf("tzp_host_stack_alloc failed\n");
		return 1;
	}
	if (segv(touch_all, s)) {
		printf("the stack itself faults\n");
		return 1;
	}
	if (!segv(touch_below, s)) {
		printf("no fault below the stack: no guard page\n");
		return 1;
	}
	if (!segv(overflow, s)) {
		printf("a coroutine overflowing its stack did not fault\n");
		return 1;
	}
	tzp_host_stack_free(s, SIZE);
	printf("stack guard: ok\n");
	return 0;
}
