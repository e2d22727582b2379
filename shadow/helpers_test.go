package shadow

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/tzrpc"
)

// testTA plays the TA side of Dispatch: it encodes requests into a mailbox
// with tzrpc's encoder, dispatches them, and checks every response with
// tzrpc.CheckResponse, the TA library's own gate.
type testTA struct {
	t      testing.TB
	s      *Shadow
	parent string // holds root and outside, nothing else
	root   string
	out    string // a directory outside the root, a target for escapes
	mb     []byte
	seq    uint32
	ctx    context.Context
}

type options struct {
	maxFDs     int
	maxSockets int
	mailbox    int
	log        *slog.Logger
	// onListening is Config.OnListening.
	onListening func(addr string)
	hostNS      bool // Config.HostNamespace
}

func newTA(t testing.TB, o options) *testTA {
	t.Helper()
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	out := filepath.Join(parent, "outside")
	for _, d := range []string{root, out} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if o.mailbox == 0 {
		o.mailbox = tzrpc.DefaultMailbox
	}
	s, err := New(Config{Name: "test", Root: root, Mailbox: o.mailbox, MaxDescriptors: o.maxFDs, MaxSockets: o.maxSockets, Logger: o.log, OnListening: o.onListening, HostNamespace: o.hostNS})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	// A bound on every call, so that a bug shows as a failure, not a hang.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return &testTA{t: t, s: s, parent: parent, root: root, out: out, mb: make([]byte, o.mailbox), ctx: ctx}
}

func args(v ...int64) [6]int64 {
	var a [6]int64
	copy(a[:], v)
	return a
}

// try sends one request with ctx and returns the checked response. It is
// safe to use from any goroutine.
func (a *testTA) try(ctx context.Context, op tzrpc.Op, arg [6]int64, payload []byte) (tzrpc.Response, error) {
	a.seq++
	req := tzrpc.Request{Op: op, Seq: a.seq, Args: arg, Payload: bytes.Clone(payload)}
	copy(a.mb[tzrpc.HeaderSize:], payload)
	if err := tzrpc.EncodeRequestHeader(a.mb, op, a.seq, arg, len(payload)); err != nil {
		return tzrpc.Response{}, err
	}
	if exited, _ := a.s.Dispatch(ctx, a.mb); exited {
		return tzrpc.Response{}, fmt.Errorf("%v: Dispatch reported exit", op)
	}
	return a.decode(&req)
}

func (a *testTA) decode(req *tzrpc.Request) (tzrpc.Response, error) {
	resp, err := tzrpc.DecodeResponse(a.mb)
	if err != nil {
		return resp, err
	}
	resp.Payload = bytes.Clone(resp.Payload)
	if err := tzrpc.CheckResponse(req, &resp, tzrpc.PayloadCap(a.mb)); err != nil {
		return resp, fmt.Errorf("%v: %w", req.Op, err)
	}
	return resp, nil
}

func (a *testTA) call(op tzrpc.Op, arg [6]int64, payload []byte) tzrpc.Response {
	a.t.Helper()
	resp, err := a.try(a.ctx, op, arg, payload)
	if err != nil {
		a.t.Fatal(err)
	}
	return resp
}

// ok sends a request that must succeed and returns ret.
func (a *testTA) ok(op tzrpc.Op, arg [6]int64, payload []byte) int64 {
	a.t.Helper()
	r := a.call(op, arg, payload)
	if r.Errno != 0 {
		a.t.Fatalf("%v %v %q: %v", op, arg, trim(payload), r.Errno)
	}
	return r.Ret
}

// fails sends a request that must fail with want.
func (a *testTA) fails(want tzrpc.Errno, op tzrpc.Op, arg [6]int64, payload []byte) {
	a.t.Helper()
	if r := a.call(op, arg, payload); r.Errno != want {
		a.t.Errorf("%v %v %q: errno %v (ret %d), want %v", op, arg, trim(payload), r.Errno, r.Ret, want)
	}
}

func trim(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

func (a *testTA) path(p string) string { return filepath.Join(a.root, p) }

// outsideUnchanged checks that nothing appeared next to the root or in
// the outside directory.
func (a *testTA) outsideUnchanged(t testing.TB, wantOut ...string) {
	t.Helper()
	if got := names(t, a.parent); !slices.Equal(got, []string{"outside", "root"}) {
		t.Errorf("parent of root holds %q", got)
	}
	slices.Sort(wantOut)
	if got := names(t, a.out); !slices.Equal(got, wantOut) {
		t.Errorf("outside holds %q, want %q", got, wantOut)
	}
}

func names(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n []string
	for _, e := range ents {
		n = append(n, e.Name())
	}
	return n
}

func unixAddr(t testing.TB, path string) []byte {
	t.Helper()
	sa, err := tzrpc.UnixSockaddr(path)
	if err != nil {
		t.Fatal(err)
	}
	return sa.Marshal()
}

func inetAddr(t testing.TB, ap string) []byte {
	t.Helper()
	sa, err := tzrpc.InetSockaddr(netip.MustParseAddrPort(ap))
	if err != nil {
		t.Fatal(err)
	}
	return sa.Marshal()
}

func parseAddr(t testing.TB, b []byte) tzrpc.Sockaddr {
	t.Helper()
	sa, n, err := tzrpc.ParseSockaddr(b)
	if err != nil || n != len(b) {
		t.Fatalf("sockaddr %x: %v (%d of %d bytes)", b, err, n, len(b))
	}
	return sa
}

// countFDs counts this process's open descriptors.
func countFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// await fails the test if done is not closed within a generous bound:
// the tests check that blocked calls return, never how fast.
func await(t testing.TB, done <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s did not return within 5s", what)
	}
}
