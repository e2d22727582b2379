package test

// Load tests: many connections to one TA, many TAs in one bridge, and bulk
// data with checksums at both ends. Each logs its figures in a line that
// docs/reliability.md quotes; TZBRIDGE_SOAK (a duration, e.g. 10m) makes
// them run longer and larger for local soak runs.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/internal/echotest"
	"github.com/tzmediator/tzbridge/tzrpc"
)

// soakDuration is TZBRIDGE_SOAK as a duration, 0 when unset. In soak mode
// the load tests repeat their rounds until it has passed, and use the
// largest sizes (see docs/reliability.md). Remember -timeout: go test
// stops a binary after 10 minutes by default.
func soakDuration(t *testing.T) time.Duration {
	t.Helper()
	v := os.Getenv("TZBRIDGE_SOAK")
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		t.Fatalf("TZBRIDGE_SOAK=%q: want a duration such as 10m", v)
	}
	return d
}

// rounds calls round(i) once, or, in soak mode, until the soak duration
// has passed; it stops at the first failing round.
func rounds(t *testing.T, round func(i int)) {
	t.Helper()
	soak := soakDuration(t)
	start := time.Now()
	for i := 0; ; i++ {
		round(i)
		if t.Failed() || time.Since(start) >= soak {
			if soak > 0 {
				t.Logf("soak: %d rounds in %v", i+1, time.Since(start).Round(time.Second))
			}
			return
		}
	}
}

// raiseNofile makes sure this process (and the bridge it starts, which
// inherits the limit) may hold n descriptors.
func raiseNofile(t *testing.T, n uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur >= n {
		return
	}
	lim.Cur = n
	lim.Max = max(lim.Max, n) // root may raise the hard limit
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("raise RLIMIT_NOFILE to %d: %v", n, err)
	}
}

// startEchoBridge is startBridge for a configuration with the echo TA,
// whose ports are fixed: if another process holds 127.0.0.1:7000 (another
// run of these tests on the same machine, typically), the readiness check
// would be answered by that process, and the test would fail in confusing
// ways. It fails at once instead, saying so.
func startEchoBridge(t *testing.T, configYAML string, ready func(mount string) bool) *bridge {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, err := net.Listen("tcp", "127.0.0.1:7000")
		if err == nil {
			l.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("127.0.0.1:7000, the echo TA's port, is held by another process (another run of the end-to-end tests?): %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return startBridge(t, configYAML, ready)
}

// echoConfigDescriptors is the echo demo with the TA's descriptor limit
// set.
func echoConfigDescriptors(descriptors int) string {
	return echoConfig("%[1]s") + fmt.Sprintf("    limits:\n      descriptors: %d\n", descriptors)
}

// taStatus reads a TA's status view, /tz/<ta>/.tz/status.
func taStatus(b *bridge, ta string) (map[string]string, error) {
	data, err := os.ReadFile(b.path(ta, ".tz", "status"))
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			m[k] = v
		}
	}
	return m, nil
}

// taCounter reads one numeric field of a TA's status view.
func taCounter(t *testing.T, b *bridge, ta, field string) int64 {
	t.Helper()
	st, err := taStatus(b, ta)
	if err != nil {
		t.Fatalf("status of %s: %v", ta, err)
	}
	n, err := strconv.ParseInt(st[field], 10, 64)
	if err != nil {
		t.Fatalf("status of %s: %s: %q: %v", ta, field, st[field], err)
	}
	return n
}

