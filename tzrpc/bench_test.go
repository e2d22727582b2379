package tzrpc

import "testing"

// writeRoundTrip is the shadow's hot path for the paper's 4 KB message: the
// TA encodes a WRITE, the shadow decodes and validates it.
func writeRoundTrip(mb, data []byte, seq uint32) error {
	copy(mb[HeaderSize:], data)
	if err := EncodeRequestHeader(mb, OpWrite, seq, [6]int64{3}, len(data)); err != nil {
		return err
	}
	req, err := DecodeRequest(mb)
	if err != nil {
		return err
	}
	return req.Validate()
}

func BenchmarkRequestRoundTrip(b *testing.B) {
	mb, data := make([]byte, DefaultMailbox), make([]byte, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	var seq uint32
	for b.Loop() {
		seq++
		if err := writeRoundTrip(mb, data, seq); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResponseRoundTrip(b *testing.B) {
	mb := make([]byte, DefaultMailbox)
	req := Request{Op: OpRead, Seq: 1, Args: args(3, 4096)}
	b.ReportAllocs()
	b.SetBytes(4096)
	for b.Loop() {
		if err := EncodeResponseHeader(mb, &Response{Op: OpRead, Seq: 1, Ret: 4096}, 4096); err != nil {
			b.Fatal(err)
		}
		resp, err := DecodeResponse(mb)
		if err != nil {
			b.Fatal(err)
		}
		if err := CheckResponse(&req, &resp, PayloadCap(mb)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHotPathAllocs pins the zero-allocation property the benchmarks report,
// for every op's successful path, not only WRITE.
func TestHotPathAllocs(t *testing.T) {
	mb, data := make([]byte, DefaultMailbox), make([]byte, 4096)
	if n := testing.AllocsPerRun(100, func() { _ = writeRoundTrip(mb, data, 1) }); n != 0 {
		t.Errorf("WRITE round trip: %v allocs", n)
	}
	for _, x := range exchanges() {
		rq := encodeReq(&x.req, MinMailbox)
		buf := make([]byte, 0, MinMailbox)
		n := testing.AllocsPerRun(20, func() {
			req, err := DecodeRequest(rq)
			buf = req.Detach(buf)
			if err != nil || req.Validate() != nil {
				t.Fatal(err)
			}
		})
		if n != 0 {
			t.Errorf("%v request: %v allocs", x.req.Op, n)
		}
		if x.resp == nil {
			continue
		}
		rs := encodeResp(x.resp, MinMailbox)
		n = testing.AllocsPerRun(20, func() {
			resp, err := DecodeResponse(rs)
			buf = resp.Detach(buf)
			if err != nil || CheckResponse(&x.req, &resp, PayloadCap(rs)) != nil {
				t.Fatal(err)
			}
		})
		if n != 0 {
			t.Errorf("%v response: %v allocs", x.req.Op, n)
		}
	}
}
