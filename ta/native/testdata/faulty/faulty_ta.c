/*
 * faulty_ta.c - reads one command byte from the FIFO /cmd and acts on it:
 *   p  TEE_Panic
 *   s  a segmentation fault
 *   x  exit(0)
 *   e  return 7 from main
 *   c  unmask cancellation, spin until the call is cancelled, return 9
 *   m  the same without unmasking: cancellation stays masked, as GP and
 *      OP-TEE start every session, so the flag never shows and the TA
 *      spins until it is killed (returning 9 would be a bug)
 *   l  spin for ever
 *   k  an x32 system call (x86-64), which the simulator's sandbox
 *      answers by killing the TA (SIGSYS); on other machines a
 *      segmentation fault
 */
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

#include <tee_internal_api.h>
#include <tzposix/tzposix.h>

static int *volatile nowhere;

int main(void)
{
	char c = 0;
	int fd;

	if (mkfifo("/cmd", 0600) != 0)
		return 2;
	fd = open("/cmd", O_RDONLY);
	if (fd < 0 || read(fd, &c, 1) != 1)
		return 3;
	switch (c) {
	case 'p':
		TEE_Panic(0xdead);
		return 5; /* not reached: TEE_Panic is not declared noreturn (as in OP-TEE) */
	case 's':
		*nowhere = 1;
		return 4;
	case 'x':
		exit(0);
	case 'e':
		return 7;
	case 'c':
		(void)TEE_UnmaskCancellation();
		/* fall through */
	case 'm':
		while (!TEE_GetCancellationFlag())
			;
		return 9;
	case 'l':
		for (;;)
			;
	case 'k':
#if defined(__x86_64__)
		{
			long r = 0x40000000 | 39; /* getpid, x32 */

			__asm__ volatile("syscall" : "+a"(r) : : "rcx", "r11", "memory");
		}
#endif
		*nowhere = 1;
		return 4;
	}
	return 5;
}
