package fusefs

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkFIFORoundTrip measures a 4 KB ping-pong between two threads over
// a pair of FIFOs, in a plain directory and under the mount, in one run so
// the ratio can be read off directly. The FUSE daemon is on the path only
// for the opens; if the figures differ, the data went through it.
func BenchmarkFIFORoundTrip(b *testing.B) {
	b.Run("plain", func(b *testing.B) {
		benchRoundTrip(b, b.TempDir())
	})
	b.Run("fuse", func(b *testing.B) {
		f := mountTest(b, Options{})
		benchRoundTrip(b, addTA(b, f, "bench", TAOptions{}))
	})
}

func benchRoundTrip(b *testing.B, dir string) {
	ping, pong := filepath.Join(dir, "ping"), filepath.Join(dir, "pong")
	for _, p := range []string{ping, pong} {
		if err := unix.Mkfifo(p, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	const size = 4096
	done := make(chan error, 1)
	go func() {
		// The echo side: what the shadow would be, a blocking thread.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		r, err := unix.Open(ping, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			done <- err
			return
		}
		defer unix.Close(r)
		w, err := unix.Open(pong, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			done <- err
			return
		}
		defer unix.Close(w)
		buf := make([]byte, size)
		for {
			if err := readFull(r, buf); err != nil {
				if errors.Is(err, errEOF) {
					err = nil
				}
				done <- err
				return
			}
			if err := writeAll(w, buf); err != nil {
				done <- err
				return
			}
		}
	}()

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	w, err := unix.Open(ping, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	r, err := unix.Open(pong, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		b.Fatal(err)
	}
	msg, buf := make([]byte, size), make([]byte, size)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		if err := writeAll(w, msg); err != nil {
			b.Fatal(err)
		}
		if err := readFull(r, buf); err != nil {
			b.Fatal(err)
		}
	}
	unix.Close(w) // the echo side reads EOF and stops
	unix.Close(r)
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

var errEOF = errors.New("EOF")

func readFull(fd int, buf []byte) error {
	for off := 0; off < len(buf); {
		n, err := unix.Read(fd, buf[off:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return errEOF
		}
		off += n
	}
	return nil
}

func writeAll(fd int, buf []byte) error {
	for off := 0; off < len(buf); {
		n, err := unix.Write(fd, buf[off:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		off += n
	}
	return nil
}

// BenchmarkFIFOOpenClose measures what a client pays to open and close a
// FIFO endpoint, in a plain directory and under the mount with several
// kernel cache lifetimes. With ttl=0 every open asks the daemon to
// revalidate each path component and refresh attributes for the
// permission check; this is the measurement behind kernelCacheTTL.
func BenchmarkFIFOOpenClose(b *testing.B) {
	run := func(b *testing.B, fifo string) {
		b.ReportAllocs()
		for b.Loop() {
			fd, err := unix.Open(fifo, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
			if err != nil {
				b.Fatal(err)
			}
			unix.Close(fd)
		}
	}
	b.Run("plain", func(b *testing.B) {
		fifo := filepath.Join(b.TempDir(), "in")
		if err := unix.Mkfifo(fifo, 0o600); err != nil {
			b.Fatal(err)
		}
		run(b, fifo)
	})
	for _, ttl := range []time.Duration{0, 100 * time.Millisecond, time.Second} {
		b.Run(fmt.Sprintf("fuse/ttl=%v", ttl), func(b *testing.B) {
			f := mountTest(b, Options{cacheTTL: &ttl})
			root := addTA(b, f, "bench", TAOptions{Endpoints: []Endpoint{{Name: "in", Kind: FIFO, Mode: 0o600}}})
			run(b, filepath.Join(root, "in"))
		})
	}
}

// BenchmarkMkfifo measures one mkfifo (plus the unlink that keeps the size
// steady) in a TA directory that already holds n nodes: the cost must not
// grow with n.
func BenchmarkMkfifo(b *testing.B) {
	for _, n := range []int{0, 1000, 4000} {
		b.Run(fmt.Sprintf("holding=%d", n), func(b *testing.B) {
			f := mountTest(b, Options{})
			dir := addTA(b, f, "bench", TAOptions{MaxNodes: n + 1})
			for i := range n {
				if err := unix.Mkfifo(filepath.Join(dir, fmt.Sprintf("f%d", i)), 0o600); err != nil {
					b.Fatal(err)
				}
			}
			p := filepath.Join(dir, "new")
			b.ResetTimer()
			for b.Loop() {
				if err := unix.Mkfifo(p, 0o600); err != nil {
					b.Fatal(err)
				}
				if err := unix.Unlink(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
