package teeclient_test

// GlobalPlatform TEE Client API conformance tests: package teeclient driven
// against the simulated secure world (securesim over simtee), checking the
// behaviours of DESIGN.md contracts 3 and 5 — parameter types, SHORT_BUFFER
// size reporting, bad parameters, logins, TA panics, instance and session
// properties, serialisation, cancellation and close.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/securesim"
	"github.com/tzmediator/tzbridge/teeclient"
)

// hangTimeout bounds every wait: a hang fails the test instead of CI.
const hangTimeout = 10 * time.Second

// taSafety is how long a blocking TA command waits for its cancellation
// before giving up with ErrorGeneric (longer than hangTimeout, so a lost
// cancellation fails the test rather than hanging the secure world).
const taSafety = 3 * hangTimeout

// Commands of the test TA.
const (
	cmdParams     uint32 = iota + 1 // record the parameters, then answer each as mirror describes
	cmdShort                        // param 0 memref output needs param 1's A bytes
	cmdBlock                        // block until cancelled
	cmdPanic                        // panic
	cmdCounter                      // increment the instance counter: param 0 A = counter, B = session number
	cmdOverlap                      // detect concurrent entry
	cmdOverReport                   // fill param 0 and report 16 bytes more than its size
)

// openBlock and openPanic as the A of a value input param 0 make the TA's
// OpenSession entry block until cancelled, or panic.
const openBlock, openPanic = 0xB10C, 0xDEAD

// Values the TA writes into value outputs.
const outA, outB = 0xA0A0, 0xB0B0

// taStats is what the test TA's instances report to the test. A TA
// definition has one; each test makes its own.
type taStats struct {
	instances, creates, destroys atomic.Int32
	opens, closes, invokes       atomic.Int32
	inside, overlaps             atomic.Int32
	notCreated                   atomic.Int32 // entry points run before Create
	entered                      chan string  // a blocking entry point started

	openResult teeclient.Result // what OpenSession returns; set before the sim starts

	mu       sync.Mutex
	events   []string
	seen     securesim.Params // the last recorded parameters (memory copied)
	client   securesim.Client // and the client identity the entry point saw
	clientOK bool
}

func newStats() *taStats { return &taStats{entered: make(chan string, 64)} }

func (st *taStats) event(e string) {
	st.mu.Lock()
	st.events = append(st.events, e)
	st.mu.Unlock()
}

func (st *taStats) eventLog() []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return slices.Clone(st.events)
}

func (st *taStats) record(p *securesim.Params, c securesim.Client, ok bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.seen = *p
	for i := range st.seen {
		if m := p[i].Mem; m != nil {
			st.seen[i].Mem = append([]byte{}, m...) // keeps non-nil for an empty memref
		}
	}
	st.client, st.clientOK = c, ok
}

func (st *taStats) lastSeen() securesim.Params {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.seen
}

func (st *taStats) lastClient(t *testing.T) securesim.Client {
	t.Helper()
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.clientOK {
		t.Fatal("the TA's last entry point saw no client identity (securesim.ClientFromContext)")
	}
	return st.client
}

// testTA is a securesim.TA that exercises and reports what the host does.
type testTA struct {
	st      *taStats
	created bool
	counter uint32
}

type testSession struct{ n uint32 }

func (ta *testTA) checkCreated() {
	if !ta.created {
		ta.st.notCreated.Add(1)
	}
}

func (ta *testTA) Create() teeclient.Result {
	ta.st.creates.Add(1)
	ta.created = true
	return teeclient.Success
}

func (ta *testTA) Destroy() {
	ta.checkCreated()
	ta.st.destroys.Add(1)
	ta.st.event("destroy")
}

func (ta *testTA) OpenSession(ctx context.Context, p *securesim.Params) (any, teeclient.Result) {
	ta.checkCreated()
	n := ta.st.opens.Add(1)
	c, ok := securesim.ClientFromContext(ctx)
	ta.st.record(p, c, ok)
	if p[0].Type == teeclient.AttrValueInput && p[0].A == openPanic {
		panic("test TA panics in OpenSession on purpose")
	}
	if p[0].Type == teeclient.AttrValueInput && p[0].A == openBlock {
		ta.st.entered <- "open"
		select {
		case <-ctx.Done():
			return nil, teeclient.ErrorCancel
		case <-time.After(taSafety):
			return nil, teeclient.ErrorGeneric
		}
	}
	if r := ta.st.openResult; r != teeclient.Success {
		return nil, r
	}
	mirror(p)
	return &testSession{n: uint32(n)}, teeclient.Success
}

func (ta *testTA) CloseSession(session any) {
	ta.checkCreated()
	ta.st.closes.Add(1)
	ta.st.event(fmt.Sprintf("close-session %d", session.(*testSession).n))
}

func (ta *testTA) Invoke(ctx context.Context, session any, cmd uint32, p *securesim.Params) teeclient.Result {
	ta.checkCreated()
	ta.st.invokes.Add(1)
	if ta.st.inside.Add(1) > 1 {
		ta.st.overlaps.Add(1)
	}
	defer ta.st.inside.Add(-1)
	s := session.(*testSession)
	switch cmd {
	case cmdParams:
		c, ok := securesim.ClientFromContext(ctx)
		ta.st.record(p, c, ok)
		mirror(p)
		return teeclient.Success
	case cmdShort:
		need := uint64(p[1].A)
		if p[0].Size < need {
			p[0].Size = need
			return teeclient.ErrorShortBuffer
		}
		copy(p[0].Mem, outPattern(int(need)))
		p[0].Size = need
		return teeclient.Success
	case cmdBlock:
		ta.st.entered <- fmt.Sprintf("invoke %d", s.n)
		defer ta.st.event(fmt.Sprintf("invoke-end %d", s.n))
		select {
		case <-ctx.Done():
			return teeclient.ErrorCancel
		case <-time.After(taSafety):
			return teeclient.ErrorGeneric
		}
	case cmdPanic:
		panic("test TA panics on purpose")
	case cmdCounter:
		ta.counter++
		p[0].A, p[0].B = ta.counter, s.n
		return teeclient.Success
	case cmdOverlap:
		time.Sleep(200 * time.Microsecond) // widen the window an overlap would need
		return teeclient.Success
	case cmdOverReport:
		copy(p[0].Mem, outPattern(len(p[0].Mem)))
		p[0].Size = uint64(len(p[0].Mem)) + 16
		return teeclient.Success
	}
	return teeclient.ErrorNotImplemented
}

// mirror answers each parameter: value outputs get (outA, outB), value
// inouts (A+1, 2B); memref outputs get outPattern over the first half
// (rounded up) of their memory and report that size; memref inouts have
// every byte incremented.
func mirror(p *securesim.Params) {
	for i := range p {
		q := &p[i]
		switch q.Type {
		case teeclient.AttrValueOutput:
			q.A, q.B = outA, outB
		case teeclient.AttrValueInout:
			q.A, q.B = q.A+1, q.B*2
		case teeclient.AttrMemrefOutput:
			w := (len(q.Mem) + 1) / 2
			copy(q.Mem, outPattern(w))
			q.Size = uint64(w)
		case teeclient.AttrMemrefInout:
			for j := range q.Mem {
				q.Mem[j]++
			}
		}
	}
}

func outPattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 0xA0 ^ byte(i)
	}
	return b
}

func seq(n int, first byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = first + byte(i)
	}
	return b
}

func fill(n int, v byte) []byte { return bytes.Repeat([]byte{v}, n) }

func testUUID(n byte) teeclient.UUID {
	return teeclient.MustParseUUID(fmt.Sprintf("7e570000-0000-4000-8000-0000000000%02x", n))
}

func taDef(n byte, props securesim.Properties, st *taStats) securesim.Definition {
	return securesim.Definition{
		Name:  fmt.Sprintf("test-ta-%d", n),
		UUID:  testUUID(n),
		Props: props,
		New: func() securesim.TA {
			st.instances.Add(1)
			return &testTA{st: st}
		},
	}
}

// Properties used below.
var (
	multiInstance = securesim.Properties{}
	singleOnly    = securesim.Properties{SingleInstance: true}
	singleMulti   = securesim.Properties{SingleInstance: true, MultiSession: true}
	singleKeep    = securesim.Properties{SingleInstance: true, MultiSession: true, KeepAlive: true}
)

// simTA starts a secure world hosting one test TA with props.
func simTA(t *testing.T, props securesim.Properties) (*teeclient.Context, *taStats, teeclient.UUID) {
	t.Helper()
	st := newStats()
	tc := startSim(t, taDef(1, props, st))
	return tc, st, testUUID(1)
}

// start runs f in its own goroutine.
func start(f func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	return ch
}

// wait returns what f returned on ch, failing the test after hangTimeout.
func wait(t *testing.T, what string, ch <-chan error) error {
	t.Helper()
	timer := time.NewTimer(hangTimeout)
	defer timer.Stop()
	select {
	case err := <-ch:
		return err
	case <-timer.C:
		t.Fatalf("%s: still blocked after %v", what, hangTimeout)
		return nil
	}
}

// await runs f, failing the test if it blocks longer than hangTimeout.
func await(t *testing.T, what string, f func() error) error {
	t.Helper()
	return wait(t, what, start(f))
}

