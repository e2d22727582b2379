package tzposix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/gp"
	"github.com/tzmediator/tzbridge/securesim"
	"github.com/tzmediator/tzbridge/tzrpc"
)

func TestOpenSessionParams(t *testing.T) {
	ta := NewTA(func(context.Context, *Proc) error { return nil })
	tests := []struct {
		name string
		p    securesim.Params
		want gp.Result
	}{
		{"ok", openParams(tzrpc.MinMailbox), gp.Success},
		{"default size", openParams(tzrpc.DefaultMailbox), gp.Success},
		{"too small", openParams(tzrpc.MinMailbox - 1), gp.ErrorBadParameters},
		{"version", func() securesim.Params { p := openParams(tzrpc.MinMailbox); p[0].A = 2; return p }(), gp.ErrorNotSupported},
		{"not a value", func() securesim.Params {
			p := openParams(tzrpc.MinMailbox)
			p[0].Type = gp.AttrValueInout
			return p
		}(), gp.ErrorBadParameters},
		{"extra param", func() securesim.Params {
			p := openParams(tzrpc.MinMailbox)
			p[3].Type = gp.AttrValueInput
			return p
		}(), gp.ErrorBadParameters},
		{"none", securesim.Params{}, gp.ErrorBadParameters},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, r := ta.OpenSession(context.Background(), &tc.p)
			if r != tc.want {
				t.Fatalf("OpenSession = %v, want %v", r, tc.want)
			}
			if r == gp.Success {
				ta.CloseSession(s)
			}
		})
	}
}

func TestInvokeParams(t *testing.T) {
	started := make(chan struct{}, 1)
	f := startFake(t, tzrpc.MinMailbox, func(context.Context, *Proc) error {
		started <- struct{}{}
		return nil
	})
	mem := func(m []byte) securesim.Param {
		return securesim.Param{Type: gp.AttrMemrefInout, Mem: m, Size: uint64(len(m))}
	}
	tests := []struct {
		name string
		cmd  uint32
		p    securesim.Params
		want gp.Result
	}{
		{"unknown command", tzrpc.CmdNull + 1, securesim.Params{mem(f.mb)}, gp.ErrorNotSupported},
		{"null", tzrpc.CmdNull, securesim.Params{}, gp.Success},
		{"null with a mailbox", tzrpc.CmdNull, securesim.Params{mem(f.mb)}, gp.ErrorBadParameters},
		{"null with a value", tzrpc.CmdNull, securesim.Params{{}, {}, {}, {Type: gp.AttrValueInput}}, gp.ErrorBadParameters},
		{"no mailbox", tzrpc.CmdResume, securesim.Params{}, gp.ErrorBadParameters},
		{"input memref", tzrpc.CmdResume, securesim.Params{{Type: gp.AttrMemrefInput, Mem: f.mb}}, gp.ErrorBadParameters},
		{"output memref", tzrpc.CmdResume, securesim.Params{{Type: gp.AttrMemrefOutput, Mem: f.mb}}, gp.ErrorBadParameters},
		{"shorter than agreed", tzrpc.CmdResume, securesim.Params{mem(f.mb[:len(f.mb)-1])}, gp.ErrorBadParameters},
		{"longer than agreed", tzrpc.CmdResume, securesim.Params{mem(make([]byte, len(f.mb)+1))}, gp.ErrorBadParameters},
		{"extra param", tzrpc.CmdResume, securesim.Params{mem(f.mb), {Type: gp.AttrValueInput}}, gp.ErrorBadParameters},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if r := f.ta.Invoke(context.Background(), f.sess, tc.cmd, &tc.p); r != tc.want {
				t.Fatalf("Invoke = %v, want %v", r, tc.want)
			}
		})
	}
	select {
	case <-started:
		t.Fatal("a refused RESUME or a NULL started the program")
	default:
	}
	f.expectExit(0)
}

func TestExitStatus(t *testing.T) {
	f := startFake(t, tzrpc.MinMailbox, func(context.Context, *Proc) error { return errors.New("failed") })
	f.expectExit(1)
	if r := f.resume(context.Background()); r != gp.ErrorBadState {
		t.Fatalf("RESUME after EXIT = %v, want BAD_STATE", r)
	}
}

