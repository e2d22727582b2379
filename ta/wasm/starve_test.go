package wasm

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/gp"
	"github.com/tzmediator/tzbridge/securesim"
	"github.com/tzmediator/tzbridge/tzrpc"
)

// TestSpinDoesNotStarveOneP: the simulator may run on one P (sim_threads:
// 1, secure-world --procs 1). A module that spins without a call must not
// keep the other goroutines of the process (other TAs, the server) from
// running for ever.
func TestSpinDoesNotStarveOneP(t *testing.T) {
	bin := wmod{imports: []wimport{impProcExit}, memPages: 1, start: loopForever()}.bytes()
	m := &module{name: "spin", path: writeModule(t, bin), opts: Options{CacheDir: testCacheDir(t)}, log: (&logBuffer{}).logger()}
	if _, _, err := m.load(); err != nil {
		t.Fatal(err)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	started := make(chan struct{})
	go func() { close(started); done <- m.run(ctx, &fakePosix{}) }()
	<-started
	time.Sleep(100 * time.Millisecond) // let it start spinning
	// Other goroutines must get the P: a timer, then a channel round trip.
	ticks := make(chan struct{})
	go func() {
		for range 5 {
			time.Sleep(10 * time.Millisecond)
			ticks <- struct{}{}
		}
		close(ticks)
	}()
	deadline := time.After(20 * time.Second)
	for n := 0; ; n++ {
		select {
		case _, ok := <-ticks:
			if !ok {
				goto stop
			}
		case <-deadline:
			t.Fatalf("other goroutines ran %d times in 20s while a module spun on the only P", n)
		}
	}
stop:
	select {
	case err := <-done:
		t.Fatalf("spinning module returned on its own: %v", err)
	default:
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("run = %v, want context.Canceled", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("spinning module not stopped after its session closed")
	}
}

// TestSpinnerOwnsAThread: under a host that gives each program a thread
// (securesim.Host.ThreadPerProgram, the simulator's default), a module
// that spins raises GOMAXPROCS by one for as long as it runs, so the other
// TAs keep the simulator's thread; closing its session stops it and gives
// the thread back.
func TestSpinnerOwnsAThread(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	bin := wmod{imports: []wimport{impProcExit}, memPages: 1, start: loopForever()}.bytes()
	def, err := Definition("spin", testUUID, writeModule(t, bin), nil, Options{CacheDir: testCacheDir(t), Logger: (&logBuffer{}).logger()})
	if err != nil {
		t.Fatal(err)
	}
	log := (&logBuffer{}).logger()
	host, err := securesim.NewHost([]securesim.Definition{def}, log)
	if err != nil {
		t.Fatal(err)
	}
	host.ThreadPerProgram(1)
	owner := new(int)
	var p securesim.Params
	p[0] = securesim.Param{Type: gp.AttrValueInput, A: uint32(tzrpc.Version), B: uint32(tzrpc.DefaultMailbox)}
	id, res, _ := host.OpenSession(context.Background(), owner, testUUID, securesim.Client{}, &p)
	if res != gp.Success {
		t.Fatalf("OpenSession: %v", res)
	}
	resumed := make(chan gp.Result, 1)
	go func() {
		var p securesim.Params
		mb := make([]byte, tzrpc.DefaultMailbox)
		p[0] = securesim.Param{Type: gp.AttrMemrefInout, Mem: mb, Size: uint64(len(mb))}
		r, _ := host.Invoke(context.Background(), owner, id, tzrpc.CmdResume, &p)
		resumed <- r
	}()
	waitProcs := func(want int, while string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); runtime.GOMAXPROCS(0) != want; {
			if time.Now().After(deadline) {
				t.Fatalf("%s: GOMAXPROCS %d, want %d", while, runtime.GOMAXPROCS(0), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitProcs(2, "while the module spins")
	select {
	case r := <-resumed:
		t.Fatalf("the spinning module's RESUME returned %v", r)
	default:
	}
	if !host.CloseSession(owner, id) {
		t.Fatal("CloseSession: no such session")
	}
	if r := <-resumed; r != gp.ErrorCancel {
		t.Errorf("RESUME of the closed session: %v, want CANCEL", r)
	}
	waitProcs(1, "after the session closed")
}
