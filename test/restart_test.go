package test

import (
	"errors"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// shadowStarted finds the pids of the shadow processes a bridge's log says
// it started for ta, oldest first.
var shadowStarted = regexp.MustCompile(`msg="shadow process started" ta=([a-z0-9_-]+) pid=(\d+)`)

func shadowPIDs(b *bridge, ta string) []int {
	var pids []int
	for _, m := range shadowStarted.FindAllStringSubmatch(b.log.String(), -1) {
		if m[1] == ta {
			pid, _ := strconv.Atoi(m[2])
			pids = append(pids, pid)
		}
	}
	return pids
}

// killShadow kills ta's current shadow with SIGKILL and returns once the
// process is gone, so that its descriptors are closed.
func killShadow(t *testing.T, b *bridge, ta string) {
	t.Helper()
	var pid int
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if pids := shadowPIDs(b, ta); len(pids) > 0 && !processGone(pids[len(pids)-1]) {
			pid = pids[len(pids)-1]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no running shadow of %s in the log:\n%s", ta, b.log.String())
		}
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); !processGone(pid); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("shadow %d still there 20s after SIGKILL", pid)
		}
	}
}

func taState(b *bridge, ta string) string {
	st, err := taStatus(b, ta)
	if err != nil {
		return "unreadable: " + err.Error()
	}
	return st["state"]
}

// TestOnRestartKeep: while a TA restarts with on_restart: keep (the
// default), its nodes stay: a CA opening a FIFO waits for the TA and then
// talks to it, and a CA connecting to its socket is refused (not told the
// node is gone) until it is back.
func TestOnRestartKeep(t *testing.T) {
	b := startEchoBridge(t, echoConfig("%[1]s"), echoReady)
	sock := b.path("echo", "echo.sock")
	refused, fifoDone := 0, false
	// Each kill within 10 s of the last start doubles the back-off (from
	// 100 ms), so a later round is sure to give a window to look in.
	for round := 0; round < 6 && (refused == 0 || !fifoDone); round++ {
		started := len(shadowPIDs(b, "echo"))
		killShadow(t, b, "echo")
		// The supervisor says restarting once it has reaped the shadow,
		// all of whose descriptors are closed by then.
		caught := false
		for deadline := time.Now().Add(20 * time.Second); !caught; time.Sleep(time.Millisecond) {
			if taState(b, "echo") == "restarting" {
				caught = true
			} else if len(shadowPIDs(b, "echo")) > started {
				break // back already: try again with a longer back-off
			} else if time.Now().After(deadline) {
				t.Fatalf("the supervisor never said echo was restarting:\n%s", b.log.String())
			}
		}
		if !caught {
			continue
		}
		in, out := make(chan opened, 1), make(chan opened, 1)
		testFIFO := !fifoDone
		if testFIFO {
			// Opened while the TA is down: each open waits for the
			// TA's end of the FIFO.
			go func() { f, err := os.OpenFile(b.path("echo", "in"), os.O_WRONLY, 0); in <- opened{f, err} }()
			go func() { f, err := os.OpenFile(b.path("echo", "out"), os.O_RDONLY, 0); out <- opened{f, err} }()
		}
		// Connect while the status says restarting before and after:
		// no new shadow has run, so nothing has touched the node.
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(2 * time.Millisecond) {
			before := taState(b, "echo")
			c, err := net.Dial("unix", sock)
			if err == nil {
				c.Close()
			}
			after := taState(b, "echo")
			if before == "restarting" && after == "restarting" {
				if !errors.Is(err, syscall.ECONNREFUSED) {
					t.Fatalf("connecting while the TA restarts: %v; want ECONNREFUSED", err)
				}
				refused++
			}
			if after != "restarting" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("echo still restarting 20s after its shadow was killed")
			}
		}
		if testFIFO {
			checkFIFOsOpenedEarly(t, in, out)
			fifoDone = true
		}
		for deadline := time.Now().Add(20 * time.Second); !echoReady(b.mount); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("echo not back 20s after its shadow was killed:\n%s", b.log.String())
			}
		}
	}
	if refused == 0 || !fifoDone {
		t.Fatalf("never saw the TA restarting in six kills (%d connects refused)", refused)
	}
	t.Logf("%d connects refused while the TA restarted", refused)
}

// opened is the outcome of an open made in a goroutine.
type opened struct {
	f   *os.File
	err error
}

// checkFIFOsOpenedEarly checks that opens of echo's in and out, made
// while the TA restarted, complete once it is back and carry an echo.
func checkFIFOsOpenedEarly(t *testing.T, in, out <-chan opened) {
	t.Helper()
	// The echo TA opens out once it has something to write.
	var w, r opened
	select {
	case w = <-in:
	case <-time.After(20 * time.Second):
		t.Fatal("a CA's open of in, made while the TA restarted, never completed")
	}
	if w.err != nil {
		t.Fatalf("opening in while the TA restarted: %v", w.err)
	}
	defer w.f.Close()
	if _, err := w.f.Write([]byte("kept\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case r = <-out:
	case <-time.After(20 * time.Second):
		t.Fatal("a CA's open of out, made while the TA restarted, never completed")
	}
	if r.err != nil {
		t.Fatalf("opening out while the TA restarted: %v", r.err)
	}
	defer r.f.Close()
	r.f.SetReadDeadline(time.Now().Add(20 * time.Second))
	got := make([]byte, 5)
	if _, err := io.ReadFull(r.f, got); err != nil || string(got) != "kept\n" {
		t.Fatalf("echo through FIFOs opened while the TA restarted: %q, %v", got, err)
	}
}

// TestOnRestartClear: with on_restart: clear, a restarted TA's directory
// holds its declared endpoints and nothing else of before.
func TestOnRestartClear(t *testing.T) {
	cfg := echoConfig("%[1]s") + "    on_restart: clear\n    ca_may_modify: true\n" +
		"    endpoints:\n      - {name: declared, kind: fifo, mode: \"0640\"}\n"
	b := startEchoBridge(t, cfg, echoReady)
	for _, p := range []string{"stray", "sub"} {
		if err := os.Mkdir(b.path("echo", p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(b.path("echo", "declared"), 0o666); err != nil {
		t.Fatal(err)
	}
	killShadow(t, b, "echo")
	for deadline := time.Now().Add(20 * time.Second); len(shadowPIDs(b, "echo")) < 2 || !echoReady(b.mount); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("echo not back 20s after its shadow was killed:\n%s", b.log.String())
		}
	}
	for _, p := range []string{"stray", "sub"} {
		if _, err := os.Stat(b.path("echo", p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after a restart with on_restart: clear: %v; want it gone", p, err)
		}
	}
	if fi, err := os.Stat(b.path("echo", "declared")); err != nil {
		t.Errorf("declared endpoint after the restart: %v", err)
	} else if fi.Mode()&os.ModeNamedPipe == 0 || fi.Mode().Perm() != 0o640 {
		t.Errorf("declared endpoint after the restart: %v; want a FIFO, mode 0640 as declared", fi.Mode())
	}
}
