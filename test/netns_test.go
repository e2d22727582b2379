package test

// Network namespaces, proxy addresses and shadow processes: each TA's
// shadow runs as a process of its own in the TA's namespace tz-<ta>; CAs in
// the host namespace reach it at its proxy addresses, CAs inside the
// namespace reach it directly, and it reaches host services only if its
// config says so. These tests use TA names and proxy ports of their own
// (necho, 27000/27001), so that they do not meet the echo demo's fixed
// 127.0.0.1:7000/7001 or namespace tz-echo of another bridge on the machine.

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/internal/echotest"
	"github.com/tzmediator/tzbridge/sockproxy"
)

const (
	nechoUUID   = "0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f61"
	nsonlyUUID  = "0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f62"
	nfaultyUUID = "5f1e2d3c-4b5a-4697-8877-665544332212"
	// The proxy addresses of necho, the echo TA in its own namespace.
	nechoTCP = "127.0.0.1:27000"
	nechoUDP = "127.0.0.1:27001"
)

// nechoTA is the echo TA named necho with proxy addresses for TCP, UDP and
// UNIX (the UNIX one at sock, a host path), plus extra YAML lines.
func nechoTA(sock string, extra string) string {
	return fmt.Sprintf(`  - name: necho
    uuid: %s
    builtin: echo
    proxies:
      - {listen: tcp://%s, to: tcp://127.0.0.1:7000}
      - {listen: udp://%s, to: udp://127.0.0.1:7001}
      - {listen: "unix:%s", to: "unix:/echo.sock"}
%s`, nechoUUID, nechoTCP, nechoUDP, sock, extra)
}

// nsonlyTA is an echo TA whose sockets are reachable only inside its
// namespace (proxies: []).
func nsonlyTA() string {
	return fmt.Sprintf("  - name: nsonly\n    uuid: %s\n    builtin: echo\n    proxies: []\n", nsonlyUUID)
}

// faultyTA is the faulty line-echo TA named name, with extra YAML lines.
func faultyTA(name, uuid, extra string) string {
	return fmt.Sprintf("  - name: %s\n    uuid: %s\n    builtin: faulty\n    restart: always\n%s", name, uuid, extra)
}

func bridgeConfig(tas ...string) string {
	return "mount: %[1]s\ntee: sim\ntas:\n" + strings.Join(tas, "")
}

// nechoReady: necho answers at its TCP proxy address and its socket node
// exists.
func nechoReady(mount string) bool {
	if _, err := os.Stat(filepath.Join(mount, "necho", "echo.sock")); err != nil {
		return false
	}
	return echotest.StreamEcho("tcp", nechoTCP, []byte("ready?")) == nil
}

// nsonlyReady: nsonly accepts TCP inside its namespace (it binds its
// UNIX socket first, TCP after).
func nsonlyReady() bool {
	return sockproxy.Do("tz-nsonly", func() error {
		c, err := net.DialTimeout("tcp", "127.0.0.1:7000", time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}) == nil
}

// netnsList is what `ip netns list` shows, names only.
func netnsList(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

func needNetns(t *testing.T) {
	t.Helper()
	needTool(t, "ip")
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
}

// lineCommand sends a line to the faulty TA at sock and returns its answer.
func lineCommand(sock, line string) (string, error) {
	c, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\n", line); err != nil {
		return "", err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSuffix(got, "\n"), err
}

// hostService is a TCP service in the host namespace that greets every
// client with a line.
func hostService(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	greet(t, l, "hello from the host\n")
	return l.Addr().String()
}

// greet writes line to every client l accepts, then hangs up, until the
// test ends and closes l.
func greet(t *testing.T, l net.Listener, line string) {
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte(line))
			c.Close()
		}
	}()
}

