/*
 * faulty.c - a wasm32-wasi program for the containment tests of translated
 * TAs (ta/native/wasmta_test.go): reads one command byte from the FIFO
 * /cmd and acts on it:
 *   u  executes unreachable (a trap)
 *   o  loads outside its memory (a trap: bounds are checked explicitly)
 *   r  recurses without end (a trap: the call depth is bounded)
 *   e  exits with status 7 (proc_exit)
 *   x  returns 0 from main
 *   g  grows its memory past the TA's cap: malloc fails, exit status 3
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tzwasm.h>

static volatile uint32_t far = 0xfffffff0u;
static volatile int deep = 1 << 30;
static char *volatile kept; /* so that the compiler keeps the mallocs */

static int recurse(volatile int n)
{
	volatile char pad[64];

	pad[0] = (char)n;
	return n < deep ? recurse(n + 1) + pad[0] : 0;
}

int main(void)
{
	char c = 0;
	int fd, e;

	e = tzwasm_mkfifo(TZWASM_ROOT_FD, "cmd", 3, 0600);
	if (e != 0 && e != 20)
		return 2;
	fd = open("/cmd", O_RDONLY);
	if (fd < 0 || read(fd, &c, 1) != 1)
		return 4;
	printf("command %c\n", c);
	fflush(stdout);
	switch (c) {
	case 'u':
		__builtin_trap();
	case 'o':
		return *(volatile int *)(uintptr_t)far;
	case 'r':
		return recurse(0);
	case 'e':
		exit(7);
	case 'x':
		return 0;
	case 'g':
		/* 4 MiB at a time: the first that does not fit fails. */
		for (int i = 0; i < 64; i++) {
			char *p = malloc(4 << 20);
			if (!p)
				return 3;
			memset(p, 1, 4 << 20);
			kept = p;
		}
		return 5;
	}
	return 6;
}
