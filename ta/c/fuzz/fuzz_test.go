//go:build cgo

package fuzz

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/tzmediator/tzbridge/tzrpc"
)

var le = binary.LittleEndian

// rawResp encodes a response header and payload as a shadow would, or as
// a lying one would: nothing is checked here.
func rawResp(op tzrpc.Op, seq uint32, ret int64, errno uint32, aux0 int64, payload []byte) []byte {
	b := make([]byte, tzrpc.HeaderSize+len(payload))
	le.PutUint32(b[0:], tzrpc.MagicResponse)
	le.PutUint16(b[4:], tzrpc.Version)
	le.PutUint16(b[6:], uint16(op))
	le.PutUint32(b[8:], seq)
	le.PutUint32(b[12:], uint32(len(payload)))
	le.PutUint64(b[16:], uint64(ret))
	le.PutUint32(b[24:], errno)
	le.PutUint64(b[32:], uint64(aux0))
	copy(b[tzrpc.HeaderSize:], payload)
	return b
}

// fuzzRequest turns fuzz inputs into a request and the payload limit the
// library would use for it.
func fuzzRequest(op uint8, a1, a2 int64, reqLen uint16, reqPayload []byte) (tzrpc.Request, int) {
	o := tzrpc.Op(2 + int(op)%25) // OPEN .. FCNTL: every op that has a response
	req := tzrpc.Request{Op: o, Seq: 0x01020304, Args: [6]int64{3, a1, a2}}
	maxLen := 0
	switch o {
	case tzrpc.OpPoll:
		// a2 is the read-ahead budget, reqLen the room for records
		// (within the harness's FZ_RA_CAP).
		n := min(len(reqPayload)/tzrpc.PollFdSize, 64)
		req.Payload = reqPayload[:n*tzrpc.PollFdSize]
		req.Args[0] = int64(n)
		maxLen = len(req.Payload) + int(reqLen)
	case tzrpc.OpWrite, tzrpc.OpSend, tzrpc.OpSendto:
		req.Payload = make([]byte, reqLen)
	case tzrpc.OpRead, tzrpc.OpRecv, tzrpc.OpRecvfrom:
		maxLen = int(max(0, min(a1, 1<<20)))
		if o == tzrpc.OpRecvfrom {
			maxLen += tzrpc.MaxSockaddrLen
		}
	case tzrpc.OpAccept, tzrpc.OpGetsockname, tzrpc.OpGetpeername:
		maxLen = tzrpc.MaxSockaddrLen
	}
	if reqLen&0x8000 != 0 && o != tzrpc.OpPoll {
		maxLen = int(reqLen & 0x7fff) // explore other limits too
	}
	return req, maxLen
}

// resultSeed is one FuzzCResult input.
type resultSeed struct {
	op         uint8
	a1, a2     int64
	reqLen     uint16
	reqPayload []byte
	mb         []byte
}

