package tzrpc

// Framing. The magics read as "TZRQ" and "TZRS" when the little-endian words
// are viewed as bytes, which makes mailbox dumps easy to read.
const (
	MagicRequest  uint32 = 0x51525A54
	MagicResponse uint32 = 0x53525A54
	Version       uint16 = 1
	HeaderSize           = 64
	// MinMailbox lets a single-page path (4095 bytes) always fit in one request.
	MinMailbox = 4096 + HeaderSize
	// DefaultMailbox is the size a shadow uses unless configured otherwise.
	DefaultMailbox = 256 << 10
)

// Limits of the protocol, shared by both sides' checks.
const (
	// FDLimit bounds descriptors: a valid descriptor is 0 <= fd < FDLimit.
	// Descriptors are the shadow's per-TA virtual numbers, never host fds.
	FDLimit = 1 << 30
	// MaxPath is the longest path in bytes (PATH_MAX without its NUL).
	MaxPath = 4095
	// MaxUnixPath is the longest UNIX socket path (sun_path without its NUL).
	MaxUnixPath = 107
	// MaxPollFDs bounds POLL's nfds.
	MaxPollFDs = 1024
	// PollFdSize is the encoded size of one POLL entry.
	PollFdSize = 8
	// ReadAheadHeaderSize is the encoded size of a POLL read-ahead
	// record's header; its data follows.
	ReadAheadHeaderSize = 12
	// MaxReadAhead bounds POLL's read-ahead budget (args[2]).
	MaxReadAhead = 1 << 30
	// MaxBacklog bounds LISTEN's backlog.
	MaxBacklog = 65535
	// MaxMode is the largest permission mode (no file-type bits).
	MaxMode = 0o7777
	// PollInfinite is POLL's timeout meaning "wait forever".
	PollInfinite = -1
)

// Open flags (OPEN args[0], FCNTL F_SETFL/F_GETFL). They equal Linux's
// asm-generic values but are protocol constants: even Linux differs between
// ports (O_DIRECTORY is 0x4000 on arm64), so a shadow translates them with
// HostOpenFlags.
const (
	O_RDONLY    = 0x0
	O_WRONLY    = 0x1
	O_RDWR      = 0x2
	O_ACCMODE   = 0x3
	O_CREAT     = 0x40
	O_EXCL      = 0x80
	O_TRUNC     = 0x200
	O_APPEND    = 0x400
	O_NONBLOCK  = 0x800
	O_DIRECTORY = 0x10000
	O_CLOEXEC   = 0x80000 // accepted, no effect: TA descriptors never cross an exec

	openFlagsMask = O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC | O_APPEND | O_NONBLOCK | O_DIRECTORY | O_CLOEXEC
	// statusFlagsMask is what F_GETFL may report besides the access mode.
	statusFlagsMask = O_APPEND | O_NONBLOCK
)

// Socket domains, types and flags (SOCKET, ACCEPT).
const (
	AF_UNIX  = 1
	AF_INET  = 2
	AF_INET6 = 10

	SOCK_STREAM = 1
	SOCK_DGRAM  = 2

	SOCK_NONBLOCK = 0x800
	SOCK_CLOEXEC  = 0x80000 // accepted, no effect

	sockFlagsMask = SOCK_NONBLOCK | SOCK_CLOEXEC
)

// Message flags (SEND, RECV, SENDTO, RECVFROM).
const (
	MSG_PEEK     = 0x2
	MSG_DONTWAIT = 0x40
	MSG_WAITALL  = 0x100
	MSG_NOSIGNAL = 0x4000 // always implied: a TA never gets SIGPIPE

	sendFlagsMask = MSG_DONTWAIT | MSG_NOSIGNAL
	recvFlagsMask = MSG_PEEK | MSG_DONTWAIT | MSG_WAITALL | MSG_NOSIGNAL
)

// SHUTDOWN args[1].
const (
	SHUT_RD   = 0
	SHUT_WR   = 1
	SHUT_RDWR = 2
)

// Poll events.
const (
	POLLIN   = 0x1
	POLLPRI  = 0x2
	POLLOUT  = 0x4
	POLLERR  = 0x8
	POLLHUP  = 0x10
	POLLNVAL = 0x20

	pollEventsMask = POLLIN | POLLPRI | POLLOUT | POLLERR | POLLHUP | POLLNVAL
	// pollAlways are the revents a shadow may report whether asked or not.
	pollAlways = POLLERR | POLLHUP | POLLNVAL
)

// Socket options, with the level folded into the number so that one integer
// names an option on every host. What each takes, and the host's pair for
// it, is in one table (LookupSockopt).
const (
	SO_REUSEADDR = 1
	SO_KEEPALIVE = 2
	SO_RCVBUF    = 3
	SO_SNDBUF    = 4
	TCP_NODELAY  = 5
	SO_ERROR     = 6 // get only; value is a tzrpc errno
	SO_TYPE      = 7 // get only; value is SOCK_STREAM or SOCK_DGRAM
	SO_BROADCAST = 8
	SO_REUSEPORT = 9
)

// FCNTL commands.
const (
	F_GETFL = 1
	F_SETFL = 2
)
