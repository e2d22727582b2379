package wasm

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/gp"
	"github.com/tzmediator/tzbridge/internal/netaddr"
	"github.com/tzmediator/tzbridge/securesim"
	"github.com/tzmediator/tzbridge/shadow"
	"github.com/tzmediator/tzbridge/tzrpc"
)

var testUUID = gp.MustParseUUID("5ad1e0c4-7f0b-4c6a-9d1e-2b3c4d5e6f70")

// logBuffer collects log records as text, safely across goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// writeModule puts a module in a temporary file.
func writeModule(t testing.TB, bin []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "m.wasm")
	if err := os.WriteFile(p, bin, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// testCacheDir is one compilation cache for the package's tests.
func testCacheDir(t testing.TB) string {
	t.Helper()
	return filepath.Join(os.TempDir(), fmt.Sprintf("tzbridge-wasm-test-cache-%d", os.Geteuid()))
}

// outcome is how a session ended.
type outcome struct {
	exited bool
	status int
	result gp.Result // of the RESUME that ended it, when not an exit
}

// rig runs a wasm TA in-process: a securesim.Host hosts it, and a real
// shadow (package shadow) performs its calls in a temporary root, as
// `tzbridge run` does across processes.
type rig struct {
	t    testing.TB
	host *securesim.Host
	sh   *shadow.Shadow
	root string
	log  *logBuffer
	mb   []byte
	id   uint32
}

// addrs parses listen addresses as the catalog does before it hands
// them to Definition.
func addrs(t testing.TB, ss ...string) []netaddr.Addr {
	t.Helper()
	as := make([]netaddr.Addr, len(ss))
	for i, s := range ss {
		a, err := netaddr.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		as[i] = a
	}
	return as
}

func newRig(t testing.TB, path string, listen []netaddr.Addr, opts Options) *rig {
	t.Helper()
	r := &rig{t: t, root: t.TempDir(), log: &logBuffer{}, mb: make([]byte, tzrpc.DefaultMailbox)}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", r.log.String())
		}
	})
	if opts.Logger == nil {
		opts.Logger = r.log.logger()
	}
	if opts.CacheDir == "" {
		opts.CacheDir = testCacheDir(t)
	}
	def, err := Definition("t", testUUID, path, listen, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Compiled here, as the secure world does at start, so that the
	// tests' bounds on a run do not include a cold compilation, which
	// takes minutes under -race on a loaded machine.
	def.Prepare()
	if r.host, err = securesim.NewHost([]securesim.Definition{def}, r.log.logger()); err != nil {
		t.Fatal(err)
	}
	if r.sh, err = shadow.New(shadow.Config{Name: "t", Root: r.root, Mailbox: len(r.mb)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.sh.Close() })
	var p securesim.Params
	p[0] = securesim.Param{Type: gp.AttrValueInput, A: uint32(tzrpc.Version), B: uint32(len(r.mb))}
	id, res, _ := r.host.OpenSession(context.Background(), r, testUUID, securesim.Client{}, &p)
	if res != gp.Success {
		t.Fatalf("OpenSession: %v", res)
	}
	r.id = id
	t.Cleanup(func() { r.host.CloseSession(r, r.id) })
	return r
}

// run resumes the TA and performs its calls until it exits, RESUME fails
// (a dead TA), or ctx ends.
func (r *rig) run(ctx context.Context) outcome {
	var p securesim.Params
	for {
		p[0] = securesim.Param{Type: gp.AttrMemrefInout, Mem: r.mb, Size: uint64(len(r.mb))}
		res, _ := r.host.Invoke(ctx, r, r.id, tzrpc.CmdResume, &p)
		if res != gp.Success {
			return outcome{result: res}
		}
		if exited, status := r.sh.Dispatch(ctx, r.mb); exited {
			return outcome{exited: true, status: status}
		}
	}
}

// runFor is run with a deadline that fails the test rather than hang it.
func (r *rig) runFor(d time.Duration) outcome {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	o := r.run(ctx)
	if ctx.Err() != nil {
		r.t.Fatalf("TA still running after %v (last result %v)", d, o.result)
	}
	return o
}
