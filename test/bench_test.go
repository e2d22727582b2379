package test

import (
	"bytes"
	"io"
	"net"
	"os"
	"testing"

	"github.com/tzmediator/tzbridge/internal/echotest"
)

// BenchmarkEchoRoundTrip is the 4 KB round trip of an unmodified CA through
// `tzbridge run` to the built-in echo TA and back, on each stream
// transport: the whole path (CA, kernel, shadow process, simulated secure
// world, TA). `tzbridge bench` sets it against CA↔CA; this is the figure
// to watch with benchstat.
func BenchmarkEchoRoundTrip(b *testing.B) {
	br := startBridge(b, echoConfig("%[1]s"), echoReady)
	msg := echotest.Payload(4096)
	got := make([]byte, len(msg))
	roundTrips := func(b *testing.B, w io.Writer, r io.Reader) {
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := w.Write(msg); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(r, got); err != nil {
				b.Fatal(err)
			}
		}
		if !bytes.Equal(got, msg) {
			b.Fatal("echo differs")
		}
	}
	for _, network := range []string{"tcp", "unix"} {
		b.Run(network, func(b *testing.B) {
			addr := "127.0.0.1:7000"
			if network == "unix" {
				addr = br.path("echo", "echo.sock")
			}
			c, err := net.Dial(network, addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			roundTrips(b, c, c)
		})
	}
	b.Run("fifo", func(b *testing.B) {
		in, err := os.OpenFile(br.path("echo", "in"), os.O_WRONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer in.Close()
		// The TA opens /out for writing once it has data for it and a
		// reader is there, so the reader's blocking open can only
		// finish after the first message.
		opened := make(chan *os.File, 1)
		go func() {
			out, err := os.OpenFile(br.path("echo", "out"), os.O_RDONLY, 0)
			if err != nil {
				b.Error(err)
			}
			opened <- out
		}()
		if _, err := in.Write(msg); err != nil {
			b.Fatal(err)
		}
		out := <-opened
		if out == nil {
			return
		}
		defer out.Close()
		if _, err := io.ReadFull(out, got); err != nil {
			b.Fatal(err)
		}
		roundTrips(b, in, out)
	})
}
