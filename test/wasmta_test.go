package test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/internal/echotest"
)

// The C echo program compiled to WebAssembly (ta/wasm2ta/examples/echo),
// translated by ta/wasm2ta into the C a device's TA is built from, and
// built from that C for the host: a native TA that `tzbridge run` drives
// on all four transports with unmodified CAs. TCP 7400 and UDP 7401 (the
// other echo tests hold 7000-7301).

const (
	wasmTAUUID = "5e1f0c2a-3b4d-4e6f-8a9b-0c1d2e3f4a5b"
	wasmTATCP  = "127.0.0.1:7400"
	wasmTAUDP  = "127.0.0.1:7401"
)

var wasmTABuild struct {
	once sync.Once
	bin  string
	err  error
}

// translatedTA builds the example once per run, next to the tzbridge binary.
// A missing tool (clang with wasi-libc, wasm2c, gcc) fails the test:
// .ci/run installs them.
func translatedTA(t *testing.T) string {
	t.Helper()
	wasmTABuild.once.Do(func() {
		dir := filepath.Join(filepath.Dir(tzbridgeBin()), "wasm-ta")
		wasmTABuild.bin, wasmTABuild.err = buildWasmTA(dir)
	})
	if wasmTABuild.err != nil {
		t.Fatalf("building the wasm echo TA: %v", wasmTABuild.err)
	}
	return wasmTABuild.bin
}

func buildWasmTA(dir string) (string, error) {
	for _, tool := range []string{"clang", "wasm2c", "gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", fmt.Errorf("%s not installed (Debian packages clang lld wasi-libc libclang-rt-14-dev-wasm32 wabt gcc; .ci/run installs them): %w", tool, err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	wasm, tool, bin := filepath.Join(dir, "echo.wasm"), filepath.Join(dir, "wasm2ta"), filepath.Join(dir, "wecho-ta")
	steps := [][]string{
		{"clang", "--target=wasm32-wasi", "-O2", "-Wall", "-Wextra", "-Werror", "-I../ta/c/wasi/guest",
			"-DECHO_TCP_PORT=7400", "-DECHO_UDP_PORT=7401", "-o", wasm, "../ta/wasm2ta/examples/echo/echo.c"},
		{"go", "build", "-o", tool, "../ta/wasm2ta"},
		{tool, "-uuid", wasmTAUUID, "-name", "wecho", "-tzposix", "../ta/c", "-o", filepath.Join(dir, "src"), "-native", bin, wasm},
	}
	for _, s := range steps {
		if out, err := exec.Command(s[0], s[1:]...).CombinedOutput(); err != nil {
			return "", fmt.Errorf("%v: %v\n%s", s, err, out)
		}
	}
	return bin, nil
}

func wasmTAConfig(bin string) string {
	return fmt.Sprintf(`mount: %%[1]s
tee: sim
tas:
  - name: wecho
    uuid: %s
    native: %s
`, wasmTAUUID, bin)
}

func wasmTAReady(mount string) bool {
	if !demoReady(mount, "wecho", wasmTATCP, 7401) {
		return false
	}
	// The socket node appears at bind, before listen, and echo.c sets
	// up UNIX last: connect to it.
	c, err := net.DialTimeout("unix", filepath.Join(mount, "wecho/echo.sock"), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// TestWasmTAEcho: the translated module serves the echo on the four
// transports, each with every size of echoSizes, byte-exact.
func TestWasmTAEcho(t *testing.T) {
	b := startBridge(t, wasmTAConfig(translatedTA(t)), wasmTAReady)
	for _, sz := range echoSizes {
		msg := echotest.Payload(sz.n)
		t.Run("tcp/"+sz.name, func(t *testing.T) {
			if err := echotest.StreamEcho("tcp", wasmTATCP, msg); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("unix/"+sz.name, func(t *testing.T) {
			if err := echotest.StreamEcho("unix", b.path("wecho", "echo.sock"), msg); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("fifo/"+sz.name, func(t *testing.T) {
			if err := cFIFOEcho(b.path("wecho", "in"), b.path("wecho", "out"), msg); err != nil {
				t.Fatal(err)
			}
		})
		if sz.n <= 4096 { // a datagram
			t.Run("udp/"+sz.name, func(t *testing.T) {
				if err := echotest.UDPEcho(wasmTAUDP, msg); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestWasmTAEchoConcurrent: several stream CAs at once, TCP and UNIX.
func TestWasmTAEchoConcurrent(t *testing.T) {
	b := startBridge(t, wasmTAConfig(translatedTA(t)), wasmTAReady)
	const clients = 6
	var wg sync.WaitGroup
	errs := make(chan error, 2*clients)
	for i := range clients {
		wg.Go(func() { errs <- echotest.StreamEcho("tcp", wasmTATCP, echotest.Payload(65536+i)) })
		wg.Go(func() { errs <- echotest.StreamEcho("unix", b.path("wecho", "echo.sock"), echotest.Payload(65536+i)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
