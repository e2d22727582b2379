package wasm

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoConfigDependency: the TA runtime takes typed values (listen
// addresses parsed by internal/netaddr) and does not depend on the
// configuration-file package, directly or through another package.
func TestNoConfigDependency(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 || deps[len(deps)-1] != "github.com/tzmediator/tzbridge/ta/wasm" {
		t.Fatalf("go list -deps does not end with this package:\n%s", out)
	}
	for _, d := range deps {
		if d == "github.com/tzmediator/tzbridge/config" {
			t.Errorf("ta/wasm depends on %s", d)
		}
	}
}
