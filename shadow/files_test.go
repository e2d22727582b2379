package shadow

import (
	"bytes"
	"errors"
	"os"
	"syscall"
	"testing"

	. "github.com/tzmediator/tzbridge/tzrpc"
)

// TestFIFOReader: the TA reads a FIFO a CA writes, through a blocking
// open, blocking and nonblocking reads, poll, fcntl and EOF.
func TestFIFOReader(t *testing.T) {
	a := newTA(t, options{})
	a.ok(OpMkfifo, args(0o600), []byte("in"))

	// A blocking open waits for the CA to open the other end.
	caOpened := make(chan *os.File, 1)
	go func() {
		f, err := os.OpenFile(a.path("in"), os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
		}
		caOpened <- f
	}()
	fd := a.ok(OpOpen, args(O_RDONLY), []byte("in"))
	if fd != 3 {
		t.Errorf("first descriptor %d, want 3", fd)
	}
	ca := <-caOpened
	if ca == nil {
		t.FailNow()
	}
	defer ca.Close()

	if fl := a.ok(OpFcntl, args(fd, F_GETFL), nil); fl != O_RDONLY {
		t.Errorf("F_GETFL %#x, want O_RDONLY", fl)
	}
	pollIn := AppendPollFd(nil, PollFd{Fd: int32(fd), Events: POLLIN})
	if n := a.ok(OpPoll, args(1, 0), pollIn); n != 0 {
		t.Errorf("poll on an empty FIFO: %d ready", n)
	}

	if _, err := ca.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	r := a.call(OpPoll, args(1, -1), pollIn)
	if r.Ret != 1 || GetPollFd(r.Payload, 0).Revents != POLLIN {
		t.Errorf("poll after write: ret %d, entry %+v", r.Ret, GetPollFd(r.Payload, 0))
	}
	r = a.call(OpRead, args(fd, 3), nil)
	if r.Errno != 0 || string(r.Payload) != "hel" {
		t.Errorf("read 3: %q, %v", r.Payload, r.Errno)
	}
	// A count beyond the mailbox is capped, not refused.
	r = a.call(OpRead, args(fd, 1<<40), nil)
	if r.Errno != 0 || string(r.Payload) != "lo" {
		t.Errorf("read 1<<40: %q, %v", r.Payload, r.Errno)
	}

	// Nonblocking now: an empty FIFO gives EAGAIN.
	a.ok(OpFcntl, args(fd, F_SETFL, O_RDONLY|O_NONBLOCK|O_APPEND), nil)
	if fl := a.ok(OpFcntl, args(fd, F_GETFL), nil); fl != O_RDONLY|O_NONBLOCK|O_APPEND {
		t.Errorf("F_GETFL %#x after F_SETFL", fl)
	}
	a.fails(EAGAIN, OpRead, args(fd, 10), nil)
	a.ok(OpFcntl, args(fd, F_SETFL, 0), nil)

	// A blocking read waits for data.
	go ca.Write([]byte("later"))
	if r = a.call(OpRead, args(fd, 100), nil); string(r.Payload) != "later" {
		t.Errorf("blocking read: %q, %v", r.Payload, r.Errno)
	}
	ca.Close()
	if r = a.call(OpRead, args(fd, 100), nil); r.Errno != 0 || r.Ret != 0 {
		t.Errorf("read at EOF: ret %d, %v", r.Ret, r.Errno)
	}
	st := a.s.Stats()
	if st.BytesIn != 10 || st.OpenDescriptors != 1 {
		t.Errorf("stats %+v", st)
	}
	a.ok(OpClose, args(fd), nil)
	a.fails(EBADF, OpClose, args(fd), nil)
	if st := a.s.Stats(); st.OpenDescriptors != 0 || st.Errors != 2 {
		t.Errorf("stats %+v", st)
	}
}

