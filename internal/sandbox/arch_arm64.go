package sandbox

import (
	"debug/elf"

	"golang.org/x/sys/unix"
)

// auditArch is this machine's system call ABI in seccomp_data.arch.
const auditArch = unix.AUDIT_ARCH_AARCH64

// ELFMachine is the machine of the programs this filter is for (64-bit,
// little-endian, like every architecture the sandbox supports).
const ELFMachine = elf.EM_AARCH64

// archRules are the calls only this architecture has: none.
func archRules() []rule { return nil }
