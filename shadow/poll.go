package shadow

import (
	"context"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/tzrpc"
)

// pollEvents pairs tzrpc's poll bits with the host's.
var pollEvents = [...]struct {
	ta   uint16
	host int16
}{
	{tzrpc.POLLIN, unix.POLLIN},
	{tzrpc.POLLPRI, unix.POLLPRI},
	{tzrpc.POLLOUT, unix.POLLOUT},
	{tzrpc.POLLERR, unix.POLLERR},
	{tzrpc.POLLHUP, unix.POLLHUP},
	{tzrpc.POLLNVAL, unix.POLLNVAL},
}

func hostEvents(ev uint16) int16 {
	var h int16
	for _, p := range pollEvents {
		if ev&p.ta != 0 {
			h |= p.host
		}
	}
	return h
}

func taEvents(h int16) uint16 {
	var ev uint16
	for _, p := range pollEvents {
		if h&p.host != 0 {
			ev |= p.ta
		}
	}
	return ev
}

// Markers in pollIdx for entries that are not polled.
const (
	pollIgnored = -1 // negative fd: poll(2) ignores the entry
	pollInvalid = -2 // unknown descriptor: POLLNVAL
)

// poll serves POLL. in holds the (validated, private) entries; the result
// entries, with revents, go to out, followed by up to budget bytes read
// ahead (see readAhead).
func (s *Shadow) poll(ctx context.Context, nfds, timeout int, budget int64, in, out []byte) result {
	pfds, idx, revs := s.pollFds[:0], s.pollIdx[:0], s.pollRev[:0]
	for i := range nfds {
		p := tzrpc.GetPollFd(in, i)
		slot := int32(pollIgnored)
		if p.Fd >= 0 {
			if d, e := s.fds.get(int64(p.Fd)); e == 0 {
				slot = int32(len(pfds))
				pfds = append(pfds, unix.PollFd{Fd: int32(d.fd), Events: hostEvents(p.Events)})
			} else {
				slot = pollInvalid
				timeout = 0 // POSIX: POLLNVAL is reported at once
			}
		}
		idx = append(idx, slot)
	}
	if timeout == 0 {
		for {
			_, err := unix.Poll(pfds, 0)
			if err == nil {
				break
			}
			if err != unix.EINTR {
				return fail(errno(err))
			}
		}
	} else {
		// block puts its wake-up descriptor in the extra entry.
		pfds = append(pfds, unix.PollFd{})
		_, e := s.block(ctx, pfds, timeout)
		pfds = pfds[:len(pfds)-1]
		if e != 0 {
			return fail(e)
		}
	}
	count := 0
	for i := range nfds {
		p := tzrpc.GetPollFd(in, i)
		switch slot := idx[i]; {
		case slot == pollInvalid:
			p.Revents = tzrpc.POLLNVAL
		case slot >= 0:
			// Only what was asked, plus what poll(2) always reports.
			p.Revents = taEvents(pfds[slot].Revents) & (p.Events | tzrpc.POLLERR | tzrpc.POLLHUP | tzrpc.POLLNVAL)
		}
		if p.Revents != 0 {
			count++
		}
		tzrpc.PutPollFd(out, i, p)
		// Kept for readAhead: out is the mailbox, which the TA may be
		// rewriting.
		revs = append(revs, p.Revents)
	}
	plen := nfds * tzrpc.PollFdSize
	var records int
	if budget > 0 && count > 0 {
		records, plen = s.readAhead(in, revs, out, budget, plen)
	}
	s.pollFds, s.pollIdx, s.pollRev = pfds[:0], idx[:0], revs[:0]
	return result{ret: int64(count), aux0: int64(records), plen: plen}
}

