package sockproxy

import (
	"errors"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// TestNoPortGroup: a proxy address (Listen) or a published one (Bind)
// whose port a host socket holds is EADDRINUSE, whatever the host socket
// set to invite others in; a free one binds, and a TCP one gets
// SO_REUSEADDR (TIME_WAIT) and never SO_REUSEPORT, a UDP one neither.
func TestNoPortGroup(t *testing.T) {
	tests := []struct {
		name      string
		network   string
		typ       int
		opts      []int // the host socket's
		reuseAddr int   // SO_REUSEADDR of a published socket
	}{
		{"tcp SO_REUSEPORT", "tcp", unix.SOCK_STREAM, []int{unix.SO_REUSEPORT}, 1},
		{"tcp both", "tcp", unix.SOCK_STREAM, []int{unix.SO_REUSEADDR, unix.SO_REUSEPORT}, 1},
		{"udp SO_REUSEADDR", "udp", unix.SOCK_DGRAM, []int{unix.SO_REUSEADDR}, 0},
		{"udp SO_REUSEPORT", "udp", unix.SOCK_DGRAM, []int{unix.SO_REUSEPORT}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			held := holdPort(t, tt.typ, tt.opts)
			if l, err := Listen(tt.network, held.String(), ""); !errors.Is(err, unix.EADDRINUSE) {
				if err == nil {
					l.Close()
				}
				t.Errorf("Listen over a held port: %v, want EADDRINUSE", err)
			}
			if fd, err := Bind(tt.network, held); !errors.Is(err, unix.EADDRINUSE) {
				if err == nil {
					unix.Close(fd)
				}
				t.Errorf("Bind over a held port: %v, want EADDRINUSE", err)
			}
			fd, err := Bind(tt.network, netip.MustParseAddrPort("127.0.0.1:0"))
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			for opt, want := range map[int]int{unix.SO_REUSEPORT: 0, unix.SO_REUSEADDR: tt.reuseAddr} {
				if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, opt); err != nil || v != want {
					t.Errorf("option %d of a published %s socket: %d, %v; want %d", opt, tt.network, v, err, want)
				}
			}
		})
	}
}

// holdPort binds a socket of type typ with options opts to a free port of
// 127.0.0.1 (a stream socket listens), for the test's duration.
func holdPort(t *testing.T, typ int, opts []int) netip.AddrPort {
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
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(sa.(*unix.SockaddrInet4).Port))
}
