package tzrpc

import (
	"encoding/binary"
	"errors"
	"fmt"
)

var le = binary.LittleEndian

// Errors a header decoder or encoder reports, wrapped with context; test
// with errors.Is.
var (
	ErrShortMailbox = errors.New("mailbox too small")
	ErrBadMagic     = errors.New("bad magic")
	ErrBadVersion   = errors.New("unsupported protocol version")
	ErrUnknownOp    = errors.New("unknown op")
	ErrPayloadLen   = errors.New("payload length does not fit")
	ErrReserved     = errors.New("reserved field not zero")
	ErrBadErrno     = errors.New("errno out of range")
	ErrBadRet       = errors.New("bad return value")
)

// Request is a decoded request header. After DecodeRequest, Payload aliases
// the mailbox; see Detach.
type Request struct {
	Op      Op
	Seq     uint32
	Args    [6]int64
	Payload []byte
}

// Response is a decoded response header. After DecodeResponse, Payload
// aliases the mailbox; see Detach.
type Response struct {
	Op      Op
	Seq     uint32
	Ret     int64
	Errno   Errno
	Aux     [4]int64
	Payload []byte
}

// DecodeError reports a header that could not be decoded. Op and Seq are the
// raw values read (zero if the mailbox was too short), so a shadow can still
// answer the request with Errno().
type DecodeError struct {
	Header string // "request" or "response"
	Kind   error  // one of the Err* sentinels
	Value  uint64 // the offending field's raw value
	Op     Op
	Seq    uint32
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("tzrpc: decode %s header (op %v, seq %d): %v (0x%x)", e.Header, e.Op, e.Seq, e.Kind, e.Value)
}

func (e *DecodeError) Unwrap() error { return e.Kind }

// Errno is what the shadow answers a request it cannot decode with: ENOSYS
// for something a newer TA library may legitimately send (version, op),
// EINVAL for garbage. A response the TA cannot decode maps to EIO.
func (e *DecodeError) Errno() Errno {
	switch {
	case e.Header == "response":
		return EIO
	case e.Kind == ErrBadVersion || e.Kind == ErrUnknownOp:
		return ENOSYS
	default:
		return EINVAL
	}
}

// PayloadCap is how many payload bytes the mailbox holds (0 if it cannot
// even hold a header).
func PayloadCap(mailbox []byte) int {
	if len(mailbox) < HeaderSize {
		return 0
	}
	return len(mailbox) - HeaderSize
}

// payloadSlice returns the plen bytes after the header, capped so that an
// append by the caller can never spill into the rest of the mailbox.
func payloadSlice(mailbox []byte, plen uint32) []byte {
	end := HeaderSize + int(plen)
	return mailbox[HeaderSize:end:end]
}

// DecodeRequest decodes the request header at the start of mailbox. The
// header is copied once before any field is looked at, so a TA rewriting the
// mailbox concurrently cannot make a checked field change afterwards.
func DecodeRequest(mailbox []byte) (Request, error) {
	if len(mailbox) < HeaderSize {
		return Request{}, &DecodeError{Header: "request", Kind: ErrShortMailbox, Value: uint64(len(mailbox))}
	}
	var h [HeaderSize]byte
	copy(h[:], mailbox)

	magic, version := le.Uint32(h[0:]), le.Uint16(h[4:])
	op, seq, plen := Op(le.Uint16(h[6:])), le.Uint32(h[8:]), le.Uint32(h[12:])
	fail := func(kind error, v uint64) (Request, error) {
		return Request{}, &DecodeError{Header: "request", Kind: kind, Value: v, Op: op, Seq: seq}
	}
	switch {
	case magic != MagicRequest:
		return fail(ErrBadMagic, uint64(magic))
	case version != Version:
		return fail(ErrBadVersion, uint64(version))
	case !op.Valid():
		return fail(ErrUnknownOp, uint64(op))
	case uint64(plen) > uint64(len(mailbox)-HeaderSize):
		return fail(ErrPayloadLen, uint64(plen))
	}
	r := Request{Op: op, Seq: seq, Payload: payloadSlice(mailbox, plen)}
	for i := range r.Args {
		r.Args[i] = int64(le.Uint64(h[16+8*i:]))
	}
	return r, nil
}

// EncodeRequestHeader writes a request header. The caller has already put
// payloadLen bytes of payload at mailbox[HeaderSize:]; the header goes last
// so that a complete header always describes a complete payload.
func EncodeRequestHeader(mailbox []byte, op Op, seq uint32, args [6]int64, payloadLen int) error {
	if len(mailbox) < HeaderSize {
		return fmt.Errorf("tzrpc: encode %v request: %w (%d bytes)", op, ErrShortMailbox, len(mailbox))
	}
	if !op.Valid() {
		return fmt.Errorf("tzrpc: encode request: %w %d", ErrUnknownOp, uint16(op))
	}
	if payloadLen < 0 || payloadLen > len(mailbox)-HeaderSize {
		return fmt.Errorf("tzrpc: encode %v request: %w: %d bytes, capacity %d", op, ErrPayloadLen, payloadLen, PayloadCap(mailbox))
	}
	h := mailbox[:HeaderSize:HeaderSize]
	le.PutUint32(h[0:], MagicRequest)
	le.PutUint16(h[4:], Version)
	le.PutUint16(h[6:], uint16(op))
	le.PutUint32(h[8:], seq)
	le.PutUint32(h[12:], uint32(payloadLen))
	for i, a := range args {
		le.PutUint64(h[16+8*i:], uint64(a))
	}
	return nil
}

