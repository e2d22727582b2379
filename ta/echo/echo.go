// Package echo is the built-in example TA: a single-threaded, poll-driven
// echo server on every transport the bridge carries at once — a FIFO pair,
// a UNIX stream socket, TCP and UDP — written against ta/tzposix as any Go
// TA would be.
//
// Bytes a client sends come back to that client: per connection on UNIX
// and TCP, per datagram (boundaries kept) on UDP, and per writer session
// from the FIFO "/in" to the FIFO "/out" (see FIFO semantics below).
// Output that cannot be delivered yet is buffered, and while a buffer is
// over its bound the server stops reading from its source, so the kernel
// pushes back on the client.
//
// FIFO semantics. A writer session of "/in" lasts from the first writer's
// open until no writer has it open any more (the reader's end of file).
// What a session sends is echoed to the reader(s) of "/out" present, and
// once the whole session is echoed the server closes "/out", so those
// readers see end of file: `cat out & echo hello > in` prints hello and
// cat ends. While the writer session lasts, its echo waits for a reader
// (the writer is held back once maxPending bytes wait). Once it has
// ended, its echo waits for a reader at most ReaderGrace, and not at all
// once the next session has sent something: a session's bytes never
// reach a reader who came for a later one. After "/out" is closed it is
// reopened no sooner than retryDelay later, so that readers still
// attached see the end of file before the next session's bytes.
package echo

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/tzmediator/tzbridge/gp"
	"github.com/tzmediator/tzbridge/securesim"
	"github.com/tzmediator/tzbridge/ta/tzposix"
	"github.com/tzmediator/tzbridge/tzrpc"
)

// Where the server listens. Paths are inside the TA's root.
const (
	FIFOIn   = "/in"
	FIFOOut  = "/out"
	UnixPath = "/echo.sock"
	TCPPort  = 7000
	UDPPort  = 7001
)

const (
	// maxPending bounds the output buffered for one destination; above it
	// the source is no longer read.
	maxPending = 256 << 10
	// readSize is one read; it holds the largest UDP datagram.
	readSize = 64 << 10
	// retryDelay paces retries that no descriptor event announces: opening
	// "/out" before it has a reader, accepting after running out of
	// descriptors.
	retryDelay = 50 * time.Millisecond
	// maxConns keeps the poll set within the protocol's limit, with room
	// for the listeners and FIFOs.
	maxConns = tzrpc.MaxPollFDs - 8
	// listenBacklog lets a burst of clients up to maxConns connect at once
	// without the kernel dropping SYNs (a client whose SYN is dropped
	// waits 1 s, then 3 s, 7 s… to retry). The kernel caps it at
	// net.core.somaxconn.
	listenBacklog = maxConns
)

// ReaderGrace is how long the echo of a finished writer session waits for
// a reader of "/out" before it is dropped: long enough for
// `cat out & echo hello > in`, where cat may open "/out" after the
// shell's write has been read.
const ReaderGrace = 2 * time.Second

// Definition is the echo TA at uuid. It is single-instance and
// single-session: the ports and paths it binds exist once.
func Definition(uuid gp.UUID) securesim.Definition {
	return tzposix.Definition("echo", uuid, securesim.Properties{SingleInstance: true, MultiSession: false}, Program)
}

// Program runs the echo server until the session closes.
func Program(ctx context.Context, p *tzposix.Proc) error {
	s := &server{p: p, fifoIn: -1, fifoOut: -1, unixL: -1, tcpL: -1, udp: -1, buf: make([]byte, readSize)}
	defer s.closeAll()
	if err := s.setup(); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	for ctx.Err() == nil {
		if err := s.step(); err != nil {
			if errors.Is(err, syscall.ECANCELED) {
				return nil // the session closed
			}
			return err
		}
	}
	return nil
}

// server is the whole state; one goroutine owns it.
type server struct {
	p   *tzposix.Proc
	buf []byte // one read's worth, reused

	// fifoIn reads "/in". It is opened anew after each writer session:
	// the kernel reports POLLHUP on a FIFO reader only once a writer has
	// come and gone since it was opened, so a fresh one is quiet while
	// no writer is there, and signals the end of the next session.
	fifoIn    int
	inRetry   time.Time      // when to try opening "/in" again, while fifoIn is -1
	fifoOut   int            // -1 while "/out" is not open
	sessions  []*fifoSession // oldest first; the first is echoed to "/out"
	fifoRetry time.Time      // when to try opening "/out" again

	unixL, tcpL int
	acceptRetry time.Time // accepting is paused until then
	conns       []*conn

	udp     int
	udpData []byte         // a datagram waiting for the socket to take it
	udpTo   tzrpc.Sockaddr // its sender
	udpWait bool           // udpData holds a datagram

	fds    []tzposix.PollFd
	owners []owner // what fds[i] belongs to
}

