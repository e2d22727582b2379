// Package porttest holds a host service's port for the tests that check a
// TA's socket cannot join it (a port group of SO_REUSEPORT sockets, UDP
// sockets that all set SO_REUSEADDR). Only tests import it.
package porttest

import (
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// Hold binds a host service's socket of type typ (unix.SOCK_STREAM or
// unix.SOCK_DGRAM) with the SOL_SOCKET options opts set to 1 to a free port
// of 127.0.0.1 (a stream socket listens) and returns its address; the
// socket is closed at the end of the test.
func Hold(t testing.TB, typ int, opts []int) netip.AddrPort {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, o, 1); err != nil {
			t.Fatalf("option %d: %v", o, err)
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
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(sa.(*unix.SockaddrInet4).Port))
}
