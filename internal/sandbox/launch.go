package sandbox

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// launchFailed is the launcher's exit status when it cannot confine the
// TA (its reason is on standard error).
const launchFailed = 125

// The sandbox's root, before pivot_root: a tmpfs mounted over /proc in the
// launcher's own mount namespace (a directory every Linux host has, and
// the launcher needs nothing in it once started).
const (
	newRoot = "/proc"
	taName  = "ta" // the TA program in the sandbox's root
	maxFDs  = 64   // RLIMIT_NOFILE: the TA needs a handful
)

func init() {
	if len(os.Args) != 2 || os.Args[0] != launcherArg0 {
		return
	}
	// init runs on the main thread, locked to it: every per-thread
	// change below (credentials, no_new_privs, Landlock, seccomp) is on
	// the thread that calls execveat.
	runtime.LockOSThread()
	err := launch(os.Args[1])
	// Only a failure returns. No os.File here: it could start the
	// runtime's netpoller.
	_, _ = unix.Write(2, []byte("tzbridge: native TA sandbox: "+err.Error()+"\n"))
	unix.Exit(launchFailed)
}

// launch confines this process and executes the TA (descriptor 4) in it.
func launch(idArg string) error {
	id64, err := strconv.ParseUint(idArg, 10, 32)
	if err != nil || id64 < FirstID || id64 >= FirstID+IDs {
		return fmt.Errorf("bad TA id %q", idArg)
	}
	id := uintptr(id64)
	filter, err := program(auditArch, rules())
	if err != nil || auditArch == 0 {
		return errors.Join(Supported(), err)
	}
	if err := emptyRoot(); err != nil {
		return err
	}
	for _, l := range []struct {
		res int
		max uint64
	}{{unix.RLIMIT_CORE, 0}, {unix.RLIMIT_NOFILE, maxFDs}} {
		if err := unix.Setrlimit(l.res, &unix.Rlimit{Cur: l.max, Max: l.max}); err != nil {
			return fmt.Errorf("setrlimit %d: %w", l.res, err)
		}
	}
	if err := dropPrivileges(id); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("PR_SET_PDEATHSIG: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("PR_SET_NO_NEW_PRIVS: %w", err)
	}
	if err := landlock(); err != nil {
		return err
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if _, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&prog))); e != 0 {
		return fmt.Errorf("install the seccomp filter: %w", e)
	}
	return execTA()
}

// emptyRoot makes the root a read-only tmpfs holding only the TA program
// (copied from descriptor 4) as /ta, opened as execFD.
func emptyRoot() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(execFD, &st); err != nil {
		return fmt.Errorf("the TA program: %w", err)
	}
	opts := fmt.Sprintf("mode=0555,nr_inodes=4,size=%d", st.Size+1<<16)
	if err := unix.Mount("tzbridge-ta", newRoot, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mount the TA's root: %w", err)
	}
	if err := copyProgram(newRoot + "/" + taName); err != nil {
		return err
	}
	if err := unix.Mount("", newRoot, "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("make the TA's root read-only: %w", err)
	}
	if err := unix.Chdir(newRoot); err != nil {
		return fmt.Errorf("enter the TA's root: %w", err)
	}
	// The old root goes on top of the new one, and is then detached.
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}
	fd, err := unix.Open("/"+taName, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open the TA program: %w", err)
	}
	if fd != execFD {
		if err := unix.Dup3(fd, execFD, unix.O_CLOEXEC); err != nil {
			return fmt.Errorf("dup3: %w", err)
		}
		unix.Close(fd)
	}
	return nil
}

// copyProgram copies descriptor 4 to path, owned by root, mode 0555: the
// TA may run and read it, not change it.
func copyProgram(path string) error {
	dst, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o555)
	if err != nil {
		return fmt.Errorf("create the TA program: %w", err)
	}
	defer unix.Close(dst)
	buf := make([]byte, 256<<10)
	for {
		n, err := unix.Read(execFD, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read the TA program: %w", err)
		}
		if n == 0 {
			break
		}
		for b := buf[:n]; len(b) > 0; {
			m, err := unix.Write(dst, b)
			if err != nil && !errors.Is(err, unix.EINTR) {
				return fmt.Errorf("copy the TA program: %w", err)
			}
			b = b[max(m, 0):]
		}
	}
	if err := unix.Fchmod(dst, 0o555); err != nil { // whatever the umask was
		return fmt.Errorf("chmod the TA program: %w", err)
	}
	return unix.Close(execFD) // replaced by the copy
}

