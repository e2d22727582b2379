package wasm

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/tzmediator/tzbridge/internal/netaddr"
	"github.com/tzmediator/tzbridge/ta/tzposix"
	"github.com/tzmediator/tzbridge/tzrpc"
)

// posix is what the host needs of a tzposix.Proc: every call a guest makes
// that touches a descriptor, a path or a socket goes through it. An
// interface so that the host functions can be tested without a shadow.
type posix interface {
	Open(path string, flags int, mode uint32) (int, error)
	Close(fd int) error
	Read(fd int, b []byte) (int, error)
	Write(fd int, b []byte) (int, error)
	Recv(fd int, b []byte, flags int) (int, error)
	Send(fd int, b []byte, flags int) (int, error)
	Recvfrom(fd int, b []byte, flags int) (int, tzrpc.Sockaddr, error)
	Sendto(fd int, b []byte, flags int, to tzrpc.Sockaddr) (int, error)
	Mkfifo(path string, mode uint32) error
	Mkdir(path string, mode uint32) error
	Unlink(path string) error
	Rmdir(path string) error
	Rename(oldPath, newPath string) error
	Socket(domain, typ, proto int) (int, error)
	Bind(fd int, addr tzrpc.Sockaddr) error
	Connect(fd int, addr tzrpc.Sockaddr) error
	Listen(fd int, backlog int) error
	Accept4(fd int, flags int) (int, tzrpc.Sockaddr, error)
	Shutdown(fd int, how int) error
	Getsockname(fd int) (tzrpc.Sockaddr, error)
	Getpeername(fd int) (tzrpc.Sockaddr, error)
	SetSockopt(fd int, opt int64, value int) error
	Sockopt(fd int, opt int64) (int64, error)
	SetNonblock(fd int, nonblocking bool) error
	Poll(fds []tzposix.PollFd, timeoutMs int) (int, error)
}

var _ posix = (*tzposix.Proc)(nil)

// instance is one run of a module: one TA session. Its host functions run
// on the goroutine that called _start (a module is single-threaded), so it
// needs no lock.
type instance struct {
	ctx  context.Context // the session's: done when the session closes
	p    posix
	name string
	fds  fdTable
	out  *logSink
	// watch logs a call that blocks the whole module for long.
	watch *watchdog

	// monoBase is the origin of the monotonic clock the guest sees.
	monoBase time.Time

	// sleep waits for a deadline (the zero time: for ever) when a
	// poll_oneoff has nothing to wait on in the shadow; a test replaces it.
	sleep func(mod api.Module, t time.Time)

	// exited is set by proc_exit, with the guest's status.
	exited bool
	status uint32

	// Scratch space reused across calls: gathering iovecs, poll sets.
	buf     []byte
	subs    []subscription
	evs     []event
	pollFDs []tzposix.PollFd
	pollIdx []int
	pollPos map[int]int // host descriptor → its entry in pollFDs
}

// instanceKey finds the instance in the context of a host function call.
type instanceKey struct{}

func instanceFrom(ctx context.Context) *instance {
	st, _ := ctx.Value(instanceKey{}).(*instance)
	return st
}

func newInstance(ctx context.Context, p posix, name string, out *logSink) *instance {
	st := &instance{ctx: ctx, p: p, name: name, out: out, watch: newWatchdog(out.log), monoBase: time.Now()}
	st.sleep = st.sleepUntil
	st.fds.set(0, &fdEntry{kind: kindStdin, host: -1})
	st.fds.set(1, &fdEntry{kind: kindStdout, host: -1})
	st.fds.set(2, &fdEntry{kind: kindStderr, host: -1})
	st.fds.set(3, &fdEntry{kind: kindDir, host: -1, path: "/", preopen: true})
	return st
}

// terminate unwinds the guest when the session is gone: a panic with a
// sys.ExitError, as proc_exit does, after closing the module so that no
// guest code runs again.
func (st *instance) terminate(mod api.Module) {
	_ = mod.CloseWithExitCode(st.ctx, sys.ExitCodeContextCanceled)
	panic(sys.NewExitError(sys.ExitCodeContextCanceled))
}

// result maps a tzposix error for the guest. ECANCELED after the session
// closed is not an error the guest could act on: its instance is over, so
// the call does not return to it.
func (st *instance) result(mod api.Module, err error) errno {
	if err != nil && errors.Is(err, syscall.ECANCELED) && st.ctx.Err() != nil {
		st.terminate(mod)
	}
	return errnoOf(err)
}

// preopen creates the sockets of the TA's listen list, in order, as
// descriptors 4, 5, … (3 is the root). Stream sockets listen; datagram
// sockets are bound. All are nonblocking, as Go's net package needs of a
// descriptor it polls.
func (st *instance) preopen(listen []netaddr.Addr) error {
	for i, l := range listen {
		fd, err := st.listen(l.Network, l.Addr)
		if err != nil {
			return fmt.Errorf("listen[%d] %s: %w", i, l, err)
		}
		kind := kindStream
		if l.Network == "udp" {
			kind = kindDgram
		}
		if _, e := st.fds.add(&fdEntry{kind: kind, host: fd, flags: fdflagNonblock}); e != errnoSuccess {
			st.p.Close(fd)
			return fmt.Errorf("listen[%d] %s: too many descriptors", i, l)
		}
	}
	return nil
}

