package shadow

import (
	"context"
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
