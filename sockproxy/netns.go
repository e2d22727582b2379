package sockproxy

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/internal/netif"
)

// NetnsDir is where named network namespaces are mounted, as iproute2
// expects them.
const NetnsDir = "/run/netns"

// NamePrefix starts the name of every namespace tzbridge makes.
const NamePrefix = "tz-"

// NamespaceName is the name of the namespace of the TA named ta.
func NamespaceName(ta string) string { return NamePrefix + ta }

// Namespace is a named network namespace mounted at Path.
type Namespace struct {
	Name string
	Path string
	// lock is the namespace (an nsfs inode), open and flock'ed for as
	// long as this process owns the name: another run finds it locked,
	// and a run killed with -9 leaves it unlocked, hence stale.
	lock *os.File
}

// CreateNamespace makes the network namespace name, mounted at
// /run/netns/name, with the loopback interface up and nothing else. The
// caller owns it until Delete: it holds an exclusive flock(2) on it. A
// namespace of that name that nobody owns — left behind by an earlier run
// that was killed — is removed first, and log says so; one that another
// running process owns is an error.
func CreateNamespace(name string, log *slog.Logger) (*Namespace, error) {
	if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
		return nil, fmt.Errorf("sockproxy: bad namespace name %q", name)
	}
	if err := sharedNetnsDir(); err != nil {
		return nil, err
	}
	n := &Namespace{Name: name, Path: filepath.Join(NetnsDir, name)}
	if _, err := os.Lstat(n.Path); err == nil {
		if err := n.removeStale(log); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(n.Path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0)
	if err != nil {
		return nil, fmt.Errorf("sockproxy: create namespace %s: %w", name, err)
	}
	f.Close()
	err = inNamespace(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare: %w", err)
		}
		return nil
	}, func() error {
		self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
		if err := unix.Mount(self, n.Path, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind-mount %s: %w", self, err)
		}
		return netif.LoopbackUp()
	})
	if err == nil {
		n.lock, err = lockNamespace(n.Path)
	}
	if err != nil {
		_ = unix.Unmount(n.Path, unix.MNT_DETACH)
		_ = os.Remove(n.Path)
		return nil, fmt.Errorf("sockproxy: create namespace %s: %w", name, err)
	}
	return n, nil
}

// lockNamespace opens the namespace at path and takes its exclusive lock,
// failing with EWOULDBLOCK when another process holds it.
func lockNamespace(path string) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// sharedNetnsDir makes /run/netns a shared mount point, as iproute2 does,
// so that a namespace mounted there is also seen from mount namespaces
// made later (`ip netns exec` makes one).
func sharedNetnsDir() error {
	if err := os.MkdirAll(NetnsDir, 0o755); err != nil {
		return fmt.Errorf("sockproxy: %w", err)
	}
	for bound := false; ; bound = true {
		err := unix.Mount("", NetnsDir, "none", unix.MS_SHARED|unix.MS_REC, "")
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EINVAL) || bound {
			return fmt.Errorf("sockproxy: make %s a shared mount: %w", NetnsDir, err)
		}
		// Not a mount point yet: bind it onto itself first.
		if err := unix.Mount(NetnsDir, NetnsDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("sockproxy: bind-mount %s onto itself: %w", NetnsDir, err)
		}
	}
}

// removeStale removes the namespace left at n.Path by an earlier run,
// unless its owner still runs.
func (n *Namespace) removeStale(log *slog.Logger) error {
	if n.mounted() {
		lock, err := lockNamespace(n.Path)
		if errors.Is(err, unix.EWOULDBLOCK) {
			return fmt.Errorf("sockproxy: namespace %s belongs to another running process (another tzbridge serving a TA of that name?)", n.Name)
		}
		if err != nil {
			return fmt.Errorf("sockproxy: %w", err)
		}
		defer lock.Close()
	}
	if err := n.unmount(); err != nil {
		return fmt.Errorf("sockproxy: remove stale namespace %s: %w", n.Name, err)
	}
	if log != nil {
		log.Warn("removed a stale network namespace left by an earlier run", "netns", n.Name, "path", n.Path)
	}
	return nil
}

// mounted reports whether a namespace is mounted at n.Path.
func (n *Namespace) mounted() bool {
	var st unix.Statfs_t
	return unix.Statfs(n.Path, &st) == nil && st.Type == unix.NSFS_MAGIC
}

// Delete removes the namespace's name — its mount and the mount point,
// if they are still this namespace's — and gives up its ownership. The
// namespace itself ends when no process is left in it.
func (n *Namespace) Delete() error {
	if n.lock == nil {
		return nil
	}
	defer func() {
		n.lock.Close()
		n.lock = nil
	}()
	var held, there unix.Stat_t
	if unix.Fstat(int(n.lock.Fd()), &held) != nil || unix.Stat(n.Path, &there) != nil || held.Dev != there.Dev || held.Ino != there.Ino {
		return fmt.Errorf("sockproxy: delete namespace %s: %s is no longer this namespace; left alone", n.Name, n.Path)
	}
	if err := n.unmount(); err != nil {
		return fmt.Errorf("sockproxy: delete namespace %s: %w", n.Name, err)
	}
	return nil
}

// unmount removes the mount at n.Path and the mount point.
func (n *Namespace) unmount() error {
	var errs []error
	if err := unix.Unmount(n.Path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		errs = append(errs, fmt.Errorf("unmount %s: %w", n.Path, err))
	}
	if err := os.Remove(n.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Open returns a descriptor of the namespace, for setns(2). The caller
// closes it.
func (n *Namespace) Open() (*os.File, error) {
	h, err := netns.GetFromPath(n.Path)
	if err != nil {
		return nil, fmt.Errorf("sockproxy: open namespace %s: %w", n.Name, err)
	}
	return os.NewFile(uintptr(h), n.Path), nil
}

// Do runs fn on an OS thread that is in the network namespace name (as
// `ip netns exec` would; name may also be a path such as
// /proc/PID/ns/net): sockets fn creates belong to that namespace, and
// keep it afterwards. fn must not start goroutines that expect to be in
// it.
func Do(name string, fn func() error) error {
	path := name
	if !strings.Contains(name, "/") {
		path = filepath.Join(NetnsDir, name)
	}
	return inNamespace(func() error {
		h, err := netns.GetFromPath(path)
		if err != nil {
			return fmt.Errorf("sockproxy: open namespace %s: %w", name, err)
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			return fmt.Errorf("sockproxy: enter namespace %s: %w", name, err)
		}
		return nil
	}, fn)
}

// inNamespace runs enter and then fn on a goroutine locked to its OS
// thread, enter moving the thread to another network namespace. The
// thread then goes back to its namespace and is unlocked; if it cannot go
// back it stays locked, and the runtime destroys it with the goroutine.
// Threads are not destroyed needlessly: a child process started with
// Pdeathsig from a thread that ends gets killed, and the runtime may well
// run this goroutine on the thread that started one.
func inNamespace(enter, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread() // nothing changed yet
			errc <- fmt.Errorf("sockproxy: this thread's namespace: %w", err)
			return
		}
		defer orig.Close()
		err = enter()
		if err == nil {
			err = fn()
		}
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}
