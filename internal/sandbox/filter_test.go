//go:build amd64 || arm64

package sandbox

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// run interprets a seccomp program (the classic BPF subset it uses) on
// one system call, as the kernel would.
func run(t *testing.T, p []unix.SockFilter, arch, nr uint32, args [6]uint64) uint32 {
	t.Helper()
	var data [64]byte
	binary.LittleEndian.PutUint32(data[offNr:], nr)
	binary.LittleEndian.PutUint32(data[offArch:], arch)
	for i, a := range args {
		binary.LittleEndian.PutUint64(data[offArgs+8*i:], a)
	}
	var acc uint32
	for pc := 0; pc < len(p); pc++ {
		in := p[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			if in.K%4 != 0 || in.K+4 > uint32(len(data)) {
				t.Fatalf("pc %d: load at %d", pc, in.K)
			}
			acc = binary.LittleEndian.Uint32(data[in.K:])
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			if acc == in.K {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			if acc >= in.K {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		default:
			t.Fatalf("pc %d: instruction %#x", pc, in.Code)
		}
	}
	t.Fatal("ran off the end of the program")
	return 0
}

func TestFilter(t *testing.T) {
	if err := Supported(); err != nil {
		t.Fatal(err) // the product runs on amd64 and arm64 only
	}
	p, err := program(auditArch, rules())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d rules, %d instructions", len(rules()), len(p))
	args := func(a ...uint64) (r [6]uint64) { copy(r[:], a); return }
	type call struct {
		name string
		arch uint32
		nr   uintptr
		args [6]uint64
		want uint32
	}
	tests := []call{
		{"recvmsg on the control socket", auditArch, unix.SYS_RECVMSG, args(ctlFD), retAllow},
		{"sendto on the control socket", auditArch, unix.SYS_SENDTO, args(ctlFD), retAllow},
		{"recvfrom on the control socket", auditArch, unix.SYS_RECVFROM, args(ctlFD, 0, 128, unix.MSG_PEEK), retAllow},
		{"recvmsg elsewhere", auditArch, unix.SYS_RECVMSG, args(5), retDeny},
		{"sendto, fd with garbage above 32 bits", auditArch, unix.SYS_SENDTO, args(1<<32 | ctlFD), retDeny},
		{"sendmsg", auditArch, unix.SYS_SENDMSG, args(ctlFD), retDeny},
		{"write to stderr", auditArch, unix.SYS_WRITE, args(2), retAllow},
		{"write to stdout", auditArch, unix.SYS_WRITE, args(1), retAllow},
		{"write to the control socket", auditArch, unix.SYS_WRITE, args(ctlFD), retDeny},
		{"write to stdin", auditArch, unix.SYS_WRITE, args(0), retDeny},
		{"fstat", auditArch, unix.SYS_NEWFSTATAT, args(4, 0, 0, unix.AT_EMPTY_PATH), retAllow},
		{"stat of a path", auditArch, unix.SYS_NEWFSTATAT, args(uint64(1<<64-100), 0, 0, 0), retDeny},
		{"mmap", auditArch, unix.SYS_MMAP, args(), retAllow},
		{"mprotect", auditArch, unix.SYS_MPROTECT, args(), retAllow},
		{"exit_group", auditArch, unix.SYS_EXIT_GROUP, args(3), retAllow},
		{"PR_SET_PDEATHSIG", auditArch, unix.SYS_PRCTL, args(unix.PR_SET_PDEATHSIG, 9), retAllow},
		{"PR_SET_DUMPABLE", auditArch, unix.SYS_PRCTL, args(unix.PR_SET_DUMPABLE, 1), retDeny},
		{"read its stack limit", auditArch, unix.SYS_PRLIMIT64, args(0, unix.RLIMIT_STACK, 0, 0x1000), retAllow},
		{"raise a limit", auditArch, unix.SYS_PRLIMIT64, args(0, unix.RLIMIT_NOFILE, 0x1000, 0), retDeny},
		{"another process's limits", auditArch, unix.SYS_PRLIMIT64, args(1, unix.RLIMIT_STACK, 0, 0x1000), retDeny},
		{"the launcher's execveat", auditArch, unix.SYS_EXECVEAT, args(execFD, 0, 0, 0, unix.AT_EMPTY_PATH), retAllow},
		{"execveat of a path", auditArch, unix.SYS_EXECVEAT, args(uint64(1<<64-100), 0, 0, 0, 0), retDeny},
		{"execveat of another descriptor", auditArch, unix.SYS_EXECVEAT, args(ctlFD, 0, 0, 0, unix.AT_EMPTY_PATH), retDeny},
		{"execve", auditArch, unix.SYS_EXECVE, args(), retDeny},
		{"openat", auditArch, unix.SYS_OPENAT, args(), retDeny},
		{"socket", auditArch, unix.SYS_SOCKET, args(unix.AF_INET), retDeny},
		{"connect", auditArch, unix.SYS_CONNECT, args(ctlFD), retDeny},
		{"kill", auditArch, unix.SYS_KILL, args(1, 9), retDeny},
		{"tgkill", auditArch, unix.SYS_TGKILL, args(1, 1, 6), retDeny},
		{"ptrace", auditArch, unix.SYS_PTRACE, args(), retDeny},
		{"clone", auditArch, unix.SYS_CLONE, args(), retDeny},
		{"clone3", auditArch, unix.SYS_CLONE3, args(), retDeny},
		{"ioctl", auditArch, unix.SYS_IOCTL, args(2, unix.TIOCSTI), retDeny},
		{"dup3", auditArch, unix.SYS_DUP3, args(3, 4, 0), retDeny},
		{"memfd_create", auditArch, unix.SYS_MEMFD_CREATE, args(), retDeny},
		{"another architecture", auditArch ^ 1, unix.SYS_WRITE, args(2), retKill},
		{"number out of range", auditArch, 1 << 20, args(), retDeny},
	}
	if auditArch == unix.AUDIT_ARCH_X86_64 {
		tests = append(tests,
			call{"x32 write", auditArch, x32Bit | unix.SYS_WRITE, args(2), retKill},
			call{"i386 ABI", unix.AUDIT_ARCH_I386, 4, args(2), retKill},
		)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := run(t, p, tt.arch, uint32(tt.nr), tt.args); got != tt.want {
				t.Errorf("got %#x, want %#x", got, tt.want)
			}
		})
	}
	// Every allowed call is allowed with the arguments its rule names,
	// and every number not in the list is refused.
	allowed := map[uint32]bool{}
	for _, r := range rules() {
		allowed[r.nr] = true
		a := [6]uint64{}
		for _, c := range r.args {
			a[c.arg] = c.values[len(c.values)-1]
		}
		if got := run(t, p, auditArch, r.nr, a); got != retAllow {
			t.Errorf("call %d with %v: %#x, want allow", r.nr, a, got)
		}
	}
	for nr := uint32(0); nr < 1024; nr++ {
		if !allowed[nr] {
			if got := run(t, p, auditArch, nr, [6]uint64{}); got != retDeny {
				t.Errorf("call %d: %#x, want deny", nr, got)
			}
		}
	}
}

