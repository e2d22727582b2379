package wasm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/gp"
	"github.com/tzmediator/tzbridge/internal/netaddr"
)

// exitWith is a _start body that calls proc_exit(status) (import 0).
func exitWith(status int32) []byte { return cat(i32c(status), call(0)) }

// TestLifecycle runs hand-assembled modules through the host and a real
// shadow and checks how each ends.
func TestLifecycle(t *testing.T) {
	hello := []byte("hello\nwide world\nno newline")
	tests := []struct {
		name    string
		mod     wmod
		opts    Options
		want    outcome
		wantLog []string
	}{
		{
			name: "returns from _start",
			mod:  wmod{imports: []wimport{impProcExit}, memPages: 1},
			want: outcome{exited: true, status: 0},
		},
		{
			name: "proc_exit status is the TA's exit status",
			mod:  wmod{imports: []wimport{impProcExit}, memPages: 1, start: exitWith(3)},
			want: outcome{exited: true, status: 3},
		},
		{
			name: "trap kills the TA",
			mod:  wmod{imports: []wimport{impProcExit}, memPages: 1, start: opUnreachable},
			want: outcome{result: gp.ErrorTargetDead},
			// The host logs the panic, with the wasm error.
			wantLog: []string{"TA panicked", "unreachable"},
		},
		{
			name: "memory beyond the cap is refused",
			// grow by 100 pages: fails under a 64-page cap → exit 7, else 8.
			mod: wmod{imports: []wimport{impProcExit}, memPages: 1, start: cat(
				i32c(100), opMemGrow, i32c(-1), opI32Eq, ifThen(), exitWith(7), opElse, exitWith(8), opEnd)},
			opts: Options{MemoryLimit: 64 << 16},
			want: outcome{exited: true, status: 7},
		},
		{
			name: "memory within the default cap is granted",
			mod: wmod{imports: []wimport{impProcExit}, memPages: 1, start: cat(
				i32c(100), opMemGrow, i32c(-1), opI32Eq, ifThen(), exitWith(7), opElse, exitWith(8), opEnd)},
			want: outcome{exited: true, status: 8},
		},
		{
			name: "a minimum memory over the cap fails to instantiate",
			mod:  wmod{imports: []wimport{impProcExit}, memPages: 100},
			opts: Options{MemoryLimit: 64 << 16},
			want: outcome{exited: true, status: 1},
		},
		{
			name: "stdout lines reach the log tagged with the TA",
			mod: wmod{imports: []wimport{impProcExit, impFdWrite}, memPages: 1,
				data: []wdata{{0, cat(le32b(16), le32b(uint32(len(hello))))}, {16, hello}},
				// fd_write(1, iovs=0, 1, nwritten=8); drop; proc_exit(0)
				start: cat(i32c(1), i32c(0), i32c(1), i32c(8), call(1), opDrop, exitWith(0))},
			want:    outcome{exited: true, status: 0},
			wantLog: []string{`msg=hello ta=t stream=stdout`, `msg="wide world"`, `msg="no newline"`},
		},
		{
			name: "bad pointers fault, they do not crash the host",
			mod: wmod{imports: []wimport{impProcExit, impFdWrite}, memPages: 1,
				// fd_write(1, iovs=0xfffffff0, 1, 8) → EFAULT (21) → exit 21
				start: cat(i32c(1), i32c(-16), i32c(1), i32c(8), call(1), call(0))},
			want: outcome{exited: true, status: int(errnoFault)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, writeModule(t, tt.mod.bytes()), nil, tt.opts)
			got := r.runFor(30 * time.Second)
			if got != tt.want {
				t.Errorf("outcome %+v, want %+v", got, tt.want)
			}
			for _, w := range tt.wantLog {
				if !strings.Contains(r.log.String(), w) {
					t.Errorf("log lacks %q", w)
				}
			}
		})
	}
}

func le32b(v uint32) []byte { b := make([]byte, 4); put32(b, v); return b }

