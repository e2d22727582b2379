// Package sandbox confines a native TA's process in the simulated secure
// world as tightly as OP-TEE confines a TA, where a TA has no system calls
// at all and reaches the normal world only through the TEE.
//
// Command starts the TA program through a launcher: this very binary
// (/proc/self/exe), recognised by its argv[0] in this package's init, in
// new mount, network, IPC, UTS, PID and cgroup namespaces. The launcher,
// still root there, then
//
//   - makes an empty root: a tmpfs holding only a copy of the TA program,
//     read-only, pivoted to and the old root detached, so no path leads to
//     the host's files;
//   - limits core dumps (none) and descriptors;
//   - drops every capability from the bounding set, clears supplementary
//     groups and becomes the TA's own uid and gid (ID);
//   - sets PR_SET_PDEATHSIG again (a change of credentials clears it) and
//     PR_SET_NO_NEW_PRIVS;
//   - restricts itself with Landlock where the kernel has it: no file
//     access but executing /ta, no TCP, no signals or abstract UNIX
//     sockets outside the domain;
//   - installs the seccomp allow-list of rules.go;
//   - and executes the TA with execveat on a close-on-exec descriptor.
//
// Everything runs on the launcher's main thread, before main: the state
// that execve keeps is that thread's, and execve ends every other thread
// of the Go runtime. So the filter is installed on that thread alone, not
// with SECCOMP_FILTER_FLAG_TSYNC: nothing untrusted runs before execve,
// and the runtime's other threads, filtered, could fail in their own
// calls (a netpoller's epoll_pwait) in the few microseconds left.
//
// Setting up namespaces needs root (CAP_SYS_ADMIN); without it Command's
// process fails to start, and the TA with it: a native TA never runs
// unconfined.
package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// launcherArg0 marks the launcher: argv[0] of the re-executed binary.
const launcherArg0 = "tzbridge-native-ta-sandbox"

// TA identities: uid and gid FirstID + (FNV-1a of the TA's UUID) mod IDs.
// The range lies in what systemd documents as unused (1879048192 to
// 2147483647: above the container ranges, below 2^31 where signed uid
// bugs live), so no account of the host and no shadow (which runs as a
// configured, named user) has one of these ids; CheckID verifies that for
// a TA's id. Two TAs whose UUIDs hash alike share an id, which gives
// neither anything: a sandboxed TA can neither signal, trace nor open
// anything by uid.
const (
	FirstID = 2_000_000_000
	IDs     = 1 << 16
)

// ID is the uid and gid the TA with this UUID runs as.
func ID(uuid [16]byte) uint32 {
	h := fnv.New32a()
	h.Write(uuid[:])
	return FirstID + h.Sum32()%IDs
}

// CheckID reports an error if id names an account or group of the host
// (/etc/passwd, /etc/group): the TA would share its files and processes.
func CheckID(id uint32) error {
	for _, f := range []string{"/etc/passwd", "/etc/group"} {
		name, err := idIn(f, id)
		if err != nil {
			return err
		}
		if name != "" {
			return fmt.Errorf("native TA id %d belongs to %q in %s: the range %d-%d is reserved for sandboxed TAs", id, name, f, FirstID, FirstID+IDs-1)
		}
	}
	return nil
}

// idIn finds the entry with id in its third field.
func idIn(path string, id uint32) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("check the native TA id: %w", err)
	}
	defer f.Close()
	want := strconv.FormatUint(uint64(id), 10)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) > 2 && fields[2] == want {
			return fields[0], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("check the native TA id: read %s: %w", path, err)
	}
	return "", nil
}

// Supported says whether this build can confine a native TA on this
// machine's architecture.
func Supported() error {
	if auditArch == 0 {
		return errors.New("no seccomp filter for this architecture: native TAs cannot be confined")
	}
	return nil
}

// Command returns the command that runs the program open as prog, as id,
// with ctl as its descriptor 3, confined. The caller sets Stdout and
// Stderr (the TA's diagnostics) and starts it.
func Command(prog, ctl *os.File, id uint32) *exec.Cmd {
	return &exec.Cmd{
		// The launcher is this binary, whatever its path has become.
		Path: "/proc/self/exe",
		Args: []string{launcherArg0, strconv.FormatUint(uint64(id), 10)},
		// Nothing of the secure world's environment reaches the TA.
		Env:        []string{},
		Dir:        "/",
		ExtraFiles: []*os.File{ctl, prog}, // descriptors 3 and 4
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC |
				syscall.CLONE_NEWUTS | syscall.CLONE_NEWPID | syscall.CLONE_NEWCGROUP,
		},
	}
}
