package native

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/gp"
	"github.com/tzmediator/tzbridge/internal/echotest"
	"github.com/tzmediator/tzbridge/internal/netif"
	"github.com/tzmediator/tzbridge/internal/sandbox"
	"github.com/tzmediator/tzbridge/internal/simtest"
	"github.com/tzmediator/tzbridge/internal/syncbuf"
	"github.com/tzmediator/tzbridge/securesim"
	"github.com/tzmediator/tzbridge/shadow"
	"github.com/tzmediator/tzbridge/ta/echo"
)

// The C example TA (ta/c/examples/echo/ta) and its identity.
var (
	echoDir  = filepath.Join("..", "c", "examples", "echo", "ta")
	echoUUID = gp.MustParseUUID("c1e0ec40-7a5e-4c2b-9d3f-0b6a2e8f4c10")

	faultyDir  = filepath.Join("testdata", "faulty")
	faultyUUID = gp.MustParseUUID("6e2b9c1d-0f3a-4d5e-8b7c-1a2b3c4d5e6f")
)

// buildTA builds the TA in dir for the host with ta/c/build-host.sh.
func buildTA(t testing.TB, dir string, cflags ...string) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatal("gcc not installed: cannot build C TAs (.ci/run installs it)")
	}
	out := filepath.Join(t.TempDir(), filepath.Base(dir)+"-ta")
	args := append([]string{filepath.Join("..", "c", "build-host.sh"), dir, out}, cflags...)
	cmd := exec.Command("sh", args...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", dir, err, b)
	}
	return out
}

func TestDescribe(t *testing.T) {
	bin := buildTA(t, echoDir)
	info, err := Describe(bin, echoUUID)
	if err != nil {
		t.Fatal(err)
	}
	if info.UUID != echoUUID {
		t.Errorf("UUID %v, want %v", info.UUID, echoUUID)
	}
	if p := info.Props(); !p.SingleInstance || p.MultiSession || p.KeepAlive {
		t.Errorf("props %+v, want single instance only", p)
	}
	if info.StackSize != 4096 || info.DataSize != 256<<10 {
		t.Errorf("stack %d, data %d", info.StackSize, info.DataSize)
	}
	if _, err := Definition("echo", faultyUUID, bin); err == nil {
		t.Error("Definition accepted a UUID the program does not declare")
	}
	if _, err := Describe("/bin/true", echoUUID); err == nil {
		t.Error("Describe accepted a program that is not a TA")
	}
	if _, err := Describe(filepath.Join(t.TempDir(), "missing"), echoUUID); err == nil {
		t.Error("Describe accepted a missing program")
	}
	// Run by hand, the program says what it is and fails.
	out, err := exec.Command(bin).CombinedOutput()
	if err == nil || !bytes.Contains(out, []byte("tzbridge")) {
		t.Errorf("run by hand: %v\n%s", err, out)
	}
}

