package test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

const addedUUID = "6a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"

// configPath is the configuration file the bridge was started with
// (run --config FILE), for a test to rewrite before a reload.
func (b *bridge) configPath(t *testing.T) string {
	t.Helper()
	for i, a := range b.cmd.Args {
		if a == "--config" && i+1 < len(b.cmd.Args) {
			return b.cmd.Args[i+1]
		}
	}
	t.Fatal("the bridge was started without --config")
	return ""
}

// reload rewrites the bridge's configuration and sends SIGHUP, then waits
// for the log line that ends the reload (the n-th reload of this bridge:
// earlier ones left theirs).
func (b *bridge) reload(t *testing.T, configYAML string, n int, want string) {
	t.Helper()
	if err := os.WriteFile(b.configPath(t), []byte(strings.ReplaceAll(configYAML, "%[1]s", b.mount)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(b.log.String(), want) < n {
		select {
		case <-b.done:
			t.Fatalf("tzbridge exited on SIGHUP: %v", b.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q (reload %d) in the log 20s after SIGHUP", want, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// statusField reads one field of a TA's status file.
func statusField(t *testing.T, b *bridge, ta, field string) string {
	t.Helper()
	data, err := os.ReadFile(b.path(ta, ".tz", "status"))
	if err != nil {
		t.Fatalf("status of %s: %v", ta, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok && k == field {
			return v
		}
	}
	t.Fatalf("status of %s has no %s:\n%s", ta, field, data)
	return ""
}

// heldEcho is one CA connection to the echo TA kept open across reloads.
type heldEcho struct {
	c net.Conn
	r *bufio.Reader
}

func holdEcho(t *testing.T) *heldEcho {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:7000", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	h := &heldEcho{c: c, r: bufio.NewReader(c)}
	h.check(t, "first")
	return h
}

// check sends a line on the held connection and expects it back.
func (h *heldEcho) check(t *testing.T, line string) {
	t.Helper()
	h.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(h.c, "%s\n", line); err != nil {
		t.Fatalf("held echo connection, %s: write: %v", line, err)
	}
	got, err := h.r.ReadString('\n')
	if err != nil || got != line+"\n" {
		t.Fatalf("held echo connection, %s: got %q, %v", line, got, err)
	}
}

// reloadConfig is the echo TA plus faulty TAs under the given names (each
// serving <name>/faulty.sock).
func reloadConfig(faulty map[string]string) string {
	s := echoConfig("%[1]s")
	for _, name := range []string{"faulty", "added"} {
		if uuid, ok := faulty[name]; ok {
			s += fmt.Sprintf("  - name: %s\n    uuid: %s\n    builtin: faulty\n", name, uuid)
		}
	}
	return s
}

// TestReload: SIGHUP with a configuration that adds a TA and removes
// another starts the one (directory, namespace, shadow serving) and stops
// the other (shadow, directory and namespace gone), while a CA of the echo
// TA keeps its TCP connection open and working and the echo TA is not
// restarted. Then configurations that do not load are rejected with a log
// line and change nothing. After shutdown nothing is left.
func TestReload(t *testing.T) {
	b := startEchoBridge(t, reloadConfig(map[string]string{"faulty": faultyUUID}), faultyReady)
	held := holdEcho(t)
	echoPID := statusField(t, b, "echo", "pid")
	if _, err := os.Lstat("/run/netns/tz-faulty"); err != nil {
		t.Fatalf("the faulty TA has no namespace before the reload: %v", err)
	}

	b.reload(t, reloadConfig(map[string]string{"added": addedUUID}), 1, "reload done")
	// The reload is done once the TA is started; it binds its socket a
	// moment later.
	waitLineEcho(t, b.path("added", "faulty.sock"), 10*time.Second)
	if _, err := os.Lstat("/run/netns/tz-added"); err != nil {
		t.Errorf("the added TA has no namespace: %v", err)
	}
	if _, err := os.Lstat(b.path("faulty")); !os.IsNotExist(err) {
		t.Errorf("the removed TA's directory: %v; want it gone", err)
	}
	checkNoNamespaces(t, "faulty")
	held.check(t, "after the reload")
	if pid := statusField(t, b, "echo", "pid"); pid != echoPID {
		t.Errorf("the echo TA's shadow changed from %s to %s across the reload", echoPID, pid)
	}
	if n := statusField(t, b, "echo", "restarts"); n != "0" {
		t.Errorf("the echo TA restarted %s times across the reload", n)
	}

	// A configuration that does not load is rejected whole.
	rejected := []struct{ name, config string }{
		{"not YAML", "tas: [\n"},
		{"bad UUID", reloadConfig(map[string]string{"added": addedUUID, "faulty": "not-a-uuid"})},
		{"unknown built-in TA", reloadConfig(map[string]string{"added": addedUUID}) +
			fmt.Sprintf("  - name: faulty\n    uuid: %s\n    builtin: no-such-ta\n", faultyUUID)},
		{"two TAs, one UUID", reloadConfig(map[string]string{"added": addedUUID, "faulty": addedUUID})},
	}
	for i, tt := range rejected {
		t.Run(tt.name, func(t *testing.T) {
			addedPID := statusField(t, b, "added", "pid")
			b.reload(t, tt.config, i+1, "reload rejected")
			if _, err := os.Lstat(b.path("faulty")); !os.IsNotExist(err) {
				t.Errorf("the rejected configuration's TA has a directory: %v", err)
			}
			if err := lineEcho(b.path("added", "faulty.sock"), "still here"); err != nil {
				t.Errorf("the added TA after a rejected reload: %v", err)
			}
			if pid := statusField(t, b, "added", "pid"); pid != addedPID {
				t.Errorf("the added TA's shadow changed from %s to %s on a rejected reload", addedPID, pid)
			}
			held.check(t, "after "+tt.name)
		})
	}
	if pid := statusField(t, b, "echo", "pid"); pid != echoPID {
		t.Errorf("the echo TA's shadow changed from %s to %s", echoPID, pid)
	}

	held.c.Close()
	if took := b.stop(); b.err != nil {
		t.Errorf("tzbridge exit after %v: %v", took, b.err)
	}
	checkClean(t, b)
	checkNoNamespaces(t, "echo", "faulty", "added")
}

// TestReloadChangedTA: a TA whose settings change is restarted with the
// new ones (a new shadow), and one whose settings do not is left alone.
func TestReloadChangedTA(t *testing.T) {
	b := startEchoBridge(t, faultyConfig("always"), faultyReady)
	held := holdEcho(t)
	echoPID, faultyPID := statusField(t, b, "echo", "pid"), statusField(t, b, "faulty", "pid")
	b.reload(t, faultyConfig("never"), 1, "reload done")
	waitLineEcho(t, b.path("faulty", "faulty.sock"), 10*time.Second)
	if pid := statusField(t, b, "faulty", "pid"); pid == faultyPID {
		t.Errorf("the changed TA kept its shadow %s", pid)
	}
	if pid := statusField(t, b, "echo", "pid"); pid != echoPID {
		t.Errorf("the unchanged echo TA's shadow changed from %s to %s", echoPID, pid)
	}
	held.check(t, "after the reload")
	// The new policy is in force: a crash is not restarted.
	crashFaulty(t, b.path("faulty", "faulty.sock"), "panic")
	deadline := time.Now().Add(10 * time.Second)
	for statusField(t, b, "faulty", "state") != "failed" {
		if time.Now().After(deadline) {
			t.Fatalf("faulty TA state %q after a panic under restart: never", statusField(t, b, "faulty", "state"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReloadTAFailsToStart: a TA added by a reload that cannot start (its
// proxy address is the echo TA's) is undone — no directory, no namespace —
// while the other TAs go on; the next reload, with the conflict fixed,
// starts it.
func TestReloadTAFailsToStart(t *testing.T) {
	b := startEchoBridge(t, echoConfig("%[1]s"), echoReady)
	held := holdEcho(t)
	clash := func(port int) string {
		return echoConfig("%[1]s") + fmt.Sprintf("  - name: clash\n    uuid: %s\n    builtin: faulty\n    proxies:\n      - {listen: tcp://127.0.0.1:%d, to: tcp://127.0.0.1:7100}\n", addedUUID, port)
	}
	b.reload(t, clash(7000), 1, "reload done")
	if !strings.Contains(b.log.String(), "some TAs did not start") {
		t.Fatalf("the reload did not report the TA that could not start")
	}
	if _, err := os.Lstat(b.path("clash")); !os.IsNotExist(err) {
		t.Errorf("the TA that did not start has a directory: %v", err)
	}
	checkNoNamespaces(t, "clash")
	held.check(t, "after the failed start")

	b.reload(t, clash(7200), 2, "reload done")
	waitLineEcho(t, b.path("clash", "faulty.sock"), 10*time.Second)
	if _, err := os.Lstat("/run/netns/tz-clash"); err != nil {
		t.Errorf("the TA started on the second reload has no namespace: %v", err)
	}
	held.check(t, "after the second reload")
}

// TestReloadGlobalFields: mount and tee cannot change in a running bridge;
// a reload that changes them says a restart is needed and keeps serving
// the tree where it is.
func TestReloadGlobalFields(t *testing.T) {
	b := startEchoBridge(t, echoConfig("%[1]s"), echoReady)
	held := holdEcho(t)
	elsewhere := t.TempDir()
	b.reload(t, echoConfig(elsewhere), 1, "reload done")
	if !strings.Contains(b.log.String(), "restart needed") {
		t.Errorf("the log does not say that the mount change needs a restart")
	}
	if ms := mountsUnder(elsewhere); len(ms) > 0 {
		t.Errorf("the tree was mounted at the new mount point: %v", ms)
	}
	if !echoReady(b.mount) {
		t.Errorf("the echo TA does not serve at the old mount point after the reload")
	}
	held.check(t, "after the reload")
	// The running value stays the one compared against: reloading the
	// original file again changes nothing.
	b.reload(t, echoConfig("%[1]s"), 2, "reload done")
	if n := strings.Count(b.log.String(), "restart needed"); n != 1 {
		t.Errorf("%d reloads said a restart is needed, want 1", n)
	}
	held.check(t, "after the second reload")
}
