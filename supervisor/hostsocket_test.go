package supervisor

import (
	"errors"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/internal/control"
)

// A published bind is made by the supervisor, as root: a port below 1024
// must need privileged_ports, as the shadow's own bind would.
func TestHostSocketPrivilegedPort(t *testing.T) {
	if unix.Geteuid() != 0 {
		t.Skip("needs root to tell the check from the kernel's")
	}
	m := &control.Msg{Type: control.MsgBind, Network: "tcp", Addr: "127.0.0.1:1"}
	fd, err := hostSocket(m, true, false, false, 0)
	if err == nil {
		unix.Close(fd)
		t.Fatal("port 1 bound in the host namespace for a TA without privileged_ports")
	}
	if !errors.Is(err, unix.EACCES) {
		t.Fatalf("err = %v, want EACCES", err)
	}
	fd, err = hostSocket(m, true, false, true, 0)
	if err != nil {
		t.Fatalf("with privileged_ports: %v", err)
	}
	unix.Close(fd)
}

// A published bind is made by the supervisor, as root: it must not join
// the port of a host service, whatever options the service set (a port
// group of SO_REUSEPORT sockets of one owner; UDP sockets that all set
// SO_REUSEADDR) and whichever user the TA runs as.
func TestHostSocketNoPortGroup(t *testing.T) {
	if unix.Geteuid() != 0 {
		t.Skip("needs root")
	}
	tests := []struct {
		name    string
		network string
		typ     int
		opts    []int
	}{
		{"tcp SO_REUSEPORT", "tcp", unix.SOCK_STREAM, []int{unix.SO_REUSEPORT}},
		{"tcp SO_REUSEADDR+SO_REUSEPORT", "tcp", unix.SOCK_STREAM, []int{unix.SO_REUSEADDR, unix.SO_REUSEPORT}},
		{"udp SO_REUSEPORT", "udp", unix.SOCK_DGRAM, []int{unix.SO_REUSEPORT}},
		{"udp SO_REUSEADDR", "udp", unix.SOCK_DGRAM, []int{unix.SO_REUSEADDR}},
	}
	for _, tt := range tests {
		for _, uid := range []uint32{0, 65534} {
			t.Run(fmt.Sprintf("%s uid %d", tt.name, uid), func(t *testing.T) {
				addr := holdPort(t, tt.typ, tt.opts)
				m := &control.Msg{Type: control.MsgBind, Network: tt.network, Addr: addr}
				fd, err := hostSocket(m, true, false, false, uid)
				if err == nil {
					unix.Close(fd)
					t.Fatalf("the TA's socket shares %s://%s with a host service", tt.network, addr)
				}
				if !errors.Is(err, unix.EADDRINUSE) {
					t.Errorf("err = %v, want EADDRINUSE", err)
				}
				// The supervisor's threads keep their filesystem uid.
				if cur, _ := unix.SetfsuidRetUid(-1); cur != 0 {
					t.Errorf("fsuid %d after hostSocket, want 0", cur)
				}
			})
		}
	}
	// A free port the TA binds as usual, as its own user.
	free, err := hostSocket(&control.Msg{Type: control.MsgBind, Network: "tcp", Addr: "127.0.0.1:1"}, true, false, true, 65534)
	if err != nil {
		t.Fatalf("a free port for uid 65534: %v", err)
	}
	unix.Close(free)
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
