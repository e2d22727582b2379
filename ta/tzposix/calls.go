package tzposix

import (
	"math"
	"syscall"

	"github.com/tzmediator/tzbridge/tzrpc"
)

// The calls mirror POSIX with Go types. Errors are syscall.Errno. Calls
// returning a descriptor return -1 with an error; calls returning a count
// return 0, except writes that moved some bytes before failing.

// checkNewFD rejects a descriptor the shadow hands out while the library
// still has it open: accepting it would make two of the TA's descriptors
// one, letting the normal world redirect the TA's I/O.
func (p *Proc) checkNewFD(ret int64) error {
	if _, known := p.fds[int32(ret)]; known {
		return p.violation()
	}
	return nil
}

// Open opens path (relative to the TA's root) with tzrpc open flags.
func (p *Proc) Open(path string, flags int, mode uint32) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	req := tzrpc.Request{Op: tzrpc.OpOpen, Args: [6]int64{int64(flags), int64(mode)}}
	ret, err := p.call(&req, &outgoing{s1: path})
	if err == nil {
		err = p.checkNewFD(ret)
	}
	if err != nil {
		return -1, err
	}
	p.fds[int32(ret)] = fdInfo{kind: kindFile, status: flags & (tzrpc.O_NONBLOCK | tzrpc.O_APPEND)}
	return int(ret), nil
}

// Close closes fd. The descriptor is gone afterwards even if the shadow
// reports an error, as with close(2) on Linux.
func (p *Proc) Close(fd int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	fd32, _, err := p.lookup(fd)
	if err != nil {
		return err
	}
	delete(p.fds, fd32)
	p.dropReadAhead(fd32)
	req := tzrpc.Request{Op: tzrpc.OpClose, Args: [6]int64{int64(fd32)}}
	_, err = p.call(&req, &outgoing{})
	return err
}

// Read reads up to len(b) bytes, and no more than the mailbox carries in
// one call: a short read is normal.
func (p *Proc) Read(fd int, b []byte) (int, error) {
	return p.read(tzrpc.OpRead, fd, b, 0)
}

// Recv is recv(2); flags are MSG_PEEK, MSG_DONTWAIT, MSG_WAITALL.
func (p *Proc) Recv(fd int, b []byte, flags int) (int, error) {
	return p.read(tzrpc.OpRecv, fd, b, flags)
}

func (p *Proc) read(op tzrpc.Op, fd int, b []byte, flags int) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fd32, _, err := p.lookup(fd)
	if err != nil {
		return 0, err
	}
	if n, _, served, err := p.fromReadAhead(fd32, b, flags); served {
		return n, err
	}
	return p.readCall(op, fd32, b, flags)
}

// readCall is READ or RECV of fd32 in the shadow. The caller holds p.mu.
func (p *Proc) readCall(op tzrpc.Op, fd32 int32, b []byte, flags int) (int, error) {
	n := min(len(b), p.cap)
	req := tzrpc.Request{Op: op, Args: [6]int64{int64(fd32), int64(n)}}
	if op == tzrpc.OpRecv {
		req.Args[2] = int64(flags)
	}
	resp, err := p.roundTrip(&req, &outgoing{}, &incoming{maxLen: n})
	if err != nil {
		return 0, err
	}
	// CheckResponse has bounded the payload by n <= len(b); the bytes are
	// opaque, so they are copied straight from the mailbox.
	copy(b, resp.Payload)
	p.finish()
	return int(resp.Ret), nil
}

// Recvfrom receives into b and reports the sender; the Sockaddr is the zero
// value when the shadow reports no address (stream sockets). A datagram
// larger than b, or than the mailbox carries, is truncated, as recvfrom(2)
// truncates to the buffer.
func (p *Proc) Recvfrom(fd int, b []byte, flags int) (int, tzrpc.Sockaddr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fd32, _, err := p.lookup(fd)
	if err != nil {
		return 0, tzrpc.Sockaddr{}, err
	}
	if n, from, served, err := p.fromReadAhead(fd32, b, flags); served {
		return n, from, err
	}
	n := min(len(b), p.cap-tzrpc.MaxSockaddrLen)
	req := tzrpc.Request{Op: tzrpc.OpRecvfrom, Args: [6]int64{int64(fd32), int64(n), int64(flags)}}
	resp, err := p.roundTrip(&req, &outgoing{}, &incoming{maxLen: n + tzrpc.MaxSockaddrLen})
	if err != nil {
		return 0, tzrpc.Sockaddr{}, err
	}
	defer p.finish()
	// The payload was checked in the mailbox rather than copied whole, so
	// take a private copy of the address and parse that: the shadow may
	// have rewritten it since. The data is opaque and its length comes from
	// the header.
	addr, data := resp.RecvfromParts()
	var from tzrpc.Sockaddr
	if len(addr) > 0 {
		if err := p.parseAddr(p.addrBuf[:copy(p.addrBuf[:], addr)], len(addr), &from); err != nil {
			return 0, tzrpc.Sockaddr{}, err
		}
	}
	copy(b, data)
	return int(resp.Ret), from, nil
}