// waitCounter waits until a TA's status field satisfies ok, and returns
// the value last read.
func waitCounter(t *testing.T, b *bridge, ta, field string, ok func(int64) bool, within time.Duration) int64 {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		v := taCounter(t, b, ta, field)
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s still %d after %v", ta, field, v, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settledCounter reads a TA's status field once it has stopped changing
// (the readiness probe's connection, say, has been closed).
func settledCounter(t *testing.T, b *bridge, ta, field string) int64 {
	t.Helper()
	prev := taCounter(t, b, ta, field)
	for range 100 {
		time.Sleep(100 * time.Millisecond)
		v := taCounter(t, b, ta, field)
		if v == prev {
			return v
		}
		prev = v
	}
	t.Fatalf("%s %s does not settle", ta, field)
	return 0
}

// exchange sends msg on c and checks that exactly msg comes back.
func exchange(c net.Conn, msg []byte) error {
	c.SetDeadline(time.Now().Add(60 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(msg); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("read the echo of %d bytes: %w", len(msg), err)
	}
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("echo of %d bytes differs at %d", len(msg), echotest.FirstDiff(got, msg))
	}
	return nil
}

// connMessage is a message unique to connection i in round r, 30 to
// 4,125 bytes long.
func connMessage(i, r int) []byte {
	head := fmt.Sprintf("conn %d round %d|", i, r)
	return append([]byte(head), echotest.Payload(i%4096+r)...)
}

// echoConnLimit is how many connections the echo TA serves at once:
// ta/echo's maxConns, which keeps its poll set (connections, two
// listeners, UDP, FIFOs) within tzrpc.MaxPollFDs. A connection beyond it
// waits in the kernel's backlog until one closes.
const echoConnLimit = tzrpc.MaxPollFDs - 8

// TestLoadConnections: 1,000 CAs connect to the echo TA over TCP at once,
// each exchanges a message and gets a byte-exact echo, all stay open
// together and exchange again, then close; up to the TA's limit the
// connections are served, beyond it they wait (not lost) until one
// closes; and the bridge keeps serving afterwards.
func TestLoadConnections(t *testing.T) {
	n := 1000
	if soakDuration(t) > 0 {
		n = echoConnLimit
	}
	// Every connection costs this process one descriptor and the bridge
	// one (the shadow's end); the TA's own limit must cover them too.
	raiseNofile(t, uint64(2*n+512))
	b := startEchoBridge(t, echoConfigDescriptors(echoConnLimit+64), echoReady)
	idle := settledCounter(t, b, "echo", "open_descriptors")

	rounds(t, func(r int) {
		conns := make([]net.Conn, n)
		defer func() {
			for _, c := range conns {
				if c != nil {
					c.Close()
				}
			}
		}()
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				c, err := net.DialTimeout("tcp", "127.0.0.1:7000", 60*time.Second)
				if err != nil {
					errs <- fmt.Errorf("conn %d: dial: %w", i, err)
					return
				}
				conns[i] = c
				if err := exchange(c, connMessage(i, 2*r)); err != nil {
					errs <- fmt.Errorf("conn %d: first message: %w", i, err)
				}
			})
		}
		wg.Wait()
		close(errs)
		if failed(t, errs) {
			return
		}
		connected := time.Since(start)

		// All are open now: count them, on both sides.
		held := 0
		for _, c := range conns {
			if c != nil {
				held++
			}
		}
		taHeld := taCounter(t, b, "echo", "open_descriptors") - idle
		t.Logf("connections held at once: %d (TA descriptors for them: %d); connect+echo took %v", held, taHeld, connected.Round(time.Millisecond))
		if held != n || taHeld != int64(n) {
			t.Fatalf("held %d connections, the TA %d; want %d", held, taHeld, n)
		}
		// And all of them are served at the same time: a second message
		// on every one, none closed in between.
		errs = make(chan error, n)
		for i, c := range conns {
			wg.Go(func() {
				if err := exchange(c, connMessage(i, 2*r+1)); err != nil {
					errs <- fmt.Errorf("conn %d: second message: %w", i, err)
				}
			})
		}
		wg.Wait()
		close(errs)
		if failed(t, errs) {
			return
		}

		// Up to the TA's limit more are served; the next one waits in the
		// backlog, and is served as soon as a slot frees.
		for i := n; i < echoConnLimit; i++ {
			c, err := net.DialTimeout("tcp", "127.0.0.1:7000", 10*time.Second)
			if err != nil {
				t.Fatalf("conn %d (of the TA's %d): %v", i, echoConnLimit, err)
			}
			conns = append(conns, c)
			if err := exchange(c, connMessage(i, 2*r)); err != nil {
				t.Fatalf("conn %d (of the TA's %d): %v", i, echoConnLimit, err)
			}
		}
		extra, err := net.DialTimeout("tcp", "127.0.0.1:7000", 10*time.Second)
		if err != nil {
			t.Fatalf("connection beyond the limit: dial: %v", err)
		}
		conns = append(conns, extra)
		msg := connMessage(echoConnLimit, r)
		if _, err := extra.Write(msg); err != nil {
			t.Fatalf("connection beyond the limit: write: %v", err)
		}
		extra.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if k, err := extra.Read(make([]byte, 1)); err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("connection beyond the TA's limit of %d answered (%d bytes, %v) before any slot was free", echoConnLimit, k, err)
		}
		conns[0].Close()
		conns[0] = nil
		extra.SetReadDeadline(time.Now().Add(30 * time.Second))
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(extra, got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("connection beyond the limit, after a slot freed: %v (equal: %v)", err, bytes.Equal(got, msg))
		}
		t.Logf("connection limit of the echo TA: %d at once; the next waited in the backlog and was served when one closed", echoConnLimit)

		// Close them all: the TA closes its ends.
		for i, c := range conns {
			if c != nil {
				c.Close()
				conns[i] = nil
			}
		}
		waitCounter(t, b, "echo", "open_descriptors", func(v int64) bool { return v == idle }, 30*time.Second)
		// The bridge keeps serving, on every stream transport.
		for _, ep := range [][2]string{{"tcp", "127.0.0.1:7000"}, {"unix", b.path("echo", "echo.sock")}} {
			if err := echotest.StreamEcho(ep[0], ep[1], echotest.Payload(1<<20)); err != nil {
				t.Fatalf("after %d connections closed: %v", n, err)
			}
		}
	})
}

