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

// readAheadExchange is a POLL with a 100-byte read-ahead budget over three
// entries, answered with two records: data for entry 0, an errno for 2.
func readAheadExchange() (Request, Response) {
	req := Request{Op: OpPoll, Seq: 7, Args: [6]int64{3, -1, 100}, Payload: pollBytes(
		PollFd{Fd: 3, Events: POLLIN}, PollFd{Fd: 4, Events: POLLOUT}, PollFd{Fd: 5, Events: POLLIN})}
	payload := pollBytes(PollFd{Fd: 3, Events: POLLIN, Revents: POLLIN}, PollFd{Fd: 4, Events: POLLOUT, Revents: POLLOUT},
		PollFd{Fd: 5, Events: POLLIN, Revents: POLLIN})
	payload = appendReadAhead(payload, ReadAhead{Index: 0}, []byte("hello"))
	payload = appendReadAhead(payload, ReadAhead{Index: 2, Errno: ECONNRESET}, nil)
	resp := Response{Op: OpPoll, Seq: 7, Ret: 3, Payload: payload}
	resp.Aux[0] = 2
	return req, resp
}

func appendReadAhead(b []byte, r ReadAhead, data []byte) []byte {
	return appendDatagram(b, r, nil, data)
}

func appendDatagram(b []byte, r ReadAhead, addr, data []byte) []byte {
	r.AddrLen, r.Len = uint16(len(addr)), uint32(len(data))
	var h [ReadAheadHeaderSize]byte
	PutReadAhead(h[:], r)
	return append(append(append(b, h[:]...), addr...), data...)
}

func TestCheckReadAhead(t *testing.T) {
	entries := 3 * PollFdSize
	tests := []struct {
		name string
		mut  func(req *Request, resp *Response)
		ok   bool
	}{
		{"as sent", func(*Request, *Response) {}, true},
		{"no records", func(q *Request, p *Response) { p.Payload, p.Aux[0] = p.Payload[:entries], 0 }, true},
		{"exactly the budget", func(q *Request, p *Response) { q.Args[2] = 5 }, true},
		{"over the budget", func(q *Request, p *Response) { q.Args[2] = 4 }, false},
		{"not asked for", func(q *Request, p *Response) { q.Args[2] = 0 }, false},
		{"count past the records", func(q *Request, p *Response) { p.Aux[0] = 3 }, false},
		{"count below the records", func(q *Request, p *Response) { p.Aux[0] = 1 }, false},
		{"count negative", func(q *Request, p *Response) { p.Aux[0] = -1 }, false},
		{"aux[1]", func(q *Request, p *Response) { p.Aux[1] = 1 }, false},
		{"record cut short", func(q *Request, p *Response) { p.Payload = p.Payload[:len(p.Payload)-1] }, false},
		{"length past the payload", func(q *Request, p *Response) { p.Payload[entries+8] = 200 }, false},
		{"trailing bytes", func(q *Request, p *Response) { p.Payload = append(p.Payload, 0) }, false},
		{"index out of order", func(q *Request, p *Response) { p.Payload[entries+ReadAheadHeaderSize+5] = 0 }, false},
		{"index beyond nfds", func(q *Request, p *Response) { p.Payload[entries+ReadAheadHeaderSize+5] = 3 }, false},
		{"entry not asking POLLIN", func(q *Request, p *Response) { p.Payload[entries] = 1 }, false},
		{"entry not readable", func(q *Request, p *Response) {
			PutPollFd(p.Payload, 2, PollFd{Fd: 5, Events: POLLIN, Revents: POLLHUP})
		}, false},
		{"errno out of range", func(q *Request, p *Response) { p.Payload[entries+ReadAheadHeaderSize+5+4] = 0xff }, false},
		{"empty data without errno", func(q *Request, p *Response) { p.Payload[entries+ReadAheadHeaderSize+5+4] = 0 }, false},
		{"data with errno", func(q *Request, p *Response) { p.Payload[entries+4] = byte(EIO) }, false},
		{"datagram with its sender", func(q *Request, p *Response) {
			p.Payload = appendDatagram(p.Payload[:entries+ReadAheadHeaderSize+5], ReadAhead{Index: 2}, sa4.Marshal(), []byte("dgram"))
		}, true},
		{"empty datagram", func(q *Request, p *Response) {
			p.Payload = appendDatagram(p.Payload[:entries+ReadAheadHeaderSize+5], ReadAhead{Index: 2}, saUnix.Marshal(), nil)
		}, true},
		{"datagram from a bad address", func(q *Request, p *Response) {
			p.Payload = appendDatagram(p.Payload[:entries+ReadAheadHeaderSize+5], ReadAhead{Index: 2}, []byte{9, 0, 0, 0}, []byte("x"))
		}, false},
		{"address with trailing bytes", func(q *Request, p *Response) {
			p.Payload = appendDatagram(p.Payload[:entries+ReadAheadHeaderSize+5], ReadAhead{Index: 2}, append(sa4.Marshal(), 0), []byte("x"))
		}, false},
		{"errno with an address", func(q *Request, p *Response) {
			p.Payload = appendDatagram(p.Payload[:entries+ReadAheadHeaderSize+5], ReadAhead{Index: 2, Errno: EIO}, sa4.Marshal(), nil)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, resp := readAheadExchange()
			tt.mut(&req, &resp)
			err := CheckResponse(&req, &resp, 4096)
			if tt.ok != (err == nil) {
				t.Fatalf("CheckResponse = %v, want ok %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrBadResponse) {
				t.Fatalf("CheckResponse = %v, want ErrBadResponse", err)
			}
		})
	}
}

func TestNextReadAhead(t *testing.T) {
	b := appendDatagram(nil, ReadAhead{Index: 9, Errno: ECONNRESET}, []byte("ad"), []byte("abc"))
	b = append(b, 'x')
	r, addr, data, rest, ok := NextReadAhead(b)
	if !ok || r.Index != 9 || r.Errno != ECONNRESET || string(addr) != "ad" || string(data) != "abc" || string(rest) != "x" {
		t.Fatalf("NextReadAhead = %+v %q %q %q %v", r, addr, data, rest, ok)
	}
	if cap(data) != len(data) || cap(addr) != len(addr) {
		t.Errorf("spare capacity (%d, %d): an append could overwrite what follows", cap(addr), cap(data))
	}
	for n := range ReadAheadHeaderSize + 5 {
		if _, _, _, _, ok := NextReadAhead(b[:n]); ok {
			t.Errorf("NextReadAhead accepted %d bytes", n)
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

		{"poll aux[0] without read-ahead", OpPoll, func(q *Request, p *Response) { p.Aux[0] = 1 }, false},
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
