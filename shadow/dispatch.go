package shadow

import (
	"context"
	"errors"
	"log/slog"
	"math"

	"github.com/tzmediator/tzbridge/tzrpc"
)

// result is a performed call's outcome: ret, or errno; aux0 (RECVFROM's
// address length); plen payload bytes already written after the header.
type result struct {
	ret   int64
	errno tzrpc.Errno
	aux0  int64
	plen  int
}

func fail(e tzrpc.Errno) result { return result{errno: e} }

func ok(ret int64) result { return result{ret: ret} }

// Dispatch performs the request in mailbox and writes the response there.
// It reports exited with the TA's status when the request was EXIT, which
// has no response. A request that cannot be decoded or validated is
// answered with an errno, and so is one cut short by ctx (EINTR), or one
// in a mailbox smaller than tzrpc.MinMailbox (EINVAL). Calls must not
// overlap.
func (s *Shadow) Dispatch(ctx context.Context, mailbox []byte) (exited bool, status int) {
	// Every path below counts the request once, by op, which is where
	// Stats.Calls comes from: a performed one before it is performed
	// (stats.called says why), the others as they are answered.
	// The header is copied once by DecodeRequest; everything later reads
	// req, never the header in the mailbox the TA may be rewriting.
	req, err := tzrpc.DecodeRequest(mailbox)
	if err != nil {
		var de *tzrpc.DecodeError
		if errors.As(err, &de) {
			s.log.Debug("undecodable request", "err", err)
			s.refuse(mailbox, de.Op, de.Seq, de.Errno())
		}
		return false, 0
	}
	if len(mailbox) < tzrpc.MinMailbox {
		// Below the protocol's minimum, not every result fits (a path,
		// the longest address); no op has to consider such a mailbox.
		s.refuse(mailbox, req.Op, req.Seq, tzrpc.EINVAL)
		return false, 0
	}
	switch req.Op {
	case tzrpc.OpOpen, tzrpc.OpMkfifo, tzrpc.OpUnlink, tzrpc.OpMkdir, tzrpc.OpRmdir,
		tzrpc.OpRename, tzrpc.OpBind, tzrpc.OpConnect, tzrpc.OpPoll:
		// Structured payloads are validated and used from one private
		// copy. WRITE, SEND and SENDTO data is used in place; SENDTO's
		// address is copied by sendto itself.
		s.payload = req.Detach(s.payload)
	}
	if err := req.Validate(); err != nil {
		s.log.Debug("invalid request", "op", req.Op, "err", err)
		s.refuse(mailbox, req.Op, req.Seq, tzrpc.ErrnoOf(err))
		if req.Op == tzrpc.OpExit {
			// The TA asked to end even if it could not say how well
			// (docs/protocol.md §7.1); the status saturates.
			return true, int(min(max(req.Args[0], math.MinInt32), math.MaxInt32))
		}
		return false, 0
	}
	if req.Op == tzrpc.OpExit {
		s.st.count(req.Op, 0)
		return true, int(req.Args[0])
	}
	var path string
	if s.traceCalls {
		path = callPath(&req)
	}
	s.st.called(req.Op)
	start := s.st.startCall()
	r := s.perform(ctx, &req, mailbox)
	s.performed(&req, &r, start)
	s.st.answered(req.Op, r.errno)
	s.respond(mailbox, req.Op, req.Seq, r)
	if s.traceCalls {
		s.logCall(req.Op, [3]int64(req.Args[:3]), path, r)
	}
	return false, 0
}

// LevelCall is the level of the line every performed call gets (logCall):
// below debug, so that debug logging stays usable under load; tzbridge's
// --log-level trace.
const LevelCall = slog.LevelDebug - 4

// logCall writes the line of one performed call: the op, its first
// three arguments (descriptors, lengths, flags as the protocol has them,
// docs/protocol.md), the path of a path op, and the outcome.
// The arguments are copies, so that req does not escape to the heap on
// every call.
func (s *Shadow) logCall(op tzrpc.Op, args [3]int64, path string, r result) {
	// Names, not numbers: the shadow process logs JSON, where an Op or
	// an Errno would otherwise become its number.
	attrs := []any{"op", op.String(), "args", args}
	if path != "" {
		attrs = append(attrs, "path", path)
	}
	if r.errno != 0 {
		attrs = append(attrs, "errno", r.errno.String())
	} else {
		attrs = append(attrs, "ret", r.ret)
	}
	s.log.Log(context.Background(), LevelCall, "call", attrs...)
}

