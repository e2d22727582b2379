package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoTEEDevice: without TEE hardware, tee-info and a run against a
// device fail with a message that says what is missing and what to do —
// not a panic.
func TestNoTEEDevice(t *testing.T) {
	if _, err := os.Stat("/dev/tee0"); err == nil {
		t.Skip("this machine has a TEE device")
	}
	cfg := filepath.Join(t.TempDir(), "device.yaml")
	yaml := "mount: " + t.TempDir() + "\ntee: /dev/tee0\ntas:\n  - name: echo\n    uuid: " + echoUUID + "\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"tee-info", []string{"tee-info"}, []string{"no TEE device", "tee: sim"}},
		{"tee-info --device", []string{"tee-info", "--device", "/dev/tee0"}, []string{"no TEE device at /dev/tee0", "tee: sim"}},
		{"run on /dev/tee0", []string{"run", "--config", cfg}, []string{"no TEE device at /dev/tee0", "tee: sim"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := exec.Command(tzbridgeBin(), tt.args...).CombinedOutput()
			if err == nil {
				t.Fatalf("succeeded without a TEE:\n%s", out)
			}
			if strings.Contains(string(out), "panic") || strings.Contains(string(out), "goroutine ") {
				t.Fatalf("crashed:\n%s", out)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output does not say %q:\n%s", w, out)
				}
			}
		})
	}
}
