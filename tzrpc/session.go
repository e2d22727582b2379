package tzrpc

import "fmt"

// CmdResume is the TEE command the shadow invokes, with the whole mailbox as
// an INOUT memref in parameter 0, to let the TA run until its next call.
const CmdResume uint32 = 1

// CmdNull is a command that does nothing: no parameters, TEE_SUCCESS, on
// any open session, before or after the TA's first RESUME. Every tzbridge
// TA library answers it in its dispatch without reaching TA code, so that
// `tzbridge bench` can time one round trip to the secure world and back
// (the null call) against any TA, in any secure world. Parameters other
// than NONE get TEE_ERROR_BAD_PARAMETERS.
const CmdNull uint32 = 2

// CheckSession is the TA side's check of OpenSession's VALUE_INPUT parameter
// 0 (a = protocol version, b = mailbox size). A TA answers a failure with
// TEE_ERROR_NOT_SUPPORTED (version) or TEE_ERROR_BAD_PARAMETERS (size), and
// every later RESUME must carry a memref of exactly mailboxSize bytes.
func CheckSession(version, mailboxSize uint32) error {
	if version != uint32(Version) {
		return fmt.Errorf("tzrpc: open session: %w: shadow speaks %d, TA speaks %d", ErrBadVersion, version, Version)
	}
	if uint64(mailboxSize) < MinMailbox {
		return fmt.Errorf("tzrpc: open session: %w: mailbox of %d bytes, need at least %d", ErrShortMailbox, mailboxSize, MinMailbox)
	}
	return nil
}
