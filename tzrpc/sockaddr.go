package tzrpc

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Family is a sockaddr's family on the wire. It is deliberately not an AF_*
// number: the encoding is this protocol's own, never a raw struct sockaddr.
type Family uint16

// Sockaddr families.
const (
	FamilyInet  Family = 1
	FamilyInet6 Family = 2
	FamilyUnix  Family = 3
)

// Encoded sockaddr sizes.
const (
	SockaddrInetLen  = 8
	SockaddrInet6Len = 24
	sockaddrUnixHdr  = 6
	// MaxSockaddrLen is the longest encoding (a UNIX path of MaxUnixPath).
	MaxSockaddrLen = sockaddrUnixHdr + MaxUnixPath
)

// ErrBadSockaddr is wrapped by every sockaddr decoding or construction error.
var ErrBadSockaddr = errors.New("malformed sockaddr")

// Sockaddr is a socket address in the protocol's portable form: an IPv4 or
// IPv6 address and port, or a UNIX path. The zero Sockaddr is "no address"
// (encodes to nothing), which is what SENDTO without a destination and
// RECVFROM without a source carry.
//
// The UNIX path is held inline so that parsing allocates nothing.
type Sockaddr struct {
	family Family
	ap     netip.AddrPort // zone-less; the scope lives in scope
	scope  uint32
	plen   uint8
	path   [MaxUnixPath]byte
}

// Inet4Sockaddr is an IPv4 address and port.
func Inet4Sockaddr(addr [4]byte, port uint16) Sockaddr {
	return Sockaddr{family: FamilyInet, ap: netip.AddrPortFrom(netip.AddrFrom4(addr), port)}
}

// Inet6Sockaddr is an IPv6 address, port and scope id. A v4-mapped address
// stays IPv6: it is what an AF_INET6 socket sees, not an AF_INET one.
func Inet6Sockaddr(addr [16]byte, port uint16, scope uint32) Sockaddr {
	return Sockaddr{family: FamilyInet6, ap: netip.AddrPortFrom(netip.AddrFrom16(addr), port), scope: scope}
}

// InetSockaddr converts an AddrPort. Its zone, if any, must be a numeric
// scope id: interface names mean nothing on the other side of the bridge.
func InetSockaddr(ap netip.AddrPort) (Sockaddr, error) {
	a := ap.Addr()
	switch {
	case a.Is4():
		return Inet4Sockaddr(a.As4(), ap.Port()), nil
	case a.Is6():
		var scope uint64
		if z := a.Zone(); z != "" {
			var err error
			if scope, err = strconv.ParseUint(z, 10, 32); err != nil {
				return Sockaddr{}, fmt.Errorf("tzrpc: sockaddr %v: %w: zone must be a numeric scope id", ap, ErrBadSockaddr)
			}
		}
		return Inet6Sockaddr(a.As16(), ap.Port(), uint32(scope)), nil
	}
	return Sockaddr{}, fmt.Errorf("tzrpc: sockaddr: %w: invalid IP address", ErrBadSockaddr)
}

// UnixSockaddr is a UNIX socket path; "" is an unnamed socket. Abstract
// addresses (leading NUL) are not representable.
func UnixSockaddr(path string) (Sockaddr, error) {
	if len(path) > MaxUnixPath {
		return Sockaddr{}, fmt.Errorf("tzrpc: unix sockaddr: %w: path is %d bytes, max %d", ErrBadSockaddr, len(path), MaxUnixPath)
	}
	if strings.IndexByte(path, 0) >= 0 {
		return Sockaddr{}, fmt.Errorf("tzrpc: unix sockaddr: %w: path contains NUL", ErrBadSockaddr)
	}
	s := Sockaddr{family: FamilyUnix, plen: uint8(len(path))}
	copy(s.path[:], path)
	return s, nil
}

// Family is the address family, 0 for the zero Sockaddr.
func (s Sockaddr) Family() Family { return s.family }

// IsValid reports whether s holds an address.
func (s Sockaddr) IsValid() bool { return s.family != 0 }

// Addr is the IP address without zone (see Scope); invalid for UNIX.
func (s Sockaddr) Addr() netip.Addr { return s.ap.Addr() }

// Port is the IP port; 0 for UNIX.
func (s Sockaddr) Port() uint16 { return s.ap.Port() }

// Scope is the IPv6 scope id; 0 otherwise.
func (s Sockaddr) Scope() uint32 { return s.scope }

// AddrPort is the IP address and port, with the scope id as zone.
func (s Sockaddr) AddrPort() netip.AddrPort {
	if s.scope != 0 {
		return netip.AddrPortFrom(s.ap.Addr().WithZone(strconv.FormatUint(uint64(s.scope), 10)), s.ap.Port())
	}
	return s.ap
}

// Path is the UNIX path, "" when unnamed or not UNIX.
func (s Sockaddr) Path() string { return string(s.path[:s.plen]) }

