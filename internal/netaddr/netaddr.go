// Package netaddr is a socket address as the configuration writes one —
// tcp://IP:PORT, udp://IP:PORT or unix:/PATH — parsed once into its
// network and address, so that the packages that make the sockets (the
// wasm TA runtime, the supervisor) take it typed and need not know the
// configuration file.
package netaddr

import (
	"fmt"
	"net/netip"
	"path"
	"strings"
)

// Addr is a parsed address.
type Addr struct {
	// Network is "tcp", "udp" or "unix".
	Network string
	// Addr is IP:PORT for tcp and udp; for unix, a clean absolute path
	// (inside the TA's directory for a TA's own socket, a host path for
	// a proxy's listen address).
	Addr string
}

// Parse splits s into its network ("tcp", "udp" or "unix") and address
// ("127.0.0.1:7100", or a path for unix).
func Parse(s string) (Addr, error) {
	switch {
	case strings.HasPrefix(s, "tcp://"), strings.HasPrefix(s, "udp://"):
		network, addr := s[:3], s[6:]
		ap, err := netip.ParseAddrPort(addr)
		if err != nil || ap.Port() == 0 {
			return Addr{}, fmt.Errorf("%q: want %s://IP:PORT with a port, e.g. %s://127.0.0.1:7100", s, network, network)
		}
		return Addr{Network: network, Addr: addr}, nil
	case strings.HasPrefix(s, "unix:"):
		addr := strings.TrimPrefix(strings.TrimPrefix(s, "unix:"), "//")
		if !strings.HasPrefix(addr, "/") || path.Clean(addr) != addr || len(addr) > 107 {
			return Addr{}, fmt.Errorf("%q: want unix:/name.sock, a clean path inside the TA's directory", s)
		}
		return Addr{Network: "unix", Addr: addr}, nil
	}
	return Addr{}, fmt.Errorf("%q: want tcp://IP:PORT, udp://IP:PORT or unix:/PATH", s)
}

// String is a in the form Parse reads: tcp://IP:PORT, udp://IP:PORT or
// unix:/PATH.
func (a Addr) String() string {
	if a.Network == "unix" {
		return "unix:" + a.Addr
	}
	return a.Network + "://" + a.Addr
}
