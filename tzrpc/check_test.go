package tzrpc

import (
	"errors"
	"math"
	"testing"
)

func TestCheckResponseAcceptsExchanges(t *testing.T) {
	for _, x := range exchanges() {
		if x.resp == nil {
			continue
		}
		if err := CheckResponse(&x.req, x.resp, 4096); err != nil {
			t.Errorf("%v: %v", x.req.Op, err)
		}
	}
}

func TestCheckResponse(t *testing.T) {
	type mut func(req *Request, resp *Response)
	tests := []struct {
		name string
		op   Op
		mut  mut
		ok   bool
	}{
		{"op echo", OpClose, func(q *Request, p *Response) { p.Op = OpOpen }, false},
		{"seq echo", OpClose, func(q *Request, p *Response) { p.Seq++ }, false},
		{"negative ret", OpClose, func(q *Request, p *Response) { p.Ret = -1 }, false},
		{"errno ok", OpClose, func(q *Request, p *Response) { p.Errno = EBADF }, true},
		{"errno out of range", OpClose, func(q *Request, p *Response) { p.Errno = MaxErrno + 1 }, false},
		{"errno with ret", OpOpen, func(q *Request, p *Response) { p.Errno = EACCES }, false},
		{"errno with payload", OpRead, func(q *Request, p *Response) { p.Ret, p.Errno = 0, EAGAIN }, false},
		{"errno with aux", OpClose, func(q *Request, p *Response) { p.Errno, p.Aux[3] = EIO, 1 }, false},
		{"aux on open", OpOpen, func(q *Request, p *Response) { p.Aux[0] = 1 }, false},
		{"aux[1] on recvfrom", OpRecvfrom, func(q *Request, p *Response) { p.Aux[1] = 1 }, false},

		{"open fd max", OpOpen, func(q *Request, p *Response) { p.Ret = FDLimit - 1 }, true},
		{"open fd range", OpOpen, func(q *Request, p *Response) { p.Ret = FDLimit }, false},
		{"open payload", OpOpen, func(q *Request, p *Response) { p.Payload = []byte("x") }, false},
		{"socket fd range", OpSocket, func(q *Request, p *Response) { p.Ret = math.MaxInt64 }, false},
		{"close ret", OpClose, func(q *Request, p *Response) { p.Ret = 1 }, false},
		{"mkdir payload", OpMkdir, func(q *Request, p *Response) { p.Payload = []byte("x") }, false},

		{"accept fd range", OpAccept, func(q *Request, p *Response) { p.Ret = FDLimit }, false},
		{"accept no address", OpAccept, func(q *Request, p *Response) { p.Payload = nil }, false},
		{"accept trailing", OpAccept, func(q *Request, p *Response) { p.Payload = append(p.Payload, 0) }, false},
		{"accept bad family", OpAccept, func(q *Request, p *Response) { p.Payload[0] = 7 }, false},

		{"read more than asked", OpRead, func(q *Request, p *Response) { q.Args[1] = 99 }, false},
		{"read exactly asked", OpRead, func(q *Request, p *Response) { q.Args[1] = 100 }, true},
		{"read ret not data", OpRead, func(q *Request, p *Response) { p.Ret = 99 }, false},
		{"read payload past maxLen", OpRead, func(q *Request, p *Response) { p.Payload = make([]byte, 4097); p.Ret = 4097; q.Args[1] = 5000 }, false},
		{"recv ret not data", OpRecv, func(q *Request, p *Response) { p.Payload = p.Payload[:49] }, false},
		{"write more than offered", OpWrite, func(q *Request, p *Response) { p.Ret = 101 }, false},
		{"write all", OpWrite, func(q *Request, p *Response) { p.Ret = 100 }, true},
		{"write payload", OpWrite, func(q *Request, p *Response) { p.Payload = []byte("x") }, false},
		{"send more than offered", OpSend, func(q *Request, p *Response) { p.Ret = 101 }, false},
		{"sendto counts the address", OpSendto, func(q *Request, p *Response) { p.Ret = 101 }, false},
		{"sendto bad request", OpSendto, func(q *Request, p *Response) { q.Args[2] = -1 }, false},
		{"sendto request addr past payload", OpSendto, func(q *Request, p *Response) { q.Args[2] = 1000 }, false},

		{"recvfrom no address", OpRecvfrom, func(q *Request, p *Response) { p.Payload, p.Aux[0] = p.Payload[8:], 0 }, true},
		{"recvfrom aux past payload", OpRecvfrom, func(q *Request, p *Response) { p.Aux[0] = 200 }, false},
		{"recvfrom aux negative", OpRecvfrom, func(q *Request, p *Response) { p.Aux[0] = -1 }, false},
		{"recvfrom more than asked", OpRecvfrom, func(q *Request, p *Response) { q.Args[1] = 99 }, false},
		{"recvfrom data mismatch", OpRecvfrom, func(q *Request, p *Response) { p.Ret = 99 }, false},
		{"recvfrom addr length mismatch", OpRecvfrom, func(q *Request, p *Response) { p.Aux[0] = 9; p.Ret = 99 }, false},
		{"recvfrom bad address", OpRecvfrom, func(q *Request, p *Response) { p.Payload[0] = 9 }, false},

		{"getsockname ret", OpGetsockname, func(q *Request, p *Response) { p.Ret = 1 }, false},
		{"getsockname empty", OpGetsockname, func(q *Request, p *Response) { p.Payload = nil }, false},
		{"getpeername unix port", OpGetpeername, func(q *Request, p *Response) { p.Payload[2] = 1 }, false},

		{"sockopt SO_ERROR max", OpGetsockopt, func(q *Request, p *Response) { p.Ret = int64(MaxErrno) }, true},
		{"sockopt SO_ERROR range", OpGetsockopt, func(q *Request, p *Response) { p.Ret = int64(MaxErrno) + 1 }, false},
		{"sockopt SO_TYPE", OpGetsockopt, func(q *Request, p *Response) { q.Args[1], p.Ret = SO_TYPE, 3 }, false},
		{"sockopt bool 2", OpGetsockopt, func(q *Request, p *Response) { q.Args[1], p.Ret = SO_REUSEADDR, 2 }, false},
		{"sockopt bool 0", OpGetsockopt, func(q *Request, p *Response) { q.Args[1], p.Ret = SO_BROADCAST, 0 }, true},
		{"sockopt buffer", OpGetsockopt, func(q *Request, p *Response) { q.Args[1], p.Ret = SO_SNDBUF, 212992 }, true},
		{"sockopt buffer range", OpGetsockopt, func(q *Request, p *Response) { q.Args[1], p.Ret = SO_RCVBUF, math.MaxInt32+1 }, false},
		{"sockopt bad request", OpGetsockopt, func(q *Request, p *Response) { q.Args[1], p.Ret = 0, 0 }, false},
		{"sockopt payload", OpGetsockopt, func(q *Request, p *Response) { p.Payload = []byte("x") }, false},

		{"poll short", OpPoll, func(q *Request, p *Response) { p.Payload = p.Payload[:16] }, false},
		{"poll fd changed", OpPoll, func(q *Request, p *Response) { p.Payload[0] = 4 }, false},
		{"poll events changed", OpPoll, func(q *Request, p *Response) { p.Payload[4] |= POLLPRI }, false},
		{"poll unknown revents", OpPoll, func(q *Request, p *Response) { p.Payload[6] |= 0x40 }, false},
		{"poll unasked revents", OpPoll, func(q *Request, p *Response) { p.Payload[6] |= POLLOUT }, false},
		{"poll always revents", OpPoll, func(q *Request, p *Response) { p.Payload[6] |= POLLERR | POLLNVAL }, true},
		{"poll negative fd revents", OpPoll, func(q *Request, p *Response) { p.Payload[14] = POLLNVAL; p.Ret = 3 }, false},
		{"poll count", OpPoll, func(q *Request, p *Response) { p.Ret = 3 }, false},
		{"poll aliased", OpPoll, func(q *Request, p *Response) { q.Payload = p.Payload }, false},
		{"poll bad request", OpPoll, func(q *Request, p *Response) { q.Args[0] = 2 }, false},

		{"getfl creat", OpFcntl, func(q *Request, p *Response) { p.Ret = O_CREAT }, false},
		{"getfl accmode 3", OpFcntl, func(q *Request, p *Response) { p.Ret = O_ACCMODE }, false},
		{"getfl append", OpFcntl, func(q *Request, p *Response) { p.Ret = O_WRONLY | O_APPEND }, true},
		{"setfl ret", OpFcntl, func(q *Request, p *Response) { q.Args[1], q.Args[2], p.Ret = F_SETFL, O_NONBLOCK, 1 }, false},
		{"setfl ok", OpFcntl, func(q *Request, p *Response) { q.Args[1], q.Args[2], p.Ret = F_SETFL, O_NONBLOCK, 0 }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := exchangeFor(tt.op)
			tt.mut(&x.req, x.resp)
			err := CheckResponse(&x.req, x.resp, 4096)
			if tt.ok {
				if err != nil {
					t.Fatalf("CheckResponse: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("CheckResponse = %v, want ErrBadResponse", err)
			}
			t.Log(err)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field == "" || fe.Reason == "" {
				t.Errorf("error %#v lacks context", err)
			}
			if ErrnoOf(err) != EIO {
				t.Errorf("ErrnoOf = %v, want EIO", ErrnoOf(err))
			}
		})
	}

	x := exchangeFor(OpExit)
	if err := CheckResponse(&x.req, &Response{Op: OpExit, Seq: x.req.Seq}, 4096); !errors.Is(err, ErrBadResponse) {
		t.Errorf("EXIT response accepted: %v", err)
	}
}
