// Package test holds tzbridge's end-to-end tests: they build the tzbridge
// binary, run `tzbridge run` as a user would, and drive the TAs with
// unmodified client programs — shell tools, socat, and Go code that uses
// only os and net.
package test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/internal/syncbuf"
	"github.com/tzmediator/tzbridge/sockproxy"
)

// tzbridgePath is the binary under test, built once by TestMain; tests
// use tzbridgeBin.
var (
	tzbridgePath string
	statOnce     sync.Once
)

// tzbridgeBin returns the binary under test. The first call, from inside
// a test (where go test records what the test looks at, unlike TestMain),
// looks at the tree's sources: see statSources.
func tzbridgeBin() string {
	statOnce.Do(func() { statSources("..") })
	return tzbridgePath
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tzbridge-e2e.")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tzbridgePath = filepath.Join(dir, "tzbridge")
	// -buildvcs=auto: the revision is stamped in a checkout (TestVersion)
	// even where GOFLAGS turns stamping off, and a tree without git still
	// builds.
	build := exec.Command("go", "build", "-buildvcs=auto", "-o", tzbridgePath, "../cmd/tzbridge")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building tzbridge:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// statSources looks at every source file of the module under root. These
// tests build tzbridge in a child process, which go test's cache cannot
// see; files the test process itself looks at are part of a cached
// result's key, so a change anywhere in the tree runs the tests again
// instead of replaying a result for another binary.
func statSources(root string) {
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return nil
		case d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata"):
			return filepath.SkipDir
		case d.IsDir():
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".c", ".h", ".S", ".mod", ".sum", ".yaml":
			os.Stat(path)
		}
		return nil
	})
}

// bridge is one `tzbridge run` under test.
type bridge struct {
	t     testing.TB
	cmd   *exec.Cmd
	mount string
	log   *syncbuf.Buffer
	done  chan struct{}
	err   error
}

const echoUUID = "0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60"

// echoConfig is the demo configuration, with the tree in a test directory.
func echoConfig(mount string) string {
	return fmt.Sprintf("mount: %s\ntee: sim\ntas:\n  - name: echo\n    uuid: %s\n    builtin: echo\n", mount, echoUUID)
}

// startBridge runs `tzbridge run` with configYAML (which may use %[1]s for
// the mount directory) and waits until ready reports true. It is stopped
// and checked at the end of the test, also when the test fails.
func startBridge(t testing.TB, configYAML string, ready func(mount string) bool) *bridge {
	t.Helper()
	return startBridgeAt(t, filepath.Join(t.TempDir(), "tz"), configYAML, ready)
}

