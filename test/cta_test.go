package test

import (
	"bytes"
	"fmt"
	"io"
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

// The C echo TA (ta/c/examples/echo/ta, libtzposix) built for the host and
// run by `tzbridge run` as a native TA, driven by the same unmodified CAs
// as the built-in echo TA: the same demo, FIFOs and a UNIX socket in its
// own directory, TCP and UDP on ports 7200 and 7201 here (its defaults
// are the built-in echo's 7000 and 7001, which those tests hold; the wasm
// ones hold 7100/7101).

const (
	cEchoUUID = "c1e0ec40-7a5e-4c2b-9d3f-0b6a2e8f4c10"
	cEchoTCP  = "127.0.0.1:7200"
	cEchoUDP  = "127.0.0.1:7201"
)

// cEchoBuild builds the C echo TA once per test run, next to the tzbridge
// binary (TestMain removes that directory).
var cEchoBuild struct {
	once sync.Once
	bin  string
	err  error
}

func cEchoTA(t *testing.T) string {
	t.Helper()
	cEchoBuild.once.Do(func() {
		bin := filepath.Join(filepath.Dir(tzbridgeBin()), "c-echo-ta")
		cmd := exec.Command("sh", "../ta/c/build-host.sh", "../ta/c/examples/echo/ta", bin, "-DECHO_TCP_PORT=7200", "-DECHO_UDP_PORT=7201")
		if out, err := cmd.CombinedOutput(); err != nil {
			cEchoBuild.err = fmt.Errorf("ta/c/build-host.sh: %v\n%s", err, out)
			return
		}
		cEchoBuild.bin = bin
	})
	// .ci/run installs gcc: a failed build is broken C, not a missing
	// toolchain, so it fails the test.
	if cEchoBuild.err != nil {
		t.Fatalf("cannot build the C echo TA (needs gcc; .ci/run installs it): %v", cEchoBuild.err)
	}
	return cEchoBuild.bin
}

func cEchoConfig(bin string) string {
	return fmt.Sprintf(`mount: %%[1]s
tee: sim
tas:
  - name: cecho
    uuid: %s
    native: %s
    endpoints:
      - {name: in, kind: fifo, mode: "0666"}
      - {name: out, kind: fifo, mode: "0666"}
      - {name: echo.sock, kind: unix, mode: "0666"}
`, cEchoUUID, bin)
}

func cEchoReady(mount string) bool { return demoReady(mount, "cecho", cEchoTCP, 7201) }

// TestCEchoFIFOShell: a shell CA writes into /tz/cecho/in and head reads
// the echo from /tz/cecho/out.
func TestCEchoFIFOShell(t *testing.T) {
	b := startBridge(t, cEchoConfig(cEchoTA(t)), cEchoReady)
	shellFIFOEcho(t, b, "cecho")
}

// TestCEchoFIFOSessions: the C TA's FIFO pair has the demo's semantics
// (see TestEchoFIFOSessions).
func TestCEchoFIFOSessions(t *testing.T) {
	b := startBridge(t, cEchoConfig(cEchoTA(t)), cEchoReady)
	fifoSessions(t, b, "cecho")
}

// TestCEchoSocat drives the UNIX and TCP endpoints with socat, and UDP
// with datagrams, as for the built-in echo TA.
func TestCEchoSocat(t *testing.T) {
	needTool(t, "socat")
	b := startBridge(t, cEchoConfig(cEchoTA(t)), cEchoReady)
	streams := map[string]string{
		"unix": "UNIX-CONNECT:" + b.path("cecho", "echo.sock"),
		"tcp":  "TCP:" + cEchoTCP,
	}
	socatStreams(t, streams)
	for _, n := range []int{0, 1, 1500, 4096, 60000} {
		t.Run("udp/"+strconv.Itoa(n), func(t *testing.T) {
			if err := echotest.UDPEcho(cEchoUDP, echotest.Payload(n)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCEchoGoClients: several Go CAs using only os and net talk to the C
// TA at once, over TCP and, one after another, over the FIFOs.
func TestCEchoGoClients(t *testing.T) {
	b := startBridge(t, cEchoConfig(cEchoTA(t)), cEchoReady)
	const clients = 8
	var wg sync.WaitGroup
	errs := make(chan error, clients*len(echoSizes))
	for i := range clients {
		for _, sz := range echoSizes {
			wg.Go(func() { errs <- echotest.StreamEcho("tcp", cEchoTCP, echotest.Payload(sz.n+i)) })
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	// FIFO CAs take turns: a FIFO pair carries one conversation at a time.
	for i := range 3 {
		msg := echotest.Payload(4096 + i)
		if err := echotest.FIFORound(b.path("cecho", "in"), b.path("cecho", "out"), msg, 30*time.Second); err != nil {
			t.Errorf("FIFO CA %d: %v", i, err)
		}
	}
}

// cFIFOEcho writes msg into in and reads it back from out, as two CAs
// would, with a deadline.
func cFIFOEcho(in, out string, msg []byte) error {
	res := make(chan error, 2)
	go func() {
		f, err := os.OpenFile(out, os.O_RDONLY, 0)
		if err != nil {
			res <- err
			return
		}
		defer f.Close()
		got := make([]byte, len(msg))
		n := 0
		for n < len(got) {
			m, err := f.Read(got[n:])
			if err != nil {
				res <- fmt.Errorf("read %d of %d bytes: %w", n, len(got), err)
				return
			}
			n += m
		}
		if !bytes.Equal(got, msg) {
			res <- fmt.Errorf("echo differs at %d", echotest.FirstDiff(got, msg))
			return
		}
		res <- nil
	}()
	go func() {
		f, err := os.OpenFile(in, os.O_WRONLY, 0)
		if err != nil {
			res <- err
			return
		}
		_, err = f.Write(msg)
		f.Close()
		res <- err
	}()
	timeout := time.After(30 * time.Second)
	for range 2 {
		select {
		case err := <-res:
			if err != nil {
				return err
			}
		case <-timeout:
			return fmt.Errorf("no echo of %d bytes within 30s", len(msg))
		}
	}
	return nil
}

// TestCEchoCallsPerRoundTrip: libtzposix reads ahead as the Go library
// does, so an exchange with the C echo TA costs it two calls too: a POLL
// that reads the request ahead, and the SEND or WRITE of the answer.
func TestCEchoCallsPerRoundTrip(t *testing.T) {
	cfg, url := withMetrics(t, cEchoConfig(cEchoTA(t)))
	b := startBridge(t, cfg, cEchoReady)
	t.Run("tcp", func(t *testing.T) {
		twoCallsPerExchange(t, url, "cecho", func() (io.ReadWriteCloser, error) { return net.Dial("tcp", cEchoTCP) })
	})
	t.Run("fifo", func(t *testing.T) {
		twoCallsPerExchange(t, url, "cecho", func() (io.ReadWriteCloser, error) {
			return openFIFOPair(b.path("cecho", "in"), b.path("cecho", "out"))
		})
	})
}

// fifoPair is a FIFO CA's conversation as one stream: writes go to in,
// reads come from out. The TA opens out when it has an answer, so out is
// opened in the background and the first Read waits for it.
type fifoPair struct {
	in     *os.File
	out    *os.File
	opened chan error
}

func openFIFOPair(in, out string) (*fifoPair, error) {
	p := &fifoPair{opened: make(chan error, 1)}
	go func() {
		f, err := os.OpenFile(out, os.O_RDONLY, 0)
		p.out = f
		p.opened <- err
		close(p.opened)
	}()
	w, err := os.OpenFile(in, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	p.in = w
	return p, nil
}

func (p *fifoPair) Write(b []byte) (int, error) { return p.in.Write(b) }

func (p *fifoPair) Read(b []byte) (int, error) {
	select {
	case err, ok := <-p.opened:
		if ok && err != nil {
			return 0, err
		}
	case <-time.After(10 * time.Second):
		return 0, fmt.Errorf("no writer opened the out FIFO within 10s")
	}
	return p.out.Read(b)
}

func (p *fifoPair) Close() error {
	p.in.Close()
	if p.out != nil {
		return p.out.Close()
	}
	return nil
}

// TestCEchoDiesWithBridge: the TA's process goes with the bridge, even
// after kill -9 (the secure world dies with the bridge, the TA process
// with the secure world).
func TestCEchoDiesWithBridge(t *testing.T) {
	bin := cEchoTA(t)
	b := startBridge(t, cEchoConfig(bin), cEchoReady)
	// The TA runs as "ta" in its sandbox: it is the secure world's child.
	sw := childrenOf(t, b.cmd.Process.Pid, "secure-world")
	if len(sw) != 1 {
		t.Fatalf("secure world processes: %v", sw)
	}
	tas := childrenOf(t, sw[0], "")
	if len(tas) != 1 {
		t.Fatalf("the secure world runs %v, want the C TA", tas)
	}
	if err := b.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-b.done
	// The killed bridge leaves its FUSE mount and namespace behind.
	t.Cleanup(b.removeLeftovers)
	deadline := time.Now().Add(5 * time.Second)
	for !processGone(tas[0]) {
		if time.Now().After(deadline) {
			t.Fatalf("the C TA (pid %d) outlived the killed bridge", tas[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