// failed reports the errors in errs (up to 10) and whether there were any.
func failed(t *testing.T, errs <-chan error) bool {
	t.Helper()
	n := 0
	for err := range errs {
		if n < 10 {
			t.Error(err)
		}
		n++
	}
	if n > 10 {
		t.Errorf("… and %d more errors", n-10)
	}
	return n > 0
}

// manyTAsConfig is the echo TA plus n faulty TAs named f000, f001, …, each
// with its own UUID, restarted whenever they stop.
func manyTAsConfig(n int) string {
	var sb strings.Builder
	sb.WriteString(echoConfig("%[1]s"))
	for i := range n {
		fmt.Fprintf(&sb, "  - name: %s\n    uuid: 7a0c0000-0000-4000-8000-%012x\n    builtin: faulty\n    restart: always\n", faultyName(i), i)
	}
	return sb.String()
}

func faultyName(i int) string { return fmt.Sprintf("f%03d", i) }

// lineEcho sends a line on a faulty TA's socket and checks the answer.
func lineEcho(sock, line string) error {
	c, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\n", line); err != nil {
		return err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("%s: %w", sock, err)
	}
	if got != line+"\n" {
		return fmt.Errorf("%s: got %q, want %q", sock, got, line+"\n")
	}
	return nil
}

// memInfo is the memory of a process tree, in KiB.
type memInfo struct {
	procs    int
	rss, pss int64
	byName   map[string]int64 // RSS by command ("run", "secure-world", …)
}

// treeMemory sums VmRSS (and Pss, which counts the shared mailboxes once)
// over pid and all its descendants, so the figure stays right however the
// bridge splits itself into processes.
func treeMemory(pid int) (memInfo, error) {
	m := memInfo{byName: map[string]int64{}}
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		rss, err := procField(fmt.Sprintf("/proc/%d/status", p), "VmRSS:")
		if err != nil {
			return m, err
		}
		pss, err := procField(fmt.Sprintf("/proc/%d/smaps_rollup", p), "Pss:")
		if err != nil {
			return m, err
		}
		m.procs++
		m.rss += rss
		m.pss += pss
		m.byName[procRole(p)] += rss
		kids, _ := childPIDs(p)
		queue = append(queue, kids...)
	}
	return m, nil
}

// procField reads a "Name: N kB" line.
func procField(file, name string) (int64, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, name); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s line", file, name)
}

// childPIDs lists pid's children, from every thread's children file.
func childPIDs(pid int) ([]int, error) {
	files, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	if err != nil {
		return nil, err
	}
	var out []int
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended
		}
		for _, s := range strings.Fields(string(data)) {
			if c, err := strconv.Atoi(s); err == nil && !slices.Contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// procRole names a tzbridge process by its subcommand.
func procRole(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return "?"
	}
	args := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
	if len(args) > 1 {
		return args[1]
	}
	return filepath.Base(args[0])
}

