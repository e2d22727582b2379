package tzrpc

import (
	"bytes"
	"fmt"
	"math"
	"strings"
)

// FieldError reports a request or response field that breaks the protocol.
// From Validate, Err is the Errno the shadow answers with; from
// CheckResponse it is ErrBadResponse.
type FieldError struct {
	Op     Op
	Field  string // "args[1]", "payload", "ret", "aux[0]", "op", "seq", …
	Value  int64  // the offending value (a length for payloads)
	Reason string
	Err    error
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("tzrpc: %v %s = %d: %s: %v", e.Op, e.Field, e.Value, e.Reason, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// fault is a FieldError not yet allocated: checks build them by value so
// that a request that passes costs no allocation. The zero fault is "ok".
type fault struct {
	field  string
	reason string
	value  int64
	errno  Errno
}

func (f fault) ok() bool { return f.reason == "" }

// first returns the first failed check, in the order given, so that the
// reported error is deterministic.
func first(fs ...fault) fault {
	for _, f := range fs {
		if !f.ok() {
			return f
		}
	}
	return fault{}
}

var argNames = [6]string{"args[0]", "args[1]", "args[2]", "args[3]", "args[4]", "args[5]"}

// Validate checks the request's arguments and payload against its op. It is
// the shadow's single gate: every value it later uses has passed here. The
// returned error is a *FieldError wrapping the Errno to answer with
// (ErrnoOf extracts it). Detach the payload first; see Request.Detach.
//
// A TA library may call it too, to fail before a round trip.
func (r *Request) Validate() error {
	if f := r.validate(); !f.ok() {
		return &FieldError{Op: r.Op, Field: f.field, Value: f.value, Reason: f.reason, Err: f.errno}
	}
	return nil
}

func (r *Request) validate() fault {
	switch r.Op {
	case OpExit:
		return first(r.argRange(0, math.MinInt32, math.MaxInt32, EINVAL, "exit status must fit an int32"), r.unused(1), r.noPayload())
	case OpOpen:
		return first(r.path("payload", r.Payload), r.openFlags(0), r.mode(1), r.unused(2))
	case OpClose, OpGetsockname, OpGetpeername:
		return first(r.fd(0), r.unused(1), r.noPayload())
	case OpRead:
		return first(r.fd(0), r.argRange(1, 0, math.MaxInt64, EINVAL, "negative length"), r.unused(2), r.noPayload())
	case OpWrite:
		return first(r.fd(0), r.unused(1))
	case OpMkfifo, OpMkdir:
		return first(r.path("payload", r.Payload), r.mode(0), r.unused(1))
	case OpUnlink, OpRmdir:
		return first(r.path("payload", r.Payload), r.unused(0))
	case OpRename:
		return first(r.rename(), r.unused(1))
	case OpSocket:
		return first(r.domain(0), r.sockType(1), r.flags(2, sockFlagsMask), r.unused(3), r.noPayload())
	case OpBind, OpConnect:
		return first(r.fd(0), r.sockaddr("payload", r.Payload), r.unused(1))
	case OpListen:
		return first(r.fd(0), r.argRange(1, 0, MaxBacklog, EINVAL, "backlog out of range"), r.unused(2), r.noPayload())
	case OpAccept:
		return first(r.fd(0), r.flags(1, sockFlagsMask), r.unused(2), r.noPayload())
	case OpSend:
		return first(r.fd(0), r.flags(1, sendFlagsMask), r.unused(2))
	case OpRecv, OpRecvfrom:
		return first(r.fd(0), r.argRange(1, 0, math.MaxInt64, EINVAL, "negative length"), r.flags(2, recvFlagsMask), r.unused(3), r.noPayload())
	case OpSendto:
		return first(r.fd(0), r.flags(1, sendFlagsMask), r.sendtoAddr(), r.unused(3))
	case OpShutdown:
		return first(r.fd(0), r.argRange(1, SHUT_RD, SHUT_RDWR, EINVAL, "unknown shutdown direction"), r.unused(2), r.noPayload())
	case OpSetsockopt:
		return first(r.fd(0), r.setsockopt(), r.unused(3), r.noPayload())
	case OpGetsockopt:
		return first(r.fd(0), r.getsockopt(), r.unused(2), r.noPayload())
	case OpPoll:
		return first(r.argRange(0, 0, MaxPollFDs, EINVAL, "nfds out of range"),
			r.argRange(1, PollInfinite, math.MaxInt32, EINVAL, "timeout out of range"),
			r.argRange(2, 0, MaxReadAhead, EINVAL, "read-ahead budget out of range"), r.pollFds(), r.unused(3))
	case OpFcntl:
		return first(r.fd(0), r.fcntl(), r.noPayload())
	}
	return fault{field: "op", value: int64(r.Op), reason: "unknown op", errno: ENOSYS}
}

func (r *Request) argRange(i int, lo, hi int64, e Errno, reason string) fault {
	if v := r.Args[i]; v < lo || v > hi {
		return fault{argNames[i], reason, v, e}
	}
	return fault{}
}

// unused requires args[from:] to be zero, so that a later version can give
// them a meaning without old shadows silently ignoring it.
func (r *Request) unused(from int) fault {
	for i := from; i < len(r.Args); i++ {
		if r.Args[i] != 0 {
			return fault{argNames[i], "unused argument must be 0", r.Args[i], EINVAL}
		}
	}
	return fault{}
}

func (r *Request) noPayload() fault {
	if len(r.Payload) != 0 {
		return fault{"payload", "op takes no payload", int64(len(r.Payload)), EINVAL}
	}
	return fault{}
}

func (r *Request) fd(i int) fault {
	return r.argRange(i, 0, FDLimit-1, EBADF, "descriptor out of range")
}

func (r *Request) mode(i int) fault {
	return r.argRange(i, 0, MaxMode, EINVAL, "mode has bits outside 0o7777")
}

func (r *Request) flags(i int, mask int64) fault {
	if v := r.Args[i]; v&^mask != 0 {
		return fault{argNames[i], "unknown flag bits", v, EINVAL}
	}
	return fault{}
}

func (r *Request) openFlags(i int) fault {
	if f := r.flags(i, openFlagsMask); !f.ok() {
		return f
	}
	if v := r.Args[i]; v&O_ACCMODE == O_ACCMODE {
		return fault{argNames[i], "access mode 3 is not O_RDONLY, O_WRONLY or O_RDWR", v, EINVAL}
	}
	return fault{}
}

func (r *Request) domain(i int) fault {
	switch v := r.Args[i]; v {
	case AF_UNIX, AF_INET, AF_INET6:
		return fault{}
	default:
		return fault{argNames[i], "unknown socket domain", v, EAFNOSUPPORT}
	}
}

func (r *Request) sockType(i int) fault {
	switch v := r.Args[i]; v {
	case SOCK_STREAM, SOCK_DGRAM:
		return fault{}
	default:
		return fault{argNames[i], "unknown socket type (flags go in args[2])", v, EINVAL}
	}
}

// path checks one path: what the kernel would refuse, refused here with the
// errno the kernel would give, plus NUL, which C could not even express.
func (r *Request) path(field string, p []byte) fault {
	switch {
	case len(p) == 0:
		return fault{field, "empty path", 0, ENOENT}
	case len(p) > MaxPath:
		return fault{field, "path longer than 4095 bytes", int64(len(p)), ENAMETOOLONG}
	case bytes.IndexByte(p, 0) >= 0:
		return fault{field, "path contains NUL", int64(len(p)), EINVAL}
	}
	return fault{}
}

func (r *Request) rename() fault {
	n := r.Args[0]
	if n < 1 || n >= int64(len(r.Payload)) {
		return fault{argNames[0], "old path length outside the payload", n, EINVAL}
	}
	return first(r.path("old path", r.Payload[:n]), r.path("new path", r.Payload[n:]))
}

// sockaddr requires a named address: an unnamed UNIX address would make the
// kernel autobind to an abstract name, which the protocol cannot express.
func (r *Request) sockaddr(field string, b []byte) fault {
	s, err := parseExactSockaddr(b)
	if err != nil {
		return fault{field, strings.TrimPrefix(err.Error(), "tzrpc: "), int64(len(b)), EINVAL}
	}
	if s.Family() == FamilyUnix && s.plen == 0 {
		return fault{field, "unnamed UNIX address", int64(len(b)), EINVAL}
	}
	return fault{}
}

func (r *Request) sendtoAddr() fault {
	n := r.Args[2]
	switch {
	case n < 0 || n > int64(len(r.Payload)):
		return fault{argNames[2], "sockaddr length outside the payload", n, EINVAL}
	case n == 0:
		return fault{} // no destination: the socket's connected peer
	}
	return r.sockaddr("payload sockaddr", r.Payload[:n])
}

func (r *Request) setsockopt() fault {
	o, _ := LookupSockopt(r.Args[1])
	switch o.Kind {
	case SockoptBool:
		return r.argRange(2, math.MinInt32, math.MaxInt32, EINVAL, "option value must fit an int32")
	case SockoptSize:
		return r.argRange(2, 0, math.MaxInt32, EINVAL, "buffer size out of range")
	default:
		return fault{argNames[1], "unknown or read-only socket option", r.Args[1], ENOPROTOOPT}
	}
}

func (r *Request) getsockopt() fault {
	if _, ok := LookupSockopt(r.Args[1]); !ok {
		return fault{argNames[1], "unknown socket option", r.Args[1], ENOPROTOOPT}
	}
	return fault{}
}

func (r *Request) pollFds() fault {
	nfds := r.Args[0]
	if nfds < 0 || nfds > MaxPollFDs {
		return fault{} // reported by the nfds check
	}
	if int64(len(r.Payload)) != nfds*PollFdSize {
		return fault{"payload", "POLL payload is not nfds entries", int64(len(r.Payload)), EINVAL}
	}
	for i := range int(nfds) {
		p := GetPollFd(r.Payload, i)
		if p.Events&^pollEventsMask != 0 {
			return fault{"poll entry", "unknown poll event bits", int64(i), EINVAL}
		}
		if p.Revents != 0 {
			return fault{"poll entry", "revents must be 0 in a request", int64(i), EINVAL}
		}
	}
	return fault{}
}

func (r *Request) fcntl() fault {
	switch r.Args[1] {
	case F_GETFL:
		return r.unused(2)
	case F_SETFL:
		// The full open-flag set is accepted because C code passes F_GETFL's
		// result back with a bit added; only O_APPEND and O_NONBLOCK act.
		return first(r.flags(2, openFlagsMask), r.unused(3))
	default:
		return fault{argNames[1], "unknown fcntl command", r.Args[1], EINVAL}
	}
}
