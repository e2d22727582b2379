package shadow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/internal/simtest"
	"github.com/tzmediator/tzbridge/securesim"
	"github.com/tzmediator/tzbridge/teeclient"
	. "github.com/tzmediator/tzbridge/tzrpc"
)

// startSim runs a simulated secure world hosting defs and returns a
// Context connected to it.
func startSim(t *testing.T, defs ...securesim.Definition) *teeclient.Context {
	t.Helper()
	return simtest.Start(t, nil, defs...).Context
}

// step is one request of a scripted TA. before, if set, runs in the
// RESUME that sends it: it may wait (honouring ctx) or panic.
type step struct {
	op      Op
	arg     [6]int64
	payload []byte
	before  func(ctx context.Context) teeclient.Result
}

// scriptTA is a TA written directly against securesim.TA: each RESUME
// checks the response to its previous request and posts the next one.
type scriptTA struct {
	steps []step

	mu      sync.Mutex
	mailbox uint32
	next    int
	sent    Request
	resps   []Response
	errs    []error
}

func (ta *scriptTA) Create() teeclient.Result { return teeclient.Success }
func (ta *scriptTA) Destroy()                 {}
func (ta *scriptTA) CloseSession(any)         {}

func (ta *scriptTA) OpenSession(_ context.Context, p *securesim.Params) (any, teeclient.Result) {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	if p[0].Type != teeclient.AttrValueInput {
		ta.errs = append(ta.errs, fmt.Errorf("open session: param 0 is %v", p[0].Type))
		return nil, teeclient.ErrorBadParameters
	}
	if err := CheckSession(p[0].A, p[0].B); err != nil {
		ta.errs = append(ta.errs, err)
		return nil, teeclient.ErrorNotSupported
	}
	ta.mailbox = p[0].B
	return nil, teeclient.Success
}

func (ta *scriptTA) Invoke(ctx context.Context, _ any, cmd uint32, p *securesim.Params) teeclient.Result {
	st, r := ta.receive(cmd, p)
	if r != teeclient.Success {
		return r
	}
	// Outside the lock: before may block or panic.
	if st.before != nil {
		if r := st.before(ctx); r != teeclient.Success {
			return r
		}
	}
	return ta.post(st, p[0].Mem)
}

// receive checks the RESUME and the response to the previous request, and
// returns the next step.
func (ta *scriptTA) receive(cmd uint32, p *securesim.Params) (step, teeclient.Result) {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	mb := p[0].Mem
	if cmd != CmdResume || p[0].Type != teeclient.AttrMemrefInout || uint32(len(mb)) != ta.mailbox {
		ta.errs = append(ta.errs, fmt.Errorf("RESUME: cmd %d, param 0 %v of %d bytes", cmd, p[0].Type, len(mb)))
		return step{}, teeclient.ErrorBadParameters
	}
	if ta.next > 0 {
		resp, err := DecodeResponse(mb)
		if err == nil {
			resp.Payload = bytes.Clone(resp.Payload)
			err = CheckResponse(&ta.sent, &resp, PayloadCap(mb))
		}
		if err != nil {
			ta.errs = append(ta.errs, err)
		}
		ta.resps = append(ta.resps, resp)
	}
	if ta.next == len(ta.steps) {
		ta.errs = append(ta.errs, errors.New("resumed after the last step"))
		return step{}, teeclient.ErrorBadState
	}
	ta.next++
	return ta.steps[ta.next-1], teeclient.Success
}

func (ta *scriptTA) post(st step, mb []byte) teeclient.Result {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	ta.sent = Request{Op: st.op, Seq: uint32(ta.next), Args: st.arg, Payload: bytes.Clone(st.payload)}
	copy(mb[HeaderSize:], st.payload)
	if err := EncodeRequestHeader(mb, st.op, ta.sent.Seq, st.arg, len(st.payload)); err != nil {
		ta.errs = append(ta.errs, err)
		return teeclient.ErrorGeneric
	}
	return teeclient.Success
}

func (ta *scriptTA) results(t *testing.T) []Response {
	t.Helper()
	ta.mu.Lock()
	defer ta.mu.Unlock()
	for _, err := range ta.errs {
		t.Errorf("TA: %v", err)
	}
	return ta.resps
}

var testUUID = teeclient.MustParseUUID("5ad0b0e4-1c2e-4c6a-9d3b-7a1e2f3c4d5e")

// runScript runs a shadow for a scripted TA in root until Run returns.
func runScript(t *testing.T, ctx context.Context, root string, steps ...step) (*scriptTA, *Shadow, error) {
	t.Helper()
	ta := &scriptTA{steps: steps}
	tc := startSim(t, securesim.Definition{Name: "script", UUID: testUUID, New: func() securesim.TA { return ta }})
	s, err := New(Config{Name: "script", UUID: testUUID, Root: root, Mailbox: MinMailbox, MaxDescriptors: 8})
	if err != nil {
		t.Fatal(err)
	}
	return ta, s, s.Run(ctx, tc)
}

