package tzposix

import (
	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/tzrpc"
)

// Flags and numbers TA code passes to Proc. They are the protocol's
// portable values (package tzrpc), which equal Linux's.
const (
	O_RDONLY    = tzrpc.O_RDONLY
	O_WRONLY    = tzrpc.O_WRONLY
	O_RDWR      = tzrpc.O_RDWR
	O_ACCMODE   = tzrpc.O_ACCMODE
	O_CREAT     = tzrpc.O_CREAT
	O_EXCL      = tzrpc.O_EXCL
	O_TRUNC     = tzrpc.O_TRUNC
	O_APPEND    = tzrpc.O_APPEND
	O_NONBLOCK  = tzrpc.O_NONBLOCK
	O_DIRECTORY = tzrpc.O_DIRECTORY
	O_CLOEXEC   = tzrpc.O_CLOEXEC

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

	SHUT_RD   = tzrpc.SHUT_RD
	SHUT_WR   = tzrpc.SHUT_WR
	SHUT_RDWR = tzrpc.SHUT_RDWR

	POLLIN   = tzrpc.POLLIN
	POLLPRI  = tzrpc.POLLPRI
	POLLOUT  = tzrpc.POLLOUT
	POLLERR  = tzrpc.POLLERR
	POLLHUP  = tzrpc.POLLHUP
	POLLNVAL = tzrpc.POLLNVAL
)

// Protocols for Socket's proto argument: the host's numbers, which are the
// same on every Linux port. Socket options have no constants here: name
// them with the host's own (syscall.SOL_SOCKET, unix.SO_REUSEPORT, …) for
// SetsockoptInt, or with the protocol's (tzrpc.SO_REUSEADDR, …) for
// SetSockopt; each name means one number.
const (
	IPPROTO_TCP = unix.IPPROTO_TCP
	IPPROTO_UDP = unix.IPPROTO_UDP
)
