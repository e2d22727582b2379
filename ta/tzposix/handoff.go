package tzposix

import (
	"context"

	"github.com/tzmediator/tzbridge/teeclient"
)

// handoff passes the mailbox between the Invoke entry point (the shadow's
// RESUME) and the program goroutine. The memref behind the mailbox is valid
// only while an Invoke runs, so the program never keeps it: it takes a lease
// on the mailbox of the RESUME in progress for one short, bounded piece of
// library code (read a response, or write a request) and hands it back. TA
// code never runs while a lease is held.
//
// All of the hand-off lives here so that a faster mechanism (spinning,
// futexes) can replace the channels without touching the rest.
type handoff struct {
	lease chan []byte   // Invoke → program: the current RESUME's mailbox
	back  chan bool     // program → Invoke: lease returned; true if a request was posted
	stop  chan struct{} // closed when the session closes: the lease will never come
	// exited is closed when the program goroutine has ended; panicked, set
	// before, is what it panicked with (nil if it returned).
	exited   chan struct{}
	panicked *programPanic
}

func newHandoff() *handoff {
	return &handoff{
		lease:  make(chan []byte),
		back:   make(chan bool),
		stop:   make(chan struct{}),
		exited: make(chan struct{}),
	}
}

// resume is the Invoke side: lend mb to the program until it posts its next
// request. Leases returned without a request (a response was read, then TA
// code ran) are lent again. While the program holds a lease, ctx is not
// watched: the lease ends after bounded library code, and returning early
// would let the program touch a memref that is no longer valid.
//
// Once the program has ended, a RESUME gets BAD_STATE (after EXIT there is
// nothing to resume) or, if it panicked, the panic for the caller to re-raise.
func (h *handoff) resume(ctx context.Context, mb []byte) (teeclient.Result, *programPanic) {
	for {
		select {
		case h.lease <- mb:
			// The program usually waits for the lease already; taking
			// this path first leaves ctx.Done unasked, so that a call
			// nobody cancels makes ctx allocate no channel.
		default:
			select {
			case h.lease <- mb:
			case <-ctx.Done():
				return teeclient.ErrorCancel, nil
			case <-h.exited:
				return teeclient.ErrorBadState, h.panicked
			}
		}
		select {
		case posted := <-h.back:
			if posted {
				return teeclient.Success, nil
			}
		case <-h.exited:
			return teeclient.ErrorBadState, h.panicked
		}
	}
}

// acquire is the program side: wait for a RESUME and take its mailbox.
// It fails once the session is closing.
func (h *handoff) acquire() ([]byte, bool) {
	select {
	case mb := <-h.lease:
		return mb, true
	case <-h.stop:
		return nil, false
	}
}

// release returns the lease; posted says a request is in the mailbox, which
// ends the RESUME. The Invoke side always waits for it, so this never blocks
// for long.
func (h *handoff) release(posted bool) { h.back <- posted }
