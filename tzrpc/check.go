package tzrpc

import (
	"errors"
	"math"
	"strings"
)

// ErrBadResponse is wrapped by every CheckResponse failure. A TA library
// should treat it as an attack or a broken shadow, not as a call's errno.
var ErrBadResponse = errors.New("response breaks the protocol")

// CheckResponse checks a decoded response against the request the TA sent,
// so that nothing the (untrusted) normal world returns reaches TA code
// unchecked: echoes, lengths no larger than asked, descriptors in range,
// addresses well-formed, POLL results consistent.
//
// req must be the TA's own copy: for POLL, req.Payload must still hold the
// entries sent, not the mailbox the response overwrote. Detach resp first so
// the shadow cannot change it after the check. maxLen is the largest
// payload the TA accepts, normally PayloadCap of its mailbox.
func CheckResponse(req *Request, resp *Response, maxLen int) error {
	if f := checkResponse(req, resp, maxLen); !f.ok() {
		return &FieldError{Op: req.Op, Field: f.field, Value: f.value, Reason: f.reason, Err: ErrBadResponse}
	}
	return nil
}

func bad(field string, v int64, reason string) fault {
	return fault{field: field, value: v, reason: reason}
}

func checkResponse(req *Request, resp *Response, maxLen int) fault {
	switch {
	case req.Op == OpExit:
		return bad("op", int64(resp.Op), "EXIT has no response")
	case resp.Op != req.Op:
		return bad("op", int64(resp.Op), "does not echo the request's op")
	case resp.Seq != req.Seq:
		return bad("seq", int64(resp.Seq), "does not echo the request's seq")
	case len(resp.Payload) > maxLen:
		return bad("payload", int64(len(resp.Payload)), "longer than the TA accepts")
	case resp.Ret < 0:
		return bad("ret", resp.Ret, "negative")
	}
	if resp.Errno != 0 {
		if !resp.Errno.Valid() {
			return bad("errno", int64(resp.Errno), "out of range")
		}
		if resp.Ret != 0 {
			return bad("ret", resp.Ret, "must be 0 with an errno")
		}
		if len(resp.Payload) != 0 {
			return bad("payload", int64(len(resp.Payload)), "must be empty with an errno")
		}
		return auxZero(resp, 0)
	}
	if req.Op == OpRecvfrom || req.Op == OpPoll {
		if f := auxZero(resp, 1); !f.ok() {
			return f
		}
	} else if f := auxZero(resp, 0); !f.ok() {
		return f
	}

	switch req.Op {
	case OpOpen, OpSocket:
		return first(retFD(resp), payloadLen(resp, 0))
	case OpAccept:
		return first(retFD(resp), payloadSockaddr(resp.Payload))
	case OpRead, OpRecv:
		return first(retAtMost(resp, req.Args[1], "more bytes than asked"), payloadLen(resp, resp.Ret))
	case OpWrite, OpSend:
		return first(retAtMost(resp, int64(len(req.Payload)), "more bytes than offered"), payloadLen(resp, 0))
	case OpSendto:
		n := req.Args[2]
		if n < 0 || n > int64(len(req.Payload)) {
			return bad("request args[2]", n, "request is not a valid SENDTO")
		}
		return first(retAtMost(resp, int64(len(req.Payload))-n, "more bytes than offered"), payloadLen(resp, 0))
	case OpRecvfrom:
		return checkRecvfrom(req, resp)
	case OpGetsockname, OpGetpeername:
		return first(retEq(resp, 0), payloadSockaddr(resp.Payload))
	case OpGetsockopt:
		return first(checkSockoptValue(req.Args[1], resp.Ret), payloadLen(resp, 0))
	case OpPoll:
		return checkPoll(req, resp)
	case OpFcntl:
		if req.Args[1] == F_GETFL {
			f := resp.Ret
			if f&^(O_ACCMODE|statusFlagsMask) != 0 || f&O_ACCMODE == O_ACCMODE {
				return bad("ret", f, "not a valid F_GETFL result")
			}
			return payloadLen(resp, 0)
		}
	}
	return first(retEq(resp, 0), payloadLen(resp, 0))
}

func retEq(resp *Response, v int64) fault {
	if resp.Ret != v {
		return bad("ret", resp.Ret, "must be 0 for this op")
	}
	return fault{}
}

func retFD(resp *Response) fault {
	if resp.Ret >= FDLimit {
		return bad("ret", resp.Ret, "descriptor out of range")
	}
	return fault{}
}

func retAtMost(resp *Response, limit int64, reason string) fault {
	if resp.Ret > limit {
		return bad("ret", resp.Ret, reason)
	}
	return fault{}
}

func payloadLen(resp *Response, n int64) fault {
	if int64(len(resp.Payload)) != n {
		return bad("payload", int64(len(resp.Payload)), "length does not match the result")
	}
	return fault{}
}

// auxZero requires aux[from:] to be zero: a value the TA does not read is
// still one a later version might give meaning to.
func auxZero(resp *Response, from int) fault {
	for i := from; i < len(resp.Aux); i++ {
		if resp.Aux[i] != 0 {
			return bad(auxNames[i], resp.Aux[i], "unused aux must be 0")
		}
	}
	return fault{}
}

var auxNames = [4]string{"aux[0]", "aux[1]", "aux[2]", "aux[3]"}

func payloadSockaddr(b []byte) fault {
	if _, err := parseExactSockaddr(b); err != nil {
		return bad("payload", int64(len(b)), strings.TrimPrefix(err.Error(), "tzrpc: "))
	}
	return fault{}
}

