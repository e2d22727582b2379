package tzrpc

import (
	"bytes"
	"errors"
	"testing"
)

// slack is extra mailbox beyond a seed's payload, so that mutations of
// payload_len have room to be valid as well as invalid.
const slack = 16

func FuzzDecodeRequest(f *testing.F) {
	for _, x := range exchanges() {
		f.Add(encodeReq(&x.req, HeaderSize+len(x.req.Payload)+slack))
	}
	f.Add([]byte("TZRQ"))
	f.Add(encodeReq(&Request{Op: OpOpen, Args: args(O_RDONLY), Payload: []byte(longPath)}, MinMailbox))

	f.Fuzz(func(t *testing.T, mb []byte) {
		req, err := DecodeRequest(mb)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not a *DecodeError", err)
			}
			if e := ErrnoOf(err); e != EINVAL && e != ENOSYS {
				t.Fatalf("undecodable request answered with %v", e)
			}
			return
		}
		out := make([]byte, len(mb))
		copy(out[HeaderSize:], req.Payload)
		if err := EncodeRequestHeader(out, req.Op, req.Seq, req.Args, len(req.Payload)); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Equal(out[:HeaderSize], mb[:HeaderSize]) {
			t.Fatalf("re-encoded header differs:\n% x\n% x", out[:HeaderSize], mb[:HeaderSize])
		}

		verr := req.Validate()
		detached := req
		detached.Detach(nil)
		if derr := detached.Validate(); (derr == nil) != (verr == nil) {
			t.Fatalf("Validate differs after Detach: %v vs %v", verr, derr)
		}
		if verr != nil {
			if e := ErrnoOf(verr); !e.Valid() || e == EIO {
				t.Fatalf("Validate error %v carries errno %v", verr, e)
			}
			return
		}
		checkValidated(t, &req)
	})
}

// checkValidated asserts what the shadow relies on once Validate passed.
func checkValidated(t *testing.T, req *Request) {
	switch req.Op {
	case OpOpen, OpMkfifo, OpMkdir, OpUnlink, OpRmdir:
		if len(req.Payload) == 0 || len(req.Payload) > MaxPath || bytes.IndexByte(req.Payload, 0) >= 0 {
			t.Fatalf("%v: bad path %q passed", req.Op, req.Payload)
		}
	case OpRename:
		o, n := req.RenamePaths()
		if len(o) == 0 || len(n) == 0 || len(o)+len(n) != len(req.Payload) {
			t.Fatalf("RENAME split %q %q", o, n)
		}
	case OpBind, OpConnect:
		if s, n, err := ParseSockaddr(req.Payload); err != nil || n != len(req.Payload) || !s.IsValid() {
			t.Fatalf("%v: sockaddr passed: %v", req.Op, err)
		}
	case OpSendto:
		if a, _ := req.SendtoParts(); len(a) > 0 {
			if _, n, err := ParseSockaddr(a); err != nil || n != len(a) {
				t.Fatalf("SENDTO sockaddr passed: %v", err)
			}
		}
	case OpPoll:
		for i := range int(req.Args[0]) {
			if GetPollFd(req.Payload, i).Revents != 0 {
				t.Fatal("POLL revents passed")
			}
		}
	}
	switch req.Op {
	case OpExit, OpOpen, OpMkfifo, OpMkdir, OpUnlink, OpRmdir, OpRename, OpSocket, OpPoll:
	default: // args[0] is a descriptor
		if req.Args[0] < 0 || req.Args[0] >= FDLimit {
			t.Fatalf("%v: fd %d passed", req.Op, req.Args[0])
		}
	}
}

func FuzzDecodeResponse(f *testing.F) {
	reqs := map[Op]Request{}
	for _, x := range exchanges() {
		if x.resp == nil {
			continue
		}
		if _, ok := reqs[x.req.Op]; !ok {
			reqs[x.req.Op] = x.req
		}
		f.Add(encodeResp(x.resp, HeaderSize+len(x.resp.Payload)+slack))
	}
	f.Add(encodeResp(&Response{Op: 999, Errno: ENOSYS}, HeaderSize))
	// POLL responses are checked against a request with a read-ahead
	// budget, so that the fuzzer reaches the records.
	raReq, raResp := readAheadExchange()
	reqs[OpPoll] = raReq
	f.Add(encodeResp(&raResp, HeaderSize+len(raResp.Payload)+slack))

	f.Fuzz(func(t *testing.T, mb []byte) {
		resp, err := DecodeResponse(mb)
		if err != nil {
			if ErrnoOf(err) != EIO {
				t.Fatalf("undecodable response maps to %v", ErrnoOf(err))
			}
			return
		}
		out := make([]byte, len(mb))
		copy(out[HeaderSize:], resp.Payload)
		if err := EncodeResponseHeader(out, &resp, len(resp.Payload)); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if !bytes.Equal(out[:HeaderSize], mb[:HeaderSize]) {
			t.Fatalf("re-encoded header differs:\n% x\n% x", out[:HeaderSize], mb[:HeaderSize])
		}

		req, ok := reqs[resp.Op]
		if !ok {
			req = reqs[OpClose]
		}
		req.Seq = resp.Seq // let the fuzzer reach the per-op checks
		resp.Detach(nil)
		if err := CheckResponse(&req, &resp, PayloadCap(mb)); err != nil {
			if !errors.Is(err, ErrBadResponse) {
				t.Fatalf("CheckResponse error %v does not wrap ErrBadResponse", err)
			}
			return
		}
		checkAccepted(t, &req, &resp)
	})
}

