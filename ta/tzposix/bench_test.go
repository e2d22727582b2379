package tzposix

import (
	"context"
	"testing"

	"github.com/tzmediator/tzbridge/gp"
	"github.com/tzmediator/tzbridge/tzrpc"
)

// BenchmarkHandoff is the null round trip through the Invoke entry point:
// one RESUME carrying a response in and the next request out, with a fake
// shadow that answers at once. It measures what the library adds per call.
func BenchmarkHandoff(b *testing.B) {
	f := startFake(b, tzrpc.MinMailbox, func(ctx context.Context, p *Proc) error {
		p.fds[5] = stream
		for ctx.Err() == nil {
			if err := p.Listen(5, 1); err != nil {
				return err
			}
		}
		return nil
	})
	ctx := context.Background()
	answer := func() {
		req, err := tzrpc.DecodeRequest(f.mb)
		if err != nil || req.Op != tzrpc.OpListen {
			b.Fatalf("request %v, %v", req.Op, err)
		}
		resp := tzrpc.Response{Op: req.Op, Seq: req.Seq}
		if err := tzrpc.EncodeResponseHeader(f.mb, &resp, 0); err != nil {
			b.Fatal(err)
		}
	}
	if r := f.resume(ctx); r != gp.Success {
		b.Fatal(r)
	}
	answer()
	b.ReportAllocs()
	for b.Loop() {
		if r := f.resume(ctx); r != gp.Success {
			b.Fatal(r)
		}
		answer()
	}
}