// dropPrivileges empties the bounding and ambient capability sets and the
// supplementary groups, then takes the TA's uid and gid, which leaves no
// capability at all (checked). Raw system calls: they change this thread
// only, which is the one that executes the TA (Go's own wrappers change
// every thread, which a runtime linked with cgo refuses).
func dropPrivileges(id uintptr) error {
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	for c := uintptr(0); c < 64; c++ {
		err := unix.Prctl(unix.PR_CAPBSET_DROP, c, 0, 0, 0)
		if errors.Is(err, unix.EINVAL) {
			break // past the last capability
		}
		if err != nil {
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
		}
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, 0, 0, 0); e != 0 {
		return fmt.Errorf("setgroups: %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, id, id, id); e != 0 {
		return fmt.Errorf("setresgid %d: %w", id, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, id, id, id); e != 0 {
		return fmt.Errorf("setresuid %d: %w", id, e)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	for _, d := range data {
		if d.Effective|d.Permitted|d.Inheritable != 0 {
			return fmt.Errorf("capabilities left after dropping privileges: %+v", data)
		}
	}
	return nil
}

// Landlock access rights, by the ABI version that introduced them.
const (
	llFSv1 = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE |
		unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_READ_DIR |
		unix.LANDLOCK_ACCESS_FS_REMOVE_DIR | unix.LANDLOCK_ACCESS_FS_REMOVE_FILE |
		unix.LANDLOCK_ACCESS_FS_MAKE_CHAR | unix.LANDLOCK_ACCESS_FS_MAKE_DIR |
		unix.LANDLOCK_ACCESS_FS_MAKE_REG | unix.LANDLOCK_ACCESS_FS_MAKE_SOCK |
		unix.LANDLOCK_ACCESS_FS_MAKE_FIFO | unix.LANDLOCK_ACCESS_FS_MAKE_BLOCK |
		unix.LANDLOCK_ACCESS_FS_MAKE_SYM
	llFSv2 = llFSv1 | unix.LANDLOCK_ACCESS_FS_REFER
	llFSv3 = llFSv2 | unix.LANDLOCK_ACCESS_FS_TRUNCATE
	llFSv5 = llFSv3 | unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
	llNet  = unix.LANDLOCK_ACCESS_NET_BIND_TCP | unix.LANDLOCK_ACCESS_NET_CONNECT_TCP
	llScop = unix.LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | unix.LANDLOCK_SCOPE_SIGNAL
)

// landlockAttr is struct landlock_ruleset_attr up to ABI 6.
type landlockAttr struct {
	fs, net, scoped uint64
}

// landlock denies every file access but executing and reading /ta, all
// TCP, and (ABI 6) signals and abstract UNIX sockets beyond the TA's own
// domain. A kernel without Landlock leaves the empty root and seccomp,
// which confine the TA on their own; Landlock is the second wall.
func landlock() error {
	abi, _, e := unix.RawSyscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if e != 0 {
		if e == unix.ENOSYS || e == unix.EOPNOTSUPP {
			return nil
		}
		return fmt.Errorf("landlock ABI version: %w", e)
	}
	attr := landlockAttr{fs: llFSv1}
	size := unsafe.Sizeof(attr.fs)
	switch {
	case abi >= 5:
		attr.fs = llFSv5
	case abi >= 3:
		attr.fs = llFSv3
	case abi >= 2:
		attr.fs = llFSv2
	}
	if abi >= 4 {
		attr.net = llNet
		size += unsafe.Sizeof(attr.net)
	}
	if abi >= 6 {
		attr.scoped = llScop
		size += unsafe.Sizeof(attr.scoped)
	}
	rs, _, e := unix.RawSyscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), size, 0)
	if e != 0 {
		return fmt.Errorf("landlock ruleset: %w", e)
	}
	defer unix.Close(int(rs))
	ta, err := unix.Open("/"+taName, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("landlock: open the TA program: %w", err)
	}
	defer unix.Close(ta)
	rule := unix.LandlockPathBeneathAttr{
		Allowed_access: unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_READ_FILE,
		Parent_fd:      int32(ta),
	}
	if _, _, e := unix.RawSyscall6(unix.SYS_LANDLOCK_ADD_RULE, rs, unix.LANDLOCK_RULE_PATH_BENEATH, uintptr(unsafe.Pointer(&rule)), 0, 0, 0); e != 0 {
		return fmt.Errorf("landlock rule: %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_LANDLOCK_RESTRICT_SELF, rs, 0, 0); e != 0 {
		return fmt.Errorf("landlock_restrict_self: %w", e)
	}
	return nil
}

// execTA executes the TA program: only returns on failure.
func execTA() error {
	empty, err := unix.BytePtrFromString("")
	if err != nil {
		return err
	}
	argv, err := cStrings([]string{taName})
	if err != nil {
		return err
	}
	envv, err := cStrings([]string{"TZBRIDGE_NATIVE=1"}) // host_main.c checks it
	if err != nil {
		return err
	}
	_, _, e := unix.RawSyscall6(unix.SYS_EXECVEAT, execFD, uintptr(unsafe.Pointer(empty)),
		uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envv[0])), unix.AT_EMPTY_PATH, 0)
	runtime.KeepAlive(argv)
	runtime.KeepAlive(envv)
	return fmt.Errorf("execveat the TA program: %w", e)
}

// cStrings is a NULL-terminated array of C strings.
func cStrings(ss []string) ([]*byte, error) {
	p := make([]*byte, 0, len(ss)+1)
	for _, s := range ss {
		b, err := unix.BytePtrFromString(s)
		if err != nil {
			return nil, err
		}
		p = append(p, b)
	}
	return append(p, nil), nil
}
