package tzposix

import (
	"syscall"

	"github.com/tzmediator/tzbridge/tzrpc"
)

// Read-ahead: Poll gives the shadow a budget, and the shadow, for each FIFO
// or socket it finds readable, reads what is there (a whole datagram and
// its sender, for a datagram socket) into the POLL response
// (docs/protocol.md, "POLL read-ahead"). The library keeps those
// bytes here, by descriptor, and serves the next reads from them without a
// RESUME: a poll-driven TA then pays one RESUME for "poll, read" rather
// than two. To TA code nothing changes but the time: the bytes are the
// ones its read would have returned, in order, and an error the shadow's
// read met comes back from its next read.

// readAheadBudget bounds the bytes one Poll asks the shadow to read ahead
// for all its descriptors. A pipe holds 64 KiB; more would mostly sit in
// TA memory.
const readAheadBudget = 64 << 10

// maxSpareBuffers bounds the drained buffers kept for reuse.
const maxSpareBuffers = 4

// aheadBuf is what the shadow read ahead for one descriptor and TA code
// has not read yet: data from off, then err (0: none). For a datagram
// socket b holds whole datagrams, which dgrams cut and name the senders
// of, oldest first.
type aheadBuf struct {
	b      []byte
	off    int
	err    syscall.Errno
	dgrams []aheadDatagram
}

type aheadDatagram struct {
	from tzrpc.Sockaddr
	len  int
}

func (a *aheadBuf) empty() bool { return a.off == len(a.b) && len(a.dgrams) == 0 && a.err == 0 }

// ready reports whether fd has read-ahead data or an error waiting: poll
// reports it readable at once.
func (p *Proc) ready(fd int32) bool {
	a := p.ahead[fd]
	return a != nil && !a.empty()
}

// keepReadAhead stores the records of a checked POLL response. entries are
// the TA's own copy of the request's entries; records follow the response's
// entries in payload. Records that CheckResponse cannot judge, because they
// need the library's table, break the protocol: a sender for a stream or
// none for a datagram, a record after an errno for the same descriptor.
// Every record is checked before any is kept. (Poll asks for read-ahead
// only when no descriptor it polls for POLLIN has anything kept, so there
// is nothing older to order them after.)
func (p *Proc) keepReadAhead(entries, payload []byte, n int64) error {
	var failed map[int32]bool // descriptors with an errno record so far
	for keep := range 2 {
		rest := payload[len(entries):]
		for range n {
			rec, addr, data, tail, ok := tzrpc.NextReadAhead(rest)
			if !ok {
				return p.violation() // CheckResponse has ruled this out
			}
			rest = tail
			fd := tzrpc.GetPollFd(entries, int(rec.Index)).Fd
			dgram := p.fds[fd].kind == kindDgram
			var from tzrpc.Sockaddr
			if keep == 0 {
				switch {
				case failed[fd], rec.Errno == 0 && dgram != (len(addr) > 0):
					return p.violation()
				case rec.Errno != 0:
					if failed == nil {
						failed = make(map[int32]bool)
					}
					failed[fd] = true
				case dgram:
					if err := p.parseAddr(addr, len(addr), &from); err != nil {
						return err
					}
				}
				continue
			}
			a := p.ahead[fd]
			if a == nil {
				a = &aheadBuf{}
				p.ahead[fd] = a
			}
			if rec.Errno != 0 {
				a.err = rec.Errno.Syscall()
				continue
			}
			if a.b == nil {
				a.b = p.spareBuffer()
			}
			a.b = append(a.b, data...)
			if dgram {
				// Parsed in the check pass; the copy is private.
				from, _, _ = tzrpc.ParseSockaddr(addr)
				a.dgrams = append(a.dgrams, aheadDatagram{from: from, len: len(data)})
			}
		}
	}
	return nil
}

// fromReadAhead serves a read or receive of fd from what was read ahead,
// if anything waits for it: up to len(b) bytes (left in place with
// MSG_PEEK), or the pending error. With MSG_WAITALL it then asks the
// shadow for the rest, as recv(2) would wait for it, and reports what came
// if that fails. On a datagram socket it takes one datagram, truncated to
// b as recvfrom(2) truncates, and reports its sender. The caller holds
// p.mu.
func (p *Proc) fromReadAhead(fd int32, b []byte, flags int) (n int, from tzrpc.Sockaddr, served bool, err error) {
	a := p.ahead[fd]
	if a == nil || a.empty() {
		return 0, from, false, nil
	}
	if len(a.dgrams) > 0 {
		d := a.dgrams[0]
		n = copy(b, a.b[a.off:a.off+d.len])
		if flags&tzrpc.MSG_PEEK == 0 {
			a.off += d.len
			a.dgrams = a.dgrams[1:]
			if len(a.dgrams) == 0 {
				a.dgrams = nil
				p.recycle(a)
			}
		}
		return n, d.from, true, nil
	}
	if a.off == len(a.b) {
		err, a.err = a.err, 0
		return 0, from, true, err
	}
	n = copy(b, a.b[a.off:])
	if flags&tzrpc.MSG_PEEK != 0 {
		return n, from, true, nil
	}
	a.off += n
	if a.off == len(a.b) {
		p.recycle(a)
	}
	if n == len(b) || flags&tzrpc.MSG_WAITALL == 0 {
		return n, from, true, nil
	}
	if m, err := p.readCall(tzrpc.OpRecv, fd, b[n:], flags); err == nil {
		n += m
	}
	return n, from, true, nil
}

// dropReadAhead forgets what was read ahead for fd, which is closing.
func (p *Proc) dropReadAhead(fd int32) {
	if a := p.ahead[fd]; a != nil {
		p.recycle(a)
		delete(p.ahead, fd)
	}
}

func (p *Proc) spareBuffer() []byte {
	if n := len(p.spare); n > 0 {
		b := p.spare[n-1]
		p.spare = p.spare[:n-1]
		return b[:0]
	}
	return make([]byte, 0, readAheadBudget)
}

// recycle empties a's data, keeping its buffer for another descriptor.
func (p *Proc) recycle(a *aheadBuf) {
	if a.b != nil && cap(a.b) <= readAheadBudget && len(p.spare) < maxSpareBuffers {
		p.spare = append(p.spare, a.b[:0])
	}
	a.b, a.off = nil, 0
}
