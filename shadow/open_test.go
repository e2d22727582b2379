package shadow

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/internal/syncbuf"
	"github.com/tzmediator/tzbridge/teeclient"
)

// waitingDevice is a device backend whose session open waits, as Linux's
// OP-TEE driver does for a tee-supplicant that is not running, until its
// context ends (linuxtee then interrupts the wait), and then fails as the
// driver makes it fail.
type waitingDevice struct {
	entered chan struct{}
}

func (w *waitingDevice) Version() teeclient.Version {
	return teeclient.Version{ImplID: teeclient.ImplOPTEE, GenCaps: teeclient.CapGP}
}

func (w *waitingDevice) OpenSession(ctx context.Context, a *teeclient.OpenArgs) error {
	close(w.entered)
	<-ctx.Done()
	a.Ret, a.Origin = teeclient.ErrorCommunication, teeclient.OriginComms
	return nil
}

func (w *waitingDevice) Invoke(context.Context, *teeclient.InvokeArgs) error { return nil }
func (w *waitingDevice) Cancel(uint32, uint32) error                         { return nil }
func (w *waitingDevice) CloseSession(uint32) error                           { return nil }
func (w *waitingDevice) AllocSharedMemory(int) (teeclient.SharedMem, error) {
	return nil, teeclient.ErrRegisterUnsupported
}
func (w *waitingDevice) RegisterSharedMemory([]byte) (teeclient.SharedMem, error) {
	return nil, teeclient.ErrRegisterUnsupported
}
func (w *waitingDevice) Close() error { return nil }

// TestOpenWithoutSupplicant: on a device, a session open that gets no
// answer is logged naming tee-supplicant, and given up after OpenTimeout
// with an error that names it too.
func TestOpenWithoutSupplicant(t *testing.T) {
	var logs syncbuf.Buffer
	s, err := New(Config{Name: "echo", Root: t.TempDir(), OpenTimeout: 400 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	dev := &waitingDevice{entered: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- s.Run(t.Context(), teeclient.NewContext(dev)) }()
	select {
	case err = <-done:
	case <-time.After(time.Minute): // a safety net against hanging, not a timing check
		t.Fatal("Run still waiting for the open a minute later")
	}
	if err == nil || !strings.Contains(err.Error(), "tee-supplicant") {
		t.Fatalf("Run = %v, want a failed open that names tee-supplicant", err)
	}
	if n := strings.Count(logs.String(), "is tee-supplicant running?"); n != 1 {
		t.Errorf("%d log lines name tee-supplicant, want 1:\n%s", n, logs.String())
	}
}

// TestStopWhileOpenBlocked: a stop requested while the session open waits
// ends Run, with a log line that says so.
func TestStopWhileOpenBlocked(t *testing.T) {
	var logs syncbuf.Buffer
	s, err := New(Config{Name: "echo", Root: t.TempDir(), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	dev := &waitingDevice{entered: make(chan struct{})}
	ctx, stop := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, teeclient.NewContext(dev)) }()
	<-dev.entered
	stop()
	select {
	case <-done:
	case <-time.After(time.Minute): // a safety net against hanging, not a timing check
		t.Fatal("Run still blocked a minute after the stop")
	}
	if !strings.Contains(logs.String(), "stop requested while the session opens") {
		t.Errorf("no log line for the stop during the open:\n%s", logs.String())
	}
}

// shmDevice is a device backend that opens sessions and records how the
// mailbox was made; its first RESUME fails, which ends Run.
type shmDevice struct {
	caps       teeclient.Capabilities
	registered []int
	allocated  []int
}

type plainMem []byte

func (m plainMem) ID() uint64     { return 1 }
func (m plainMem) Bytes() []byte  { return m }
func (m plainMem) Release() error { return nil }
func (d *shmDevice) Version() teeclient.Version {
	return teeclient.Version{ImplID: teeclient.ImplOPTEE, GenCaps: teeclient.CapGP | d.caps}
}
func (d *shmDevice) OpenSession(_ context.Context, a *teeclient.OpenArgs) error {
	a.Session, a.Ret = 1, teeclient.Success
	return nil
}
func (d *shmDevice) Invoke(context.Context, *teeclient.InvokeArgs) error {
	return errors.New("no TA here")
}
func (d *shmDevice) Cancel(uint32, uint32) error { return nil }
func (d *shmDevice) CloseSession(uint32) error   { return nil }
func (d *shmDevice) AllocSharedMemory(n int) (teeclient.SharedMem, error) {
	d.allocated = append(d.allocated, n)
	return make(plainMem, n), nil
}
func (d *shmDevice) RegisterSharedMemory(b []byte) (teeclient.SharedMem, error) {
	d.registered = append(d.registered, len(b))
	return plainMem(b), nil
}
func (d *shmDevice) Close() error { return nil }

// TestMailboxOnDevice: with REG_MEM the mailbox is the shadow's own memory,
// registered (up to 8 MiB); without it, allocated by the driver (up to 4
// MiB). A size the TEE cannot give fails before asking it, with an error
// naming the limit.
func TestMailboxOnDevice(t *testing.T) {
	tests := []struct {
		name            string
		caps            teeclient.Capabilities
		size            int
		registered      int
		allocated       int
		wantErrContains string
	}{
		{"registered", teeclient.CapRegMem, 256 << 10, 256 << 10, 0, "resume TA"},
		{"registered 8 MiB", teeclient.CapRegMem, 8 << 20, 8 << 20, 0, "resume TA"},
		{"registered over 8 MiB", teeclient.CapRegMem, 8<<20 + 1, 0, 0, "at most 8388608 (8 MiB) of registered shared memory"},
		{"allocated", 0, 256 << 10, 0, 256 << 10, "resume TA"},
		{"allocated 4 MiB", 0, 4 << 20, 0, 4 << 20, "resume TA"},
		{"allocated over 4 MiB", 0, 4<<20 + 1, 0, 0, "allocated shared memory is at most 4194304 (4 MiB)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Config{Name: "echo", Root: t.TempDir(), Mailbox: tc.size})
			if err != nil {
				t.Fatal(err)
			}
			dev := &shmDevice{caps: tc.caps}
			err = s.Run(t.Context(), teeclient.NewContext(dev))
			if err == nil || !strings.Contains(err.Error(), tc.wantErrContains) {
				t.Fatalf("Run = %v, want an error with %q", err, tc.wantErrContains)
			}
			if got := sum(dev.registered); got != tc.registered || len(dev.registered) > 1 {
				t.Errorf("registered %v, want %d bytes", dev.registered, tc.registered)
			}
			if got := sum(dev.allocated); got != tc.allocated || len(dev.allocated) > 1 {
				t.Errorf("allocated %v, want %d bytes", dev.allocated, tc.allocated)
			}
		})
	}
}

func sum(v []int) int {
	n := 0
	for _, x := range v {
		n += x
	}
	return n
}
