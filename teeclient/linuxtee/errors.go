package linuxtee

import (
	"fmt"

	"github.com/tzmediator/tzbridge/teeclient"
)

// commsError is a transport failure as a GP error: origin COMMS, the code
// from teeclient.ResultForErrno, and the cause (with what failed) kept for errors.Is.
// Op stays empty for the teeclient core to name the API call.
func commsError(err error, format string, args ...any) *teeclient.Error {
	return &teeclient.Error{
		Code:   teeclient.ResultForErrno(err),
		Origin: teeclient.OriginComms,
		Err:    fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), err),
	}
}