// Write writes b. On a blocking descriptor it returns when all of b is
// written (in as many calls as the mailbox needs) or on error, with the
// count written so far; on a nonblocking one it makes one call and may
// return a short count. On a datagram socket b is one datagram: EMSGSIZE if
// it does not fit the mailbox.
func (p *Proc) Write(fd int, b []byte) (int, error) {
	return p.write(tzrpc.OpWrite, fd, b, 0, nil)
}

// Send is send(2), with Write's chunking; flags are MSG_DONTWAIT (which
// makes this one call nonblocking) and MSG_NOSIGNAL (always implied).
func (p *Proc) Send(fd int, b []byte, flags int) (int, error) {
	return p.write(tzrpc.OpSend, fd, b, flags, nil)
}

// Sendto is sendto(2); the zero Sockaddr sends to the connected peer.
func (p *Proc) Sendto(fd int, b []byte, flags int, to tzrpc.Sockaddr) (int, error) {
	return p.write(tzrpc.OpSendto, fd, b, flags, &to)
}

func (p *Proc) write(op tzrpc.Op, fd int, b []byte, flags int, to *tzrpc.Sockaddr) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fd32, fi, err := p.lookup(fd)
	if err != nil {
		return 0, err
	}
	var ab [tzrpc.MaxSockaddrLen]byte
	var addr []byte
	if to != nil {
		addr = to.AppendTo(ab[:0])
	}
	room := p.cap - len(addr)
	if fi.kind == kindDgram && len(b) > room {
		return 0, syscall.EMSGSIZE
	}
	blocking := !fi.nonblocking() && flags&tzrpc.MSG_DONTWAIT == 0 && fi.kind != kindDgram
	done := 0
	for {
		chunk := b[done:]
		if len(chunk) > room {
			chunk = chunk[:room]
		}
		req := tzrpc.Request{Op: op, Args: [6]int64{int64(fd32)}}
		switch op {
		case tzrpc.OpSend:
			req.Args[1] = int64(flags)
		case tzrpc.OpSendto:
			req.Args[1], req.Args[2] = int64(flags), int64(len(addr))
		}
		ret, err := p.call(&req, &outgoing{pre: addr, data: chunk})
		if err != nil {
			return done, err
		}
		done += int(ret)
		if done == len(b) || !blocking {
			return done, nil
		}
		if ret == 0 {
			// A blocking write waits until it can move something; zero
			// would have us loop forever on the shadow's word.
			return done, p.violation()
		}
	}
}

// Mkfifo creates a named pipe.
func (p *Proc) Mkfifo(path string, mode uint32) error {
	return p.pathOp(tzrpc.OpMkfifo, path, int64(mode))
}

// Mkdir creates a directory.
func (p *Proc) Mkdir(path string, mode uint32) error {
	return p.pathOp(tzrpc.OpMkdir, path, int64(mode))
}

// Unlink removes a file, FIFO or socket node.
func (p *Proc) Unlink(path string) error { return p.pathOp(tzrpc.OpUnlink, path, 0) }

// Rmdir removes an empty directory.
func (p *Proc) Rmdir(path string) error { return p.pathOp(tzrpc.OpRmdir, path, 0) }

func (p *Proc) pathOp(op tzrpc.Op, path string, arg int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	req := tzrpc.Request{Op: op, Args: [6]int64{arg}}
	_, err := p.call(&req, &outgoing{s1: path})
	return err
}

// Rename renames oldPath to newPath.
func (p *Proc) Rename(oldPath, newPath string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(oldPath) == 0 || len(newPath) == 0 {
		// Empty paths would shift the boundary between the two.
		return syscall.ENOENT
	}
	req := tzrpc.Request{Op: tzrpc.OpRename, Args: [6]int64{int64(len(oldPath))}}
	_, err := p.call(&req, &outgoing{s1: oldPath, s2: newPath})
	return err
}

