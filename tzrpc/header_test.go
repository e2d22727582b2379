package tzrpc

import (
	"bytes"
	"errors"
	"testing"
)

func TestRequestRoundTrip(t *testing.T) {
	for _, x := range exchanges() {
		mb := encodeReq(&x.req, MinMailbox)
		got, err := DecodeRequest(mb)
		if err != nil {
			t.Fatalf("%v: %v", x.req.Op, err)
		}
		if got.Op != x.req.Op || got.Seq != x.req.Seq || got.Args != x.req.Args || !bytes.Equal(got.Payload, x.req.Payload) {
			t.Errorf("%v: round trip gave %+v, want %+v", x.req.Op, got, x.req)
		}
		if cap(got.Payload) != len(got.Payload) {
			t.Errorf("%v: payload capacity %d reaches past the payload", x.req.Op, cap(got.Payload))
		}
	}
	if !bytes.Equal(encodeReq(&Request{Op: OpWrite}, MinMailbox)[:8], []byte("TZRQ\x01\x00\x05\x00")) {
		t.Error("request magic does not read TZRQ")
	}
}

func TestResponseRoundTrip(t *testing.T) {
	for _, x := range exchanges() {
		if x.resp == nil {
			continue
		}
		mb := encodeResp(x.resp, MinMailbox)
		got, err := DecodeResponse(mb)
		if err != nil {
			t.Fatalf("%v: %v", x.req.Op, err)
		}
		w := x.resp
		if got.Op != w.Op || got.Seq != w.Seq || got.Ret != w.Ret || got.Errno != w.Errno || got.Aux != w.Aux || !bytes.Equal(got.Payload, w.Payload) {
			t.Errorf("%v: round trip gave %+v, want %+v", x.req.Op, got, *w)
		}
	}
	if !bytes.Equal(encodeResp(&Response{Op: OpWrite}, MinMailbox)[:4], []byte("TZRS")) {
		t.Error("response magic does not read TZRS")
	}
}

func TestDecodeRequestErrors(t *testing.T) {
	good := func() []byte { return encodeReq(&Request{Op: OpClose, Seq: 42, Args: args(3)}, 200) }
	tests := []struct {
		name   string
		mb     []byte
		kind   error
		errno  Errno
		echoed bool // op and seq are reported for the shadow's answer
	}{
		{"short", good()[:HeaderSize-1], ErrShortMailbox, EINVAL, false},
		{"empty", nil, ErrShortMailbox, EINVAL, false},
		{"magic", func() []byte { b := good(); b[0] = 'X'; return b }(), ErrBadMagic, EINVAL, true},
		{"response magic", func() []byte { b := good(); copy(b, "TZRS"); return b }(), ErrBadMagic, EINVAL, true},
		{"version 0", func() []byte { b := good(); b[4] = 0; return b }(), ErrBadVersion, ENOSYS, true},
		{"version 2", func() []byte { b := good(); b[4] = 2; return b }(), ErrBadVersion, ENOSYS, true},
		{"version 0x101", func() []byte { b := good(); b[5] = 1; return b }(), ErrBadVersion, ENOSYS, true},
		{"op 0", func() []byte { b := good(); b[6] = 0; return b }(), ErrUnknownOp, ENOSYS, false},
		{"op 27", func() []byte { b := good(); b[6] = 27; return b }(), ErrUnknownOp, ENOSYS, false},
		{"op 0x103", func() []byte { b := good(); b[7] = 1; return b }(), ErrUnknownOp, ENOSYS, false},
		{"payload past mailbox", func() []byte { b := good(); le.PutUint32(b[12:], 200-HeaderSize+1); return b }(), ErrPayloadLen, EINVAL, true},
		{"payload 4G", func() []byte { b := good(); le.PutUint32(b[12:], ^uint32(0)); return b }(), ErrPayloadLen, EINVAL, true},
		{"payload in header-only mailbox", func() []byte { b := good()[:HeaderSize]; le.PutUint32(b[12:], 1); return b }(), ErrPayloadLen, EINVAL, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeRequest(tt.mb)
			if !errors.Is(err, tt.kind) {
				t.Fatalf("err = %v, want %v", err, tt.kind)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err %T is not a *DecodeError", err)
			}
			if got := ErrnoOf(err); got != tt.errno {
				t.Errorf("ErrnoOf = %v, want %v", got, tt.errno)
			}
			if tt.echoed && (de.Op != OpClose || de.Seq != 42) {
				t.Errorf("DecodeError reports op %v seq %d, want CLOSE 42", de.Op, de.Seq)
			}
			if err.Error() == "" {
				t.Error("empty message")
			}
		})
	}
	// The boundary itself is fine: the payload may fill the mailbox.
	b := good()
	le.PutUint32(b[12:], uint32(len(b)-HeaderSize))
	if r, err := DecodeRequest(b); err != nil || len(r.Payload) != len(b)-HeaderSize {
		t.Errorf("full mailbox: %v, payload %d", err, len(r.Payload))
	}
}

