package bench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"time"

	"golang.org/x/sys/unix"
)

// The transports of the paper, in the order they are reported.
const (
	FIFO = "fifo"
	Unix = "unix"
	TCP  = "tcp"
	UDP  = "udp"
)

// Transports lists every transport bench knows.
var Transports = []string{FIFO, Unix, TCP, UDP}

// MaxUDP is the largest UDP payload over IPv4.
const MaxUDP = 65507

// inlineMax is the largest message the client writes before it reads: up
// to it, the kernel's buffers (a pipe holds 64 KiB) take the whole message
// while the echo comes back. Larger messages are written by a helper
// thread while the client reads, or both ends would block.
const inlineMax = 64 << 10

// Endpoints are where an echo peer listens: the direct peer's, or the echo
// TA's through the bridge.
type Endpoints struct {
	FIFOIn  string `json:"fifo_in"`
	FIFOOut string `json:"fifo_out"`
	Unix    string `json:"unix"`
	TCPPort int    `json:"tcp_port"`
	UDPPort int    `json:"udp_port"`
}

// conn is the client's end of one echo conversation. It is the same code
// for the direct peer and the bridge: blocking syscalls on the caller's
// thread, which the caller keeps locked.
type conn struct {
	transport string
	rfd, wfd  int
	seq       uint64
	lost      int // UDP datagrams resent
	w         *writer
}

const ioTimeout = 10 * time.Second

// dial connects to the echo peer at ep over transport.
func dial(transport string, ep Endpoints) (*conn, error) {
	c := &conn{transport: transport, rfd: -1, wfd: -1}
	var err error
	switch transport {
	case FIFO:
		err = c.dialFIFO(ep)
	case Unix:
		err = c.dialStream(unix.AF_UNIX, &unix.SockaddrUnix{Name: ep.Unix})
	case TCP:
		err = c.dialStream(unix.AF_INET, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: ep.TCPPort})
	case UDP:
		err = c.dialUDP(ep.UDPPort)
	default:
		err = fmt.Errorf("unknown transport %q", transport)
	}
	if err != nil {
		c.close()
		return nil, fmt.Errorf("%s: %w", transport, err)
	}
	return c, nil
}

func (c *conn) close() {
	if c.w != nil {
		c.w.stop()
	}
	if c.rfd >= 0 {
		unix.Close(c.rfd)
	}
	if c.wfd >= 0 && c.wfd != c.rfd {
		unix.Close(c.wfd)
	}
	c.rfd, c.wfd = -1, -1
}

// dialFIFO opens the reading end nonblocking first (so that the peer's
// writer may open), then the writing end, then sends one byte and waits
// for it: the echo TA opens its output only once it has data for it.
func (c *conn) dialFIFO(ep Endpoints) error {
	var err error
	if c.rfd, err = unix.Open(ep.FIFOOut, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0); err != nil {
		return fmt.Errorf("open %s: %w", ep.FIFOOut, err)
	}
	if c.wfd, err = unix.Open(ep.FIFOIn, unix.O_WRONLY|unix.O_CLOEXEC, 0); err != nil {
		return fmt.Errorf("open %s: %w", ep.FIFOIn, err)
	}
	if err := writeAll(c.wfd, []byte{'x'}); err != nil {
		return err
	}
	pfd := []unix.PollFd{{Fd: int32(c.rfd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(pfd, int(ioTimeout/time.Millisecond))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("no echo from %s within %v", ep.FIFOOut, ioTimeout)
		}
		break
	}
	if err := unix.SetNonblock(c.rfd, false); err != nil {
		return err
	}
	var b [1]byte
	return readFull(c.rfd, b[:])
}

func (c *conn) dialStream(domain int, sa unix.Sockaddr) error {
	fd, err := unix.Socket(domain, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	c.rfd, c.wfd = fd, fd
	if err := setTimeouts(fd); err != nil {
		return err
	}
	if domain == unix.AF_INET {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
			return err
		}
	}
	for {
		err = unix.Connect(fd, sa)
		if err != unix.EINTR {
			return err
		}
	}
}

func (c *conn) dialUDP(port int) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	c.rfd, c.wfd = fd, fd
	tv := unix.NsecToTimeval(int64(time.Second))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return err
	}
	return unix.Connect(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: port})
}

