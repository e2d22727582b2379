// Package shadow performs a Trusted Application's POSIX calls in the normal
// world: it is the TA's "shadow" process side of tzbridge.
//
// A Shadow resumes its TA through the GP TEE Client API (Run), takes the
// POSIX request the TA left in the shared mailbox (see tzrpc), performs it
// with plain Linux syscalls and writes the result back (Dispatch). CAs thus
// talk to ordinary kernel FIFOs and sockets; the shadow holds the other end.
//
// The TA is not trusted (docs/design.md, contract 1; the request checks are
// docs/protocol.md §7.1):
//
//   - Descriptors are per-TA virtual numbers (lowest free, from 3 up, at most
//     Config.MaxDescriptors open, EMFILE beyond); a host descriptor number
//     never reaches the TA.
//   - Every path resolves inside Config.Root with openat2(RESOLVE_IN_ROOT |
//     RESOLVE_NO_MAGICLINKS): "..", absolute paths and symlinks are clamped
//     to the root, and /proc magic links are refused. Calls that create or
//     remove a name resolve the parent directory that way and act on the
//     last element, which may not be "", "." or "..". BIND names a socket
//     as /proc/self/fd/<parent>/<name> (the kernel takes no directory
//     descriptor); CONNECT and SENDTO resolve the whole path, which must
//     end at a socket, and use /proc/self/fd/<socket>, so that a symlink
//     planted as the last element cannot lead out of the root either.
//   - Only FIFOs, sockets and directories are TA endpoints for now: OPEN of
//     a regular file, or O_CREAT of one that does not exist, fails with
//     EOPNOTSUPP. Directories open read-only (read gives EISDIR).
//   - Requests are decoded once and validated (tzrpc.Request.Validate plus
//     the checks here) before anything is done; lengths are capped at the
//     mailbox's payload capacity, socket options are limited to tzrpc's set
//     with checked values, POLL entries naming unknown descriptors get
//     POLLNVAL. A malformed request gets an errno, never a panic.
//
// Every host descriptor is held O_NONBLOCK|O_CLOEXEC; whether a call blocks
// is the TA-visible flag kept in the descriptor table. A call that would
// block waits in poll(2) on its descriptor and an eventfd that context
// cancellation signals, so a TA blocked in open, read, accept, connect or
// poll never stalls shutdown. The shadow holds no descriptor on Go's
// runtime poller.
//
// UNIX socket addresses the TA reads back never show a host path:
// GETSOCKNAME reports the path the TA bound, GETPEERNAME the path it
// connected to, and a peer's own name (ACCEPT, RECVFROM) appears as "/x"
// when it is <root>/x, and as unnamed when it lies outside the root.
//
// A call interrupted by its context's cancellation fails EINTR.
package shadow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/teeclient"
	"github.com/tzmediator/tzbridge/tzrpc"
)

// DefaultMaxDescriptors is the descriptor limit of a Config that sets none.
const DefaultMaxDescriptors = 256

const (
	// maxDescriptors keeps the table (one slot per descriptor) small.
	maxDescriptors = 1 << 16
	// maxMailbox keeps a mailbox well inside tzrpc's 32-bit payload length.
	maxMailbox = 64 << 20
)

