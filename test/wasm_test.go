package test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/internal/echotest"
	"golang.org/x/sys/unix"
)

// WebAssembly TAs end to end: Go programs built with GOOS=wasip1 run as
// TAs from .wasm files under `tzbridge run`, and unmodified CAs talk to
// them as to the built-in echo TA. Ports 7100/7101: the built-in echo
// tests hold 7000/7001.

const (
	wasmEchoUUID = "7a3e0c1d-2b4f-4e6a-8c9d-0e1f2a3b4c5d"
	wasmUDPUUID  = "7a3e0c1d-2b4f-4e6a-8c9d-0e1f2a3b4c5e"
	wasmTrapUUID = "7a3e0c1d-2b4f-4e6a-8c9d-0e1f2a3b4c5f"
	wasmSpinUUID = "7a3e0c1d-2b4f-4e6a-8c9d-0e1f2a3b4c60"
	wasmTCP      = "127.0.0.1:7100"
	wasmUDP      = "127.0.0.1:7101"
)

// wasmBuild builds the wasm programs once per test run, next to the
// tzbridge binary (TestMain removes that directory).
var wasmBuild struct {
	once sync.Once
	dir  string
	err  error
}

// wasmModules returns the directory holding echo.wasm, udpecho.wasm,
// trap.wasm, spin.wasm, fifoblock.wasm and the hostile squat.wasm and
// nodeflood.wasm, failing the test if the local toolchain cannot
// build for wasip1 (Go builds for it everywhere: a failure is a broken
// toolchain or a broken TA, never a reason to skip). It also points the bridge's compilation cache into
// that directory, so that each module is compiled once per run.
func wasmModules(t *testing.T) string {
	t.Helper()
	wasmBuild.once.Do(func() {
		dir := filepath.Join(filepath.Dir(tzbridgeBin()), "wasm")
		pkgs := map[string]string{
			"echo":      "../ta/wasm/examples/echo",
			"udpecho":   "../ta/wasm/examples/udpecho",
			"trap":      "../ta/wasm/testdata/trap",
			"spin":      "../ta/wasm/testdata/spin",
			"fifoblock": "../ta/wasm/testdata/fifoblock",
			"squat":     "../ta/wasm/testdata/squat",
			"nodeflood": "../ta/wasm/testdata/nodeflood",
		}
		for name, pkg := range pkgs {
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name+".wasm"), pkg)
			cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
			if out, err := cmd.CombinedOutput(); err != nil {
				wasmBuild.err = fmt.Errorf("GOOS=wasip1 go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
		wasmBuild.dir = dir
	})
	if wasmBuild.err != nil {
		t.Fatalf("cannot build the wasm TAs: %v", wasmBuild.err)
	}
	t.Setenv("XDG_CACHE_HOME", filepath.Join(wasmBuild.dir, "cache"))
	return wasmBuild.dir
}

// wasmEchoConfig runs the wasm echo (FIFOs, TCP and a UNIX socket) and the
// UDP echo, plus extra TAs.
func wasmEchoConfig(dir string, extra ...string) string {
	return fmt.Sprintf(`mount: %%[1]s
tee: sim
tas:
  - name: wecho
    uuid: %s
    wasm: %s
    listen: [tcp://%s, unix:/echo.sock]
    endpoints:
      - {name: in, kind: fifo, mode: "0666"}
      - {name: out, kind: fifo, mode: "0666"}
  - name: wudp
    uuid: %s
    wasm: %s
`, wasmEchoUUID, filepath.Join(dir, "echo.wasm"), wasmTCP, wasmUDPUUID, filepath.Join(dir, "udpecho.wasm")) + strings.Join(extra, "")
}

func wasmTA(name, uuid, file, restart string) string {
	return fmt.Sprintf("  - name: %s\n    uuid: %s\n    wasm: %s\n    restart: %s\n", name, uuid, file, restart)
}

// wasmEchoReady: every endpoint answers, the UDP echo included.
func wasmEchoReady(mount string) bool {
	for _, p := range []string{"wecho/in", "wecho/out", "wecho/echo.sock"} {
		if _, err := os.Stat(filepath.Join(mount, p)); err != nil {
			return false
		}
	}
	c, err := net.DialTimeout("tcp", wasmTCP, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	u, err := net.Dial("udp", wasmUDP)
	if err != nil {
		return false
	}
	defer u.Close()
	u.Write([]byte("ready?"))
	u.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	_, err = u.Read(make([]byte, 16))
	return err == nil
}

// TestWasmEchoFIFO: a shell CA writes into /tz/wecho/in and reads the
// echo from /tz/wecho/out, byte-exact, as with the built-in echo.
func TestWasmEchoFIFO(t *testing.T) {
	dir := wasmModules(t)
	b := startBridge(t, wasmEchoConfig(dir), wasmEchoReady)
	shellFIFOEcho(t, b, "wecho")
	// The TA's stdout reached the bridge's log, tagged with its name.
	if log := b.log.String(); !strings.Contains(log, "serving 2 listeners") || !strings.Contains(log, "ta=wecho") {
		t.Errorf("the TA's output is not in the log")
	}
}

// TestWasmEchoGoClients: several Go CAs at once, over TCP, the UNIX socket
// and UDP, 1 B to 1 MiB.
func TestWasmEchoGoClients(t *testing.T) {
	dir := wasmModules(t)
	b := startBridge(t, wasmEchoConfig(dir), wasmEchoReady)
	const clients = 8
	var wg sync.WaitGroup
	errs := make(chan error, 3*clients*len(echoSizes))
	for i := range clients {
		for _, sz := range echoSizes {
			wg.Go(func() { errs <- echotest.StreamEcho("tcp", wasmTCP, echotest.Payload(sz.n+i)) })
			wg.Go(func() { errs <- echotest.StreamEcho("unix", b.path("wecho", "echo.sock"), echotest.Payload(sz.n+i)) })
			if sz.n < 65000 {
				wg.Go(func() { errs <- echotest.UDPEcho(wasmUDP, echotest.Payload(sz.n+i)) })
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

// TestWasmEchoSocat: socat as the CA, over TCP and UDP.
func TestWasmEchoSocat(t *testing.T) {
	needTool(t, "socat")
	dir := wasmModules(t)
	startBridge(t, wasmEchoConfig(dir), wasmEchoReady)
	for _, sz := range echoSizes {
		t.Run("tcp/"+sz.name, func(t *testing.T) {
			want := echotest.Payload(sz.n)
			got := run(t, want, "socat", "-t", "10", "-", "TCP:"+wasmTCP)
			if !bytes.Equal(got, want) {
				t.Fatalf("got %d bytes, want %d (first difference at %d)", len(got), len(want), echotest.FirstDiff(got, want))
			}
		})
	}
	for _, n := range []int{1, 4096, 60000} {
		t.Run(fmt.Sprintf("udp/%d", n), func(t *testing.T) {
			want := echotest.Payload(n)
			got := run(t, want, "socat", "-t", "5", "-T", "1", "-b", "65536", "-", "UDP:"+wasmUDP)
			if !bytes.Equal(got, want) {
				t.Fatalf("got %d bytes, want %d", len(got), len(want))
			}
		})
	}
}

// TestWasmContainment: a TA whose module traps is declared dead
// (TEE_ERROR_TARGET_DEAD) and restarted by its policy, and one whose module
// spins for ever blocks no other TA (it has a thread of its own in the
// simulator: TestSpinningNeighbour); meanwhile the wasm
// echo TA keeps serving its CAs, and SIGTERM still stops everything
// without killing a process that would not stop.
func TestWasmContainment(t *testing.T) {
	dir := wasmModules(t)
	cfg := wasmEchoConfig(dir,
		wasmTA("trap", wasmTrapUUID, filepath.Join(dir, "trap.wasm"), "always"),
		wasmTA("spin", wasmSpinUUID, filepath.Join(dir, "spin.wasm"), "on-failure"))
	b := startBridge(t, cfg, wasmEchoReady)

	// The trapping TA dies and is restarted, over and over.
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, _ := os.ReadFile(b.path("trap", ".tz", "status"))
		if strings.Contains(string(st), "TARGET_DEAD") && !strings.Contains(string(st), "restarts: 0\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("trap TA not reported dead and restarted; status:\n%s", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{"trap: about to trap", "spin: spinning", "out of bounds memory access"} {
		if !b.waitLog(want, 10*time.Second) {
			t.Errorf("log lacks %q", want)
		}
	}
	// The spinning TA is still running, not restarted.
	if st, _ := os.ReadFile(b.path("spin", ".tz", "status")); !strings.Contains(string(st), "state: running") {
		t.Errorf("spin TA status:\n%s", st)
	}

	// Through all this the echo TA serves several CAs at once.
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for i := range 4 {
		wg.Go(func() { errs <- echotest.StreamEcho("tcp", wasmTCP, echotest.Payload(4096+i)) })
		wg.Go(func() { errs <- echotest.StreamEcho("tcp", wasmTCP, echotest.Payload(1<<20+i)) })
		wg.Go(func() { errs <- echotest.UDPEcho(wasmUDP, echotest.Payload(1000+i)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}

	took := b.stop()
	t.Logf("tzbridge exited %v after SIGTERM", took)
	checkStoppedInGrace(t, b)
	if b.err != nil {
		t.Errorf("tzbridge exit: %v", b.err)
	}
}

// TestWasmEchoVersusBuiltin measures the 4 KB round trip through the wasm
// echo TA and through the built-in one, in the same bridge and run, over
// TCP and over their UNIX sockets, and logs the ratios (it asserts no
// times). The bridge runs in a network namespace of its own, so that the
// built-in echo's port 7000 clashes with nothing.
func TestWasmEchoVersusBuiltin(t *testing.T) {
	if testing.Short() {
		t.Skip("a measurement: not in -short")
	}
	dir := wasmModules(t)
	// This goroutine's thread enters a new network namespace and keeps it:
	// the bridge forked from it, and the sockets dialled from it, live
	// there. The thread is never unlocked, so it ends with the test.
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		t.Skipf("no network namespace: %v", err)
	}
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Skipf("ip link set lo up: %v\n%s", err, out)
	}
	cfg := wasmEchoConfig(dir) + fmt.Sprintf("  - name: echo\n    uuid: %s\n    builtin: echo\n", echoUUID)
	b := startBridge(t, cfg, func(m string) bool { return wasmEchoReady(m) && echoReady(m) })
	msg := echotest.Payload(4096)
	// roundTrips times n round trips on c and returns the time per trip.
	roundTrips := func(c net.Conn, n int) time.Duration {
		got := make([]byte, len(msg))
		start := time.Now()
		for range n {
			if _, err := c.Write(msg); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(c, got); err != nil {
				t.Fatal(err)
			}
		}
		d := time.Since(start) / time.Duration(n)
		if !bytes.Equal(got, msg) {
			t.Fatal("echo differs")
		}
		return d
	}
	// median of rounds that alternate between the two TAs, so that both
	// see the same machine load.
	compare := func(network, builtinAddr, wasmAddr string) (builtin, wasm time.Duration) {
		var cs [2]net.Conn
		for i, a := range []string{builtinAddr, wasmAddr} {
			c, err := net.Dial(network, a) // here, in the namespace
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			cs[i] = c
			roundTrips(c, 200) // warm up
		}
		var bs, ws []time.Duration
		for range 5 {
			bs = append(bs, roundTrips(cs[0], 400))
			ws = append(ws, roundTrips(cs[1], 400))
		}
		slices.Sort(bs)
		slices.Sort(ws)
		return bs[len(bs)/2], ws[len(ws)/2]
	}
	for _, tr := range []struct{ name, network, builtin, wasm string }{
		{"TCP", "tcp", "127.0.0.1:7000", wasmTCP},
		{"UNIX", "unix", b.path("echo", "echo.sock"), b.path("wecho", "echo.sock")},
	} {
		builtin, wasm := compare(tr.network, tr.builtin, tr.wasm)
		t.Logf("4 KB %s round trip: built-in echo %v, wasm echo %v: wasm/built-in = %.2f",
			tr.name, builtin, wasm, float64(wasm)/float64(builtin))
	}
}

// TestWasmBlockedOpenLogged: a Go TA whose goroutine opens a FIFO
// read-only blocks the whole module (WASI preview 1 has one thread), so
// its other goroutine cannot answer on its socket. The log names the
// blocked call, the path and the remedy while it lasts; once a CA opens
// the FIFO for writing, the open returns and the socket answers.
func TestWasmBlockedOpenLogged(t *testing.T) {
	dir := wasmModules(t)
	const addr = "127.0.0.1:7102"
	cfg := fmt.Sprintf(`mount: %%[1]s
tee: sim
tas:
  - name: wblock
    uuid: 7a3e0c1d-2b4f-4e6a-8c9d-0e1f2a3b4c61
    wasm: %s
    listen: [tcp://%s]
    endpoints:
      - {name: in, kind: fifo, mode: "0666"}
`, filepath.Join(dir, "fifoblock.wasm"), addr)
	b := startBridge(t, cfg, func(mount string) bool {
		_, err := os.Stat(filepath.Join(mount, "wblock", "in"))
		return err == nil
	})
	want := []string{"wasm TA blocked in a host call", "ta=wblock", "call=path_open", "target=/in", "remedy=", "O_RDWR"}
	deadline := time.Now().Add(2 * time.Minute) // compilation under load, then the 2 s
	for {
		var line string
		for l := range strings.Lines(b.log.String()) {
			if strings.Contains(l, want[0]) {
				line = l
			}
		}
		if line != "" {
			for _, w := range want[1:] {
				if !strings.Contains(line, w) {
					t.Errorf("log line lacks %q: %s", w, line)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line about the blocked open:\n%s", b.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A writer releases the open; the whole module runs again.
	w, err := os.OpenFile(filepath.Join(b.mount, "wblock", "in"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "hello" {
		t.Fatalf("echo after the open returned: %q, %v", got, err)
	}
	if n := strings.Count(b.log.String(), "wasm TA blocked in a host call"); n != 1 {
		t.Errorf("%d log lines about the blocked call, want one", n)
	}
}

// TestWasmReadyMeansListening: "ready" (the log line, READY=1) comes only
// once the wasm TAs serve their listen sockets, so a CA that starts then
// connects at the first try, even when the modules compile cold.
func TestWasmReadyMeansListening(t *testing.T) {
	dir := wasmModules(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // a cold compilation
	mount := filepath.Join(t.TempDir(), "tz")
	cfgPath := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(strings.ReplaceAll(wasmEchoConfig(dir), "%[1]s", mount)), 0o644); err != nil {
		t.Fatal(err)
	}
	b := launchBridge(t, mount, cfgPath, nil)
	deadline := time.Now().Add(3 * time.Minute) // two cold compilations on a loaded machine
	for !strings.Contains(b.log.String(), "ready: every TA's endpoints and listen sockets exist") {
		select {
		case <-b.done:
			t.Fatalf("tzbridge exited before it was ready: %v", b.err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("no ready line")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, dial := range []struct{ network, addr string }{
		{"tcp", wasmTCP},
		{"unix", filepath.Join(mount, "wecho", "echo.sock")},
	} {
		c, err := net.Dial(dial.network, dial.addr)
		if err != nil {
			t.Errorf("right after ready: %v", err)
			continue
		}
		c.Close()
	}
}
