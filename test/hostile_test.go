package test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/internal/echotest"
	"golang.org/x/sys/unix"
)

// Hostile WebAssembly TAs: each tries to get past what the bridge allows a
// TA, and fails, while the bridge and the other TAs keep serving (issue
// 15; docs/reliability.md, "Threat model"). Ports 7300/7301: the other
// end-to-end tests hold 7000-7200.

const (
	squatUUID = "5e1f0c2d-3b4a-4c6d-8e9f-0a1b2c3d4e01"
	floodUUID = "5e1f0c2d-3b4a-4c6d-8e9f-0a1b2c3d4e02"
	squatTCP  = "127.0.0.1:7300"
	squatUDP  = "127.0.0.1:7301"
)

// reuseListenConfig sets SO_REUSEADDR and SO_REUSEPORT on a host
// service's socket: the most a service can do to invite others into its
// port, so the most a TA could exploit.
var reuseListenConfig = net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		for _, o := range []int{unix.SO_REUSEADDR, unix.SO_REUSEPORT} {
			if serr == nil {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o, 1)
			}
		}
	})
	if err != nil {
		return err
	}
	return serr
}}

// squattedService serves "host" on squatTCP and squatUDP in the test's
// namespace (the bridge's host namespace) until the test ends.
func squattedService(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	l, err := reuseListenConfig.Listen(ctx, "tcp", squatTCP)
	if err != nil {
		t.Fatal(err)
	}
	greet(t, l, "host\n")
	pc, err := reuseListenConfig.ListenPacket(ctx, "udp", squatUDP)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo([]byte("host\n"), from)
		}
	}()
}

