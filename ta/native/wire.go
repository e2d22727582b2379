package native

import (
	"encoding/binary"
	"fmt"

	"github.com/tzmediator/tzbridge/gp"
	"github.com/tzmediator/tzbridge/securesim"
)

// The messages between the secure world and the TA program: fixed
// 128-byte records on a SOCK_SEQPACKET socket, little-endian. The C side
// is ta/c/host/host_main.c, whose comment is the reference.
const (
	msgSize = 128

	kindHello   = 1
	kindCreate  = 2
	kindDestroy = 3
	kindOpen    = 4
	kindClose   = 5
	kindInvoke  = 6
	kindShm     = 7
	kindCancel  = 8
	kindReply   = 0x80

	// nativeVersion is the version HELLO must carry.
	nativeVersion = 1

	// nullMemref marks a null memref in a parameter's offset.
	nullMemref = ^uint64(0)
)

var le = binary.LittleEndian

// msg is one record.
type msg [msgSize]byte

func (m *msg) kind() uint32    { return le.Uint32(m[0:]) }
func (m *msg) session() uint32 { return le.Uint32(m[4:]) }
func (m *msg) result() uint32  { return le.Uint32(m[16:]) }
func (m *msg) param(i int) (a, b uint64) {
	return le.Uint64(m[24+16*i:]), le.Uint64(m[32+16*i:])
}

func (m *msg) setParam(i int, a, b uint64) {
	le.PutUint64(m[24+16*i:], a)
	le.PutUint64(m[32+16*i:], b)
}

func newMsg(kind, session, cmd, types uint32) *msg {
	var m msg
	le.PutUint32(m[0:], kind)
	le.PutUint32(m[4:], session)
	le.PutUint32(m[8:], cmd)
	le.PutUint32(m[12:], types)
	return &m
}

// Info is what a TA program says of itself in HELLO: the contents of its
// user_ta_header_defines.h.
type Info struct {
	UUID      gp.UUID
	Flags     uint32 // TA_FLAGS
	StackSize uint32 // TA_STACK_SIZE
	DataSize  uint32 // TA_DATA_SIZE
}

// GP TA flags (OP-TEE's user_ta_header.h).
const (
	flagSingleInstance = 1 << 2
	flagMultiSession   = 1 << 3
	flagKeepAlive      = 1 << 4
)

// Props are the instance properties the flags ask for.
func (i Info) Props() securesim.Properties {
	return securesim.Properties{
		SingleInstance: i.Flags&flagSingleInstance != 0,
		MultiSession:   i.Flags&flagMultiSession != 0,
		KeepAlive:      i.Flags&flagKeepAlive != 0,
	}
}

func parseHello(m *msg) (Info, error) {
	if k := m.kind(); k != kindHello {
		return Info{}, fmt.Errorf("first message is kind %d, want HELLO", k)
	}
	if v := le.Uint32(m[8:]); v != nativeVersion {
		return Info{}, fmt.Errorf("program speaks version %d of the native TA protocol, want %d", v, nativeVersion)
	}
	var i Info
	i.Flags = le.Uint32(m[12:])
	copy(i.UUID[:], m[16:32])
	i.StackSize = le.Uint32(m[32:])
	i.DataSize = le.Uint32(m[36:])
	return i, nil
}

// paramTypes packs four parameter types as TEE_PARAM_TYPES does.
func paramTypes(p *securesim.Params) (uint32, error) {
	var t uint32
	for i := range p {
		a := p[i].Type
		if a != gp.AttrNone && !a.IsValue() && !a.IsMemref() {
			return 0, fmt.Errorf("parameter %d has type %d", i, a)
		}
		t |= uint32(a) << (4 * i)
	}
	return t, nil
}