// readAhead reads, for each entry of in that asked for POLLIN and is
// readable (revents, by entry), what a READ of it would return now (a
// RECVFROM, for a datagram socket), and appends it to out (from plen) as
// a record, within budget bytes of data in all. A TA keeps what it gets
// and serves its next reads of that descriptor from it, so that a poll
// followed by a read costs one RESUME rather than two. It returns the
// number of records and the payload length.
//
// Only FIFOs open for reading, stream sockets that are not listening, and
// datagram sockets are read ahead: for them a read's result is the bytes
// (and for a datagram its sender) and nothing else. Entries reporting POLLERR or POLLHUP are left for the TA
// to read itself (end of file and errors are then reported as ever); an
// error the read meets all the same (a reset between poll and read) is
// recorded, so that it is not lost but returned by the TA's next read.
func (s *Shadow) readAhead(in []byte, revents []uint16, out []byte, budget int64, plen int) (int, int) {
	records := 0
	// Descriptors whose read met an error: the protocol wants nothing
	// after an errno record for the same descriptor (a datagram socket
	// polled twice may hold a datagram behind its error: it waits).
	var failed []int64
	for i, rev := range revents {
		if budget <= 0 || len(out)-plen <= tzrpc.ReadAheadHeaderSize {
			break
		}
		if rev&tzrpc.POLLIN == 0 || rev&(tzrpc.POLLERR|tzrpc.POLLHUP|tzrpc.POLLNVAL) != 0 {
			continue
		}
		fd := int64(tzrpc.GetPollFd(in, i).Fd)
		d, e := s.fds.get(fd)
		if e != 0 || !readsAhead(d) || slices.Contains(failed, fd) {
			continue
		}
		body := out[plen+tzrpc.ReadAheadHeaderSize:]
		rec := tzrpc.ReadAhead{Index: uint32(i)}
		var got bool
		if d.socket && d.sockType == tzrpc.SOCK_DGRAM {
			rec, got = s.readAheadDatagram(d, rec, body, budget)
		} else {
			rec, got = readAheadStream(d, rec, body[:min(int64(len(body)), budget)])
		}
		if !got {
			continue
		}
		if rec.Errno != 0 {
			failed = append(failed, fd)
		}
		tzrpc.PutReadAhead(out[plen:], rec)
		plen += tzrpc.ReadAheadHeaderSize + int(rec.AddrLen) + int(rec.Len)
		budget -= int64(rec.Len)
		records++
		if rec.Len > 0 {
			s.bytesIn.Add(uint64(rec.Len))
			s.endpointOf(fd).in.Add(uint64(rec.Len))
		}
	}
	return records, plen
}

// readAheadStream reads what d holds into buf. got is false when there is
// nothing to record: no bytes after all, or end of file, which the TA's
// own read will meet again.
func readAheadStream(d *desc, rec tzrpc.ReadAhead, buf []byte) (tzrpc.ReadAhead, bool) {
	n, err := unix.Read(d.fd, buf)
	switch {
	case err != nil:
		return readAheadError(rec, err)
	case n == 0:
		return rec, false
	}
	rec.Len = uint32(n)
	return rec, true
}

// readAheadError is what a read ahead that failed with err records:
// nothing for EAGAIN or EINTR (nothing was there after all); else the
// error, which the read consumed and the TA's next read is to return.
func readAheadError(rec tzrpc.ReadAhead, err error) (tzrpc.ReadAhead, bool) {
	if err == unix.EAGAIN || err == unix.EINTR {
		return rec, false
	}
	rec.Errno = errno(err)
	return rec, true
}

// maxInetDatagram is the largest UDP payload over IPv4 or IPv6 (without
// jumbograms): room for it means no datagram can be cut.
const maxInetDatagram = 65535

// readAheadDatagram receives one datagram of d, whole, with its sender,
// into buf (the sender's sockaddr, then the data), if it fits within budget;
// a datagram that does not fit is left for the TA's own RECVFROM, since
// receiving part of it would lose the rest.
func (s *Shadow) readAheadDatagram(d *desc, rec tzrpc.ReadAhead, buf []byte, budget int64) (tzrpc.ReadAhead, bool) {
	room := min(int64(len(buf)-tzrpc.MaxSockaddrLen), budget)
	if room < 0 {
		return rec, false
	}
	if d.domain == tzrpc.AF_UNIX || room < maxInetDatagram {
		size, _, err := unix.Recvfrom(d.fd, nil, unix.MSG_PEEK|unix.MSG_TRUNC|unix.MSG_DONTWAIT)
		if err != nil {
			// A queued error (ICMP for an earlier send) is consumed
			// by the peek too.
			return readAheadError(rec, err)
		}
		if int64(size) > room {
			return rec, false
		}
	}
	// Data lands behind room for the longest address, then moves down
	// behind the actual one, as in recvfrom.
	data := buf[tzrpc.MaxSockaddrLen : tzrpc.MaxSockaddrLen+int(room)]
	n, from, err := unix.Recvfrom(d.fd, data, unix.MSG_DONTWAIT)
	if err != nil {
		return readAheadError(rec, err)
	}
	alen := putSockaddr(buf, s.taSockaddr(from))
	copy(buf[alen:], data[:n])
	rec.AddrLen, rec.Len = uint16(alen), uint32(n)
	return rec, true
}

// readsAhead says whether a read of d returns bytes (and a sender) and
// nothing else.
func readsAhead(d *desc) bool {
	if d.socket {
		return !d.listening
	}
	return d.fifo && d.access != tzrpc.O_WRONLY
}
