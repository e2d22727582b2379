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
