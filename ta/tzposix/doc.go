// Package tzposix is the POSIX library for Go Trusted Applications in the
// simulated secure world: it turns each call TA code makes (Open, Read,
// Socket, Accept, Poll, …) into a tzrpc request in the shadow's mailbox and
// checks the shadow's answer before TA code sees it.
//
// A TA is a Program run once per session. NewTA wraps it in the GP entry
// points: the shadow opens a session, then invokes tzrpc.CmdResume again and
// again; the program runs on its own goroutine and each RESUME returns when
// the program has posted its next request. The hand-off is in handoff.go.
//
// The normal world is untrusted (docs/design.md, contract 2; the checks
// are docs/protocol.md §7.2). Every response is decoded once from a
// private copy of its header, checked with tzrpc.CheckResponse and against
// the library's own table of open descriptors, and only then copied out,
// never more than was asked. A response that breaks the protocol reaches
// TA code as EIO and is counted (Proc.Violations); it never panics the TA
// and is never partly trusted.
//
// A panic in the program is caught and re-raised in the Invoke entry point,
// so that the host kills the instance (TEE_ERROR_TARGET_DEAD) and not the
// simulator; goroutines the program starts itself must not panic.
//
// Errors of calls are syscall.Errno values, as from package syscall. When
// the session closes, the program's context is cancelled and its pending and
// later calls fail with ECANCELED: the calls did not fail in the normal
// world, they were abandoned, and TA code can tell that apart from EIO.
package tzposix