// pending is output not yet delivered; off is how much of b was written.
type pending struct {
	b   []byte
	off int
}

func (q *pending) len() int      { return len(q.b) - q.off }
func (q *pending) bytes() []byte { return q.b[q.off:] }
func (q *pending) add(b []byte)  { q.b = append(q.b, b...) }
func (q *pending) full() bool    { return q.len() >= maxPending }
func (q *pending) consume(n int) {
	q.off += n
	if q.off == len(q.b) {
		q.b, q.off = q.b[:0], 0
	} else if q.off > cap(q.b)/2 {
		// Move the tail down so the buffer does not creep forward forever.
		q.b, q.off = q.b[:copy(q.b, q.b[q.off:])], 0
	}
}

// fifoSession is one writer session of "/in": the bytes not yet echoed,
// and whether its writers have all gone (then its echo ends with them).
type fifoSession struct {
	data     pending
	ended    bool
	endedAt  time.Time
	noReader bool // an open of "/out" for it found no reader
}

// fifoPending is what all sessions have waiting.
func (s *server) fifoPending() int {
	n := 0
	for _, f := range s.sessions {
		n += f.data.len()
	}
	return n
}

type conn struct {
	fd  int
	out pending
	eof bool // the client has finished sending; close once out is written
}

type ownerKind uint8

const (
	ownFIFOIn ownerKind = iota
	ownFIFOOut
	ownListener
	ownUDP
	ownConn
)

type owner struct {
	kind ownerKind
	fd   int
	c    *conn
}

func (s *server) setup() error {
	p := s.p
	for _, name := range []string{FIFOIn, FIFOOut} {
		if err := p.Mkfifo(name, 0o666); err != nil && !errors.Is(err, syscall.EEXIST) {
			return fmt.Errorf("echo: mkfifo %s: %w", name, err)
		}
	}
	var err error
	if s.fifoIn, err = p.Open(FIFOIn, tzposix.O_RDONLY|tzposix.O_NONBLOCK, 0); err != nil {
		return fmt.Errorf("echo: open %s for reading: %w", FIFOIn, err)
	}

	if err := p.Unlink(UnixPath); err != nil && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("echo: remove stale %s: %w", UnixPath, err)
	}
	ua, err := tzrpc.UnixSockaddr(UnixPath)
	if err != nil {
		return fmt.Errorf("echo: %w", err)
	}
	if s.unixL, err = s.listen(tzposix.AF_UNIX, ua); err != nil {
		return err
	}
	if s.tcpL, err = s.listen(tzposix.AF_INET, tzrpc.Inet4Sockaddr([4]byte{127, 0, 0, 1}, TCPPort)); err != nil {
		return err
	}

	ta := tzrpc.Inet4Sockaddr([4]byte{127, 0, 0, 1}, UDPPort)
	if s.udp, err = p.Socket(tzposix.AF_INET, tzposix.SOCK_DGRAM|tzposix.SOCK_NONBLOCK, 0); err != nil {
		return fmt.Errorf("echo: udp socket: %w", err)
	}
	if err := p.SetsockoptInt(s.udp, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		return fmt.Errorf("echo: udp SO_REUSEADDR: %w", err)
	}
	if err := p.Bind(s.udp, ta); err != nil {
		return fmt.Errorf("echo: bind udp %v: %w", ta, err)
	}
	return nil
}

// listen makes a nonblocking stream listener at addr.
func (s *server) listen(domain int, addr tzrpc.Sockaddr) (int, error) {
	p := s.p
	fd, err := p.Socket(domain, tzposix.SOCK_STREAM|tzposix.SOCK_NONBLOCK, 0)
	if err != nil {
		return -1, fmt.Errorf("echo: socket for %v: %w", addr, err)
	}
	if domain != tzposix.AF_UNIX {
		if err := p.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
			p.Close(fd)
			return -1, fmt.Errorf("echo: SO_REUSEADDR on %v: %w", addr, err)
		}
	}
	if err := p.Bind(fd, addr); err != nil {
		p.Close(fd)
		return -1, fmt.Errorf("echo: bind %v: %w", addr, err)
	}
	if err := p.Listen(fd, listenBacklog); err != nil {
		p.Close(fd)
		return -1, fmt.Errorf("echo: listen on %v: %w", addr, err)
	}
	return fd, nil
}

