// Package tzrpc is the mediation protocol between a Trusted Application and
// its normal-world shadow: how one POSIX call and its result are laid out in
// the shared mailbox. It encodes and decodes the 64-byte request and response
// headers, validates a request's arguments for the shadow (which never trusts
// the TA) and checks a response for the TA (which never trusts the shadow).
//
// The mailbox is shared memory that the other party may rewrite at any time,
// so the decoders copy the header once and never read it again, and callers
// that inspect a payload's structure should first Detach it into private
// memory. Nothing in this package performs a call; docs/protocol.md is the
// byte-level contract every TA-side library implements.
package tzrpc
