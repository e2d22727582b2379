package native

import (
	"errors"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestCrossCompile compiles libtzposix and the example TA for aarch64 and
// arm as OP-TEE's TA dev kit would (freestanding, against the GP subset,
// -Wall -Wextra -Werror) and runs the coroutine switch test natively and,
// with qemu-user, for those targets: ta/c/cross-check.sh. It skips when no
// cross compiler is installed (Debian: gcc-aarch64-linux-gnu,
// gcc-arm-linux-gnueabihf).
func TestCrossCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the cross compilers")
	}
	out, err := exec.Command("sh", filepath.Join("..", "c", "cross-check.sh")).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 77 {
		t.Skipf("no cross compiler installed:\n%s", out)
	}
	t.Logf("ta/c/cross-check.sh:\n%s", out)
	if err != nil {
		t.Fatalf("ta/c/cross-check.sh: %v", err)
	}
}

// TestStackGuard: a host TA's coroutine stack has a guard page below it
// (ta/c/host/stack.c), so an overflow faults instead of writing over the
// memory below: ta/c/test/stack_test.c, built with gcc and run here.
func TestStackGuard(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatal("gcc not installed: cannot build C TAs (.ci/run installs it)")
	}
	c := filepath.Join("..", "c")
	bin := filepath.Join(t.TempDir(), "stack_test")
	cc := exec.Command("gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O1", "-o", bin,
		filepath.Join(c, "test", "stack_test.c"), filepath.Join(c, "host", "stack.c"),
		filepath.Join(c, "src", "coro_init.c"), filepath.Join(c, "src", "coro.S"))
	if out, err := cc.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("stack_test: %v", err)
	}
}
