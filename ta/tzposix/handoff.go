package tzposix

import (
	"context"
	"sync/atomic"

	"github.com/tzmediator/tzbridge/gp"
)

// handoff passes the mailbox between the Invoke entry point (the shadow's
// RESUME) and the program goroutine. The memref behind the mailbox is valid
// only while an Invoke runs, so the program never keeps it: it takes a lease
// on the mailbox of the RESUME in progress for one short, bounded piece of
// library code (read a response, or write a request) and hands it back. TA
// code never runs while a lease is held.
//
// A RESUME usually takes two leases: one to read the response, one to write
// the next request, with TA code in between. Only the end of the RESUME (a
// request posted) and the start of the next one wake the other goroutine;
// the leases in between are taken and returned with atomic operations on
// state, so that a RESUME costs two goroutine switches rather than four.
//
// All of the hand-off lives here so that a faster mechanism can replace it
// without touching the rest.
type handoff struct {
	// mb is the mailbox of the RESUME in progress. Invoke writes it while
	// state is leaseNone, before publishing it; the program reads it only
	// after taking the lease.
	mb    []byte
	state atomic.Int32
	// wake (capacity 1) tells a program waiting for a lease to look at
	// state again; a token may be stale, so the program checks.
	wake chan struct{}
	back chan bool     // program → Invoke: the RESUME ends; true if a request was posted
	stop chan struct{} // closed when the session closes: the lease will never come
	// exited is closed when the program goroutine has ended; panicked, set
	// before, is what it panicked with (nil if it returned).
	exited   chan struct{}
	panicked *programPanic
}

// Lease states.
const (
	leaseNone   int32 = iota // no RESUME in progress, or it is ending
	leaseFree                // a RESUME is in progress; the program may take mb
	leaseHeld                // the program is in library code with mb
	leaseWanted              // held, and Invoke (cancelled) waits for it back
)

func newHandoff() *handoff {
	return &handoff{
		wake:   make(chan struct{}, 1),
		back:   make(chan bool),
		stop:   make(chan struct{}),
		exited: make(chan struct{}),
	}
}

// resume is the Invoke side: lend mb to the program until it posts its next
// request. The program may take and return the lease several times (read a
// response, run TA code, write a request). ctx is watched only while the
// program does not hold the lease: the lease ends after bounded library
// code, and returning early would let the program touch a memref that is
// no longer valid.
//
// Once the program has ended, a RESUME gets BAD_STATE (after EXIT there is
// nothing to resume) or, if it panicked, the panic for the caller to re-raise.
func (h *handoff) resume(ctx context.Context, mb []byte) (gp.Result, *programPanic) {
	h.mb = mb
	h.state.Store(leaseFree)
	select {
	case h.wake <- struct{}{}:
	default: // a token is there already
	}
	done := ctx.Done()
	for {
		select {
		case posted := <-h.back:
			if posted {
				return gp.Success, nil
			}
			// The lease came back as asked, after ctx was done.
			return gp.ErrorCancel, nil
		case <-done:
			if h.revoke() {
				return gp.ErrorCancel, nil
			}
			done = nil // the program holds the lease or is posting: wait for back
		case <-h.exited:
			return gp.ErrorBadState, h.panicked
		}
	}
}

// revoke ends the lease for a cancelled RESUME. It reports true when the
// program did not hold it (it no longer can); false when the program holds
// it, and will send on back when it posts or returns it, or has posted.
func (h *handoff) revoke() bool {
	for {
		switch h.state.Load() {
		case leaseFree:
			if h.state.CompareAndSwap(leaseFree, leaseNone) {
				return true
			}
		case leaseHeld:
			if h.state.CompareAndSwap(leaseHeld, leaseWanted) {
				return false
			}
		default: // leaseNone: posted, back is on its way
			return false
		}
	}
}

// acquire is the program side: wait for a RESUME and take its mailbox.
// It fails once the session is closing.
func (h *handoff) acquire() ([]byte, bool) {
	for {
		if h.state.CompareAndSwap(leaseFree, leaseHeld) {
			return h.mb, true
		}
		select {
		case <-h.wake:
		case <-h.stop:
			return nil, false
		}
	}
}

// release returns the lease; posted says a request is in the mailbox, which
// ends the RESUME. The Invoke side waits for the end of its RESUME, so this
// never blocks for long.
func (h *handoff) release(posted bool) {
	if !posted && h.state.CompareAndSwap(leaseHeld, leaseFree) {
		return // the RESUME goes on: the program may take the lease again
	}
	// Posted, or Invoke wants the lease back (leaseWanted).
	h.state.Store(leaseNone)
	h.back <- posted
}