func TestEncodeRequestHeaderErrors(t *testing.T) {
	mb := make([]byte, 100)
	tests := []struct {
		name string
		mb   []byte
		op   Op
		n    int
		kind error
	}{
		{"short", mb[:HeaderSize-1], OpClose, 0, ErrShortMailbox},
		{"op 0", mb, 0, 0, ErrUnknownOp},
		{"op 27", mb, 27, 0, ErrUnknownOp},
		{"negative", mb, OpWrite, -1, ErrPayloadLen},
		{"too long", mb, OpWrite, 100 - HeaderSize + 1, ErrPayloadLen},
	}
	for _, tt := range tests {
		if err := EncodeRequestHeader(tt.mb, tt.op, 1, args(), tt.n); !errors.Is(err, tt.kind) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.kind)
		}
	}
	if err := EncodeRequestHeader(mb, OpWrite, 1, args(), 100-HeaderSize); err != nil {
		t.Errorf("exact fit: %v", err)
	}
}

func TestDecodeResponseErrors(t *testing.T) {
	good := func() []byte { return encodeResp(&Response{Op: OpRead, Seq: 9, Ret: 3, Payload: []byte("abc")}, 200) }
	failed := func() []byte { return encodeResp(&Response{Op: OpRead, Seq: 9, Errno: EAGAIN}, 200) }
	tests := []struct {
		name string
		mb   []byte
		kind error
	}{
		{"short", good()[:10], ErrShortMailbox},
		{"magic", func() []byte { b := good(); copy(b, "TZRQ"); return b }(), ErrBadMagic},
		{"version", func() []byte { b := good(); b[4] = 2; return b }(), ErrBadVersion},
		{"reserved", func() []byte { b := good(); b[31] = 1; return b }(), ErrReserved},
		{"errno 134", func() []byte { b := failed(); le.PutUint32(b[24:], 134); return b }(), ErrBadErrno},
		{"errno max", func() []byte { b := failed(); le.PutUint32(b[24:], ^uint32(0)); return b }(), ErrBadErrno},
		{"negative ret", func() []byte { b := good(); le.PutUint64(b[16:], ^uint64(0)); return b }(), ErrBadRet},
		{"errno with ret", func() []byte { b := failed(); le.PutUint64(b[16:], 1); return b }(), ErrBadRet},
		{"errno with payload", func() []byte { b := failed(); le.PutUint32(b[12:], 1); return b }(), ErrPayloadLen},
		{"payload past mailbox", func() []byte { b := good(); le.PutUint32(b[12:], 200); return b }(), ErrPayloadLen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeResponse(tt.mb)
			if !errors.Is(err, tt.kind) {
				t.Fatalf("err = %v, want %v", err, tt.kind)
			}
			if got := ErrnoOf(err); got != EIO {
				t.Errorf("ErrnoOf = %v, want EIO for an undecodable response", got)
			}
		})
	}
	// Op is not checked by the decoder: a shadow echoes unknown ops.
	b := encodeResp(&Response{Op: 999, Errno: ENOSYS}, HeaderSize)
	if r, err := DecodeResponse(b); err != nil || r.Op != 999 || r.Errno != ENOSYS {
		t.Errorf("ENOSYS answer to unknown op: %+v, %v", r, err)
	}
}

