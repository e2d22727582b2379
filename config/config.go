// Package config reads and checks tzbridge's configuration file: where the
// /tz tree is mounted, which TEE to use, and the TAs to bridge with their
// limits. Unknown fields are errors, and every error names the file and the
// field.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/tzmediator/tzbridge/teeclient"
)

// Defaults applied to fields the file leaves out.
const (
	DefaultMount       = "/tz"
	DefaultTEE         = "sim"
	DefaultDescriptors = 256
	DefaultMailbox     = 256 << 10
	MinMailbox         = 8 << 10
	MaxMailbox         = 16 << 20
	MaxDescriptors     = 65536
)

// Config is a whole configuration file.
type Config struct {
	// Mount is where the /tz tree is served.
	Mount string `yaml:"mount"`
	// TEE selects the secure world: "sim" (the built-in simulator), "auto"
	// (the first GP-capable /dev/teeN) or a device path.
	TEE string `yaml:"tee"`
	TAs []TA   `yaml:"tas"`
}

// TA is one Trusted Application to bridge.
type TA struct {
	// Name is the TA's directory under the mount and its name in logs.
	Name string `yaml:"name"`
	// UUID is the TA's identity in the secure world.
	UUID teeclient.UUID `yaml:"uuid"`
	// Builtin names a TA compiled into the simulator (for example "echo").
	Builtin string `yaml:"builtin"`
	// Wasm is a WebAssembly (WASI preview 1) module the simulator runs as
	// the TA.
	Wasm string `yaml:"wasm"`
	// Native is a host-built TA program (for example the C echo TA) that
	// the simulator drives through the GP entry points.
	Native string `yaml:"native"`
	// With tee: sim exactly one of Builtin, Wasm and Native says what the
	// TA is; on a device, none: the TA is the one installed for its UUID.

	// Listen lists sockets made for a wasm TA before it starts and handed
	// to it as preopened descriptors, in order (WASI preview 1 cannot
	// create sockets): tcp://127.0.0.1:7100, udp://127.0.0.1:7101 or
	// unix:/name.sock (a path inside the TA's directory).
	Listen []string `yaml:"listen"`
	// Restart says when a TA that stopped is started again: "always",
	// "on-failure" (the default) or "never".
	Restart string `yaml:"restart"`
	// Mailbox is the size of the shared request buffer in bytes.
	Mailbox int    `yaml:"mailbox"`
	Limits  Limits `yaml:"limits"`
	// Endpoints are created in the TA's directory before it starts, with
	// the owner and mode given, so that the kernel enforces who may open
	// them.
	Endpoints []Endpoint `yaml:"endpoints"`
	// OnRestart says what happens to the TA's directory when the TA
	// restarts: "keep" (the default) leaves every node in place, "clear"
	// empties it back to the declared endpoints.
	OnRestart string `yaml:"on_restart"`
	// CAMayModify lets CAs create, rename and delete nodes in the TA's
	// directory (the kernel still applies the directory's mode). By
	// default only the TA (through its shadow) may.
	CAMayModify bool `yaml:"ca_may_modify"`
}

// Endpoint is a node declared in a TA's directory.
type Endpoint struct {
	// Name is the path inside the TA's directory, e.g. "in" or "sub/x".
	Name string `yaml:"name"`
	// Kind is "fifo" or "unix" (a UNIX socket node, created when the TA
	// binds it).
	Kind  string `yaml:"kind"`
	Mode  Mode   `yaml:"mode"`
	Owner string `yaml:"owner"`
	Group string `yaml:"group"`
}

// Source says what the simulator runs for the TA: ("builtin", name),
// ("wasm", file) or ("native", program); ("", "") when none is set.
func (t TA) Source() (kind, value string) {
	switch {
	case t.Builtin != "":
		return "builtin", t.Builtin
	case t.Wasm != "":
		return "wasm", t.Wasm
	case t.Native != "":
		return "native", t.Native
	}
	return "", ""
}

// Limits bound what one TA may hold.
type Limits struct {
	// Descriptors is the most descriptors the TA may have open at once.
	Descriptors int `yaml:"descriptors"`
}

// Load reads and checks the file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// Files a TA names are relative to the configuration file.
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	for i := range c.TAs {
		for _, f := range []*string{&c.TAs[i].Wasm, &c.TAs[i].Native} {
			if *f != "" && !filepath.IsAbs(*f) {
				*f = filepath.Join(dir, *f)
			}
		}
	}
	return c, nil
}

// Parse decodes and checks a configuration, applying defaults.
func Parse(b []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("config is empty: it needs at least a tas: list")
		}
		return nil, fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("config holds more than one YAML document")
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) applyDefaults() {
	if c.Mount == "" {
		c.Mount = DefaultMount
	}
	if c.TEE == "" {
		c.TEE = DefaultTEE
	}
	for i := range c.TAs {
		t := &c.TAs[i]
		if t.Restart == "" {
			t.Restart = "on-failure"
		}
		if t.Mailbox == 0 {
			t.Mailbox = DefaultMailbox
		}
		if t.Limits.Descriptors == 0 {
			t.Limits.Descriptors = DefaultDescriptors
		}
		if t.OnRestart == "" {
			t.OnRestart = "keep"
		}
		for j := range t.Endpoints {
			e := &t.Endpoints[j]
			if !e.Mode.set {
				e.Mode = Mode{Perm: 0o600, set: true}
			}
			if e.Owner == "" {
				e.Owner = "0"
			}
			if e.Group == "" {
				e.Group = "0"
			}
		}
	}
}

