//go:build mips || mipsle || mips64 || mips64le || ppc || ppc64 || ppc64le || sparc || sparc64

package linuxtee

// mips, powerpc and sparc have 13 size bits and three direction bits.
const (
	iocWrite    uint32 = 4
	iocRead     uint32 = 2
	iocDirShift        = 29
)