// DecodeResponse decodes the response header at the start of mailbox,
// copying it once first (the shadow is untrusted and may keep writing). It
// checks the header's own invariants; CheckResponse checks it against the
// request.
func DecodeResponse(mailbox []byte) (Response, error) {
	if len(mailbox) < HeaderSize {
		return Response{}, &DecodeError{Header: "response", Kind: ErrShortMailbox, Value: uint64(len(mailbox))}
	}
	var h [HeaderSize]byte
	copy(h[:], mailbox)

	magic, version := le.Uint32(h[0:]), le.Uint16(h[4:])
	op, seq, plen := Op(le.Uint16(h[6:])), le.Uint32(h[8:]), le.Uint32(h[12:])
	ret, errno, reserved := int64(le.Uint64(h[16:])), Errno(le.Uint32(h[24:])), le.Uint32(h[28:])
	fail := func(kind error, v uint64) (Response, error) {
		return Response{}, &DecodeError{Header: "response", Kind: kind, Value: v, Op: op, Seq: seq}
	}
	switch {
	case magic != MagicResponse:
		return fail(ErrBadMagic, uint64(magic))
	case version != Version:
		return fail(ErrBadVersion, uint64(version))
	case reserved != 0:
		return fail(ErrReserved, uint64(reserved))
	case errno != 0 && !errno.Valid():
		return fail(ErrBadErrno, uint64(errno))
	case ret < 0 || (errno != 0 && ret != 0):
		return fail(ErrBadRet, uint64(ret))
	case uint64(plen) > uint64(len(mailbox)-HeaderSize):
		return fail(ErrPayloadLen, uint64(plen))
	case errno != 0 && plen != 0:
		// A failed call produced no data; a payload here could only be
		// something the TA would mistake for a result.
		return fail(ErrPayloadLen, uint64(plen))
	}
	r := Response{Op: op, Seq: seq, Ret: ret, Errno: errno, Payload: payloadSlice(mailbox, plen)}
	for i := range r.Aux {
		r.Aux[i] = int64(le.Uint64(h[32+8*i:]))
	}
	return r, nil
}

// EncodeResponseHeader writes the header for r (r.Payload is ignored: the
// caller has already put payloadLen bytes at mailbox[HeaderSize:]). It
// refuses a response DecodeResponse would reject. The op is not checked, so
// that a shadow can echo an unknown op when answering ENOSYS.
func EncodeResponseHeader(mailbox []byte, r *Response, payloadLen int) error {
	if len(mailbox) < HeaderSize {
		return fmt.Errorf("tzrpc: encode %v response: %w (%d bytes)", r.Op, ErrShortMailbox, len(mailbox))
	}
	switch {
	case payloadLen < 0 || payloadLen > len(mailbox)-HeaderSize:
		return fmt.Errorf("tzrpc: encode %v response: %w: %d bytes, capacity %d", r.Op, ErrPayloadLen, payloadLen, PayloadCap(mailbox))
	case r.Errno != 0 && !r.Errno.Valid():
		return fmt.Errorf("tzrpc: encode %v response: %w: %d", r.Op, ErrBadErrno, uint32(r.Errno))
	case r.Ret < 0:
		return fmt.Errorf("tzrpc: encode %v response: %w: negative ret %d (failures go in Errno)", r.Op, ErrBadRet, r.Ret)
	case r.Errno != 0 && r.Ret != 0:
		return fmt.Errorf("tzrpc: encode %v response: %w: ret %d with errno %v", r.Op, ErrBadRet, r.Ret, r.Errno)
	case r.Errno != 0 && payloadLen != 0:
		return fmt.Errorf("tzrpc: encode %v response: %w: %d payload bytes with errno %v", r.Op, ErrPayloadLen, payloadLen, r.Errno)
	}
	h := mailbox[:HeaderSize:HeaderSize]
	le.PutUint32(h[0:], MagicResponse)
	le.PutUint16(h[4:], Version)
	le.PutUint16(h[6:], uint16(r.Op))
	le.PutUint32(h[8:], r.Seq)
	le.PutUint32(h[12:], uint32(payloadLen))
	le.PutUint64(h[16:], uint64(r.Ret))
	le.PutUint32(h[24:], uint32(r.Errno))
	le.PutUint32(h[28:], 0)
	for i, a := range r.Aux {
		le.PutUint64(h[32+8*i:], uint64(a))
	}
	return nil
}

// Detach copies the payload into buf (reusing its capacity) and points
// r.Payload at the copy. Validate inspects the payload and the shadow then
// uses it; if both read the mailbox, the TA could change a path or address
// in between. Detach before Validate for any op whose payload has structure
// (paths, sockaddrs, POLL); plain WRITE/SEND data need not be copied.
// It returns the buffer for reuse.
func (r *Request) Detach(buf []byte) []byte {
	buf = append(buf[:0], r.Payload...)
	r.Payload = buf
	return buf
}

// Detach is Request.Detach for the TA side: copy before CheckResponse so that
// the shadow cannot change a checked address, POLL array or length.
func (r *Response) Detach(buf []byte) []byte {
	buf = append(buf[:0], r.Payload...)
	r.Payload = buf
	return buf
}