// TestSpinStopsOnSessionClose: a module that loops for ever without a call
// is stopped when its session ends.
func TestSpinStopsOnSessionClose(t *testing.T) {
	bin := wmod{imports: []wimport{impProcExit}, memPages: 1, start: loopForever()}.bytes()
	m := &module{name: "spin", path: writeModule(t, bin), opts: Options{CacheDir: testCacheDir(t)}, log: (&logBuffer{}).logger()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.run(ctx, &fakePosix{}) }()
	time.Sleep(50 * time.Millisecond) // let it spin
	select {
	case err := <-done:
		t.Fatalf("spinning module returned on its own: %v", err)
	default:
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("run = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("spinning module not stopped 10s after its session closed")
	}
}

// TestSpinStopsThroughHost: the same, through the securesim host and the
// RESUME the shadow is blocked in: cancelling the call and closing the
// session frees the TA.
func TestSpinStopsThroughHost(t *testing.T) {
	bin := wmod{imports: []wimport{impProcExit}, memPages: 1, start: loopForever()}.bytes()
	r := newRig(t, writeModule(t, bin), nil, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if o := r.run(ctx); o.result != gp.ErrorCancel {
		t.Fatalf("RESUME of a spinning TA = %+v, want cancel", o)
	}
	closed := make(chan bool)
	go func() { closed <- r.host.CloseSession(r, r.id) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("CloseSession of a spinning TA hangs")
	}
}

func TestDefinitionChecks(t *testing.T) {
	dir := t.TempDir()
	notWasm := filepath.Join(dir, "x.wasm")
	if err := os.WriteFile(notWasm, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := writeModule(t, wmod{memPages: 1}.bytes())
	tests := []struct {
		name, path string
		listen     []netaddr.Addr
		opts       Options
		want       string
	}{
		{"missing file", filepath.Join(dir, "none.wasm"), nil, Options{}, "no such file"},
		{"not a module", notWasm, nil, Options{}, "not a WebAssembly module"},
		{"negative memory", good, nil, Options{MemoryLimit: -1}, "negative"},
		{"good", good, addrs(t, "tcp://127.0.0.1:7100", "udp://[::1]:7101", "unix:/x.sock"), Options{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Definition("w", testUUID, tt.path, tt.listen, tt.opts)
			if tt.want == "" {
				if err != nil || d.New == nil || !d.Props.SingleInstance || d.Props.MultiSession {
					t.Errorf("Definition = %+v, %v", d, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Definition error %v, want %q", err, tt.want)
			}
		})
	}
}

// TestCompileFailures: a module the host cannot run fails every session
// with a clear error, and the failure does not take the process down.
func TestCompileFailures(t *testing.T) {
	tests := []struct {
		name string
		mod  wmod
		want string
	}{
		{"foreign import", wmod{imports: []wimport{{module: "env", name: "f"}}, memPages: 1}, "env.f"},
		{"unknown WASI function", wmod{imports: []wimport{{module: wasiModule, name: "no_such"}}, memPages: 1}, "no_such"},
		{"wrong WASI signature", wmod{imports: []wimport{{module: wasiModule, name: "proc_exit"}}, memPages: 1}, "proc_exit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, writeModule(t, tt.mod.bytes()), nil, Options{})
			if got := r.runFor(30 * time.Second); got != (outcome{exited: true, status: 1}) {
				t.Errorf("outcome %+v, want exit 1", got)
			}
			if !strings.Contains(r.log.String(), tt.want) {
				t.Errorf("log lacks %q", tt.want)
			}
		})
	}
}

// TestRecompileAfterFix: a module that failed to compile is not compiled
// again while its file stays the same, and is once the file changes.
func TestRecompileAfterFix(t *testing.T) {
	path := writeModule(t, wmod{imports: []wimport{{module: "env", name: "f"}}, memPages: 1}.bytes())
	m := &module{name: "t", path: path, opts: Options{CacheDir: testCacheDir(t)}, log: (&logBuffer{}).logger()}
	if _, _, err := m.load(); err == nil {
		t.Fatal("a module importing env.f compiled")
	}
	first := m.err
	if _, _, err := m.load(); err != first {
		t.Errorf("unchanged file compiled again: %v", err)
	}
	fixed := wmod{imports: []wimport{impProcExit}, memPages: 1, start: exitWith(0)}.bytes()
	if err := os.WriteFile(path, fixed, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, c, err := m.load(); err != nil || c == nil {
		t.Fatalf("fixed module: %v", err)
	}
}
