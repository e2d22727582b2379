package shadow

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	. "github.com/tzmediator/tzbridge/tzrpc"
)

// newHookedTA is newTA with the Config hooks set.
func newHookedTA(t *testing.T, bind func(string, netip.AddrPort) (int, error), connect func(string, netip.AddrPort) (int, error)) *testTA {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Name: "test", Root: root, BindInet: bind, ConnectInet: connect})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return &testTA{t: t, s: s, root: root, mb: make([]byte, DefaultMailbox), ctx: ctx}
}

// TestBindElsewhere: a bind the hook serves gives the TA the hook's
// (listening) socket; one it declines binds as usual; its error is the
// TA's errno.
func TestBindElsewhere(t *testing.T) {
	host, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	hf, err := host.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer hf.Close()
	var asked []string
	bind := func(network string, addr netip.AddrPort) (int, error) {
		asked = append(asked, network+" "+addr.String())
		switch addr.Port() {
		case 5555:
			return unix.Dup(int(hf.Fd()))
		case 5556:
			return -1, unix.EADDRINUSE
		}
		return -1, nil
	}
	a := newHookedTA(t, bind, nil)
	l := a.ok(OpSocket, args(AF_INET, SOCK_STREAM), nil)
	a.ok(OpBind, args(l), inetAddr(t, "127.0.0.1:5555"))
	a.ok(OpListen, args(l, 8), nil)
	if sa := parseAddr(t, a.call(OpGetsockname, args(l), nil).Payload); int(sa.Port()) != host.Addr().(*net.TCPAddr).Port {
		t.Errorf("getsockname %v, want the handed-over socket's %v", sa, host.Addr())
	}
	ca, err := net.Dial("tcp", host.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	c := a.ok(OpAccept, args(l, 0), nil)
	a.ok(OpWrite, args(c), []byte("hi"))
	buf := make([]byte, 2)
	ca.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := ca.Read(buf); err != nil || string(buf) != "hi" {
		t.Errorf("CA got %q, %v", buf, err)
	}

	u := a.ok(OpSocket, args(AF_INET, SOCK_DGRAM), nil)
	a.fails(EADDRINUSE, OpBind, args(u), inetAddr(t, "127.0.0.1:5556"))
	a.ok(OpBind, args(u), inetAddr(t, "127.0.0.1:0")) // declined: bound here
	if len(asked) != 3 || asked[1] != "udp 127.0.0.1:5556" {
		t.Errorf("hook asked %q", asked)
	}
	// UNIX binds never reach the hook.
	x := a.ok(OpSocket, args(AF_UNIX, SOCK_STREAM), nil)
	a.ok(OpBind, args(x), unixAddr(t, "/x.sock"))
	if len(asked) != 3 {
		t.Errorf("hook asked about a UNIX bind: %q", asked)
	}
}

// TestConnectElsewhere: the hook's socket takes the place of an unbound
// TA socket for connect, with the TA's options; a bound one keeps its own.
func TestConnectElsewhere(t *testing.T) {
	host, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	peers := make(chan string, 4)
	go func() {
		for {
			c, err := host.Accept()
			if err != nil {
				return
			}
			peers <- c.RemoteAddr().(*net.TCPAddr).IP.String()
			c.Close()
		}
	}()
	calls := 0
	connect := func(network string, addr netip.AddrPort) (int, error) {
		calls++
		// Marked by its source address, so the test can tell it was used.
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return -1, err
		}
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 2}}); err != nil {
			unix.Close(fd)
			return -1, err
		}
		return fd, nil
	}
	a := newHookedTA(t, nil, connect)
	dest := inetAddr(t, host.Addr().String())

	c := a.ok(OpSocket, args(AF_INET, SOCK_STREAM), nil)
	a.ok(OpSetsockopt, args(c, TCP_NODELAY, 1), nil)
	a.ok(OpConnect, args(c), dest)
	if got := <-peers; got != "127.0.0.2" {
		t.Errorf("peer %s, want the hook's socket (127.0.0.2)", got)
	}
	if v := a.ok(OpGetsockopt, args(c, TCP_NODELAY), nil); v != 1 {
		t.Errorf("TCP_NODELAY %d after the swap, want the TA's 1", v)
	}

	b := a.ok(OpSocket, args(AF_INET, SOCK_STREAM), nil)
	a.ok(OpBind, args(b), inetAddr(t, "127.0.0.1:0"))
	a.ok(OpConnect, args(b), dest)
	if got := <-peers; got != "127.0.0.1" {
		t.Errorf("bound socket: peer %s, want its own 127.0.0.1", got)
	}
	if calls != 1 {
		t.Errorf("hook called %d times, want 1", calls)
	}

	refuse := newHookedTA(t, nil, func(string, netip.AddrPort) (int, error) { return -1, errors.New("no") })
	r := refuse.ok(OpSocket, args(AF_INET, SOCK_STREAM), nil)
	refuse.fails(EACCES, OpConnect, args(r), dest)
}

