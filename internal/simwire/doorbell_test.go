package simwire_test

import (
	"os"
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

// ringedBell is a doorbell whose secure world side sleeps on a ring: a
// client view and a server view of one page, as the two processes have.
func ringedBell(t *testing.T) (client, server *simwire.Doorbell) {
	t.Helper()
	fd, mem, err := simwire.NewDoorbellMemfd()
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	ring, err := simwire.NewRing()
	if err != nil {
		t.Fatal(err)
	}
	dup, err := unix.Dup(ring)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(dup), "ring")
	t.Cleanup(func() {
		f.Close()
		unix.Close(ring)
		unix.Munmap(mem)
	})
	client, server = simwire.NewDoorbell(mem), simwire.NewDoorbell(mem)
	client.UseRing(ring)
	if err := server.SleepOnRing(f); err != nil {
		t.Fatal(err)
	}
	return client, server
}

// TestDoorbellPingPong hands the state back and forth, with pauses that
// make each side sleep now and then: on the futex, and with the secure
// world's side on a ring.
func TestDoorbellPingPong(t *testing.T) {
	t.Run("futex", func(t *testing.T) {
		d := newBell(t)
		pingPong(t, d, d)
	})
	t.Run("ring", func(t *testing.T) {
		c, d := ringedBell(t)
		pingPong(t, c, d)
	})
}

func pingPong(t *testing.T, c, d *simwire.Doorbell) {
	// A lost wake-up leaves a side asleep for good: a watchdog ends both
	// Waits after a bound no correct run comes near (the 2,000 rounds
	// take milliseconds), so that the test fails instead of hanging
	// until go test's timeout.
	var hung atomic.Bool
	watchdog := time.AfterFunc(20*time.Second, func() {
		hung.Store(true)
		c.Wake()
		d.Wake()
	})
	defer watchdog.Stop()
	const rounds = 2000
	done := make(chan int, 1)
	go func() {
		var sp simwire.Spinner
		for i := range rounds {
			if !d.Wait(&sp, false, func(s uint32) bool { return s == simwire.StatePosted }, hung.Load, nil) {
				done <- i
				return
			}
			if i%100 == 0 {
				time.Sleep(200 * time.Microsecond) // the client sleeps
			}
			d.Post(simwire.StateDone, false)
		}
		done <- rounds
	}()
	var sp simwire.Spinner
	for i := range rounds {
		if i%100 == 50 {
			time.Sleep(200 * time.Microsecond) // the server sleeps
		}
		c.Post(simwire.StatePosted, true)
		if !c.Wait(&sp, true, func(s uint32) bool { return s == simwire.StateDone }, hung.Load, nil) {
			t.Fatalf("round %d: the client never saw the reply (lost wake-up); the server got %d requests", i, <-done)
		}
	}
	if n := <-done; n != rounds {
		t.Fatalf("the server gave up after %d of %d requests", n, rounds)
	}
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

// TestDoorbellRingClose: the secure world's side, asleep on its ring, sees
// either side's Close.
func TestDoorbellRingClose(t *testing.T) {
	for _, byClient := range []bool{true, false} {
		c, d := ringedBell(t)
		ended := make(chan bool, 1)
		go func() {
			var sp simwire.Spinner
			ended <- d.Wait(&sp, false, func(s uint32) bool { return s == simwire.StatePosted }, d.Closed, nil)
		}()
		time.Sleep(2 * simwire.MaxSpin) // let it fall asleep, most of the time
		if byClient {
			c.Close()
		} else {
			d.Close()
		}
		select {
		case ok := <-ended:
			if ok {
				t.Fatal("Wait reported a request posted")
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Close by client=%v did not wake the secure world", byClient)
		}
	}
}