func TestEncodeResponseHeaderErrors(t *testing.T) {
	mb := make([]byte, 100)
	tests := []struct {
		name string
		mb   []byte
		r    Response
		n    int
		kind error
	}{
		{"short", mb[:10], Response{}, 0, ErrShortMailbox},
		{"negative len", mb, Response{}, -1, ErrPayloadLen},
		{"too long", mb, Response{}, 37, ErrPayloadLen},
		{"errno range", mb, Response{Errno: 134}, 0, ErrBadErrno},
		{"negative ret", mb, Response{Ret: -1}, 0, ErrBadRet},
		{"errno with ret", mb, Response{Ret: 1, Errno: EIO}, 0, ErrBadRet},
		{"errno with payload", mb, Response{Errno: EIO}, 1, ErrPayloadLen},
	}
	for _, tt := range tests {
		if err := EncodeResponseHeader(tt.mb, &tt.r, tt.n); !errors.Is(err, tt.kind) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.kind)
		}
	}
}

func TestPayloadCap(t *testing.T) {
	for _, c := range []struct{ n, want int }{{0, 0}, {63, 0}, {64, 0}, {65, 1}, {MinMailbox, 4096}} {
		if got := PayloadCap(make([]byte, c.n)); got != c.want {
			t.Errorf("PayloadCap(%d) = %d, want %d", c.n, got, c.want)
		}
	}
}

func TestDetach(t *testing.T) {
	mb := encodeReq(&Request{Op: OpUnlink, Payload: []byte("file")}, 100)
	req, err := DecodeRequest(mb)
	if err != nil {
		t.Fatal(err)
	}
	buf := req.Detach(make([]byte, 0, 64))
	copy(mb[HeaderSize:], "evil")
	if string(req.Payload) != "file" || string(buf) != "file" {
		t.Errorf("detached request payload changed with the mailbox: %q", req.Payload)
	}

	mb = encodeResp(&Response{Op: OpRead, Ret: 4, Payload: []byte("data")}, 100)
	resp, err := DecodeResponse(mb)
	if err != nil {
		t.Fatal(err)
	}
	resp.Detach(nil)
	copy(mb[HeaderSize:], "evil")
	if string(resp.Payload) != "data" {
		t.Errorf("detached response payload changed with the mailbox: %q", resp.Payload)
	}
}

func TestOpString(t *testing.T) {
	for op := OpExit; op <= OpFcntl; op++ {
		if !op.Valid() || op.String() == "" || op.String()[0] == 'O' && op != OpOpen {
			t.Errorf("op %d: Valid %v, String %q", op, op.Valid(), op)
		}
	}
	if Op(0).Valid() || Op(27).Valid() || Op(27).String() != "Op(27)" {
		t.Errorf("unknown ops: %v %v %q", Op(0).Valid(), Op(27).Valid(), Op(27))
	}
}

func TestCheckSession(t *testing.T) {
	if err := CheckSession(1, DefaultMailbox); err != nil {
		t.Error(err)
	}
	if err := CheckSession(1, MinMailbox); err != nil {
		t.Error(err)
	}
	if err := CheckSession(2, DefaultMailbox); !errors.Is(err, ErrBadVersion) {
		t.Errorf("version 2: %v", err)
	}
	if err := CheckSession(1, MinMailbox-1); !errors.Is(err, ErrShortMailbox) {
		t.Errorf("small mailbox: %v", err)
	}
}