// Socket creates a socket. typ is SOCK_STREAM or SOCK_DGRAM, optionally
// or'ed with SOCK_NONBLOCK and SOCK_CLOEXEC; proto is 0 or the one protocol
// the type implies (IPPROTO_TCP, IPPROTO_UDP).
func (p *Proc) Socket(domain, typ, proto int) (int, error) {
	const flagMask = tzrpc.SOCK_NONBLOCK | tzrpc.SOCK_CLOEXEC
	base, flags := typ&^flagMask, typ&flagMask
	switch {
	case proto == 0:
	case proto == IPPROTO_TCP && base == tzrpc.SOCK_STREAM && domain != tzrpc.AF_UNIX:
	case proto == IPPROTO_UDP && base == tzrpc.SOCK_DGRAM && domain != tzrpc.AF_UNIX:
	default:
		return -1, syscall.EPROTONOSUPPORT
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	req := tzrpc.Request{Op: tzrpc.OpSocket, Args: [6]int64{int64(domain), int64(base), int64(flags)}}
	ret, err := p.call(&req, &outgoing{})
	if err == nil {
		err = p.checkNewFD(ret)
	}
	if err != nil {
		return -1, err
	}
	fi := fdInfo{kind: kindStream}
	if base == tzrpc.SOCK_DGRAM {
		fi.kind = kindDgram
	}
	if flags&tzrpc.SOCK_NONBLOCK != 0 {
		fi.status = tzrpc.O_NONBLOCK
	}
	p.fds[int32(ret)] = fi
	return int(ret), nil
}

// Bind binds fd to addr.
func (p *Proc) Bind(fd int, addr tzrpc.Sockaddr) error {
	return p.addrOp(tzrpc.OpBind, fd, addr)
}

// Connect connects fd to addr; on a nonblocking socket it may fail with
// EINPROGRESS, after which Poll for POLLOUT and read SO_ERROR.
func (p *Proc) Connect(fd int, addr tzrpc.Sockaddr) error {
	return p.addrOp(tzrpc.OpConnect, fd, addr)
}

func (p *Proc) addrOp(op tzrpc.Op, fd int, addr tzrpc.Sockaddr) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	fd32, _, err := p.lookup(fd)
	if err != nil {
		return err
	}
	var ab [tzrpc.MaxSockaddrLen]byte
	req := tzrpc.Request{Op: op, Args: [6]int64{int64(fd32)}}
	_, err = p.call(&req, &outgoing{pre: addr.AppendTo(ab[:0])})
	return err
}

// Listen marks fd as accepting connections. A backlog out of range is
// clamped, as the kernel clamps it to somaxconn.
func (p *Proc) Listen(fd int, backlog int) error {
	if backlog < 0 || backlog > tzrpc.MaxBacklog {
		backlog = tzrpc.MaxBacklog
	}
	return p.fdOp(tzrpc.OpListen, fd, int64(backlog), 0, 0)
}

// Shutdown is shutdown(2) with SHUT_RD, SHUT_WR or SHUT_RDWR.
func (p *Proc) Shutdown(fd int, how int) error {
	return p.fdOp(tzrpc.OpShutdown, fd, int64(how), 0, 0)
}

// fdOp performs a call on a known descriptor whose only result is success.
func (p *Proc) fdOp(op tzrpc.Op, fd int, a1, a2, a3 int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	fd32, _, err := p.lookup(fd)
	if err != nil {
		return err
	}
	req := tzrpc.Request{Op: op, Args: [6]int64{int64(fd32), a1, a2, a3}}
	_, err = p.call(&req, &outgoing{})
	return err
}

// Accept is Accept4 without flags.
func (p *Proc) Accept(fd int) (int, tzrpc.Sockaddr, error) { return p.Accept4(fd, 0) }

// Accept4 accepts a connection on a listening socket; flags are
// SOCK_NONBLOCK and SOCK_CLOEXEC. The new descriptor is blocking unless
// SOCK_NONBLOCK is given: it does not inherit the listener's mode.
func (p *Proc) Accept4(fd int, flags int) (int, tzrpc.Sockaddr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fd32, _, err := p.lookup(fd)
	if err != nil {
		return -1, tzrpc.Sockaddr{}, err
	}
	req := tzrpc.Request{Op: tzrpc.OpAccept, Args: [6]int64{int64(fd32), int64(flags)}}
	resp, err := p.roundTrip(&req, &outgoing{}, &incoming{maxLen: tzrpc.MaxSockaddrLen, detach: p.addrBuf[:0]})
	if err != nil {
		return -1, tzrpc.Sockaddr{}, err
	}
	p.finish() // the address was detached
	var peer tzrpc.Sockaddr
	if err := p.checkNewFD(resp.Ret); err != nil {
		return -1, tzrpc.Sockaddr{}, err
	}
	if err := p.parseAddr(resp.Payload, len(resp.Payload), &peer); err != nil {
		return -1, tzrpc.Sockaddr{}, err
	}
	fi := fdInfo{kind: kindStream}
	if flags&tzrpc.SOCK_NONBLOCK != 0 {
		fi.status = tzrpc.O_NONBLOCK
	}
	p.fds[int32(resp.Ret)] = fi
	return int(resp.Ret), peer, nil
}