// FuzzCResult: the C library's response check (codec.c) accepts exactly
// what package tzrpc accepts, and decodes the same values from it.
func FuzzCResult(f *testing.F) {
	sa := tzrpc.Inet4Sockaddr([4]byte{127, 0, 0, 1}, 80).Marshal()
	ua, _ := tzrpc.UnixSockaddr("/echo.sock")
	poll := make([]byte, 16)
	tzrpc.PutPollFd(poll, 0, tzrpc.PollFd{Fd: 3, Events: tzrpc.POLLIN})
	tzrpc.PutPollFd(poll, 1, tzrpc.PollFd{Fd: -1, Events: tzrpc.POLLOUT})
	pollResp := bytes.Clone(poll)
	tzrpc.PutPollFd(pollResp, 0, tzrpc.PollFd{Fd: 3, Events: tzrpc.POLLIN, Revents: tzrpc.POLLIN | tzrpc.POLLHUP})
	seq := uint32(0x01020304)
	op := func(o tzrpc.Op) uint8 { return uint8(o - 2) }
	// Read-ahead: entry 0 (fd 3) asked for POLLIN and reports it.
	raResp := bytes.Clone(poll)
	tzrpc.PutPollFd(raResp, 0, tzrpc.PollFd{Fd: 3, Events: tzrpc.POLLIN, Revents: tzrpc.POLLIN})
	ra := func(recs ...[]byte) []byte { return bytes.Join(append([][]byte{raResp}, recs...), nil) }
	pollRA := func(budget int64, aux0 int64, payload []byte) struct {
		op         uint8
		a1, a2     int64
		reqLen     uint16
		reqPayload []byte
		mb         []byte
	} {
		return struct {
			op         uint8
			a1, a2     int64
			reqLen     uint16
			reqPayload []byte
			mb         []byte
		}{op(tzrpc.OpPoll), -1, budget, 1024, poll, rawResp(tzrpc.OpPoll, seq, 1, 0, aux0, payload)}
	}
	badSa := bytes.Clone(sa)
	le.PutUint16(badSa, 9)
	seeds := []resultSeed{
		{op(tzrpc.OpOpen), 0, 0, 0, nil, rawResp(tzrpc.OpOpen, seq, 5, 0, 0, nil)},
		{op(tzrpc.OpOpen), 0, 0, 0, nil, rawResp(tzrpc.OpOpen, seq, 1<<30, 0, 0, nil)},
		{op(tzrpc.OpOpen), 0, 0, 0, nil, rawResp(tzrpc.OpOpen, seq+1, 5, 0, 0, nil)},
		{op(tzrpc.OpOpen), 0, 0, 0, nil, rawResp(tzrpc.OpOpen, seq, 0, 2, 0, nil)},
		{op(tzrpc.OpOpen), 0, 0, 0, nil, rawResp(tzrpc.OpOpen, seq, 0, 134, 0, nil)},
		{op(tzrpc.OpRead), 10, 0, 0, nil, rawResp(tzrpc.OpRead, seq, 4, 0, 0, []byte("abcd"))},
		{op(tzrpc.OpRead), 3, 0, 0, nil, rawResp(tzrpc.OpRead, seq, 4, 0, 0, []byte("abcd"))},
		{op(tzrpc.OpRecv), 10, 0, 0, nil, rawResp(tzrpc.OpRecv, seq, 3, 0, 0, []byte("abcd"))},
		{op(tzrpc.OpWrite), 0, 0, 10, nil, rawResp(tzrpc.OpWrite, seq, 10, 0, 0, nil)},
		{op(tzrpc.OpSend), 0, 0, 10, nil, rawResp(tzrpc.OpSend, seq, 11, 0, 0, nil)},
		{op(tzrpc.OpSendto), 0, 8, 18, nil, rawResp(tzrpc.OpSendto, seq, 10, 0, 0, nil)},
		{op(tzrpc.OpSendto), 0, 8, 18, nil, rawResp(tzrpc.OpSendto, seq, 11, 0, 0, nil)},
		{op(tzrpc.OpAccept), 0, 0, 0, nil, rawResp(tzrpc.OpAccept, seq, 4, 0, 0, sa)},
		{op(tzrpc.OpAccept), 0, 0, 0, nil, rawResp(tzrpc.OpAccept, seq, 4, 0, 0, ua.Marshal())},
		{op(tzrpc.OpAccept), 0, 0, 0, nil, rawResp(tzrpc.OpAccept, seq, 4, 0, 0, sa[:7])},
		{op(tzrpc.OpGetsockname), 0, 0, 0, nil, rawResp(tzrpc.OpGetsockname, seq, 0, 0, 0, sa)},
		{op(tzrpc.OpRecvfrom), 100, 0, 0, nil, rawResp(tzrpc.OpRecvfrom, seq, 5, 0, 8, append(bytes.Clone(sa), "hello"...))},
		{op(tzrpc.OpRecvfrom), 100, 0, 0, nil, rawResp(tzrpc.OpRecvfrom, seq, 5, 0, 0, []byte("hello"))},
		{op(tzrpc.OpRecvfrom), 100, 0, 0, nil, rawResp(tzrpc.OpRecvfrom, seq, 5, 0, 9, append(bytes.Clone(sa), "hello"...))},
		{op(tzrpc.OpGetsockopt), tzrpc.SO_TYPE, 0, 0, nil, rawResp(tzrpc.OpGetsockopt, seq, 1, 0, 0, nil)},
		{op(tzrpc.OpGetsockopt), tzrpc.SO_REUSEADDR, 0, 0, nil, rawResp(tzrpc.OpGetsockopt, seq, 2, 0, 0, nil)},
		{op(tzrpc.OpPoll), -1, 0, 0, poll, rawResp(tzrpc.OpPoll, seq, 1, 0, 0, pollResp)},
		{op(tzrpc.OpPoll), -1, 0, 0, poll, rawResp(tzrpc.OpPoll, seq, 2, 0, 0, pollResp)},
		{op(tzrpc.OpFcntl), tzrpc.F_GETFL, 0, 0, nil, rawResp(tzrpc.OpFcntl, seq, tzrpc.O_RDWR|tzrpc.O_NONBLOCK, 0, 0, nil)},
		{op(tzrpc.OpFcntl), tzrpc.F_GETFL, 0, 0, nil, rawResp(tzrpc.OpFcntl, seq, tzrpc.O_ACCMODE, 0, 0, nil)},
		{op(tzrpc.OpListen), 0, 0, 0, nil, rawResp(tzrpc.OpListen, seq, 0, 0, 0, nil)},
		{op(tzrpc.OpListen), 0, 0, 0, nil, rawResp(tzrpc.OpListen, seq, 0, 0, 1, nil)},
		{op(tzrpc.OpClose), 0, 0, 0, nil, []byte("TZRS")},
		pollRA(100, 1, ra(record(0, 0, nil, []byte("hello")))),
		pollRA(100, 1, ra(record(0, 0, sa, []byte("datagram")))),
		pollRA(100, 1, ra(record(0, 0, sa, nil))),
		pollRA(100, 1, ra(record(0, 0, ua.Marshal(), []byte("unix")))),
		pollRA(100, 1, ra(record(0, eCONNRESET, nil, nil))),
		pollRA(100, 0, ra()),
		pollRA(0, 1, ra(record(0, 0, nil, []byte("no budget")))),
		pollRA(4, 1, ra(record(0, 0, nil, []byte("hello")))),
		pollRA(-1, 1, ra(record(0, 0, nil, []byte("hello")))),
		pollRA(100, 2, ra(record(0, 0, nil, []byte("a")), record(1, 0, nil, []byte("b")))),
		pollRA(100, 2, ra(record(0, 0, nil, []byte("a")))),
		pollRA(100, 3, ra(record(0, 0, nil, []byte("a")))),
		pollRA(100, 1, ra(record(1, 0, nil, []byte("a")))),
		pollRA(100, 1, ra(record(2, 0, nil, []byte("a")))),
		pollRA(100, 1, ra(record(0, 134, nil, nil))),
		pollRA(100, 1, ra(record(0, eCONNRESET, nil, []byte("x")))),
		pollRA(100, 1, ra(record(0, eCONNRESET, sa, nil))),
		pollRA(100, 1, ra(record(0, 0, nil, nil))),
		pollRA(100, 1, ra(record(0, 0, sa[:7], []byte("x")))),
		pollRA(100, 1, ra(record(0, 0, badSa, []byte("x")))),
		pollRA(100, 1, append(ra(record(0, 0, nil, []byte("hello"))), 0)),
		pollRA(100, 1, ra(record(0, 0, nil, []byte("hello")))[:len(raResp)+15]),
		pollRA(100, 1, ra(record(0, 0, nil, []byte("hello")))[:len(raResp)+11]),
		pollRA(100, -1, ra()),
	}
	for _, s := range seeds {
		f.Add(s.op, s.a1, s.a2, s.reqLen, s.reqPayload, s.mb)
	}
	f.Fuzz(func(t *testing.T, op uint8, a1, a2 int64, reqLen uint16, reqPayload, mb []byte) {
		req, maxLen := fuzzRequest(op, a1, a2, reqLen, reqPayload)

		resp, err := tzrpc.DecodeResponse(mb)
		goOK := err == nil && len(resp.Payload) <= maxLen
		if goOK {
			resp.Detach(nil)
			err = tzrpc.CheckResponse(&req, &resp, maxLen)
			goOK = err == nil
		}
		c := cTake(mb, uint16(req.Op), req.Seq, req.Args, uint32(len(req.Payload)), req.Payload, maxLen)
		cOK := c.violation == 0
		if goOK != cOK {
			t.Fatalf("%v args %v, %d payload bytes, max %d, mailbox %x:\nGo accepts: %v (%v)\nC accepts: %v (rule %d)",
				req.Op, req.Args, len(req.Payload), maxLen, mb, goOK, err, cOK, c.violation)
		}
		if !goOK {
			return
		}
		if c.ret != resp.Ret || c.errno != int64(resp.Errno) || c.plen != int64(len(resp.Payload)) || c.aux != resp.Aux {
			t.Fatalf("%v: C decoded ret %d errno %d plen %d aux %v; Go %d %d %d %v",
				req.Op, c.ret, c.errno, c.plen, c.aux, resp.Ret, resp.Errno, len(resp.Payload), resp.Aux)
		}
	})
}

