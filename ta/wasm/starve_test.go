package wasm

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

// TestSpinDoesNotStarveOneP: the simulator runs on one P (secure-world
// --procs 1). A module that spins without a call must not keep the other
// goroutines of the process (other TAs, the server) from running.
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
