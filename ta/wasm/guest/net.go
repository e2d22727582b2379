//go:build wasip1

package guest

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"github.com/tzmediator/tzbridge/tzrpc"
)

// backlog is what Listen asks for; the kernel clamps it to somaxconn.
const backlog = 1024

// resolve parses a "host:port" IP address (no name lookup: a TA has no
// resolver) or, for "unix", a path in the TA's tree.
func resolve(network, address string) (int, tzrpc.Sockaddr, error) {
	switch network {
	case "unix", "unixgram":
		sa, err := tzrpc.UnixSockaddr(address)
		return AF_UNIX, sa, err
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return 0, tzrpc.Sockaddr{}, fmt.Errorf("address %q: want IP:port: %w", address, err)
		}
		sa, err := tzrpc.InetSockaddr(ap)
		if err != nil {
			return 0, tzrpc.Sockaddr{}, err
		}
		if ap.Addr().Is4() {
			return AF_INET, sa, nil
		}
		return AF_INET6, sa, nil
	}
	return 0, tzrpc.Sockaddr{}, net.UnknownNetworkError(network)
}

// stream reports whether network names a stream socket.
func stream(network string) bool {
	switch network {
	case "tcp", "tcp4", "tcp6", "unix":
		return true
	}
	return false
}

// netAddr converts a protocol address for the net package.
func netAddr(network string, sa tzrpc.Sockaddr) net.Addr {
	switch sa.Family() {
	case tzrpc.FamilyInet, tzrpc.FamilyInet6:
		if network == "udp" {
			return net.UDPAddrFromAddrPort(sa.AddrPort())
		}
		return net.TCPAddrFromAddrPort(sa.AddrPort())
	case tzrpc.FamilyUnix:
		return &net.UnixAddr{Name: sa.Path(), Net: network}
	}
	return nil
}

// socket makes a nonblocking socket bound to sa (with SO_REUSEADDR for IP).
func socket(domain, typ int, sa tzrpc.Sockaddr) (int, error) {
	fd, err := Socket(domain, typ|SOCK_NONBLOCK)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if domain != AF_UNIX {
		if err := SetsockoptInt(fd, SO_REUSEADDR, 1); err != nil {
			syscall.Close(fd)
			return -1, os.NewSyscallError("setsockopt", err)
		}
	}
	if err := Bind(fd, sa); err != nil {
		syscall.Close(fd)
		return -1, os.NewSyscallError("bind", err)
	}
	return fd, nil
}

// Listen listens on a stream socket: network "tcp", "tcp4", "tcp6" (address
// IP:port) or "unix" (a path in the TA's tree, which must not exist yet).
func Listen(network, address string) (net.Listener, error) {
	if !stream(network) {
		return nil, &net.OpError{Op: "listen", Net: network, Err: net.UnknownNetworkError(network)}
	}
	domain, sa, err := resolve(network, address)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	fd, err := socket(domain, SOCK_STREAM, sa)
	if err == nil {
		if lerr := ListenFD(fd, backlog); lerr != nil {
			syscall.Close(fd)
			err = os.NewSyscallError("listen", lerr)
		}
	}
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Addr: netAddr(network, sa), Err: err}
	}
	laddr := netAddr(network, sa)
	if got, err := Getsockname(fd); err == nil {
		laddr = netAddr(network, got) // the port chosen for port 0
	}
	f := os.NewFile(uintptr(fd), network+":"+address)
	l, err := net.FileListener(f)
	f.Close() // the listener holds its own reference
	if err != nil {
		return nil, err
	}
	return &listener{Listener: l, addr: laddr}, nil
}

// listener reports the address it really listens on: Go's wasip1 port
// cannot ask (it has no getsockname) and says 0.0.0.0:0.
type listener struct {
	net.Listener
	addr net.Addr
}

func (l *listener) Addr() net.Addr { return l.addr }

