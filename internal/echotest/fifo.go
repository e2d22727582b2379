package echotest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// FIFORound is one writer session of a FIFO echo, as a careful CA does it:
// it opens out for reading first (nonblocking, so that it is a reader
// present before the echo starts), writes msg into in and closes it, then
// reads out until end of file and compares. It fails on anything but
// exactly msg followed by end of file within timeout.
func FIFORound(in, out string, msg []byte, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	rfd, err := unix.Open(out, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", out, err)
	}
	defer unix.Close(rfd)
	werr := make(chan error, 1)
	go func() {
		// Written while the echo is read: the TA stops reading in once
		// enough waits for out.
		w, err := os.OpenFile(in, os.O_WRONLY, 0)
		if err != nil {
			werr <- err
			return
		}
		w.SetWriteDeadline(deadline)
		_, err = w.Write(msg)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		werr <- err
	}()
	got, rerr := readFIFOToEOF(rfd, deadline)
	if err := <-werr; err != nil {
		return fmt.Errorf("write %d bytes into %s: %w", len(msg), in, err)
	}
	if rerr != nil {
		return fmt.Errorf("read %s after %d of %d bytes: %w", out, len(got), len(msg), rerr)
	}
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("%s: got %d bytes %.40q, want %d bytes %.40q (first difference at %d)", out, len(got), got, len(msg), msg, FirstDiff(got, msg))
	}
	return nil
}

// readFIFOToEOF reads a nonblocking FIFO descriptor until end of file. It
// reads only after poll reports it ready: before the first writer opens
// the FIFO, a read would return 0 at once, and poll stays quiet until a
// writer has come (data) and gone (POLLHUP).
func readFIFOToEOF(fd int, deadline time.Time) ([]byte, error) {
	var got []byte
	buf := make([]byte, 64<<10)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return got, errors.New("no end of file before the deadline")
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, int(left.Milliseconds())+1)
		if errors.Is(err, unix.EINTR) || n == 0 {
			continue
		}
		if err != nil {
			return got, fmt.Errorf("poll: %w", err)
		}
		m, err := unix.Read(fd, buf)
		switch {
		case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EINTR):
		case err != nil:
			return got, err
		case m == 0:
			return got, nil
		default:
			got = append(got, buf[:m]...)
		}
	}
}