func (s *server) closeAll() {
	for _, fd := range []int{s.fifoIn, s.fifoOut, s.unixL, s.tcpL, s.udp} {
		if fd >= 0 {
			s.p.Close(fd)
		}
	}
	for _, c := range s.conns {
		s.p.Close(c.fd)
	}
}

// step waits for events once and services them. Only a failure of poll
// itself (or the session going away) ends the server; a failing client
// only loses its own connection.
func (s *server) step() error {
	now := time.Now()
	timeout := s.build(now)
	// The count is not needed: revents say it all, and a timeout only
	// means a retry is due.
	_, err := s.p.Poll(s.fds, timeout)
	if err != nil {
		if errors.Is(err, syscall.EINTR) {
			return nil
		}
		return fmt.Errorf("echo: poll: %w", err)
	}
	for i, f := range s.fds {
		if f.Revents == 0 {
			continue
		}
		o := s.owners[i]
		switch o.kind {
		case ownFIFOIn:
			err = s.readFIFO()
		case ownFIFOOut:
			// POLLOUT: write; POLLERR (the reader left): the write
			// meets EPIPE and flushFIFO closes "/out".
			err = s.flushFIFO()
		case ownListener:
			err = s.accept(o.fd)
		case ownUDP:
			err = s.serveUDP(f.Revents)
		case ownConn:
			err = s.serveConn(o.c, f.Revents)
		}
		if errors.Is(err, syscall.ECANCELED) {
			return err
		}
	}
	if s.fifoIn < 0 && !time.Now().Before(s.inRetry) {
		if err := s.reopenIn(); errors.Is(err, syscall.ECANCELED) {
			return err
		}
	}
	if len(s.sessions) > 0 && s.fifoOut < 0 && !time.Now().Before(s.fifoRetry) {
		if err := s.flushFIFO(); errors.Is(err, syscall.ECANCELED) {
			return err
		}
	}
	s.reap()
	return nil
}

// build fills the poll set from the state: what to read (unless its output
// is backed up) and what to write (if output waits). It returns the poll
// timeout, bounded by the next retry.
func (s *server) build(now time.Time) int {
	s.fds, s.owners = s.fds[:0], s.owners[:0]
	add := func(fd int, ev int16, o owner) {
		s.fds = append(s.fds, tzposix.PollFd{Fd: int32(fd), Events: ev})
		s.owners = append(s.owners, o)
	}
	if s.fifoIn >= 0 && s.fifoPending() < maxPending {
		add(s.fifoIn, tzposix.POLLIN, owner{kind: ownFIFOIn})
	}
	if s.fifoOut >= 0 && len(s.sessions) > 0 && s.sessions[0].data.len() > 0 {
		// Polled only with something to write. A reader that left shows
		// as EPIPE on the next write; closing "/out" on its POLLERR
		// instead could cut off, with an early end of file, a reader
		// that has just opened it.
		add(s.fifoOut, tzposix.POLLOUT, owner{kind: ownFIFOOut})
	}
	if len(s.conns) < maxConns && !now.Before(s.acceptRetry) {
		add(s.unixL, tzposix.POLLIN, owner{kind: ownListener, fd: s.unixL})
		add(s.tcpL, tzposix.POLLIN, owner{kind: ownListener, fd: s.tcpL})
	}
	if s.udpWait {
		add(s.udp, tzposix.POLLOUT, owner{kind: ownUDP})
	} else {
		add(s.udp, tzposix.POLLIN, owner{kind: ownUDP})
	}
	for _, c := range s.conns {
		var ev int16
		if !c.eof && !c.out.full() {
			ev |= tzposix.POLLIN
		}
		if c.out.len() > 0 {
			ev |= tzposix.POLLOUT
		}
		add(c.fd, ev, owner{kind: ownConn, c: c})
	}

	timeout := -1
	wait := func(at time.Time) {
		ms := int(at.Sub(now).Milliseconds()) + 1
		if timeout < 0 || ms < timeout {
			timeout = max(ms, 0)
		}
	}
	if len(s.sessions) > 0 && s.fifoOut < 0 {
		wait(s.fifoRetry)
	}
	if s.fifoIn < 0 {
		wait(s.inRetry)
	}
	if now.Before(s.acceptRetry) {
		wait(s.acceptRetry)
	}
	return timeout
}

