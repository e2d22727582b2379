// Package teeclient is the GlobalPlatform TEE Client API for Go.
//
// It maps one to one onto libteec: a Context (TEEC_InitializeContext) opens
// Sessions (TEEC_OpenSession) with a login method, a Session invokes commands
// (TEEC_InvokeCommand) with an Operation of up to four parameters, shared
// memory is registered or allocated (TEEC_RegisterSharedMemory,
// TEEC_AllocateSharedMemory) and released, and an Operation in progress can
// be cancelled (TEEC_RequestCancellation). Failures are *Error values that
// carry the GP result code and its return origin.
//
// The package converts GP parameters into the Linux TEE subsystem's raw
// parameter form (struct tee_ioctl_param) once, and hands them to a Backend:
// the Linux /dev/teeN driver on a device, or the simulated secure world
// everywhere else. A backend therefore only moves raw parameters; the GP
// rules (temporary memrefs, partial memrefs, SHORT_BUFFER size reporting)
// live here.
package teeclient

import (
	"errors"
	"fmt"
	"syscall"
)

// Result is a GlobalPlatform result code (TEEC_Result / TEE_Result).
type Result uint32

// GlobalPlatform result codes, as in the TEE Client API specification.
const (
	Success             Result = 0x00000000
	ErrorGeneric        Result = 0xFFFF0000
	ErrorAccessDenied   Result = 0xFFFF0001
	ErrorCancel         Result = 0xFFFF0002
	ErrorAccessConflict Result = 0xFFFF0003
	ErrorExcessData     Result = 0xFFFF0004
	ErrorBadFormat      Result = 0xFFFF0005
	ErrorBadParameters  Result = 0xFFFF0006
	ErrorBadState       Result = 0xFFFF0007
	ErrorItemNotFound   Result = 0xFFFF0008
	ErrorNotImplemented Result = 0xFFFF0009
	ErrorNotSupported   Result = 0xFFFF000A
	ErrorNoData         Result = 0xFFFF000B
	ErrorOutOfMemory    Result = 0xFFFF000C
	ErrorBusy           Result = 0xFFFF000D
	ErrorCommunication  Result = 0xFFFF000E
	ErrorSecurity       Result = 0xFFFF000F
	ErrorShortBuffer    Result = 0xFFFF0010
	ErrorExternalCancel Result = 0xFFFF0011
	ErrorTargetDead     Result = 0xFFFF3024
)

var resultNames = map[Result]string{
	Success:             "TEEC_SUCCESS",
	ErrorGeneric:        "TEEC_ERROR_GENERIC",
	ErrorAccessDenied:   "TEEC_ERROR_ACCESS_DENIED",
	ErrorCancel:         "TEEC_ERROR_CANCEL",
	ErrorAccessConflict: "TEEC_ERROR_ACCESS_CONFLICT",
	ErrorExcessData:     "TEEC_ERROR_EXCESS_DATA",
	ErrorBadFormat:      "TEEC_ERROR_BAD_FORMAT",
	ErrorBadParameters:  "TEEC_ERROR_BAD_PARAMETERS",
	ErrorBadState:       "TEEC_ERROR_BAD_STATE",
	ErrorItemNotFound:   "TEEC_ERROR_ITEM_NOT_FOUND",
	ErrorNotImplemented: "TEEC_ERROR_NOT_IMPLEMENTED",
	ErrorNotSupported:   "TEEC_ERROR_NOT_SUPPORTED",
	ErrorNoData:         "TEEC_ERROR_NO_DATA",
	ErrorOutOfMemory:    "TEEC_ERROR_OUT_OF_MEMORY",
	ErrorBusy:           "TEEC_ERROR_BUSY",
	ErrorCommunication:  "TEEC_ERROR_COMMUNICATION",
	ErrorSecurity:       "TEEC_ERROR_SECURITY",
	ErrorShortBuffer:    "TEEC_ERROR_SHORT_BUFFER",
	ErrorExternalCancel: "TEE_ERROR_EXTERNAL_CANCEL",
	ErrorTargetDead:     "TEEC_ERROR_TARGET_DEAD",
}

func (r Result) String() string {
	if n, ok := resultNames[r]; ok {
		return n
	}
	return fmt.Sprintf("TEEC_Result(0x%08x)", uint32(r))
}

// Origin says which layer produced a Result (TEEC_ORIGIN_*).
type Origin uint32

// Return origins.
const (
	OriginAPI        Origin = 1
	OriginComms      Origin = 2
	OriginTEE        Origin = 3
	OriginTrustedApp Origin = 4
)

func (o Origin) String() string {
	switch o {
	case OriginAPI:
		return "TEEC_ORIGIN_API"
	case OriginComms:
		return "TEEC_ORIGIN_COMMS"
	case OriginTEE:
		return "TEEC_ORIGIN_TEE"
	case OriginTrustedApp:
		return "TEEC_ORIGIN_TRUSTED_APP"
	}
	return fmt.Sprintf("TEEC_Origin(%d)", uint32(o))
}

// Error is a failed GP call: the result code and where it came from.
// Use errors.As to inspect it, or Is with a Result:
//
//	if errors.Is(err, teeclient.ErrorTargetDead) { … }
type Error struct {
	Op     string // the API call, e.g. "InvokeCommand"
	Code   Result
	Origin Origin
	Err    error // the underlying cause, if any (an I/O or ioctl error)
}

func (e *Error) Error() string {
	s := "teeclient: "
	if e.Op != "" {
		s += e.Op + ": "
	}
	s += fmt.Sprintf("%v (origin %v)", e.Code, e.Origin)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Is lets errors.Is(err, teeclient.ErrorXxx) match on the result code.
func (e *Error) Is(target error) bool {
	r, ok := target.(Result)
	return ok && r == e.Code
}

// Error makes a Result usable as an errors.Is target.
func (r Result) Error() string { return r.String() }

// ResultForErrno is the GP result for a TEE call the driver refused with
// err, as libteec reports a failed ioctl: the kernel's ENOMEM and EINVAL
// have GP counterparts, every other failure (including one that is not an
// errno) is GENERIC. Both backends use it, so that the simulator's
// refusals read as the device's do.
func ResultForErrno(err error) Result {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return ErrorGeneric
	}
	switch errno {
	case syscall.ENOMEM:
		return ErrorOutOfMemory
	case syscall.EINVAL:
		return ErrorBadParameters
	}
	return ErrorGeneric
}
