package echo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/gp"
	"github.com/tzmediator/tzbridge/internal/echotest"
	"github.com/tzmediator/tzbridge/internal/netif"
	"github.com/tzmediator/tzbridge/securesim"
	"github.com/tzmediator/tzbridge/shadow"
	"github.com/tzmediator/tzbridge/teeclient"
	"github.com/tzmediator/tzbridge/teeclient/simtee"
)

// The test runs the echo TA behind a real shadow and simulated secure world,
// in a child process with its own network namespace: ports 7000 and 7001
// are fixed, and end-to-end tests elsewhere may hold them at the same time.
const childEnv = "TZBRIDGE_ECHO_TEST_NETNS"

func TestEchoShadow(t *testing.T) {
	if os.Getenv(childEnv) == "1" {
		if err := netif.LoopbackUp(); err != nil {
			t.Fatalf("bring up lo in the test's network namespace: %v", err)
		}
		testEcho(t)
		return
	}
	if testing.Short() {
		t.Skip("starts a secure world and a shadow")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestEchoShadow$", "-test.v", "-test.timeout=3m")
	cmd.Env = append(os.Environ(), childEnv+"=1")
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

func testEcho(t *testing.T) {
	uuid := gp.MustParseUUID("0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60")
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	host, err := securesim.NewHost([]securesim.Definition{Definition(uuid)}, log)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: filepath.Join(dir, "sw.sock"), Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	swCtx, stopSW := context.WithCancel(context.Background())
	swDone := make(chan error, 1)
	go func() { swDone <- securesim.NewServer(host, log).Serve(swCtx, l) }()
	defer func() {
		stopSW()
		if err := <-swDone; err != nil {
			t.Errorf("secure world: %v", err)
		}
	}()
	b, err := simtee.Dial(swCtx, filepath.Join(dir, "sw.sock"))
	if err != nil {
		t.Fatal(err)
	}
	tc := teeclient.NewContext(b)
	defer tc.Close()

	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	sh, err := shadow.New(shadow.Config{Name: "echo", UUID: uuid, Root: root, MaxDescriptors: 64, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- sh.Run(ctx, tc) }()
	stopped := false
	stopShadow := func() error {
		stopped = true
		stop()
		select {
		case err := <-runDone:
			return err
		case <-time.After(10 * time.Second):
			return errors.New("shadow did not stop within 10s")
		}
	}
	defer func() {
		if !stopped {
			stopShadow()
		}
	}()

	sock := filepath.Join(root, "echo.sock")
	if err := waitReady(sock, runDone); err != nil {
		t.Fatal(err)
	}

	sizes := []int{1, 4096, 1 << 20}
	t.Run("streams", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for i := range 6 {
			for _, n := range sizes {
				wg.Go(func() { errs <- echotest.StreamEcho("tcp", "127.0.0.1:7000", echotest.Payload(n+i)) })
				wg.Go(func() { errs <- echotest.StreamEcho("unix", sock, echotest.Payload(n+i)) })
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
	t.Run("half-close", func(t *testing.T) {
		// The client finishes sending first: everything still comes back,
		// then EOF.
		c, err := net.Dial("tcp", "127.0.0.1:7000")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		msg := echotest.Payload(300 << 10)
		go func() {
			c.Write(msg)
			c.(*net.TCPConn).CloseWrite()
		}()
		got, err := io.ReadAll(c)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("got %d bytes (%v), want %d", len(got), err, len(msg))
		}
	})
	t.Run("udp", func(t *testing.T) {
		c, err := net.Dial("udp", "127.0.0.1:7001")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		buf := make([]byte, 70000)
		// Several in flight: each comes back whole, none merged.
		msgs := [][]byte{{}, echotest.Payload(1), echotest.Payload(1500), echotest.Payload(60000)}
		for _, m := range msgs {
			if _, err := c.Write(m); err != nil {
				t.Fatal(err)
			}
		}
		for _, m := range msgs {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := c.Read(buf)
			if err != nil || !bytes.Equal(buf[:n], m) {
				t.Fatalf("datagram of %d bytes: got %d bytes, %v", len(m), n, err)
			}
		}
	})
	t.Run("fifo", func(t *testing.T) {
		in, out := filepath.Join(root, "in"), filepath.Join(root, "out")
		// Writer sessions one after another, each with its reader
		// present: each reader gets its own session's bytes, then end
		// of file.
		for i := range 6 {
			msg := append(fmt.Appendf(nil, "session %d:", i), echotest.Payload(sizes[i%len(sizes)]+i)...)
			if err := echotest.FIFORound(in, out, msg, 30*time.Second); err != nil {
				t.Fatalf("session %d: %v", i, err)
			}
		}

		// While the writer session lasts, its bytes wait for a reader.
		w, err := os.OpenFile(in, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		msg := echotest.Payload(5000)
		if _, err := w.Write(msg); err != nil {
			t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond) // the TA finds no reader and retries
		rf := <-openAsync(out, os.O_RDONLY)
		if rf.err != nil {
			t.Fatal(rf.err)
		}
		w.Close()
		got, err := readAllWithin(rf.f, 20*time.Second)
		rf.f.Close()
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("a reader coming during the session: got %d bytes (%v), want %d then end of file", len(got), err, len(msg))
		}

		// A finished session that no reader took is dropped after
		// ReaderGrace: the next session's reader gets only its own.
		if err := os.WriteFile(in, []byte("nobody reads this\n"), 0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(ReaderGrace + 2*time.Second)
		if err := echotest.FIFORound(in, out, []byte("fresh\n"), 30*time.Second); err != nil {
			t.Fatalf("the session after one without a reader: %v", err)
		}

		// A writer that sends nothing: its readers see end of file.
		rf2 := openAsync(out, os.O_RDONLY)
		time.Sleep(50 * time.Millisecond) // the reader is waiting in open
		w, err = os.OpenFile(in, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		w.Close()
		rf = <-rf2
		if rf.err != nil {
			t.Fatal(rf.err)
		}
		got, err = readAllWithin(rf.f, 20*time.Second)
		rf.f.Close()
		if err != nil || len(got) != 0 {
			t.Fatalf("an empty session: got %d bytes (%v), want end of file", len(got), err)
		}
	})
	// Nothing above broke the other transports.
	if err := echotest.StreamEcho("unix", sock, echotest.Payload(10)); err != nil {
		t.Fatal(err)
	}

	if err := stopShadow(); !errors.Is(err, context.Canceled) {
		t.Fatalf("shadow Run = %v, want it stopped by the context", err)
	}
}

// readAllWithin reads f to end of file, failing after d.
func readAllWithin(f *os.File, d time.Duration) ([]byte, error) {
	f.SetReadDeadline(time.Now().Add(d))
	return io.ReadAll(f)
}

type openResult struct {
	f   *os.File
	err error
}

// openAsync opens a FIFO end, which blocks until the other end opens. The
// channel gives the result and can be given it back, for reuse.
func openAsync(path string, flag int) chan openResult {
	ch := make(chan openResult, 1)
	go func() {
		f, err := os.OpenFile(path, flag, 0)
		ch <- openResult{f, err}
	}()
	return ch
}

// waitReady waits until all four endpoints answer.
func waitReady(sock string, runDone chan error) error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-runDone:
			return fmt.Errorf("shadow ended before the TA was ready: %v", err)
		default:
		}
		if echotest.StreamEcho("unix", sock, []byte("x")) == nil && echotest.StreamEcho("tcp", "127.0.0.1:7000", []byte("x")) == nil && udpOnce() == nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("echo TA not ready after 20s")
}

func udpOnce() error {
	c, err := net.Dial("udp", "127.0.0.1:7001")
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		return err
	}
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	b := make([]byte, 8)
	n, err := c.Read(b)
	if err != nil || string(b[:n]) != "ping" {
		return fmt.Errorf("udp: %q, %v", b[:n], err)
	}
	return nil
}
