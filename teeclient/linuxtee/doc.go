// Package linuxtee is the teeclient.Backend for the Linux TEE subsystem: it
// carries raw GlobalPlatform requests to a TEE driver (OP-TEE, AMD-TEE, …)
// through the ioctls of /dev/teeN, in pure Go — no cgo, no libteec.
//
// The GP rules (temporary and partial memrefs, SHORT_BUFFER reporting) are
// the teeclient core's; this package only validates, encodes and decodes
// struct tee_ioctl_param and the ioctl argument structures of
// <linux/tee.h>, and maps ioctl failures to GP results with origin COMMS.
//
// # Shared memory
//
// AllocSharedMemory uses TEE_IOC_SHM_ALLOC and maps the returned descriptor
// MAP_SHARED: memory the kernel owns, so the Go runtime never moves it.
//
// RegisterSharedMemory (TEE_IOC_SHM_REGISTER, when the TEE reports
// TEE_GEN_CAP_REG_MEM) registers exactly the caller's bytes, [&buf[0],
// &buf[0]+len(buf)). The kernel pins the whole pages that hold them and
// records where buf starts in its first page (struct tee_shm's offset), and
// the driver adds that offset when it describes the memory to the TEE. A
// memref offset is therefore relative to buf itself: ID names buf, Bytes is
// buf, and the core's memref offsets need no adjustment. Registering the
// page-aligned span from user space instead would buy nothing — the kernel
// shares whole pages either way — but it would widen the kernel's bounds
// check (offset+size ≤ size of the shared memory) to bytes outside buf,
// which belong to other Go objects, and would force an offset translation
// into every memref. OP-TEE's libteec also passes the buffer unaligned.
// The buffer is pinned (runtime.Pinner) while registered.
//
// # Cancellation
//
// OpenSession and Invoke block in the ioctl until the TEE answers. When
// their context is done meanwhile, a TEE_IOC_CANCEL for the request's
// session and cancel id is sent from another goroutine; the call still
// returns only when the TEE does (GP semantics: the TA decides). Like
// libteec, a zero cancel id cancels by session; a non-zero one is passed
// through.
//
// The device layer builds on Linux only; the ABI constants and the codec
// build everywhere so that they can be tested and reused.
package linuxtee
