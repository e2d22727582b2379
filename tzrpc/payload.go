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
