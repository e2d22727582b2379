//go:build !js && !wasip1

package tzrpc

import "syscall"

const (
	hostETXTBSY   = syscall.ETXTBSY
	hostEHOSTDOWN = syscall.EHOSTDOWN
)