// Config describes one TA's shadow.
type Config struct {
	// Name is the TA's name, for logs and errors.
	Name string
	// UUID is the TA to open a session with.
	UUID teeclient.UUID
	// Root is the directory the TA's paths resolve in.
	Root string
	// Mailbox is the shared mailbox size in bytes; 0 means
	// tzrpc.DefaultMailbox.
	Mailbox int
	// MaxDescriptors caps the TA's open descriptors; 0 means
	// DefaultMaxDescriptors.
	MaxDescriptors int
	// MaxSockets caps how many of them may be sockets; 0 means as many
	// as MaxDescriptors.
	MaxSockets int
	// Logger receives start, exit and error records; nil discards them.
	Logger *slog.Logger
	// OpenTimeout bounds the session open on a device (not the
	// simulator), where OP-TEE loads the TA through tee-supplicant and
	// the open waits for ever when none runs; 0 means DefaultOpenTimeout.
	OpenTimeout time.Duration

	// BindInet, when set, may serve a TA's bind of an INET address with a
	// socket made elsewhere (a proxy address in another network
	// namespace, see package sockproxy): it gets "tcp" or "udp" and the
	// address, and returns a descriptor of a socket of the TA socket's
	// family and type that is already bound (a TCP one may listen too)
	// which then takes the place of the TA's; or -1 to bind as usual. An
	// error fails the bind with its errno (EACCES when it has none). The
	// TA's SO_REUSEADDR and SO_REUSEPORT do not reach that socket (see
	// HostNamespace).
	BindInet func(network string, addr netip.AddrPort) (fd int, err error)
	// ConnectInet, when set, may give a TA's connect to an INET address a
	// socket made elsewhere (host access from a TA's own network
	// namespace): it returns an unbound socket of the TA socket's family
	// and type, which takes the place of the TA's and is connected
	// instead; or -1 to connect as usual. A socket the TA has bound keeps
	// its own.
	ConnectInet func(network string, addr netip.AddrPort) (fd int, err error)
	// OnListening, when set, is told every address at which the TA
	// serves from now on: a stream socket's at its LISTEN, a datagram
	// socket's at its BIND, as tcp://IP:PORT, udp://IP:PORT or
	// unix:/PATH (in the TA's root). It runs on the dispatch goroutine.
	OnListening func(addr string)
	// HostNamespace says the shadow runs in the host's network namespace
	// (a TA without a namespace of its own), so every INET socket it
	// makes for the TA is a host socket. On a host socket — these, and
	// the ones BindInet and ConnectInet give — the shadow keeps the TA's
	// SO_REUSEPORT, and its SO_REUSEADDR on a datagram socket, to itself:
	// setsockopt succeeds and getsockopt reads the value back, but the
	// kernel socket never gets it. Either would let the TA's bind join
	// the port of another host service (SO_REUSEPORT among sockets of
	// one owner, and the shadow may run as root like the service;
	// SO_REUSEADDR among UDP sockets of any owner) and take a share of
	// its clients; without them such a bind fails with EADDRINUSE.
	HostNamespace bool
}

// Stats is a snapshot of a shadow's counters.
type Stats struct {
	OpenDescriptors int
	Calls           uint64 // requests dispatched
	BytesIn         uint64 // bytes the TA read or received
	BytesOut        uint64 // bytes the TA wrote or sent
	Errors          uint64 // requests answered with an errno

	// The same by op and endpoint (stats.go).
	Ops       []OpStats       `json:",omitempty"`
	Endpoints []EndpointStats `json:",omitempty"`
}

// Shadow performs one TA's calls. Dispatch calls must not overlap: a Shadow
// serves one TA, whose calls arrive one at a time.
type Shadow struct {
	cfg  Config
	log  *slog.Logger
	root int // O_PATH descriptor of cfg.Root
	fds  fdTable

	// wake is an eventfd every blocking wait polls too; cancellation of
	// the call's context writes it. wakeMu orders those writes against
	// Close, so a late write never hits a recycled descriptor number.
	wakeMu sync.Mutex
	wake   int

	// traceCalls: the logger takes LevelCall records, so every call gets
	// a line (logCall). Decided once, so that a call costs one test when
	// it does not.
	traceCalls bool

	dispatching atomic.Bool
	ran         atomic.Bool
	closeOnce   sync.Once

	// Scratch reused across calls so that a call costs no allocation.
	payload []byte // detached request payloads
	pollFds []unix.PollFd
	pollIdx []int32
	pollRev []uint16

	bytesIn, bytesOut, errs atomic.Uint64
	// lastLimitLog (unix nanoseconds) rate-limits the log line of a TA
	// that runs into a limit in a loop.
	lastLimitLog atomic.Int64
	// st are the counters by op (Stats.Calls is their sum), errno and
	// endpoint (stats.go).
	st stats
}