// startBridgeAt is startBridge with the tree at mount.
func startBridgeAt(t testing.TB, mount, configYAML string, ready func(mount string) bool) *bridge {
	t.Helper()
	cfgPath := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(strings.ReplaceAll(configYAML, "%[1]s", mount)), 0o644); err != nil {
		t.Fatal(err)
	}
	b := launchBridge(t, mount, cfgPath, nil)
	deadline := time.Now().Add(20 * time.Second)
	for !ready(mount) {
		select {
		case <-b.done:
			t.Fatalf("tzbridge exited before it was ready: %v\n%s", b.err, b.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("tzbridge not ready after 20s\n%s", b.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return b
}

// launchBridge starts `tzbridge run --config cfgPath` with env added to
// the environment, and stops it (and shows its log if the test failed) at
// the end of the test.
func launchBridge(t testing.TB, mount, cfgPath string, env []string) *bridge {
	t.Helper()
	b := &bridge{t: t, mount: mount, log: &syncbuf.Buffer{}, done: make(chan struct{})}
	b.cmd = exec.Command(tzbridgeBin(), "run", "--config", cfgPath, "--log-level", "debug")
	b.cmd.Env = append(os.Environ(), env...)
	b.cmd.Stdout, b.cmd.Stderr = b.log, b.log
	b.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		b.err = b.cmd.Wait()
		close(b.done)
	}()
	t.Cleanup(func() {
		b.stop()
		if t.Failed() {
			t.Logf("tzbridge log:\n%s", b.log.String())
		}
	})
	return b
}

// stop sends SIGTERM and waits; it kills the bridge if it hangs, so that a
// failing test still leaves nothing running.
func (b *bridge) stop() time.Duration {
	start := time.Now()
	select {
	case <-b.done:
		return 0
	default:
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.done
		b.t.Errorf("tzbridge did not exit within 10s of SIGTERM")
		b.removeLeftovers()
	}
	return time.Since(start)
}

// checkStoppedInGrace fails the test if the bridge's log says a shadow or
// the secure world had to be killed after SIGTERM: a clean stop is a
// condition on what happened, not on how long it took.
func checkStoppedInGrace(t *testing.T, b *bridge) {
	t.Helper()
	for _, line := range strings.Split(b.log.String(), "\n") {
		if strings.Contains(line, "did not stop within") {
			t.Errorf("not stopped by SIGTERM alone: %s", line)
		}
	}
}

// createdNamespace finds the namespaces a bridge's log says it made.
var createdNamespace = regexp.MustCompile(`msg="network namespace created".* netns=(tz-[a-z0-9_-]+)`)

// removeLeftovers undoes what a bridge killed with SIGKILL leaves behind
// (its mount, its TAs' network namespaces), so that a test which had to
// kill it does not leave the machine dirty.
func (b *bridge) removeLeftovers() {
	_ = syscall.Unmount(b.mount, syscall.MNT_DETACH)
	for _, m := range createdNamespace.FindAllStringSubmatch(b.log.String(), -1) {
		p := filepath.Join(sockproxy.NetnsDir, m[1])
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err == nil {
			os.Remove(p)
		}
	}
}

// waitLog waits until the bridge's log contains want; lines from TAs that
// start in parallel arrive in no fixed order.
func (b *bridge) waitLog(want string, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for !strings.Contains(b.log.String(), want) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

func (b *bridge) path(elem ...string) string {
	return filepath.Join(append([]string{b.mount}, elem...)...)
}

// echoReady reports whether every endpoint of the echo demo answers.
func echoReady(mount string) bool { return demoReady(mount, "echo", "127.0.0.1:7000", 7001) }

// demoReady reports whether an echo TA serving the demo's endpoints (the
// built-in echo, the C example, the translated wasm example) is ready:
// its FIFOs and socket node exist under mount/ta, its TCP address accepts,
// and its UDP port is bound. Each of them binds UDP after TCP. A probe
// datagram would show in the byte counts some tests assert, so the UDP
// socket is looked for in the kernel's table instead.
func demoReady(mount, ta, tcp string, udpPort int) bool {
	for _, p := range []string{"in", "out", "echo.sock"} {
		if _, err := os.Stat(filepath.Join(mount, ta, p)); err != nil {
			return false
		}
	}
	c, err := net.DialTimeout("tcp", tcp, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return udpBound(udpPort)
}

// udpBound reports whether a UDP socket in the calling thread's network
// namespace (some tests move one locked thread into a namespace of its own,
// so not /proc/self's) is bound to 127.0.0.1:port. The table lists local
// addresses as hex little-endian IPv4 and hex port: 0100007F:1B59 for
// 127.0.0.1:7001.
func udpBound(port int) bool {
	b, err := os.ReadFile("/proc/thread-self/net/udp")
	if err != nil {
		return false
	}
	want := fmt.Sprintf("0100007F:%04X", port)
	for _, line := range strings.Split(string(b), "\n")[1:] {
		if f := strings.Fields(line); len(f) > 1 && f[1] == want {
			return true
		}
	}
	return false
}

// run runs a client program with a deadline, returning its stdout.
func run(t *testing.T, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	return out
}

func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed (.ci/run installs it)", name)
	}
}
