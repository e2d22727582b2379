//go:build amd64 || arm64

package sandbox

import "golang.org/x/sys/unix"

// rules is the allow-list. Why each call is there:
func rules() []rule {
	r := []rule{
		// The entry points' messages: only on the control socket
		// (host_main.c: recvmsg, send = sendto, recv(MSG_PEEK) =
		// recvfrom), first: they are the calls of every entry point.
		allowIf(unix.SYS_RECVMSG, arg(0, ctlFD)),
		allowIf(unix.SYS_SENDTO, arg(0, ctlFD)),
		allowIf(unix.SYS_RECVFROM, arg(0, ctlFD)),
		// Diagnostics (TEE_Panic's message, glibc's fatal errors) on
		// standard output and error, which the secure world logs.
		allowIf(unix.SYS_WRITE, arg(0, 1, 2)),
		allowIf(unix.SYS_WRITEV, arg(0, 1, 2)),
		// fstat of descriptors it has: glibc's fstat is newfstatat(fd,
		// "", AT_EMPTY_PATH); the shared memory's size is checked so.
		allowIf(unix.SYS_NEWFSTATAT, arg(3, unix.AT_EMPTY_PATH)),
		allow(unix.SYS_FSTAT),
		allow(unix.SYS_CLOSE),
		// Memory: the shared memfd the secure world hands over (mmap,
		// munmap), the heap (brk, mmap), the coroutine stacks' guard
		// pages (mprotect).
		allow(unix.SYS_MMAP),
		allow(unix.SYS_MUNMAP),
		allow(unix.SYS_MPROTECT),
		allow(unix.SYS_MREMAP),
		allow(unix.SYS_MADVISE),
		allow(unix.SYS_BRK),
		// Signals delivered by the kernel (a fault, SIGPIPE ignored).
		allow(unix.SYS_RT_SIGACTION),
		allow(unix.SYS_RT_SIGPROCMASK),
		allow(unix.SYS_RT_SIGRETURN),
		allow(unix.SYS_SIGALTSTACK),
		allow(unix.SYS_RESTART_SYSCALL),
		// glibc's start-up and locks.
		allow(unix.SYS_SET_TID_ADDRESS),
		allow(unix.SYS_SET_ROBUST_LIST),
		allow(unix.SYS_RSEQ),
		allow(unix.SYS_FUTEX),
		allowIf(unix.SYS_PRLIMIT64, arg(0, 0), arg(2, 0)), // read its own limits only
		allow(unix.SYS_GETRANDOM),                         // malloc's tcache; OP-TEE has TEE_GenerateRandom
		// Time (OP-TEE: TEE_GetSystemTime, TEE_Wait).
		allow(unix.SYS_CLOCK_GETTIME),
		allow(unix.SYS_CLOCK_GETRES),
		allow(unix.SYS_GETTIMEOFDAY),
		allow(unix.SYS_CLOCK_NANOSLEEP),
		allow(unix.SYS_NANOSLEEP),
		allow(unix.SYS_SCHED_YIELD),
		allow(unix.SYS_GETPID),
		allow(unix.SYS_GETTID),
		// host_main.c: die with the secure world.
		allowIf(unix.SYS_PRCTL, arg(0, unix.PR_SET_PDEATHSIG)),
		allow(unix.SYS_EXIT),
		allow(unix.SYS_EXIT_GROUP),
		// The launcher's own execveat of the TA: the descriptor it uses
		// is close-on-exec and the TA has no way to open another file,
		// so once the TA runs this rule matches nothing it can do.
		allowIf(unix.SYS_EXECVEAT, arg(0, execFD), arg(4, unix.AT_EMPTY_PATH)),
	}
	return append(r, archRules()...)
}
