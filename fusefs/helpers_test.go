package fusefs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The test binary doubles as a helper process, selected by this variable:
// a FUSE server to kill (stale mount test) or an unprivileged client
// (permission test).
const helperEnv = "TZFUSEFS_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "serve":
		helperServe()
	case "open":
		helperOpen()
	case "mkfifo":
		helperMkfifo()
	default:
		fmt.Fprintf(os.Stderr, "unknown helper %q\n", os.Getenv(helperEnv))
		os.Exit(2)
	}
}

// helperServe mounts at $TZFUSEFS_MP, adds TA "echo" and serves until
// killed.
func helperServe() {
	f, err := Mount(context.Background(), Options{Mountpoint: os.Getenv("TZFUSEFS_MP")})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	if _, err := f.AddTA("echo", TAOptions{Endpoints: []Endpoint{{Name: "in", Kind: FIFO, Mode: 0o666}}}); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	select {}
}

// helperOpen opens $TZFUSEFS_PATH with O_RDWR|O_NONBLOCK (or O_RDONLY,
// blocking, if $TZFUSEFS_BLOCK is set) and prints "ok" or the errno.
func helperOpen() {
	flags := unix.O_RDWR | unix.O_NONBLOCK
	if os.Getenv("TZFUSEFS_BLOCK") != "" {
		flags = unix.O_RDONLY
		fmt.Println("opening")
	}
	fd, err := unix.Open(os.Getenv("TZFUSEFS_PATH"), flags|unix.O_CLOEXEC, 0)
	printResult(err)
	if err == nil {
		unix.Close(fd)
	}
}

func helperMkfifo() {
	printResult(unix.Mkfifo(os.Getenv("TZFUSEFS_PATH"), 0o666))
}

func printResult(err error) {
	var errno syscall.Errno
	switch {
	case err == nil:
		fmt.Println("ok")
	case errors.As(err, &errno):
		fmt.Println(unix.ErrnoName(errno))
	default:
		fmt.Println("error:", err)
	}
}

// requireFUSE skips tests that mount when the machine cannot.
func requireFUSE(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("mounting needs root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		tb.Skipf("no /dev/fuse: %v", err)
	}
}

// testLog collects log lines so tests can assert on them.
type testLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// mountTest mounts a tree in a fresh temporary directory and makes sure it
// is gone when the test ends, whatever happened.
func mountTest(tb testing.TB, opts Options) *FS {
	tb.Helper()
	requireFUSE(tb)
	if opts.Mountpoint == "" {
		opts.Mountpoint = filepath.Join(tb.TempDir(), "tz")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(testWriter{tb}, nil))
	}
	// TZFUSEFS_TTL=0 runs the suite without kernel caching, to show that
	// correctness does not depend on the cache lifetime.
	if v := os.Getenv("TZFUSEFS_TTL"); v != "" && opts.cacheTTL == nil {
		ttl, err := time.ParseDuration(v)
		if err != nil {
			tb.Fatalf("TZFUSEFS_TTL: %v", err)
		}
		opts.cacheTTL = &ttl
	}
	f, err := Mount(context.Background(), opts)
	if err != nil {
		tb.Fatalf("Mount: %v", err)
	}
	// Registered after TempDir's cleanup, so it runs before the
	// directory is removed.
	tb.Cleanup(func() {
		if err := f.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
		forceUnmount(tb, f.Mountpoint())
	})
	return f
}

// forceUnmount removes any FUSE mount left at mp.
func forceUnmount(tb testing.TB, mp string) {
	for range 8 {
		ms, err := fuseMountsAt(mp)
		if err != nil || len(ms) == 0 {
			return
		}
		tb.Errorf("mount left at %s, removing it", mp)
		if err := unix.Unmount(mp, unix.MNT_FORCE|unix.MNT_DETACH); err != nil {
			tb.Errorf("unmount %s: %v", mp, err)
			return
		}
	}
}

type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func addTA(tb testing.TB, f *FS, name string, opts TAOptions) string {
	tb.Helper()
	root, err := f.AddTA(name, opts)
	if err != nil {
		tb.Fatalf("AddTA(%q): %v", name, err)
	}
	return root
}

// helperCmd runs the test binary in helper mode. The binary is copied to a
// world-readable place so that an unprivileged child can execute it.
func helperCmd(tb testing.TB, mode string, env ...string) *exec.Cmd {
	tb.Helper()
	exe := worldExecutable(tb)
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{helperEnv + "=" + mode}, env...)...)
	return cmd
}

func worldExecutable(tb testing.TB) string {
	tb.Helper()
	self, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "fusefs-helper-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	dst := filepath.Join(dir, "helper")
	in, err := os.Open(self)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		tb.Fatal(err)
	}
	if err := out.Close(); err != nil {
		tb.Fatal(err)
	}
	return dst
}

// readLine reads one line from r, failing the test after d.
func readLine(tb testing.TB, r *bufio.Reader, d time.Duration) string {
	tb.Helper()
	ch := make(chan string, 1)
	go func() {
		s, _ := r.ReadString('\n')
		ch <- strings.TrimSpace(s)
	}()
	select {
	case s := <-ch:
		return s
	case <-time.After(d):
		tb.Fatalf("no line from helper within %v", d)
		return ""
	}
}

// errnoOf extracts the errno from err, 0 for nil.
func errnoOf(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return syscall.Errno(^uintptr(0) >> 1)
}

func countFDs(tb testing.TB) int {
	tb.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		tb.Fatal(err)
	}
	return len(ents)
}

func isMounted(tb testing.TB, mp string) bool {
	tb.Helper()
	ms, err := fuseMountsAt(mp)
	if err != nil {
		tb.Fatal(err)
	}
	return len(ms) > 0
}
