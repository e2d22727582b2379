// Package simwire is the wire format between teeclient's simulator backend
// and the simulated secure world (securesim): one fixed-layout,
// little-endian message per SOCK_SEQPACKET datagram, mirroring the Linux TEE
// ioctls so that the simulator is driven exactly like /dev/teeN.
//
// The secure world does not trust the normal world, so Unmarshal checks
// every length and field it can before anything acts on a message.
package simwire

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/tzmediator/tzbridge/gp"
)

// Kind is a message type. A reply has ReplyBit set on its request's kind.
type Kind uint32

// Message kinds.
const (
	KindShmAdd    Kind = 1 // register the memfd passed with SCM_RIGHTS; reply carries its id
	KindShmRemove Kind = 2
	KindOpen      Kind = 3
	KindInvoke    Kind = 4
	KindCancel    Kind = 5
	KindClose     Kind = 6
	KindDoorbell  Kind = 7 // register the doorbell memfd (and optionally its ring, an eventfd) passed with SCM_RIGHTS; reply carries its id

	ReplyBit Kind = 0x80
)

func (k Kind) String() string {
	names := [...]string{1: "shm-add", 2: "shm-remove", 3: "open", 4: "invoke", 5: "cancel", 6: "close", 7: "doorbell"}
	base := k &^ ReplyBit
	if base >= 1 && int(base) < len(names) {
		if k&ReplyBit != 0 {
			return names[base] + "-reply"
		}
		return names[base]
	}
	return fmt.Sprintf("kind(%d)", uint32(k))
}

const (
	headerSize = 16 // kind, tag, status, reserved
	paramSize  = 32
	paramsSize = gp.NumParams * paramSize
)

// Size of each message body after the header, by base kind. Requests and
// replies of one kind share a layout; unused fields are zero.
var bodySize = [...]int{
	KindShmAdd:    16,                             // size, id
	KindShmRemove: 8,                              // id
	KindOpen:      16 + 4 + 16 + 4*4 + paramsSize, // uuid, login, client uuid, cancel id, session, ret, origin, params
	KindInvoke:    4*5 + 4 + paramsSize,           // session, func, cancel id, ret, origin, pad, params
	KindCancel:    8,                              // session, cancel id
	KindClose:     4,                              // session
	KindDoorbell:  16,                             // size, id (in ShmID)
}

// MaxSize is the largest message; receive buffers need no more.
const MaxSize = headerSize + 16 + 4 + 16 + 4*4 + paramsSize

// Msg is any message; which fields are carried depends on Kind.
type Msg struct {
	Kind   Kind
	Tag    uint32 // pairs a reply with its request
	Status uint32 // replies: 0, or an errno for a request the secure world refused outright

	Size, ShmID uint64 // shm-add, shm-remove

	UUID       gp.UUID
	Login      gp.LoginMethod
	ClientUUID [16]byte
	Session    uint32
	Func       uint32
	CancelID   uint32
	Ret        gp.Result
	Origin     gp.Origin
	Params     [gp.NumParams]gp.RawParam
}

// ErrMalformed is wrapped by every Unmarshal error.
var ErrMalformed = errors.New("simwire: malformed message")

// Append encodes m onto b.
func (m *Msg) Append(b []byte) []byte {
	le := binary.LittleEndian
	b = le.AppendUint32(b, uint32(m.Kind))
	b = le.AppendUint32(b, m.Tag)
	b = le.AppendUint32(b, m.Status)
	b = le.AppendUint32(b, 0)
	switch m.Kind &^ ReplyBit {
	case KindShmAdd, KindDoorbell:
		b = le.AppendUint64(b, m.Size)
		b = le.AppendUint64(b, m.ShmID)
	case KindShmRemove:
		b = le.AppendUint64(b, m.ShmID)
	case KindOpen:
		b = append(b, m.UUID[:]...)
		b = le.AppendUint32(b, uint32(m.Login))
		b = append(b, m.ClientUUID[:]...)
		b = le.AppendUint32(b, m.CancelID)
		b = le.AppendUint32(b, m.Session)
		b = le.AppendUint32(b, uint32(m.Ret))
		b = le.AppendUint32(b, uint32(m.Origin))
		b = appendParams(b, &m.Params)
	case KindInvoke:
		b = le.AppendUint32(b, m.Session)
		b = le.AppendUint32(b, m.Func)
		b = le.AppendUint32(b, m.CancelID)
		b = le.AppendUint32(b, uint32(m.Ret))
		b = le.AppendUint32(b, uint32(m.Origin))
		b = le.AppendUint32(b, 0)
		b = appendParams(b, &m.Params)
	case KindCancel:
		b = le.AppendUint32(b, m.Session)
		b = le.AppendUint32(b, m.CancelID)
	case KindClose:
		b = le.AppendUint32(b, m.Session)
	}
	return b
}

