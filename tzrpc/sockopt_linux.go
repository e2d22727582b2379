package tzrpc

import "golang.org/x/sys/unix"

// The host columns of the socket-option table: levels, then option names
// by level. x/sys/unix rather than syscall, which lacks SO_REUSEPORT on
// some ports (amd64).
const (
	hostSOL_SOCKET, hostIPPROTO_TCP = unix.SOL_SOCKET, unix.IPPROTO_TCP

	hostSO_REUSEADDR, hostSO_KEEPALIVE, hostSO_RCVBUF = unix.SO_REUSEADDR, unix.SO_KEEPALIVE, unix.SO_RCVBUF
	hostSO_SNDBUF, hostSO_ERROR, hostSO_TYPE          = unix.SO_SNDBUF, unix.SO_ERROR, unix.SO_TYPE
	hostSO_BROADCAST, hostSO_REUSEPORT                = unix.SO_BROADCAST, unix.SO_REUSEPORT

	hostTCP_NODELAY = unix.TCP_NODELAY
)