func TestRunUntilExit(t *testing.T) {
	root := t.TempDir()
	ta, s, err := runScript(t, context.Background(), root,
		step{op: OpMkfifo, arg: args(0o600), payload: []byte("fifo")},
		step{op: OpOpen, arg: args(O_RDWR), payload: []byte("fifo")},
		step{op: OpWrite, arg: args(3), payload: []byte("hi")},
		step{op: OpRead, arg: args(3, 10)},
		step{op: OpClose, arg: args(99)},
		step{op: OpExit, arg: args(0)},
	)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	resps := ta.results(t)
	if len(resps) != 5 {
		t.Fatalf("%d responses, want 5", len(resps))
	}
	if resps[1].Ret != 3 || resps[2].Ret != 2 || string(resps[3].Payload) != "hi" || resps[4].Errno != EBADF {
		t.Errorf("responses %+v", resps)
	}
	if fi, err := os.Stat(filepath.Join(root, "fifo")); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("fifo: %v", err)
	}
	// The totals; stats_test.go checks the detail.
	st := s.Stats()
	got := [5]uint64{uint64(st.OpenDescriptors), st.Calls, st.BytesIn, st.BytesOut, st.Errors}
	if want := [5]uint64{0, 6, 2, 2, 1}; got != want {
		t.Errorf("stats (descriptors, calls, in, out, errors) %v, want %v", got, want)
	}
	if err := s.Run(context.Background(), nil); err == nil {
		t.Error("second Run succeeded")
	}
}

func TestRunExitStatus(t *testing.T) {
	_, _, err := runScript(t, context.Background(), t.TempDir(), step{op: OpExit, arg: args(3)})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Status != 3 {
		t.Errorf("Run: %v, want an ExitError with status 3", err)
	}
}

// TestRunTAPanic: a TA panic ends Run with TARGET_DEAD, and the TA's
// descriptors are closed: the CA writing its FIFO gets EPIPE.
func TestRunTAPanic(t *testing.T) {
	ready, proceed := make(chan string), make(chan struct{})
	var ca *os.File
	caErr := make(chan error, 1)
	go func() {
		path := <-ready
		f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		ca = f
		caErr <- err
		close(proceed)
	}()
	root := t.TempDir()
	_, s, err := runScript(t, context.Background(), root,
		step{op: OpMkfifo, arg: args(0o600), payload: []byte("fifo")},
		step{op: OpOpen, arg: args(O_RDONLY | O_NONBLOCK), payload: []byte("fifo")},
		step{before: func(context.Context) teeclient.Result {
			ready <- filepath.Join(root, "fifo")
			<-proceed
			panic("TA bug")
		}},
	)
	if !errors.Is(err, teeclient.ErrorTargetDead) {
		t.Fatalf("Run: %v, want TARGET_DEAD", err)
	}
	if err := <-caErr; err != nil {
		t.Fatalf("CA open: %v", err)
	}
	defer ca.Close()
	if _, err := ca.Write([]byte("anyone?")); !errors.Is(err, syscall.EPIPE) {
		t.Errorf("CA write after the TA died: %v, want EPIPE", err)
	}
	if n := s.Stats().OpenDescriptors; n != 0 {
		t.Errorf("%d descriptors still open", n)
	}
}

// TestRunCancel: cancelling Run's context ends it while the shadow is
// blocked in a TA's call, and while the TA itself is running.
func TestRunCancel(t *testing.T) {
	for _, c := range []struct {
		name  string
		steps func(started chan<- struct{}) []step
	}{
		{"shadow blocked in a FIFO open", func(started chan<- struct{}) []step {
			return []step{
				{op: OpMkfifo, arg: args(0o600), payload: []byte("fifo")},
				{op: OpOpen, arg: args(O_RDONLY), payload: []byte("fifo"), before: func(context.Context) teeclient.Result {
					close(started)
					return teeclient.Success
				}},
			}
		}},
		{"TA running", func(started chan<- struct{}) []step {
			return []step{{before: func(ctx context.Context) teeclient.Result {
				close(started)
				<-ctx.Done()
				return teeclient.ErrorCancel
			}}}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			started := make(chan struct{})
			go func() {
				<-started
				time.Sleep(50 * time.Millisecond) // let the call block: not a timing assertion
				cancel()
			}()
			done := make(chan struct{})
			var err error
			go func() {
				defer close(done)
				_, _, err = runScript(t, ctx, t.TempDir(), c.steps(started)...)
			}()
			await(t, done, "Run")
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Run: %v, want context.Canceled", err)
			}
		})
	}
}

func TestRunUnknownTA(t *testing.T) {
	tc := startSim(t)
	s, err := New(Config{Name: "ghost", UUID: testUUID, Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(context.Background(), tc); !errors.Is(err, teeclient.ErrorItemNotFound) {
		t.Errorf("Run: %v, want ITEM_NOT_FOUND", err)
	}
}

func TestNewConfig(t *testing.T) {
	root := t.TempDir()
	for _, c := range []Config{
		{Root: root},
		{Name: "x", Root: filepath.Join(root, "missing")},
		{Name: "x", Root: root, Mailbox: MinMailbox - 1},
		{Name: "x", Root: root, MaxDescriptors: -1},
	} {
		if s, err := New(c); err == nil {
			s.Close()
			t.Errorf("New(%+v) succeeded", c)
		}
	}
	s, err := New(Config{Name: "x", Root: root, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}