// Len is the encoded length.
func (s Sockaddr) Len() int {
	switch s.family {
	case FamilyInet:
		return SockaddrInetLen
	case FamilyInet6:
		return SockaddrInet6Len
	case FamilyUnix:
		return sockaddrUnixHdr + int(s.plen)
	}
	return 0
}

// AppendTo appends the encoding of s to b. It cannot fail: every way to build
// a Sockaddr has already checked it.
func (s Sockaddr) AppendTo(b []byte) []byte {
	if s.family == 0 {
		return b
	}
	b = le.AppendUint16(b, uint16(s.family))
	b = le.AppendUint16(b, s.ap.Port())
	switch s.family {
	case FamilyInet:
		a := s.ap.Addr().As4()
		b = append(b, a[:]...)
	case FamilyInet6:
		a := s.ap.Addr().As16()
		b = append(b, a[:]...)
		b = le.AppendUint32(b, s.scope)
	case FamilyUnix:
		b = le.AppendUint16(b, uint16(s.plen))
		b = append(b, s.path[:s.plen]...)
	}
	return b
}

// Marshal returns the encoding of s in a new slice.
func (s Sockaddr) Marshal() []byte { return s.AppendTo(make([]byte, 0, s.Len())) }

func (s Sockaddr) String() string {
	switch s.family {
	case FamilyInet, FamilyInet6:
		return s.AddrPort().String()
	case FamilyUnix:
		if s.plen == 0 {
			return "unix:(unnamed)"
		}
		return "unix:" + s.Path()
	}
	return "(no address)"
}

// ParseSockaddr decodes one sockaddr at the start of b and returns how many
// bytes it used; callers that know the field's length must check it equals
// that. It is strict so that one address has one encoding.
func ParseSockaddr(b []byte) (Sockaddr, int, error) {
	if len(b) < 4 {
		return Sockaddr{}, 0, fmt.Errorf("tzrpc: sockaddr: %w: %d bytes, need at least 4", ErrBadSockaddr, len(b))
	}
	fam, port := Family(le.Uint16(b)), le.Uint16(b[2:])
	switch fam {
	case FamilyInet:
		if len(b) < SockaddrInetLen {
			return Sockaddr{}, 0, fmt.Errorf("tzrpc: inet sockaddr: %w: %d bytes, need %d", ErrBadSockaddr, len(b), SockaddrInetLen)
		}
		return Inet4Sockaddr([4]byte(b[4:8]), port), SockaddrInetLen, nil
	case FamilyInet6:
		if len(b) < SockaddrInet6Len {
			return Sockaddr{}, 0, fmt.Errorf("tzrpc: inet6 sockaddr: %w: %d bytes, need %d", ErrBadSockaddr, len(b), SockaddrInet6Len)
		}
		return Inet6Sockaddr([16]byte(b[4:20]), port, le.Uint32(b[20:])), SockaddrInet6Len, nil
	case FamilyUnix:
		if len(b) < sockaddrUnixHdr {
			return Sockaddr{}, 0, fmt.Errorf("tzrpc: unix sockaddr: %w: %d bytes, need %d", ErrBadSockaddr, len(b), sockaddrUnixHdr)
		}
		if port != 0 {
			return Sockaddr{}, 0, fmt.Errorf("tzrpc: unix sockaddr: %w: port field %d, must be 0", ErrBadSockaddr, port)
		}
		n := int(le.Uint16(b[4:]))
		if n > MaxUnixPath {
			return Sockaddr{}, 0, fmt.Errorf("tzrpc: unix sockaddr: %w: path length %d, max %d", ErrBadSockaddr, n, MaxUnixPath)
		}
		if len(b) < sockaddrUnixHdr+n {
			return Sockaddr{}, 0, fmt.Errorf("tzrpc: unix sockaddr: %w: path length %d, only %d bytes follow", ErrBadSockaddr, n, len(b)-sockaddrUnixHdr)
		}
		p := b[sockaddrUnixHdr : sockaddrUnixHdr+n]
		if bytes.IndexByte(p, 0) >= 0 {
			return Sockaddr{}, 0, fmt.Errorf("tzrpc: unix sockaddr: %w: path contains NUL", ErrBadSockaddr)
		}
		s := Sockaddr{family: FamilyUnix, plen: uint8(n)}
		copy(s.path[:], p)
		return s, sockaddrUnixHdr + n, nil
	}
	return Sockaddr{}, 0, fmt.Errorf("tzrpc: sockaddr: %w: unknown family %d", ErrBadSockaddr, uint16(fam))
}

// parseExactSockaddr parses a sockaddr that must fill b exactly.
func parseExactSockaddr(b []byte) (Sockaddr, error) {
	s, n, err := ParseSockaddr(b)
	if err != nil {
		return Sockaddr{}, err
	}
	if n != len(b) {
		return Sockaddr{}, fmt.Errorf("tzrpc: sockaddr: %w: %d trailing bytes", ErrBadSockaddr, len(b)-n)
	}
	return s, nil
}