// record encodes a read-ahead record.
func record(idx uint32, errno uint16, addr, data []byte) []byte {
	b := make([]byte, tzrpc.ReadAheadHeaderSize, tzrpc.ReadAheadHeaderSize+len(addr)+len(data))
	tzrpc.PutReadAhead(b, tzrpc.ReadAhead{Index: idx, Errno: tzrpc.Errno(errno), AddrLen: uint16(len(addr)), Len: uint32(len(data))})
	return append(append(b, addr...), data...)
}

// FuzzCReadAhead: the C record splitter (tzp_next_readahead) reads what
// tzrpc.NextReadAhead reads, and refuses what it refuses.
func FuzzCReadAhead(f *testing.F) {
	f.Add(record(3, 0, nil, []byte("hello")))
	f.Add(record(0, eCONNRESET, nil, nil))
	f.Add(record(1, 0, tzrpc.Inet4Sockaddr([4]byte{127, 0, 0, 1}, 80).Marshal(), []byte("dgram")))
	f.Add(record(1, 0, nil, []byte("hello"))[:16])
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, addr, data, _, ok := tzrpc.NextReadAhead(b)
		idx, errno, alen, dlen, cok := cNextReadAhead(b)
		if ok != cok {
			t.Fatalf("%x: Go ok %v, C ok %v", b, ok, cok)
		}
		if ok && (idx != rec.Index || errno != uint16(rec.Errno) || int(alen) != len(addr) || int(dlen) != len(data)) {
			t.Fatalf("%x: C %d %d %d %d, Go %+v", b, idx, errno, alen, dlen, rec)
		}
	})
}