func setTimeouts(fd int) error {
	tv := unix.NsecToTimeval(int64(ioTimeout))
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return err
	}
	return unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
}

// roundTrip sends msg and reads its echo into buf (len(buf) >= len(msg)).
func (c *conn) roundTrip(msg, buf []byte) error {
	if c.transport == UDP {
		return c.roundTripUDP(msg, buf)
	}
	if len(msg) <= inlineMax {
		if err := writeAll(c.wfd, msg); err != nil {
			return err
		}
		return readFull(c.rfd, buf[:len(msg)])
	}
	if c.w == nil {
		c.w = newWriter()
	}
	c.w.start(c.wfd, msg)
	err := readFull(c.rfd, buf[:len(msg)])
	if werr := c.w.wait(); err == nil {
		err = werr
	}
	return err
}

// roundTripUDP sends one datagram and waits for its echo. Each datagram
// carries a sequence number so that a late echo of a resent datagram is
// not taken for the current one.
func (c *conn) roundTripUDP(msg, buf []byte) error {
	c.seq++
	if len(msg) >= 8 {
		binary.LittleEndian.PutUint64(msg, c.seq)
	}
	for try := 0; ; try++ {
		if try == 5 {
			return fmt.Errorf("udp: no echo after %d tries", try)
		}
		if try > 0 {
			c.lost++
		}
		if _, err := sendRetry(c.wfd, msg); err != nil {
			return err
		}
		for {
			n, err := recvRetry(c.rfd, buf)
			if err == unix.EAGAIN {
				break // resend
			}
			if err != nil {
				return err
			}
			if n == len(msg) && (n < 8 || binary.LittleEndian.Uint64(buf) == c.seq) {
				return nil
			}
		}
	}
}

// bulk sends total bytes in 64 KiB writes from a helper thread and reads
// the echo back; it returns the time from the first write to the last byte.
func (c *conn) bulk(total int64) (time.Duration, error) {
	if c.w == nil {
		c.w = newWriter()
	}
	chunk := make([]byte, 64<<10)
	buf := make([]byte, 64<<10)
	start := time.Now()
	c.w.startStream(c.wfd, chunk, total)
	var got int64
	var err error
	for got < total {
		var n int
		n, err = unix.Read(c.rfd, buf[:min(int64(len(buf)), total-got)])
		if err == unix.EINTR {
			continue
		}
		if err == nil && n == 0 {
			err = errors.New("echo closed early")
		}
		if err != nil {
			break
		}
		got += int64(n)
	}
	d := time.Since(start)
	if werr := c.w.wait(); err == nil {
		err = werr
	}
	return d, err
}

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func readFull(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Read(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return errors.New("echo closed the connection")
		}
		b = b[n:]
	}
	return nil
}

func sendRetry(fd int, b []byte) (int, error) {
	for {
		n, err := unix.Write(fd, b)
		if err != unix.EINTR {
			return n, err
		}
	}
}

func recvRetry(fd int, b []byte) (int, error) {
	for {
		n, err := unix.Read(fd, b)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// writer is a helper thread that writes while the client reads.
type writer struct {
	jobs chan writeJob
	done chan error
}

type writeJob struct {
	fd    int
	b     []byte
	total int64 // > 0: write b repeatedly until total bytes
}

func newWriter() *writer {
	w := &writer{jobs: make(chan writeJob), done: make(chan error, 1)}
	go func() {
		runtime.LockOSThread()
		for j := range w.jobs {
			if j.total == 0 {
				w.done <- writeAll(j.fd, j.b)
				continue
			}
			var err error
			for left := j.total; left > 0 && err == nil; {
				n := min(int64(len(j.b)), left)
				err = writeAll(j.fd, j.b[:n])
				left -= n
			}
			w.done <- err
		}
	}()
	return w
}

func (w *writer) start(fd int, b []byte) { w.jobs <- writeJob{fd: fd, b: b} }
func (w *writer) startStream(fd int, b []byte, total int64) {
	w.jobs <- writeJob{fd: fd, b: b, total: total}
}
func (w *writer) wait() error { return <-w.done }
func (w *writer) stop()       { close(w.jobs) }
