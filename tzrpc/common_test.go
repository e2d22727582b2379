package tzrpc

import (
	"bytes"
	"net/netip"
	"strings"
)

// exchange is one well-formed request and, unless it is EXIT, the response a
// correct shadow could give. Tests mutate copies; fuzzers use them as seeds.
type exchange struct {
	req  Request
	resp *Response
}

func args(a ...int64) (r [6]int64) {
	copy(r[:], a)
	return r
}

func mustUnix(p string) Sockaddr {
	s, err := UnixSockaddr(p)
	if err != nil {
		panic(err)
	}
	return s
}

var (
	sa4     = Inet4Sockaddr([4]byte{127, 0, 0, 1}, 7000)
	sa6     = Inet6Sockaddr(netip.MustParseAddr("fe80::1").As16(), 7001, 2)
	saUnix  = mustUnix("/tz/echo/sock")
	saAnon  = mustUnix("")
	data100 = bytes.Repeat([]byte("x"), 100)
)

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

func pollBytes(ps ...PollFd) []byte {
	var b []byte
	for _, p := range ps {
		b = AppendPollFd(b, p)
	}
	return b
}

// exchanges returns fresh copies, one or more per op, so tests may mutate them.
func exchanges() []exchange {
	ok := func(ret int64, payload []byte, aux ...int64) *Response {
		r := &Response{Ret: ret, Payload: payload}
		copy(r.Aux[:], aux)
		return r
	}
	xs := []exchange{
		{Request{Op: OpExit, Args: args(3)}, nil},
		{Request{Op: OpOpen, Args: args(O_RDWR|O_CREAT|O_CLOEXEC, 0o644), Payload: []byte("data/file")}, ok(3, nil)},
		{Request{Op: OpOpen, Args: args(O_WRONLY | O_NONBLOCK), Payload: []byte("in")}, &Response{Errno: ENXIO}},
		{Request{Op: OpClose, Args: args(3)}, ok(0, nil)},
		{Request{Op: OpRead, Args: args(3, 4096)}, ok(100, data100)},
		{Request{Op: OpRead, Args: args(3, 4096)}, ok(0, nil)},
		{Request{Op: OpWrite, Args: args(4), Payload: data100}, ok(60, nil)},
		{Request{Op: OpMkfifo, Args: args(0o600), Payload: []byte("fifo")}, ok(0, nil)},
		{Request{Op: OpUnlink, Payload: []byte("fifo")}, &Response{Errno: ENOENT}},
		{Request{Op: OpMkdir, Args: args(0o755), Payload: []byte("dir")}, ok(0, nil)},
		{Request{Op: OpRmdir, Payload: []byte("dir")}, ok(0, nil)},
		{Request{Op: OpRename, Args: args(3), Payload: []byte("oldnew/name")}, ok(0, nil)},
		{Request{Op: OpSocket, Args: args(AF_INET, SOCK_STREAM, SOCK_NONBLOCK)}, ok(5, nil)},
		{Request{Op: OpSocket, Args: args(AF_UNIX, SOCK_DGRAM)}, ok(6, nil)},
		{Request{Op: OpBind, Args: args(5), Payload: sa4.Marshal()}, ok(0, nil)},
		{Request{Op: OpBind, Args: args(6), Payload: saUnix.Marshal()}, &Response{Errno: EADDRINUSE}},
		{Request{Op: OpListen, Args: args(5, 128)}, ok(0, nil)},
		{Request{Op: OpAccept, Args: args(5, SOCK_NONBLOCK)}, ok(7, sa4.Marshal())},
		{Request{Op: OpAccept, Args: args(6)}, ok(8, saAnon.Marshal())},
		{Request{Op: OpConnect, Args: args(5), Payload: sa6.Marshal()}, &Response{Errno: EINPROGRESS}},
		{Request{Op: OpSend, Args: args(7, MSG_NOSIGNAL), Payload: data100}, ok(100, nil)},
		{Request{Op: OpRecv, Args: args(7, 50, MSG_WAITALL)}, ok(50, data100[:50])},
		{Request{Op: OpSendto, Args: args(6, MSG_DONTWAIT, int64(saUnix.Len())), Payload: cat(saUnix.Marshal(), data100)}, ok(100, nil)},
		{Request{Op: OpSendto, Args: args(7, 0, 0), Payload: data100}, ok(10, nil)},
		{Request{Op: OpRecvfrom, Args: args(6, 4096, MSG_PEEK)}, ok(100, cat(sa4.Marshal(), data100), SockaddrInetLen)},
		{Request{Op: OpRecvfrom, Args: args(7, 4096)}, ok(100, data100)},
		{Request{Op: OpShutdown, Args: args(7, SHUT_WR)}, ok(0, nil)},
		{Request{Op: OpGetsockname, Args: args(5)}, ok(0, sa6.Marshal())},
		{Request{Op: OpGetpeername, Args: args(7)}, ok(0, saUnix.Marshal())},
		{Request{Op: OpSetsockopt, Args: args(5, SO_REUSEADDR, 1)}, ok(0, nil)},
		{Request{Op: OpSetsockopt, Args: args(5, SO_RCVBUF, 1<<20)}, ok(0, nil)},
		{Request{Op: OpGetsockopt, Args: args(5, SO_ERROR)}, ok(int64(ECONNREFUSED), nil)},
		{Request{Op: OpGetsockopt, Args: args(5, SO_TYPE)}, ok(SOCK_STREAM, nil)},
		{Request{Op: OpGetsockopt, Args: args(5, TCP_NODELAY)}, ok(1, nil)},
		{Request{Op: OpPoll, Args: args(3, -1), Payload: pollBytes(
			PollFd{Fd: 3, Events: POLLIN}, PollFd{Fd: -1, Events: POLLOUT}, PollFd{Fd: 9, Events: POLLIN | POLLOUT})},
			ok(2, pollBytes(
				PollFd{Fd: 3, Events: POLLIN, Revents: POLLIN | POLLHUP}, PollFd{Fd: -1, Events: POLLOUT},
				PollFd{Fd: 9, Events: POLLIN | POLLOUT, Revents: POLLOUT}))},
		{Request{Op: OpPoll, Args: args(0, 10)}, ok(0, nil)},
		{Request{Op: OpFcntl, Args: args(5, F_GETFL)}, ok(O_RDWR|O_NONBLOCK, nil)},
		{Request{Op: OpFcntl, Args: args(5, F_SETFL, O_RDWR|O_NONBLOCK)}, ok(0, nil)},
	}
	for i := range xs {
		xs[i].req.Seq = uint32(100 + i)
		if r := xs[i].resp; r != nil {
			r.Op, r.Seq = xs[i].req.Op, xs[i].req.Seq
		}
	}
	return xs
}

// exchangeFor returns the first exchange for op.
func exchangeFor(op Op) exchange {
	for _, x := range exchanges() {
		if x.req.Op == op {
			return x
		}
	}
	panic("no exchange for " + op.String())
}

// encodeReq lays a request out in a mailbox of the given size.
func encodeReq(r *Request, size int) []byte {
	mb := make([]byte, size)
	copy(mb[HeaderSize:], r.Payload)
	if err := EncodeRequestHeader(mb, r.Op, r.Seq, r.Args, len(r.Payload)); err != nil {
		panic(err)
	}
	return mb
}

func encodeResp(r *Response, size int) []byte {
	mb := make([]byte, size)
	copy(mb[HeaderSize:], r.Payload)
	if err := EncodeResponseHeader(mb, r, len(r.Payload)); err != nil {
		panic(err)
	}
	return mb
}

var longPath = strings.Repeat("p", MaxPath)