func waitEntered(t *testing.T, st *taStats, want string) {
	t.Helper()
	timer := time.NewTimer(hangTimeout)
	defer timer.Stop()
	select {
	case got := <-st.entered:
		if got != want {
			t.Fatalf("TA entered %q, want %q", got, want)
		}
	case <-timer.C:
		t.Fatalf("TA entry point %q not entered after %v", want, hangTimeout)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached after %v", what, hangTimeout)
		}
		time.Sleep(time.Millisecond)
	}
}

func openSession(t *testing.T, tc *teeclient.Context, uuid teeclient.UUID, op *teeclient.Operation) *teeclient.Session {
	t.Helper()
	var s *teeclient.Session
	err := await(t, "OpenSession", func() (err error) {
		s, err = tc.OpenSession(t.Context(), uuid, teeclient.LoginPublic, 0, op)
		return err
	})
	if err != nil {
		t.Fatalf("OpenSession: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func invoke(t *testing.T, s *teeclient.Session, cmd uint32, op *teeclient.Operation) error {
	t.Helper()
	return await(t, fmt.Sprintf("InvokeCommand(%d)", cmd), func() error {
		return s.InvokeCommand(t.Context(), cmd, op)
	})
}

// wantErr checks err is a *teeclient.Error with code and, unless origin is
// 0, that origin.
func wantErr(t *testing.T, err error, code teeclient.Result, origin teeclient.Origin) *teeclient.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("call succeeded, want %v (%v)", code, origin)
	}
	var e *teeclient.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *teeclient.Error", err, err)
	}
	if e.Code != code || origin != 0 && e.Origin != origin {
		t.Fatalf("got %v; want %v with origin %v", err, code, origin)
	}
	if !errors.Is(err, code) {
		t.Fatalf("errors.Is(%v, %v) = false", err, code)
	}
	return e
}

func counter(t *testing.T, s *teeclient.Session) (count, session uint32) {
	t.Helper()
	op := &teeclient.Operation{}
	op.Params[0] = teeclient.Value(teeclient.ValueOutput, 0, 0)
	if err := invoke(t, s, cmdCounter, op); err != nil {
		t.Fatalf("counter: %v", err)
	}
	return op.Params[0].A, op.Params[0].B
}

// memKind makes a shared block initialised to init, returning it and the
// bytes the client sees (the block's Buffer).
type memKind struct {
	name string
	make func(t *testing.T, tc *teeclient.Context, init []byte, flags teeclient.SharedMemFlags) (*teeclient.SharedMemory, []byte)
}

var memKinds = []memKind{
	{"Allocate", func(t *testing.T, tc *teeclient.Context, init []byte, flags teeclient.SharedMemFlags) (*teeclient.SharedMemory, []byte) {
		t.Helper()
		m, err := tc.AllocateSharedMemory(len(init), flags)
		if err != nil {
			t.Fatalf("AllocateSharedMemory: %v", err)
		}
		t.Cleanup(func() { m.Release() })
		if len(m.Buffer) != len(init) || m.Flags != flags {
			t.Fatalf("AllocateSharedMemory(%d, %v): Buffer %d bytes, flags %v", len(init), flags, len(m.Buffer), m.Flags)
		}
		copy(m.Buffer, init)
		return m, m.Buffer
	}},
	{"Register", func(t *testing.T, tc *teeclient.Context, init []byte, flags teeclient.SharedMemFlags) (*teeclient.SharedMemory, []byte) {
		t.Helper()
		buf := bytes.Clone(init)
		m, err := tc.RegisterSharedMemory(buf, flags)
		if err != nil {
			t.Fatalf("RegisterSharedMemory: %v", err)
		}
		t.Cleanup(func() { m.Release() })
		if len(m.Buffer) != len(buf) || len(buf) > 0 && &m.Buffer[0] != &buf[0] {
			t.Fatal("RegisterSharedMemory: Buffer is not the caller's memory")
		}
		return m, buf
	}},
}

func wantBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\n got % x\nwant % x", what, got, want)
	}
}

// paramCase is one parameter under test: build returns it and a check of
// what the TA saw and what came back.
type paramCase struct {
	name  string
	build func(t *testing.T) (teeclient.Parameter, func(t *testing.T, got teeclient.Parameter, seen securesim.Param))
}

func tempCases() []paramCase {
	V := teeclient.Value
	return []paramCase{
		{"ValueInput", func(t *testing.T) (teeclient.Parameter, func(*testing.T, teeclient.Parameter, securesim.Param)) {
			return V(teeclient.ValueInput, 7, 9), func(t *testing.T, got teeclient.Parameter, seen securesim.Param) {
				if seen.Type != teeclient.AttrValueInput || seen.A != 7 || seen.B != 9 {
					t.Errorf("TA saw %v (%d, %d), want value input (7, 9)", seen.Type, seen.A, seen.B)
				}
				if got.A != 7 || got.B != 9 {
					t.Errorf("input value changed to (%d, %d)", got.A, got.B)
				}
			}
		}},
		{"ValueOutput", func(t *testing.T) (teeclient.Parameter, func(*testing.T, teeclient.Parameter, securesim.Param)) {
			return V(teeclient.ValueOutput, 1, 2), func(t *testing.T, got teeclient.Parameter, seen securesim.Param) {
				if seen.Type != teeclient.AttrValueOutput {
					t.Errorf("TA saw type %v, want value output", seen.Type)
				}
				if got.A != outA || got.B != outB {
					t.Errorf("output value (%#x, %#x), want (%#x, %#x)", got.A, got.B, outA, outB)
				}
			}
		}},
		{"ValueInout", func(t *testing.T) (teeclient.Parameter, func(*testing.T, teeclient.Parameter, securesim.Param)) {
			return V(teeclient.ValueInout, 5, 0x80000006), func(t *testing.T, got teeclient.Parameter, seen securesim.Param) {
				if seen.Type != teeclient.AttrValueInout || seen.A != 5 || seen.B != 0x80000006 {
					t.Errorf("TA saw %v (%d, %#x), want value inout (5, 0x80000006)", seen.Type, seen.A, seen.B)
				}
				if got.A != 6 || got.B != 0xc {
					t.Errorf("inout value (%d, %#x), want (6, 0xc)", got.A, got.B)
				}
			}
		}},
		{"MemrefTempInput", func(t *testing.T) (teeclient.Parameter, func(*testing.T, teeclient.Parameter, securesim.Param)) {
			buf := seq(24, 1)
			return teeclient.TempMemref(teeclient.MemrefTempInput, buf), func(t *testing.T, got teeclient.Parameter, seen securesim.Param) {
				if seen.Type != teeclient.AttrMemrefInput || seen.Size != 24 {
					t.Errorf("TA saw %v size %d, want memref input size 24", seen.Type, seen.Size)
				}
				wantBytes(t, "TA input", seen.Mem, seq(24, 1))
				wantBytes(t, "client buffer", buf, seq(24, 1))
				if got.Size != 24 {
					t.Errorf("Size %d, want 24", got.Size)
				}
			}
		}},
		{"MemrefTempInput/prefix", func(t *testing.T) (teeclient.Parameter, func(*testing.T, teeclient.Parameter, securesim.Param)) {
			buf := seq(24, 1)
			return teeclient.Parameter{Type: teeclient.MemrefTempInput, Buffer: buf, Size: 10}, func(t *testing.T, got teeclient.Parameter, seen securesim.Param) {
				wantBytes(t, "TA input", seen.Mem, seq(10, 1))
			}
		}},
		{"MemrefTempOutput", func(t *testing.T) (teeclient.Parameter, func(*testing.T, teeclient.Parameter, securesim.Param)) {
			buf := fill(24, 0x55)
			return teeclient.TempMemref(teeclient.MemrefTempOutput, buf), func(t *testing.T, got teeclient.Parameter, seen securesim.Param) {
				if seen.Type != teeclient.AttrMemrefOutput || len(seen.Mem) != 24 || seen.Size != 24 {
					t.Errorf("TA saw %v of %d bytes, size %d; want memref output of 24", seen.Type, len(seen.Mem), seen.Size)
				}
				if got.Size != 12 {
					t.Errorf("Size %d, want the 12 bytes written", got.Size)
				}
				wantBytes(t, "output", buf[:12], outPattern(12))
				wantBytes(t, "bytes not written", buf[12:], fill(12, 0x55))
			}
		}},
		{"MemrefTempOutput/prefix", func(t *testing.T) (teeclient.Parameter, func(*testing.T, teeclient.Parameter, securesim.Param)) {
			buf := fill(24, 0x55)
			return teeclient.Parameter{Type: teeclient.MemrefTempOutput, Buffer: buf, Size: 10}, func(t *testing.T, got teeclient.Parameter, seen securesim.Param) {
				if len(seen.Mem) != 10 || got.Size != 5 {
					t.Errorf("TA saw %d bytes, Size %d; want 10 and 5", len(seen.Mem), got.Size)
				}
				wantBytes(t, "output", buf[:5], outPattern(5))
				wantBytes(t, "bytes not written", buf[5:], fill(19, 0x55))
			}
		}},
		{"MemrefTempInout", func(t *testing.T) (teeclient.Parameter, func(*testing.T, teeclient.Parameter, securesim.Param)) {
			buf := seq(24, 1)
			return teeclient.TempMemref(teeclient.MemrefTempInout, buf), func(t *testing.T, got teeclient.Parameter, seen securesim.Param) {
				if seen.Type != teeclient.AttrMemrefInout {
					t.Errorf("TA saw %v, want memref inout", seen.Type)
				}
				wantBytes(t, "TA input", seen.Mem, seq(24, 1))
				wantBytes(t, "output", buf, seq(24, 2))
				if got.Size != 24 {
					t.Errorf("Size %d, want 24", got.Size)
				}
			}
		}},
		{"MemrefTempInput/null", func(t *testing.T) (teeclient.Parameter, func(*testing.T, teeclient.Parameter, securesim.Param)) {
			return teeclient.TempMemref(teeclient.MemrefTempInput, nil), func(t *testing.T, got teeclient.Parameter, seen securesim.Param) {
				if seen.Type != teeclient.AttrMemrefInput || seen.Mem != nil || seen.Size != 0 {
					t.Errorf("TA saw %v mem %v size %d, want a null memref input", seen.Type, seen.Mem, seen.Size)
				}
			}
		}},
		{"MemrefTempOutput/null", func(t *testing.T) (teeclient.Parameter, func(*testing.T, teeclient.Parameter, securesim.Param)) {
			return teeclient.TempMemref(teeclient.MemrefTempOutput, nil), func(t *testing.T, got teeclient.Parameter, seen securesim.Param) {
				if seen.Type != teeclient.AttrMemrefOutput || seen.Mem != nil {
					t.Errorf("TA saw %v mem %v, want a null memref output", seen.Type, seen.Mem)
				}
				if got.Size != 0 {
					t.Errorf("Size %d, want 0", got.Size)
				}
			}
		}},
		{"MemrefTempInput/empty", func(t *testing.T) (teeclient.Parameter, func(*testing.T, teeclient.Parameter, securesim.Param)) {
			return teeclient.TempMemref(teeclient.MemrefTempInput, []byte{}), func(t *testing.T, got teeclient.Parameter, seen securesim.Param) {
				if seen.Mem == nil || len(seen.Mem) != 0 {
					t.Errorf("TA saw mem %v for an empty, non-null buffer; want a non-nil empty slice", seen.Mem)
				}
			}
		}},
	}
}