func appendParams(b []byte, ps *[gp.NumParams]gp.RawParam) []byte {
	le := binary.LittleEndian
	for _, p := range ps {
		b = le.AppendUint64(b, uint64(p.Attr))
		b = le.AppendUint64(b, p.A)
		b = le.AppendUint64(b, p.B)
		b = le.AppendUint64(b, p.C)
	}
	return b
}

// Unmarshal decodes one message. It checks the kind, the exact length, the
// reserved fields and the parameter attributes; what the fields mean
// (does the session exist, does the memref fit) is the receiver's job.
func Unmarshal(b []byte) (Msg, error) {
	var m Msg
	if len(b) < headerSize {
		return m, fmt.Errorf("%w: %d bytes, shorter than the header", ErrMalformed, len(b))
	}
	le := binary.LittleEndian
	m.Kind = Kind(le.Uint32(b))
	m.Tag = le.Uint32(b[4:])
	m.Status = le.Uint32(b[8:])
	if le.Uint32(b[12:]) != 0 {
		return m, fmt.Errorf("%w: reserved header field set", ErrMalformed)
	}
	base := m.Kind &^ ReplyBit
	if m.Kind&^(ReplyBit|0x7f) != 0 || base < KindShmAdd || base > KindDoorbell {
		return m, fmt.Errorf("%w: unknown kind %d", ErrMalformed, uint32(m.Kind))
	}
	if m.Kind&ReplyBit == 0 && m.Status != 0 {
		return m, fmt.Errorf("%w: status set on a request", ErrMalformed)
	}
	body := b[headerSize:]
	if len(body) != bodySize[base] {
		return m, fmt.Errorf("%w: %v body is %d bytes, want %d", ErrMalformed, m.Kind, len(body), bodySize[base])
	}
	var err error
	switch base {
	case KindShmAdd, KindDoorbell:
		m.Size = le.Uint64(body)
		m.ShmID = le.Uint64(body[8:])
	case KindShmRemove:
		m.ShmID = le.Uint64(body)
	case KindOpen:
		copy(m.UUID[:], body)
		m.Login = gp.LoginMethod(le.Uint32(body[16:]))
		copy(m.ClientUUID[:], body[20:36])
		m.CancelID = le.Uint32(body[36:])
		m.Session = le.Uint32(body[40:])
		m.Ret = gp.Result(le.Uint32(body[44:]))
		m.Origin = gp.Origin(le.Uint32(body[48:]))
		err = parseParams(body[52:], &m.Params)
	case KindInvoke:
		m.Session = le.Uint32(body)
		m.Func = le.Uint32(body[4:])
		m.CancelID = le.Uint32(body[8:])
		m.Ret = gp.Result(le.Uint32(body[12:]))
		m.Origin = gp.Origin(le.Uint32(body[16:]))
		if le.Uint32(body[20:]) != 0 {
			return m, fmt.Errorf("%w: reserved invoke field set", ErrMalformed)
		}
		err = parseParams(body[24:], &m.Params)
	case KindCancel:
		m.Session = le.Uint32(body)
		m.CancelID = le.Uint32(body[4:])
	case KindClose:
		m.Session = le.Uint32(body)
	}
	return m, err
}

func parseParams(b []byte, ps *[gp.NumParams]gp.RawParam) error {
	le := binary.LittleEndian
	for i := range ps {
		p := b[i*paramSize:]
		attr := gp.Attr(le.Uint64(p))
		if attr != gp.AttrNone && !attr.IsValue() && !attr.IsMemref() {
			return fmt.Errorf("%w: param %d has attribute 0x%x", ErrMalformed, i, uint64(attr))
		}
		ps[i] = gp.RawParam{Attr: attr, A: le.Uint64(p[8:]), B: le.Uint64(p[16:]), C: le.Uint64(p[24:])}
	}
	return nil
}