// elfHeader is a minimal ELF64 little-endian header of the given type and
// machine, with an entry point and no program headers.
func elfHeader(typ elf.Type, machine elf.Machine) []byte {
	h := make([]byte, 64)
	copy(h, elf.ELFMAG)
	h[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	h[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	h[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	le.PutUint16(h[16:], uint16(typ))
	le.PutUint16(h[18:], uint16(machine))
	le.PutUint32(h[20:], uint32(elf.EV_CURRENT))
	le.PutUint64(h[24:], 0x401000) // entry
	le.PutUint16(h[52:], 64)       // ehsize
	le.PutUint16(h[54:], 56)       // phentsize
	le.PutUint16(h[58:], 64)       // shentsize
	return h
}

// TestCheck: what tzbridge check accepts as a native TA, without running
// it.
func TestCheck(t *testing.T) {
	bin := buildTA(t, echoDir)
	dir := t.TempDir()
	write := func(name string, b []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ta, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	other := elf.EM_AARCH64
	if runtime.GOARCH == "arm64" {
		other = elf.EM_X86_64
	}
	here := sandbox.ELFMachine
	tests := []struct {
		name, path, wantErr string
	}{
		{"the C echo TA", bin, ""},
		{"not executable", write("noexec", ta, 0o644), "not executable"},
		{"a script", write("script", []byte("#!/bin/sh\ntouch /tmp/x\n"), 0o755), "not an ELF"},
		{"empty", write("empty", nil, 0o755), "not an ELF"},
		{"another machine", write("other", elfHeader(elf.ET_EXEC, other), 0o755), "this machine is"},
		{"an object file", write("object", elfHeader(elf.ET_REL, here), 0o755), "not an executable"},
		{"a minimal executable", write("minimal", elfHeader(elf.ET_EXEC, here), 0o755), ""},
		{"dynamically linked", "/bin/true", "dynamically linked"},
		{"a directory", dir, "not a regular file"},
		{"missing", filepath.Join(dir, "missing"), "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.path)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Check: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Check: %v, want an error with %q", err, tt.wantErr)
			}
		})
	}
}

func startWorld(t testing.TB, defs ...securesim.Definition) *simtest.World {
	t.Helper()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return simtest.Start(t, log, defs...)
}

// runShadow runs a shadow for uuid with its root in a new directory.
func runShadow(t testing.TB, w *simtest.World, name string, uuid gp.UUID) (root string, done chan error, stop context.CancelFunc) {
	t.Helper()
	root = filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	sh, err := shadow.New(shadow.Config{Name: name, UUID: uuid, Root: root, MaxDescriptors: 64})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan error, 1)
	go func() { done <- sh.Run(ctx, w.Context) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("shadow %s did not stop within 10s", name)
		}
	})
	return root, done, cancel
}

// TestFaults: a TA that panics or crashes is dead (TARGET_DEAD), one that
// exits ends the loop with its status, and a new session gets a new
// instance.
func TestFaults(t *testing.T) {
	bin := buildTA(t, faultyDir)
	def, err := Definition("faulty", faultyUUID, bin)
	if err != nil {
		t.Fatal(err)
	}
	// The secure world's log says how each instance died.
	var log syncbuf.Buffer
	w := simtest.Start(t, slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelWarn})), def)
	tests := []struct {
		cmd  string
		want func(error) bool
	}{
		{"p", func(err error) bool { return errors.Is(err, gp.ErrorTargetDead) }},
		{"s", func(err error) bool { return errors.Is(err, gp.ErrorTargetDead) }},
		{"x", func(err error) bool { return err == nil }},
		{"e", func(err error) bool {
			var ee *shadow.ExitError
			return errors.As(err, &ee) && ee.Status == 7
		}},
		// Cancelled while TA code runs: a TA that looks at the
		// cancellation flag ends its call; one that does not is killed.
		{"c", func(err error) bool {
			var ee *shadow.ExitError
			return errors.As(err, &ee) && ee.Status == 9
		}},
		// Cancellation is masked unless the TA unmasks it: the flag
		// stays false, and the TA is killed.
		{"m", func(err error) bool { return errors.Is(err, gp.ErrorTargetDead) }},
		{"l", func(err error) bool { return errors.Is(err, gp.ErrorTargetDead) }},
		// Killed by the sandbox's seccomp filter.
		{"k", func(err error) bool { return errors.Is(err, gp.ErrorTargetDead) }},
	}
	defer func(g time.Duration) { cancelGrace = g }(cancelGrace)
	cancelGrace = 300 * time.Millisecond
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			root, done, stop := runShadow(t, w, "faulty", faultyUUID)
			sendFault(t, root, tt.cmd)
			if tt.cmd == "c" || tt.cmd == "m" || tt.cmd == "l" {
				time.Sleep(50 * time.Millisecond) // let it spin
				stop()
			}
			if err := shadowEnded(t, done, 10*time.Second); !tt.want(err) {
				t.Fatalf("shadow Run = %v", err)
			}
			if tt.cmd == "k" && runtime.GOARCH == "amd64" && !strings.Contains(log.String(), "signal: bad system call") {
				t.Errorf("the TA was not killed by the seccomp filter:\n%s", log.String())
			}
		})
	}
}

