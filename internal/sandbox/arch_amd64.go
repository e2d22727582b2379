package sandbox

import (
	"debug/elf"

	"golang.org/x/sys/unix"
)

// auditArch is this machine's system call ABI in seccomp_data.arch.
const auditArch = unix.AUDIT_ARCH_X86_64

// ELFMachine is the machine of the programs this filter is for (64-bit,
// little-endian, like every architecture the sandbox supports).
const ELFMachine = elf.EM_X86_64

// archRules are the calls only this architecture has.
func archRules() []rule {
	// glibc sets the thread pointer at start-up (ARCH_SET_FS); the other
	// operations too touch only the calling thread.
	return []rule{allow(unix.SYS_ARCH_PRCTL)}
}
