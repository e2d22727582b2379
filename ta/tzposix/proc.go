package tzposix

import (
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/tzmediator/tzbridge/tzrpc"
)

// Proc is a program's view of POSIX: its descriptors and its line to the
// shadow. Its methods are safe for concurrent use; calls are serialised,
// because one mailbox carries one call at a time.
type Proc struct {
	h          *handoff
	cap        int // payload bytes the mailbox holds
	violations atomic.Uint64

	mu     sync.Mutex // serialises calls and guards what follows
	closed bool       // the session closed or the program exited
	seq    uint32
	fds    map[int32]fdInfo
	// Private copies of structured response payloads (sockaddrs, POLL
	// entries), checked and then read from here, never from the mailbox.
	addrBuf [tzrpc.MaxSockaddrLen]byte
	pollReq []byte
	pollRes []byte
	// ahead holds what POLL read ahead, by descriptor (readahead.go);
	// spare, drained buffers for reuse.
	ahead map[int32]*aheadBuf
	spare [][]byte
	// noReadAhead is set once the shadow refused a read-ahead budget.
	noReadAhead bool
}

// fdKind is what the library knows a descriptor to be; it decides how
// writes are split.
type fdKind uint8

const (
	kindFile   fdKind = iota + 1 // OPEN: file, FIFO, directory
	kindStream                   // SOCK_STREAM socket
	kindDgram                    // SOCK_DGRAM socket: a write is one datagram, never split
)

// fdInfo is the library's record of an open descriptor. The shadow's word
// about descriptors is never taken: only numbers recorded here are used.
type fdInfo struct {
	kind   fdKind
	status int // tzrpc status flags the descriptor has (O_NONBLOCK, O_APPEND)
}

func (fi fdInfo) nonblocking() bool { return fi.status&tzrpc.O_NONBLOCK != 0 }

func newProc(h *handoff, mailbox int) *Proc {
	return &Proc{h: h, cap: mailbox - tzrpc.HeaderSize, fds: make(map[int32]fdInfo), ahead: make(map[int32]*aheadBuf)}
}

// Violations counts responses that broke the protocol (each one reached TA
// code as EIO).
func (p *Proc) Violations() uint64 { return p.violations.Load() }

// lookup returns the record of fd, which must be known to the library.
func (p *Proc) lookup(fd int) (int32, fdInfo, error) {
	if fd < 0 || fd >= tzrpc.FDLimit {
		return 0, fdInfo{}, syscall.EBADF
	}
	fi, ok := p.fds[int32(fd)]
	if !ok {
		return 0, fdInfo{}, syscall.EBADF
	}
	return int32(fd), fi, nil
}

// outgoing is a request payload: its pieces are copied into the mailbox one
// after the other. Pieces, rather than one slice, let paths stay strings and
// addresses stay on the stack, so a call allocates nothing.
type outgoing struct {
	pre    []byte
	s1, s2 string
	data   []byte
}

func (o *outgoing) len() int { return len(o.pre) + len(o.s1) + len(o.s2) + len(o.data) }

func (o *outgoing) copyTo(b []byte) int {
	n := copy(b, o.pre)
	n += copy(b[n:], o.s1)
	n += copy(b[n:], o.s2)
	n += copy(b[n:], o.data)
	return n
}

// incoming says how to take a response: maxLen is the largest payload
// accepted; detach (if not nil) is private memory of capacity maxLen to
// copy the payload into before checking it, for payloads with structure
// (addresses, POLL entries) that must not change between check and use.
type incoming struct {
	maxLen int
	detach []byte
}

// call performs a request whose only result is ret.
func (p *Proc) call(req *tzrpc.Request, out *outgoing) (int64, error) {
	resp, err := p.roundTrip(req, out, &incoming{})
	if err != nil {
		return 0, err
	}
	p.finish()
	return resp.Ret, nil
}

// roundTrip performs one request. The caller holds p.mu. On success the
// mailbox is still lent, so that the caller can copy out the checked
// payload; it then must call finish. (A callback would be tidier, but it
// would escape and cost an allocation per call.)
//
// For POLL, req.Payload is the caller's private copy of the entries, which
// the response check compares against; for other ops roundTrip points it
// at the mailbox, where only its length is used. Errors are syscall.Errno:
// the shadow's errno, the errno Validate picks for a request the shadow
// would refuse, EIO for a response that breaks the protocol, ECANCELED
// once the session is gone.
func (p *Proc) roundTrip(req *tzrpc.Request, out *outgoing, in *incoming) (tzrpc.Response, error) {
	if p.closed {
		return tzrpc.Response{}, syscall.ECANCELED
	}
	n := out.len()
	if n > p.cap {
		// Callers split data; only paths and addresses can get here, and
		// only with a minimal mailbox.
		return tzrpc.Response{}, syscall.ENAMETOOLONG
	}
	mb, ok := p.h.acquire()
	if !ok {
		p.closed = true
		return tzrpc.Response{}, syscall.ECANCELED
	}
	out.copyTo(mb[tzrpc.HeaderSize:])
	private := req.Payload
	if req.Op != tzrpc.OpPoll {
		req.Payload = mb[tzrpc.HeaderSize : tzrpc.HeaderSize+n]
	}
	// Refuse locally what the shadow would refuse: same errno, no round trip.
	if err := req.Validate(); err != nil {
		p.h.release(false)
		return tzrpc.Response{}, tzrpc.ErrnoOf(err).Syscall()
	}
	if req.Op == tzrpc.OpPoll {
		req.Payload = private
	}
	req.Seq = p.seq
	p.seq++
	if err := tzrpc.EncodeRequestHeader(mb, req.Op, req.Seq, req.Args, n); err != nil {
		// Cannot happen: the op is ours and n fits; fail safe all the same.
		p.h.release(false)
		return tzrpc.Response{}, syscall.EIO
	}
	p.h.release(true)

	if mb, ok = p.h.acquire(); !ok {
		p.closed = true
		return tzrpc.Response{}, syscall.ECANCELED
	}
	resp, err := p.check(req, mb, in)
	if err != nil {
		p.h.release(false)
		return tzrpc.Response{}, err
	}
	return resp, nil
}

// check decodes and checks the response in mb.
func (p *Proc) check(req *tzrpc.Request, mb []byte, in *incoming) (tzrpc.Response, error) {
	resp, err := tzrpc.DecodeResponse(mb)
	if err != nil {
		return resp, p.violation()
	}
	// Bound the copy below by what the call accepts; CheckResponse repeats
	// this test on the copy.
	if len(resp.Payload) > in.maxLen {
		return resp, p.violation()
	}
	if in.detach != nil {
		resp.Detach(in.detach)
	}
	if err := tzrpc.CheckResponse(req, &resp, in.maxLen); err != nil {
		return resp, p.violation()
	}
	if resp.Errno != 0 {
		return resp, resp.Errno.Syscall()
	}
	return resp, nil
}

// finish ends a successful roundTrip: the mailbox goes back to the shadow.
func (p *Proc) finish() { p.h.release(false) }

func (p *Proc) violation() error {
	p.violations.Add(1)
	return syscall.EIO
}

// exit posts EXIT with the program's status; no response follows. After it,
// or once the session is gone, every call fails with ECANCELED.
func (p *Proc) exit(status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	mb, ok := p.h.acquire()
	if !ok {
		return
	}
	if tzrpc.EncodeRequestHeader(mb, tzrpc.OpExit, p.seq, [6]int64{int64(status)}, 0) != nil {
		p.h.release(false)
		return
	}
	p.seq++
	p.h.release(true)
}