// TestFIFOWriter: the TA writes a FIFO: ENXIO without a reader when
// nonblocking, a blocking write larger than the pipe, EPIPE (not SIGPIPE)
// once the reader is gone.
func TestFIFOWriter(t *testing.T) {
	a := newTA(t, options{})
	a.ok(OpMkfifo, args(0o600), []byte("out"))
	a.fails(ENXIO, OpOpen, args(O_WRONLY|O_NONBLOCK), []byte("out"))

	ca, err := os.OpenFile(a.path("out"), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	fd := a.ok(OpOpen, args(O_WRONLY), []byte("out"))

	// More than a pipe holds: the blocking write goes on until all went.
	data := bytes.Repeat([]byte("0123456789abcdef"), PayloadCap(a.mb)/16)
	got := make(chan []byte, 1)
	go func() {
		var buf bytes.Buffer
		p := make([]byte, 4096)
		for buf.Len() < len(data) {
			n, err := ca.Read(p)
			buf.Write(p[:n])
			if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, syscall.EAGAIN) {
				t.Error(err)
				break
			}
		}
		got <- buf.Bytes()
	}()
	if n := a.ok(OpWrite, args(fd), data); n != int64(len(data)) {
		t.Errorf("blocking write of %d bytes wrote %d", len(data), n)
	}
	if b := <-got; !bytes.Equal(b, data) {
		t.Errorf("CA read %d bytes, not what was written", len(b))
	}
	if st := a.s.Stats(); st.BytesOut != uint64(len(data)) {
		t.Errorf("BytesOut %d", st.BytesOut)
	}
	// Nonblocking: a full pipe takes a partial write, then EAGAIN.
	a.ok(OpFcntl, args(fd, F_SETFL, O_NONBLOCK), nil)
	if n := a.ok(OpWrite, args(fd), data); n <= 0 || n >= int64(len(data)) {
		t.Errorf("nonblocking write into a %d-byte pipe wrote %d", len(data), n)
	}
	a.fails(EAGAIN, OpWrite, args(fd), data)

	ca.Close()
	a.fails(EPIPE, OpWrite, args(fd), []byte("x"))
}

func TestDirectory(t *testing.T) {
	a := newTA(t, options{})
	a.ok(OpMkdir, args(0o700), []byte("d"))
	a.ok(OpMkdir, args(0o700), []byte("d/e/"))
	a.fails(EEXIST, OpMkdir, args(0o700), []byte("d"))
	fd := a.ok(OpOpen, args(O_RDONLY|O_DIRECTORY), []byte("d"))
	a.fails(EISDIR, OpRead, args(fd, 10), nil)
	a.fails(EBADF, OpWrite, args(fd), []byte("x"))
	a.fails(ENOTSOCK, OpListen, args(fd, 1), nil)
	a.fails(ENOTEMPTY, OpRmdir, args(), []byte("d"))
	a.ok(OpRename, args(3), []byte("d/ed/f"))
	a.ok(OpRmdir, args(), []byte("d/f"))
	a.fails(ENOTDIR, OpUnlink, args(), []byte("d/"))
	a.ok(OpMkfifo, args(0o4777), []byte("d/p"))
	fi, err := os.Stat(a.path("d/p"))
	if err != nil || fi.Mode()&os.ModeSetuid != 0 {
		t.Errorf("fifo with set-id bit: %v, %v", fi.Mode(), err)
	}
	a.fails(EISDIR, OpUnlink, args(), []byte("d"))
	a.ok(OpUnlink, args(), []byte("d/p"))
	a.ok(OpClose, args(fd), nil)
	a.ok(OpRmdir, args(), []byte("d"))
	if n := names(t, a.root); len(n) != 0 {
		t.Errorf("root holds %q", n)
	}
}

func TestFIFOReadWriteOnSameTA(t *testing.T) {
	// O_RDWR on a FIFO never blocks on Linux; a TA can use it as a pipe.
	a := newTA(t, options{})
	a.ok(OpMkfifo, args(0o600), []byte("p"))
	fd := a.ok(OpOpen, args(O_RDWR), []byte("p"))
	a.ok(OpWrite, args(fd), []byte("loop"))
	if r := a.call(OpRead, args(fd, 100), nil); string(r.Payload) != "loop" {
		t.Errorf("read %q", r.Payload)
	}
}