// parseAddr parses a private copy of a sockaddr that must be exactly n
// bytes. For a detached payload CheckResponse has parsed the same bytes
// already and this only obtains the value; for a copy taken after the check
// it is the check, and a failure is the shadow's doing.
func (p *Proc) parseAddr(b []byte, n int, sa *tzrpc.Sockaddr) error {
	s, used, err := tzrpc.ParseSockaddr(b)
	if err != nil || used != n || len(b) != n {
		return p.violation()
	}
	*sa = s
	return nil
}

// Getsockname returns the address fd is bound to.
func (p *Proc) Getsockname(fd int) (tzrpc.Sockaddr, error) {
	return p.nameOp(tzrpc.OpGetsockname, fd)
}

// Getpeername returns the address fd is connected to.
func (p *Proc) Getpeername(fd int) (tzrpc.Sockaddr, error) {
	return p.nameOp(tzrpc.OpGetpeername, fd)
}

func (p *Proc) nameOp(op tzrpc.Op, fd int) (tzrpc.Sockaddr, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fd32, _, err := p.lookup(fd)
	if err != nil {
		return tzrpc.Sockaddr{}, err
	}
	req := tzrpc.Request{Op: op, Args: [6]int64{int64(fd32)}}
	resp, err := p.roundTrip(&req, &outgoing{}, &incoming{maxLen: tzrpc.MaxSockaddrLen, detach: p.addrBuf[:0]})
	if err != nil {
		return tzrpc.Sockaddr{}, err
	}
	p.finish() // the address was detached
	var sa tzrpc.Sockaddr
	if err := p.parseAddr(resp.Payload, len(resp.Payload), &sa); err != nil {
		return tzrpc.Sockaddr{}, err
	}
	return sa, nil
}

// SetsockoptInt sets an integer socket option, named with the host's
// constants as in package syscall or x/sys/unix (SOL_SOCKET/SO_REUSEADDR,
// IPPROTO_TCP/TCP_NODELAY, …). Options the protocol does not carry fail
// with ENOPROTOOPT.
func (p *Proc) SetsockoptInt(fd, level, opt, value int) error {
	o, _ := tzrpc.SockoptFromHost(level, opt)
	return p.SetSockopt(fd, o.Num, value)
}

// GetsockoptInt reads an integer socket option, named as for
// SetsockoptInt. SO_ERROR comes back as a host errno number and SO_TYPE as
// the host's SOCK_STREAM or SOCK_DGRAM.
func (p *Proc) GetsockoptInt(fd, level, opt int) (int, error) {
	o, _ := tzrpc.SockoptFromHost(level, opt)
	v, err := p.Sockopt(fd, o.Num)
	if err != nil {
		return 0, err
	}
	switch o.Kind {
	case tzrpc.SockoptErrno:
		if v == 0 {
			return 0, nil
		}
		return int(tzrpc.Errno(v).Syscall()), nil
	case tzrpc.SockoptType:
		if v == tzrpc.SOCK_DGRAM {
			return syscall.SOCK_DGRAM, nil
		}
		return syscall.SOCK_STREAM, nil
	}
	return int(v), nil
}

// SetSockopt sets socket option opt, a protocol number (tzrpc.SO_REUSEADDR,
// …), as a WebAssembly guest names it. Numbers the protocol does not
// define fail with ENOPROTOOPT.
func (p *Proc) SetSockopt(fd int, opt int64, value int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	fd32, _, err := p.lookup(fd)
	if err != nil {
		return err
	}
	if _, ok := tzrpc.LookupSockopt(opt); !ok {
		return syscall.ENOPROTOOPT
	}
	req := tzrpc.Request{Op: tzrpc.OpSetsockopt, Args: [6]int64{int64(fd32), opt, int64(value)}}
	_, err = p.call(&req, &outgoing{})
	return err
}

// Sockopt reads socket option opt, a protocol number, and returns the
// protocol's value: SO_ERROR a tzrpc errno, SO_TYPE tzrpc.SOCK_STREAM or
// tzrpc.SOCK_DGRAM.
func (p *Proc) Sockopt(fd int, opt int64) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fd32, _, err := p.lookup(fd)
	if err != nil {
		return 0, err
	}
	if _, ok := tzrpc.LookupSockopt(opt); !ok {
		return 0, syscall.ENOPROTOOPT
	}
	req := tzrpc.Request{Op: tzrpc.OpGetsockopt, Args: [6]int64{int64(fd32), opt}}
	return p.call(&req, &outgoing{})
}

