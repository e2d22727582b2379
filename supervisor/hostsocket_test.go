package supervisor

import (
	"errors"
	"fmt"
	"testing"

	"golang.org/x/sys/unix"
)

// A published bind is made by the supervisor, as root: a port below 1024
// must need privileged_ports, as the shadow's own bind would.
func TestHostSocketPrivilegedPort(t *testing.T) {
	if unix.Geteuid() != 0 {
		t.Skip("needs root to tell the check from the kernel's")
	}
	m := &ctlMsg{Type: msgBind, Network: "tcp", Addr: "127.0.0.1:1"}
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

// A published bind is made by the supervisor, as root: with SO_REUSEPORT
// it must not join a port group of root's sockets (another TA's, or a
// host service's) for a TA that runs as another user.
func TestHostSocketReusePortOwner(t *testing.T) {
	if unix.Geteuid() != 0 {
		t.Skip("needs root")
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 1); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)
	m := &ctlMsg{Type: msgBind, Network: "tcp", Addr: addr, ReusePort: true}
	ta, err := hostSocket(m, true, false, false, 65534)
	if err == nil {
		unix.Close(ta)
		t.Fatal("a TA running as uid 65534 shares root's SO_REUSEPORT port")
	}
	if !errors.Is(err, unix.EADDRINUSE) {
		t.Errorf("err = %v, want EADDRINUSE", err)
	}
	// A free port it binds as usual, and the socket is its user's.
	free, err := hostSocket(&ctlMsg{Type: msgBind, Network: "tcp", Addr: "127.0.0.1:1", ReusePort: true}, true, false, true, 65534)
	if err != nil {
		t.Fatalf("a free port for uid 65534: %v", err)
	}
	unix.Close(free)
	// As root's own, it may.
	ta, err = hostSocket(m, true, false, false, 0)
	if err != nil {
		t.Fatalf("a root TA: %v", err)
	}
	unix.Close(ta)
	// The supervisor's threads keep their filesystem uid.
	if cur, _ := unix.SetfsuidRetUid(-1); cur != 0 {
		t.Errorf("fsuid %d after hostSocket, want 0", cur)
	}
}