// Dial connects a stream socket: "tcp", "tcp4", "tcp6" to IP:port, or
// "unix" to a path in the TA's tree. Waiting for the connection blocks
// only the calling goroutine.
func Dial(network, address string) (net.Conn, error) {
	if !stream(network) {
		return nil, &net.OpError{Op: "dial", Net: network, Err: net.UnknownNetworkError(network)}
	}
	domain, sa, err := resolve(network, address)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	c, err := dial(domain, sa)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Addr: netAddr(network, sa), Err: err}
	}
	return c, nil
}

func dial(domain int, sa tzrpc.Sockaddr) (net.Conn, error) {
	fd, err := Socket(domain, SOCK_STREAM|SOCK_NONBLOCK)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	f := os.NewFile(uintptr(fd), "dial")
	defer f.Close() // the connection holds its own reference
	if err := Connect(fd, sa); err != nil {
		if !errors.Is(err, syscall.EINPROGRESS) {
			return nil, os.NewSyscallError("connect", err)
		}
		rc, err := f.SyscallConn()
		if err != nil {
			return nil, err
		}
		// The first call only arms the wait for writability.
		first := true
		if err := rc.Write(func(uintptr) bool {
			done := !first
			first = false
			return done
		}); err != nil {
			return nil, err
		}
		soerr, err := GetsockoptInt(fd, SO_ERROR)
		if err != nil {
			return nil, os.NewSyscallError("getsockopt", err)
		}
		if soerr != 0 {
			return nil, os.NewSyscallError("connect", syscall.Errno(soerr))
		}
	}
	return net.FileConn(f)
}

// PacketConn is a datagram socket as a net.PacketConn: ReadFrom and
// WriteTo wait in Go's poller, deadlines work.
type PacketConn struct {
	f     *os.File
	rc    syscall.RawConn
	laddr net.Addr
}

var _ net.PacketConn = (*PacketConn)(nil)

// ListenUDP makes a UDP socket bound to address ("127.0.0.1:7101"; port 0
// picks one).
func ListenUDP(address string) (*PacketConn, error) {
	domain, sa, err := resolve("udp", address)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: "udp", Err: err}
	}
	fd, err := socket(domain, SOCK_DGRAM, sa)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: "udp", Addr: netAddr("udp", sa), Err: err}
	}
	return NewPacketConn(fd)
}

// NewPacketConn wraps a datagram socket descriptor — one made with Socket,
// or one preopened from the TA's listen list — and takes ownership of it.
func NewPacketConn(fd int) (*PacketConn, error) {
	if err := syscall.SetNonblock(fd, true); err != nil {
		return nil, os.NewSyscallError("setnonblock", err)
	}
	var laddr net.Addr
	if sa, err := Getsockname(fd); err == nil {
		laddr = netAddr("udp", sa)
	}
	f := os.NewFile(uintptr(fd), "udp")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &PacketConn{f: f, rc: rc, laddr: laddr}, nil
}

func (c *PacketConn) opError(op string, addr net.Addr, err error) error {
	return &net.OpError{Op: op, Net: "udp", Source: c.laddr, Addr: addr, Err: err}
}

// ReadFromUDPAddrPort reads one datagram and its sender.
func (c *PacketConn) ReadFromUDPAddrPort(p []byte) (int, netip.AddrPort, error) {
	var n int
	var from tzrpc.Sockaddr
	var err error
	rerr := c.rc.Read(func(fd uintptr) bool {
		n, from, err = Recvfrom(int(fd), p, 0)
		return !errors.Is(err, syscall.EAGAIN)
	})
	if rerr == nil {
		rerr = err
	}
	if rerr != nil {
		return 0, netip.AddrPort{}, c.opError("read", nil, rerr)
	}
	return n, from.AddrPort(), nil
}

// ReadFrom implements net.PacketConn.
func (c *PacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, ap, err := c.ReadFromUDPAddrPort(p)
	if err != nil {
		return 0, nil, err
	}
	return n, net.UDPAddrFromAddrPort(ap), nil
}

