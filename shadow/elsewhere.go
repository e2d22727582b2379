package shadow

import (
	"errors"
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/tzrpc"
)

// Sockets made elsewhere. Config.BindInet and Config.ConnectInet let the
// caller put a socket from another network namespace — a proxy address or
// a host-access destination (package sockproxy) — in the place of the
// TA's. This file holds the swap (bindElsewhere, connectElsewhere,
// replaceSocket) and what it implies: the options a socket in the host's
// namespace keeps to itself (keptOption, Config.HostNamespace).

// inetNetwork names an INET socket's kind for the hooks.
func inetNetwork(d *desc) string {
	if d.sockType == tzrpc.SOCK_DGRAM {
		return "udp"
	}
	return "tcp"
}

// inetMatch reports whether sa is an INET address of d's family; other
// calls go their usual way (and fail there if they must).
func inetMatch(d *desc, sa tzrpc.Sockaddr) bool {
	switch d.domain {
	case tzrpc.AF_INET:
		return sa.Family() == tzrpc.FamilyInet
	case tzrpc.AF_INET6:
		return sa.Family() == tzrpc.FamilyInet6
	}
	return false
}

func inetAddrPort(sa tzrpc.Sockaddr) netip.AddrPort {
	return netip.AddrPortFrom(sa.Addr(), sa.Port())
}

// bindElsewhere asks Config.BindInet about an INET bind; handled reports
// whether it took the bind over, with r its result.
func (s *Shadow) bindElsewhere(d *desc, sa tzrpc.Sockaddr) (r result, handled bool) {
	if s.cfg.BindInet == nil || !inetMatch(d, sa) {
		return result{}, false
	}
	fd, err := s.cfg.BindInet(inetNetwork(d), inetAddrPort(sa))
	if err != nil {
		return fail(hookErrno(err)), true
	}
	if fd < 0 {
		return result{}, false
	}
	if e := s.replaceSocket(d, fd, false); e != 0 {
		return fail(e), true
	}
	s.log.Debug("bind served by a socket from elsewhere", "network", inetNetwork(d), "addr", inetAddrPort(sa))
	return ok(0), true
}

// connectElsewhere asks Config.ConnectInet about an INET connect of an
// unbound socket, and puts the socket it gives in place of d's.
func (s *Shadow) connectElsewhere(d *desc, sa tzrpc.Sockaddr) tzrpc.Errno {
	if s.cfg.ConnectInet == nil || !inetMatch(d, sa) {
		return 0
	}
	if usa, err := unix.Getsockname(d.fd); err == nil && boundInet(usa) {
		return 0
	}
	fd, err := s.cfg.ConnectInet(inetNetwork(d), inetAddrPort(sa))
	if err != nil {
		return hookErrno(err)
	}
	if fd < 0 {
		return 0
	}
	return s.replaceSocket(d, fd, true)
}

// boundInet reports whether an INET socket's own address has a port.
func boundInet(usa unix.Sockaddr) bool {
	switch a := usa.(type) {
	case *unix.SockaddrInet4:
		return a.Port != 0
	case *unix.SockaddrInet6:
		return a.Port != 0
	}
	return false
}

// copiedOptions are the options a TA may have set on its socket that a
// replacement for connect takes over.
var copiedOptions = [...]int64{tzrpc.SO_KEEPALIVE, tzrpc.SO_BROADCAST, tzrpc.TCP_NODELAY}

// replaceSocket puts fd, a host socket made O_NONBLOCK, in the place of
// d's socket, which is closed; copyOpts carries the TA's boolean options
// over. The options a host socket does not get (Config.HostNamespace) are
// remembered as the TA set them, so that getsockopt still reads them.
func (s *Shadow) replaceSocket(d *desc, fd int, copyOpts bool) tzrpc.Errno {
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return errno(err)
	}
	if !d.host {
		for _, opt := range [...]int64{tzrpc.SO_REUSEADDR, tzrpc.SO_REUSEPORT} {
			o, _ := tzrpc.LookupSockopt(opt)
			if v, err := unix.GetsockoptInt(d.fd, o.Level, o.Option); err == nil && v != 0 && keptOption(d, opt) {
				d.kept |= keptBit(opt)
			}
		}
		d.host = true
	}
	if copyOpts {
		for _, opt := range copiedOptions {
			o, _ := tzrpc.LookupSockopt(opt)
			if v, err := unix.GetsockoptInt(d.fd, o.Level, o.Option); err == nil && v != 0 {
				_ = unix.SetsockoptInt(fd, o.Level, o.Option, v)
			}
		}
	}
	unix.Close(d.fd)
	d.fd = fd
	return 0
}

// keptOption reports whether the shadow keeps option opt from host socket
// d (Config.HostNamespace): SO_REUSEPORT, and SO_REUSEADDR of a datagram
// socket. A TCP socket's SO_REUSEADDR never lets bind pass over a
// listening socket, so it reaches the kernel.
func keptOption(d *desc, opt int64) bool {
	return opt == tzrpc.SO_REUSEPORT || (opt == tzrpc.SO_REUSEADDR && d.sockType == tzrpc.SOCK_DGRAM)
}

// keptBit is opt's bit in desc.kept.
func keptBit(opt int64) uint8 {
	if opt == tzrpc.SO_REUSEPORT {
		return 2
	}
	return 1
}

// hookErrno is the errno a hook's error gives the TA.
func hookErrno(err error) tzrpc.Errno {
	var e unix.Errno
	if errors.As(err, &e) {
		return tzrpc.ErrnoFromSyscall(e)
	}
	return tzrpc.EACCES
}
