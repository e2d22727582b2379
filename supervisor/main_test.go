package supervisor

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/tzmediator/tzbridge/internal/shadowmain"
)

// TestMain lets this test binary play the shadow. The supervisor starts a
// shadow as /proc/self/exe with `shadow --ta NAME --control-fd 3 ...`; in
// a test, /proc/self/exe is this binary, which without this would ignore
// the arguments and run every test again as the shadow, with the shadow's
// reduced rights, printing their failures into the parent's log.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "shadow" {
		os.Exit(testShadowMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}

// testShadowMain is `tzbridge shadow` (cmd/tzbridge/shadow.go) for this
// test binary: the same flags, the same shadowmain.Main.
func testShadowMain(args []string) int {
	fs := flag.NewFlagSet("shadow", flag.ContinueOnError)
	ta := fs.String("ta", "", "")
	controlFD := fs.Int("control-fd", -1, "")
	logFD := fs.Int("log-fd", -1, "")
	logLevel := fs.String("log-level", "info", "")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	usage, err := shadowmain.Main(context.Background(), *ta, *controlFD, *logFD, *logLevel)
	if usage != nil {
		fmt.Fprintf(os.Stderr, "test shadow %s: bad arguments %q: %v\n", *ta, args, usage)
		return 2
	}
	if err != nil {
		return 1
	}
	return 0
}

// TestShadowRole: this binary started as a shadow is the shadow, not the
// tests again (without descriptors from a supervisor, it refuses).
func TestShadowRole(t *testing.T) {
	// Were the role not dispatched, the child would run this test again,
	// and its child too: the variable stops that at the first level.
	if os.Getenv("TZBRIDGE_TEST_AS_SHADOW") != "" {
		t.Fatal("the test binary, started as a shadow, ran the tests")
	}
	cmd := exec.Command("/proc/self/exe", "shadow", "--ta", "x")
	cmd.Env = append(os.Environ(), "TZBRIDGE_TEST_AS_SHADOW=1")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), "test shadow x: bad arguments") {
		t.Fatalf("started as a shadow: %v\n%s", err, out)
	}
}