// whoAnswers asks n clients of network at addr who they reached, each on
// a connection or socket of its own, and counts the answers.
func whoAnswers(t *testing.T, network, addr string, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for range n {
		c, err := net.DialTimeout(network, addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if network == "udp" {
			c.Write([]byte("who?"))
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil {
			got["error: "+err.Error()]++
			continue
		}
		got[strings.TrimSpace(line)]++
	}
	return got
}

// TestHostileWasmReusePort: a TA that sets SO_REUSEADDR and SO_REUSEPORT
// and binds the addresses of a host service that set both too (TCP and
// UDP, the service running as root like the supervisor) gets EADDRINUSE,
// with its addresses published by the supervisor and with the shadow in
// the host's namespace itself; every client reaches the service, and the
// other TA serves on.
func TestHostileWasmReusePort(t *testing.T) {
	dir := wasmModules(t)
	tests := []struct{ name, extra string }{
		{"published", ""},
		{"host namespace", "    netns: false\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			squattedService(t)
			cfg := echoConfig("%[1]s") + fmt.Sprintf("  - name: squat\n    uuid: %s\n    wasm: %s\n", squatUUID, filepath.Join(dir, "squat.wasm")) + tt.extra
			b := startBridge(t, cfg, echoReady)
			if !b.waitLog("squat: done", 30*time.Second) {
				t.Fatal("the squatting TA did not finish its attempts")
			}
			log := b.log.String()
			for _, want := range []string{"squat: tcp bind: EADDRINUSE", "squat: udp bind: EADDRINUSE"} {
				if !strings.Contains(log, want) {
					t.Errorf("log lacks %q", want)
				}
			}
			if strings.Contains(log, "squat: setsockopt") || strings.Contains(log, "squat: getsockopt") {
				t.Errorf("the TA's options were refused or read back wrong, where they are kept from the host socket")
			}
			for _, network := range []string{"tcp", "udp"} {
				addr := map[string]string{"tcp": squatTCP, "udp": squatUDP}[network]
				if got := whoAnswers(t, network, addr, 20); got["host"] != 20 {
					t.Errorf("%s clients of the host service reached: %v, want host 20 times", network, got)
				}
			}
			if err := echotest.StreamEcho("tcp", "127.0.0.1:7000", []byte("still here\n")); err != nil {
				t.Errorf("the echo TA beside it: %v", err)
			}
		})
	}
}

// TestHostileWasmNodeFlood: a TA that makes FIFOs in its tree until it is
// refused stops at its limits.nodes (the default, 4096, and a configured
// one that counts a declared endpoint) with EDQUOT, for a directory too;
// a removal makes room for one node; the bridge's tree and the other TA
// keep serving. The supervisor's CPU time and memory at the stop are
// logged (go test -v -run TestHostileWasmNodeFlood ./test/).
func TestHostileWasmNodeFlood(t *testing.T) {
	dir := wasmModules(t)
	tests := []struct {
		name    string
		extra   string
		flood   int // FIFOs the TA makes before the refusal
		entries int // in the TA's directory at the end, .tz left out
	}{
		{"default limit", "", 4096, 4096},
		// sub and sub/in are 2 of the 50.
		{"configured limit", "    limits: {nodes: 50}\n    endpoints:\n      - {name: sub/in, kind: fifo}\n", 48, 49},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := echoConfig("%[1]s") + fmt.Sprintf("  - name: flood\n    uuid: %s\n    wasm: %s\n", floodUUID, filepath.Join(dir, "nodeflood.wasm")) + tt.extra
			b := startBridge(t, cfg, echoReady)
			if !b.waitLog("nodeflood: done", 5*time.Minute) {
				t.Fatal("the flooding TA did not finish")
			}
			cpu, rss := procUsage(t, b.cmd.Process.Pid)
			t.Logf("supervisor after a flood of %d nodes: %v CPU time, %d KiB resident", tt.flood, cpu, rss)
			log := b.log.String()
			for _, want := range []string{
				fmt.Sprintf("nodeflood: stopped after %d: EDQUOT", tt.flood),
				"nodeflood: mkdir: EDQUOT",
				"nodeflood: after a remove: ok, EDQUOT",
			} {
				if !strings.Contains(log, want) {
					t.Errorf("log lacks %q", want)
				}
			}
			entries, err := os.ReadDir(b.path("flood"))
			if err != nil {
				t.Fatal(err)
			}
			if n := len(entries) - 1; n != tt.entries {
				t.Errorf("%d entries in the TA's directory besides .tz, want %d", n, tt.entries)
			}
			if _, err := os.ReadFile(b.path("flood", ".tz", "status")); err != nil {
				t.Errorf("the flooded TA's status: %v", err)
			}
			if err := echotest.StreamEcho("tcp", "127.0.0.1:7000", []byte("still here\n")); err != nil {
				t.Errorf("the echo TA beside it: %v", err)
			}
			if err := unix.Mkfifo(b.path("echo", "x"), 0o600); err != unix.EPERM {
				// Only the echo TA's shadow may make nodes there; what
				// matters is that the tree answers at all.
				t.Errorf("mkfifo in the echo TA's directory from outside: %v, want EPERM", err)
			}
		})
	}
}

// procUsage is process pid's CPU time (user and system) and resident
// memory in KiB.
func procUsage(t *testing.T, pid int) (time.Duration, int) {
	t.Helper()
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command name, which is in parentheses.
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const hz = 100 // USER_HZ
	cpu := time.Duration(utime+stime) * time.Second / hz
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	rss := 0
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rss, _ = strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		}
	}
	return cpu, rss
}

// secureWorldSocket finds the simulator's socket in a bridge's log.
var secureWorldSocket = regexp.MustCompile(`msg="secure world started".* socket=(\S+)`)

// TestRuntimeDirClosed: the simulated secure world's socket, through
// which anyone could open sessions to the TAs without a shadow, lies in a
// directory only root may enter; shadows reach it through a descriptor
// they inherit.
func TestRuntimeDirClosed(t *testing.T) {
	b := startBridge(t, echoConfig("%[1]s"), echoReady)
	m := secureWorldSocket.FindStringSubmatch(b.log.String())
	if m == nil {
		t.Fatal("no secure world socket in the log")
	}
	fi, err := os.Stat(filepath.Dir(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o700 || st.Uid != 0 {
		t.Errorf("runtime directory %s: mode %v, owner %d; want 0700 and root", filepath.Dir(m[1]), fi.Mode().Perm(), st.Uid)
	}
}
