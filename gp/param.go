package gp

// Attr is the type of one raw parameter, numbered as in <linux/tee.h>
// (TEE_IOCTL_PARAM_ATTR_TYPE_*). It is also the TEE Internal Core API's
// TEE_PARAM_TYPE_* numbering, which is why a simulated TA sees the same value.
type Attr uint64

// Raw parameter types.
const (
	AttrNone         Attr = 0
	AttrValueInput   Attr = 1
	AttrValueOutput  Attr = 2
	AttrValueInout   Attr = 3
	AttrMemrefInput  Attr = 5
	AttrMemrefOutput Attr = 6
	AttrMemrefInout  Attr = 7

	// AttrTypeMask selects the type bits; the kernel rejects any other bit
	// from a client.
	AttrTypeMask Attr = 0xff
)

// IsValue reports whether a is one of the value types.
func (a Attr) IsValue() bool { return a >= AttrValueInput && a <= AttrValueInout }

// IsMemref reports whether a is one of the memory reference types.
func (a Attr) IsMemref() bool { return a >= AttrMemrefInput && a <= AttrMemrefInout }

// In reports whether data flows from the client to the TA.
func (a Attr) In() bool {
	return a == AttrValueInput || a == AttrValueInout || a == AttrMemrefInput || a == AttrMemrefInout
}

// Out reports whether data flows from the TA back to the client.
func (a Attr) Out() bool {
	return a == AttrValueOutput || a == AttrValueInout || a == AttrMemrefOutput || a == AttrMemrefInout
}

// MemrefNull is the shared memory id of a null memref (TEE_MEMREF_NULL).
const MemrefNull = ^uint64(0)

// RawParam is one parameter as a backend carries it: struct tee_ioctl_param.
// Values use A and B. Memrefs use A = offset into the shared memory,
// B = size, C = shared memory id. On return a backend updates value outputs
// (A, B) and memref sizes (B); a memref's B may then exceed its buffer, which
// is how TEEC_ERROR_SHORT_BUFFER reports the size needed.
type RawParam struct {
	Attr    Attr
	A, B, C uint64
}

// NumParams is the number of parameters of every operation.
const NumParams = 4