// The numbers a TA sees (tzposix/posix.h, Linux's).
const (
	eIO        = 5
	eBADF      = 9
	eCONNRESET = 104
	eCANCELED  = 125
	oRDWR      = 2
	afINET     = 2
	solSocket  = 1
	soType     = 3
	pollIN     = 1
	pollOUT    = 4
	pollNVAL   = 0x20
)

// session is the C library with a scripted shadow behind it.
type session struct{ t *testing.T }

func newSession(t *testing.T) *session {
	setup(8192)
	return &session{t: t}
}

// answer makes the shadow's next answer a response to the next request.
func (s *session) answer(op tzrpc.Op, ret int64, errno uint32, aux0 int64, payload []byte) {
	respond(rawResp(op, nextSeq(), ret, errno, aux0, payload))
}

// open gets descriptor fd from an honest shadow.
func (s *session) open(fd int) {
	s.t.Helper()
	s.answer(tzrpc.OpOpen, int64(fd), 0, 0, nil)
	if got := cOpen("/f", oRDWR); got != fd {
		s.t.Fatalf("open = %d (errno %d), want %d", got, lastErrno(), fd)
	}
}

// lie expects the call to fail with EIO and one more violation counted.
func (s *session) lie(what string, call func() int) {
	s.t.Helper()
	before := violations()
	if r := call(); r != -1 || lastErrno() != eIO {
		s.t.Errorf("%s: returned %d, errno %d; want -1, EIO", what, r, lastErrno())
	}
	if violations() != before+1 {
		s.t.Errorf("%s: violations %d, want %d", what, violations(), before+1)
	}
}

