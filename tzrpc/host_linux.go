package tzrpc

import "syscall"

// openFlagBits pairs each protocol open flag with the host's. They are not
// all equal across Linux ports (O_DIRECTORY is 0x4000 on arm and arm64), so
// a shadow must translate rather than pass args[0] to openat.
var openFlagBits = [...]struct {
	proto int64
	host  int
}{
	{O_WRONLY, syscall.O_WRONLY},
	{O_RDWR, syscall.O_RDWR},
	{O_CREAT, syscall.O_CREAT},
	{O_EXCL, syscall.O_EXCL},
	{O_TRUNC, syscall.O_TRUNC},
	{O_APPEND, syscall.O_APPEND},
	{O_NONBLOCK, syscall.O_NONBLOCK},
	{O_DIRECTORY, syscall.O_DIRECTORY},
}

// HostOpenFlags translates validated protocol open flags to the host's. The
// result always has O_CLOEXEC: whatever the TA asked, the shadow's
// descriptors must not leak into processes it starts.
func HostOpenFlags(f int64) int {
	h := syscall.O_CLOEXEC
	for _, b := range openFlagBits {
		if f&b.proto != 0 {
			h |= b.host
		}
	}
	return h
}

// OpenFlagsFromHost translates a host F_GETFL result to the protocol's,
// keeping only what F_GETFL may report (access mode, O_APPEND, O_NONBLOCK):
// host-only bits such as O_LARGEFILE mean nothing to a TA.
func OpenFlagsFromHost(h int) int64 {
	var f int64
	switch h & syscall.O_ACCMODE {
	case syscall.O_WRONLY:
		f = O_WRONLY
	case syscall.O_RDWR:
		f = O_RDWR
	}
	if h&syscall.O_APPEND != 0 {
		f |= O_APPEND
	}
	if h&syscall.O_NONBLOCK != 0 {
		f |= O_NONBLOCK
	}
	return f
}
