//go:build wasip1

// Package guest gives Go programs built for GOOS=wasip1 what WASI preview 1
// lacks when they run as TAs under tzbridge's WebAssembly host (package
// ta/wasm): creating sockets, binding, connecting, datagrams with
// addresses, socket options and FIFOs. It wraps the host's "tzposix"
// import module; with it a wasm TA can do everything a Go TA written
// against ta/tzposix can.
//
// The raw calls (Socket, Bind, Sendto, …) take and return descriptors of
// the guest and the tzrpc protocol's numbers and addresses; errors are
// syscall.Errno. The net-level helpers — ListenUDP, Listen, Dial,
// OpenFile — return ordinary net and os values that block only their own
// goroutine, because the descriptors are nonblocking and wait in Go's
// poller (poll_oneoff).
//
// Outside the host (wasmtime, wazero's own WASI) the tzposix module is
// missing and a program importing this package does not link.
package guest

import (
	"os"
	"path"
	"runtime"
	"strings"
	"syscall"
	"unsafe"

	"github.com/tzmediator/tzbridge/tzrpc"
)

// RootFD is the preopened directory that is the TA's root, "/".
const RootFD = 3

// Numbers the calls take: the tzrpc protocol's (docs/protocol.md §5).
const (
	AF_UNIX  = tzrpc.AF_UNIX
	AF_INET  = tzrpc.AF_INET
	AF_INET6 = tzrpc.AF_INET6

	SOCK_STREAM   = tzrpc.SOCK_STREAM
	SOCK_DGRAM    = tzrpc.SOCK_DGRAM
	SOCK_NONBLOCK = tzrpc.SOCK_NONBLOCK
	SOCK_CLOEXEC  = tzrpc.SOCK_CLOEXEC

	MSG_PEEK     = tzrpc.MSG_PEEK
	MSG_DONTWAIT = tzrpc.MSG_DONTWAIT
	MSG_WAITALL  = tzrpc.MSG_WAITALL
	MSG_NOSIGNAL = tzrpc.MSG_NOSIGNAL

	SO_REUSEADDR = tzrpc.SO_REUSEADDR
	SO_KEEPALIVE = tzrpc.SO_KEEPALIVE
	SO_RCVBUF    = tzrpc.SO_RCVBUF
	SO_SNDBUF    = tzrpc.SO_SNDBUF
	TCP_NODELAY  = tzrpc.TCP_NODELAY
	SO_ERROR     = tzrpc.SO_ERROR
	SO_TYPE      = tzrpc.SO_TYPE
	SO_BROADCAST = tzrpc.SO_BROADCAST
	SO_REUSEPORT = tzrpc.SO_REUSEPORT
)

//go:wasmimport tzposix socket
//go:noescape
func tzSocket(domain, typ int32, fd *int32) uint32

//go:wasmimport tzposix bind
//go:noescape
func tzBind(fd int32, addr *byte, addrLen uint32) uint32

//go:wasmimport tzposix connect
//go:noescape
func tzConnect(fd int32, addr *byte, addrLen uint32) uint32

//go:wasmimport tzposix listen
func tzListen(fd, backlog int32) uint32

//go:wasmimport tzposix sendto
//go:noescape
func tzSendto(fd int32, buf *byte, n uint32, flags int32, addr *byte, addrLen uint32, nsent *uint32) uint32

//go:wasmimport tzposix recvfrom
//go:noescape
func tzRecvfrom(fd int32, buf *byte, n uint32, flags int32, addr *byte, addrCap uint32, addrLen *uint32, nrecv *uint32) uint32

//go:wasmimport tzposix getsockname
//go:noescape
func tzGetsockname(fd int32, addr *byte, addrCap uint32, addrLen *uint32) uint32

//go:wasmimport tzposix getpeername
//go:noescape
func tzGetpeername(fd int32, addr *byte, addrCap uint32, addrLen *uint32) uint32

//go:wasmimport tzposix setsockopt
func tzSetsockopt(fd, opt, value int32) uint32

//go:wasmimport tzposix getsockopt
//go:noescape
func tzGetsockopt(fd, opt int32, value *int32) uint32

//go:wasmimport tzposix mkfifo
//go:noescape
func tzMkfifo(dirfd int32, path *byte, pathLen uint32, mode uint32) uint32

func errnoErr(e uint32) error {
	if e == 0 {
		return nil
	}
	return syscall.Errno(e)
}

// data is a pointer for a buffer argument; nil for an empty one.
func data(b []byte) *byte { return unsafe.SliceData(b) }

// Socket creates a socket: domain AF_UNIX, AF_INET or AF_INET6; typ
// SOCK_STREAM or SOCK_DGRAM, optionally or'ed with SOCK_NONBLOCK.
func Socket(domain, typ int) (int, error) {
	var fd int32
	if e := tzSocket(int32(domain), int32(typ), &fd); e != 0 {
		return -1, errnoErr(e)
	}
	return int(fd), nil
}