// shadowEnded waits up to within for the shadow that runShadow started to
// end, and returns what its Run returned.
func shadowEnded(t *testing.T, done chan error, within time.Duration) error {
	t.Helper()
	select {
	case err := <-done:
		done <- err // for the cleanup
		t.Logf("shadow Run = %v", err)
		return err
	case <-time.After(within):
		t.Fatal("the shadow did not end")
		return nil
	}
}

// sendFault waits for the faulty TA under root to make its /cmd FIFO, then
// writes cmd to it: the fault the TA is to commit.
func sendFault(t *testing.T, root, cmd string) {
	t.Helper()
	fifo := filepath.Join(root, "cmd")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(fifo); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the TA did not make /cmd")
		}
		time.Sleep(10 * time.Millisecond)
	}
	f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(cmd); err != nil {
		t.Fatal(err)
	}
}

// The echo test runs in a child process with its own network namespace,
// like ta/echo's: the port is fixed.
const childEnv = "TZBRIDGE_NATIVE_TEST_NETNS"

func TestEchoShadow(t *testing.T) {
	if bins := os.Getenv(childEnv); bins != "" {
		if err := netif.LoopbackUp(); err != nil {
			t.Fatalf("bring up lo: %v", err)
		}
		var asm, uctx, ubsan, noRA string
		fmt.Sscanf(bins, "%s %s %s %s", &asm, &uctx, &ubsan, &noRA)
		t.Run("asm", func(t *testing.T) { testEcho(t, asm, true) })
		t.Run("ucontext", func(t *testing.T) { testEcho(t, uctx, false) })
		t.Run("ubsan", func(t *testing.T) { testEcho(t, ubsan, false) })
		t.Run("no-readahead", func(t *testing.T) { testEcho(t, noRA, false) })
		t.Run("go-echo-latency", testGoEchoLatency)
		return
	}
	if testing.Short() {
		t.Skip("builds a C TA and runs a secure world and a shadow")
	}
	asm := buildTA(t, echoDir, "-DECHO_TCP_PORT=7200")
	uctx := buildTA(t, echoDir, "-DECHO_TCP_PORT=7200", "-DTZPOSIX_CORO_UCONTEXT")
	// Undefined behaviour in the library or the TA kills the TA, and the
	// test with it.
	ubsan := buildTA(t, echoDir, "-DECHO_TCP_PORT=7200", "-fsanitize=undefined", "-fno-sanitize-recover=all")
	// Read-ahead compiled out: polls without a budget, as before it.
	noRA := buildTA(t, echoDir, "-DECHO_TCP_PORT=7200", "-DTZPOSIX_READAHEAD_BYTES=0")
	cmd := exec.Command(os.Args[0], "-test.run=^TestEchoShadow$", "-test.v", "-test.timeout=3m")
	cmd.Env = append(os.Environ(), childEnv+"="+asm+" "+uctx+" "+ubsan+" "+noRA)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	out, err := cmd.CombinedOutput()
	if errors.Is(err, syscall.EPERM) {
		t.Skipf("cannot create a network namespace: %v", err)
	}
	t.Logf("child:\n%s", out)
	if err != nil {
		t.Fatalf("child: %v", err)
	}
}