// checkAccepted asserts what a TA library relies on once CheckResponse passed.
func checkAccepted(t *testing.T, req *Request, resp *Response) {
	if resp.Errno != 0 {
		if resp.Ret != 0 || len(resp.Payload) != 0 {
			t.Fatal("errno response with result passed")
		}
		return
	}
	switch req.Op {
	case OpRead, OpRecv:
		if resp.Ret > req.Args[1] || int64(len(resp.Payload)) != resp.Ret {
			t.Fatalf("%v: %d bytes for %d asked passed", req.Op, resp.Ret, req.Args[1])
		}
	case OpRecvfrom:
		a, d := resp.RecvfromParts()
		if resp.Ret > req.Args[1] || int64(len(d)) != resp.Ret {
			t.Fatalf("RECVFROM: %d bytes for %d asked passed", resp.Ret, req.Args[1])
		}
		if len(a) > 0 {
			if _, n, err := ParseSockaddr(a); err != nil || n != len(a) {
				t.Fatalf("RECVFROM: address passed: %v", err)
			}
		}
	case OpWrite, OpSend:
		if resp.Ret > int64(len(req.Payload)) {
			t.Fatal("wrote more than offered")
		}
	case OpOpen, OpSocket, OpAccept:
		if resp.Ret >= FDLimit {
			t.Fatal("fd out of range passed")
		}
	case OpPoll:
		var n int64
		for i := range int(req.Args[0]) {
			if GetPollFd(resp.Payload, i).Revents != 0 {
				n++
			}
		}
		if n != resp.Ret {
			t.Fatal("POLL count passed")
		}
		rest := resp.Payload[req.Args[0]*PollFdSize:]
		var data int64
		for range resp.Aux[0] {
			r, _, d, tail, ok := NextReadAhead(rest)
			if !ok || r.Index >= uint32(req.Args[0]) || GetPollFd(resp.Payload, int(r.Index)).Revents&POLLIN == 0 {
				t.Fatalf("POLL read-ahead record %+v passed", r)
			}
			data += int64(len(d))
			rest = tail
		}
		if len(rest) != 0 || data > req.Args[2] {
			t.Fatalf("POLL read-ahead: %d trailing bytes, %d bytes for a budget of %d passed", len(rest), data, req.Args[2])
		}
	}
}

func FuzzSockaddr(f *testing.F) {
	for _, s := range []Sockaddr{sa4, sa6, saUnix, saAnon, Inet6Sockaddr([16]byte{15: 1}, 0, 0)} {
		f.Add(s.Marshal())
	}
	f.Add([]byte{3, 0, 0, 0, 1, 0, 0})

	f.Fuzz(func(t *testing.T, b []byte) {
		s, n, err := ParseSockaddr(b)
		if err != nil {
			if n != 0 || s.IsValid() || !errors.Is(err, ErrBadSockaddr) {
				t.Fatalf("failed parse returned %v, %d, %v", s, n, err)
			}
			return
		}
		_ = s.String()
		if enc := s.AppendTo(nil); !bytes.Equal(enc, b[:n]) || s.Len() != n {
			t.Fatalf("re-encoding % x, want % x (Len %d)", enc, b[:n], s.Len())
		}
		var again Sockaddr
		switch s.Family() {
		case FamilyInet, FamilyInet6:
			again, err = InetSockaddr(s.AddrPort())
		case FamilyUnix:
			again, err = UnixSockaddr(s.Path())
		default:
			t.Fatalf("parsed family %d", s.Family())
		}
		if err != nil || again != s {
			t.Fatalf("constructor round trip: %v, %v != %v", err, again, s)
		}
	})
}
