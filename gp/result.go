package gp

import "fmt"

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

// Error makes a Result usable as an errors.Is target.
func (r Result) Error() string { return r.String() }