var taName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// Validate checks the whole configuration and reports every problem found.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if !strings.HasPrefix(c.Mount, "/") {
		bad("mount", "%q is not an absolute path", c.Mount)
	}
	if c.TEE != "sim" && c.TEE != "auto" && !strings.HasPrefix(c.TEE, "/dev/tee") {
		bad("tee", "%q: want sim, auto or a device such as /dev/tee0", c.TEE)
	}
	if len(c.TAs) == 0 {
		bad("tas", "no TAs: list at least one")
	}
	names := map[string]int{}
	uuids := map[teeclient.UUID]int{}
	for i, t := range c.TAs {
		f := fmt.Sprintf("tas[%d]", i)
		if t.Name != "" {
			f = fmt.Sprintf("tas[%d] (%s)", i, t.Name)
		}
		if !taName.MatchString(t.Name) {
			bad(f+".name", "%q: want 1-32 of a-z, 0-9, '-', '_', starting with a letter or digit", t.Name)
		} else if j, dup := names[t.Name]; dup {
			bad(f+".name", "%q is also the name of tas[%d]", t.Name, j)
		}
		names[t.Name] = i
		if t.UUID == (teeclient.UUID{}) {
			bad(f+".uuid", "missing: every TA needs its UUID")
		} else if j, dup := uuids[t.UUID]; dup {
			bad(f+".uuid", "%v is also the UUID of tas[%d]", t.UUID, j)
		}
		uuids[t.UUID] = i
		kind, _ := t.Source()
		n := 0
		for _, v := range []string{t.Builtin, t.Wasm, t.Native} {
			if v != "" {
				n++
			}
		}
		switch {
		case c.TEE == "sim" && n == 0:
			bad(f, "says nothing of what the TA is: give builtin (for example echo), wasm (a .wasm file) or native (a host-built TA program)")
		case c.TEE == "sim" && n > 1:
			bad(f, "give only one of builtin, wasm and native")
		case c.TEE != "sim" && n > 0:
			bad(f+"."+kind, "TAs from builtin, wasm or native run only in the simulator (tee: sim); on a device the TA is the one installed for its UUID")
		case kind == "wasm" && !strings.HasSuffix(t.Wasm, ".wasm"):
			bad(f+".wasm", "%q: want a .wasm file", t.Wasm)
		}
		if len(t.Listen) > 0 && kind != "wasm" {
			bad(f+".listen", "only wasm TAs get preopened sockets; other TAs create their own")
		}
		for j, l := range t.Listen {
			if _, _, err := ParseListen(l); err != nil {
				bad(fmt.Sprintf("%s.listen[%d]", f, j), "%v", err)
			}
		}
		switch t.Restart {
		case "always", "on-failure", "never":
		default:
			bad(f+".restart", "%q: want always, on-failure or never", t.Restart)
		}
		if t.Mailbox < MinMailbox || t.Mailbox > MaxMailbox {
			bad(f+".mailbox", "%d bytes: want %d to %d", t.Mailbox, MinMailbox, MaxMailbox)
		}
		if t.Limits.Descriptors < 1 || t.Limits.Descriptors > MaxDescriptors {
			bad(f+".limits.descriptors", "%d: want 1 to %d", t.Limits.Descriptors, MaxDescriptors)
		}
		if t.OnRestart != "keep" && t.OnRestart != "clear" {
			bad(f+".on_restart", "%q: want keep or clear", t.OnRestart)
		}
		seen := map[string]bool{}
		for j, e := range t.Endpoints {
			ef := fmt.Sprintf("%s.endpoints[%d]", f, j)
			clean := path.Clean(e.Name)
			switch {
			case e.Name == "" || path.IsAbs(e.Name) || clean != e.Name || clean == "." || strings.HasPrefix(clean, "../") || clean == "..":
				bad(ef+".name", "%q: want a relative path inside the TA's directory, such as in or sub/x", e.Name)
			case strings.HasPrefix(clean, ".tz/") || clean == ".tz":
				bad(ef+".name", "%q: .tz is reserved for the status view", e.Name)
			case seen[clean]:
				bad(ef+".name", "%q is declared twice", e.Name)
			}
			seen[clean] = true
			if e.Kind != "fifo" && e.Kind != "unix" {
				bad(ef+".kind", "%q: want fifo or unix", e.Kind)
			}
			if e.Mode.Perm&^0o777 != 0 {
				bad(ef+".mode", "%#o: want permission bits only (0 to 0777)", e.Mode.Perm)
			}
			if _, err := LookupUser(e.Owner); err != nil {
				bad(ef+".owner", "%v", err)
			}
			if _, err := LookupGroup(e.Group); err != nil {
				bad(ef+".group", "%v", err)
			}
		}
	}
	return errors.Join(errs...)
}