// TestNetnsProxiesAndIsolation runs, in one bridge: necho (own namespace,
// proxy addresses), nsonly (own namespace, no proxies), two faulty TAs in
// their own namespaces (one allowed to reach a host service) and one in
// the host namespace.
func TestNetnsProxiesAndIsolation(t *testing.T) {
	needNetns(t)
	needTool(t, "socat")
	service := hostService(t)
	sock := filepath.Join(t.TempDir(), "necho.sock")
	cfg := bridgeConfig(
		nechoTA(sock, ""),
		nsonlyTA(),
		faultyTA("nfaulty", nfaultyUUID, fmt.Sprintf("    host_access: [tcp://%s]\n", service)),
		faultyTA("nfaulty2", "5f1e2d3c-4b5a-4697-8877-665544332213", ""),
		faultyTA("hfaulty", "5f1e2d3c-4b5a-4697-8877-665544332214", "    netns: false\n"),
	)
	ready := func(mount string) bool {
		for _, ta := range []string{"nfaulty", "nfaulty2", "hfaulty"} {
			if _, err := os.Stat(filepath.Join(mount, ta, "faulty.sock")); err != nil {
				return false
			}
		}
		return nsonlyReady() && nechoReady(mount)
	}
	b := startBridge(t, cfg, ready)

	t.Run("one namespace per TA that asks", func(t *testing.T) {
		names := netnsList(t)
		for _, want := range []string{"tz-necho", "tz-nsonly", "tz-nfaulty", "tz-nfaulty2"} {
			if !slices.Contains(names, want) {
				t.Errorf("ip netns list lacks %s: %v", want, names)
			}
		}
		if slices.Contains(names, "tz-hfaulty") {
			t.Errorf("a namespace for hfaulty (netns: false): %v", names)
		}
		st, err := taStatus(b, "necho")
		if err != nil {
			t.Fatal(err)
		}
		if st["netns"] != "tz-necho" || st["pid"] == "0" || st["pid"] == "" {
			t.Errorf("status of necho: netns %q, pid %q", st["netns"], st["pid"])
		}
		if st, _ := taStatus(b, "hfaulty"); st["netns"] != "host" {
			t.Errorf("status of hfaulty: netns %q, want host", st["netns"])
		}
	})

	t.Run("host CA through the proxy addresses", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for i := range 4 {
			for _, n := range []int{1, 4096, 1 << 20} {
				wg.Go(func() { errs <- echotest.StreamEcho("tcp", nechoTCP, echotest.Payload(n+i)) })
				wg.Go(func() { errs <- echotest.StreamEcho("unix", sock, echotest.Payload(n+i)) })
			}
			// Each reply reaches the client that asked, boundaries kept.
			for _, n := range []int{1, 4096, 60000} {
				wg.Go(func() { errs <- echotest.UDPEcho(nechoUDP, echotest.Payload(n+i)) })
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		// socat, an unmodified CA, on every proxy address.
		for _, addr := range []string{"TCP:" + nechoTCP, "UNIX-CONNECT:" + sock, "UDP:" + nechoUDP} {
			want := echotest.Payload(4096)
			if got := run(t, want, "socat", "-t", "5", "-T", "5", "-b", "65536", "-", addr); !bytes.Equal(got, want) {
				t.Errorf("socat %s: %d bytes back, want %d", addr, len(got), len(want))
			}
		}
	})

	t.Run("CA inside the namespace reaches the TA directly", func(t *testing.T) {
		want := echotest.Payload(4096)
		for _, addr := range []string{"TCP:127.0.0.1:7000", "UDP:127.0.0.1:7001"} {
			got := run(t, want, "ip", "netns", "exec", "tz-nsonly", "socat", "-t", "5", "-T", "5", "-b", "65536", "-", addr)
			if !bytes.Equal(got, want) {
				t.Errorf("ip netns exec tz-nsonly socat %s: %d bytes back, want %d", addr, len(got), len(want))
			}
		}
		// A Go CA whose socket is made in the namespace.
		var c net.Conn
		err := sockproxy.Do("tz-nsonly", func() (err error) {
			c, err = net.DialTimeout("tcp", "127.0.0.1:7000", 5*time.Second)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := echoOn(c, echotest.Payload(1<<20)); err != nil {
			t.Error(err)
		}
	})

	t.Run("a namespace does not see the host", func(t *testing.T) {
		// necho's namespace has no route to the host's proxy address.
		cmd := exec.Command("ip", "netns", "exec", "tz-necho", "socat", "-T", "2", "-", "TCP:"+nechoTCP+",connect-timeout=2")
		cmd.Stdin = strings.NewReader("x")
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("a CA in tz-necho reached the host's %s:\n%s", nechoTCP, out)
		}
	})

	t.Run("host access", func(t *testing.T) {
		tests := []struct {
			ta, why string
			allowed bool
		}{
			{"nfaulty", "host_access lists the service", true},
			{"nfaulty2", "no host_access", false},
			{"hfaulty", "netns: false", true},
		}
		for _, tt := range tests {
			t.Run(tt.ta, func(t *testing.T) {
				got, err := lineCommand(b.path(tt.ta, "faulty.sock"), "connect "+service)
				if err != nil {
					t.Fatal(err)
				}
				if tt.allowed && got != "connected: hello from the host" {
					t.Errorf("%s (%s): %q, want the host service's greeting", tt.ta, tt.why, got)
				}
				if !tt.allowed && !strings.Contains(got, "connection refused") {
					t.Errorf("%s (%s): %q, want connection refused", tt.ta, tt.why, got)
				}
			})
		}
		// Another host port than the one listed stays out of reach.
		other := hostService(t)
		if got, err := lineCommand(b.path("nfaulty", "faulty.sock"), "connect "+other); err != nil || !strings.Contains(got, "connection refused") {
			t.Errorf("nfaulty to an unlisted host service: %q, %v; want connection refused", got, err)
		}
	})
}

// echoOn writes msg on c while reading the echo, then compares.
func echoOn(c net.Conn, msg []byte) error {
	c.SetDeadline(time.Now().Add(30 * time.Second))
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(msg)
		werr <- err
	}()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("echo differs at %d", echotest.FirstDiff(got, msg))
	}
	return nil
}