func (st *instance) listen(network, addr string) (int, error) {
	var sa tzrpc.Sockaddr
	domain := tzposix.AF_UNIX
	if network == "unix" {
		var err error
		if sa, err = tzrpc.UnixSockaddr(addr); err != nil {
			return -1, err
		}
		// A node left by an earlier run would make bind fail.
		if err := st.p.Unlink(addr); err != nil && !errors.Is(err, syscall.ENOENT) {
			return -1, fmt.Errorf("remove stale %s: %w", addr, err)
		}
	} else {
		ap, err := netip.ParseAddrPort(addr)
		if err != nil {
			return -1, err
		}
		if sa, err = tzrpc.InetSockaddr(ap); err != nil {
			return -1, err
		}
		domain = tzposix.AF_INET
		if ap.Addr().Is6() {
			domain = tzposix.AF_INET6
		}
	}
	typ := tzposix.SOCK_STREAM
	if network == "udp" {
		typ = tzposix.SOCK_DGRAM
	}
	fd, err := st.p.Socket(domain, typ|tzposix.SOCK_NONBLOCK, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	if domain != tzposix.AF_UNIX {
		if err := st.p.SetSockopt(fd, tzrpc.SO_REUSEADDR, 1); err != nil {
			st.p.Close(fd)
			return -1, fmt.Errorf("SO_REUSEADDR: %w", err)
		}
	}
	if err := st.p.Bind(fd, sa); err != nil {
		st.p.Close(fd)
		return -1, fmt.Errorf("bind: %w", err)
	}
	if typ == tzposix.SOCK_STREAM {
		if err := st.p.Listen(fd, listenBacklog); err != nil {
			st.p.Close(fd)
			return -1, fmt.Errorf("listen: %w", err)
		}
	}
	return fd, nil
}

// mem wraps the guest's memory. Every pointer and length the guest passes
// is checked against the memory's size before use: a bad one is EFAULT,
// never a host panic.
type mem struct{ m api.Memory }

func memOf(mod api.Module) mem { return mem{mod.Memory()} }

// bytes is a view of n guest bytes at ptr. The view is only valid during
// the host call: the guest cannot grow (and move) its memory meanwhile,
// as it is suspended in the call.
func (g mem) bytes(ptr, n uint32) ([]byte, bool) {
	if g.m == nil {
		return nil, false
	}
	return g.m.Read(ptr, n)
}

// writable checks that n bytes at ptr may be written, before a call whose
// result goes there is made: a result that cannot be delivered would be
// lost (bytes read from a socket, an accepted connection).
func (g mem) writable(ptr, n uint32) bool {
	_, ok := g.bytes(ptr, n)
	return ok
}

func (g mem) put32(ptr, v uint32) bool {
	return g.m != nil && g.m.WriteUint32Le(ptr, v)
}

func (g mem) put64(ptr uint32, v uint64) bool {
	return g.m != nil && g.m.WriteUint64Le(ptr, v)
}

// str copies a path argument out of guest memory.
func (g mem) str(ptr, n uint32) (string, errno) {
	if n > tzrpc.MaxPath {
		return "", errnoNametoolong
	}
	b, ok := g.bytes(ptr, n)
	if !ok {
		return "", errnoFault
	}
	return string(b), errnoSuccess
}

// maxIovecs bounds an iovec array, as IOV_MAX does.
const maxIovecs = 1024

// iovecs reads an iovec array and returns views of its buffers, each
// checked against the memory. Empty buffers are left out.
func (g mem) iovecs(ptr, n uint32, into [][]byte) ([][]byte, errno) {
	if n > maxIovecs {
		return nil, errnoInval
	}
	raw, ok := g.bytes(ptr, n*8)
	if !ok {
		return nil, errnoFault
	}
	out := into[:0]
	for i := uint32(0); i < n; i++ {
		base := le32(raw[i*8:])
		size := le32(raw[i*8+4:])
		b, ok := g.bytes(base, size)
		if !ok {
			return nil, errnoFault
		}
		if size > 0 {
			out = append(out, b)
		}
	}
	return out, errnoSuccess
}

func le16(b []byte) uint16 { return uint16(b[0]) | uint16(b[1])<<8 }
func le32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
func le64(b []byte) uint64 { return uint64(le32(b)) | uint64(le32(b[4:]))<<32 }

func put16(b []byte, v uint16) { b[0], b[1] = byte(v), byte(v>>8) }
func put32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}
func put64(b []byte, v uint64) { put32(b, uint32(v)); put32(b[4:], uint32(v>>32)) }
