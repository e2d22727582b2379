package linuxtee

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/tzmediator/tzbridge/teeclient"
)

// resultForErrno is the GP result for a failed TEE ioctl, as libteec
// reports it: the kernel's ENOMEM and EINVAL have GP counterparts, every
// other failure (including one that is not an errno) is GENERIC.
func resultForErrno(err error) teeclient.Result {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return teeclient.ErrorGeneric
	}
	switch errno {
	case syscall.ENOMEM:
		return teeclient.ErrorOutOfMemory
	case syscall.EINVAL:
		return teeclient.ErrorBadParameters
	}
	return teeclient.ErrorGeneric
}

// commsError is a transport failure as a GP error: origin COMMS, the code
// from resultForErrno, and the cause (with what failed) kept for errors.Is.
// Op stays empty for the teeclient core to name the API call.
func commsError(err error, format string, args ...any) *teeclient.Error {
	return &teeclient.Error{
		Code:   resultForErrno(err),
		Origin: teeclient.OriginComms,
		Err:    fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), err),
	}
}
