package simtee

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/internal/simwire"
	"github.com/tzmediator/tzbridge/teeclient"
)

// maxBells is how many invokes at once take the fast path; more go over
// the socket.
const maxBells = 16

// bell is one doorbell page (simwire.Doorbell), used by one invoke at a
// time. Its spinner learns how long its invokes take.
type bell struct {
	mem  []byte
	ring int // the eventfd that wakes the secure world (simwire.NewRing)
	d    *simwire.Doorbell
	spin simwire.Spinner
	// cancelled is set when the call in progress is to be cancelled; it
	// lives here, not in invokeBell, which would allocate it per call.
	cancelled atomic.Bool
}

// getBell takes an idle doorbell, registering a new one if none is idle;
// nil means the socket.
func (b *Backend) getBell() *bell {
	b.bellMu.Lock()
	if n := len(b.idle); n > 0 && !b.lost.Load() {
		d := b.idle[n-1] // the most recently used: its spinner is warm
		b.idle = b.idle[:n-1]
		b.bellMu.Unlock()
		return d
	}
	if b.noBells || len(b.bells) >= maxBells || b.lost.Load() {
		b.bellMu.Unlock()
		return nil
	}
	b.bellMu.Unlock()
	d, err := b.newBell()
	b.bellMu.Lock()
	defer b.bellMu.Unlock()
	if err != nil {
		b.noBells = true
		return nil
	}
	b.bells = append(b.bells, d)
	if b.lost.Load() {
		d.d.Wake() // wakeBells may have run before d was listed
	}
	return d
}

func (b *Backend) putBell(d *bell) {
	b.bellMu.Lock()
	defer b.bellMu.Unlock()
	if b.lost.Load() {
		b.unmapLocked(d)
		return
	}
	b.idle = append(b.idle, d)
}

// unmapLocked forgets d, which no call uses, and unmaps it.
func (b *Backend) unmapLocked(d *bell) {
	if i := slices.Index(b.bells, d); i >= 0 {
		b.bells = slices.Delete(b.bells, i, i+1)
	}
	unix.Munmap(d.mem)
	unix.Close(d.ring)
}

// closeBells unmaps the idle doorbells once the connection is gone; those
// in use go when their call returns (putBell).
func (b *Backend) closeBells() {
	b.bellMu.Lock()
	defer b.bellMu.Unlock()
	for _, d := range b.idle {
		b.unmapLocked(d)
	}
	b.idle = nil
}

func (b *Backend) newBell() (*bell, error) {
	fd, mem, err := simwire.NewDoorbellMemfd()
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	ring, err := simwire.NewRing()
	if err != nil {
		unix.Munmap(mem)
		return nil, fmt.Errorf("simtee: doorbell ring: %w", err)
	}
	if _, err := b.roundTrip(context.Background(), &simwire.Msg{Kind: simwire.KindDoorbell, Size: simwire.DoorbellSize}, fd, ring); err != nil {
		unix.Munmap(mem)
		unix.Close(ring)
		return nil, err
	}
	d := &bell{mem: mem, ring: ring, d: simwire.NewDoorbell(mem)}
	d.d.UseRing(ring)
	return d, nil
}

// wakeBells wakes every invoke waiting on a doorbell once the connection
// is lost.
func (b *Backend) wakeBells() {
	b.lost.Store(true)
	b.bellMu.Lock()
	defer b.bellMu.Unlock()
	for _, d := range b.bells {
		d.d.Wake()
	}
}

// invokeBell is Invoke on a doorbell. When ctx is done before the reply,
// it asks the secure world to cancel the call, over the socket, once the
// secure world has taken the call (RUNNING): only then is its cancel id
// known there.
func (b *Backend) invokeBell(ctx context.Context, d *bell, a *teeclient.InvokeArgs) error {
	m := simwire.Msg{Kind: simwire.KindInvoke, Session: a.Session, Func: a.Func, CancelID: a.CancelID, Params: a.Params}
	m.Append(d.d.Msg()[:0])
	d.d.Post(simwire.StatePosted, true)

	done := func(s uint32) bool { return s == simwire.StateDone }
	cancelled := &d.cancelled
	cancelled.Store(false)
	cancelSent := false
	stop := func() bool {
		if b.lost.Load() {
			return true
		}
		if cancelSent || a.CancelID == 0 {
			return false
		}
		if ctx.Err() != nil {
			cancelled.Store(true)
		}
		if cancelled.Load() && d.d.State() != simwire.StatePosted {
			cancelSent = true
			// Best effort, like TEE_IOC_CANCEL: the reply still comes.
			_ = b.Cancel(a.Session, a.CancelID)
		}
		return false
	}
	// Registered only when the wait sleeps, so that a call that does not
	// costs no allocation for it.
	var stopWatch func() bool
	var woke chan struct{}
	sleeping := func() {
		if ctx.Done() != nil {
			w := make(chan struct{}) // captured, unlike woke, which stays on the stack
			woke = w
			stopWatch = context.AfterFunc(ctx, func() {
				defer close(w)
				cancelled.Store(true)
				d.d.Wake()
			})
		}
	}
	ok := d.d.Wait(&d.spin, true, done, stop, sleeping)
	if stopWatch != nil && !stopWatch() {
		<-woke // it touches the page, which may go once we return
	}
	if !ok || b.lost.Load() {
		// As on the socket, a reply that comes as the connection is lost
		// (the context closing under a call, say) is lost with it.
		<-b.done
		b.mu.Lock()
		err := b.err
		b.mu.Unlock()
		return err
	}
	var raw [simwire.InvokeSize]byte
	copy(raw[:], d.d.Msg())
	r, err := simwire.Unmarshal(raw[:])
	if err != nil {
		return fmt.Errorf("simtee: doorbell reply: %w", err)
	}
	if r.Kind != simwire.KindInvoke|simwire.ReplyBit {
		return fmt.Errorf("simtee: invoke answered with %v", r.Kind)
	}
	if r.Status != 0 {
		return refused("invoke", unix.Errno(r.Status))
	}
	a.Ret, a.Origin, a.Params = r.Ret, r.Origin, r.Params
	return nil
}
