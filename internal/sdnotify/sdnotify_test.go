package sdnotify

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// listen makes a notification socket like systemd's and returns its
// address and a function that reads the next datagram.
func listen(t *testing.T, abstract bool) (string, func() string) {
	t.Helper()
	addr := filepath.Join(t.TempDir(), "notify")
	if abstract {
		addr = fmt.Sprintf("@tzbridge-sdnotify-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return addr, func() string {
		t.Helper()
		buf := make([]byte, 4096)
		if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no notification: %v", err)
		}
		return string(buf[:n])
	}
}

func TestNotifications(t *testing.T) {
	tests := []struct {
		name string
		send func(*Notifier) error
		want string // a regexp for the whole datagram
	}{
		{"ready", (*Notifier).Ready, `READY=1\n`},
		{"stopping", (*Notifier).Stopping, `STOPPING=1\n`},
		{"reloading", (*Notifier).Reloading, `RELOADING=1\nMONOTONIC_USEC=[1-9][0-9]*\n`},
		{"status", func(n *Notifier) error { return n.Status("3 TAs running") }, `STATUS=3 TAs running\n`},
		{"status on one line", func(n *Notifier) error { return n.Status("a\nb") }, `STATUS=a b\n`},
		{"several at once", func(n *Notifier) error { return n.Notify("READY=1", "STATUS=up") }, `READY=1\nSTATUS=up\n`},
	}
	for _, abstract := range []bool{false, true} {
		addr, next := listen(t, abstract)
		n, err := Open(addr)
		if err != nil {
			t.Fatal(err)
		}
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/abstract=%v", tt.name, abstract), func(t *testing.T) {
				if err := tt.send(n); err != nil {
					t.Fatal(err)
				}
				if got := next(); !regexp.MustCompile(`^` + tt.want + `$`).MatchString(got) {
					t.Errorf("sent %q, want %s", got, tt.want)
				}
			})
		}
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	}
}

func TestBadAssignments(t *testing.T) {
	addr, _ := listen(t, false)
	n, err := Open(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	for _, a := range []string{"READY", "STATUS=a\nREADY=1"} {
		if err := n.Notify(a); err == nil {
			t.Errorf("Notify(%q) accepted", a)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	for _, addr := range []string{"relative/path", "vsock:2:1234", filepath.Join(t.TempDir(), "nobody-listens")} {
		if _, err := Open(addr); err == nil || !strings.Contains(err.Error(), addr) {
			t.Errorf("Open(%q): %v, want an error naming the address", addr, err)
		}
	}
}

// TestNilNotifier: without a service manager every call is a no-op.
func TestNilNotifier(t *testing.T) {
	t.Setenv(EnvSocket, "")
	n, err := FromEnv()
	if n != nil || err != nil {
		t.Fatalf("FromEnv with no socket = %v, %v; want nil, nil", n, err)
	}
	for _, f := range []func() error{n.Ready, n.Stopping, n.Reloading, func() error { return n.Status("x") }, n.Close} {
		if err := f(); err != nil {
			t.Error(err)
		}
	}
}

// TestFromEnvUnsets: children started after FromEnv do not inherit the
// socket.
func TestFromEnvUnsets(t *testing.T) {
	addr, next := listen(t, false)
	t.Setenv(EnvSocket, addr)
	n, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if v, ok := os.LookupEnv(EnvSocket); ok {
		t.Errorf("%s still set to %q", EnvSocket, v)
	}
	if err := n.Ready(); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "READY=1\n" {
		t.Errorf("sent %q", got)
	}
}
