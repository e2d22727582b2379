package test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/internal/echotest"
)

// bareEchoConfig runs the echo TA with no declared endpoints: the TA makes
// its FIFOs and socket itself.
func bareEchoConfig() string {
	return fmt.Sprintf("mount: %%[1]s\ntee: sim\ntas:\n  - name: echo\n    uuid: %s\n    builtin: echo\n", echoUUID)
}

// TestTACreatedNodesVisible: FIFOs and the socket the TA creates appear in
// /tz/<ta>/ for CAs, as real FIFO and socket nodes.
func TestTACreatedNodesVisible(t *testing.T) {
	b := startBridge(t, bareEchoConfig(), echoReady)
	out := run(t, nil, "ls", "-l", b.path("echo"))
	for _, want := range []string{" in\n", " out\n", " echo.sock\n"} {
		if !strings.Contains(string(out)+"\n", want) {
			t.Errorf("ls does not show%q:\n%s", strings.TrimSpace(want), out)
		}
	}
	for name, mode := range map[string]os.FileMode{"in": os.ModeNamedPipe, "out": os.ModeNamedPipe, "echo.sock": os.ModeSocket} {
		fi, err := os.Stat(b.path("echo", name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Type() != mode {
			t.Errorf("%s is %v, want %v", name, fi.Mode().Type(), mode)
		}
	}
	status, err := os.ReadFile(b.path("echo", ".tz", "status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"name: echo\n", "uuid: " + echoUUID + "\n", "state: running\n", "restarts: 0\n"} {
		if !bytes.Contains(status, []byte(want)) {
			t.Errorf("status lacks %q:\n%s", want, status)
		}
	}
	// tzbridge status shows the same.
	st := run(t, nil, tzbridgeBin(), "status", "--mount", b.mount)
	if !strings.Contains(string(st), "echo") || !strings.Contains(string(st), "running") {
		t.Errorf("tzbridge status:\n%s", st)
	}
}

// TestEndpointPermissions: the declared owner and mode are enforced by
// the kernel for CAs; a CA may not add nodes to a TA's tree.
func TestEndpointPermissions(t *testing.T) {
	needTool(t, "setpriv")
	cfg := echoConfig("%[1]s") + `    endpoints:
      - {name: in, kind: fifo, mode: "0600"}
      - {name: out, kind: fifo, mode: "0666"}
      - {name: echo.sock, kind: unix, mode: "0660", group: "0"}
`
	b := startBridge(t, cfg, echoReady)
	// The test tree lives under t.TempDir, which only root may enter: let
	// the unprivileged CA through to the mount.
	for d := b.mount; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	nobody := func(script string) (string, error) {
		cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c", script)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	tests := []struct {
		name, script string
		allowed      bool
	}{
		{"write in (0600 root)", fmt.Sprintf("echo x > %s", b.path("echo", "in")), false},
		{"open out (0666)", fmt.Sprintf("exec 3<>%s", b.path("echo", "out")), true},
		{"connect echo.sock (0660 root:root)", fmt.Sprintf("echo x | socat -t1 - UNIX-CONNECT:%s", b.path("echo", "echo.sock")), false},
		{"mkfifo in the TA's tree", fmt.Sprintf("mkfifo %s", b.path("echo", "intruder")), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.script, "socat") {
				needTool(t, "socat")
			}
			out, err := nobody(tt.script)
			if tt.allowed && err != nil {
				t.Errorf("refused: %v\n%s", err, out)
			}
			if !tt.allowed {
				if err == nil {
					t.Errorf("allowed, want refused")
				} else if !strings.Contains(out, "ermission denied") && !strings.Contains(out, "not permitted") {
					t.Errorf("refused for another reason: %s", out)
				}
			}
		})
	}
	// Root CAs too are kept from changing a TA's tree unless the config
	// says ca_may_modify.
	if err := syscall.Mkfifo(b.path("echo", "intruder"), 0o600); !errors.Is(err, syscall.EPERM) && !errors.Is(err, syscall.EACCES) {
		t.Errorf("root CA mkfifo in the TA's tree: %v, want EPERM or EACCES", err)
	}
	if err := os.Remove(b.path("echo", "in")); err == nil {
		t.Errorf("root CA removed a TA endpoint")
	}
	// Regular files are not TA endpoints (yet).
	if err := os.WriteFile(b.path("echo", "file"), []byte("x"), 0o644); err == nil {
		t.Errorf("a regular file was created in the TA's tree")
	}
}

// TestRestartAfterKill9: a bridge killed with SIGKILL leaves its FUSE
// mount behind; the next run on the same mount point clears it and works,
// with no manual clean-up, and the old secure world died with the bridge.
func TestRestartAfterKill9(t *testing.T) {
	mount := filepath.Join(t.TempDir(), "tz")
	cfg := echoConfig("%[1]s")
	first := startBridgeAt(t, mount, cfg, echoReady)
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-first.done
	// The old secure world goes with its parent (Pdeathsig).
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, _ := exec.Command("pgrep", "-f", tzbridgeBin()+" secure-world").Output()
		if len(out) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("secure world outlived the killed bridge: %s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(mount); err == nil || !errors.Is(err, syscall.ENOTCONN) {
		t.Logf("after kill -9 the mount answers stat with %v", err)
	}
	second := startBridgeAt(t, mount, cfg, echoReady)
	if err := echotest.StreamEcho("tcp", "127.0.0.1:7000", echotest.Payload(4096)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(second.log.String(), "stale") {
		t.Errorf("the second run did not log that it cleared a stale mount:\n%s", second.log.String())
	}
	if c, err := net.Dial("unix", filepath.Join(mount, "echo", "echo.sock")); err != nil {
		t.Errorf("UNIX endpoint after restart: %v", err)
	} else {
		c.Close()
	}
}