// WriteToUDPAddrPort sends p as one datagram to addr.
func (c *PacketConn) WriteToUDPAddrPort(p []byte, addr netip.AddrPort) (int, error) {
	sa, err := tzrpc.InetSockaddr(addr)
	if err != nil {
		return 0, c.opError("write", net.UDPAddrFromAddrPort(addr), err)
	}
	var n int
	werr := c.rc.Write(func(fd uintptr) bool {
		n, err = Sendto(int(fd), p, 0, sa)
		return !errors.Is(err, syscall.EAGAIN)
	})
	if werr == nil {
		werr = err
	}
	if werr != nil {
		return 0, c.opError("write", net.UDPAddrFromAddrPort(addr), werr)
	}
	return n, nil
}

// WriteTo implements net.PacketConn; addr is a *net.UDPAddr.
func (c *PacketConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, c.opError("write", addr, syscall.EINVAL)
	}
	return c.WriteToUDPAddrPort(p, ua.AddrPort())
}

// Close closes the socket.
func (c *PacketConn) Close() error { return c.f.Close() }

// LocalAddr is the address the socket is bound to.
func (c *PacketConn) LocalAddr() net.Addr { return c.laddr }

// SetDeadline sets the read and write deadlines.
func (c *PacketConn) SetDeadline(t time.Time) error { return c.f.SetDeadline(t) }

// SetReadDeadline sets the deadline for ReadFrom.
func (c *PacketConn) SetReadDeadline(t time.Time) error { return c.f.SetReadDeadline(t) }

// SetWriteDeadline sets the deadline for WriteTo.
func (c *PacketConn) SetWriteDeadline(t time.Time) error { return c.f.SetWriteDeadline(t) }

// O_NONBLOCK is a flag for OpenFile: the os package on wasip1 has none.
// It makes the open itself nonblocking (a FIFO opened for writing without
// a reader fails with ENXIO instead of waiting, stalling every goroutine).
const O_NONBLOCK = 0x800

//go:wasmimport wasi_snapshot_preview1 path_open
//go:noescape
func pathOpen(dirfd int32, dirflags uint32, path *byte, pathLen uint32, oflags uint32, rightsBase, rightsInheriting uint64, fdflags uint32, fd *int32) uint32

// WASI bits for pathOpen.
const (
	oflagCreat     = 0x1
	oflagExcl      = 0x4
	oflagTrunc     = 0x8
	fdflagAppend   = 0x1
	fdflagNonblock = 0x4
	rightFdRead    = 1 << 1
	rightFdWrite   = 1 << 6
	lookupFollow   = 0x1
)

// OpenFile is os.OpenFile that also takes O_NONBLOCK. Without it, it is
// os.OpenFile.
func OpenFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	if flag&O_NONBLOCK == 0 {
		return os.OpenFile(name, flag, perm)
	}
	var oflags, fdflags uint32 = 0, fdflagNonblock
	var rights uint64
	switch flag & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR) {
	case os.O_RDONLY:
		rights = rightFdRead
	case os.O_WRONLY:
		rights = rightFdWrite
	default:
		rights = rightFdRead | rightFdWrite
	}
	if flag&os.O_CREATE != 0 {
		oflags |= oflagCreat
	}
	if flag&os.O_EXCL != 0 {
		oflags |= oflagExcl
	}
	if flag&os.O_TRUNC != 0 {
		oflags |= oflagTrunc
	}
	if flag&os.O_APPEND != 0 {
		fdflags |= fdflagAppend
	}
	rel := rootRelative(name)
	var fd int32
	e := pathOpen(RootFD, lookupFollow, unsafe.StringData(rel), uint32(len(rel)), oflags, rights, rights, fdflags, &fd)
	runtime.KeepAlive(rel)
	if e != 0 {
		return nil, &os.PathError{Op: "open", Path: name, Err: errnoErr(e)}
	}
	return os.NewFile(uintptr(fd), name), nil
}