// TestHostNamespacePortGroup: a shadow in the host's namespace keeps a
// TA's SO_REUSEPORT, and its SO_REUSEADDR on UDP, from the kernel socket,
// so the TA's bind to a host service's port fails with EADDRINUSE however
// the service set its options; the TA reads back what it set. In a
// namespace of its own (the contrast) the options reach the socket and
// the same bind joins the service's port.
func TestHostNamespacePortGroup(t *testing.T) {
	tests := []struct {
		name    string
		typ     int64
		hostTyp int
		opts    []int // the host service's
	}{
		{"tcp SO_REUSEPORT", SOCK_STREAM, unix.SOCK_STREAM, []int{unix.SO_REUSEPORT}},
		{"udp SO_REUSEPORT", SOCK_DGRAM, unix.SOCK_DGRAM, []int{unix.SO_REUSEPORT}},
		{"udp SO_REUSEADDR", SOCK_DGRAM, unix.SOCK_DGRAM, []int{unix.SO_REUSEADDR}},
	}
	for _, tt := range tests {
		for _, hostNS := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s hostNS=%v", tt.name, hostNS), func(t *testing.T) {
				addr := holdPort(t, tt.hostTyp, tt.opts)
				a := newTA(t, options{hostNS: hostNS})
				s := a.ok(OpSocket, args(AF_INET, tt.typ), nil)
				for _, o := range []int64{SO_REUSEADDR, SO_REUSEPORT} {
					a.ok(OpSetsockopt, args(s, o, 1), nil)
					if v := a.ok(OpGetsockopt, args(s, o), nil); v != 1 {
						t.Errorf("option %d reads %d after setting it", o, v)
					}
				}
				r := a.call(OpBind, args(s), inetAddr(t, addr))
				switch {
				case hostNS && r.Errno != EADDRINUSE:
					t.Errorf("bind over a host service's %s: errno %v, want EADDRINUSE", addr, r.Errno)
				case !hostNS && r.Errno != 0:
					t.Errorf("contrast: bind in a namespace that applies the options: %v, want success", r.Errno)
				}
				a.ok(OpSetsockopt, args(s, SO_REUSEPORT, 0), nil)
				if v := a.ok(OpGetsockopt, args(s, SO_REUSEPORT), nil); v != 0 {
					t.Errorf("SO_REUSEPORT reads %d after clearing it", v)
				}
			})
		}
	}
}

// holdPort binds a host service's socket of type typ with options opts to
// a free port of 127.0.0.1 (a stream socket listens) and returns its
// address; the socket is closed at the end of the test.
func holdPort(t *testing.T, typ int, opts []int) string {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, o, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if typ == unix.SOCK_STREAM {
		if err := unix.Listen(fd, 1); err != nil {
			t.Fatal(err)
		}
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)
}