func registeredCases(tc *teeclient.Context, mk memKind) []paramCase {
	const in, out = teeclient.MemInput, teeclient.MemOutput
	whole := func(flags teeclient.SharedMemFlags, init []byte, attr teeclient.Attr, size int, want []byte) paramCase {
		return paramCase{fmt.Sprintf("MemrefWhole/%s", flagName(flags)), func(t *testing.T) (teeclient.Parameter, func(*testing.T, teeclient.Parameter, securesim.Param)) {
			m, buf := mk.make(t, tc, init, flags)
			return teeclient.WholeMemref(m), func(t *testing.T, got teeclient.Parameter, seen securesim.Param) {
				if seen.Type != attr || seen.Size != uint64(len(init)) || len(seen.Mem) != len(init) {
					t.Errorf("TA saw %v of %d bytes, size %d; want %v of %d", seen.Type, len(seen.Mem), seen.Size, attr, len(init))
				}
				if attr.In() {
					wantBytes(t, "TA input", seen.Mem, init)
				}
				if got.Size != size {
					t.Errorf("Size %d, want %d", got.Size, size)
				}
				wantBytes(t, "client memory", buf, want)
			}
		}}
	}
	partial := func(pt teeclient.ParamType, flags teeclient.SharedMemFlags, init []byte, off, n int, size int, want []byte) paramCase {
		return paramCase{fmt.Sprintf("%v/%s/%d+%d", pt, flagName(flags), off, n), func(t *testing.T) (teeclient.Parameter, func(*testing.T, teeclient.Parameter, securesim.Param)) {
			m, buf := mk.make(t, tc, init, flags)
			return teeclient.PartialMemref(pt, m, off, n), func(t *testing.T, got teeclient.Parameter, seen securesim.Param) {
				attr := teeclient.Attr(pt - 8) // partial types are the memref types + 8
				if seen.Type != attr || seen.Size != uint64(n) || len(seen.Mem) != n {
					t.Errorf("TA saw %v of %d bytes, size %d; want %v of %d", seen.Type, len(seen.Mem), seen.Size, attr, n)
				}
				if attr.In() {
					wantBytes(t, "TA input", seen.Mem, init[off:off+n])
				}
				if got.Size != size {
					t.Errorf("Size %d, want %d", got.Size, size)
				}
				wantBytes(t, "client memory", buf, want)
			}
		}}
	}
	splice := func(base []byte, off int, b []byte) []byte {
		r := bytes.Clone(base)
		copy(r[off:], b)
		return r
	}
	s32, u32 := seq(32, 1), fill(32, 0x55)
	return []paramCase{
		whole(in, s32, teeclient.AttrMemrefInput, 32, s32),
		whole(out, u32, teeclient.AttrMemrefOutput, 16, splice(u32, 0, outPattern(16))),
		whole(in|out, s32, teeclient.AttrMemrefInout, 32, seq(32, 2)),
		partial(teeclient.MemrefPartialInput, in|out, s32, 8, 12, 12, s32),
		partial(teeclient.MemrefPartialInput, in, s32, 8, 12, 12, s32),
		partial(teeclient.MemrefPartialOutput, in|out, u32, 8, 12, 6, splice(u32, 8, outPattern(6))),
		partial(teeclient.MemrefPartialOutput, out, u32, 8, 12, 6, splice(u32, 8, outPattern(6))),
		partial(teeclient.MemrefPartialInout, in|out, s32, 8, 12, 12, splice(s32, 8, seq(12, 10))),
		partial(teeclient.MemrefPartialInout, in|out, s32, 0, 32, 32, seq(32, 2)),
		partial(teeclient.MemrefPartialInput, in, s32, 32, 0, 0, s32),
	}
}

func flagName(f teeclient.SharedMemFlags) string {
	switch f {
	case teeclient.MemInput:
		return "MemInput"
	case teeclient.MemOutput:
		return "MemOutput"
	}
	return "MemInput|MemOutput"
}

// TestParameterTypes passes each parameter type in each of the four slots,
// next to a value inout in another slot, and checks what the TA saw and
// what came back.
func TestParameterTypes(t *testing.T) {
	tc, st, uuid := simTA(t, multiInstance)
	s := openSession(t, tc, uuid, nil)

	run := func(t *testing.T, c paramCase) {
		for slot := range teeclient.NumParams {
			t.Run(fmt.Sprintf("slot%d", slot), func(t *testing.T) {
				p, check := c.build(t)
				other := (slot + 2) % teeclient.NumParams
				op := &teeclient.Operation{}
				op.Params[slot] = p
				op.Params[other] = teeclient.Value(teeclient.ValueInout, 100, 200)
				if err := invoke(t, s, cmdParams, op); err != nil {
					t.Fatalf("InvokeCommand: %v", err)
				}
				seen := st.lastSeen()
				check(t, op.Params[slot], seen[slot])
				if a, b := op.Params[other].A, op.Params[other].B; a != 101 || b != 400 {
					t.Errorf("neighbouring value inout came back (%d, %d), want (101, 400)", a, b)
				}
				for i := range seen {
					if i != slot && i != other && seen[i].Type != teeclient.AttrNone {
						t.Errorf("TA saw param %d as %v, want none", i, seen[i].Type)
					}
				}
			})
		}
	}
	for _, c := range tempCases() {
		t.Run(c.name, func(t *testing.T) { run(t, c) })
	}
	for _, mk := range memKinds {
		for _, c := range registeredCases(tc, mk) {
			t.Run(mk.name+"/"+c.name, func(t *testing.T) { run(t, c) })
		}
	}
}

// TestAllParamsAtOnce fills all four slots with different kinds.
func TestAllParamsAtOnce(t *testing.T) {
	tc, st, uuid := simTA(t, multiInstance)
	s := openSession(t, tc, uuid, nil)
	for _, mk := range memKinds {
		t.Run(mk.name, func(t *testing.T) {
			in := seq(16, 0x10)
			out := fill(8, 0x55)
			m, buf := mk.make(t, tc, seq(40, 1), teeclient.MemInput|teeclient.MemOutput)
			op := &teeclient.Operation{}
			op.Params[0] = teeclient.TempMemref(teeclient.MemrefTempInput, in)
			op.Params[1] = teeclient.TempMemref(teeclient.MemrefTempOutput, out)
			op.Params[2] = teeclient.PartialMemref(teeclient.MemrefPartialInout, m, 4, 4)
			op.Params[3] = teeclient.Value(teeclient.ValueOutput, 0, 0)
			if err := invoke(t, s, cmdParams, op); err != nil {
				t.Fatal(err)
			}
			seen := st.lastSeen()
			wantBytes(t, "param 0 at the TA", seen[0].Mem, in)
			wantBytes(t, "param 1", out, append(outPattern(4), fill(4, 0x55)...))
			wantBytes(t, "param 2 at the TA", seen[2].Mem, seq(4, 5))
			want := seq(40, 1)
			copy(want[4:], seq(4, 6))
			wantBytes(t, "param 2", buf, want)
			if op.Params[1].Size != 4 || op.Params[2].Size != 4 || op.Params[3].A != outA || op.Params[3].B != outB {
				t.Errorf("sizes %d, %d, value (%#x, %#x)", op.Params[1].Size, op.Params[2].Size, op.Params[3].A, op.Params[3].B)
			}
		})
	}
}

