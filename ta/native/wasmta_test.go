package native

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/shadow"
	"github.com/tzmediator/tzbridge/teeclient"
)

var wasmFaultyUUID = teeclient.MustParseUUID("5e1f0c2a-3b4d-4e6f-8a9b-0c1d2e3f4a60")

// buildWasmTA compiles src (C) to wasm32-wasi and turns it into a native
// TA with ta/wasm2ta; a missing tool fails the test (.ci/run installs
// them).
func buildWasmTA(t testing.TB, src, uuid string, args ...string) string {
	t.Helper()
	for _, tool := range []string{"clang", "wasm2c", "gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (Debian packages clang lld wasi-libc libclang-rt-14-dev-wasm32 wabt gcc): %v", tool, err)
		}
	}
	dir := t.TempDir()
	wasm, tool, bin := filepath.Join(dir, "m.wasm"), filepath.Join(dir, "wasm2ta"), filepath.Join(dir, "ta")
	steps := [][]string{
		{"clang", "--target=wasm32-wasi", "-O1", "-Wall", "-Wextra", "-Werror", "-I../c/wasi/guest", "-o", wasm, src},
		{"go", "build", "-o", tool, "../wasm2ta"},
		append(append([]string{tool, "-uuid", uuid, "-tzposix", "../c", "-o", filepath.Join(dir, "src"), "-native", bin}, args...), wasm),
	}
	for _, s := range steps {
		if out, err := exec.Command(s[0], s[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", s, err, out)
		}
	}
	return bin
}

// TestWasmTAFaults: in a TA translated by wasm2ta, a trap (unreachable,
// an access outside memory, a call stack too deep) panics the TA, which
// the CA sees as TARGET_DEAD, as the simulator's wasm host does;
// proc_exit and returning from main are the EXIT status, and memory.grow
// past the cap fails (malloc returns NULL).
func TestWasmTAFaults(t *testing.T) {
	bin := buildWasmTA(t, filepath.Join("..", "wasm2ta", "testdata", "faulty.c"), wasmFaultyUUID.String(),
		"-memory", "8388608")
	def, err := Definition("wfaulty", wasmFaultyUUID, bin)
	if err != nil {
		t.Fatal(err)
	}
	w := startWorld(t, def)
	dead := func(err error) bool { return errors.Is(err, teeclient.ErrorTargetDead) }
	status := func(n int) func(error) bool {
		return func(err error) bool {
			var ee *shadow.ExitError
			if n == 0 {
				return err == nil
			}
			return errors.As(err, &ee) && ee.Status == n
		}
	}
	tests := []struct {
		cmd  string
		want func(error) bool
	}{
		{"u", dead},
		{"o", dead},
		{"r", dead},
		{"e", status(7)},
		{"x", status(0)},
		{"g", status(3)},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			root, done, _ := runShadow(t, w, "wfaulty", wasmFaultyUUID)
			fifo := filepath.Join(root, "cmd")
			deadline := time.Now().Add(10 * time.Second)
			for {
				if _, err := os.Stat(fifo); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the TA did not make /cmd")
				}
				time.Sleep(10 * time.Millisecond)
			}
			f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.WriteString(tt.cmd)
			f.Close()
			select {
			case err := <-done:
				done <- err // for the cleanup
				if !tt.want(err) {
					t.Fatalf("shadow Run = %v", err)
				}
				t.Logf("shadow Run = %v", err)
			case <-time.After(20 * time.Second):
				t.Fatal("the shadow did not end")
			}
		})
	}
}