// readFIFO moves what "/in" holds into the current session's echo. End
// of file ends the session: every writer has closed "/in".
func (s *server) readFIFO() error {
	n, err := s.p.Read(s.fifoIn, s.buf)
	if err != nil {
		if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
			return nil
		}
		return err
	}
	now := time.Now()
	last := len(s.sessions) - 1
	if n == 0 {
		if last >= 0 && !s.sessions[last].ended {
			s.sessions[last].ended, s.sessions[last].endedAt = true, now
		} else {
			// A writer came and went without writing: an empty
			// session, whose end the readers present see.
			s.sessions = append(s.sessions, &fifoSession{ended: true, endedAt: now})
		}
		if err := s.reopenIn(); err != nil {
			return err
		}
		return s.flushFIFO()
	}
	if last < 0 || s.sessions[last].ended {
		// A new session. Finished ones that found no reader are
		// dropped rather than given to this session's reader.
		if s.fifoOut < 0 {
			kept := s.sessions[:0]
			for _, f := range s.sessions {
				if !f.ended || !f.noReader {
					kept = append(kept, f)
				}
			}
			clear(s.sessions[len(kept):])
			s.sessions = kept
		}
		s.sessions = append(s.sessions, &fifoSession{})
		last = len(s.sessions) - 1
	}
	s.sessions[last].data.add(s.buf[:n])
	return s.flushFIFO()
}

// reopenIn replaces the reader of "/in" after a session ended, so that
// poll is quiet until the next writer session ends. The new reader is
// opened first: "/in" never lacks a reader, so a writer of the next
// session neither blocks nor meets EPIPE. If a writer has already opened
// "/in", the kernel reports POLLHUP on the new reader once that writer
// leaves, as on the old one.
func (s *server) reopenIn() error {
	fd, err := s.p.Open(FIFOIn, tzposix.O_RDONLY|tzposix.O_NONBLOCK, 0)
	if err != nil {
		// The old reader keeps reporting POLLHUP: close it and try
		// again after retryDelay rather than spin on it.
		if s.fifoIn >= 0 {
			s.p.Close(s.fifoIn)
		}
		s.fifoIn = -1
		s.inRetry = time.Now().Add(retryDelay)
		return fmt.Errorf("echo: reopen %s for reading: %w", FIFOIn, err)
	}
	s.p.Close(s.fifoIn)
	s.fifoIn = fd
	return nil
}

// flushFIFO echoes the oldest session to "/out", opening it first if
// needed, and closes "/out" once a finished session is echoed whole, so
// that its readers see end of file.
func (s *server) flushFIFO() error {
	for len(s.sessions) > 0 {
		f := s.sessions[0]
		if f.data.len() == 0 && !f.ended {
			return nil // the writer may send more
		}
		if s.fifoOut < 0 {
			now := time.Now()
			if now.Before(s.fifoRetry) {
				return nil // the poll timeout brings us back
			}
			fd, err := s.p.Open(FIFOOut, tzposix.O_WRONLY|tzposix.O_NONBLOCK, 0)
			if err != nil {
				if errors.Is(err, syscall.ECANCELED) {
					return err
				}
				// ENXIO: no reader. Anything else (say the node was
				// removed) is treated the same way.
				f.noReader = true
				if f.ended && (len(s.sessions) > 1 || !now.Before(f.endedAt.Add(ReaderGrace))) {
					s.popSession() // no reader came for it
					continue
				}
				s.fifoRetry = now.Add(retryDelay)
				return nil
			}
			s.fifoOut = fd
		}
		if f.data.len() > 0 {
			// One write: a short count means the pipe is full, and
			// POLLOUT will say when it has room.
			n, err := s.p.Write(s.fifoOut, f.data.bytes())
			f.data.consume(n)
			if err != nil && !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EINTR) {
				// EPIPE: the reader left. The rest waits for the
				// next reader of this session.
				s.closeFIFOOut()
				return err
			}
			if f.data.len() > 0 {
				return nil
			}
		}
		if !f.ended {
			return nil
		}
		// The session is echoed whole: its readers see end of file.
		s.closeFIFOOut()
		s.popSession()
	}
	return nil
}

func (s *server) popSession() {
	s.sessions[0] = nil
	s.sessions = s.sessions[1:]
	if len(s.sessions) == 0 {
		s.sessions = nil // let the backing array go
	}
}

