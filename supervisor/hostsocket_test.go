package supervisor

import (
	"errors"
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
	fd, err := hostSocket(m, true, false, false)
	if err == nil {
		unix.Close(fd)
		t.Fatal("port 1 bound in the host namespace for a TA without privileged_ports")
	}
	if !errors.Is(err, unix.EACCES) {
		t.Fatalf("err = %v, want EACCES", err)
	}
	fd, err = hostSocket(m, true, false, true)
	if err != nil {
		t.Fatalf("with privileged_ports: %v", err)
	}
	unix.Close(fd)
}
