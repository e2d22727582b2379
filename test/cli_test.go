package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheck: tzbridge check accepts the shipped configurations and names
// the file and field of a broken one, starting nothing.
func TestCheck(t *testing.T) {
	out, err := exec.Command(tzbridgeBin, "check", "--config", "../configs/echo.yaml").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("check of configs/echo.yaml: %v\n%s", err, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	yaml := "tee: sim\ntas:\n  - name: echo\n    uuid: " + echoUUID + "\n    builtin: nosuch\n    restart: sometimes\n"
	if err := os.WriteFile(bad, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(tzbridgeBin, "check", "--config", bad).CombinedOutput()
	if err == nil {
		t.Fatalf("check accepted a broken config:\n%s", out)
	}
	for _, want := range []string{bad + ":", `:6: tas[0].restart: "sometimes": want always, on-failure or never`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
}

// TestHelp: every subcommand's help has a purpose line and an example.
func TestHelp(t *testing.T) {
	for _, sub := range []string{"run", "status", "check", "tee-info", "secure-world", "version"} {
		out, err := exec.Command(tzbridgeBin, sub, "--help").CombinedOutput()
		if err != nil {
			t.Errorf("%s --help: %v", sub, err)
			continue
		}
		if !strings.Contains(string(out), "Examples:") {
			t.Errorf("%s --help has no example:\n%s", sub, out)
		}
	}
}
