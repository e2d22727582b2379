/*
 * hostile_ta.c - a native TA that tries to get out of the simulator's
 * sandbox with raw Linux system calls (inline svc/syscall instructions:
 * no libc wrapper, no libtzposix), for test/sandbox_test.go.
 *
 * A constructor, run before main by the C runtime, tries to create the
 * file MARK_PATH (a -D of the build). main reads one line from the FIFO
 * /cmd: "PID PID ... PORT" (processes to signal and trace, then a TCP
 * port on 127.0.0.1), makes every attempt and writes one line per
 * attempt to the FIFO /out, "NAME RESULT", where RESULT is the raw
 * return value (a negative errno when the kernel refused), then "done".
 * It then waits on /cmd again, so that it keeps its session.
 */
#include <fcntl.h>
#include <unistd.h>

#include <tee_internal_api.h>
#include <tzposix/tzposix.h>

#if defined(__x86_64__)
enum {
	NR_openat = 257, NR_mkdirat = 258, NR_socket = 41, NR_connect = 42, NR_kill = 62,
	NR_ptrace = 101, NR_execve = 59, NR_clone = 56, NR_clone3 = 435, NR_unshare = 272,
	NR_setuid = 105, NR_memfd_create = 319, NR_exit_group = 231, NR_mount = 165,
	NR_ioctl = 16, NR_dup3 = 292
};
static long raw(long n, long a, long b, long c, long d, long e)
{
	long r;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;

	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return r;
}
#elif defined(__aarch64__)
enum {
	NR_openat = 56, NR_mkdirat = 34, NR_socket = 198, NR_connect = 203, NR_kill = 129,
	NR_ptrace = 117, NR_execve = 221, NR_clone = 220, NR_clone3 = 435, NR_unshare = 97,
	NR_setuid = 146, NR_memfd_create = 279, NR_exit_group = 94, NR_mount = 40,
	NR_ioctl = 29, NR_dup3 = 24
};
static long raw(long n, long a, long b, long c, long d, long e)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;

	__asm__ volatile("svc #0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4)
			 : "memory");
	return x0;
}
#else
#error "hostile_ta.c: x86_64 or aarch64 only"
#endif

#define AT_FDCWD_ (-100)
#define O_RDONLY_ 0
#define O_WRONLY_CREAT_ (01 | 0100)
#define SIGKILL_ 9
#define SIGCHLD_ 17
#define PTRACE_ATTACH_ 16
#define CLONE_NEWNET_ 0x40000000
#define TIOCSTI_ 0x5412

#ifdef MARK_PATH
__attribute__((constructor)) static void mark(void)
{
	(void)raw(NR_openat, AT_FDCWD_, (long)MARK_PATH, O_WRONLY_CREAT_, 0644, 0);
}
#endif

static int out = -1;

static void put(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	(void)write(out, s, n);
}

static void report(const char *name, long r)
{
	char num[24];
	int i = sizeof(num) - 1;
	unsigned long v = r < 0 ? -(unsigned long)r : (unsigned long)r;

	num[i] = 0;
	do {
		num[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (r < 0)
		num[--i] = '-';
	put(name);
	put(" ");
	put(num + i);
	put("\n");
}

static long parse(const char **p)
{
	long v = 0;

	while (**p == ' ')
		(*p)++;
	while (**p >= '0' && **p <= '9')
		v = v * 10 + (*(*p)++ - '0');
	return v;
}

int main(void)
{
	char line[256];
	long pids[8], port, r;
	int npids = 0, fd, n = 0;
	const char *p = line;
	unsigned char sin[16] = {2, 0, 0, 0, 127, 0, 0, 1};
	static const char *sh_argv[] = {"sh", "-c", "echo pwned", 0};
	static const char *no_env[] = {0};

	fd = open("/cmd", O_RDONLY);
	if (fd < 0)
		return 2;
	while (n < (int)sizeof(line) - 1 && read(fd, line + n, 1) == 1 && line[n] != '\n')
		n++;
	line[n] = 0;
	while (*p && npids < 8) {
		pids[npids++] = parse(&p);
		while (*p == ' ')
			p++;
	}
	if (npids < 2)
		return 3;
	port = pids[--npids];
	out = open("/out", O_WRONLY);
	if (out < 0)
		return 4;

	report("open_shadow", raw(NR_openat, AT_FDCWD_, (long)"/etc/shadow", O_RDONLY_, 0, 0));
	report("create_tmp", raw(NR_openat, AT_FDCWD_, (long)"/tmp/tzbridge-hostile-ta", O_WRONLY_CREAT_, 0644, 0));
	report("mkdir_root", raw(NR_mkdirat, AT_FDCWD_, (long)"/x", 0755, 0, 0));
	r = raw(NR_socket, 2 /* AF_INET */, 1 /* SOCK_STREAM */, 0, 0, 0);
	report("socket_tcp", r);
	sin[2] = (unsigned char)(port >> 8);
	sin[3] = (unsigned char)port;
	report("connect_tcp", raw(NR_connect, r >= 0 ? r : 3, (long)sin, sizeof(sin), 0, 0));
	report("socket_unix", raw(NR_socket, 1 /* AF_UNIX */, 1, 0, 0, 0));
	for (fd = 0; fd < npids; fd++) {
		report("kill", raw(NR_kill, pids[fd], SIGKILL_, 0, 0, 0));
		report("ptrace", raw(NR_ptrace, PTRACE_ATTACH_, pids[fd], 0, 0, 0));
	}
	report("kill_all", raw(NR_kill, -1, SIGKILL_, 0, 0, 0));
	report("execve_sh", raw(NR_execve, (long)"/bin/sh", (long)sh_argv, (long)no_env, 0, 0));
	r = raw(NR_clone, SIGCHLD_, 0, 0, 0, 0);
	if (r == 0)
		raw(NR_exit_group, 0, 0, 0, 0, 0); /* the child, had there been one */
	report("fork", r);
	report("clone3", raw(NR_clone3, 0, 0, 0, 0, 0));
	report("unshare_net", raw(NR_unshare, CLONE_NEWNET_, 0, 0, 0, 0));
	report("setuid_0", raw(NR_setuid, 0, 0, 0, 0, 0));
	report("memfd_create", raw(NR_memfd_create, (long)"x", 0, 0, 0, 0));
	report("mount", raw(NR_mount, (long)"none", (long)"/", (long)"tmpfs", 0, 0));
	report("ioctl_tiocsti", raw(NR_ioctl, 2, TIOCSTI_, (long)"x", 0, 0));
	report("dup3_ctl", raw(NR_dup3, 3, 9, 0, 0, 0));
	put("done\n");
	close(out);
	/* Keep the session: wait for the next command. */
	fd = open("/cmd", O_RDONLY);
	(void)read(fd, line, 1);
	return 0;
}
