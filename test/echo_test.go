package test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/internal/echotest"
)

var echoSizes = []struct {
	name string
	n    int
}{{"1B", 1}, {"4KB", 4096}, {"1MiB", 1 << 20}}

// TestEchoFIFOShell: a shell CA writes into /tz/echo/in and cat reads the
// echo from /tz/echo/out.
func TestEchoFIFOShell(t *testing.T) {
	b := startBridge(t, echoConfig("%[1]s"), echoReady)
	shellFIFOEcho(t, b, "echo")
}

// shellFIFOEcho has a shell CA write each of echoSizes into /tz/<ta>/in
// and read the echo from /tz/<ta>/out, byte-exact.
func shellFIFOEcho(t *testing.T, b *bridge, ta string) {
	t.Helper()
	for _, sz := range echoSizes {
		t.Run(sz.name, func(t *testing.T) {
			dir := t.TempDir()
			src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
			want := echotest.Payload(sz.n)
			if err := os.WriteFile(src, want, 0o644); err != nil {
				t.Fatal(err)
			}
			// head -c stops after exactly n bytes, so the reader ends on its own.
			script := fmt.Sprintf(`head -c %d < %q > %q & reader=$!; cat %q > %q; wait $reader`,
				sz.n, b.path(ta, "out"), dst, src, b.path(ta, "in"))
			run(t, nil, "timeout", "30", "sh", "-c", script)
			got, err := os.ReadFile(dst)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("echo over FIFOs: got %d bytes, want %d (first difference at %d)", len(got), len(want), echotest.FirstDiff(got, want))
			}
		})
	}
}

// TestEchoFIFOSessions: the demo FIFO's semantics (README, "The demo
// FIFO"): 40 CAs one after another each open /tz/echo/out, write a
// tagged message into /tz/echo/in, and read /out to end of file: each gets
// exactly its own message. Then the README's line: cat prints hello and
// ends.
func TestEchoFIFOSessions(t *testing.T) {
	b := startBridge(t, echoConfig("%[1]s"), echoReady)
	fifoSessions(t, b, "echo")
}

// fifoSessions checks a demo FIFO pair /tz/<ta>/in → out: back-to-back
// writer sessions each reach only their own reader, which sees end of
// file after them; and `cat out & echo hello > in` prints hello and ends.
func fifoSessions(t *testing.T, b *bridge, ta string) {
	t.Helper()
	in, out := b.path(ta, "in"), b.path(ta, "out")
	wrong := 0
	for i := range 40 {
		n := []int{0, 100, 4096, 70000}[i%4]
		msg := append(fmt.Appendf(nil, "round %02d ", i), echotest.Payload(n+i)...)
		if err := echotest.FIFORound(in, out, msg, 30*time.Second); err != nil {
			t.Errorf("round %d: %v", i, err)
			wrong++
		}
	}
	if wrong > 0 {
		t.Fatalf("%d of 40 FIFO rounds wrong", wrong)
	}
	script := fmt.Sprintf(`cat %q & echo hello > %q; wait`, out, in)
	if got := run(t, nil, "timeout", "20", "sh", "-c", script); string(got) != "hello\n" {
		t.Fatalf("cat out & echo hello > in: printed %q, want %q", got, "hello\n")
	}
}

// TestEchoSocat drives the UNIX and TCP endpoints with socat, and UDP with
// datagrams, as an unmodified CA would.
func TestEchoSocat(t *testing.T) {
	needTool(t, "socat")
	b := startBridge(t, echoConfig("%[1]s"), echoReady)
	streams := map[string]string{
		"unix": "UNIX-CONNECT:" + b.path("echo", "echo.sock"),
		"tcp":  "TCP:127.0.0.1:7000",
	}
	for proto, addr := range streams {
		for _, sz := range echoSizes {
			t.Run(proto+"/"+sz.name, func(t *testing.T) {
				want := echotest.Payload(sz.n)
				// -t: after our side is done, wait for the echo to drain.
				got := run(t, want, "socat", "-t", "10", "-", addr)
				if !bytes.Equal(got, want) {
					t.Fatalf("got %d bytes, want %d (first difference at %d)", len(got), len(want), echotest.FirstDiff(got, want))
				}
			})
		}
	}
	for _, n := range []int{1, 4096, 60000} {
		t.Run("udp/"+strconv.Itoa(n), func(t *testing.T) {
			want := echotest.Payload(n)
			got := run(t, want, "socat", "-t", "5", "-T", "5", "-b", "65536", "-", "UDP:127.0.0.1:7001")
			if !bytes.Equal(got, want) {
				t.Fatalf("got %d bytes, want %d", len(got), len(want))
			}
		})
	}
}

// TestEchoGoClients: several Go CAs using only os and net talk to the echo
// TA at once over every transport.
func TestEchoGoClients(t *testing.T) {
	b := startBridge(t, echoConfig("%[1]s"), echoReady)
	const clients = 8
	var wg sync.WaitGroup
	errs := make(chan error, 3*clients*len(echoSizes))
	for i := range clients {
		for _, sz := range echoSizes {
			wg.Go(func() { errs <- echotest.StreamEcho("tcp", "127.0.0.1:7000", echotest.Payload(sz.n+i)) })
			wg.Go(func() { errs <- echotest.StreamEcho("unix", b.path("echo", "echo.sock"), echotest.Payload(sz.n+i)) })
			if sz.n < 65000 {
				wg.Go(func() { errs <- udpEcho(echotest.Payload(sz.n + i)) })
			}
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func udpEcho(msg []byte) error { return echotest.UDPEcho("127.0.0.1:7001", msg) }

// TestShutdownWhileBlocked: SIGTERM ends the bridge, with no process
// killed for want of stopping, even while the TA is blocked waiting for
// CAs that never send, and leaves no process behind.
func TestShutdownWhileBlocked(t *testing.T) {
	b := startBridge(t, echoConfig("%[1]s"), echoReady)
	idle, err := net.Dial("tcp", "127.0.0.1:7000")
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	// A CA holding the FIFO open for writing without writing anything.
	in, err := os.OpenFile(b.path("echo", "in"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	time.Sleep(100 * time.Millisecond) // let the TA settle into its blocking poll
	took := b.stop()
	t.Logf("tzbridge exited %v after SIGTERM", took)
	checkStoppedInGrace(t, b)
	if b.err != nil {
		t.Errorf("tzbridge exit: %v\n%s", b.err, b.log.String())
	}
	// The TA's sockets are closed: the idle CA sees EOF or a reset.
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); err == nil {
		t.Error("idle CA could still read after shutdown")
	}
	if out, _ := exec.Command("pgrep", "-f", tzbridgeBin()+" secure-world").Output(); len(out) > 0 {
		t.Errorf("secure world still running after shutdown: pids %s", out)
	}
}