// shadowPID reads a TA's shadow process id from its status view.
func shadowPID(t *testing.T, b *bridge, ta string) int {
	t.Helper()
	return int(taCounter(t, b, ta, "pid"))
}

// TestNetnsShadowKilled: kill -9 of a shadow process → the supervisor says
// so and starts a new one in the same namespace → CAs are served again,
// one that connected meanwhile included; the status view counts the
// restart.
func TestNetnsShadowKilled(t *testing.T) {
	needNetns(t)
	sock := filepath.Join(t.TempDir(), "necho.sock")
	b := startBridge(t, bridgeConfig(nechoTA(sock, "")), nechoReady)
	old := shadowPID(t, b, "necho")
	if role := procRole(old); role != "shadow" {
		t.Fatalf("status pid %d runs %q, want the shadow", old, role)
	}
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// A CA that comes while the TA is down waits in the proxy socket's
	// backlog and is served by the new shadow.
	waiting := make(chan error, 1)
	go func() { waiting <- echotest.StreamEcho("tcp", nechoTCP, echotest.Payload(4096)) }()

	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := taStatus(b, "necho")
		if err == nil && st["restarts"] == "1" && st["state"] == "running" && st["pid"] != strconv.Itoa(old) && st["pid"] != "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not restarted 15s after kill -9 of the shadow: %v, %v", st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := <-waiting; err != nil {
		t.Errorf("CA that connected while the shadow was down: %v", err)
	}
	waitEcho := func(network, addr string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			err := echotest.StreamEcho(network, addr, echotest.Payload(1<<20))
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%s %s after the restart: %v", network, addr, err)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitEcho("tcp", nechoTCP)
	waitEcho("unix", sock)
	waitEcho("unix", b.path("necho", "echo.sock"))
	if err := echotest.UDPEcho(nechoUDP, echotest.Payload(4096)); err != nil {
		t.Error(err)
	}
	status, err := os.ReadFile(b.path("necho", ".tz", "status"))
	if err != nil || !bytes.Contains(status, []byte("restarts: 1\n")) {
		t.Errorf("status after one restart: %v\n%s", err, status)
	}
	if log := b.log.String(); !strings.Contains(log, "killed by signal 9") || !strings.Contains(log, "restarting") {
		t.Errorf("the log does not say the shadow was killed and restarted:\n%s", log)
	}
	if !slices.Contains(netnsList(t), "tz-necho") {
		t.Error("tz-necho gone after the restart")
	}
}

// TestNetnsCleanup: after SIGTERM no tz-* namespace, shadow process or
// proxy link is left; after kill -9 of the supervisor its shadows die with
// it, and the next run removes the namespace it left, saying so.
func TestNetnsCleanup(t *testing.T) {
	needNetns(t)
	mount := filepath.Join(t.TempDir(), "tz")
	sock := filepath.Join(t.TempDir(), "necho.sock")
	cfg := bridgeConfig(nechoTA(sock, ""), faultyTA("nfaulty", nfaultyUUID, ""))
	ready := func(mount string) bool {
		_, err := os.Stat(filepath.Join(mount, "nfaulty", "faulty.sock"))
		return err == nil && nechoReady(mount)
	}
	shadows := func() string {
		out, _ := exec.Command("pgrep", "-a", "-f", tzbridgeBin()+" shadow").Output()
		return strings.TrimSpace(string(out))
	}
	ours := func() []string {
		var got []string
		for _, n := range netnsList(t) {
			if n == "tz-necho" || n == "tz-nfaulty" {
				got = append(got, n)
			}
		}
		sort.Strings(got)
		return got
	}

	first := startBridgeAt(t, mount, cfg, ready)
	pids := []int{shadowPID(t, first, "necho"), shadowPID(t, first, "nfaulty")}
	first.cmd.Process.Kill()
	<-first.done
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range pids {
		for !processGone(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("shadow %d outlived its supervisor (kill -9) by 5s", pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if got := ours(); len(got) != 2 {
		t.Logf("namespaces left by the killed run: %v", got)
	}

	second := startBridgeAt(t, mount, cfg, ready)
	if !strings.Contains(second.log.String(), "removed a stale network namespace") {
		t.Errorf("the second run did not say it removed the stale namespaces:\n%s", second.log.String())
	}
	if err := echotest.StreamEcho("tcp", nechoTCP, echotest.Payload(4096)); err != nil {
		t.Error(err)
	}
	if got := ours(); !slices.Equal(got, []string{"tz-necho", "tz-nfaulty"}) {
		t.Errorf("namespaces while running: %v", got)
	}
	if took := second.stop(); second.err != nil {
		t.Errorf("tzbridge exit after %v: %v", took, second.err)
	}
	if got := ours(); len(got) != 0 {
		t.Errorf("namespaces left after shutdown: %v", got)
	}
	deadline = time.Now().Add(5 * time.Second)
	for ps := shadows(); ps != ""; ps = shadows() {
		if time.Now().After(deadline) {
			t.Errorf("shadow processes left after shutdown:\n%s", ps)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("UNIX proxy address left after shutdown: %v", err)
	}
	if ms := mountsUnder(mount); len(ms) > 0 {
		t.Errorf("mounts left: %v", ms)
	}
	if c, err := net.DialTimeout("tcp", nechoTCP, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts after shutdown", nechoTCP)
	}
}

// procField reads one "Key:\tvalue" line of /proc/<pid>/status.
func shadowProcField(t *testing.T, pid int, key string) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in /proc/%d/status", key, pid)
	return ""
}

// procLimit reads a soft limit from /proc/<pid>/limits.
func procLimit(t *testing.T, pid int, name string) string {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, name); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				return f[0]
			}
		}
	}
	t.Fatalf("no %q in /proc/%d/limits", name, pid)
	return ""
}

