package supervisor

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/internal/child"
	"github.com/tzmediator/tzbridge/internal/seqpacket"
	"github.com/tzmediator/tzbridge/securesim"
	"github.com/tzmediator/tzbridge/ta/catalog"
	"github.com/tzmediator/tzbridge/teeclient"
)

// TestAdminRequestTimeout: an admin request answered too late must not
// have its answer taken for the next request's; the simulator, in an
// unknown state, is killed for supervise to start again.
func TestAdminRequestTimeout(t *testing.T) {
	mine, sim := adminPair(t)
	// The simulator: slow to answer the first request, which fails.
	go func() {
		buf := make([]byte, 4096)
		if _, err := sim.Read(buf); err != nil {
			return
		}
		time.Sleep(300 * time.Millisecond)
		sim.Write([]byte(`{"error":"the first request failed"}`))
		if _, err := sim.Read(buf); err != nil {
			return
		}
		sim.Write([]byte(`{}`))
	}()
	proc, err := child.Start(exec.Command("sleep", "60"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = proc.Cmd.Process.Kill(); <-proc.Done() }()
	sw := &secureWorld{Process: proc, admin: mine}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err = sw.adminRequest(ctx, securesim.AdminRequest{Op: securesim.AdminDefine, Spec: "a"})
	cancel()
	if err == nil || errors.Is(err, errAdminLost) {
		t.Fatalf("first request: %v, want a timeout that is not errAdminLost", err)
	}
	time.Sleep(400 * time.Millisecond) // the late answer is there now
	ctx, cancel = context.WithTimeout(context.Background(), 2*time.Second)
	err = sw.adminRequest(ctx, securesim.AdminRequest{Op: securesim.AdminUndefine})
	cancel()
	if !errors.Is(err, errAdminLost) {
		t.Errorf("second request: %v, want errAdminLost (not the first one's answer)", err)
	}
	select {
	case <-proc.Done():
	case <-time.After(5 * time.Second):
		t.Error("the simulator was not killed")
	}
}

// TestDefineWaitsForRestart: a TA defined while the simulator is being
// restarted is checked by the restarted simulator before it joins the
// catalog; one the simulator refuses stays out of it (else every later
// restart, hosting it, would fail).
func TestDefineWaitsForRestart(t *testing.T) {
	mine, sim := adminPair(t)
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := sim.Read(buf); err != nil {
				return
			}
			sim.Write([]byte(`{"error":"wasm: cannot load"}`))
		}
	}()
	proc, err := child.Start(exec.Command("sleep", "60"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = proc.Cmd.Process.Kill(); <-proc.Done() }()

	// The simulator is being restarted: sim is nil, up not closed.
	tw := &tee{device: "sim", tas: map[teeclient.UUID]catalog.TA{}, up: make(chan struct{})}
	ta := catalog.TA{Name: "bad", UUID: teeclient.UUID{9}}
	errc := make(chan error, 1)
	go func() { errc <- tw.define(context.Background(), ta) }()
	select {
	case err := <-errc:
		t.Fatalf("define returned %v while the simulator was restarting", err)
	case <-time.After(100 * time.Millisecond):
	}
	tw.mu.Lock()
	tw.sim = &secureWorld{Process: proc, admin: mine}
	close(tw.up)
	tw.mu.Unlock()
	if err := <-errc; err == nil {
		t.Error("define of a TA the simulator refuses succeeded")
	}
	if _, ok := tw.tas[ta.UUID]; ok {
		t.Error("the refused TA is in the catalog: every restart would host it")
	}
}

// adminPair is the supervisor's and a fake simulator's end of an admin
// socket, closed at the end of the test.
func adminPair(t *testing.T) (mine, sim *net.UnixConn) {
	t.Helper()
	mine, sim, err := seqpacket.Pair()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mine.Close(); sim.Close() })
	return mine, sim
}
