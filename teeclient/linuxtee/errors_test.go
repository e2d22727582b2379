package linuxtee

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/tzmediator/tzbridge/teeclient"
)

func TestResultForErrno(t *testing.T) {
	tests := []struct {
		err  error
		want teeclient.Result
	}{
		{syscall.ENOMEM, teeclient.ErrorOutOfMemory},
		{syscall.EINVAL, teeclient.ErrorBadParameters},
		{fmt.Errorf("wrapped: %w", syscall.ENOMEM), teeclient.ErrorOutOfMemory},
		{fmt.Errorf("wrapped: %w", syscall.EINVAL), teeclient.ErrorBadParameters},
		// Everything else the TEE core, the driver or the VFS can answer.
		{syscall.EFAULT, teeclient.ErrorGeneric},
		{syscall.EBADF, teeclient.ErrorGeneric},
		{syscall.ENOTTY, teeclient.ErrorGeneric},
		{syscall.EPERM, teeclient.ErrorGeneric},
		{syscall.EACCES, teeclient.ErrorGeneric},
		{syscall.EBUSY, teeclient.ErrorGeneric},
		{syscall.EINTR, teeclient.ErrorGeneric},
		{syscall.ENODEV, teeclient.ErrorGeneric},
		{syscall.ENOENT, teeclient.ErrorGeneric},
		{syscall.ENOSPC, teeclient.ErrorGeneric},
		{syscall.E2BIG, teeclient.ErrorGeneric},
		{syscall.EOPNOTSUPP, teeclient.ErrorGeneric},
		{syscall.Errno(524), teeclient.ErrorGeneric}, // kernel ENOTSUPP
		{syscall.EIO, teeclient.ErrorGeneric},
		{errors.New("not an errno"), teeclient.ErrorGeneric},
	}
	for _, tc := range tests {
		if got := teeclient.ResultForErrno(tc.err); got != tc.want {
			t.Errorf("ResultForErrno(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestCommsError(t *testing.T) {
	err := error(commsError(syscall.EINVAL, "%s on %s", "TEE_IOC_INVOKE", "/dev/tee0"))
	var e *teeclient.Error
	if !errors.As(err, &e) {
		t.Fatalf("%T is not a *teeclient.Error", err)
	}
	if e.Code != teeclient.ErrorBadParameters || e.Origin != teeclient.OriginComms || e.Op != "" {
		t.Errorf("got code %v origin %v op %q", e.Code, e.Origin, e.Op)
	}
	if !errors.Is(err, syscall.EINVAL) || !errors.Is(err, teeclient.ErrorBadParameters) {
		t.Errorf("%v does not match its errno and result", err)
	}
	if want := "TEE_IOC_INVOKE on /dev/tee0: invalid argument"; e.Err.Error() != want {
		t.Errorf("cause %q, want %q", e.Err, want)
	}
}
