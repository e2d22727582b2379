//go:build !(mips || mipsle || mips64 || mips64le || ppc || ppc64 || ppc64le || sparc || sparc64)

package linuxtee

// <asm-generic/ioctl.h>: arm, arm64, x86, riscv, loong64, s390x.
const (
	iocWrite    uint32 = 1
	iocRead     uint32 = 2
	iocDirShift        = 30
)
