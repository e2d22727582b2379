//go:build linux

package linuxtee

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/teeclient"
)

// TestOpenWaitingForSupplicantEndsOnCancel: an open that waits in the
// driver for tee-supplicant (none runs) ignores TEE_IOC_CANCEL; once its
// context ends, the thread blocked in the ioctl is signalled until the
// driver gives up (TEEC_ERROR_COMMUNICATION), and OpenSession returns.
func TestOpenWaitingForSupplicantEndsOnCancel(t *testing.T) {
	f := newFake(t)
	d := f.device(t)
	entered := make(chan int, 1)
	f.ta = func(req uint32, buf []byte) {
		tid := unix.Gettid() // the thread blocked in the ioctl
		entered <- tid
		// As optee_supp_thrd_req with no supplicant: only a signal to
		// this thread ends the wait. Interrupts of other threads, and
		// the cancel request, do not.
		for {
			select {
			case got := <-f.interrupts:
				if got != tid {
					t.Errorf("interrupt sent to thread %d, the open waits on %d", got, tid)
					continue
				}
				ne.PutUint32(buf[44:], uint32(teeclient.ErrorCommunication))
				ne.PutUint32(buf[48:], uint32(teeclient.OriginComms))
				return
			case <-time.After(time.Minute): // a safety net against hanging, not a timing check
				t.Error("the blocked thread was never interrupted")
				return
			}
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	a := &teeclient.OpenArgs{Login: teeclient.LoginPublic, CancelID: 5}
	go func() { done <- d.OpenSession(ctx, a) }()
	<-entered
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("OpenSession: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("OpenSession still blocked a minute after its context ended")
	}
	if a.Ret != teeclient.ErrorCommunication || a.Origin != teeclient.OriginComms {
		t.Errorf("open ended with %v (%v), want the driver's TEEC_ERROR_COMMUNICATION", a.Ret, a.Origin)
	}
	select {
	case got := <-f.cancels:
		if got != [2]uint32{0, 5} {
			t.Errorf("cancel for session %d id %d, want 0 and 5", got[0], got[1])
		}
	default:
		t.Error("no TEE_IOC_CANCEL was sent")
	}
}

// TestInterruptSignalsAThread: the real interrupt signals one
// thread of this process with SIGURG, which the Go runtime absorbs.
func TestInterruptSignalsAThread(t *testing.T) {
	if err := (sysKernel{}).interrupt(unix.Gettid()); err != nil {
		t.Fatal(err)
	}
	if err := (sysKernel{}).interrupt(1 << 30); !errors.Is(err, unix.ESRCH) {
		t.Errorf("interrupt of a thread that does not exist: %v, want ESRCH", err)
	}
}
