package gp

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// UUID identifies a Trusted Application. It is held in RFC 4122 byte order
// (time_low big-endian first), which is what the Linux TEE subsystem and
// OP-TEE expect on the wire.
type UUID [16]byte

// ParseUUID parses the canonical 8-4-4-4-12 hexadecimal form.
func ParseUUID(s string) (UUID, error) {
	var u UUID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, fmt.Errorf("gp: bad UUID %q: want the form 8aaaf200-2450-11e4-abe2-0002a5d5c51b", s)
	}
	h := strings.ReplaceAll(s, "-", "")
	// A dash in a digit's place would leave fewer digits, and hex.Decode
	// would fill only part of u without complaint.
	if len(h) != 2*len(u) {
		return UUID{}, fmt.Errorf("gp: bad UUID %q: a dash where a hex digit belongs", s)
	}
	if _, err := hex.Decode(u[:], []byte(h)); err != nil {
		return UUID{}, fmt.Errorf("gp: bad UUID %q: %w", s, err)
	}
	return u, nil
}

// MustParseUUID is ParseUUID for constants known to be well-formed.
func MustParseUUID(s string) UUID {
	u, err := ParseUUID(s)
	if err != nil {
		panic(err)
	}
	return u
}

func (u UUID) String() string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// MarshalText makes UUIDs print and parse in configs and JSON.
func (u UUID) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// UnmarshalText parses the canonical form.
func (u *UUID) UnmarshalText(b []byte) error {
	v, err := ParseUUID(string(b))
	if err != nil {
		return err
	}
	*u = v
	return nil
}

// LoginMethod is a GP login method (TEEC_LOGIN_*).
type LoginMethod uint32

// Login methods.
const (
	LoginPublic           LoginMethod = 0
	LoginUser             LoginMethod = 1
	LoginGroup            LoginMethod = 2
	LoginApplication      LoginMethod = 4
	LoginUserApplication  LoginMethod = 5
	LoginGroupApplication LoginMethod = 6
)

func (l LoginMethod) String() string {
	switch l {
	case LoginPublic:
		return "TEEC_LOGIN_PUBLIC"
	case LoginUser:
		return "TEEC_LOGIN_USER"
	case LoginGroup:
		return "TEEC_LOGIN_GROUP"
	case LoginApplication:
		return "TEEC_LOGIN_APPLICATION"
	case LoginUserApplication:
		return "TEEC_LOGIN_USER_APPLICATION"
	case LoginGroupApplication:
		return "TEEC_LOGIN_GROUP_APPLICATION"
	}
	return fmt.Sprintf("TEEC_LOGIN(0x%x)", uint32(l))
}

// Valid reports whether l is a method the specification defines.
func (l LoginMethod) Valid() bool {
	switch l {
	case LoginPublic, LoginUser, LoginGroup, LoginApplication, LoginUserApplication, LoginGroupApplication:
		return true
	}
	return false
}
