package wasm

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildGuest compiles a Go program for GOOS=wasip1 with the local
// toolchain. The go command running this test always supports wasip1, so
// a failed build means broken guest code and fails the test.
func buildGuest(t *testing.T, pkg string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a wasm module: not in -short")
	}
	out := filepath.Join(t.TempDir(), filepath.Base(pkg)+".wasm")
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=wasip1 go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// TestGoGuest runs an unmodified-style Go program (testdata/probe) as a TA
// against a real shadow: files, a FIFO, timers, TCP, UNIX and UDP sockets,
// a preopened listener and deadlines, all through the host.
func TestGoGuest(t *testing.T) {
	bin := buildGuest(t, "./testdata/probe")
	r := newRig(t, bin, addrs(t, "unix:/pre.sock"), Options{})
	got := r.runFor(2 * time.Minute)
	log := r.log.String()
	if got != (outcome{exited: true, status: 0}) || !strings.Contains(log, "probe: ok") {
		t.Fatalf("outcome %+v\n%s", got, log)
	}
	for _, step := range []string{"files", "fifo", "timers", "preopened listener", "unix", "tcp", "udp"} {
		if !strings.Contains(log, "probe: "+step+" ok") {
			t.Errorf("step %s not reported", step)
		}
	}
	// What the TA did stayed in its root.
	if _, err := os.Stat(filepath.Join(r.root, "pre.sock")); err != nil {
		t.Errorf("preopened socket not in the root: %v", err)
	}
}

// TestLargeModuleStart measures how long an 11 MB module (testdata/big)
// takes to start: compiled cold, then again with the compiled code in the
// cache, as after a restart of the bridge. It logs the times and asserts
// none. Run it with: TZBRIDGE_WASM_BIG=1 go test ./ta/wasm -run Large -v
func TestLargeModuleStart(t *testing.T) {
	if os.Getenv("TZBRIDGE_WASM_BIG") == "" {
		t.Skip("set TZBRIDGE_WASM_BIG=1 to measure")
	}
	bin := buildGuest(t, "./testdata/big")
	fi, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	for _, run := range []string{"cold", "cached"} {
		start := time.Now()
		// A new rig is a new Definition: compiled anew, as in a new process.
		r := newRig(t, bin, nil, Options{CacheDir: cache})
		if got := r.runFor(5 * time.Minute); got != (outcome{exited: true}) || !strings.Contains(r.log.String(), "big: ready") {
			t.Fatalf("%s: %+v\n%s", run, got, r.log.String())
		}
		t.Logf("%d-byte module, %s: started and exited in %v", fi.Size(), run, time.Since(start).Round(time.Millisecond))
	}
}