// A RESUME cancelled while the program computes returns CANCEL; the next
// one picks up where the program is.
func TestResumeCancel(t *testing.T) {
	gate := make(chan struct{})
	f := startFake(t, tzrpc.MinMailbox, func(ctx context.Context, p *Proc) error {
		<-gate
		return p.Mkdir("d", 0o700)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if r := f.resume(ctx); r != gp.ErrorCancel {
		t.Fatalf("RESUME = %v, want CANCEL", r)
	}
	close(gate)
	req := f.next()
	if req.Op != tzrpc.OpMkdir {
		t.Fatalf("request %v, want MKDIR", req.Op)
	}
	f.reply(req, 0, 0, [4]int64{}, nil)
	f.expectExit(0)
}

// CloseSession with the program blocked in a call: the call fails with
// ECANCELED, the program's context ends and its goroutine finishes.
func TestCloseSessionBlocked(t *testing.T) {
	type result struct {
		err    error
		ctxErr error
	}
	res := make(chan result, 2)
	f := startFake(t, tzrpc.MinMailbox, func(ctx context.Context, p *Proc) error {
		fd, err := p.Socket(AF_INET, SOCK_STREAM, 0)
		if err != nil {
			return err
		}
		_, _, err = p.Accept(fd) // blocks: the shadow never answers
		<-ctx.Done()
		_, err2 := p.Socket(AF_INET, SOCK_STREAM, 0)
		res <- result{err, ctx.Err()}
		res <- result{err2, nil}
		return nil
	})
	s := f.sess.(*session)
	req := f.next()
	f.reply(req, 3, 0, [4]int64{}, nil)
	if req = f.next(); req.Op != tzrpc.OpAccept {
		t.Fatalf("request %v, want ACCEPT", req.Op)
	}
	f.close()
	r := <-res
	if !errors.Is(r.err, syscall.ECANCELED) || r.ctxErr == nil {
		t.Fatalf("blocked call: %v, ctx %v; want ECANCELED and a cancelled context", r.err, r.ctxErr)
	}
	if r = <-res; !errors.Is(r.err, syscall.ECANCELED) {
		t.Fatalf("later call: %v, want ECANCELED", r.err)
	}
	select {
	case <-s.h.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("program goroutine did not end")
	}
}

// CloseSession while the program computes: its next call fails.
func TestCloseSessionComputing(t *testing.T) {
	gate := make(chan struct{})
	res := make(chan error, 1)
	f := startFake(t, tzrpc.MinMailbox, func(ctx context.Context, p *Proc) error {
		<-gate
		res <- p.Mkdir("d", 0o700)
		return nil
	})
	s := f.sess.(*session)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if r := f.resume(ctx); r != gp.ErrorCancel {
		t.Fatalf("RESUME = %v, want CANCEL", r)
	}
	f.close()
	close(gate)
	if err := <-res; !errors.Is(err, syscall.ECANCELED) {
		t.Fatalf("call after close: %v, want ECANCELED", err)
	}
	<-s.h.exited
}

// hostSession opens a session of def through a real securesim.Host, the
// way the simulator's server does.
func hostSession(t *testing.T, h *securesim.Host, owner any, uuid gp.UUID) uint32 {
	t.Helper()
	p := openParams(tzrpc.MinMailbox)
	id, r, o := h.OpenSession(context.Background(), owner, uuid, securesim.Client{}, &p)
	if r != gp.Success {
		t.Fatalf("OpenSession: %v (%v)", r, o)
	}
	return id
}

func hostResume(h *securesim.Host, owner any, id uint32, mb []byte) (gp.Result, gp.Origin) {
	p := securesim.Params{{Type: gp.AttrMemrefInout, Mem: mb, Size: uint64(len(mb))}}
	return h.Invoke(context.Background(), owner, id, tzrpc.CmdResume, &p)
}

// A panicking program must not crash the process: the host sees the panic
// in the Invoke entry point and reports TARGET_DEAD from then on. Other
// sessions' programs of the dead instance are stopped.
func TestProgramPanic(t *testing.T) {
	uuid := gp.MustParseUUID("6d2c1a9e-0b4f-4c1e-9a51-3f6f2b7d8e01")
	other := make(chan error, 1)
	prog := func(ctx context.Context, p *Proc) error {
		if _, err := p.Socket(AF_INET, SOCK_STREAM, 0); err != nil {
			other <- err // the bystander session: blocked until stopped
			return err
		}
		var m map[string]int
		m["boom"]++ // a TA bug
		return nil
	}
	def := Definition("panicky", uuid, securesim.Properties{SingleInstance: true, MultiSession: true}, prog)
	h, err := securesim.NewHost([]securesim.Definition{def}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	owner := new(int)
	bystander := hostSession(t, h, owner, uuid)
	bmb := make([]byte, tzrpc.MinMailbox)
	if r, _ := hostResume(h, owner, bystander, bmb); r != gp.Success {
		t.Fatalf("bystander RESUME: %v", r)
	}

	id := hostSession(t, h, owner, uuid)
	mb := make([]byte, tzrpc.MinMailbox)
	if r, _ := hostResume(h, owner, id, mb); r != gp.Success {
		t.Fatalf("RESUME: %v", r)
	}
	req, err := tzrpc.DecodeRequest(mb)
	if err != nil || req.Op != tzrpc.OpSocket {
		t.Fatalf("request %v, %v; want SOCKET", req.Op, err)
	}
	resp := tzrpc.Response{Op: req.Op, Seq: req.Seq, Ret: 3}
	if err := tzrpc.EncodeResponseHeader(mb, &resp, 0); err != nil {
		t.Fatal(err)
	}
	if r, o := hostResume(h, owner, id, mb); r != gp.ErrorTargetDead || o != gp.OriginTEE {
		t.Fatalf("RESUME into a panic = %v (%v), want TARGET_DEAD from TEE", r, o)
	}
	if r, _ := hostResume(h, owner, id, mb); r != gp.ErrorTargetDead {
		t.Fatalf("RESUME after the panic = %v, want TARGET_DEAD", r)
	}
	select {
	case err := <-other:
		if !errors.Is(err, syscall.ECANCELED) {
			t.Fatalf("bystander's call: %v, want ECANCELED", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bystander program still blocked after its instance died")
	}
	h.CloseOwner(owner)
}

// A program that panics before its first call panics the first RESUME.
func TestProgramPanicFirstResume(t *testing.T) {
	f := startFake(t, tzrpc.MinMailbox, func(context.Context, *Proc) error { panic("early") })
	defer func() {
		v := recover()
		pp, ok := v.(*programPanic)
		if !ok || pp.value != "early" || len(pp.stack) == 0 {
			t.Fatalf("Invoke panicked with %#v, want the program's panic", v)
		}
	}()
	f.resume(context.Background())
	t.Fatal("RESUME returned instead of panicking")
}

// TA code may call from several goroutines: calls take turns on the one
// mailbox and each gets its own answer.
func TestConcurrentCalls(t *testing.T) {
	const workers, each = 4, 25
	f, wait := runCall(t, tzrpc.MinMailbox, map[int32]fdInfo{3: file}, func(p *Proc) (any, error) {
		errs := make(chan error, workers)
		for w := range workers {
			go func() {
				for i := range each {
					msg := []byte{byte(w), byte(i)}
					n, err := p.Write(3, msg)
					if err == nil && n != len(msg) {
						err = fmt.Errorf("wrote %d", n)
					}
					if err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for range workers {
			if err := <-errs; err != nil {
				return nil, err
			}
		}
		return nil, nil
	})
	seen := map[[2]byte]bool{}
	for range workers * each {
		req := f.next()
		if req.Op != tzrpc.OpWrite || len(req.Payload) != 2 {
			t.Fatalf("request %v %q", req.Op, req.Payload)
		}
		seen[[2]byte(req.Payload)] = true
		f.reply(req, 2, 0, [4]int64{}, nil)
	}
	if o := wait(); o.err != nil || len(seen) != workers*each {
		t.Fatalf("err %v, %d distinct writes", o.err, len(seen))
	}
}