// TestRegisteredMemoryCopiedEachCall checks the bounce buffer behind a
// registered block: the caller's current bytes reach the TA at every call,
// and what the TA writes reaches the caller's memory.
func TestRegisteredMemoryCopiedEachCall(t *testing.T) {
	tc, st, uuid := simTA(t, multiInstance)
	s := openSession(t, tc, uuid, nil)
	buf := seq(16, 1)
	m, err := tc.RegisterSharedMemory(buf, teeclient.MemInput|teeclient.MemOutput)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()
	for round := range 3 {
		copy(buf, seq(16, byte(50*round)))
		op := &teeclient.Operation{}
		op.Params[0] = teeclient.PartialMemref(teeclient.MemrefPartialInput, m, 0, 16)
		if err := invoke(t, s, cmdParams, op); err != nil {
			t.Fatal(err)
		}
		wantBytes(t, fmt.Sprintf("round %d: TA input", round), st.lastSeen()[0].Mem, seq(16, byte(50*round)))
		op.Params[0] = teeclient.WholeMemref(m)
		if err := invoke(t, s, cmdParams, op); err != nil {
			t.Fatal(err)
		}
		wantBytes(t, fmt.Sprintf("round %d: inout result", round), buf, seq(16, byte(50*round)+1))
	}
}

// TestOverReportedSizeKeepsRange: a TA that reports more bytes written than
// its memref holds must not make the client write outside the range.
func TestOverReportedSizeKeepsRange(t *testing.T) {
	tc, _, uuid := simTA(t, multiInstance)
	s := openSession(t, tc, uuid, nil)
	for _, mk := range memKinds {
		t.Run(mk.name, func(t *testing.T) {
			m, buf := mk.make(t, tc, fill(32, 0x55), teeclient.MemInput|teeclient.MemOutput)
			op := &teeclient.Operation{}
			op.Params[0] = teeclient.PartialMemref(teeclient.MemrefPartialOutput, m, 8, 8)
			if err := invoke(t, s, cmdOverReport, op); err != nil {
				t.Fatal(err)
			}
			want := fill(32, 0x55)
			copy(want[8:], outPattern(8))
			wantBytes(t, "client memory", buf, want)
		})
	}
	t.Run("Temp", func(t *testing.T) {
		backing := fill(16, 0x55)
		op := &teeclient.Operation{}
		op.Params[0] = teeclient.TempMemref(teeclient.MemrefTempOutput, backing[:8])
		if err := invoke(t, s, cmdOverReport, op); err != nil {
			t.Fatal(err)
		}
		wantBytes(t, "client memory", backing, append(outPattern(8), fill(8, 0x55)...))
	})
}

func TestShortBuffer(t *testing.T) {
	tc, st, uuid := simTA(t, multiInstance)
	s := openSession(t, tc, uuid, nil)
	const need = 20

	shortCall := func(t *testing.T, p teeclient.Parameter) *teeclient.Operation {
		t.Helper()
		op := &teeclient.Operation{}
		op.Params[0] = p
		op.Params[1] = teeclient.Value(teeclient.ValueInput, need, 0)
		op.Params[2] = teeclient.Value(teeclient.ValueOutput, 0x1234, 0x5678)
		e := wantErr(t, invoke(t, s, cmdShort, op), teeclient.ErrorShortBuffer, teeclient.OriginTrustedApp)
		if e.Op != "InvokeCommand" {
			t.Errorf("Error.Op = %q", e.Op)
		}
		if op.Params[0].Size != need {
			t.Fatalf("Size after SHORT_BUFFER = %d, want the %d bytes needed", op.Params[0].Size, need)
		}
		if op.Params[2].A != 0x1234 || op.Params[2].B != 0x5678 {
			t.Errorf("value output changed by a failed call: (%#x, %#x)", op.Params[2].A, op.Params[2].B)
		}
		return op
	}

	t.Run("Temp", func(t *testing.T) {
		backing := fill(2*need, 0x55)
		op := shortCall(t, teeclient.TempMemref(teeclient.MemrefTempOutput, backing[:8]))
		wantBytes(t, "buffer and what follows it", backing, fill(2*need, 0x55))
		// Retrying with the same buffer is the caller's mistake: Size now
		// exceeds it.
		wantErr(t, invoke(t, s, cmdShort, op), teeclient.ErrorBadParameters, teeclient.OriginAPI)
		op.Params[0] = teeclient.TempMemref(teeclient.MemrefTempOutput, make([]byte, op.Params[0].Size))
		if err := invoke(t, s, cmdShort, op); err != nil {
			t.Fatalf("retry with %d bytes: %v", need, err)
		}
		if op.Params[0].Size != need {
			t.Errorf("Size %d after retry, want %d", op.Params[0].Size, need)
		}
		wantBytes(t, "retry output", op.Params[0].Buffer, outPattern(need))
	})
	t.Run("TempInout", func(t *testing.T) {
		backing := fill(2*need, 0x55)
		shortCall(t, teeclient.TempMemref(teeclient.MemrefTempInout, backing[:need-1]))
		wantBytes(t, "buffer and what follows it", backing, fill(2*need, 0x55))
	})
	t.Run("NullTemp", func(t *testing.T) {
		// The GP idiom for asking a TA how much room it needs.
		op := shortCall(t, teeclient.TempMemref(teeclient.MemrefTempOutput, nil))
		if seen := st.lastSeen(); seen[0].Mem != nil {
			t.Errorf("TA saw %v for a null memref", seen[0].Mem)
		}
		op.Params[0] = teeclient.TempMemref(teeclient.MemrefTempOutput, make([]byte, op.Params[0].Size))
		if err := invoke(t, s, cmdShort, op); err != nil {
			t.Fatal(err)
		}
	})
	for _, mk := range memKinds {
		t.Run("Partial/"+mk.name, func(t *testing.T) {
			m, buf := mk.make(t, tc, fill(64, 0x55), teeclient.MemInput|teeclient.MemOutput)
			op := shortCall(t, teeclient.PartialMemref(teeclient.MemrefPartialOutput, m, 4, 8))
			wantBytes(t, "shared memory", buf, fill(64, 0x55))
			op.Params[0] = teeclient.PartialMemref(teeclient.MemrefPartialOutput, m, 4, op.Params[0].Size)
			if err := invoke(t, s, cmdShort, op); err != nil {
				t.Fatalf("retry: %v", err)
			}
			want := fill(64, 0x55)
			copy(want[4:], outPattern(need))
			wantBytes(t, "shared memory after retry", buf, want)
		})
		t.Run("Whole/"+mk.name, func(t *testing.T) {
			m, buf := mk.make(t, tc, fill(8, 0x55), teeclient.MemOutput)
			shortCall(t, teeclient.WholeMemref(m))
			wantBytes(t, "shared memory", buf, fill(8, 0x55))
		})
	}
}

