package sockproxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
}

// testName is a namespace name no other test run uses at the same time.
func testName(t *testing.T) string {
	return fmt.Sprintf("tz-test%d-%s", os.Getpid(), strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")))
}

func TestNamespaceLifecycle(t *testing.T) {
	needRoot(t)
	name := testName(t)
	var logBuf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logBuf, nil))
	ns, err := CreateNamespace(name, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Delete() })

	// Only lo, and it is up.
	err = Do(name, func() error {
		ifs, err := net.Interfaces()
		if err != nil {
			return err
		}
		if len(ifs) != 1 || ifs[0].Name != "lo" || ifs[0].Flags&net.FlagUp == 0 {
			return fmt.Errorf("interfaces in the namespace: %+v, want lo, up", ifs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ip", "netns", "list").Output(); err == nil && !strings.Contains(string(out), name) {
		t.Errorf("ip netns list does not show %s:\n%s", name, out)
	}
	// Owned: a second creator is refused and leaves it alone.
	if _, err := CreateNamespace(name, log); err == nil || !strings.Contains(err.Error(), "another running process") {
		t.Errorf("second CreateNamespace: %v, want refused", err)
	}
	if _, err := os.Stat(ns.Path); err != nil {
		t.Fatalf("the refused second creator removed the namespace: %v", err)
	}
	if err := ns.Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(ns.Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Delete: %v, want gone", err)
	}
	if logBuf.Len() != 0 {
		t.Errorf("unexpected log: %s", logBuf.String())
	}
}

// TestStaleNamespaceRemoved: a namespace nobody owns (as a run killed with
// -9 leaves it) is replaced, with a log line.
func TestStaleNamespaceRemoved(t *testing.T) {
	needRoot(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip command")
	}
	name := testName(t)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", name).Run() })
	var logBuf bytes.Buffer
	ns, err := CreateNamespace(name, slog.New(slog.NewTextHandler(&logBuf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Delete()
	if !strings.Contains(logBuf.String(), "stale network namespace") {
		t.Errorf("no log line about the stale namespace: %q", logBuf.String())
	}
}

func TestHandoverBind(t *testing.T) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var h Handover
	h.Add("tcp", netip.MustParseAddrPort("127.0.0.1:7000"), fd)
	h.Add("udp", netip.MustParseAddrPort("[::1]:7001"), fd)
	tests := []struct {
		network, addr string
		match         bool
	}{
		{"tcp", "127.0.0.1:7000", true},
		{"tcp", "0.0.0.0:7000", true},
		{"tcp", "[::ffff:127.0.0.1]:7000", true},
		{"tcp", "127.0.0.2:7000", false},
		{"tcp", "127.0.0.1:7001", false},
		{"udp", "127.0.0.1:7000", false},
		{"udp", "[::1]:7001", true},
		{"udp", "[::]:7001", true},
		{"udp", "0.0.0.0:7001", false},
	}
	for _, tt := range tests {
		t.Run(tt.network+"/"+tt.addr, func(t *testing.T) {
			got, err := h.Bind(tt.network, netip.MustParseAddrPort(tt.addr))
			if err != nil {
				t.Fatal(err)
			}
			if got >= 0 {
				defer unix.Close(got)
				if fl, _ := unix.FcntlInt(uintptr(got), unix.F_GETFL, 0); fl&unix.O_NONBLOCK == 0 {
					t.Error("handed-over descriptor is blocking")
				}
			}
			if (got >= 0) != tt.match {
				t.Errorf("Bind = %d, want a match: %v", got, tt.match)
			}
		})
	}
}

func TestHostAccess(t *testing.T) {
	made := 0
	socket := func(network string) (int, error) {
		made++
		return 100, nil
	}
	tests := []struct {
		name    string
		all     bool
		dests   []string
		network string
		addr    string
		want    bool
	}{
		{"none", false, nil, "tcp", "127.0.0.1:5432", false},
		{"listed", false, []string{"tcp://127.0.0.1:5432"}, "tcp", "127.0.0.1:5432", true},
		{"other port", false, []string{"tcp://127.0.0.1:5432"}, "tcp", "127.0.0.1:5433", false},
		{"other network", false, []string{"tcp://127.0.0.1:5432"}, "udp", "127.0.0.1:5432", false},
		{"all", true, nil, "udp", "[::1]:53", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := NewHostAccess(tt.all, tt.dests, socket)
			if err != nil {
				t.Fatal(err)
			}
			fd, err := h.Connect(tt.network, netip.MustParseAddrPort(tt.addr))
			if err != nil || (fd >= 0) != tt.want {
				t.Errorf("Connect = %d, %v; want a host socket: %v", fd, err, tt.want)
			}
		})
	}
	if _, err := NewHostAccess(false, []string{"unix:/x"}, socket); err == nil {
		t.Error("NewHostAccess accepted a unix destination")
	}
}

// TestListenAndHandover: a TCP proxy socket made here and handed over
// serves a client; a UNIX proxy address is a link that connect follows.
func TestListenAndHandover(t *testing.T) {
	l, err := Listen("tcp", "127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sa, err := unix.Getsockname(int(l.File().Fd()))
	if err != nil {
		t.Fatal(err)
	}
	port := sa.(*unix.SockaddrInet4).Port
	var h Handover
	h.Add("tcp", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)), int(l.File().Fd()))
	fd, err := h.Bind("tcp", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)))
	if err != nil || fd < 0 {
		t.Fatalf("Bind: %d, %v", fd, err)
	}
	ln, err := net.FileListener(os.NewFile(uintptr(fd), "handed over"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.Copy(c, c)
			c.Close()
		}
	}()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("ping"))
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping" {
		t.Fatalf("echo through the handed-over socket: %q, %v", got, err)
	}

	dir := t.TempDir()
	target := filepath.Join(dir, "ta.sock")
	ul, err := net.Listen("unix", target)
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	link := filepath.Join(dir, "proxy.sock")
	os.Symlink(target, link) // an earlier run's, replaced
	pl, err := Listen("unix", link, target)
	if err != nil {
		t.Fatal(err)
	}
	uc, err := net.Dial("unix", link)
	if err != nil {
		t.Fatalf("connect through the UNIX proxy address: %v", err)
	}
	uc.Close()
	if err := pl.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(link); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("proxy link left after Close: %v", err)
	}
	if err := os.WriteFile(link, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen("unix", link, target); err == nil {
		t.Error("Listen replaced a regular file")
	}
}

