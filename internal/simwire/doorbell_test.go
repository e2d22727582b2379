package simwire_test

import (
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/internal/simwire"
)

func newBell(t *testing.T) *simwire.Doorbell {
	t.Helper()
	fd, mem, err := simwire.NewDoorbellMemfd()
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	t.Cleanup(func() { unix.Munmap(mem) })
	return simwire.NewDoorbell(mem)
}

// TestDoorbellPingPong hands the state back and forth, with pauses that
// make each side sleep now and then.
func TestDoorbellPingPong(t *testing.T) {
	d := newBell(t)
	never := func() bool { return false }
	const rounds = 2000
	done := make(chan error, 1)
	go func() {
		var sp simwire.Spinner
		for i := range rounds {
			if !d.Wait(&sp, false, func(s uint32) bool { return s == simwire.StatePosted }, never, nil) {
				done <- nil
				return
			}
			if i%100 == 0 {
				time.Sleep(200 * time.Microsecond) // the client sleeps
			}
			d.Post(simwire.StateDone, false)
		}
		done <- nil
	}()
	var sp simwire.Spinner
	for i := range rounds {
		if i%100 == 50 {
			time.Sleep(200 * time.Microsecond) // the server sleeps
		}
		d.Post(simwire.StatePosted, true)
		if !d.Wait(&sp, true, func(s uint32) bool { return s == simwire.StateDone }, never, nil) {
			t.Fatal("Wait gave up")
		}
	}
	<-done
}

// TestDoorbellWakeNotLost: a stop condition set with Wake ends a sleeping
// Wait, however the two race.
func TestDoorbellWakeNotLost(t *testing.T) {
	d := newBell(t)
	for i := range 200 {
		var stop atomic.Bool
		ended := make(chan bool, 1)
		go func() {
			var sp simwire.Spinner
			ended <- d.Wait(&sp, true, func(s uint32) bool { return s == simwire.StateDone }, stop.Load, nil)
		}()
		if i%2 == 0 {
			time.Sleep(time.Duration(i) * time.Microsecond)
		}
		stop.Store(true)
		d.Wake()
		select {
		case ok := <-ended:
			if ok {
				t.Fatal("Wait reported the state ready")
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: Wait missed the wake-up", i)
		}
	}
	d.Close()
	if !d.Closed() {
		t.Error("Close did not mark the doorbell closed")
	}
}