// idleMemory measures b's process tree once it is idle: the median of a
// few samples, so that a moment of garbage collection does not count.
func idleMemory(t *testing.T, b *bridge) memInfo {
	t.Helper()
	time.Sleep(500 * time.Millisecond)
	var samples []memInfo
	for range 5 {
		m, err := treeMemory(b.cmd.Process.Pid)
		if err != nil {
			t.Fatalf("memory of the bridge: %v", err)
		}
		samples = append(samples, m)
		time.Sleep(200 * time.Millisecond)
	}
	slices.SortFunc(samples, func(a, b memInfo) int { return int(a.rss - b.rss) })
	return samples[len(samples)/2]
}

// treeFDs counts the descriptors held by pid and its descendants.
func treeFDs(pid int) int {
	n := 0
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p))
		n += len(fds)
		kids, _ := childPIDs(p)
		queue = append(queue, kids...)
	}
	return n
}

// TestLoadManyTAs: 64 TAs (the faulty line echo, each its own name and
// UUID) and the echo TA run in one bridge, every one answers on its own
// endpoint, and the memory an idle TA costs is measured against a bridge
// with one TA. Then all 64 fail at once (panics, exits and failures
// mixed) and all come back, with the bridge's descriptors back where they
// were.
func TestLoadManyTAs(t *testing.T) {
	n := 64
	if soakDuration(t) > 0 {
		n = 256
	}
	one := startEchoBridge(t, echoConfig("%[1]s"), echoReady)
	if err := echotest.StreamEcho("tcp", "127.0.0.1:7000", echotest.Payload(4096)); err != nil {
		t.Fatal(err)
	}
	base := idleMemory(t, one)
	one.stop()

	// A socket node exists from the TA's BIND, a listener from its
	// LISTEN: only a connection tells that the TA listens. One probe per
	// TA that answered, so that probes do not fill its backlog.
	listening := make([]bool, n)
	ready := func(mount string) bool {
		for i := range n {
			if listening[i] {
				continue
			}
			c, err := net.Dial("unix", filepath.Join(mount, faultyName(i), "faulty.sock"))
			if err != nil {
				return false
			}
			c.Close()
			listening[i] = true
		}
		return echoReady(mount)
	}
	b := startEchoBridge(t, manyTAsConfig(n), ready)
	var sockets []string
	for i := range n {
		sockets = append(sockets, b.path(faultyName(i), "faulty.sock"))
	}
	answer := func(r int) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, n+1)
		for i, sock := range sockets {
			wg.Go(func() { errs <- lineEcho(sock, fmt.Sprintf("hello %s round %d", faultyName(i), r)) })
		}
		wg.Go(func() { errs <- echotest.StreamEcho("tcp", "127.0.0.1:7000", echotest.Payload(4096)) })
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	answer(0)
	full := idleMemory(t, b)
	perTA := (full.rss - base.rss) / int64(n)
	perTAPss := (full.pss - base.pss) / int64(n)
	t.Logf("1 TA: %d processes, RSS %d KiB (%s), PSS %d KiB", base.procs, base.rss, roles(base), base.pss)
	t.Logf("%d TAs: %d processes, RSS %d KiB (%s), PSS %d KiB", n+1, full.procs, full.rss, roles(full), full.pss)
	// PSS summed over the tree is the memory the bridge really uses: RSS
	// counts a page shared by several processes (the binary's text, once
	// shadows run as processes of their own) once in each of them.
	t.Logf("memory per idle TA: %d KiB (PSS summed over the process tree; the RSS sum grows by %d KiB per TA)", perTAPss, perTA)

	fds := treeFDs(b.cmd.Process.Pid)
	restarts := 0
	rounds(t, func(r int) {
		var wg sync.WaitGroup
		for i, sock := range sockets {
			wg.Go(func() { crashFaulty(t, sock, []string{"panic", "exit", "fail"}[(i+r)%3]) })
		}
		wg.Wait()
		restarts += n
		start := time.Now()
		for _, sock := range sockets {
			wg.Go(func() { waitLineEcho(t, sock, 30*time.Second) })
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		t.Logf("round %d: all %d TAs failed at once and were back %v later", r, n, time.Since(start).Round(time.Millisecond))
		answer(r + 1)
		// No descriptor leaked by a restart (the faulty TAs close their
		// last connections in their own time). Fewer is no leak: the
		// baseline may have caught one in passing.
		deadline := time.Now().Add(10 * time.Second)
		for got := treeFDs(b.cmd.Process.Pid); got > fds; got = treeFDs(b.cmd.Process.Pid) {
			if time.Now().After(deadline) {
				t.Fatalf("the bridge holds %d descriptors after %d restarts, %d before", got, restarts, fds)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	after := idleMemory(t, b)
	t.Logf("after %d restarts: RSS %d KiB, PSS %d KiB (before: %d, %d); descriptors no more than the %d before",
		restarts, after.rss, after.pss, full.rss, full.pss, fds)
}

func roles(m memInfo) string {
	var parts []string
	for name, kib := range m.byName {
		parts = append(parts, fmt.Sprintf("%s %d KiB", name, kib))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// The bulk streams: every 4 KiB page of the stream carries its own
// number, so a page lost, repeated or moved changes the SHA-256.
const streamPage = 4096

var streamBase = echotest.Payload(1 << 20)

// fillStream fills b with the stream's bytes from offset off.
func fillStream(b []byte, off int64) {
	for i := 0; i < len(b); {
		i += copy(b[i:], streamBase[int((off+int64(i))%int64(len(streamBase))):])
	}
	end := off + int64(len(b))
	for pg := off / streamPage; pg*streamPage < end; pg++ {
		for k := range int64(8) {
			if pos := pg*streamPage + k - off; pos >= 0 && pos < int64(len(b)) {
				b[pos] = byte(pg>>(8*k)) ^ 0xa5
			}
		}
	}
}

// streamSum is how many bytes of the stream one end moved, and their
// SHA-256.
type streamSum struct {
	n   int64
	sum [sha256.Size]byte
}

func (s streamSum) String() string { return fmt.Sprintf("%d bytes, sha256 %x", s.n, s.sum[:8]) }

func sumOf(h hash.Hash, n int64) streamSum {
	s := streamSum{n: n}
	copy(s.sum[:], h.Sum(nil))
	return s
}

// sendStream writes the stream to w until limit bytes (no limit if
// negative) or until stop is closed, and returns what it wrote.
func sendStream(w io.Writer, limit int64, stop <-chan struct{}) (streamSum, error) {
	h := sha256.New()
	buf := make([]byte, 256<<10)
	var off int64
	for limit < 0 || off < limit {
		select {
		case <-stop:
			return sumOf(h, off), nil
		default:
		}
		chunk := buf
		if limit >= 0 && int64(len(chunk)) > limit-off {
			chunk = chunk[:limit-off]
		}
		fillStream(chunk, off)
		n, err := w.Write(chunk)
		h.Write(chunk[:n])
		off += int64(n)
		if err != nil {
			return sumOf(h, off), err
		}
	}
	return sumOf(h, off), nil
}

// recvStream reads the stream from r until limit bytes, or until EOF when
// limit is negative, checking every byte against what was sent as it goes.
func recvStream(r io.Reader, limit int64) (streamSum, error) {
	h := sha256.New()
	buf := make([]byte, 256<<10)
	want := make([]byte, len(buf))
	var off int64
	for limit < 0 || off < limit {
		chunk := buf
		if limit >= 0 && int64(len(chunk)) > limit-off {
			chunk = chunk[:limit-off]
		}
		n, err := r.Read(chunk)
		if n > 0 {
			fillStream(want[:n], off)
			if !bytes.Equal(chunk[:n], want[:n]) {
				return sumOf(h, off), fmt.Errorf("stream differs from what was sent at byte %d", off+int64(echotest.FirstDiff(chunk[:n], want[:n])))
			}
			h.Write(chunk[:n])
			off += int64(n)
		}
		if err == io.EOF && limit < 0 {
			break
		}
		if err != nil {
			return sumOf(h, off), err
		}
	}
	return sumOf(h, off), nil
}

// bulkSize is how much each bulk test moves per transport.
func bulkSize() int64 {
	if testing.Short() {
		return 64 << 20
	}
	return 1 << 30
}

// TestLoadBulk moves 1 GiB (64 MiB with -short) through the echo TA over
// the FIFO pair and over TCP, with the SHA-256 of the stream computed by
// the writer and by the reader: no byte lost, repeated or reordered.
func TestLoadBulk(t *testing.T) {
	b := startEchoBridge(t, echoConfig("%[1]s"), echoReady)
	size := bulkSize()
	var fifoMoved, tcpMoved atomic.Int64
	rounds(t, func(r int) {
		t.Run("fifo", func(t *testing.T) {
			in, got, took := bulkFIFO(t, b, size)
			reportBulk(t, "fifo", in, got, took)
			fifoMoved.Add(got.n)
		})
		t.Run("tcp", func(t *testing.T) {
			in, got, took := bulkTCP(t, size)
			reportBulk(t, "tcp", in, got, took)
			tcpMoved.Add(got.n)
		})
	})
	t.Logf("moved with checksums: fifo %d MiB, tcp %d MiB", fifoMoved.Load()>>20, tcpMoved.Load()>>20)
}

func reportBulk(t *testing.T, name string, sent, got streamSum, took time.Duration) {
	t.Helper()
	if got != sent {
		t.Fatalf("%s: sent %v, received %v", name, sent, got)
	}
	t.Logf("throughput %s: %.0f MB/s (%d MiB echoed in %v; sha256 %x at both ends)",
		name, float64(got.n)/took.Seconds()/1e6, got.n>>20, took.Round(time.Millisecond), got.sum[:8])
}

// bulkFIFO writes size bytes into /tz/echo/in while reading the echo from
// /tz/echo/out, and checks that nothing follows it.
func bulkFIFO(t *testing.T, b *bridge, size int64) (sent, got streamSum, took time.Duration) {
	type result struct {
		s   streamSum
		err error
	}
	start := time.Now()
	read := make(chan result, 1)
	go func() {
		out, err := os.Open(b.path("echo", "out")) // waits for the TA to open it
		if err != nil {
			read <- result{err: err}
			return
		}
		defer out.Close()
		out.SetReadDeadline(time.Now().Add(5 * time.Minute))
		s, err := recvStream(out, size)
		if err == nil {
			// Nothing more may come: no byte repeated.
			out.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			if n, rerr := out.Read(make([]byte, 1)); n > 0 {
				err = fmt.Errorf("%d more bytes after the %d written", n, size)
			} else if !errors.Is(rerr, os.ErrDeadlineExceeded) && rerr != io.EOF {
				err = rerr
			}
		}
		read <- result{s, err}
	}()
	in, err := os.OpenFile(b.path("echo", "in"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	in.SetWriteDeadline(time.Now().Add(5 * time.Minute))
	sent, err = sendStream(in, size, nil)
	in.Close()
	if err != nil {
		t.Fatalf("write %s: after %v: %v", b.path("echo", "in"), sent, err)
	}
	res := <-read
	took = time.Since(start)
	if res.err != nil {
		t.Fatalf("read %s: after %v: %v", b.path("echo", "out"), res.s, res.err)
	}
	return sent, res.s, took
}

// bulkTCP streams size bytes to the echo TA over TCP while reading the
// echo, then half-closes and expects the echo to end exactly there.
func bulkTCP(t *testing.T, size int64) (sent, got streamSum, took time.Duration) {
	start := time.Now()
	c, err := net.DialTimeout("tcp", "127.0.0.1:7000", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Minute))
	werr := make(chan error, 1)
	go func() {
		var err error
		sent, err = sendStream(c, size, nil)
		if err == nil {
			err = c.(*net.TCPConn).CloseWrite()
		}
		werr <- err
	}()
	got, err = recvStream(c, -1)
	took = time.Since(start)
	if err != nil {
		t.Fatalf("read the echo: after %v: %v", got, err)
	}
	if err := <-werr; err != nil {
		t.Fatalf("write: after %v: %v", sent, err)
	}
	return sent, got, took
}
