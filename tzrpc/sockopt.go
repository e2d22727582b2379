package tzrpc

// SockoptKind says which values a socket option takes.
type SockoptKind uint8

const (
	// SockoptBool is set with any int32, nonzero turning it on (as in C),
	// and reads back 0 or 1.
	SockoptBool SockoptKind = iota + 1
	// SockoptSize is a buffer size in bytes, 0..2^31−1 both ways.
	SockoptSize
	// SockoptErrno is get only: the socket's pending error as a tzrpc
	// errno, 0 for none.
	SockoptErrno
	// SockoptType is get only: SOCK_STREAM or SOCK_DGRAM.
	SockoptType
)

// Sockopt is one row of the protocol's socket-option table
// (docs/protocol.md §5.5): SETSOCKOPT's and GETSOCKOPT's args[1].
type Sockopt struct {
	Num  int64  // the protocol's number, with the level folded in
	Name string // the name docs/protocol.md gives it
	Kind SockoptKind
	// Level and Option are the host's setsockopt(2) pair for it; -1 on
	// hosts without Linux sockets (wasip1, where only the constants
	// matter).
	Level, Option int
}

// Settable reports whether SETSOCKOPT may set the option.
func (o Sockopt) Settable() bool { return o.Kind == SockoptBool || o.Kind == SockoptSize }

// sockopts is the table, indexed by protocol number (0 is no option). It
// is read only; every user of socket options (validators, shadow, TA
// libraries, wasm host) goes through LookupSockopt or SockoptFromHost.
var sockopts = [...]Sockopt{
	SO_REUSEADDR: {SO_REUSEADDR, "SO_REUSEADDR", SockoptBool, hostSOL_SOCKET, hostSO_REUSEADDR},
	SO_KEEPALIVE: {SO_KEEPALIVE, "SO_KEEPALIVE", SockoptBool, hostSOL_SOCKET, hostSO_KEEPALIVE},
	SO_RCVBUF:    {SO_RCVBUF, "SO_RCVBUF", SockoptSize, hostSOL_SOCKET, hostSO_RCVBUF},
	SO_SNDBUF:    {SO_SNDBUF, "SO_SNDBUF", SockoptSize, hostSOL_SOCKET, hostSO_SNDBUF},
	TCP_NODELAY:  {TCP_NODELAY, "TCP_NODELAY", SockoptBool, hostIPPROTO_TCP, hostTCP_NODELAY},
	SO_ERROR:     {SO_ERROR, "SO_ERROR", SockoptErrno, hostSOL_SOCKET, hostSO_ERROR},
	SO_TYPE:      {SO_TYPE, "SO_TYPE", SockoptType, hostSOL_SOCKET, hostSO_TYPE},
	SO_BROADCAST: {SO_BROADCAST, "SO_BROADCAST", SockoptBool, hostSOL_SOCKET, hostSO_BROADCAST},
	SO_REUSEPORT: {SO_REUSEPORT, "SO_REUSEPORT", SockoptBool, hostSOL_SOCKET, hostSO_REUSEPORT},
}

// LookupSockopt returns the row of protocol option num; false for a
// number the protocol does not define (ENOPROTOOPT).
func LookupSockopt(num int64) (Sockopt, bool) {
	if num <= 0 || num >= int64(len(sockopts)) {
		return Sockopt{}, false
	}
	return sockopts[num], true
}

// SockoptFromHost returns the row of the host's (level, option) pair, as
// a TA library written against syscall names it; false for a pair the
// protocol does not carry.
func SockoptFromHost(level, option int) (Sockopt, bool) {
	for _, o := range sockopts[1:] {
		if o.Level >= 0 && o.Level == level && o.Option == option {
			return o, true
		}
	}
	return Sockopt{}, false
}