// TestShadowPrivileges: a shadow runs as the configured user, in its
// namespace, with no capabilities, no_new_privs, its descriptor limit
// plus headroom, no core dumps and the configured memory limit — and the
// TA still serves.
func TestShadowPrivileges(t *testing.T) {
	needNetns(t)
	// A shadow that is not root must be able to reach the mount.
	dir := t.TempDir()
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(dir, "necho.sock")
	const none, bindService = "0000000000000000", "0000000000000400" // CAP_NET_BIND_SERVICE is bit 10
	tests := []struct {
		name, extra string
		uid, nofile string
		data, caps  string
	}{
		{"root", "    limits:\n      descriptors: 100\n", "0", "167", "unlimited", none},
		{"nobody", "    user: nobody\n    group: nogroup\n    limits:\n      descriptors: 100\n      memory: 268435456\n", "65534", "167", "268435456", none},
		{"nobody, privileged ports", "    user: nobody\n    group: nogroup\n    privileged_ports: true\n    limits:\n      descriptors: 100\n", "65534", "167", "unlimited", bindService},
		{"root, privileged ports", "    privileged_ports: true\n    limits:\n      descriptors: 100\n", "0", "167", "unlimited", bindService},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mount := filepath.Join(dir, "tz-"+strings.NewReplacer(" ", "", ",", "-").Replace(tt.name))
			b := startBridgeAt(t, mount, bridgeConfig(nechoTA(sock, tt.extra)), nechoReady)
			pid := shadowPID(t, b, "necho")
			checks := []struct{ what, got, want string }{
				{"uid", strings.Fields(shadowProcField(t, pid, "Uid"))[1], tt.uid},
				{"effective capabilities", shadowProcField(t, pid, "CapEff"), tt.caps},
				{"bounding set", shadowProcField(t, pid, "CapBnd"), tt.caps},
				{"no_new_privs", shadowProcField(t, pid, "NoNewPrivs"), "1"},
				// 100 descriptors + 64 headroom + 3 proxies.
				{"RLIMIT_NOFILE", procLimit(t, pid, "Max open files"), tt.nofile},
				{"RLIMIT_CORE", procLimit(t, pid, "Max core file size"), "0"},
				{"RLIMIT_DATA", procLimit(t, pid, "Max data size"), tt.data},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("shadow %s: %s, want %s", c.what, c.got, c.want)
				}
			}
			ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
			if err != nil {
				t.Fatal(err)
			}
			var st syscall.Stat_t
			if err := syscall.Stat("/run/netns/tz-necho", &st); err != nil || ns != fmt.Sprintf("net:[%d]", st.Ino) {
				t.Errorf("shadow in %s, tz-necho is inode %d (%v)", ns, st.Ino, err)
			}
			if err := echotest.StreamEcho("unix", b.path("necho", "echo.sock"), echotest.Payload(1<<20)); err != nil {
				t.Error(err)
			}
			if err := echotest.StreamEcho("tcp", nechoTCP, echotest.Payload(1<<20)); err != nil {
				t.Error(err)
			}
			b.stop()
		})
	}
}