// TestCCallsAgainstLies: every call refuses a response that breaks the
// protocol (EIO, counted) and hands TA code nothing of it.
func TestCCallsAgainstLies(t *testing.T) {
	s := newSession(t)
	s.open(3)

	buf := bytes.Repeat([]byte{'.'}, 10)
	s.answer(tzrpc.OpRead, 20, 0, 0, bytes.Repeat([]byte{'X'}, 20))
	s.lie("read of more than asked", func() int { return cRead(3, buf) })
	if !bytes.Equal(buf, bytes.Repeat([]byte{'.'}, 10)) {
		t.Errorf("a rejected read wrote the buffer: %q", buf)
	}
	s.answer(tzrpc.OpRead, 4, 0, 0, []byte("abcdef"))
	s.lie("read with a payload longer than ret", func() int { return cRead(3, buf) })
	s.answer(tzrpc.OpRead, 4, 0, 0, []byte("abcd"))
	if n := cRead(3, buf); n != 4 || string(buf[:4]) != "abcd" {
		t.Errorf("honest read: %d %q", n, buf)
	}
	respond(rawResp(tzrpc.OpRead, nextSeq()-1, 4, 0, 0, []byte("abcd")))
	s.lie("replayed response (stale seq)", func() int { return cRead(3, buf) })
	respond(rawResp(tzrpc.OpWrite, nextSeq(), 1, 0, 0, nil))
	s.lie("response for another op", func() int { return cRead(3, buf) })
	s.answer(tzrpc.OpRead, 0, eCONNRESET, 0, []byte("x"))
	s.lie("errno with a payload", func() int { return cRead(3, buf) })
	s.answer(tzrpc.OpRead, 0, eCONNRESET, 0, nil)
	if n := cRead(3, buf); n != -1 || lastErrno() != eCONNRESET {
		t.Errorf("honest failure: %d, errno %d", n, lastErrno())
	}

	s.answer(tzrpc.OpOpen, 3, 0, 0, nil)
	s.lie("open handing out a descriptor the TA has", func() int { return cOpen("/g", oRDWR) })
	s.answer(tzrpc.OpOpen, 1<<30, 0, 0, nil)
	s.lie("open handing out a descriptor out of range", func() int { return cOpen("/g", oRDWR) })
	if n := cRead(7, buf); n != -1 || lastErrno() != eBADF {
		t.Errorf("read of a descriptor the library does not know: %d, errno %d", n, lastErrno())
	}

	s.answer(tzrpc.OpWrite, 0, 0, 0, nil)
	s.lie("blocking write that moves nothing", func() int { return cWrite(3, []byte("hello")) })
	s.answer(tzrpc.OpWrite, 6, 0, 0, nil)
	s.lie("write of more than offered", func() int { return cWrite(3, []byte("hello")) })

	s.answer(tzrpc.OpGetsockopt, 3, 0, 0, nil)
	s.lie("SO_TYPE of 3", func() int { r, _ := cGetsockopt(3, solSocket, soType); return r })
	s.answer(tzrpc.OpFcntl, tzrpc.O_RDWR|tzrpc.O_CREAT, 0, 0, nil)
	s.lie("F_GETFL with O_CREAT", cFcntlGetfl3)

	// Sockets.
	s.answer(tzrpc.OpSocket, 4, 0, 0, nil)
	if fd := cSocket(afINET, 1); fd != 4 {
		t.Fatalf("socket = %d", fd)
	}
	addr := make([]byte, 128)
	bad, _ := tzrpc.UnixSockaddr("/x")
	badEnc := bad.Marshal()
	le.PutUint16(badEnc[2:], 1) // a UNIX address with a port
	s.answer(tzrpc.OpAccept, 5, 0, 0, badEnc)
	s.lie("accept with a malformed address", func() int { r, _ := cAccept(4, addr); return r })
	s.answer(tzrpc.OpAccept, 5, 0, 0, tzrpc.Inet4Sockaddr([4]byte{127, 0, 0, 1}, 8080).Marshal())
	fd, alen := cAccept(4, addr)
	if fd != 5 || alen != 16 || le.Uint16(addr) != afINET || addr[2] != 0x1f || addr[3] != 0x90 || !bytes.Equal(addr[4:8], []byte{127, 0, 0, 1}) {
		t.Errorf("honest accept: fd %d, addr %x (len %d)", fd, addr[:16], alen)
	}
	sa := tzrpc.Inet4Sockaddr([4]byte{10, 0, 0, 1}, 53).Marshal()
	s.answer(tzrpc.OpRecvfrom, 5, 0, 9, append(bytes.Clone(sa), "hello"...))
	s.lie("recvfrom with the address length off", func() int { r, _ := cRecvfrom(4, buf, addr); return r })

	// POLL: the entries come back unchanged, revents only as asked.
	fds, events := []int32{3, 4, 99}, []int16{pollIN, pollOUT, pollIN}
	echoPoll := func(mut func(b []byte)) []byte {
		b := make([]byte, 3*tzrpc.PollFdSize)
		tzrpc.PutPollFd(b, 0, tzrpc.PollFd{Fd: 3, Events: pollIN, Revents: pollIN})
		tzrpc.PutPollFd(b, 1, tzrpc.PollFd{Fd: 4, Events: pollOUT})
		tzrpc.PutPollFd(b, 2, tzrpc.PollFd{Fd: -1, Events: pollIN}) // 99 is not the TA's
		if mut != nil {
			mut(b)
		}
		return b
	}
	s.answer(tzrpc.OpPoll, 1, 0, 0, echoPoll(func(b []byte) { le.PutUint32(b[8:], 6) }))
	s.lie("poll changing an fd", func() int { r, _ := cPoll(fds, events, -1); return r })
	s.answer(tzrpc.OpPoll, 1, 0, 0, echoPoll(func(b []byte) { le.PutUint16(b[6:], pollOUT) }))
	s.lie("poll reporting an event not asked for", func() int { r, _ := cPoll(fds, events, -1); return r })
	s.answer(tzrpc.OpPoll, 2, 0, 0, echoPoll(nil))
	s.lie("poll miscounting", func() int { r, _ := cPoll(fds, events, -1); return r })
	s.answer(tzrpc.OpPoll, 1, 0, 0, echoPoll(nil))
	n, rev := cPoll(fds, events, -1)
	if n != 2 || rev[0] != pollIN || rev[1] != 0 || rev[2] != pollNVAL {
		t.Errorf("honest poll: %d, revents %v", n, rev)
	}
	sent := sentRequest(tzrpc.HeaderSize + 3*tzrpc.PollFdSize)
	if got := tzrpc.GetPollFd(sent[tzrpc.HeaderSize:], 2).Fd; got != -1 {
		t.Errorf("poll showed the shadow descriptor %d, which is not the TA's", got)
	}
	if timeout := int64(le.Uint64(sent[24:])); timeout != 0 {
		t.Errorf("poll with POLLNVAL waited (timeout %d)", timeout)
	}

	s.answer(tzrpc.OpClose, 0, 0, 0, nil)
	if r := cClose(5); r != 0 {
		t.Errorf("close of an accepted descriptor: %d, errno %d", r, lastErrno())
	}
	// The session is gone: no answer comes.
	setup(8192)
	if n := cRead(3, buf); n != -1 || lastErrno() != eBADF {
		t.Errorf("read in a new session of an old descriptor: %d, errno %d", n, lastErrno())
	}
	if n := cOpen("/f", oRDWR); n != -1 || lastErrno() != eCANCELED {
		t.Errorf("call without a shadow: %d, errno %d", n, lastErrno())
	}
}

func cFcntlGetfl3() int { return cFcntlGetfl(3) }
