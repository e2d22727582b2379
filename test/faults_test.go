package test

// Fault tests under load (docs/design.md, contract 6: nothing is lost
// silently): a TA dies while other CAs stream, a CA is killed in the
// middle of a message, the simulated secure world is killed, SIGTERM
// arrives while CAs stream, and the supervisor is killed and started
// again on the same mount. After each: no mount is left under the test's
// mount point, no tzbridge process is left (nor, after an orderly exit,
// a TA's network namespace), and the other TA served throughout.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tzmediator/tzbridge/internal/echotest"
	"github.com/tzmediator/tzbridge/internal/syncbuf"
)

// A CA child process for the kill tests: the test binary re-executed with
// TZBRIDGE_TEST_CA set runs helperCA instead of the tests.
func init() {
	if spec := os.Getenv("TZBRIDGE_TEST_CA"); spec != "" {
		os.Exit(helperCA(spec))
	}
}

// helperMessage is what the CA child sends: echotest.Payload(helperMessage), in
// 4 KiB writes (PIPE_BUF: each is atomic on a FIFO). It sends the first
// half at once, says "mid <bytes>" on stdout, then sends the rest slowly,
// so that it is surely in the middle of the message when it is killed.
const (
	helperMessage = 1 << 20
	helperHalf    = helperMessage / 2
	helperWrite   = 4096
)

// helperCA is the CA child: spec is "tcp:<addr>" or "fifo:<path>".
func helperCA(spec string) int {
	kind, addr, _ := strings.Cut(spec, ":")
	var w io.Writer
	switch kind {
	case "tcp":
		c, err := net.Dial("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper CA:", err)
			return 2
		}
		// A CA that reads its echo, so that only the kill stops it.
		go io.Copy(io.Discard, c)
		w = c
	case "fifo":
		f, err := os.OpenFile(addr, os.O_WRONLY, 0)
		if err != nil {
			fmt.Fprintln(os.Stderr, "helper CA:", err)
			return 2
		}
		w = f
	default:
		fmt.Fprintf(os.Stderr, "helper CA: bad spec %q\n", spec)
		return 2
	}
	msg := echotest.Payload(helperMessage)
	for off := 0; off < len(msg); off += helperWrite {
		if off == helperHalf {
			fmt.Printf("mid %d\n", off)
		}
		if off >= helperHalf {
			time.Sleep(10 * time.Millisecond)
		}
		if _, err := w.Write(msg[off : off+helperWrite]); err != nil {
			fmt.Fprintln(os.Stderr, "helper CA: write:", err)
			return 1
		}
	}
	fmt.Println("done")
	select {} // hold the endpoint open until killed
}

// startHelperCA starts a CA child and waits until it is in the middle of
// its message.
func startHelperCA(t *testing.T, spec string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "TZBRIDGE_TEST_CA="+spec)
	var stderr syncbuf.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		l, _ := bufio.NewReader(out).ReadString('\n')
		line <- l
	}()
	select {
	case l := <-line:
		if l != fmt.Sprintf("mid %d\n", helperHalf) {
			t.Fatalf("CA child %s: said %q, not mid-message\n%s", spec, l, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("CA child %s: not mid-message after 30s\n%s", spec, stderr.String())
	}
	return cmd
}

// mountsUnder lists the mounts at or below dir, from /proc/self/mountinfo.
func mountsUnder(dir string) []string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return []string{"(cannot read mountinfo: " + err.Error() + ")"}
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := strings.ReplaceAll(f[4], `\040`, " ")
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out
}

// leftoverProcesses lists processes running the tzbridge binary under
// test (zombies have no command line and do not count).
func leftoverProcesses() string {
	out, _ := exec.Command("pgrep", "-a", "-f", tzbridgeBin()).Output()
	return strings.TrimSpace(string(out))
}

