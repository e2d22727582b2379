package tzrpc

// PollFd is one POLL entry: i32 fd, u16 events, u16 revents.
type PollFd struct {
	Fd      int32
	Events  uint16
	Revents uint16
}

// GetPollFd reads entry i of a POLL payload. Like encoding/binary, it
// panics if the payload is too short: callers index within nfds after
// Validate or CheckResponse has checked the length.
func GetPollFd(payload []byte, i int) PollFd {
	b := payload[i*PollFdSize : i*PollFdSize+PollFdSize]
	return PollFd{Fd: int32(le.Uint32(b)), Events: le.Uint16(b[4:]), Revents: le.Uint16(b[6:])}
}

// PutPollFd writes entry i of a POLL payload.
func PutPollFd(payload []byte, i int, p PollFd) {
	b := payload[i*PollFdSize : i*PollFdSize+PollFdSize]
	le.PutUint32(b, uint32(p.Fd))
	le.PutUint16(b[4:], p.Events)
	le.PutUint16(b[6:], p.Revents)
}

// AppendPollFd appends one encoded POLL entry.
func AppendPollFd(b []byte, p PollFd) []byte {
	b = le.AppendUint32(b, uint32(p.Fd))
	b = le.AppendUint16(b, p.Events)
	return le.AppendUint16(b, p.Revents)
}

// ReadAhead is the header of one POLL read-ahead record: u32 entry index,
// u16 errno, u16 source address length, u32 data length; the source
// address (a sockaddr, for datagram sockets only) and the data follow. A
// record carries data (and errno 0; for a datagram, the whole datagram,
// possibly empty, and its sender) or an errno (and nothing else): what a
// READ (a RECVFROM, for a datagram socket) of the entry's descriptor,
// made by the shadow as soon as poll reported it readable, returned.
type ReadAhead struct {
	Index   uint32
	Errno   Errno
	AddrLen uint16
	Len     uint32
}

// PutReadAhead writes a record header at the start of b, which must have
// room for ReadAheadHeaderSize bytes.
func PutReadAhead(b []byte, r ReadAhead) {
	le.PutUint32(b, r.Index)
	le.PutUint16(b[4:], uint16(r.Errno))
	le.PutUint16(b[6:], r.AddrLen)
	le.PutUint32(b[8:], r.Len)
}

// NextReadAhead splits the first record off b: its header, its source
// address (empty if none), its data, and what follows. ok is false when b
// is too short for the record.
func NextReadAhead(b []byte) (r ReadAhead, addr, data, rest []byte, ok bool) {
	if len(b) < ReadAheadHeaderSize {
		return ReadAhead{}, nil, nil, b, false
	}
	r = ReadAhead{Index: le.Uint32(b), Errno: Errno(le.Uint16(b[4:])), AddrLen: le.Uint16(b[6:]), Len: le.Uint32(b[8:])}
	b = b[ReadAheadHeaderSize:]
	if uint64(r.AddrLen)+uint64(r.Len) > uint64(len(b)) {
		return ReadAhead{}, nil, nil, b, false
	}
	addr, b = b[:r.AddrLen:r.AddrLen], b[r.AddrLen:]
	return r, addr, b[:r.Len:r.Len], b[r.Len:], true
}

// split cuts b at n, clamping n into range so that helpers used on an
// unvalidated message return garbage rather than panic.
func split(b []byte, n int64) ([]byte, []byte) {
	n = max(0, min(n, int64(len(b))))
	return b[:n:n], b[n:]
}

// RenamePaths splits a RENAME payload into its old and new path (args[0] is
// the old path's length). Meaningful after Validate.
func (r *Request) RenamePaths() (oldPath, newPath []byte) { return split(r.Payload, r.Args[0]) }

// SendtoParts splits a SENDTO payload into the encoded destination (empty
// for none) and the data. Meaningful after Validate.
func (r *Request) SendtoParts() (addr, data []byte) { return split(r.Payload, r.Args[2]) }

// RecvfromParts splits a RECVFROM result into the encoded source (empty for
// none) and the data. Meaningful after CheckResponse.
func (r *Response) RecvfromParts() (addr, data []byte) { return split(r.Payload, r.Aux[0]) }
