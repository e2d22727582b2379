// Package catalog turns what a configuration says a TA is — a built-in TA's
// name, a WebAssembly module, or a host-built native TA program — into the
// definition the simulated secure world hosts.
package catalog

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/tzmediator/tzbridge/config"
	"github.com/tzmediator/tzbridge/gp"
	"github.com/tzmediator/tzbridge/internal/netaddr"
	"github.com/tzmediator/tzbridge/securesim"
	"github.com/tzmediator/tzbridge/ta/echo"
	"github.com/tzmediator/tzbridge/ta/faulty"
	"github.com/tzmediator/tzbridge/ta/native"
	"github.com/tzmediator/tzbridge/ta/wasm"
)

// builtins are the TAs compiled into tzbridge.
var builtins = map[string]func(gp.UUID) securesim.Definition{
	"echo":   echo.Definition,
	"faulty": faulty.Definition,
}

// TA is what the secure world needs to host one TA.
type TA struct {
	Name string  `json:"name"`
	UUID gp.UUID `json:"uuid"`
	// Kind is "builtin", "wasm" or "native"; Value the name or the file.
	Kind  string `json:"kind"`
	Value string `json:"value"`
	// Listen are a wasm TA's preopened sockets (see config.TA.Listen).
	Listen []string `json:"listen,omitempty"`
	// WasmMemory caps a wasm TA's linear memory (config
	// limits.wasm_memory); 0 is the default.
	WasmMemory int64 `json:"wasm_memory,omitempty"`
}

// FromConfig describes a configured TA.
func FromConfig(t config.TA) TA {
	kind, value := t.Source()
	return TA{Name: t.Name, UUID: t.UUID, Kind: kind, Value: value, Listen: t.Listen, WasmMemory: t.Limits.WasmMemory}
}

// Definition returns the definition the secure world hosts for t. log
// receives what the TA itself reports (a wasm TA's stdout and stderr).
func Definition(t TA, log *slog.Logger) (securesim.Definition, error) {
	switch t.Kind {
	case "builtin":
		def, ok := builtins[t.Value]
		if !ok {
			return securesim.Definition{}, fmt.Errorf("no built-in TA %q (have: %s)", t.Value, strings.Join(Builtins(), ", "))
		}
		d := def(t.UUID)
		d.Name = t.Name
		return d, nil
	case "wasm":
		listen := make([]netaddr.Addr, len(t.Listen))
		for i, l := range t.Listen {
			a, err := netaddr.Parse(l)
			if err != nil {
				return securesim.Definition{}, fmt.Errorf("wasm TA %s: listen[%d]: %w", t.Name, i, err)
			}
			listen[i] = a
		}
		return wasm.Definition(t.Name, t.UUID, t.Value, listen, wasm.Options{MemoryLimit: t.WasmMemory, Logger: log})
	case "native":
		d, err := native.Definition(t.Name, t.UUID, t.Value)
		if err != nil {
			return securesim.Definition{}, fmt.Errorf("TA %s: %w", t.Name, err)
		}
		return d, nil
	}
	return securesim.Definition{}, fmt.Errorf("TA %s: %s TAs are not supported by this build", t.Name, t.Kind)
}

// Validate reports what keeps the simulator from hosting t, without
// running any of the TA's code (tzbridge check, and run before it starts
// anything): a native TA's file is checked for being a static ELF
// executable for this machine (native.Check); it is first run, in its
// sandbox, by the secure world.
func Validate(t TA) error {
	if t.Kind == "native" {
		if err := native.Check(t.Value); err != nil {
			return fmt.Errorf("TA %s: %w", t.Name, err)
		}
		return nil
	}
	_, err := Definition(t, slog.New(slog.DiscardHandler))
	return err
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

// Spec is how the supervisor names a TA to the secure-world process: JSON.
func (t TA) Spec() string {
	b, _ := json.Marshal(t) // strings, numbers and a UUID: cannot fail
	return string(b)
}

// ParseSpec reads a Spec, or the short form NAME=UUID=KIND:VALUE meant for
// people starting the secure world by hand.
func ParseSpec(s string) (TA, error) {
	var t TA
	if strings.HasPrefix(s, "{") {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&t); err != nil {
			return t, fmt.Errorf("%q: %w", s, err)
		}
		return t, nil
	}
	parts := strings.SplitN(s, "=", 3)
	if len(parts) != 3 {
		return t, fmt.Errorf("%q: want NAME=UUID=KIND:VALUE, e.g. echo=0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60=builtin:echo", s)
	}
	t.Name = parts[0]
	var err error
	if t.UUID, err = gp.ParseUUID(parts[1]); err != nil {
		return t, fmt.Errorf("%q: %w", s, err)
	}
	var ok bool
	t.Kind, t.Value, ok = strings.Cut(parts[2], ":")
	if !ok || t.Value == "" {
		return t, fmt.Errorf("%q: want KIND:VALUE after the UUID (builtin:echo, wasm:/path/ta.wasm, native:/path/ta)", s)
	}
	return t, nil
}
