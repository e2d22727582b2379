package tzposix

import (
	"context"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/gp"
)

// A RESUME cancelled while the program holds the lease waits for the lease
// to come back, and then ends as the program decides: CANCEL when it is
// returned, SUCCESS when a request is posted with it.
func TestResumeCancelWhileHeld(t *testing.T) {
	for _, posted := range []bool{false, true} {
		h := newHandoff()
		ctx, cancel := context.WithCancel(context.Background())
		mb := make([]byte, 8)
		res := make(chan gp.Result, 1)
		go func() {
			r, _ := h.resume(ctx, mb)
			res <- r
		}()
		// Take the lease as the program would, cancel, and wait until
		// resume has seen it and asked for the lease back.
		got, ok := h.acquire()
		if !ok || &got[0] != &mb[0] {
			t.Fatal("acquire did not return the RESUME's mailbox")
		}
		cancel()
		deadline := time.Now().Add(10 * time.Second)
		for h.state.Load() != leaseWanted {
			if time.Now().After(deadline) {
				t.Fatal("a cancelled RESUME did not ask for the lease back")
			}
			select {
			case r := <-res:
				t.Fatalf("RESUME ended with %v while the program held the lease", r)
			case <-time.After(time.Millisecond):
			}
		}
		h.release(posted)
		want := gp.ErrorCancel
		if posted {
			want = gp.Success
		}
		if r := <-res; r != want {
			t.Errorf("posted=%v: RESUME = %v, want %v", posted, r, want)
		}
		if st := h.state.Load(); st != leaseNone {
			t.Errorf("posted=%v: lease state %d after the RESUME, want none", posted, st)
		}
	}
}
