package supervisor

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/config"
	"github.com/tzmediator/tzbridge/internal/control"
)

// descriptorHeadroom is what a shadow process may hold beyond its TA's
// descriptors: the Go runtime's, the TEE connection and mailbox, the
// control socket and log pipe, the TA root, descriptors held for a moment
// while resolving a path, and the inherited proxy sockets (added on top).
const descriptorHeadroom = 64

// privileges is who a shadow process runs as and what it may do.
type privileges struct {
	uid, gid uint32
	// keep are the capabilities it keeps; every other one leaves its
	// bounding set.
	keep []uintptr
	// limits are set by the shadow process on itself before it does
	// anything else.
	limits []control.Rlimit
}

// privilegesFor works out a TA's shadow privileges from its config.
func privilegesFor(t config.TA) (privileges, error) {
	uid, err := config.LookupUser(t.User)
	if err != nil {
		return privileges{}, err
	}
	gid, err := config.LookupGroup(t.Group)
	if err != nil {
		return privileges{}, err
	}
	p := privileges{uid: uid, gid: gid}
	if t.PrivilegedPorts {
		p.keep = append(p.keep, unix.CAP_NET_BIND_SERVICE)
	}
	needDAC, err := endpointsNeedOverride(t, uid, gid)
	if err != nil {
		return privileges{}, err
	}
	if needDAC {
		p.keep = append(p.keep, unix.CAP_DAC_OVERRIDE)
	}
	nofile := uint64(t.Limits.Descriptors + descriptorHeadroom + len(t.Proxies))
	p.limits = []control.Rlimit{
		{Resource: unix.RLIMIT_NOFILE, Name: "RLIMIT_NOFILE", Value: nofile},
		{Resource: unix.RLIMIT_CORE, Name: "RLIMIT_CORE"}, // the shadow holds TA data: no core dumps
	}
	if t.Limits.Memory > 0 {
		p.limits = append(p.limits, control.Rlimit{Resource: unix.RLIMIT_DATA, Name: "RLIMIT_DATA", Value: uint64(t.Limits.Memory)})
	}
	return p, nil
}

// endpointsNeedOverride reports whether the shadow, as uid/gid, would be
// locked out of one of the TA's declared endpoints by its owner and mode
// (it opens and binds them for the TA), or out of a subdirectory made for
// one (owned by root, mode 0755).
func endpointsNeedOverride(t config.TA, uid, gid uint32) (bool, error) {
	for _, e := range t.Endpoints {
		owner, err := config.LookupUser(e.Owner)
		if err != nil {
			return false, err
		}
		group, err := config.LookupGroup(e.Group)
		if err != nil {
			return false, err
		}
		var rw uint32
		switch {
		case uid == owner:
			rw = e.Mode.Perm >> 6 & 6
		case gid == group:
			rw = e.Mode.Perm >> 3 & 6
		default:
			rw = e.Mode.Perm & 6
		}
		if rw != 6 || (uid != 0 && strings.Contains(e.Name, "/")) {
			return true, nil
		}
	}
	return false, nil
}

// sysProcAttr is how the shadow process is started: its own process
// group (a terminal's ^C goes to the supervisor, which stops the shadows
// in order), SIGKILL when the supervisor's forking thread dies, the TA's
// identity with no supplementary groups and, for a shadow that is not root, its kept capabilities as
// ambient ones (root gets exactly its bounding set).
func (p privileges) sysProcAttr() *syscall.SysProcAttr {
	// Credential even for root: setgroups(0) leaves the shadow none of the
	// supervisor's supplementary groups, which a root shadow without
	// CAP_DAC_OVERRIDE would otherwise be granted access by.
	a := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true,
		Credential: &syscall.Credential{Uid: p.uid, Gid: p.gid, Groups: []uint32{}}}
	if p.uid != 0 {
		a.AmbientCaps = p.keep
	}
	return a
}

// restrictThread prepares the calling thread — locked, about to fork the
// shadow and to be thrown away with it — so that the child inherits the
// restrictions: the capability bounding set is cut down to p.keep, and
// no_new_privs is set (no setuid binary or file capability can give the
// shadow more). Both are per-thread and survive fork and execve.
func (p privileges) restrictThread() error {
	last, err := lastCap()
	if err != nil {
		return err
	}
	for c := 0; c <= last; c++ {
		if p.keeps(uintptr(c)) {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			if err == unix.EINVAL {
				continue // not known to this kernel
			}
			return fmt.Errorf("drop capability %d from the bounding set: %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	return nil
}

func (p privileges) keeps(c uintptr) bool {
	for _, k := range p.keep {
		if k == c {
			return true
		}
	}
	return false
}

// lastCap is the highest capability number the kernel knows.
func lastCap() (int, error) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 0, fmt.Errorf("read the last capability: %w", err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("read the last capability: %w", err)
	}
	return n, nil
}

// capNames names the capabilities a shadow may keep, for the log.
func capNames(caps []uintptr) string {
	if len(caps) == 0 {
		return "none"
	}
	var names []string
	for _, c := range caps {
		switch c {
		case unix.CAP_NET_BIND_SERVICE:
			names = append(names, "net_bind_service")
		case unix.CAP_DAC_OVERRIDE:
			names = append(names, "dac_override")
		default:
			names = append(names, strconv.Itoa(int(c)))
		}
	}
	return strings.Join(names, ",")
}
