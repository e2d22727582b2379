package teeclient

import "github.com/tzmediator/tzbridge/gp"

// UUID identifies a Trusted Application; see gp.UUID.
type UUID = gp.UUID

// ParseUUID parses the canonical 8-4-4-4-12 hexadecimal form; see
// gp.ParseUUID.
func ParseUUID(s string) (UUID, error) { return gp.ParseUUID(s) }

// MustParseUUID is ParseUUID for constants known to be well-formed.
func MustParseUUID(s string) UUID { return gp.MustParseUUID(s) }

// LoginMethod is a GP login method (TEEC_LOGIN_*); see gp.LoginMethod.
type LoginMethod = gp.LoginMethod

// Login methods.
const (
	LoginPublic           = gp.LoginPublic
	LoginUser             = gp.LoginUser
	LoginGroup            = gp.LoginGroup
	LoginApplication      = gp.LoginApplication
	LoginUserApplication  = gp.LoginUserApplication
	LoginGroupApplication = gp.LoginGroupApplication
)