// TestListenSocketNotPolled: the supervisor only passes proxy sockets on.
// One in its netpoller (an os.File made from an O_NONBLOCK descriptor)
// would wake it at every datagram the TA's shadow receives or sends on the
// shared socket.
// TestListenUnixLeavesOthersAlone: a UNIX proxy address replaces what an
// earlier run left there and nothing that belongs to someone else.
func TestListenUnixLeavesOthersAlone(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "ta.sock")
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string)
		replace bool
	}{
		{"nothing there", func(*testing.T, string) {}, true},
		{"a link to the same target", func(t *testing.T, path string) { os.Symlink(target, path) }, true},
		{"a socket nobody listens on", func(t *testing.T, path string) {
			l, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			l.(*net.UnixListener).SetUnlinkOnClose(false)
			l.Close()
		}, true},
		{"a link elsewhere", func(t *testing.T, path string) { os.Symlink("/run/other.sock", path) }, false},
		{"a socket a service listens on", func(t *testing.T, path string) {
			l, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
		}, false},
		{"a regular file", func(t *testing.T, path string) { os.WriteFile(path, nil, 0o600) }, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("proxy%d.sock", i))
			tt.prepare(t, path)
			before, _ := os.Lstat(path)
			l, err := Listen("unix", path, target)
			if tt.replace {
				if err != nil {
					t.Fatalf("Listen: %v", err)
				}
				if dest, err := os.Readlink(path); err != nil || dest != target {
					t.Errorf("proxy link %q, %v", dest, err)
				}
				l.Close()
				return
			}
			if err == nil {
				l.Close()
				t.Fatal("Listen replaced what is not an earlier run's")
			}
			t.Log(err)
			if after, _ := os.Lstat(path); after == nil || after.Mode() != before.Mode() {
				t.Errorf("%s changed", path)
			}
		})
	}
}

func TestListenSocketNotPolled(t *testing.T) {
	for _, network := range []string{"tcp", "udp"} {
		l, err := Listen(network, "127.0.0.1:0", "")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		rc, err := l.File().SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		flags := -1
		rc.Control(func(fd uintptr) { flags, _ = unix.FcntlInt(fd, unix.F_GETFL, 0) })
		if flags < 0 || flags&unix.O_NONBLOCK != 0 {
			t.Errorf("%s proxy socket flags %#x: want blocking, out of the netpoller", network, flags)
		}
	}
}
