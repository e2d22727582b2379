package tzposix

import (
	"bytes"
	"errors"
	"maps"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/tzrpc"
)

// writeResp writes a response header without EncodeResponseHeader's checks,
// so that a test can say anything a hostile shadow could.
func writeResp(mb []byte, op tzrpc.Op, seq uint32, ret int64, errno tzrpc.Errno, aux [4]int64, payload []byte) {
	clear(mb[:tzrpc.HeaderSize])
	put32(mb, offMagic, tzrpc.MagicResponse)
	put16(mb, 4, tzrpc.Version)
	put16(mb, offOp, uint16(op))
	put32(mb, offSeq, seq)
	put32(mb, offPlen, uint32(len(payload)))
	put64(mb, offRet, ret)
	put32(mb, offErrno, uint32(errno))
	for i, a := range aux {
		put64(mb, offAux0+8*i, a)
	}
	copy(mb[offPayload:], payload)
}

// ok answers req with ret and payload, echoing op and seq.
func ok(ret int64, payload []byte) func([]byte, tzrpc.Request) {
	return func(mb []byte, req tzrpc.Request) { writeResp(mb, req.Op, req.Seq, ret, 0, [4]int64{}, payload) }
}

func TestLyingShadow(t *testing.T) {
	pollCall := func(p *Proc) (any, error) {
		fds := []PollFd{{Fd: 3, Events: POLLIN}, {Fd: -1, Events: POLLOUT}}
		n, err := p.Poll(fds, 0)
		if fds[0].Revents != 0 || fds[1].Revents != 0 {
			return "revents leaked", err
		}
		return n, err
	}
	pollResp := func(e0, e1 tzrpc.PollFd, ret int64) func([]byte, tzrpc.Request) {
		return ok(ret, pollBytes(e0, e1))
	}
	in3 := tzrpc.PollFd{Fd: 3, Events: POLLIN}
	out := tzrpc.PollFd{Fd: -1, Events: POLLOUT}
	readInto := func(n int) func(p *Proc) (any, error) {
		return func(p *Proc) (any, error) {
			b := make([]byte, n)
			got, err := p.Read(3, b)
			if !bytes.Equal(b, make([]byte, n)) {
				return "buffer written", err
			}
			return got, err
		}
	}
	recvfrom := func(p *Proc) (any, error) {
		b := make([]byte, 8)
		n, from, err := p.Recvfrom(3, b, 0)
		if !bytes.Equal(b, make([]byte, 8)) || from.IsValid() {
			return "result leaked", err
		}
		return n, err
	}
	accept := func(p *Proc) (any, error) {
		fd, sa, err := p.Accept(5)
		if sa.IsValid() {
			return "address leaked", err
		}
		return fd, err
	}
	fds := map[int32]fdInfo{3: file, 5: stream, 7: dgram}

	tests := []struct {
		name string
		call func(p *Proc) (any, error)
		lie  func(mb []byte, req tzrpc.Request)
		want any // the value returned with EIO
	}{
		{"read: n larger than asked", readInto(10), ok(20, seqBytes(20)), 0},
		{"read: n != payload length", readInto(10), func(mb []byte, r tzrpc.Request) { writeResp(mb, r.Op, r.Seq, 5, 0, [4]int64{}, []byte("abc")) }, 0},
		{"read: payload beyond mailbox", readInto(10), func(mb []byte, r tzrpc.Request) {
			writeResp(mb, r.Op, r.Seq, 5, 0, [4]int64{}, nil)
			put32(mb, offPlen, uint32(len(mb)))
		}, 0},
		{"wrong seq", readInto(10), func(mb []byte, r tzrpc.Request) { writeResp(mb, r.Op, r.Seq+1, 1, 0, [4]int64{}, []byte("x")) }, 0},
		{"wrong op", readInto(10), func(mb []byte, r tzrpc.Request) { writeResp(mb, tzrpc.OpRecv, r.Seq, 1, 0, [4]int64{}, []byte("x")) }, 0},
		{"errno with payload", readInto(10), func(mb []byte, r tzrpc.Request) { writeResp(mb, r.Op, r.Seq, 0, tzrpc.EAGAIN, [4]int64{}, []byte("x")) }, 0},
		{"errno with ret", readInto(10), func(mb []byte, r tzrpc.Request) { writeResp(mb, r.Op, r.Seq, 3, tzrpc.EAGAIN, [4]int64{}, nil) }, 0},
		{"errno out of range", readInto(10), func(mb []byte, r tzrpc.Request) { writeResp(mb, r.Op, r.Seq, 0, 4000, [4]int64{}, nil) }, 0},
		{"negative ret", readInto(10), func(mb []byte, r tzrpc.Request) { writeResp(mb, r.Op, r.Seq, -1, 0, [4]int64{}, nil) }, 0},
		{"aux not zero", readInto(10), func(mb []byte, r tzrpc.Request) { writeResp(mb, r.Op, r.Seq, 0, 0, [4]int64{0, 0, 0, 1}, nil) }, 0},
		{"garbage header", readInto(10), func(mb []byte, r tzrpc.Request) { copy(mb, bytes.Repeat([]byte{0xA5}, 200)) }, 0},
		{"request left in place", readInto(10), func([]byte, tzrpc.Request) {}, 0},
		{"write: n larger than offered", func(p *Proc) (any, error) { return p.Write(3, []byte("abc")) }, ok(4, nil), 0},
		{"write: payload in answer", func(p *Proc) (any, error) { return p.Write(3, []byte("abc")) }, ok(3, []byte("abc")), 0},
		{"blocking write makes no progress", func(p *Proc) (any, error) { return p.Write(3, []byte("abc")) }, ok(0, nil), 0},
		{"sendto: n counts the address", func(p *Proc) (any, error) { return p.Sendto(7, []byte("ab"), 0, loopback) }, ok(int64(2+loopback.Len()), nil), 0},
		{"open returns a known fd", func(p *Proc) (any, error) { return p.Open("x", O_RDONLY, 0) }, ok(5, nil), -1},
		{"open returns fd out of range", func(p *Proc) (any, error) { return p.Open("x", O_RDONLY, 0) }, ok(tzrpc.FDLimit, nil), -1},
		{"socket returns a known fd", func(p *Proc) (any, error) { return p.Socket(AF_INET, SOCK_STREAM, 0) }, ok(3, nil), -1},
		{"accept returns a known fd", accept, ok(3, peer4.Marshal()), -1},
		{"accept returns itself", accept, ok(5, peer4.Marshal()), -1},
		{"accept: bad sockaddr", accept, ok(9, []byte{9, 0, 1, 2, 3, 4, 5, 6}), -1},
		{"accept: no sockaddr", accept, ok(9, nil), -1},
		{"accept: sockaddr with trailing bytes", accept, ok(9, cat(peer4.Marshal(), []byte{0})), -1},
		{"accept: unix path with NUL", accept, ok(9, []byte{3, 0, 0, 0, 2, 0, 'a', 0}), -1},
		{"getsockname: truncated inet6", func(p *Proc) (any, error) { return p.Getsockname(5) }, ok(0, peer6.Marshal()[:20]), tzrpc.Sockaddr{}},
		{"getsockname: ret not 0", func(p *Proc) (any, error) { return p.Getsockname(5) }, ok(1, peer4.Marshal()), tzrpc.Sockaddr{}},
		{"recvfrom: address length beyond payload", recvfrom, func(mb []byte, r tzrpc.Request) {
			writeResp(mb, r.Op, r.Seq, 0, 0, [4]int64{int64(peer4.Len() + 1)}, peer4.Marshal())
		}, 0},
		{"recvfrom: bad family", recvfrom, func(mb []byte, r tzrpc.Request) {
			writeResp(mb, r.Op, r.Seq, 1, 0, [4]int64{8}, cat([]byte{7, 0, 0, 0, 1, 2, 3, 4}, []byte("x")))
		}, 0},
		{"recvfrom: more than asked", recvfrom, func(mb []byte, r tzrpc.Request) {
			writeResp(mb, r.Op, r.Seq, 9, 0, [4]int64{int64(peer4.Len())}, cat(peer4.Marshal(), seqBytes(9)))
		}, 0},
		{"recvfrom: ret != data length", recvfrom, func(mb []byte, r tzrpc.Request) {
			writeResp(mb, r.Op, r.Seq, 2, 0, [4]int64{int64(peer4.Len())}, cat(peer4.Marshal(), seqBytes(3)))
		}, 0},
		{"poll: fd changed", pollCall, pollResp(tzrpc.PollFd{Fd: 4, Events: POLLIN, Revents: POLLIN}, out, 1), 0},
		{"poll: events changed", pollCall, pollResp(tzrpc.PollFd{Fd: 3, Events: POLLIN | POLLOUT, Revents: POLLOUT}, out, 1), 0},
		{"poll: revents not asked for", pollCall, pollResp(tzrpc.PollFd{Fd: 3, Events: POLLIN, Revents: POLLOUT}, out, 1), 0},
		{"poll: revents for a negative fd", pollCall, pollResp(in3, tzrpc.PollFd{Fd: -1, Events: POLLOUT, Revents: POLLOUT}, 1), 0},
		{"poll: count too high", pollCall, pollResp(tzrpc.PollFd{Fd: 3, Events: POLLIN, Revents: POLLIN}, out, 2), 0},
		{"poll: count too low", pollCall, pollResp(tzrpc.PollFd{Fd: 3, Events: POLLIN, Revents: POLLIN}, out, 0), 0},
		{"poll: entry missing", pollCall, ok(0, pollBytes(in3)), 0},
		{"poll: read ahead with a sender for a FIFO", pollCall, func(mb []byte, r tzrpc.Request) {
			writeResp(mb, r.Op, r.Seq, 1, 0, [4]int64{1}, cat(pollBytes(tzrpc.PollFd{Fd: 3, Events: POLLIN, Revents: POLLIN}, out),
				datagramRecord(0, peer4, "x")))
		}, 0},
		{"poll: a later record lies, nothing is kept", func(p *Proc) (any, error) {
			n, err := p.Poll([]PollFd{{Fd: 3, Events: POLLIN}, {Fd: 7, Events: POLLIN}}, 0)
			if p.ready(3) || p.ready(7) {
				return "kept", err
			}
			return n, err
		}, func(mb []byte, r tzrpc.Request) {
			writeResp(mb, r.Op, r.Seq, 2, 0, [4]int64{2}, cat(
				pollBytes(tzrpc.PollFd{Fd: 3, Events: POLLIN, Revents: POLLIN}, tzrpc.PollFd{Fd: 7, Events: POLLIN, Revents: POLLIN}),
				readAheadRecord(0, 0, "fine"), readAheadRecord(1, 0, "datagram without its sender")))
		}, 0},
		{"poll: a record after an errno for the same descriptor", func(p *Proc) (any, error) {
			n, err := p.Poll([]PollFd{{Fd: 5, Events: POLLIN}, {Fd: 5, Events: POLLIN}}, 0)
			if p.ready(5) {
				return "kept", err
			}
			return n, err
		}, func(mb []byte, r tzrpc.Request) {
			writeResp(mb, r.Op, r.Seq, 2, 0, [4]int64{2}, cat(
				pollBytes(tzrpc.PollFd{Fd: 5, Events: POLLIN, Revents: POLLIN}, tzrpc.PollFd{Fd: 5, Events: POLLIN, Revents: POLLIN}),
				readAheadRecord(0, tzrpc.ECONNRESET, ""), readAheadRecord(1, 0, "after the reset")))
		}, 0},
		{"poll: read ahead for an entry not ready", pollCall, func(mb []byte, r tzrpc.Request) {
			writeResp(mb, r.Op, r.Seq, 0, 0, [4]int64{1}, cat(pollBytes(in3, out), readAheadRecord(0, 0, "x")))
		}, 0},
		{"poll: read ahead without asking", func(p *Proc) (any, error) {
			n, err := p.Poll([]PollFd{{Fd: 3, Events: POLLOUT}}, 0)
			return n, err
		}, func(mb []byte, r tzrpc.Request) {
			writeResp(mb, r.Op, r.Seq, 1, 0, [4]int64{1}, cat(pollBytes(tzrpc.PollFd{Fd: 3, Events: POLLOUT, Revents: POLLOUT}), readAheadRecord(0, 0, "x")))
		}, 0},
		{"getsockopt: boolean 2", func(p *Proc) (any, error) { return p.GetsockoptInt(5, unix.SOL_SOCKET, unix.SO_REUSEADDR) }, ok(2, nil), 0},
		{"getsockopt: SO_TYPE 3", func(p *Proc) (any, error) { return p.GetsockoptInt(5, unix.SOL_SOCKET, unix.SO_TYPE) }, ok(3, nil), 0},
		{"getsockopt: SO_ERROR beyond errnos", func(p *Proc) (any, error) { return p.GetsockoptInt(5, unix.SOL_SOCKET, unix.SO_ERROR) }, ok(int64(tzrpc.MaxErrno)+1, nil), 0},
		{"listen: ret not 0", func(p *Proc) (any, error) { return nil, p.Listen(5, 1) }, ok(1, nil), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, wait := runCall(t, tzrpc.MinMailbox, fds, tc.call)
			req := f.next()
			tc.lie(f.mb, req)
			o := wait()
			if !errors.Is(o.err, syscall.EIO) {
				t.Errorf("error = %v, want EIO", o.err)
			}
			if o.val != tc.want {
				t.Errorf("result = %#v, want %#v", o.val, tc.want)
			}
			if o.violations != 1 {
				t.Errorf("violations = %d, want 1", o.violations)
			}
			if !maps.Equal(o.fds, fds) {
				t.Errorf("descriptors = %v, want unchanged %v", o.fds, fds)
			}
		})
	}
}

// After a lie the library keeps working: the next honest answer is taken.
func TestLyingShadowThenHonest(t *testing.T) {
	f, wait := runCall(t, tzrpc.MinMailbox, map[int32]fdInfo{3: file}, func(p *Proc) (any, error) {
		b := make([]byte, 4)
		if _, err := p.Read(3, b); !errors.Is(err, syscall.EIO) {
			return nil, err
		}
		n, err := p.Read(3, b)
		return string(b[:n]), err
	})
	req := f.next()
	writeResp(f.mb, req.Op, req.Seq, 9, 0, [4]int64{}, seqBytes(9))
	req = f.next()
	f.reply(req, 2, 0, [4]int64{}, []byte("ok"))
	o := wait()
	if o.err != nil || o.val != "ok" || o.violations != 1 {
		t.Fatalf("got %v, %v, %d violations; want ok, nil, 1", o.val, o.err, o.violations)
	}
}