// TestBadParameters: invalid parameters fail in the API, before the TEE.
func TestBadParameters(t *testing.T) {
	tc, st, uuid := simTA(t, multiInstance)
	s := openSession(t, tc, uuid, nil)
	inOut, _ := memKinds[0].make(t, tc, make([]byte, 64), teeclient.MemInput|teeclient.MemOutput)
	inOnly, _ := memKinds[0].make(t, tc, make([]byte, 64), teeclient.MemInput)
	outOnly, _ := memKinds[0].make(t, tc, make([]byte, 64), teeclient.MemOutput)
	regIn, _ := memKinds[1].make(t, tc, make([]byte, 64), teeclient.MemInput)
	released, err := tc.AllocateSharedMemory(16, teeclient.MemInput|teeclient.MemOutput)
	if err != nil {
		t.Fatal(err)
	}
	if err := released.Release(); err != nil {
		t.Fatal(err)
	}
	releasedReg, err := tc.RegisterSharedMemory(make([]byte, 16), teeclient.MemInput)
	if err != nil {
		t.Fatal(err)
	}
	if err := releasedReg.Release(); err != nil {
		t.Fatal(err)
	}
	P := teeclient.PartialMemref
	cases := []struct {
		name string
		p    teeclient.Parameter
	}{
		{"partial beyond parent", P(teeclient.MemrefPartialInout, inOut, 60, 8)},
		{"partial larger than parent", P(teeclient.MemrefPartialInput, inOut, 0, 65)},
		{"partial offset beyond parent", P(teeclient.MemrefPartialInput, inOut, 65, 0)},
		{"partial negative offset", P(teeclient.MemrefPartialInput, inOut, -1, 8)},
		{"partial negative size", P(teeclient.MemrefPartialInput, inOut, 8, -1)},
		{"partial overflowing offset", P(teeclient.MemrefPartialInput, inOut, int(^uint(0)>>1), 2)},
		{"partial output on input block", P(teeclient.MemrefPartialOutput, inOnly, 0, 8)},
		{"partial inout on input block", P(teeclient.MemrefPartialInout, inOnly, 0, 8)},
		{"partial input on output block", P(teeclient.MemrefPartialInput, outOnly, 0, 8)},
		{"partial output on registered input block", P(teeclient.MemrefPartialOutput, regIn, 0, 8)},
		{"temp size beyond buffer", teeclient.Parameter{Type: teeclient.MemrefTempInput, Buffer: make([]byte, 8), Size: 9}},
		{"temp output size beyond buffer", teeclient.Parameter{Type: teeclient.MemrefTempOutput, Buffer: make([]byte, 8), Size: 9}},
		{"temp negative size", teeclient.Parameter{Type: teeclient.MemrefTempInput, Buffer: make([]byte, 8), Size: -1}},
		{"unknown type 4", teeclient.Parameter{Type: 4}},
		{"unknown type 8", teeclient.Parameter{Type: 8}},
		{"unknown type 0x10", teeclient.Parameter{Type: 0x10}},
		{"unknown type 0xffffffff", teeclient.Parameter{Type: 0xffffffff}},
		{"whole with nil parent", teeclient.WholeMemref(nil)},
		{"partial with nil parent", P(teeclient.MemrefPartialInput, nil, 0, 0)},
		{"whole on released block", teeclient.WholeMemref(released)},
		{"partial on released block", P(teeclient.MemrefPartialInput, released, 0, 8)},
		{"partial on released registered block", P(teeclient.MemrefPartialInput, releasedReg, 0, 8)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, slot := range []int{0, 3} {
				before := st.invokes.Load()
				op := &teeclient.Operation{}
				op.Params[0] = teeclient.TempMemref(teeclient.MemrefTempInput, []byte("ok"))
				op.Params[slot] = c.p
				e := wantErr(t, invoke(t, s, cmdParams, op), teeclient.ErrorBadParameters, teeclient.OriginAPI)
				if e.Op != "InvokeCommand" || e.Err == nil {
					t.Errorf("error %q: want Op InvokeCommand and a cause", e)
				}
				if n := st.invokes.Load() - before; n != 0 {
					t.Errorf("the TA was invoked %d times", n)
				}
				// The same parameters on OpenSession fail the same way.
				_, err := tc.OpenSession(t.Context(), uuid, teeclient.LoginPublic, 0, op)
				wantErr(t, err, teeclient.ErrorBadParameters, teeclient.OriginAPI)
			}
		})
	}
	// The session still works afterwards.
	if err := invoke(t, s, cmdParams, nil); err != nil {
		t.Fatal(err)
	}
	if n := st.instances.Load(); n != 1 {
		t.Errorf("%d TA instances, want 1: a bad OpenSession reached the TEE", n)
	}
}

func TestSharedMemoryBadFlags(t *testing.T) {
	tc, _, _ := simTA(t, multiInstance)
	for _, f := range []teeclient.SharedMemFlags{0, 4, teeclient.MemInput | 8} {
		_, err := tc.AllocateSharedMemory(8, f)
		wantErr(t, err, teeclient.ErrorBadParameters, teeclient.OriginAPI)
		_, err = tc.RegisterSharedMemory(make([]byte, 8), f)
		wantErr(t, err, teeclient.ErrorBadParameters, teeclient.OriginAPI)
	}
	_, err := tc.AllocateSharedMemory(-1, teeclient.MemInput)
	wantErr(t, err, teeclient.ErrorBadParameters, teeclient.OriginAPI)
}