// callPath is the path a path op names (both, for RENAME), each cut at
// 256 bytes; "" for other ops. Called before the call is performed, whose
// results may reuse the payload's memory.
func callPath(req *tzrpc.Request) string {
	cut := func(p []byte) string { return string(p[:min(len(p), 256)]) }
	switch req.Op {
	case tzrpc.OpOpen, tzrpc.OpMkfifo, tzrpc.OpUnlink, tzrpc.OpMkdir, tzrpc.OpRmdir:
		return cut(req.Payload)
	case tzrpc.OpRename:
		// Validated: Args[0] is the old path's length, within the payload.
		return cut(req.Payload[:req.Args[0]]) + " -> " + cut(req.Payload[req.Args[0]:])
	}
	return ""
}

// perform runs a validated request. out is where response payload goes;
// it aliases the request's payload for WRITE, SEND and SENDTO, which
// produce none.
func (s *Shadow) perform(ctx context.Context, req *tzrpc.Request, mailbox []byte) result {
	out := mailbox[tzrpc.HeaderSize:]
	a := &req.Args
	switch req.Op {
	case tzrpc.OpOpen:
		return s.open(ctx, string(req.Payload), a[0])
	case tzrpc.OpClose:
		return s.close(a[0])
	case tzrpc.OpRead:
		return s.read(ctx, a[0], capLen(a[1], out), out)
	case tzrpc.OpWrite:
		return s.write(ctx, a[0], req.Payload)
	case tzrpc.OpFcntl:
		return s.fcntl(a[0], a[1], a[2])
	case tzrpc.OpMkfifo:
		return s.mkfifo(string(req.Payload), a[0])
	case tzrpc.OpUnlink:
		return s.unlink(string(req.Payload))
	case tzrpc.OpMkdir:
		return s.mkdir(string(req.Payload), a[0])
	case tzrpc.OpRmdir:
		return s.rmdir(string(req.Payload))
	case tzrpc.OpRename:
		oldPath, newPath := req.RenamePaths()
		return s.rename(string(oldPath), string(newPath))
	case tzrpc.OpSocket:
		return s.socket(a[0], a[1], a[2])
	case tzrpc.OpBind:
		return s.bind(a[0], req.Payload)
	case tzrpc.OpListen:
		return s.listen(a[0], a[1])
	case tzrpc.OpAccept:
		return s.accept(ctx, a[0], a[1], out)
	case tzrpc.OpConnect:
		return s.connect(ctx, a[0], req.Payload)
	case tzrpc.OpSend:
		return s.send(ctx, a[0], a[1], nil, req.Payload)
	case tzrpc.OpSendto:
		addr, data := req.SendtoParts()
		return s.send(ctx, a[0], a[1], addr, data)
	case tzrpc.OpRecv:
		return s.recv(ctx, a[0], capLen(a[1], out), a[2], out)
	case tzrpc.OpRecvfrom:
		return s.recvfrom(ctx, a[0], a[1], a[2], out)
	case tzrpc.OpShutdown:
		return s.shutdown(a[0], a[1])
	case tzrpc.OpGetsockname, tzrpc.OpGetpeername:
		return s.sockname(a[0], req.Op == tzrpc.OpGetpeername, out)
	case tzrpc.OpSetsockopt:
		return s.setsockopt(a[0], a[1], a[2])
	case tzrpc.OpGetsockopt:
		return s.getsockopt(a[0], a[1])
	case tzrpc.OpPoll:
		return s.poll(ctx, int(a[0]), int(a[1]), a[2], req.Payload, out)
	}
	return fail(tzrpc.ENOSYS)
}

// capLen caps a requested length at what fits in buf: a TA may ask for
// any count, as read(2) allows, and gets at most a mailbox's worth.
func capLen(n int64, buf []byte) int {
	return int(min(n, int64(len(buf))))
}

// refuse counts and answers a request that is not performed.
func (s *Shadow) refuse(mailbox []byte, op tzrpc.Op, seq uint32, e tzrpc.Errno) {
	s.st.count(op, e)
	s.respond(mailbox, op, seq, fail(e))
}

// respond writes the response header of a counted request. A failed call
// carries no result, payload or aux, as tzrpc requires.
func (s *Shadow) respond(mailbox []byte, op tzrpc.Op, seq uint32, r result) {
	if r.errno != 0 {
		s.errs.Add(1)
		r = result{errno: r.errno}
	}
	resp := tzrpc.Response{Op: op, Seq: seq, Ret: r.ret, Errno: r.errno}
	resp.Aux[0] = r.aux0
	err := tzrpc.EncodeResponseHeader(mailbox, &resp, r.plen)
	if err == nil || len(mailbox) < tzrpc.HeaderSize {
		return
	}
	// Only a bug in this package gets here; the TA still gets an answer.
	s.log.Error("unencodable response", "op", op, "err", err)
	if r.errno == 0 {
		s.errs.Add(1)
	}
	resp = tzrpc.Response{Op: op, Seq: seq, Errno: tzrpc.EIO}
	_ = tzrpc.EncodeResponseHeader(mailbox, &resp, 0)
}