func checkRecvfrom(req *Request, resp *Response) fault {
	alen := resp.Aux[0]
	if alen < 0 || alen > int64(len(resp.Payload)) {
		return bad("aux[0]", alen, "sockaddr length outside the payload")
	}
	if f := retAtMost(resp, req.Args[1], "more bytes than asked"); !f.ok() {
		return f
	}
	if int64(len(resp.Payload))-alen != resp.Ret {
		return bad("payload", int64(len(resp.Payload)), "data length does not match ret")
	}
	if alen == 0 {
		return fault{} // no source address, e.g. a stream socket
	}
	return payloadSockaddr(resp.Payload[:alen])
}

func checkSockoptValue(opt, v int64) fault {
	o, _ := LookupSockopt(opt)
	switch o.Kind {
	case SockoptBool:
		if v > 1 {
			return bad("ret", v, "boolean option must be 0 or 1")
		}
	case SockoptSize:
		if v > math.MaxInt32 {
			return bad("ret", v, "buffer size out of range")
		}
	case SockoptErrno:
		if v > int64(MaxErrno) { // ret >= 0 is checked already; 0 is "no error"
			return bad("ret", v, "SO_ERROR is not a tzrpc errno")
		}
	case SockoptType:
		if v != SOCK_STREAM && v != SOCK_DGRAM {
			return bad("ret", v, "unknown socket type")
		}
	default:
		return bad("request args[1]", opt, "request is not a valid GETSOCKOPT")
	}
	return fault{}
}

func checkPoll(req *Request, resp *Response) fault {
	nfds := req.Args[0]
	if nfds < 0 || nfds > MaxPollFDs || int64(len(req.Payload)) != nfds*PollFdSize {
		return bad("request payload", int64(len(req.Payload)), "request is not a valid POLL")
	}
	if len(resp.Payload) < len(req.Payload) {
		return bad("payload", int64(len(resp.Payload)), "shorter than nfds entries")
	}
	if nfds > 0 && &req.Payload[0] == &resp.Payload[0] {
		// Comparing the mailbox with itself would pass whatever the shadow wrote.
		return bad("request payload", 0, "aliases the response; pass the TA's own copy of the entries")
	}
	var ready int64
	for i := range int(nfds) {
		q, p := GetPollFd(req.Payload, i), GetPollFd(resp.Payload, i)
		switch {
		case p.Fd != q.Fd || p.Events != q.Events:
			return bad("poll entry", int64(i), "entry not echoed unchanged")
		case p.Revents&^pollEventsMask != 0:
			return bad("poll entry", int64(i), "unknown revents bits")
		case p.Revents&^(q.Events|pollAlways) != 0:
			return bad("poll entry", int64(i), "revents reports an event not asked for")
		case q.Fd < 0 && p.Revents != 0:
			return bad("poll entry", int64(i), "revents set for a negative fd, which poll ignores")
		}
		if p.Revents != 0 {
			ready++
		}
	}
	if resp.Ret != ready {
		return bad("ret", resp.Ret, "does not count the entries with revents")
	}
	return checkReadAhead(req, resp)
}

// checkReadAhead checks the read-ahead records behind a POLL response's
// entries: aux[0] of them, for increasing entry indexes, each for an entry
// that asked for POLLIN and reports it ready, either data (with a
// well-formed source address, a datagram may be empty; without one, at
// least a byte) or an errno (nothing else), all of the data within the
// request's budget.
func checkReadAhead(req *Request, resp *Response) fault {
	entries := len(req.Payload)
	n := resp.Aux[0]
	if n < 0 || n > req.Args[0] {
		return bad("aux[0]", n, "more read-ahead records than entries")
	}
	if n > 0 && req.Args[2] == 0 {
		return bad("aux[0]", n, "read-ahead records the request did not ask for")
	}
	rest := resp.Payload[entries:]
	budget := req.Args[2]
	last := int64(-1)
	for range n {
		rec, addr, data, tail, ok := NextReadAhead(rest)
		if !ok {
			return bad("payload", int64(len(resp.Payload)), "read-ahead record cut short")
		}
		i := int64(rec.Index)
		if i <= last || i >= req.Args[0] {
			return bad("read-ahead index", i, "out of order or beyond nfds")
		}
		last = i
		q, p := GetPollFd(req.Payload, int(i)), GetPollFd(resp.Payload, int(i))
		if q.Fd < 0 || q.Events&POLLIN == 0 || p.Revents&POLLIN == 0 {
			return bad("read-ahead index", i, "entry did not ask for POLLIN or is not readable")
		}
		switch {
		case rec.Errno != 0 && (!rec.Errno.Valid() || len(data) != 0 || len(addr) != 0):
			return bad("read-ahead errno", int64(rec.Errno), "out of range, or with data")
		case rec.Errno == 0 && len(data) == 0 && len(addr) == 0:
			return bad("read-ahead length", 0, "a record carries data or an errno")
		case len(addr) != 0 && !payloadSockaddr(addr).ok():
			return bad("read-ahead address", int64(len(addr)), "not one well-formed sockaddr")
		case int64(len(data)) > budget:
			return bad("read-ahead length", int64(len(data)), "beyond the request's budget")
		}
		budget -= int64(len(data))
		rest = tail
	}
	if len(rest) != 0 {
		return bad("payload", int64(len(resp.Payload)), "bytes after the read-ahead records")
	}
	return fault{}
}
