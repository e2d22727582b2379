package tzrpc

import "golang.org/x/sys/unix"

// The host columns of the socket-option table. x/sys/unix rather than
// syscall, which lacks SO_REUSEPORT on some ports (amd64).
const (
	hostSOL_SOCKET   = unix.SOL_SOCKET
	hostIPPROTO_TCP  = unix.IPPROTO_TCP
	hostSO_REUSEADDR = unix.SO_REUSEADDR
	hostSO_KEEPALIVE = unix.SO_KEEPALIVE
	hostSO_RCVBUF    = unix.SO_RCVBUF
	hostSO_SNDBUF    = unix.SO_SNDBUF
	hostTCP_NODELAY  = unix.TCP_NODELAY
	hostSO_ERROR     = unix.SO_ERROR
	hostSO_TYPE      = unix.SO_TYPE
	hostSO_BROADCAST = unix.SO_BROADCAST
	hostSO_REUSEPORT = unix.SO_REUSEPORT
)
