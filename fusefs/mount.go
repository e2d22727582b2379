package fusefs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// resolveParent resolves symlinks in mp's parent, so mp compares equal to
// the kernel's spelling in mountinfo. mp itself is not resolved: a dead
// FUSE mount there makes lstat fail.
func resolveParent(mp string) string {
	parent, err := filepath.EvalSymlinks(filepath.Dir(mp))
	if err != nil {
		return mp
	}
	return filepath.Join(parent, filepath.Base(mp))
}

// preflight checks that a mount can work before touching anything, so the
// error names the fix. It returns the fusermount binary, if any.
func preflight(direct bool) (fusermount string, err error) {
	if _, err := os.Stat("/dev/fuse"); err != nil {
		if errors.Is(err, iofs.ErrNotExist) {
			return "", fmt.Errorf("/dev/fuse is missing: load the fuse module (modprobe fuse), or in a container pass the device (--device /dev/fuse)")
		}
		return "", fmt.Errorf("check /dev/fuse: %w", err)
	}
	for _, name := range []string{"fusermount3", "fusermount"} {
		if p, err := exec.LookPath(name); err == nil {
			fusermount = p
			break
		}
	}
	if !direct && fusermount == "" {
		return "", errors.New("not running as root and no fusermount3 in PATH: run as root (mount(2) needs CAP_SYS_ADMIN) or install fusermount3 (apt-get install fuse3)")
	}
	return fusermount, nil
}

// explainMountError adds what to do to the usual ways a mount fails.
func explainMountError(err error, direct bool) error {
	switch {
	case errors.Is(err, syscall.ENODEV):
		return fmt.Errorf("%w: the kernel has no fuse file system type: load the fuse module (modprobe fuse)", err)
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		if direct {
			return fmt.Errorf("%w: mounting is not permitted (mount(2) needs CAP_SYS_ADMIN in the mount namespace's owner, and /dev/fuse must be accessible): run as root outside a restricted container, or install fusermount3", err)
		}
		return fmt.Errorf("%w: run as root, or install fusermount3 and enable user_allow_other in /etc/fuse.conf (the mount uses allow_other)", err)
	case strings.Contains(err.Error(), "fusermount"):
		return fmt.Errorf("%w: fusermount failed; as a non-root user allow_other needs user_allow_other in /etc/fuse.conf, or run as root", err)
	}
	return err
}

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	mountpoint, fstype, source string
}

func (e mountEntry) isFUSE() bool {
	return e.fstype == "fuse" || strings.HasPrefix(e.fstype, "fuse.")
}

// mountsAt lists the mounts whose mountpoint is mp, bottom first.
func mountsAt(mp string) ([]mountEntry, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	return parseMounts(data, mp), nil
}

// fuseMountsAt lists the FUSE mounts whose mountpoint is mp, bottom first.
func fuseMountsAt(mp string) ([]mountEntry, error) {
	all, err := mountsAt(mp)
	if err != nil {
		return nil, err
	}
	var out []mountEntry
	for _, e := range all {
		if e.isFUSE() {
			out = append(out, e)
		}
	}
	return out, nil
}

func parseMounts(mountinfo []byte, mp string) []mountEntry {
	var out []mountEntry
	sc := bufio.NewScanner(bytes.NewReader(mountinfo))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent maj:min root mountpoint options [optional...] - fstype source superopts
		left, right, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		lf, rf := strings.Fields(left), strings.Fields(right)
		if len(lf) < 5 || len(rf) < 2 {
			continue
		}
		e := mountEntry{mountpoint: unescapeMountinfo(lf[4]), fstype: rf[0], source: unescapeMountinfo(rf[1])}
		if e.mountpoint == mp {
			out = append(out, e)
		}
	}
	return out
}

// unescapeMountinfo undoes the kernel's octal escapes (\040 for space and
// the like) in a mountinfo field.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// clearStaleMount lazily unmounts a FUSE mount left at mp, typically by a
// killed earlier run whose connection is gone ("transport endpoint is not
// connected"). mountinfo is consulted first because stat on a mount whose
// server is alive but stuck would hang.
func clearStaleMount(mp string, direct bool, fusermount string, log *slog.Logger) error {
	// Mounts can be stacked; each round removes the top one.
	for range 16 {
		mounts, err := fuseMountsAt(mp)
		if err != nil {
			return err
		}
		var reason, fstype, source string
		switch {
		case len(mounts) > 0:
			m := mounts[len(mounts)-1]
			reason, fstype, source = "fuse mount found in mountinfo", m.fstype, m.source
		default:
			var st syscall.Stat_t
			if err := syscall.Stat(mp, &st); !errors.Is(err, syscall.ENOTCONN) {
				return nil
			}
			reason = "transport endpoint is not connected"
		}
		if err := detach(mp, direct, fusermount); err != nil {
			return fmt.Errorf("clear stale mount (%s): %w", reason, err)
		}
		log.Warn("fusefs: cleared stale mount left by an earlier run", "mountpoint", mp, "reason", reason, "fstype", fstype, "source", source)
	}
	return fmt.Errorf("clear stale mount: still mounted after 16 lazy unmounts")
}

// detach lazily unmounts mp.
func detach(mp string, direct bool, fusermount string) error {
	if direct {
		if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("umount2(MNT_DETACH): %w", err)
		}
		return nil
	}
	return runFusermount(fusermount, "-u", "-z", mp)
}

