package config

import (
	"fmt"
	"os/user"
	"strconv"

	"gopkg.in/yaml.v3"
)

// Mode is a permission mode, written in the file as an octal string
// ("0660") or number.
type Mode struct {
	Perm uint32
	set  bool
}

// UnmarshalYAML accepts "0660", "660" and 0o660.
func (m *Mode) UnmarshalYAML(n *yaml.Node) error {
	v, err := strconv.ParseUint(n.Value, 8, 32)
	if err != nil {
		// YAML may already have read 0o660 as a number.
		var i uint32
		if n.Decode(&i) != nil {
			return fmt.Errorf("%q: want an octal mode such as \"0660\"", n.Value)
		}
		v = uint64(i)
	}
	*m = Mode{Perm: uint32(v), set: true}
	return nil
}

// LookupUser resolves a user name or numeric uid.
func LookupUser(s string) (uint32, error) {
	if id, err := strconv.ParseUint(s, 10, 32); err == nil {
		return uint32(id), nil
	}
	u, err := user.Lookup(s)
	if err != nil {
		return 0, fmt.Errorf("unknown user %q", s)
	}
	id, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("user %q has uid %q", s, u.Uid)
	}
	return uint32(id), nil
}

// LookupGroup resolves a group name or numeric gid.
func LookupGroup(s string) (uint32, error) {
	if id, err := strconv.ParseUint(s, 10, 32); err == nil {
		return uint32(id), nil
	}
	g, err := user.LookupGroup(s)
	if err != nil {
		return 0, fmt.Errorf("unknown group %q", s)
	}
	id, err := strconv.ParseUint(g.Gid, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("group %q has gid %q", s, g.Gid)
	}
	return uint32(id), nil
}