// checkClean checks what a bridge that has exited leaves behind: no mount
// under its mount point and no tzbridge process. A mount found is detached
// so that the test's directories can be removed.
func checkClean(t *testing.T, b *bridge) {
	t.Helper()
	select {
	case <-b.done:
	default:
		t.Fatal("checkClean: the bridge is still running")
	}
	if ms := mountsUnder(b.mount); len(ms) > 0 {
		t.Errorf("mounts left under %s after the bridge exited: %v", b.mount, ms)
		for i := len(ms) - 1; i >= 0; i-- {
			syscall.Unmount(ms[i], syscall.MNT_DETACH)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ps := leftoverProcesses()
		if ps == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("tzbridge processes left 5s after the bridge exited:\n%s", ps)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkNoNamespaces checks that a bridge that ended in order (SIGTERM, or
// an error it handled) removed the network namespaces of its TAs,
// /run/netns/tz-<ta> (`ip netns list`). A run killed with -9 leaves them
// for the next run to clear.
func checkNoNamespaces(t *testing.T, tas ...string) {
	t.Helper()
	for _, ta := range tas {
		if _, err := os.Lstat("/run/netns/tz-" + ta); err == nil {
			t.Errorf("network namespace tz-%s left behind", ta)
		}
	}
}

// secureWorldPID finds the simulated secure world among the bridge's
// descendants.
func secureWorldPID(t *testing.T, b *bridge) int {
	t.Helper()
	queue := []int{b.cmd.Process.Pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p != b.cmd.Process.Pid && procRole(p) == "secure-world" {
			return p
		}
		kids, _ := childPIDs(p)
		queue = append(queue, kids...)
	}
	t.Fatal("no secure-world process under the bridge")
	return 0
}

// descendants lists the processes below pid.
func descendants(pid int) []int {
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		kids, _ := childPIDs(queue[0])
		queue = append(queue[1:], kids...)
		out = append(out, kids...)
	}
	return out
}

// processGone reports whether pid has exited (a zombie counts as gone).
func processGone(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// pid (comm) state …: comm may hold spaces, so look after the last ')'.
	s := string(data)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && len(s) > i+2 {
		return s[i+2] == 'Z' || s[i+2] == 'X'
	}
	return false
}

// streamer is a CA streaming to the echo TA and checking the echo as it
// comes, until stop is closed (or, with a nil stop, until the connection
// fails).
type streamer struct {
	name     string
	received atomic.Int64
	done     chan struct{}
	// Valid once done is closed.
	sent, got  streamSum
	werr, rerr error
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func startStreamer(t *testing.T, network, addr string, stop <-chan struct{}) *streamer {
	t.Helper()
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Minute))
	closeWrite := func(int64) error { return c.(interface{ CloseWrite() error }).CloseWrite() }
	return newStreamer(network+" "+addr, func() (io.Reader, error) { return c, nil }, c, closeWrite, func() { c.Close() }, stop)
}

// startFIFOStreamer streams through the echo TA's FIFO pair: into
// /tz/echo/in, out of /tz/echo/out. The stream is one writer session;
// the reader stops at the count written rather than wait for the end of
// file that follows the session's echo.
func startFIFOStreamer(t *testing.T, b *bridge, stop <-chan struct{}) *streamer {
	t.Helper()
	in, err := os.OpenFile(b.path("echo", "in"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	in.SetDeadline(time.Now().Add(5 * time.Minute))
	var mu sync.Mutex
	echo := &fifoEcho{}
	echo.target.Store(-1)
	open := func() (io.Reader, error) {
		// Waits for the TA to open /out, which it does when it has
		// something to write.
		f, err := os.Open(b.path("echo", "out"))
		if err != nil {
			return nil, err
		}
		f.SetDeadline(time.Now().Add(5 * time.Minute))
		mu.Lock()
		echo.f = f
		done := echo.target.Load() >= 0
		mu.Unlock()
		if done {
			f.SetReadDeadline(time.Now())
		}
		return echo, nil
	}
	closeWrite := func(sent int64) error {
		err := in.Close()
		mu.Lock()
		echo.target.Store(sent)
		if echo.f != nil {
			echo.f.SetReadDeadline(time.Now()) // wake a reader waiting for more
		}
		mu.Unlock()
		return err
	}
	closeAll := func() {
		in.Close()
		mu.Lock()
		if echo.f != nil {
			echo.f.Close()
		}
		mu.Unlock()
	}
	return newStreamer("fifo "+b.path("echo", "in"), open, in, closeWrite, closeAll, stop)
}

// fifoEcho reads /tz/echo/out until target (once known) bytes have come.
type fifoEcho struct {
	f      *os.File
	n      int64
	target atomic.Int64 // -1 until the writer is done
}

func (r *fifoEcho) Read(p []byte) (int, error) {
	for {
		if t := r.target.Load(); t >= 0 && r.n >= t {
			return 0, io.EOF
		}
		n, err := r.f.Read(p)
		r.n += int64(n)
		if errors.Is(err, os.ErrDeadlineExceeded) && r.target.Load() >= 0 {
			// The writer's wake-up: go on until the target.
			r.f.SetReadDeadline(time.Now().Add(5 * time.Minute))
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

// newStreamer streams into w and checks what open's reader gives back.
func newStreamer(name string, open func() (io.Reader, error), w io.Writer, closeWrite func(sent int64) error, closeAll func(), stop <-chan struct{}) *streamer {
	s := &streamer{name: name, done: make(chan struct{})}
	wdone := make(chan struct{})
	go func() {
		defer close(wdone)
		s.sent, s.werr = sendStream(w, -1, stop)
		if s.werr == nil {
			s.werr = closeWrite(s.sent.n)
		}
	}()
	go func() {
		defer close(s.done)
		r, err := open()
		if err != nil {
			s.rerr = err
		} else {
			s.got, s.rerr = recvStream(countingReader{r, &s.received}, -1)
		}
		// The writer learns of a failed connection by itself; give it
		// the time, then unblock it so that a test never hangs.
		select {
		case <-wdone:
		case <-time.After(10 * time.Second):
			closeAll()
			<-wdone
			s.werr = fmt.Errorf("writer still blocked 10s after the reader ended (%v); closed", s.rerr)
		}
		closeAll()
	}()
	return s
}

// startStreamers starts n streamers over TCP and UNIX, alternately.
func startStreamers(t *testing.T, b *bridge, n int, stop <-chan struct{}) []*streamer {
	t.Helper()
	var ss []*streamer
	for i := range n {
		if i%2 == 0 {
			ss = append(ss, startStreamer(t, "tcp", "127.0.0.1:7000", stop))
		} else {
			ss = append(ss, startStreamer(t, "unix", b.path("echo", "echo.sock"), stop))
		}
	}
	return ss
}

// waitProgress waits until every streamer has received at least n more
// bytes than it had at the call.
func waitProgress(t *testing.T, ss []*streamer, n int64) {
	t.Helper()
	from := make([]int64, len(ss))
	for i, s := range ss {
		from[i] = s.received.Load()
	}
	deadline := time.Now().Add(30 * time.Second)
	for i, s := range ss {
		for s.received.Load()-from[i] < n {
			if time.Now().After(deadline) {
				t.Fatalf("%s: received only %d bytes in 30s", s.name, s.received.Load()-from[i])
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func (s *streamer) wait(t *testing.T) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s: stream did not end within 30s", s.name)
	}
}

// checkComplete: the stream ended normally and every byte came back.
func (s *streamer) checkComplete(t *testing.T) {
	t.Helper()
	s.wait(t)
	if s.werr != nil || s.rerr != nil {
		t.Errorf("%s: write: %v; read: %v (sent %v, received %v)", s.name, s.werr, s.rerr, s.sent, s.got)
	} else if s.got != s.sent || s.sent.n == 0 {
		t.Errorf("%s: sent %v, received %v", s.name, s.sent, s.got)
	}
}

// checkCut: the bridge ended the stream, and the CA was told — the echo
// it got is exactly what it sent, up to where it stopped, and its writing
// failed with an error rather than vanishing.
func (s *streamer) checkCut(t *testing.T) {
	t.Helper()
	s.wait(t)
	if s.rerr != nil && !isConnEnd(s.rerr) {
		t.Errorf("%s: read: %v", s.name, s.rerr)
	}
	if s.werr == nil {
		t.Errorf("%s: writing never failed, though the echo ended after %v of %v", s.name, s.got, s.sent)
	} else if !isConnEnd(s.werr) {
		t.Errorf("%s: write: %v", s.name, s.werr)
	}
	if s.got.n > s.sent.n {
		t.Errorf("%s: received %v, more than the %v sent", s.name, s.got, s.sent)
	}
}

// isConnEnd reports whether err is how a CA learns that the other end
// went away.
func isConnEnd(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// crashFaulty makes a faulty TA fail the given way and checks that its
// client sees the end of the conversation.
func crashFaulty(t *testing.T, sock, fault string) {
	t.Helper()
	c, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	fmt.Fprintf(c, "before %s\n", fault)
	if line, err := r.ReadString('\n'); err != nil || line != "before "+fault+"\n" {
		t.Fatalf("before the %s: %q, %v", fault, line, err)
	}
	fmt.Fprintf(c, "%s\n", fault)
	if n, err := r.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes after the TA's %s; want EOF or an error", n, fault)
	} else if !isConnEnd(err) {
		t.Fatalf("after the TA's %s: %v; want EOF or connection reset", fault, err)
	}
}

// waitLineEcho waits until the TA at sock answers a line again.
func waitLineEcho(t *testing.T, sock string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := lineEcho(sock, "again")
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("TA at %s not answering %v later: %v", sock, within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFaultTADiesUnderLoad: while six CAs stream to the echo TA (TCP,
// UNIX, FIFO), the faulty TA panics, exits and fails in turn. Each time
// its client sees the end, it is restarted, and the streams go on: every
// byte comes back.
func TestFaultTADiesUnderLoad(t *testing.T) {
	b := startEchoBridge(t, faultyConfig("always"), faultyReady)
	sock := b.path("faulty", "faulty.sock")
	stop := make(chan struct{})
	ss := append(startStreamers(t, b, 5, stop), startFIFOStreamer(t, b, stop))
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
	}()
	faults := 0
	rounds(t, func(int) {
		for _, fault := range []string{"panic", "exit", "fail"} {
			waitProgress(t, ss, 1<<20)
			crashFaulty(t, sock, fault)
			faults++
			// The echo TA serves on while the faulty one is down.
			waitProgress(t, ss, 1<<20)
			waitLineEcho(t, sock, 15*time.Second)
		}
	})
	close(stop)
	var moved int64
	for _, s := range ss {
		s.checkComplete(t)
		moved += s.got.n
	}
	if got := taCounter(t, b, "faulty", "restarts"); got != int64(faults) {
		t.Errorf("faulty TA restarts: %d, want %d", got, faults)
	}
	t.Logf("faults survived: %d TA panics/exits/failures while %d CAs streamed %d MiB, all echoed exactly", faults, len(ss), moved>>20)
	if took := b.stop(); b.err != nil {
		t.Errorf("tzbridge exit after %v: %v", took, b.err)
	}
	checkClean(t, b)
	checkNoNamespaces(t, "echo", "faulty")
}

// TestFaultCAKilledMidMessage: a CA child process is SIGKILLed in the
// middle of a 1 MiB message, over TCP and over the FIFO. The TA closes
// the dead CA's connection, what reached the FIFO before the kill comes
// out whole, and the other CAs are served throughout.
func TestFaultCAKilledMidMessage(t *testing.T) {
	b := startEchoBridge(t, echoConfig("%[1]s"), echoReady)
	idle := settledCounter(t, b, "echo", "open_descriptors")

	t.Run("tcp", func(t *testing.T) {
		stop := make(chan struct{})
		others := []*streamer{
			startStreamer(t, "unix", b.path("echo", "echo.sock"), stop),
			startStreamer(t, "unix", b.path("echo", "echo.sock"), stop),
		}
		ca := startHelperCA(t, "tcp:127.0.0.1:7000")
		waitCounter(t, b, "echo", "open_descriptors", func(v int64) bool { return v == idle+3 }, 10*time.Second)
		ca.Process.Kill()
		ca.Wait()
		// The TA drops the dead CA's connection, and only that one.
		waitCounter(t, b, "echo", "open_descriptors", func(v int64) bool { return v == idle+2 }, 10*time.Second)
		waitProgress(t, others, 1<<20)
		close(stop)
		for _, s := range others {
			s.checkComplete(t)
		}
		if err := echotest.StreamEcho("tcp", "127.0.0.1:7000", echotest.Payload(1<<20)); err != nil {
			t.Errorf("a new TCP CA after the kill: %v", err)
		}
		waitCounter(t, b, "echo", "open_descriptors", func(v int64) bool { return v == idle }, 10*time.Second)
	})

	t.Run("fifo", func(t *testing.T) {
		stop := make(chan struct{})
		others := []*streamer{
			startStreamer(t, "tcp", "127.0.0.1:7000", stop),
			startStreamer(t, "tcp", "127.0.0.1:7000", stop),
		}
		// A reader of /out, collecting everything that comes.
		var mu sync.Mutex
		var echoed []byte
		out, err := os.OpenFile(b.path("echo", "out"), os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		readerDone := make(chan struct{})
		go func() {
			defer close(readerDone)
			buf := make([]byte, 64<<10)
			for {
				n, err := out.Read(buf)
				mu.Lock()
				echoed = append(echoed, buf[:n]...)
				mu.Unlock()
				if err != nil && err != io.EOF {
					return
				}
				if n == 0 {
					// No writer yet (the TA opens /out when it has
					// something to write): EOF until then.
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
		defer func() {
			out.Close()
			<-readerDone
		}()
		settled := func(want int) []byte {
			t.Helper()
			deadline := time.Now().Add(30 * time.Second)
			last, since := -1, time.Now()
			for {
				mu.Lock()
				n := len(echoed)
				mu.Unlock()
				if n != last {
					last, since = n, time.Now()
				}
				if (want < 0 || n >= want) && time.Since(since) > time.Second {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("FIFO echo: %d bytes after 30s, want %d", n, want)
				}
				time.Sleep(20 * time.Millisecond)
			}
			mu.Lock()
			defer mu.Unlock()
			return bytes.Clone(echoed)
		}

		ca := startHelperCA(t, "fifo:"+b.path("echo", "in"))
		ca.Process.Kill()
		ca.Wait()
		got := settled(helperHalf)
		msg := echotest.Payload(helperMessage)
		switch {
		case len(got) > len(msg) || !bytes.Equal(got, msg[:len(got)]):
			t.Fatalf("FIFO echo after the writer was killed: %d bytes, differing from what it wrote at %d", len(got), echotest.FirstDiff(got, msg))
		case len(got)%helperWrite != 0:
			t.Fatalf("FIFO echo after the writer was killed: %d bytes, not whole %d-byte writes", len(got), helperWrite)
		}
		t.Logf("CA killed after writing %d of %d bytes into the FIFO: all %d echoed, in order", len(got), helperMessage, len(got))

		// The FIFO serves the next CA, and nothing of the dead one's
		// message comes again.
		next := connMessage(1, 64<<10)
		in, err := os.OpenFile(b.path("echo", "in"), os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := in.Write(next); err != nil {
			t.Fatal(err)
		}
		in.Close()
		all := settled(len(got) + len(next))
		if !bytes.Equal(all[len(got):], next) {
			t.Fatalf("FIFO echo for the next CA: %d bytes, want %d (first difference at %d)", len(all)-len(got), len(next), echotest.FirstDiff(all[len(got):], next))
		}
		waitProgress(t, others, 1<<20)
		close(stop)
		for _, s := range others {
			s.checkComplete(t)
		}
	})
	if took := b.stop(); b.err != nil {
		t.Errorf("tzbridge exit after %v: %v", took, b.err)
	}
	checkClean(t, b)
	checkNoNamespaces(t, "echo")
}

// TestFaultSimulatorKilled: kill -9 of the simulated secure world ends
// every session in it with TEEC_ERROR_TARGET_DEAD, so the CAs (sockets and
// FIFOs) see their streams end; the supervisor starts the secure world
// again (counted in the status) and restarts each TA its policy allows:
// the echo TA (on-failure) serves again, the faulty TA (never) stays
// failed and says why. A second kill is survived the same way. The bridge
// keeps running, and after SIGTERM nothing is left behind.
func TestFaultSimulatorKilled(t *testing.T) {
	b := startEchoBridge(t, faultyConfig("never"), faultyReady)
	ss := append(startStreamers(t, b, 4, nil), startFIFOStreamer(t, b, nil))
	waitProgress(t, ss, 1<<20)
	if n := statusField(t, b, "echo", "secure_world_restart_count"); n != "0" {
		t.Errorf("secure_world_restart_count before the kill: %s", n)
	}
	for kill := 1; kill <= 2; kill++ {
		sw := secureWorldPID(t, b)
		killed := time.Now()
		if err := syscall.Kill(sw, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if kill == 1 {
			for _, s := range ss {
				s.checkCut(t)
			}
		}
		// The echo TA is back, in a new secure world.
		deadline := time.Now().Add(20 * time.Second)
		for {
			err := echotest.StreamEcho("tcp", "127.0.0.1:7000", echotest.Payload(4096))
			if err == nil {
				break
			}
			select {
			case <-b.done:
				t.Fatalf("tzbridge exited after the secure world was killed: %v", b.err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("kill %d: the echo TA does not serve 20s after the secure world was killed: %v", kill, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("kill %d: the echo TA served again %v after kill -9 of the secure world", kill, time.Since(killed).Round(time.Millisecond))
		if err := echotest.StreamEcho("unix", b.path("echo", "echo.sock"), echotest.Payload(4096)); err != nil {
			t.Errorf("kill %d: echo over UNIX after the secure world restarted: %v", kill, err)
		}
		if again := secureWorldPID(t, b); again == sw {
			t.Errorf("kill %d: the secure world's pid is still %d", kill, sw)
		}
		if n := statusField(t, b, "echo", "secure_world_restart_count"); n != fmt.Sprint(kill) {
			t.Errorf("secure_world_restart_count after %d kills: %s", kill, n)
		}
		if st := statusField(t, b, "echo", "state"); st != "running" {
			t.Errorf("kill %d: echo TA state %q, want running", kill, st)
		}
	}
	// restart: never holds, and the status says why the TA stopped.
	deadline := time.Now().Add(10 * time.Second)
	for statusField(t, b, "faulty", "state") != "failed" {
		if time.Now().After(deadline) {
			t.Fatalf("faulty TA (restart: never) state %q, want failed", statusField(t, b, "faulty", "state"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if e := statusField(t, b, "faulty", "last_error"); !strings.Contains(e, "TEEC_ERROR_TARGET_DEAD") {
		t.Errorf("faulty TA last_error %q, want TEEC_ERROR_TARGET_DEAD", e)
	}
	if n := statusField(t, b, "faulty", "restarts"); n != "0" {
		t.Errorf("faulty TA (restart: never) restarted %s times", n)
	}
	if c, err := net.Dial("unix", b.path("faulty", "faulty.sock")); err == nil {
		c.Close()
		t.Errorf("the faulty TA (restart: never) accepts connections after the secure world died")
	}
	for _, want := range []string{"secure world exited", "TEEC_ERROR_TARGET_DEAD"} {
		if !strings.Contains(b.log.String(), want) {
			t.Errorf("the log does not say %q", want)
		}
	}
	if took := b.stop(); b.err != nil {
		t.Errorf("tzbridge exit after %v: %v", took, b.err)
	}
	checkClean(t, b)
	checkNoNamespaces(t, "echo", "faulty")
}

// TestFaultSIGTERMUnderLoad: SIGTERM while ten CAs stream over TCP and
// UNIX sockets and one through the FIFO pair ends tzbridge with status
// 0, no process killed for want of stopping; every CA is told (its
// writes fail), and nothing is left behind.
func TestFaultSIGTERMUnderLoad(t *testing.T) {
	b := startEchoBridge(t, faultyConfig("always"), faultyReady)
	ss := append(startStreamers(t, b, 10, nil), startFIFOStreamer(t, b, nil))
	waitProgress(t, ss, 1<<20)
	took := b.stop()
	t.Logf("tzbridge exited %v after SIGTERM with %d CAs streaming", took.Round(time.Millisecond), len(ss))
	if b.err != nil {
		t.Errorf("tzbridge exit: %v", b.err)
	}
	checkStoppedInGrace(t, b)
	if took > time.Second && !t.Failed() {
		t.Logf("slow exit; the bridge's log:\n%s", b.log.String())
	}
	for _, s := range ss {
		s.checkCut(t)
	}
	checkClean(t, b)
	checkNoNamespaces(t, "echo", "faulty")
}

// TestFaultSupervisorKilled: after kill -9 of `tzbridge run`, the secure
// world dies with it, and a new `tzbridge run` on the same mount point
// clears the stale mount by itself and serves.
func TestFaultSupervisorKilled(t *testing.T) {
	b := startEchoBridge(t, echoConfig("%[1]s"), echoReady)
	// Whatever happens, do not leave the mount for the directory clean-up
	// to trip over.
	t.Cleanup(func() {
		for _, m := range mountsUnder(b.mount) {
			syscall.Unmount(m, syscall.MNT_DETACH)
		}
	})
	secureWorldPID(t, b) // there is one
	children := descendants(b.cmd.Process.Pid)
	idle, err := net.Dial("tcp", "127.0.0.1:7000")
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	b.cmd.Process.Kill()
	<-b.done
	// The secure world (and any shadow process) dies with the supervisor.
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range children {
		for !processGone(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("%s (pid %d) still running 5s after its supervisor was killed", procRole(pid), pid)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); !isConnEnd(err) {
		t.Errorf("a CA connected when the supervisor was killed: read %v, want EOF or reset", err)
	}
	stale := mountsUnder(b.mount)
	if len(stale) == 0 {
		t.Logf("no stale mount after kill -9 (the kernel cleared it); the restart below is then a plain start")
	} else {
		t.Logf("stale mount after kill -9: %v", stale)
	}

	// The same mount point, no clean-up by hand.
	b2 := startEchoBridge(t, echoConfig(b.mount), func(string) bool { return echoReady(b.mount) })
	b2.mount = b.mount
	if err := echotest.StreamEcho("unix", b.path("echo", "echo.sock"), echotest.Payload(1<<20)); err != nil {
		t.Errorf("UNIX echo on the reused mount: %v", err)
	}
	if err := echotest.StreamEcho("tcp", "127.0.0.1:7000", echotest.Payload(1<<20)); err != nil {
		t.Errorf("TCP echo after the restart: %v", err)
	}
	if n := len(mountsUnder(b.mount)); n != 1 {
		t.Errorf("%d mounts at %s while the new bridge runs, want 1: %v", n, b.mount, mountsUnder(b.mount))
	}
	if took := b2.stop(); b2.err != nil {
		t.Errorf("tzbridge exit after %v: %v", took, b2.err)
	}
	checkClean(t, b2)
	checkNoNamespaces(t, "echo")
}
