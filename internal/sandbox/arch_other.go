//go:build !amd64 && !arm64

package sandbox

// auditArch 0: no filter for this architecture, so Supported is false
// and native TAs do not start (never unconfined).
const auditArch = 0

func archRules() []rule { return nil }

func rules() []rule { return nil }
