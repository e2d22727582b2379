package test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// notifySocket is a service manager's notification socket, as systemd
// makes it for a Type=notify service.
type notifySocket struct {
	t    *testing.T
	addr string
	conn *net.UnixConn
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	// An abstract address, as systemd uses in containers and for user
	// services: the '@' form is the one most easily got wrong.
	addr := fmt.Sprintf("@tzbridge-e2e-notify-%d-%d", os.Getpid(), time.Now().UnixNano())
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &notifySocket{t: t, addr: addr, conn: conn}
}

// next returns the next notification's assignments, or nil after within.
func (s *notifySocket) next(within time.Duration) []string {
	s.t.Helper()
	buf := make([]byte, 4096)
	if err := s.conn.SetReadDeadline(time.Now().Add(within)); err != nil {
		s.t.Fatal(err)
	}
	n, err := s.conn.Read(buf)
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(buf[:n]), "\n"), "\n")
}

// waitFor reads notifications until one holds want, returning all read.
func (s *notifySocket) waitFor(want string, within time.Duration) (seen [][]string, ok bool) {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		a := s.next(time.Until(deadline))
		if a == nil {
			break
		}
		seen = append(seen, a)
		for _, x := range a {
			if x == want {
				return seen, true
			}
		}
	}
	return seen, false
}

// TestSystemdNotify runs tzbridge as systemd runs a Type=notify service:
// READY=1 must come only once every declared endpoint and proxy address
// exists, STATUS= must say how the TAs are, SIGHUP must bring RELOADING=1
// and then READY=1, and SIGTERM must bring STOPPING=1.
func TestSystemdNotify(t *testing.T) {
	dir := t.TempDir()
	mount := filepath.Join(dir, "tz")
	proxySock := filepath.Join(dir, "echo.sock")
	cfg := fmt.Sprintf(`mount: %s
tas:
  - name: echo
    uuid: %s
    builtin: echo
    proxies:
      - {listen: tcp://127.0.0.1:7000, to: tcp://127.0.0.1:7000}
      - {listen: unix:%s, to: unix:/echo.sock}
    endpoints:
      - {name: in, kind: fifo, mode: "0666"}
      - {name: out, kind: fifo, mode: "0666"}
`, mount, echoUUID, proxySock)
	cfgPath := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ns := listenNotify(t)

	b := launchBridge(t, mount, cfgPath, []string{"NOTIFY_SOCKET=" + ns.addr})

	seen, ok := ns.waitFor("READY=1", 20*time.Second)
	// Checked at once: were READY=1 sent early, some endpoint would
	// still be missing now.
	for _, fifo := range []string{"echo/in", "echo/out"} {
		fi, err := os.Lstat(filepath.Join(mount, fifo))
		if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
			t.Errorf("at READY=1, %s is not a FIFO: %v", fifo, err)
		}
	}
	// A unix proxy address is a link to the TA's socket node, which
	// appears when the TA binds it.
	if to, err := os.Readlink(proxySock); err != nil || to != filepath.Join(mount, "echo", "echo.sock") {
		t.Errorf("at READY=1, the unix proxy address %s is %q, %v; want a link into the tree", proxySock, to, err)
	}
	if c, err := net.DialTimeout("tcp", "127.0.0.1:7000", time.Second); err != nil {
		t.Errorf("at READY=1, the TCP proxy address refuses: %v", err)
	} else {
		c.Close()
	}
	if !ok {
		t.Fatalf("no READY=1; notifications: %q", seen)
	}
	for _, a := range seen {
		for _, x := range a {
			if x == "STOPPING=1" {
				t.Errorf("STOPPING=1 before any signal: %q", seen)
			}
		}
	}
	// The log agrees: the tree and proxies come first.
	log := b.log.String()
	ready := strings.Index(log, "ready: every TA's endpoints and listen sockets exist")
	for _, before := range []string{"TA tree mounted", "proxy address"} {
		if i := strings.Index(log, before); i < 0 || ready < 0 || i > ready {
			t.Errorf("log line %q is not before the ready line", before)
		}
	}

	if seen, ok := ns.waitFor("STATUS=1 TA running", 20*time.Second); !ok {
		t.Errorf("no STATUS=1 TA running; notifications: %q", seen)
	}

	// A reload (systemctl reload sends SIGHUP) is framed by RELOADING=1,
	// with the monotonic time systemd pairs it with, and READY=1.
	if err := b.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if seen, ok := ns.waitFor("RELOADING=1", 10*time.Second); !ok {
		t.Errorf("no RELOADING=1 after SIGHUP; notifications: %q", seen)
	} else if r := seen[len(seen)-1]; len(r) != 2 || !strings.HasPrefix(r[1], "MONOTONIC_USEC=") {
		t.Errorf("after SIGHUP: %q, want RELOADING=1 and MONOTONIC_USEC=", r)
	}
	if seen, ok := ns.waitFor("READY=1", 20*time.Second); !ok {
		t.Errorf("no READY=1 after the reload; notifications: %q", seen)
	}

	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if seen, ok := ns.waitFor("STOPPING=1", 10*time.Second); !ok {
		t.Errorf("no STOPPING=1 after SIGTERM; notifications: %q", seen)
	}
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		t.Fatal("tzbridge did not exit after SIGTERM")
	}
	if b.err != nil {
		t.Errorf("tzbridge exited with %v", b.err)
	}
}

