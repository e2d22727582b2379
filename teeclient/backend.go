package teeclient

import (
	"context"
	"errors"

	"github.com/tzmediator/tzbridge/gp"
)

// Attr is the type of one raw parameter (TEE_IOCTL_PARAM_ATTR_TYPE_*); see
// gp.Attr.
type Attr = gp.Attr

// Raw parameter types.
const (
	AttrNone         = gp.AttrNone
	AttrValueInput   = gp.AttrValueInput
	AttrValueOutput  = gp.AttrValueOutput
	AttrValueInout   = gp.AttrValueInout
	AttrMemrefInput  = gp.AttrMemrefInput
	AttrMemrefOutput = gp.AttrMemrefOutput
	AttrMemrefInout  = gp.AttrMemrefInout
	AttrTypeMask     = gp.AttrTypeMask
)

// MemrefNull is the shared memory id of a null memref (TEE_MEMREF_NULL).
const MemrefNull = gp.MemrefNull

// RawParam is one parameter as a backend carries it: struct
// tee_ioctl_param; see gp.RawParam.
type RawParam = gp.RawParam

// NumParams is the number of parameters of every operation.
const NumParams = gp.NumParams

// OpenArgs is a session open as a backend carries it.
type OpenArgs struct {
	UUID       UUID
	Login      LoginMethod
	ClientUUID [16]byte // connection data: the group id for group logins
	CancelID   uint32
	Params     [NumParams]RawParam

	// Filled in by the backend.
	Session uint32
	Ret     Result
	Origin  Origin
}

// InvokeArgs is a command invocation as a backend carries it.
type InvokeArgs struct {
	Session  uint32
	Func     uint32
	CancelID uint32
	Params   [NumParams]RawParam

	// Filled in by the backend.
	Ret    Result
	Origin Origin
}

// SharedMem is a backend's shared memory object: memory that both worlds
// see, named by ID in memref parameters.
type SharedMem interface {
	ID() uint64
	// Bytes is the mapping in this process.
	Bytes() []byte
	// Release unregisters or frees the memory.
	Release() error
}

// Capabilities a backend reports (TEE_GEN_CAP_*).
type Capabilities uint32

// Capability bits, as in <linux/tee.h>.
const (
	CapGP         Capabilities = 1 << 0
	CapPrivileged Capabilities = 1 << 1
	CapRegMem     Capabilities = 1 << 2
	CapMemrefNull Capabilities = 1 << 3
)

// Implementation ids (TEE_IMPL_ID_*); ImplSimulator is tzbridge's own.
const (
	ImplOPTEE     uint32 = 1
	ImplAMDTEE    uint32 = 2
	ImplTSTEE     uint32 = 3
	ImplSimulator uint32 = 0x545a4200 // "TZB"
)

// Version describes the TEE behind a backend (TEE_IOC_VERSION).
type Version struct {
	ImplID   uint32
	ImplCaps uint32
	GenCaps  Capabilities
}

// ErrRegisterUnsupported is returned by Backend.RegisterSharedMemory when
// caller memory cannot be shared with the TEE; the Context then falls back
// to allocated memory and copies, as libteec does.
var ErrRegisterUnsupported = errors.New("teeclient: backend cannot register caller memory")

// Backend moves raw requests to a TEE. It is the seam between the GP API
// (this package) and a transport: the Linux TEE subsystem or the simulator.
//
// OpenSession and Invoke return a non-nil error only when the request could
// not be delivered (the transport failed); a TEE or TA failure is reported in
// Ret and Origin. Both block until the TEE answers; when ctx is done while
// the request is in progress, a backend requests cancellation (Cancel) of
// that request — where the transport allows, only once the request is sent,
// so that the cancellation cannot overtake it — rather than abandoning it.
// ctx is the only way the Context cancels a call: Operation.Cancel cancels
// it too.
type Backend interface {
	Version() Version
	OpenSession(ctx context.Context, a *OpenArgs) error
	Invoke(ctx context.Context, a *InvokeArgs) error
	Cancel(session, cancelID uint32) error
	CloseSession(session uint32) error
	AllocSharedMemory(size int) (SharedMem, error)
	// RegisterSharedMemory shares buf with the TEE in place, or returns
	// ErrRegisterUnsupported.
	RegisterSharedMemory(buf []byte) (SharedMem, error)
	Close() error
}
