//go:build !linux

package tzrpc

// Hosts without Linux sockets (wasip1 guests, which use only the protocol
// numbers) have no host columns: -1 matches no pair in SockoptFromHost.
const (
	hostSOL_SOCKET   = -1
	hostIPPROTO_TCP  = -1
	hostSO_REUSEADDR = -1
	hostSO_KEEPALIVE = -1
	hostSO_RCVBUF    = -1
	hostSO_SNDBUF    = -1
	hostTCP_NODELAY  = -1
	hostSO_ERROR     = -1
	hostSO_TYPE      = -1
	hostSO_BROADCAST = -1
	hostSO_REUSEPORT = -1
)
