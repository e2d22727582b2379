package teeclient

import "fmt"

// ParamType is a GP client parameter type (TEEC_NONE, TEEC_VALUE_*,
// TEEC_MEMREF_TEMP_*, TEEC_MEMREF_WHOLE, TEEC_MEMREF_PARTIAL_*).
type ParamType uint32

// Parameter types, numbered as in the TEE Client API specification.
const (
	None                ParamType = 0x0
	ValueInput          ParamType = 0x1
	ValueOutput         ParamType = 0x2
	ValueInout          ParamType = 0x3
	MemrefTempInput     ParamType = 0x5
	MemrefTempOutput    ParamType = 0x6
	MemrefTempInout     ParamType = 0x7
	MemrefWhole         ParamType = 0xC
	MemrefPartialInput  ParamType = 0xD
	MemrefPartialOutput ParamType = 0xE
	MemrefPartialInout  ParamType = 0xF
)

func (t ParamType) String() string {
	switch t {
	case None:
		return "TEEC_NONE"
	case ValueInput:
		return "TEEC_VALUE_INPUT"
	case ValueOutput:
		return "TEEC_VALUE_OUTPUT"
	case ValueInout:
		return "TEEC_VALUE_INOUT"
	case MemrefTempInput:
		return "TEEC_MEMREF_TEMP_INPUT"
	case MemrefTempOutput:
		return "TEEC_MEMREF_TEMP_OUTPUT"
	case MemrefTempInout:
		return "TEEC_MEMREF_TEMP_INOUT"
	case MemrefWhole:
		return "TEEC_MEMREF_WHOLE"
	case MemrefPartialInput:
		return "TEEC_MEMREF_PARTIAL_INPUT"
	case MemrefPartialOutput:
		return "TEEC_MEMREF_PARTIAL_OUTPUT"
	case MemrefPartialInout:
		return "TEEC_MEMREF_PARTIAL_INOUT"
	}
	return fmt.Sprintf("TEEC_PARAM_TYPE(0x%x)", uint32(t))
}

// Parameter is one of an Operation's four parameters (TEEC_Parameter).
// Which fields matter depends on Type:
//
//   - values: A and B (TEEC_Value);
//   - temporary memrefs: Buffer and Size (TEEC_TempMemoryReference); a nil
//     Buffer is a null memref;
//   - registered memrefs: Parent, Offset and Size (TEEC_RegisteredMemoryReference);
//     for MemrefWhole, Offset is ignored and Size is set from the parent.
//
// After the call, output values are in A and B, and a memref's Size holds
// the number of bytes the TA wrote — or, when the call failed with
// ErrorShortBuffer, the number of bytes it needs, which may exceed the
// buffer.
type Parameter struct {
	Type   ParamType
	A, B   uint32
	Buffer []byte
	Parent *SharedMemory
	Offset int
	Size   int
}

// Value returns a value parameter.
func Value(t ParamType, a, b uint32) Parameter { return Parameter{Type: t, A: a, B: b} }

// TempMemref returns a temporary memory reference covering all of buf.
func TempMemref(t ParamType, buf []byte) Parameter {
	return Parameter{Type: t, Buffer: buf, Size: len(buf)}
}

// WholeMemref returns a reference to all of a registered block; its
// direction is the block's flags.
func WholeMemref(shm *SharedMemory) Parameter {
	return Parameter{Type: MemrefWhole, Parent: shm}
}

// PartialMemref returns a reference to size bytes at offset in a
// registered block.
func PartialMemref(t ParamType, shm *SharedMemory, offset, size int) Parameter {
	return Parameter{Type: t, Parent: shm, Offset: offset, Size: size}
}
