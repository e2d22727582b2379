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

	"github.com/tzmediator/tzbridge/gp"
)

// Result is a GlobalPlatform result code (TEEC_Result); see gp.Result.
type Result = gp.Result

// GlobalPlatform result codes, as in the TEE Client API specification.
const (
	Success             = gp.Success
	ErrorGeneric        = gp.ErrorGeneric
	ErrorAccessDenied   = gp.ErrorAccessDenied
	ErrorCancel         = gp.ErrorCancel
	ErrorAccessConflict = gp.ErrorAccessConflict
	ErrorExcessData     = gp.ErrorExcessData
	ErrorBadFormat      = gp.ErrorBadFormat
	ErrorBadParameters  = gp.ErrorBadParameters
	ErrorBadState       = gp.ErrorBadState
	ErrorItemNotFound   = gp.ErrorItemNotFound
	ErrorNotImplemented = gp.ErrorNotImplemented
	ErrorNotSupported   = gp.ErrorNotSupported
	ErrorNoData         = gp.ErrorNoData
	ErrorOutOfMemory    = gp.ErrorOutOfMemory
	ErrorBusy           = gp.ErrorBusy
	ErrorCommunication  = gp.ErrorCommunication
	ErrorSecurity       = gp.ErrorSecurity
	ErrorShortBuffer    = gp.ErrorShortBuffer
	ErrorExternalCancel = gp.ErrorExternalCancel
	ErrorTargetDead     = gp.ErrorTargetDead
)

// Origin says which layer produced a Result (TEEC_ORIGIN_*); see gp.Origin.
type Origin = gp.Origin

// Return origins.
const (
	OriginAPI        = gp.OriginAPI
	OriginComms      = gp.OriginComms
	OriginTEE        = gp.OriginTEE
	OriginTrustedApp = gp.OriginTrustedApp
)

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
