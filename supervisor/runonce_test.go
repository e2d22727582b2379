package supervisor

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/tzmediator/tzbridge/config"
)

// TestRunOnceForgetsPidOnFailedStart: a shadow whose start fails after
// its pid was made known to the tree (here: a spec too large for the
// control socket) leaves no pid behind with the TA's rights in the tree.
func TestRunOnceForgetsPidOnFailedStart(t *testing.T) {
	addrs := make([]string, 20000)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("tcp://127.0.0.1:%d", 1024+i)
	}
	r := &taRunner{
		cfg:  config.TA{Name: "x", HostAccess: config.HostAccess{Addrs: addrs}},
		tee:  &tee{device: "/dev/null"},
		exe:  "tzbridge",
		log:  slog.New(slog.DiscardHandler),
		pids: &shadowPIDs{m: map[int]string{}},
	}
	r.relayLog = r.log
	if err := r.runOnce(t.Context(), t.TempDir()); err == nil {
		t.Fatal("runOnce started a shadow with an oversized spec")
	}
	r.pids.mu.Lock()
	defer r.pids.mu.Unlock()
	if len(r.pids.m) != 0 {
		t.Errorf("pids left after a failed start: %v", r.pids.m)
	}
}

// TestReloadTEEChangeRejected: a file whose tee differs describes its
// TAs for the other secure world (no builtin on a device); read against
// the running one, every TA would be stopped and none could start. The
// reload is rejected whole, and the running TAs are kept.
func TestReloadTEEChangeRejected(t *testing.T) {
	running := &config.Config{Mount: "/tz", TEE: "sim", TAs: []config.TA{{Name: "echo", Builtin: "echo"}}}
	onDevice := &config.Config{Mount: "/tz", TEE: "/dev/tee0", TAs: []config.TA{{Name: "echo"}}}
	stopped := false
	done := make(chan struct{})
	b := &bridge{
		opt: Options{LoadConfig: func() (*config.Config, error) { return onDevice, nil }},
		cfg: running, log: slog.New(slog.DiscardHandler),
		tas: map[string]*runningTA{"echo": {r: &taRunner{cfg: running.TAs[0]}, cancel: func() { stopped = true; close(done) }, done: done}},
	}
	if err := b.reload(t.Context()); err == nil {
		t.Error("a reload changing tee succeeded")
	}
	if stopped || b.tas["echo"] == nil {
		t.Error("the running TA was stopped")
	}
	if b.cfg != running {
		t.Error("the configuration in force changed")
	}
}