func TestOpenSession(t *testing.T) {
	st := newStats()
	failing := newStats()
	failing.openResult = teeclient.ErrorAccessConflict
	tc := startSim(t, taDef(1, multiInstance, st), taDef(2, multiInstance, failing))
	ctx := t.Context()

	t.Run("UnknownUUID", func(t *testing.T) {
		_, err := tc.OpenSession(ctx, testUUID(99), teeclient.LoginPublic, 0, nil)
		wantErr(t, err, teeclient.ErrorItemNotFound, teeclient.OriginTEE)
	})
	t.Run("TAError", func(t *testing.T) {
		_, err := tc.OpenSession(ctx, testUUID(2), teeclient.LoginPublic, 0, nil)
		e := wantErr(t, err, teeclient.ErrorAccessConflict, teeclient.OriginTrustedApp)
		if e.Op != "OpenSession" {
			t.Errorf("Error.Op = %q", e.Op)
		}
		if c, d := failing.creates.Load(), failing.destroys.Load(); c != 1 || d != 1 {
			t.Errorf("after a refused open: %d creates, %d destroys; want 1 and 1", c, d)
		}
		if n := failing.closes.Load(); n != 0 {
			t.Errorf("CloseSession ran %d times for a session that never opened", n)
		}
	})
	t.Run("InvalidLogin", func(t *testing.T) {
		before := st.instances.Load()
		for _, l := range []teeclient.LoginMethod{3, 7, 0x80000000} {
			_, err := tc.OpenSession(ctx, testUUID(1), l, 0, nil)
			wantErr(t, err, teeclient.ErrorBadParameters, teeclient.OriginAPI)
		}
		if st.instances.Load() != before {
			t.Error("an invalid login reached the TEE")
		}
	})
	t.Run("Public", func(t *testing.T) {
		s := openSession(t, tc, testUUID(1), nil)
		if c := st.lastClient(t); c != (securesim.Client{Login: teeclient.LoginPublic}) {
			t.Errorf("public login: TA saw %+v", c)
		}
		if err := invoke(t, s, cmdParams, nil); err != nil {
			t.Fatal(err)
		}
		if c := st.lastClient(t); c.Login != teeclient.LoginPublic {
			t.Errorf("invoke: TA saw %+v", c)
		}
	})
	t.Run("User", func(t *testing.T) {
		s, err := tc.OpenSession(ctx, testUUID(1), teeclient.LoginUser, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		want := securesim.Client{Login: teeclient.LoginUser, UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
		if c := st.lastClient(t); c != want {
			t.Errorf("OpenSession entry saw client %+v, want %+v", c, want)
		}
		// The identity belongs to the session: Invoke sees it too.
		if err := invoke(t, s, cmdParams, nil); err != nil {
			t.Fatal(err)
		}
		if c := st.lastClient(t); c != want {
			t.Errorf("Invoke entry saw client %+v, want %+v", c, want)
		}
	})
	t.Run("Group", func(t *testing.T) {
		gid := uint32(os.Getgid())
		s, err := tc.OpenSession(ctx, testUUID(1), teeclient.LoginGroup, gid, nil)
		if err != nil {
			t.Fatalf("group login with the process's own gid %d: %v", gid, err)
		}
		defer s.Close()
		if c := st.lastClient(t); c.Login != teeclient.LoginGroup || c.GID != gid {
			t.Errorf("TA saw %+v, want group login gid %d", c, gid)
		}
	})
	t.Run("GroupNotMember", func(t *testing.T) {
		groups, err := os.Getgroups()
		if err != nil {
			t.Fatal(err)
		}
		gid := 4242
		for gid == os.Getgid() || slices.Contains(groups, gid) {
			gid++
		}
		before := st.opens.Load()
		// Linux's TEE driver refuses it with EPERM before OP-TEE sees
		// it: TEEC_ERROR_GENERIC, origin COMMS, on a device.
		_, err = tc.OpenSession(ctx, testUUID(1), teeclient.LoginGroup, uint32(gid), nil)
		if e := wantErr(t, err, teeclient.ErrorGeneric, teeclient.OriginComms); !errors.Is(e, syscall.EPERM) {
			t.Errorf("group login for a group not ours: %v, want the driver's EPERM", e)
		}
		if st.opens.Load() != before {
			t.Error("a denied login reached the TA")
		}
	})
	t.Run("ApplicationLogins", func(t *testing.T) {
		// Linux's TEE driver does not support the application login
		// methods: EINVAL, which is TEEC_ERROR_BAD_PARAMETERS, origin
		// COMMS, whatever the group.
		before := st.opens.Load()
		for _, l := range []teeclient.LoginMethod{teeclient.LoginApplication, teeclient.LoginUserApplication, teeclient.LoginGroupApplication} {
			_, err := tc.OpenSession(ctx, testUUID(1), l, uint32(os.Getgid()), nil)
			if e := wantErr(t, err, teeclient.ErrorBadParameters, teeclient.OriginComms); !errors.Is(e, syscall.EINVAL) {
				t.Errorf("%v: %v, want the driver's EINVAL", l, e)
			}
		}
		if st.opens.Load() != before {
			t.Error("an application login reached the TA")
		}
	})
	t.Run("WithOperation", func(t *testing.T) {
		in := seq(12, 3)
		op := &teeclient.Operation{}
		op.Params[0] = teeclient.Value(teeclient.ValueInput, 0x11, 0x22)
		op.Params[1] = teeclient.Value(teeclient.ValueOutput, 0, 0)
		op.Params[2] = teeclient.TempMemref(teeclient.MemrefTempInput, in)
		op.Params[3] = teeclient.Value(teeclient.ValueInout, 1, 2)
		openSession(t, tc, testUUID(1), op)
		seen := st.lastSeen()
		if seen[0].Type != teeclient.AttrValueInput || seen[0].A != 0x11 || seen[0].B != 0x22 {
			t.Errorf("OpenSession entry saw param 0 %v (%#x, %#x)", seen[0].Type, seen[0].A, seen[0].B)
		}
		wantBytes(t, "OpenSession entry param 2", seen[2].Mem, in)
		if op.Params[1].A != outA || op.Params[1].B != outB || op.Params[3].A != 2 || op.Params[3].B != 4 {
			t.Errorf("outputs of OpenSession: (%#x, %#x), (%d, %d)", op.Params[1].A, op.Params[1].B, op.Params[3].A, op.Params[3].B)
		}
	})
	t.Run("CancelledBeforeStart", func(t *testing.T) {
		before := st.instances.Load()
		op := &teeclient.Operation{}
		op.Cancel()
		_, err := tc.OpenSession(ctx, testUUID(1), teeclient.LoginPublic, 0, op)
		wantErr(t, err, teeclient.ErrorCancel, teeclient.OriginAPI)
		if st.instances.Load() != before {
			t.Error("a cancelled open reached the TEE")
		}
	})
	t.Run("Cancel", func(t *testing.T) {
		op := &teeclient.Operation{}
		op.Params[0] = teeclient.Value(teeclient.ValueInput, openBlock, 0)
		done := start(func() error {
			_, err := tc.OpenSession(ctx, testUUID(1), teeclient.LoginPublic, 0, op)
			return err
		})
		waitEntered(t, st, "open")
		op.Cancel()
		wantErr(t, wait(t, "cancelled OpenSession", done), teeclient.ErrorCancel, 0)
	})
}

// TestTAPanic: a panicking TA is dead for its session from then on; the
// session still closes; a new session gets a new instance; others go on.
func TestTAPanic(t *testing.T) {
	st, other := newStats(), newStats()
	tc := startSim(t, taDef(1, multiInstance, st), taDef(2, singleMulti, other))
	victim := openSession(t, tc, testUUID(1), nil)
	sibling := openSession(t, tc, testUUID(1), nil) // another instance of the same TA
	bystander := openSession(t, tc, testUUID(2), nil)
	counter(t, victim)

	wantErr(t, invoke(t, victim, cmdPanic, nil), teeclient.ErrorTargetDead, teeclient.OriginTEE)
	before := st.invokes.Load()
	for _, cmd := range []uint32{cmdCounter, cmdParams, cmdPanic} {
		op := &teeclient.Operation{}
		op.Params[0] = teeclient.Value(teeclient.ValueOutput, 0, 0)
		wantErr(t, invoke(t, victim, cmd, op), teeclient.ErrorTargetDead, teeclient.OriginTEE)
	}
	if st.invokes.Load() != before {
		t.Error("the dead instance was invoked again")
	}
	if n, _ := counter(t, sibling); n != 1 {
		t.Errorf("another instance of the TA: counter %d, want 1", n)
	}
	if n, _ := counter(t, bystander); n != 1 {
		t.Errorf("another TA: counter %d, want 1", n)
	}
	if err := await(t, "Close", victim.Close); err != nil {
		t.Errorf("closing the dead session: %v", err)
	}
	wantErr(t, invoke(t, victim, cmdCounter, nil), teeclient.ErrorBadState, teeclient.OriginAPI)
	fresh := openSession(t, tc, testUUID(1), nil)
	if n, _ := counter(t, fresh); n != 1 {
		t.Errorf("new session after a panic: counter %d, want 1 (a new instance)", n)
	}
	if n := st.instances.Load(); n != 3 {
		t.Errorf("%d instances, want 3", n)
	}

	// Single instance, several sessions: the panic kills the instance for all
	// of them; the next session gets a fresh one.
	b2 := openSession(t, tc, testUUID(2), nil)
	if n, _ := counter(t, b2); n != 2 {
		t.Fatalf("shared instance counter %d, want 2", n)
	}
	wantErr(t, invoke(t, b2, cmdPanic, nil), teeclient.ErrorTargetDead, teeclient.OriginTEE)
	wantErr(t, invoke(t, bystander, cmdCounter, nil), teeclient.ErrorTargetDead, teeclient.OriginTEE)
	b3 := openSession(t, tc, testUUID(2), nil)
	if n, _ := counter(t, b3); n != 1 {
		t.Errorf("single-instance TA after a panic: counter %d, want 1 (a new instance)", n)
	}
	for _, s := range []*teeclient.Session{b2, bystander, b3} {
		if err := await(t, "Close", s.Close); err != nil {
			t.Error(err)
		}
	}
	if d := other.destroys.Load(); d != 1 {
		t.Errorf("single-instance TA: %d destroys, want 1 (the fresh instance only)", d)
	}

	// A panic in the OpenSession entry point fails that open only.
	op := &teeclient.Operation{}
	op.Params[0] = teeclient.Value(teeclient.ValueInput, openPanic, 0)
	_, err := tc.OpenSession(t.Context(), testUUID(2), teeclient.LoginPublic, 0, op)
	wantErr(t, err, teeclient.ErrorTargetDead, teeclient.OriginTEE)
	b4 := openSession(t, tc, testUUID(2), nil)
	if n, _ := counter(t, b4); n != 1 {
		t.Errorf("after a panic in OpenSession: counter %d, want 1 (a new instance)", n)
	}
}

func TestInstanceProperties(t *testing.T) {
	t.Run("SingleInstanceSingleSession", func(t *testing.T) {
		tc, st, uuid := simTA(t, singleOnly)
		s1 := openSession(t, tc, uuid, nil)
		_, err := tc.OpenSession(t.Context(), uuid, teeclient.LoginPublic, 0, nil)
		wantErr(t, err, teeclient.ErrorBusy, teeclient.OriginTEE)
		counter(t, s1) // the first session is unaffected
		if err := s1.Close(); err != nil {
			t.Fatal(err)
		}
		s2 := openSession(t, tc, uuid, nil)
		if n, _ := counter(t, s2); n != 1 {
			t.Errorf("counter %d, want 1: a new instance", n)
		}
		if n := st.instances.Load(); n != 2 {
			t.Errorf("%d instances, want 2", n)
		}
	})
	t.Run("MultiSession", func(t *testing.T) {
		tc, st, uuid := simTA(t, singleMulti)
		s1 := openSession(t, tc, uuid, nil)
		s2 := openSession(t, tc, uuid, nil)
		if n, _ := counter(t, s1); n != 1 {
			t.Errorf("counter %d, want 1", n)
		}
		if n, _ := counter(t, s2); n != 2 {
			t.Errorf("counter %d via the second session, want 2 (one shared instance)", n)
		}
		if n := st.instances.Load(); n != 1 {
			t.Errorf("%d instances, want 1", n)
		}
	})
	t.Run("MultiInstance", func(t *testing.T) {
		tc, st, uuid := simTA(t, multiInstance)
		s1 := openSession(t, tc, uuid, nil)
		s2 := openSession(t, tc, uuid, nil)
		counter(t, s1)
		if n, _ := counter(t, s2); n != 1 {
			t.Errorf("counter %d, want 1 (an instance per session)", n)
		}
		if n := st.instances.Load(); n != 2 {
			t.Errorf("%d instances, want 2", n)
		}
	})
	t.Run("KeepAlive", func(t *testing.T) {
		tc, st, uuid := simTA(t, singleKeep)
		s1 := openSession(t, tc, uuid, nil)
		counter(t, s1)
		if err := s1.Close(); err != nil {
			t.Fatal(err)
		}
		if d := st.destroys.Load(); d != 0 {
			t.Errorf("keep-alive instance destroyed %d times", d)
		}
		s2 := openSession(t, tc, uuid, nil)
		if n, _ := counter(t, s2); n != 2 {
			t.Errorf("counter %d, want 2: the instance was kept alive", n)
		}
		if n, c := st.instances.Load(), st.creates.Load(); n != 1 || c != 1 {
			t.Errorf("%d instances, %d creates; want 1 and 1", n, c)
		}
	})
	t.Run("NoKeepAlive", func(t *testing.T) {
		tc, st, uuid := simTA(t, singleMulti)
		s1 := openSession(t, tc, uuid, nil)
		s2 := openSession(t, tc, uuid, nil)
		counter(t, s1)
		if err := s1.Close(); err != nil {
			t.Fatal(err)
		}
		if d := st.destroys.Load(); d != 0 {
			t.Fatalf("destroyed with a session still open")
		}
		if err := s2.Close(); err != nil {
			t.Fatal(err)
		}
		if d := st.destroys.Load(); d != 1 {
			t.Fatalf("%d destroys after the last session closed, want 1", d)
		}
		s3 := openSession(t, tc, uuid, nil)
		if n, _ := counter(t, s3); n != 1 {
			t.Errorf("counter %d, want 1: a new instance", n)
		}
		if err := s3.Close(); err != nil {
			t.Fatal(err)
		}
		if n, c, d := st.instances.Load(), st.creates.Load(), st.destroys.Load(); n != 2 || c != 2 || d != 2 {
			t.Errorf("%d instances, %d creates, %d destroys; want 2 each (each destroyed exactly once)", n, c, d)
		}
		if c := st.closes.Load(); c != 3 {
			t.Errorf("CloseSession ran %d times, want 3", c)
		}
	})
}

// TestConcurrentOpenOnNewInstance: sessions opening at once on a
// single-instance TA must never reach the instance before its Create ran.
func TestConcurrentOpenOnNewInstance(t *testing.T) {
	tc, st, uuid := simTA(t, singleMulti)
	const rounds, parallel = 500, 8
	for range rounds {
		var wg sync.WaitGroup
		sessions := make(chan *teeclient.Session, parallel)
		for range parallel {
			wg.Go(func() {
				s, err := tc.OpenSession(t.Context(), uuid, teeclient.LoginPublic, 0, nil)
				if err != nil {
					t.Error(err)
					return
				}
				sessions <- s
			})
		}
		wg.Wait()
		close(sessions)
		for s := range sessions {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		}
	}
	if n := st.notCreated.Load(); n != 0 {
		t.Errorf("%d entry points ran on an instance before its Create", n)
	}
	if c, d := st.creates.Load(), st.destroys.Load(); c != d || c != st.instances.Load() {
		t.Errorf("%d instances, %d creates, %d destroys", st.instances.Load(), c, d)
	}
}

// TestBusyInstanceSerialises: calls into one instance never overlap, from
// different sessions or the same one.
func TestBusyInstanceSerialises(t *testing.T) {
	tc, st, uuid := simTA(t, singleMulti)
	s1 := openSession(t, tc, uuid, nil)
	s2 := openSession(t, tc, uuid, nil)
	const n = 25
	var wg sync.WaitGroup
	errs := make(chan error, 4*n)
	for _, s := range []*teeclient.Session{s1, s2, s1, s2} {
		wg.Go(func() {
			for range n {
				if err := s.InvokeCommand(t.Context(), cmdOverlap, nil); err != nil {
					errs <- err
				}
			}
		})
	}
	if err := await(t, "concurrent invokes", func() error { wg.Wait(); return nil }); err != nil {
		t.Fatal(err)
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := st.invokes.Load(); got != 4*n {
		t.Errorf("%d invokes reached the TA, want %d", got, 4*n)
	}
	if o := st.overlaps.Load(); o != 0 {
		t.Errorf("%d invokes overlapped inside the TA", o)
	}
}

func TestCancellation(t *testing.T) {
	tc, st, uuid := simTA(t, singleMulti)
	s := openSession(t, tc, uuid, nil)

	t.Run("Operation", func(t *testing.T) {
		op := &teeclient.Operation{}
		done := start(func() error { return s.InvokeCommand(t.Context(), cmdBlock, op) })
		waitEntered(t, st, "invoke 1")
		op.Cancel()
		wantErr(t, wait(t, "cancelled invoke", done), teeclient.ErrorCancel, teeclient.OriginTrustedApp)
	})
	t.Run("Context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		op := &teeclient.Operation{}
		op.Params[0] = teeclient.TempMemref(teeclient.MemrefTempInout, make([]byte, 8))
		done := start(func() error { return s.InvokeCommand(ctx, cmdBlock, op) })
		waitEntered(t, st, "invoke 1")
		cancel()
		wantErr(t, wait(t, "cancelled invoke", done), teeclient.ErrorCancel, teeclient.OriginTrustedApp)
		// The Operation is not spoiled for later calls.
		if err := invoke(t, s, cmdCounter, op); err != nil {
			t.Errorf("reusing the operation after a context cancellation: %v", err)
		}
	})
	t.Run("ContextDeadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		err := await(t, "invoke with deadline", func() error { return s.InvokeCommand(ctx, cmdBlock, nil) })
		wantErr(t, err, teeclient.ErrorCancel, 0)
		select { // the call may or may not have reached the TA before the deadline
		case <-st.entered:
		default:
		}
	})
	t.Run("BeforeStart", func(t *testing.T) {
		before := st.invokes.Load()
		op := &teeclient.Operation{}
		op.Cancel()
		wantErr(t, invoke(t, s, cmdBlock, op), teeclient.ErrorCancel, teeclient.OriginAPI)
		if st.invokes.Load() != before {
			t.Error("a cancelled operation reached the TA")
			<-st.entered
		}
		// The request cancelled that one call: the operation can be used again.
		if err := invoke(t, s, cmdCounter, op); err != nil {
			t.Errorf("reusing the operation: %v", err)
		}
	})
	t.Run("ContextDoneBeforeStart", func(t *testing.T) {
		before := st.invokes.Load()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		op := &teeclient.Operation{}
		wantErr(t, invoke2(t, ctx, s, cmdBlock, op), teeclient.ErrorCancel, teeclient.OriginAPI)
		if st.invokes.Load() != before {
			t.Error("a call with a done context reached the TA")
			<-st.entered
		}
		if err := invoke(t, s, cmdCounter, op); err != nil {
			t.Errorf("reusing the operation: %v", err)
		}
	})
	t.Run("WaitingForBusyInstance", func(t *testing.T) {
		s2 := openSession(t, tc, uuid, nil)
		op1 := &teeclient.Operation{}
		blocked := start(func() error { return s.InvokeCommand(t.Context(), cmdBlock, op1) })
		waitEntered(t, st, "invoke 1")
		before := st.invokes.Load()
		op2 := &teeclient.Operation{}
		waiting := start(func() error { return s2.InvokeCommand(t.Context(), cmdCounter, op2) })
		time.Sleep(20 * time.Millisecond) // let it queue behind the busy instance; not needed for correctness
		op2.Cancel()
		// Origin TEE when the request was queued at the instance (the usual
		// case), API if the cancellation overtook the call's start.
		wantErr(t, wait(t, "call waiting for a busy instance", waiting), teeclient.ErrorCancel, 0)
		if st.invokes.Load() != before {
			t.Error("the cancelled call reached the TA")
		}
		op1.Cancel()
		wantErr(t, wait(t, "blocked call", blocked), teeclient.ErrorCancel, teeclient.OriginTrustedApp)
	})
}

// TestCancelRacesStart: a cancellation requested at any moment after the
// call was made is never lost, however it races the request's delivery:
// the call ends with ErrorCancel (origin API if it never left the client).
func TestCancelRacesStart(t *testing.T) {
	tc, st, uuid := simTA(t, multiInstance)
	s := openSession(t, tc, uuid, nil)
	for i := range 200 {
		op := &teeclient.Operation{}
		if i%2 == 0 {
			op.Params[0] = teeclient.TempMemref(teeclient.MemrefTempInput, make([]byte, 64)) // a slower start
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := start(func() error { return s.InvokeCommand(ctx, cmdBlock, op) })
		if i%4 < 2 {
			op.Cancel()
		} else {
			cancel()
		}
		err := wait(t, fmt.Sprintf("round %d: call cancelled as it started", i), done)
		cancel()
		wantErr(t, err, teeclient.ErrorCancel, 0)
		select {
		case <-st.entered:
		default:
		}
	}
}

func invoke2(t *testing.T, ctx context.Context, s *teeclient.Session, cmd uint32, op *teeclient.Operation) error {
	t.Helper()
	return await(t, "InvokeCommand", func() error { return s.InvokeCommand(ctx, cmd, op) })
}

// TestCloseWhileBusy: closing a session cancels the call it runs, waits for
// it, and only then runs the TA's CloseSession.
func TestCloseWhileBusy(t *testing.T) {
	tc, st, uuid := simTA(t, multiInstance)
	s := openSession(t, tc, uuid, nil)
	done := start(func() error { return s.InvokeCommand(t.Context(), cmdBlock, nil) })
	waitEntered(t, st, "invoke 1")
	if err := await(t, "Close", s.Close); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wantErr(t, wait(t, "invoke on a closing session", done), teeclient.ErrorCancel, 0)
	want := []string{"invoke-end 1", "close-session 1", "destroy"}
	if got := st.eventLog(); !slices.Equal(got, want) {
		t.Errorf("TA events %q, want %q", got, want)
	}
	wantErr(t, invoke(t, s, cmdCounter, nil), teeclient.ErrorBadState, teeclient.OriginAPI)
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if c := st.closes.Load(); c != 1 {
		t.Errorf("CloseSession ran %d times", c)
	}
}

// TestContextCloseWithSessions: finalizing the context closes its sessions
// in the secure world, including one blocked in the TA.
func TestContextCloseWithSessions(t *testing.T) {
	tc, st, uuid := simTA(t, multiInstance)
	s1 := openSession(t, tc, uuid, nil)
	openSession(t, tc, uuid, nil)
	s3 := openSession(t, tc, uuid, nil)
	m, err := tc.AllocateSharedMemory(64, teeclient.MemInput|teeclient.MemOutput)
	if err != nil {
		t.Fatal(err)
	}
	op := &teeclient.Operation{}
	op.Params[0] = teeclient.WholeMemref(m)
	done := start(func() error { return s3.InvokeCommand(t.Context(), cmdBlock, op) })
	waitEntered(t, st, "invoke 3")

	if err := await(t, "Context.Close", tc.Close); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wantErr(t, wait(t, "invoke during context close", done), teeclient.ErrorCommunication, teeclient.OriginComms)
	waitFor(t, "TA CloseSession for every session", func() bool { return st.closes.Load() == 3 })
	waitFor(t, "TA instances destroyed", func() bool { return st.destroys.Load() == 3 })
	log := st.eventLog()
	if i, j := slices.Index(log, "invoke-end 3"), slices.Index(log, "close-session 3"); i < 0 || j < i {
		t.Errorf("TA events %q: the blocked invoke must end before its session closes", log)
	}
	// The context is gone: calls fail, none hangs.
	if err := invoke(t, s1, cmdCounter, nil); err == nil {
		t.Error("invoke after Context.Close succeeded")
	}
	if _, err := tc.AllocateSharedMemory(8, teeclient.MemInput); err == nil {
		t.Error("AllocateSharedMemory after Context.Close succeeded")
	}
	if err := tc.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestResultAndOriginStrings(t *testing.T) {
	results := map[teeclient.Result]string{
		teeclient.Success:             "TEEC_SUCCESS",
		teeclient.ErrorGeneric:        "TEEC_ERROR_GENERIC",
		teeclient.ErrorAccessDenied:   "TEEC_ERROR_ACCESS_DENIED",
		teeclient.ErrorCancel:         "TEEC_ERROR_CANCEL",
		teeclient.ErrorBadParameters:  "TEEC_ERROR_BAD_PARAMETERS",
		teeclient.ErrorBadState:       "TEEC_ERROR_BAD_STATE",
		teeclient.ErrorItemNotFound:   "TEEC_ERROR_ITEM_NOT_FOUND",
		teeclient.ErrorBusy:           "TEEC_ERROR_BUSY",
		teeclient.ErrorCommunication:  "TEEC_ERROR_COMMUNICATION",
		teeclient.ErrorShortBuffer:    "TEEC_ERROR_SHORT_BUFFER",
		teeclient.ErrorTargetDead:     "TEEC_ERROR_TARGET_DEAD",
		teeclient.Result(0x12345678):  "TEEC_Result(0x12345678)",
		teeclient.ErrorAccessConflict: "TEEC_ERROR_ACCESS_CONFLICT",
	}
	for r, want := range results {
		if got := r.String(); got != want {
			t.Errorf("%#x.String() = %q, want %q", uint32(r), got, want)
		}
		if got := r.Error(); got != want {
			t.Errorf("%#x.Error() = %q, want %q", uint32(r), got, want)
		}
	}
	// Codes from the specification.
	for r, v := range map[teeclient.Result]uint32{teeclient.ErrorShortBuffer: 0xFFFF0010, teeclient.ErrorTargetDead: 0xFFFF3024, teeclient.ErrorBusy: 0xFFFF000D} {
		if uint32(r) != v {
			t.Errorf("%v = %#x, want %#x", r, uint32(r), v)
		}
	}
	origins := map[teeclient.Origin]string{
		teeclient.OriginAPI:        "TEEC_ORIGIN_API",
		teeclient.OriginComms:      "TEEC_ORIGIN_COMMS",
		teeclient.OriginTEE:        "TEEC_ORIGIN_TEE",
		teeclient.OriginTrustedApp: "TEEC_ORIGIN_TRUSTED_APP",
		teeclient.Origin(9):        "TEEC_Origin(9)",
	}
	for o, want := range origins {
		if got := o.String(); got != want {
			t.Errorf("Origin(%d).String() = %q, want %q", uint32(o), got, want)
		}
	}
	if teeclient.OriginAPI != 1 || teeclient.OriginComms != 2 || teeclient.OriginTEE != 3 || teeclient.OriginTrustedApp != 4 {
		t.Error("origin numbering differs from the specification")
	}
}

func TestErrorIsAs(t *testing.T) {
	cause := errors.New("socket gone")
	var err error = &teeclient.Error{Op: "InvokeCommand", Code: teeclient.ErrorCommunication, Origin: teeclient.OriginComms, Err: cause}
	wrapped := fmt.Errorf("calling the TA: %w", err)
	for _, e := range []error{err, wrapped} {
		if !errors.Is(e, teeclient.ErrorCommunication) {
			t.Errorf("errors.Is(%v, ErrorCommunication) = false", e)
		}
		if errors.Is(e, teeclient.ErrorShortBuffer) || errors.Is(e, teeclient.Success) {
			t.Errorf("errors.Is(%v, another code) = true", e)
		}
		if !errors.Is(e, cause) {
			t.Errorf("errors.Is(%v, its cause) = false", e)
		}
		var te *teeclient.Error
		if !errors.As(e, &te) || te.Code != teeclient.ErrorCommunication || te.Origin != teeclient.OriginComms {
			t.Errorf("errors.As(%v) = %+v", e, te)
		}
	}
	msg := err.Error()
	for _, part := range []string{"InvokeCommand", "TEEC_ERROR_COMMUNICATION", "TEEC_ORIGIN_COMMS", "socket gone"} {
		if !strings.Contains(msg, part) {
			t.Errorf("Error() = %q lacks %q", msg, part)
		}
	}
	if errors.Unwrap(err) != cause {
		t.Error("Unwrap does not return the cause")
	}
	plain := &teeclient.Error{Op: "OpenSession", Code: teeclient.ErrorItemNotFound, Origin: teeclient.OriginTEE}
	if got, want := plain.Error(), "teeclient: OpenSession: TEEC_ERROR_ITEM_NOT_FOUND (origin TEEC_ORIGIN_TEE)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}

	// And from a real call.
	tc, _, _ := simTA(t, multiInstance)
	_, err = tc.OpenSession(t.Context(), testUUID(77), teeclient.LoginPublic, 0, nil)
	var te *teeclient.Error
	if !errors.As(err, &te) || te.Op != "OpenSession" || te.Code != teeclient.ErrorItemNotFound || te.Origin != teeclient.OriginTEE {
		t.Errorf("OpenSession of an unknown TA: %v", err)
	}
	if !errors.Is(err, teeclient.ErrorItemNotFound) || errors.Is(err, teeclient.ErrorGeneric) {
		t.Errorf("errors.Is on %v", err)
	}
}

// hostileBackend is a backend whose TEE answers with nonsense: huge offsets
// and sizes, changed attributes, and memory scribbled all over. The client
// must not crash or write outside the ranges it passed.
type hostileBackend struct{ mems []*hostileMem }

type hostileMem struct {
	id  uint64
	mem []byte
}

func (m *hostileMem) ID() uint64     { return m.id }
func (m *hostileMem) Bytes() []byte  { return m.mem }
func (m *hostileMem) Release() error { return nil }

func (b *hostileBackend) Version() teeclient.Version {
	return teeclient.Version{GenCaps: teeclient.CapGP | teeclient.CapMemrefNull}
}

func (b *hostileBackend) OpenSession(ctx context.Context, a *teeclient.OpenArgs) error {
	a.Session, a.Ret, a.Origin = 1, teeclient.Success, teeclient.OriginTrustedApp
	return nil
}

func (b *hostileBackend) Invoke(ctx context.Context, a *teeclient.InvokeArgs) error {
	for _, m := range b.mems {
		for i := range m.mem {
			m.mem[i] = 0xEE
		}
	}
	for i := range a.Params {
		a.Params[i] = teeclient.RawParam{Attr: teeclient.AttrMemrefInout, A: 1 << 62, B: 1 << 62, C: 1 << 62}
	}
	a.Ret, a.Origin = teeclient.Success, teeclient.OriginTrustedApp
	return nil
}

func (b *hostileBackend) Cancel(uint32, uint32) error { return nil }
func (b *hostileBackend) CloseSession(uint32) error   { return nil }
func (b *hostileBackend) Close() error                { return nil }

func (b *hostileBackend) AllocSharedMemory(size int) (teeclient.SharedMem, error) {
	m := &hostileMem{id: uint64(len(b.mems) + 1), mem: make([]byte, size)}
	b.mems = append(b.mems, m)
	return m, nil
}

func (b *hostileBackend) RegisterSharedMemory([]byte) (teeclient.SharedMem, error) {
	return nil, teeclient.ErrRegisterUnsupported
}

func TestHostileReplyStaysInRange(t *testing.T) {
	tc := teeclient.NewContext(&hostileBackend{})
	s, err := tc.OpenSession(t.Context(), testUUID(1), teeclient.LoginPublic, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	in := fill(32, 0x55)
	inShm, err := tc.RegisterSharedMemory(in, teeclient.MemInput)
	if err != nil {
		t.Fatal(err)
	}
	out := fill(32, 0x55)
	outShm, err := tc.RegisterSharedMemory(out, teeclient.MemInput|teeclient.MemOutput)
	if err != nil {
		t.Fatal(err)
	}
	temp := fill(16, 0x55)
	op := &teeclient.Operation{}
	op.Params[0] = teeclient.PartialMemref(teeclient.MemrefPartialInput, inShm, 4, 8)
	op.Params[1] = teeclient.PartialMemref(teeclient.MemrefPartialOutput, outShm, 8, 8)
	op.Params[2] = teeclient.TempMemref(teeclient.MemrefTempInput, temp[:8])
	op.Params[3] = teeclient.Parameter{Type: teeclient.MemrefTempOutput, Buffer: temp[8:12:12], Size: 4}
	if err := s.InvokeCommand(t.Context(), 1, op); err != nil {
		t.Fatal(err)
	}
	wantBytes(t, "input block", in, fill(32, 0x55))
	wantOut := fill(32, 0x55)
	copy(wantOut[8:16], fill(8, 0xEE))
	wantBytes(t, "output block", out, wantOut)
	wantOutTemp := fill(16, 0x55)
	copy(wantOutTemp[8:12], fill(4, 0xEE))
	wantBytes(t, "temporary buffers", temp, wantOutTemp)
}