// SetNonblock puts fd in nonblocking mode or takes it out, keeping its
// other status flags (O_APPEND).
func (p *Proc) SetNonblock(fd int, nonblocking bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	fd32, fi, err := p.lookup(fd)
	if err != nil {
		return err
	}
	status := fi.status &^ tzrpc.O_NONBLOCK
	if nonblocking {
		status |= tzrpc.O_NONBLOCK
	}
	req := tzrpc.Request{Op: tzrpc.OpFcntl, Args: [6]int64{int64(fd32), tzrpc.F_SETFL, int64(status)}}
	if _, err := p.call(&req, &outgoing{}); err != nil {
		return err
	}
	fi.status = status
	p.fds[fd32] = fi
	return nil
}

// PollFd is one entry of Poll, as struct pollfd.
type PollFd struct {
	Fd      int32
	Events  int16
	Revents int16
}

// Poll waits for events on fds, as poll(2): timeoutMs < 0 waits forever.
// Negative descriptors are ignored; descriptors the library does not know
// get POLLNVAL without being shown to the shadow. Event bits the protocol
// does not define are dropped.
func (p *Proc) Poll(fds []PollFd, timeoutMs int) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	size := len(fds) * tzrpc.PollFdSize
	if len(fds) > tzrpc.MaxPollFDs || size > p.cap {
		return 0, syscall.EINVAL
	}
	if cap(p.pollReq) < size {
		p.pollReq = make([]byte, size)
	}
	entries := p.pollReq[:size]
	const events = tzrpc.POLLIN | tzrpc.POLLPRI | tzrpc.POLLOUT | tzrpc.POLLERR | tzrpc.POLLHUP | tzrpc.POLLNVAL
	local := 0 // entries answered here: unknown descriptors, bytes read ahead
	wantsIn := false
	for i := range fds {
		f := &fds[i]
		f.Revents = 0
		fd := f.Fd
		if _, known := p.fds[fd]; fd >= 0 && !known {
			f.Revents = tzrpc.POLLNVAL
			local++
			fd = -1
		} else if fd >= 0 && f.Events&POLLIN != 0 {
			wantsIn = true
			if p.ready(fd) {
				f.Revents = POLLIN
				local++
			}
		}
		tzrpc.PutPollFd(entries, i, tzrpc.PollFd{Fd: fd, Events: uint16(f.Events) & events})
	}
	timeout := int64(timeoutMs)
	switch {
	case local > 0:
		// An event is there already: poll(2) returns at once, and
		// reports the other entries as they are now.
		timeout = 0
	case timeout < 0:
		timeout = tzrpc.PollInfinite
	case timeout > math.MaxInt32:
		timeout = math.MaxInt32
	}
	// Read ahead when something may become readable and nothing is ready
	// yet, within what the mailbox carries besides the entries and the
	// records' headers.
	budget := 0
	if wantsIn && local == 0 && !p.noReadAhead {
		budget = max(0, min(readAheadBudget, p.cap-size-len(fds)*tzrpc.ReadAheadHeaderSize))
	}
	resSize := size + len(fds)*tzrpc.ReadAheadHeaderSize + budget
	if cap(p.pollRes) < resSize {
		p.pollRes = make([]byte, resSize)
	}
	req := tzrpc.Request{Op: tzrpc.OpPoll, Args: [6]int64{int64(len(fds)), timeout, int64(budget)}, Payload: entries}
	resp, err := p.roundTrip(&req, &outgoing{pre: entries}, &incoming{maxLen: resSize, detach: p.pollRes[:0]})
	if err == syscall.EINVAL && budget > 0 {
		// The request passed Validate here, so only a shadow that
		// predates read-ahead refuses it: poll as it knows how, from
		// now on.
		p.noReadAhead = true
		req.Args[2] = 0
		resp, err = p.roundTrip(&req, &outgoing{pre: entries}, &incoming{maxLen: resSize, detach: p.pollRes[:0]})
	}
	if err != nil {
		// TA code may look at revents whatever poll returns; leave only
		// what the library itself knows.
		return 0, err
	}
	p.finish() // the entries and records were detached
	if err := p.keepReadAhead(entries, resp.Payload, resp.Aux[0]); err != nil {
		return 0, err
	}
	ready := 0
	for i := range fds {
		fds[i].Revents |= int16(tzrpc.GetPollFd(resp.Payload, i).Revents)
		if fds[i].Revents != 0 {
			ready++
		}
	}
	return ready, nil
}