// TestBadNotifySocket: a NOTIFY_SOCKET nobody listens on is an error at
// start, not a service manager waiting in vain for READY=1.
func TestBadNotifySocket(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfgPath, []byte(echoConfig(filepath.Join(t.TempDir(), "tz"))), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tzbridgeBin(), "run", "--config", cfgPath)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+filepath.Join(t.TempDir(), "nobody"))
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "sdnotify: connect to") {
		t.Errorf("tzbridge run with a dead NOTIFY_SOCKET: %v\n%s", err, out)
	}
}

// TestJournalLogs: with stderr connected to the journal (JOURNAL_STREAM
// names its device and inode), every line the bridge and its children
// write carries a syslog priority and no time; with the variable naming
// another stream, the logs are the usual ones.
func TestJournalLogs(t *testing.T) {
	for _, journal := range []bool{true, false} {
		t.Run(fmt.Sprintf("journal=%v", journal), func(t *testing.T) {
			dir := t.TempDir()
			cfgPath := filepath.Join(dir, "config.yaml")
			if err := os.WriteFile(cfgPath, []byte(echoConfig(filepath.Join(dir, "tz"))), 0o644); err != nil {
				t.Fatal(err)
			}
			stderr, err := os.Create(filepath.Join(dir, "stderr"))
			if err != nil {
				t.Fatal(err)
			}
			defer stderr.Close()
			var st syscall.Stat_t
			if err := syscall.Fstat(int(stderr.Fd()), &st); err != nil {
				t.Fatal(err)
			}
			ino := st.Ino
			if !journal {
				ino++ // the journal is some other stream
			}
			cmd := exec.Command(tzbridgeBin(), "run", "--config", cfgPath, "--log-level", "debug")
			cmd.Env = append(os.Environ(), fmt.Sprintf("JOURNAL_STREAM=%d:%d", st.Dev, ino))
			cmd.Stderr = stderr
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			read := func() string {
				b, err := os.ReadFile(stderr.Name())
				if err != nil {
					t.Fatal(err)
				}
				return string(b)
			}
			// Wait for the shadow's own records (relayed by the bridge)
			// as well as the bridge's, and for a debug record (the echo
			// TA binding its ports), which comes some time after.
			deadline := time.Now().Add(20 * time.Second)
			for time.Now().Before(deadline) {
				if l := read(); strings.Contains(l, "shadow starting") && strings.Contains(l, "level=DEBUG") {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("tzbridge: %v", err)
				}
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-done
				t.Error("tzbridge did not stop")
			}
			log := read()
			lines := strings.Split(strings.TrimSuffix(log, "\n"), "\n")
			if len(lines) < 5 || !strings.Contains(log, "shadow starting") {
				t.Fatalf("too little logged:\n%s", log)
			}
			for _, l := range lines {
				prefixed := len(l) > 3 && l[0] == '<' && strings.Contains("3467", l[1:2]) && l[2] == '>'
				stamped := strings.Contains(l, "time=")
				if prefixed != journal || stamped == journal {
					t.Errorf("line %q: priority prefix %v, time %v; want %v, %v", l, prefixed, stamped, journal, !journal)
				}
			}
			if journal && !strings.Contains(log, "<7>level=DEBUG") {
				t.Errorf("no debug record at priority 7:\n%s", log)
			}
		})
	}
}
