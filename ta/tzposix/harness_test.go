package tzposix

import (
	"context"
	"encoding/binary"
	"maps"
	"testing"

	"github.com/tzmediator/tzbridge/gp"
	"github.com/tzmediator/tzbridge/securesim"
	"github.com/tzmediator/tzbridge/tzrpc"
)

// fake is a fake shadow: it drives the TA's entry points directly with a
// private mailbox, as the real shadow does through the Client API.
type fake struct {
	t      testing.TB
	ta     securesim.TA
	sess   any
	mb     []byte
	params securesim.Params
	// pendingExit is an EXIT already taken by nextOrExit.
	pendingExit *tzrpc.Request
}

func openParams(size int) securesim.Params {
	var p securesim.Params
	p[0] = securesim.Param{Type: gp.AttrValueInput, A: uint32(tzrpc.Version), B: uint32(size)}
	return p
}

func startFake(t testing.TB, size int, prog Program) *fake {
	t.Helper()
	ta := NewTA(prog)
	if r := ta.Create(); r != gp.Success {
		t.Fatalf("Create: %v", r)
	}
	p := openParams(size)
	sess, r := ta.OpenSession(context.Background(), &p)
	if r != gp.Success {
		t.Fatalf("OpenSession: %v", r)
	}
	f := &fake{t: t, ta: ta, sess: sess, mb: make([]byte, size)}
	t.Cleanup(f.close)
	return f
}

func (f *fake) close() {
	if f.sess != nil {
		f.ta.CloseSession(f.sess)
		f.ta.Destroy()
		f.sess = nil
	}
}

func (f *fake) resume(ctx context.Context) gp.Result {
	f.params[0] = securesim.Param{Type: gp.AttrMemrefInout, Mem: f.mb, Size: uint64(len(f.mb))}
	return f.ta.Invoke(ctx, f.sess, tzrpc.CmdResume, &f.params)
}

// next resumes the program and returns the request it posted, detached.
func (f *fake) next() tzrpc.Request {
	f.t.Helper()
	if r := f.resume(context.Background()); r != gp.Success {
		f.t.Fatalf("RESUME: %v", r)
	}
	req, err := tzrpc.DecodeRequest(f.mb)
	if err != nil {
		f.t.Fatalf("program posted an undecodable request: %v", err)
	}
	req.Detach(nil)
	if req.Op != tzrpc.OpExit {
		if err := req.Validate(); err != nil {
			f.t.Errorf("program posted a request the shadow would refuse: %v", err)
		}
	}
	return req
}

// reply writes a well-formed response to req.
func (f *fake) reply(req tzrpc.Request, ret int64, errno tzrpc.Errno, aux [4]int64, payload []byte) {
	f.t.Helper()
	n := copy(f.mb[tzrpc.HeaderSize:], payload)
	resp := tzrpc.Response{Op: req.Op, Seq: req.Seq, Ret: ret, Errno: errno, Aux: aux}
	if err := tzrpc.EncodeResponseHeader(f.mb, &resp, n); err != nil {
		f.t.Fatalf("fake shadow: %v", err)
	}
}

// Raw header offsets, for responses EncodeResponseHeader refuses to write.
const (
	offMagic   = 0
	offOp      = 6
	offSeq     = 8
	offPlen    = 12
	offRet     = 16
	offErrno   = 24
	offAux0    = 32
	offPayload = tzrpc.HeaderSize
)

func put16(b []byte, off int, v uint16) { binary.LittleEndian.PutUint16(b[off:], v) }
func put32(b []byte, off int, v uint32) { binary.LittleEndian.PutUint32(b[off:], v) }
func put64(b []byte, off int, v int64)  { binary.LittleEndian.PutUint64(b[off:], uint64(v)) }

// expectExit resumes and requires the program's EXIT with status.
func (f *fake) expectExit(status int64) {
	f.t.Helper()
	var req tzrpc.Request
	if f.pendingExit != nil {
		req, f.pendingExit = *f.pendingExit, nil
	} else {
		req = f.next()
	}
	if req.Op != tzrpc.OpExit || req.Args[0] != status {
		f.t.Fatalf("want EXIT(%d), got %v %v", status, req.Op, req.Args)
	}
	if r := f.resume(context.Background()); r != gp.ErrorBadState {
		f.t.Fatalf("RESUME after EXIT: %v", r)
	}
}

// outcome is what a call under test returned, seen from the program.
type outcome struct {
	val        any
	err        error
	fds        map[int32]fdInfo
	violations uint64
}

// runCall starts a program that presets fds, performs call and exits; the
// test then drives it with next/reply and collects the outcome with wait.
func runCall(t testing.TB, size int, fds map[int32]fdInfo, call func(p *Proc) (any, error)) (*fake, func() outcome) {
	ch := make(chan outcome, 1)
	f := startFake(t, size, func(ctx context.Context, p *Proc) error {
		maps.Copy(p.fds, fds)
		v, err := call(p)
		p.mu.Lock()
		o := outcome{val: v, err: err, fds: maps.Clone(p.fds), violations: p.Violations()}
		p.mu.Unlock()
		ch <- o
		return nil
	})
	return f, func() outcome {
		t.Helper()
		f.expectExit(0)
		return <-ch
	}
}