// TestProxyLatency measures what a proxy address adds to the paper's 4 KiB
// TCP round trip: a CA in the host namespace through necho's proxy
// address against a CA inside nsonly's namespace talking to it directly,
// with a plain CA↔CA loopback round trip for scale. It logs the figures;
// tests never assert times.
func TestProxyLatency(t *testing.T) {
	needNetns(t)
	sock := filepath.Join(t.TempDir(), "necho.sock")
	b := startBridge(t, bridgeConfig(nechoTA(sock, ""), nsonlyTA()), func(mount string) bool {
		return nsonlyReady() && nechoReady(mount)
	})
	defer b.stop()
	const rounds, warmup = 3000, 200
	msg := echotest.Payload(4096)
	// Plain loopback: a Go echo server in the host namespace.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	dial := func(addr string) net.Conn {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	var inNS net.Conn
	if err := sockproxy.Do("tz-nsonly", func() (err error) {
		inNS, err = net.DialTimeout("tcp", "127.0.0.1:7000", 5*time.Second)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	paths := []struct {
		name    string
		c       net.Conn
		samples []time.Duration
	}{
		{name: "plain", c: dial(l.Addr().String())},
		{name: "proxied", c: dial(nechoTCP)},
		{name: "in-namespace", c: inNS},
	}
	got := make([]byte, len(msg))
	// Round trips alternate between the paths, so that whatever else the
	// machine does weighs on all of them alike.
	for i := range rounds + warmup {
		for j := range paths {
			p := &paths[j]
			p.c.SetDeadline(time.Now().Add(30 * time.Second))
			start := time.Now()
			if _, err := p.c.Write(msg); err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
			if _, err := io.ReadFull(p.c, got); err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
			if i >= warmup {
				p.samples = append(p.samples, time.Since(start))
			}
		}
	}
	results := map[string]time.Duration{}
	for _, p := range paths {
		p.c.Close()
		slices.Sort(p.samples)
		results[p.name] = p.samples[len(p.samples)/2]
	}
	t.Logf("4 KiB TCP round trip, median of %d: proxied (host CA → proxy address, socket handed over) %v; in-namespace (CA in tz-nsonly → TA directly) %v; proxied/in-namespace %.2f; plain CA↔CA loopback %v",
		rounds, results["proxied"], results["in-namespace"], float64(results["proxied"])/float64(results["in-namespace"]), results["plain"])
}