func testEcho(t *testing.T, bin string, full bool) {
	def, err := Definition("echo", echoUUID, bin)
	if err != nil {
		t.Fatal(err)
	}
	w := startWorld(t, def)
	root, done, stop := runShadow(t, w, "echo", echoUUID)
	const addr = "127.0.0.1:7200"
	deadline := time.Now().Add(20 * time.Second)
	for echotest.StreamEcho("tcp", addr, []byte("x")) != nil {
		select {
		case err := <-done:
			t.Fatalf("shadow ended before the TA was ready: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("echo TA not ready after 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}

	sizes := []int{1, 4096, 1 << 20}
	clients := 1
	if full {
		clients = 6
	}
	t.Run("tcp", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, clients*len(sizes))
		for i := range clients {
			for _, n := range sizes {
				wg.Go(func() { errs <- echotest.StreamEcho("tcp", addr, echotest.Payload(n+i)) })
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})
	if full {
		// A figure for the log, never asserted: one CA's 4 KB round
		// trips through shadow, simulator, child process and coroutine.
		if d, err := roundTrips(addr, 4096, 2000); err != nil {
			t.Error(err)
		} else {
			t.Logf("4 KB TCP round trip through the C TA: %v", d)
		}
	}
	t.Run("fifo", func(t *testing.T) {
		in, out := filepath.Join(root, "in"), filepath.Join(root, "out")
		// One writer session per size, each read to its end of file: the
		// echo closes out when a session is echoed, so a reader that
		// opened out before that would see the previous session end.
		for _, n := range sizes {
			if err := echotest.FIFORound(in, out, echotest.Payload(n+3), 30*time.Second); err != nil {
				t.Fatalf("%d bytes over the FIFOs: %v", n, err)
			}
		}
	})
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("shadow Run = %v, want it stopped by the context", err)
	}
	done <- nil
}

// testGoEchoLatency logs the figure of testEcho for the built-in Go echo
// TA, for comparison.
func testGoEchoLatency(t *testing.T) {
	uuid := gp.MustParseUUID("0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60")
	w := startWorld(t, echo.Definition(uuid))
	runShadow(t, w, "echo", uuid)
	deadline := time.Now().Add(20 * time.Second)
	for echotest.StreamEcho("tcp", "127.0.0.1:7000", []byte("x")) != nil {
		if time.Now().After(deadline) {
			t.Fatal("Go echo TA not ready after 20s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	d, err := roundTrips("127.0.0.1:7000", 4096, 2000)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("4 KB TCP round trip through the Go echo TA: %v", d)
}

// roundTrips times n echoes of size bytes on one connection and returns
// the mean.
func roundTrips(addr string, size, n int) (time.Duration, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	msg, got := echotest.Payload(size), make([]byte, size)
	start := time.Now()
	for range n {
		if _, err := c.Write(msg); err != nil {
			return 0, err
		}
		if _, err := io.ReadFull(c, got); err != nil {
			return 0, err
		}
	}
	return time.Since(start) / time.Duration(n), nil
}

// TestBuildHostDirs: build-host.sh takes the TA's directory or the OP-TEE
// example directory holding it in ta/ (the README's command), and refuses a
// directory with neither, saying what TA_DIR must be.
func TestBuildHostDirs(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed: cannot build C TAs")
	}
	for _, tc := range []struct {
		name, dir string
		ok        bool
	}{
		{"example directory", filepath.Join("..", "c", "examples", "echo"), true},
		{"no TA here", filepath.Join("..", "c", "examples"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "ta")
			b, err := exec.Command("sh", filepath.Join("..", "c", "build-host.sh"), tc.dir, out).CombinedOutput()
			if tc.ok {
				if err != nil {
					t.Fatalf("build %s: %v\n%s", tc.dir, err, b)
				}
				info, err := Describe(out, echoUUID)
				if err != nil || info.UUID != echoUUID {
					t.Errorf("built TA: %+v, %v; want UUID %v", info, err, echoUUID)
				}
				return
			}
			if err == nil || !bytes.Contains(b, []byte("user_ta_header_defines.h")) {
				t.Errorf("build %s: %v, want a refusal naming user_ta_header_defines.h\n%s", tc.dir, err, b)
			}
		})
	}
}

// FuzzCheck: whatever bytes a native TA file holds, Check answers
// without panicking, and accepts only an ELF executable of this machine.
func FuzzCheck(f *testing.F) {
	here := sandbox.ELFMachine
	f.Add(elfHeader(elf.ET_EXEC, here))
	f.Add(elfHeader(elf.ET_DYN, here))
	f.Add(elfHeader(elf.ET_REL, here))
	f.Add([]byte("#!/bin/sh\n"))
	path := filepath.Join(f.TempDir(), "ta")
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := os.WriteFile(path, b, 0o755); err != nil {
			t.Fatal(err)
		}
		if Check(path) != nil {
			return
		}
		e, err := elf.NewFile(bytes.NewReader(b))
		if err != nil || e.Machine != here || (e.Type != elf.ET_EXEC && e.Type != elf.ET_DYN) {
			t.Fatalf("Check accepted %q (%v)", b, err)
		}
	})
}
