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
	// Restart says when a TA that stopped is started again: "always",
	// "on-failure" (the default) or "never".
	Restart string `yaml:"restart"`
	// Mailbox is the size of the shared request buffer in bytes.
	Mailbox int    `yaml:"mailbox"`
	Limits  Limits `yaml:"limits"`
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
		if t.Builtin == "" {
			bad(f+".builtin", "missing: name the built-in TA to run (for example echo)")
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
	}
	return errors.Join(errs...)
}
