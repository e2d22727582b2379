package shadow

import (
	"testing"

	"golang.org/x/sys/unix"

	. "github.com/tzmediator/tzbridge/tzrpc"
)

// benchRequest encodes a request and returns its header, to be restored
// before each Dispatch (the response overwrites it; the payload stays).
func benchRequest(b *testing.B, a *testTA, op Op, arg [6]int64, payload []byte) [HeaderSize]byte {
	b.Helper()
	copy(a.mb[HeaderSize:], payload)
	if err := EncodeRequestHeader(a.mb, op, 1, arg, len(payload)); err != nil {
		b.Fatal(err)
	}
	return [HeaderSize]byte(a.mb)
}

func checkLast(b *testing.B, a *testTA, want int64) {
	b.Helper()
	r, err := DecodeResponse(a.mb)
	if err != nil || r.Errno != 0 || r.Ret != want {
		b.Fatalf("last response: ret %d errno %v, %v; want ret %d", r.Ret, r.Errno, err, want)
	}
}

// BenchmarkDispatchNull is the dispatcher's own cost: decode, validate,
// a call that makes no syscall (F_GETFL), encode.
func BenchmarkDispatchNull(b *testing.B) {
	a := newTA(b, options{})
	a.ok(OpMkfifo, args(0o600), []byte("p"))
	fd := a.ok(OpOpen, args(O_RDWR|O_NONBLOCK), []byte("p"))
	hdr := benchRequest(b, a, OpFcntl, args(fd, F_GETFL), nil)
	b.ReportAllocs()
	for b.Loop() {
		copy(a.mb, hdr[:])
		a.s.Dispatch(a.ctx, a.mb)
	}
	checkLast(b, a, O_RDWR|O_NONBLOCK)
}

// BenchmarkDispatchWrite4K writes 4 KB per call to a FIFO that another
// thread drains, as a CA reading a TA's output would.
func BenchmarkDispatchWrite4K(b *testing.B) {
	a := newTA(b, options{})
	a.ok(OpMkfifo, args(0o600), []byte("p"))
	drained := make(chan error, 1)
	go func() {
		// A plain blocking reader: its goroutine keeps a thread of its own.
		fd, err := unix.Open(a.path("p"), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			drained <- err
			return
		}
		defer unix.Close(fd)
		buf := make([]byte, 64<<10)
		for {
			n, err := unix.Read(fd, buf)
			if n == 0 || (err != nil && err != unix.EINTR) {
				drained <- err
				return
			}
		}
	}()
	fd := a.ok(OpOpen, args(O_WRONLY), []byte("p"))
	hdr := benchRequest(b, a, OpWrite, args(fd), make([]byte, 4096))
	b.SetBytes(4096)
	b.ReportAllocs()
	for b.Loop() {
		copy(a.mb, hdr[:])
		a.s.Dispatch(a.ctx, a.mb)
	}
	checkLast(b, a, 4096)
	a.ok(OpClose, args(fd), nil)
	if err := <-drained; err != nil {
		b.Fatal(err)
	}
}
