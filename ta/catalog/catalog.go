// Package catalog turns what a configuration says a TA is — a built-in TA's
// name, a WebAssembly module, or a host-built native TA program — into the
// definition the simulated secure world hosts.
package catalog

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tzmediator/tzbridge/securesim"
	"github.com/tzmediator/tzbridge/ta/echo"
	"github.com/tzmediator/tzbridge/ta/faulty"
	"github.com/tzmediator/tzbridge/teeclient"
)

// builtins are the TAs compiled into tzbridge.
var builtins = map[string]func(teeclient.UUID) securesim.Definition{
	"echo":   echo.Definition,
	"faulty": faulty.Definition,
}

// Definition returns the TA of the given kind ("builtin", "wasm" or
// "native") and value (a name or a file), hosted at uuid under name.
func Definition(name string, uuid teeclient.UUID, kind, value string) (securesim.Definition, error) {
	switch kind {
	case "builtin":
		def, ok := builtins[value]
		if !ok {
			return securesim.Definition{}, fmt.Errorf("no built-in TA %q (have: %s)", value, strings.Join(Builtins(), ", "))
		}
		d := def(uuid)
		d.Name = name
		return d, nil
	}
	return securesim.Definition{}, fmt.Errorf("TA %s: %s TAs are not supported by this build", name, kind)
}

// Builtins lists the built-in TAs.
func Builtins() []string {
	n := make([]string, 0, len(builtins))
	for k := range builtins {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Spec is how the supervisor names a TA to the secure-world process:
// NAME=UUID=KIND:VALUE.
func Spec(name string, uuid teeclient.UUID, kind, value string) string {
	return name + "=" + uuid.String() + "=" + kind + ":" + value
}

// ParseSpec reads a Spec.
func ParseSpec(s string) (name string, uuid teeclient.UUID, kind, value string, err error) {
	parts := strings.SplitN(s, "=", 3)
	if len(parts) != 3 {
		return "", uuid, "", "", fmt.Errorf("%q: want NAME=UUID=KIND:VALUE, e.g. echo=0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60=builtin:echo", s)
	}
	name = parts[0]
	if uuid, err = teeclient.ParseUUID(parts[1]); err != nil {
		return "", uuid, "", "", fmt.Errorf("%q: %w", s, err)
	}
	kind, value, ok := strings.Cut(parts[2], ":")
	if !ok || value == "" {
		return "", uuid, "", "", fmt.Errorf("%q: want KIND:VALUE after the UUID (builtin:echo, wasm:/path/ta.wasm, native:/path/ta)", s)
	}
	return name, uuid, kind, value, nil
}