// TestArgBlock checks the argument blocks on their own: several
// arguments, several values, high halves.
func TestArgBlock(t *testing.T) {
	rs := []rule{allowIf(7, arg(0, 1, 2, 1<<33), arg(2, 5))}
	p, err := program(0xabc, rs)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		a0, a2 uint64
		want   uint32
	}{
		{1, 5, retAllow}, {2, 5, retAllow}, {1 << 33, 5, retAllow},
		{3, 5, retDeny}, {1, 6, retDeny}, {1<<32 | 1, 5, retDeny}, {1 << 33, 5 | 1<<40, retDeny},
		{0, 0, retDeny},
	}
	for _, tt := range tests {
		if got := run(t, p, 0xabc, 7, [6]uint64{tt.a0, 0, tt.a2}); got != tt.want {
			t.Errorf("args %#x, %#x: %#x, want %#x", tt.a0, tt.a2, got, tt.want)
		}
	}
}

func TestID(t *testing.T) {
	a, b := [16]byte{1}, [16]byte{2}
	for _, u := range [][16]byte{a, b, {}} {
		if id := ID(u); id < FirstID || id >= FirstID+IDs {
			t.Errorf("ID(%x) = %d, outside the range", u, id)
		}
	}
	if ID(a) != ID(a) || ID(a) == ID(b) {
		t.Errorf("ID is not a function of the UUID: %d %d", ID(a), ID(b))
	}
	if err := CheckID(ID(a)); err != nil {
		t.Error(err)
	}
	if err := CheckID(0); err == nil {
		t.Error("CheckID accepted root's id")
	}
}