// New checks cfg, opens the root and returns a Shadow ready to Run (or to
// Dispatch requests directly). Close releases it.
func New(cfg Config) (*Shadow, error) {
	if cfg.Name == "" {
		return nil, errors.New("shadow: config has no TA name")
	}
	if cfg.Mailbox == 0 {
		cfg.Mailbox = tzrpc.DefaultMailbox
	}
	if cfg.Mailbox < tzrpc.MinMailbox || cfg.Mailbox > maxMailbox {
		return nil, fmt.Errorf("shadow %s: mailbox of %d bytes, want %d to %d", cfg.Name, cfg.Mailbox, tzrpc.MinMailbox, maxMailbox)
	}
	if cfg.MaxDescriptors == 0 {
		cfg.MaxDescriptors = DefaultMaxDescriptors
	}
	if cfg.MaxDescriptors < 1 || cfg.MaxDescriptors > maxDescriptors {
		return nil, fmt.Errorf("shadow %s: MaxDescriptors %d, want 1 to %d", cfg.Name, cfg.MaxDescriptors, maxDescriptors)
	}
	if cfg.MaxSockets < 0 || cfg.MaxSockets > cfg.MaxDescriptors {
		return nil, fmt.Errorf("shadow %s: MaxSockets %d, want 0 to MaxDescriptors (%d)", cfg.Name, cfg.MaxSockets, cfg.MaxDescriptors)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("ta", cfg.Name)

	root, err := unix.Open(cfg.Root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("shadow %s: open root %s: %w", cfg.Name, cfg.Root, err)
	}
	// Fail now, not at the TA's first path, on a kernel without openat2.
	probe, err := openat2(root, ".", unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		unix.Close(root)
		return nil, fmt.Errorf("shadow %s: openat2 in root %s (Linux 5.6 or later is required): %w", cfg.Name, cfg.Root, err)
	}
	unix.Close(probe)
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(root)
		return nil, fmt.Errorf("shadow %s: eventfd: %w", cfg.Name, err)
	}
	return &Shadow{
		cfg:        cfg,
		log:        log,
		traceCalls: log.Enabled(context.Background(), LevelCall),
		root:       root,
		wake:       wake,
		fds:        fdTable{max: cfg.MaxDescriptors, maxSockets: cfg.MaxSockets},
		payload:    make([]byte, 0, 2*tzrpc.MaxPath+2),
		pollFds:    make([]unix.PollFd, 0, tzrpc.MaxPollFDs+1),
		pollIdx:    make([]int32, 0, tzrpc.MaxPollFDs),
		pollRev:    make([]uint16, 0, tzrpc.MaxPollFDs),
	}, nil
}

// Stats returns the current counters. It is safe to call at any time.
func (s *Shadow) Stats() Stats {
	st := Stats{
		OpenDescriptors: s.fds.count(),
		BytesIn:         s.bytesIn.Load(),
		BytesOut:        s.bytesOut.Load(),
		Errors:          s.errs.Load(),
	}
	s.st.snapshot(&st)
	return st
}

// Close closes every descriptor the TA holds (its peers see EOF, EPIPE or
// ECONNRESET) and the shadow's own. It must not overlap a Dispatch. Run
// closes the Shadow when it ends.
func (s *Shadow) Close() error {
	s.ran.Store(true) // a closed Shadow cannot Run
	s.closeOnce.Do(func() {
		s.fds.closeAll()
		s.wakeMu.Lock()
		unix.Close(s.wake)
		s.wake = -1
		s.wakeMu.Unlock()
		unix.Close(s.root)
	})
	return nil
}