// Bind binds fd to sa.
func Bind(fd int, sa tzrpc.Sockaddr) error {
	b := sa.Marshal()
	e := tzBind(int32(fd), data(b), uint32(len(b)))
	runtime.KeepAlive(b)
	return errnoErr(e)
}

// Connect connects fd to sa; on a nonblocking socket it fails with
// EINPROGRESS, after which wait for writability and read SO_ERROR.
func Connect(fd int, sa tzrpc.Sockaddr) error {
	b := sa.Marshal()
	e := tzConnect(int32(fd), data(b), uint32(len(b)))
	runtime.KeepAlive(b)
	return errnoErr(e)
}

// ListenFD marks the stream socket fd as accepting connections (listen(2));
// accept them with net.FileListener or syscall.Accept. Listen does it all.
func ListenFD(fd, backlog int) error { return errnoErr(tzListen(int32(fd), int32(backlog))) }

// Sendto sends p to sa (the zero Sockaddr: the connected peer).
func Sendto(fd int, p []byte, flags int, to tzrpc.Sockaddr) (int, error) {
	var ab [tzrpc.MaxSockaddrLen]byte
	addr := to.AppendTo(ab[:0])
	var n uint32
	e := tzSendto(int32(fd), data(p), uint32(len(p)), int32(flags), data(addr), uint32(len(addr)), &n)
	runtime.KeepAlive(p)
	return int(n), errnoErr(e)
}

// Recvfrom receives into p and reports the sender (the zero Sockaddr for
// a stream socket). A datagram larger than p is truncated.
func Recvfrom(fd int, p []byte, flags int) (int, tzrpc.Sockaddr, error) {
	var ab [tzrpc.MaxSockaddrLen]byte
	var alen, n uint32
	e := tzRecvfrom(int32(fd), data(p), uint32(len(p)), int32(flags), &ab[0], uint32(len(ab)), &alen, &n)
	runtime.KeepAlive(p)
	if e != 0 {
		return 0, tzrpc.Sockaddr{}, errnoErr(e)
	}
	sa, err := parseAddr(ab[:], alen)
	return int(n), sa, err
}

func parseAddr(ab []byte, n uint32) (tzrpc.Sockaddr, error) {
	if n == 0 {
		return tzrpc.Sockaddr{}, nil
	}
	if n > uint32(len(ab)) {
		return tzrpc.Sockaddr{}, syscall.EIO
	}
	sa, used, err := tzrpc.ParseSockaddr(ab[:n])
	if err != nil || used != int(n) {
		return tzrpc.Sockaddr{}, syscall.EIO
	}
	return sa, nil
}

// Getsockname returns the address fd is bound to.
func Getsockname(fd int) (tzrpc.Sockaddr, error) { return name(fd, tzGetsockname) }

// Getpeername returns the address fd is connected to.
func Getpeername(fd int) (tzrpc.Sockaddr, error) { return name(fd, tzGetpeername) }

func name(fd int, call func(int32, *byte, uint32, *uint32) uint32) (tzrpc.Sockaddr, error) {
	var ab [tzrpc.MaxSockaddrLen]byte
	var alen uint32
	if e := call(int32(fd), &ab[0], uint32(len(ab)), &alen); e != 0 {
		return tzrpc.Sockaddr{}, errnoErr(e)
	}
	return parseAddr(ab[:], alen)
}

// SetsockoptInt sets a socket option (SO_REUSEADDR, TCP_NODELAY, …).
func SetsockoptInt(fd, opt, value int) error {
	return errnoErr(tzSetsockopt(int32(fd), int32(opt), int32(value)))
}

// GetsockoptInt reads a socket option; SO_ERROR reads back a
// syscall.Errno number (0 for none).
func GetsockoptInt(fd, opt int) (int, error) {
	var v int32
	if e := tzGetsockopt(int32(fd), int32(opt), &v); e != 0 {
		return 0, errnoErr(e)
	}
	return int(v), nil
}

// Mkfifo creates a named pipe at path in the TA's tree (relative paths
// start at the working directory, as with os).
func Mkfifo(path string, mode uint32) error {
	rel := rootRelative(path)
	e := tzMkfifo(RootFD, unsafe.StringData(rel), uint32(len(rel)), mode)
	runtime.KeepAlive(rel)
	return errnoErr(e)
}

// rootRelative turns a path into one relative to RootFD, as Go's own
// wasip1 port does for the os package.
func rootRelative(p string) string {
	if !path.IsAbs(p) {
		wd, err := os.Getwd()
		if err != nil {
			wd = "/"
		}
		p = path.Join(wd, p)
	}
	rel := strings.TrimLeft(path.Clean(p), "/")
	if rel == "" {
		rel = "."
	}
	return rel
}
