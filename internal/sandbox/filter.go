package sandbox

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// The seccomp filter of a native TA: an allow-list of what the TA runtime
// (ta/c/host/host_main.c, libtzposix and a static glibc) needs to talk to
// the simulator, checked on every system call. Everything else fails with
// EPERM; a system call of another architecture (the 32-bit entry points
// of a 64-bit kernel, x32) kills the process, since its numbers mean other
// calls.
//
// The program is assembled here from golang.org/x/sys/unix's BPF
// constants rather than with a policy library: it needs argument checks
// (which descriptor, which prctl, which execveat) that fit in a dozen
// instructions, and the whole program stays small enough to read and to
// test instruction by instruction (filter_test.go runs it).

// Descriptors the sandboxed program has. They are fixed by the launcher.
const (
	// ctlFD is the socket to the secure world.
	ctlFD = 3
	// execFD is the TA program in the sandbox's root, which the launcher
	// executes with execveat; it is close-on-exec, so the TA never has it.
	execFD = 4
)

// rule is one allowed system call, with conditions on its arguments.
type rule struct {
	nr uint32
	// args: each listed argument must equal one of its values (all 64
	// bits: an int argument with garbage in its upper half is refused,
	// which errs on the safe side). No entry: any arguments.
	args []argIn
}

type argIn struct {
	arg    int
	values []uint64
}

func allow(nr uintptr) rule { return rule{nr: uint32(nr)} }

func allowIf(nr uintptr, args ...argIn) rule { return rule{nr: uint32(nr), args: args} }

func arg(i int, values ...uint64) argIn { return argIn{arg: i, values: values} }

// Actions.
const (
	retAllow = unix.SECCOMP_RET_ALLOW
	retDeny  = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	retKill  = unix.SECCOMP_RET_KILL_PROCESS
)

// The instructions the filter uses: load a word of seccomp_data, compare
// it with a constant, return an action.
const (
	ldW  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
	jeqK = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
	jgeK = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
	retK = unix.BPF_RET | unix.BPF_K
)

// Offsets in struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
	offArgs = 16
)

func stmt(code uint16, k uint32) unix.SockFilter { return unix.SockFilter{Code: code, K: k} }

func jump(code uint16, k uint32, jt, jf uint8) unix.SockFilter {
	return unix.SockFilter{Code: code, Jt: jt, Jf: jf, K: k}
}

// program assembles the filter for the given architecture and rules.
func program(arch uint32, rs []rule) ([]unix.SockFilter, error) {
	p := []unix.SockFilter{
		stmt(ldW, offArch),
		jump(jeqK, arch, 1, 0),
		stmt(retK, retKill),
		stmt(ldW, offNr),
	}
	if arch == unix.AUDIT_ARCH_X86_64 {
		// x32 system calls carry the same arch with bit 30 set.
		p = append(p, jump(jgeK, x32Bit, 0, 1), stmt(retK, retKill))
	}
	// Layout: [header] [one check per rule, in the rules' order, so
	// that the busiest calls come first] deny allow [argument blocks].
	// A check jumps to allow, or to its rule's block, when the number
	// matches, and falls through otherwise.
	var blocks [][]unix.SockFilter
	for _, r := range rs {
		if len(r.args) > 0 {
			b := argBlock(r.args)
			if len(b) > 255 { // its jumps would not fit in 8 bits
				return nil, fmt.Errorf("seccomp filter: %d instructions for the arguments of call %d", len(b), r.nr)
			}
			blocks = append(blocks, b)
		}
	}
	denyAt := len(p) + len(rs)
	allowAt := denyAt + 1
	next, b := allowAt+1, 0 // where the next block goes, and which
	for _, r := range rs {
		target := allowAt
		if len(r.args) > 0 {
			target = next
			next += len(blocks[b])
			b++
		}
		off := target - (len(p) + 1)
		if off > 255 {
			return nil, fmt.Errorf("seccomp filter: jump of %d instructions", off)
		}
		p = append(p, jump(jeqK, r.nr, uint8(off), 0))
	}
	p = append(p, stmt(retK, retDeny), stmt(retK, retAllow))
	for _, b := range blocks {
		p = append(p, b...)
	}
	if len(p) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("seccomp filter: %d instructions", len(p))
	}
	return p, nil
}

// x32Bit marks an x32 system call number (__X32_SYSCALL_BIT).
const x32Bit = 0x40000000

// argBlock checks a call's arguments: each listed argument must equal one
// of its values, low and high 32-bit halves both (the low half first in
// seccomp_data: little-endian machines, which amd64 and arm64 are). The
// block ends in its own deny and allow.
//
// It is built back to front, so that every jump's target is already
// there: per value four instructions,
//
//	ld low; jeq value.low ? next : (next value | deny)
//	ld high; jeq value.high ? (next argument | allow) : (next value | deny)
//
// where "next value" is the following four instructions and "next
// argument" the code after this argument's values.
func argBlock(args []argIn) []unix.SockFilter {
	code := []unix.SockFilter{stmt(retK, retDeny), stmt(retK, retAllow)}
	for a := len(args) - 1; a >= 0; a-- {
		last := a == len(args)-1
		vals := args[a].values
		lo := uint32(offArgs + 8*args[a].arg)
		var seg []unix.SockFilter
		for v, val := range vals {
			// Instructions between this value's last one and code.
			rest := 4 * (len(vals) - v - 1)
			deny := rest + len(code) - 2 // from this value's last instruction
			match := rest                // the next argument: code[0]
			if last {
				match = rest + len(code) - 1 // allow
			}
			miss := 0 // the next value
			if rest == 0 {
				miss = deny
			}
			seg = append(seg,
				stmt(ldW, lo),
				jump(jeqK, uint32(val), 0, uint8(miss+2)), // +2: skip ld high, jeq high
				stmt(ldW, lo+4),
				jump(jeqK, uint32(val>>32), uint8(match), uint8(miss)),
			)
		}
		code = append(seg, code...)
	}
	return code
}