func runFusermount(bin string, args ...string) error {
	if bin == "" {
		return errors.New("no fusermount3 in PATH")
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", bin, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// unmount takes the tree off its mountpoint. A plain unmount lets the kernel
// destroy the connection, which stops the serve loop. If files are open or a
// client is blocked in a FIFO open, the mount is busy: then MNT_FORCE makes
// the kernel abort the FUSE connection (the serve loop sees ENODEV) and
// MNT_DETACH takes the mount out of the tree at once, leaving the busy
// files working off a detached superblock.
func (f *FS) unmount() error {
	mp := f.mountpoint
	if !f.direct {
		fusermount, _ := exec.LookPath("fusermount3")
		if fusermount == "" {
			fusermount, _ = exec.LookPath("fusermount")
		}
		if err := runFusermount(fusermount, "-u", mp); err == nil {
			return nil
		}
		f.log.Warn("fusefs: mount busy, detaching lazily", "mountpoint", mp)
		if err := runFusermount(fusermount, "-u", "-z", mp); err != nil {
			return fmt.Errorf("fusefs: unmount %s: %w", mp, err)
		}
		return nil
	}
	if !f.ownsMountpoint() {
		// Someone detached our mount, or mounted over it: unmounting
		// by path would hit a mount that is not ours. Shutdown then
		// relies on the serve loop stopping by itself or on the
		// fusectl abort.
		f.log.Warn("fusefs: our mount is no longer on top at the mountpoint; not unmounting it by path", "mountpoint", mp)
		return nil
	}
	err := unix.Unmount(mp, 0)
	if err == nil {
		return nil
	}
	if !errors.Is(err, syscall.EBUSY) {
		// EINVAL: no longer a mount point (someone unmounted it);
		// shutdown then relies on the serve loop stopping by itself
		// or on the fusectl abort.
		return fmt.Errorf("fusefs: unmount %s: %w", mp, err)
	}
	f.log.Info("fusefs: mount busy, aborting the connection and detaching", "mountpoint", mp)
	if err := unix.Unmount(mp, unix.MNT_FORCE|unix.MNT_DETACH); err != nil {
		return fmt.Errorf("fusefs: unmount %s: umount2(MNT_FORCE|MNT_DETACH): %w", mp, err)
	}
	return nil
}

// ownsMountpoint reports whether the topmost mount at the mountpoint is
// still this file system. If that cannot be told, it says yes: unmounting
// is then the better guess.
func (f *FS) ownsMountpoint() bool {
	if f.mountID == 0 {
		return true
	}
	id, _, ok := mountIdentity(f.mountpoint)
	return !ok || id == f.mountID
}

// mountIdentity returns the id of the mount at mp — the unique one that is
// never reused (Linux 6.8+) or else the classic one — and the number of the
// FUSE connection behind it. Device numbers and classic mount ids are
// recycled as soon as a mount goes away, so they cannot tell a new mount
// from an old one.
func mountIdentity(mp string) (mountID uint64, connID uint32, ok bool) {
	var stx unix.Statx_t
	// AT_STATX_DONT_SYNC: none of this needs the file system's
	// attributes, so a stuck or dead FUSE server at mp is not asked.
	err := unix.Statx(unix.AT_FDCWD, mp, unix.AT_STATX_DONT_SYNC|unix.AT_SYMLINK_NOFOLLOW,
		unix.STATX_MNT_ID_UNIQUE|unix.STATX_MNT_ID, &stx)
	if err != nil || stx.Mask&(unix.STATX_MNT_ID_UNIQUE|unix.STATX_MNT_ID) == 0 {
		return 0, 0, false
	}
	// FUSE superblocks get anonymous devices, major 0: the minor is the
	// connection's number under /sys/fs/fuse/connections.
	return stx.Mnt_id, stx.Dev_minor, true
}

// abortConnection aborts FUSE connection id through fusectl, if it is
// mounted; it is the fallback when the mount is gone but the connection
// still holds the serve loop.
func abortConnection(id uint32) error {
	if id == 0 {
		return errors.New("fusefs: abort connection: connection id unknown")
	}
	err := writeAbort("/sys/fs/fuse/connections", id)
	if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	// fusectl is not mounted where the service manager usually puts it.
	// It can be mounted anywhere: do so, privately and briefly, rather
	// than change the machine's mounts for good.
	dir, derr := os.MkdirTemp("", "tzbridge-fusectl.")
	if derr != nil {
		return fmt.Errorf("fusefs: abort connection %d: %w", id, derr)
	}
	defer os.Remove(dir)
	if merr := unix.Mount("fusectl", dir, "fusectl", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); merr != nil {
		return fmt.Errorf("fusefs: abort connection %d: fusectl is not mounted on /sys/fs/fuse/connections and mounting it failed: %w", id, merr)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	return writeAbort(dir, id)
}

// writeAbort aborts connection id through the fusectl tree at dir.
func writeAbort(dir string, id uint32) error {
	p := filepath.Join(dir, strconv.FormatUint(uint64(id), 10), "abort")
	if err := os.WriteFile(p, []byte("1"), 0); err != nil {
		return fmt.Errorf("fusefs: abort connection %d: %w", id, err)
	}
	return nil
}

// ProcessID returns the process (thread group) id of thread tid, as seen in
// this process's /proc. FUSE reports the calling thread's id as
// fuse.Caller.Pid; a MayModify hook that trusts processes by pid needs this
// to match a multi-threaded caller.
func ProcessID(tid uint32) (int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", tid))
	if err != nil {
		return 0, fmt.Errorf("fusefs: process of thread %d: %w", tid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 64<<10))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Tgid:"); ok {
			pid, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return 0, fmt.Errorf("fusefs: process of thread %d: parse Tgid %q: %w", tid, v, err)
			}
			return pid, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("fusefs: process of thread %d: %w", tid, err)
	}
	return 0, fmt.Errorf("fusefs: process of thread %d: no Tgid line", tid)
}