// closeFIFOOut closes "/out"; it is opened again no sooner than
// retryDelay later, so that readers still attached see end of file before
// the next session's bytes.
func (s *server) closeFIFOOut() {
	s.p.Close(s.fifoOut)
	s.fifoOut = -1
	s.fifoRetry = time.Now().Add(retryDelay)
}

// accept takes one connection per event; poll repeats while more wait.
func (s *server) accept(l int) error {
	fd, _, err := s.p.Accept4(l, tzposix.SOCK_NONBLOCK)
	switch {
	case err == nil:
		s.conns = append(s.conns, &conn{fd: fd})
		return nil
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE),
		errors.Is(err, syscall.ENOBUFS), errors.Is(err, syscall.ENOMEM):
		// Out of descriptors: the pending connection stays queued in the
		// kernel; try again later rather than spin on POLLIN.
		s.acceptRetry = time.Now().Add(retryDelay)
		return nil
	case errors.Is(err, syscall.ECANCELED):
		return err
	}
	return nil // EAGAIN, ECONNABORTED, …: the client went away first
}

// serveUDP echoes one datagram to its sender, or sends the one that was
// waiting for room.
func (s *server) serveUDP(rev int16) error {
	if s.udpWait {
		if rev&(tzposix.POLLOUT|tzposix.POLLERR) != 0 {
			return s.sendUDP(s.udpData, s.udpTo)
		}
		return nil
	}
	n, from, err := s.p.Recvfrom(s.udp, s.buf, 0)
	if err != nil {
		if errors.Is(err, syscall.ECANCELED) {
			return err
		}
		return nil // EAGAIN, or an error queued by ICMP for an earlier send
	}
	if !from.IsValid() {
		return nil // no one to answer
	}
	return s.sendUDP(s.buf[:n], from)
}

func (s *server) sendUDP(b []byte, to tzrpc.Sockaddr) error {
	_, err := s.p.Sendto(s.udp, b, 0, to)
	if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) || errors.Is(err, syscall.ENOBUFS) {
		// Keep it and stop reading until the socket takes it.
		if !s.udpWait {
			s.udpData = append(s.udpData[:0], b...)
			s.udpTo = to
			s.udpWait = true
		}
		return nil
	}
	s.udpWait = false
	if errors.Is(err, syscall.ECANCELED) {
		return err
	}
	// Sent, or refused for good (the sender is unreachable): either way
	// this datagram is done.
	return nil
}

// serveConn reads once and writes what is pending. A connection whose
// client is gone, or that failed, is closed by reap.
func (s *server) serveConn(c *conn, rev int16) error {
	if rev&tzposix.POLLNVAL != 0 {
		c.eof, c.out = true, pending{}
		return nil
	}
	reading := !c.eof && !c.out.full()
	if reading && rev&(tzposix.POLLIN|tzposix.POLLHUP|tzposix.POLLERR) != 0 {
		n, err := s.p.Recv(c.fd, s.buf, 0)
		switch {
		case err == nil && n == 0:
			c.eof = true
		case err == nil:
			c.out.add(s.buf[:n])
		case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EINTR):
		default:
			s.drop(c)
			return err
		}
	}
	if c.out.len() == 0 {
		return nil
	}
	// Write at once rather than wait for POLLOUT: the socket usually has
	// room, and this saves a poll per echo. One call: a short count means
	// the socket is full, and POLLOUT will say when it has room. Errors
	// (and POLLERR or POLLHUP while not reading) show up here as EPIPE or
	// ECONNRESET.
	n, err := s.p.Send(c.fd, c.out.bytes(), tzposix.MSG_NOSIGNAL)
	c.out.consume(n)
	if err != nil && !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EINTR) {
		s.drop(c)
		return err
	}
	return nil
}

// drop marks c for closing with its output discarded: its client is gone
// (EPIPE, ECONNRESET) and has been told so by the kernel.
func (s *server) drop(c *conn) {
	c.eof = true
	c.out = pending{}
}

// reap closes connections that are done: the client finished sending and
// everything has been echoed, or the connection failed.
func (s *server) reap() {
	kept := s.conns[:0]
	for _, c := range s.conns {
		if c.eof && c.out.len() == 0 {
			s.p.Close(c.fd)
			continue
		}
		kept = append(kept, c)
	}
	clear(s.conns[len(kept):])
	s.conns = kept
}
