package sockproxy

import (
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// Handover gives a TA the proxy socket of the address it binds. The shadow
// process holds the proxy sockets it inherited and asks Bind at each bind
// of the TA's. A Handover is filled before use and then only read.
type Handover struct {
	routes []route
}

type route struct {
	network string // "tcp" or "udp"
	to      netip.AddrPort
	fd      int
}

// Add maps the TA address network/to ("tcp" or "udp") to the proxy socket
// fd, which the Handover does not own.
func (h *Handover) Add(network string, to netip.AddrPort, fd int) {
	h.routes = append(h.routes, route{network: network, to: unmap(to), fd: fd})
}

// Len is the number of addresses mapped.
func (h *Handover) Len() int { return len(h.routes) }

// Bind returns a new descriptor (O_CLOEXEC, O_NONBLOCK) of the proxy
// socket for a TA's bind of network/addr, or -1 when no proxy maps to that
// address. An address matches a proxy's "to" address when both are equal,
// or when the TA binds the unspecified address (0.0.0.0 or ::) of the same
// family with the same port.
func (h *Handover) Bind(network string, addr netip.AddrPort) (int, error) {
	addr = unmap(addr)
	for _, r := range h.routes {
		if r.network != network || r.to.Port() != addr.Port() {
			continue
		}
		a, to := addr.Addr(), r.to.Addr()
		if a == to || (a.IsUnspecified() && a.Is4() == to.Is4()) {
			return dupSocket(r.fd)
		}
	}
	return -1, nil
}

func unmap(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// dupSocket duplicates fd as O_CLOEXEC and O_NONBLOCK.
func dupSocket(fd int) (int, error) {
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("sockproxy: duplicate proxy socket: %w", err)
	}
	if err := unix.SetNonblock(nfd, true); err != nil {
		unix.Close(nfd)
		return -1, fmt.Errorf("sockproxy: proxy socket: %w", err)
	}
	return nfd, nil
}

// HostAccess decides which of a TA's connections are made from the host
// namespace, and makes their sockets there.
type HostAccess struct {
	all     bool
	allowed map[dest]bool
	socket  func(network string) (int, error)
}

type dest struct {
	network string
	addr    netip.AddrPort
}

// NewHostAccess lets the TA reach every destination (all) or those listed
// in dests ("tcp://IP:PORT" or "udp://IP:PORT") in the host namespace.
// socket makes a host socket for "tcp4", "tcp6", "udp4" or "udp6" (the
// shadow process asks its supervisor, see HostSocket).
func NewHostAccess(all bool, dests []string, socket func(network string) (int, error)) (*HostAccess, error) {
	h := &HostAccess{all: all, allowed: map[dest]bool{}, socket: socket}
	for _, d := range dests {
		var network, rest string
		switch {
		case len(d) > 6 && (d[:6] == "tcp://" || d[:6] == "udp://"):
			network, rest = d[:3], d[6:]
		default:
			return nil, fmt.Errorf("sockproxy: host access %q: want tcp://IP:PORT or udp://IP:PORT", d)
		}
		ap, err := netip.ParseAddrPort(rest)
		if err != nil {
			return nil, fmt.Errorf("sockproxy: host access %q: %w", d, err)
		}
		h.allowed[dest{network, unmap(ap)}] = true
	}
	return h, nil
}

// Connect returns a new host-namespace socket (O_CLOEXEC, O_NONBLOCK) for
// a TA's connect to network/addr ("tcp" or "udp"), or -1 when that
// destination stays in the TA's namespace.
func (h *HostAccess) Connect(network string, addr netip.AddrPort) (int, error) {
	if h == nil || !(h.all || h.allowed[dest{network, unmap(addr)}]) {
		return -1, nil
	}
	v := "4"
	if !addr.Addr().Unmap().Is4() {
		v = "6"
	}
	return h.socket(network + v)
}
