//go:build js || wasip1

package tzrpc

import "syscall"

// These hosts lack one errno each; EIO is what an unknown errno becomes anyway.
const (
	hostETXTBSY   = syscall.EIO
	hostEHOSTDOWN = syscall.EIO
)
