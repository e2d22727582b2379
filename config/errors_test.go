package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestErrorMessages pins the exact text of configuration errors: an
// operator reads them, so each names the file, the line, the field's full
// path, what is wrong and what is allowed.
func TestErrorMessages(t *testing.T) {
	const head = "tas:\n  - name: echo\n    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n    builtin: echo\n"
	tests := []struct {
		name, yaml string
		want       []string // one message per problem, in line order
	}{
		{"syntax", "tas:\n  - name: echo\n   uuid: x\n",
			[]string{"bad.yaml:3: not valid YAML: did not find expected '-' indicator"}},
		{"syntax without a line from the parser", head + "    restart: on: failure\n",
			[]string{"bad.yaml:5: not valid YAML: mapping values are not allowed in this context"}},
		{"empty", "# nothing\n",
			[]string{"bad.yaml: config is empty: it needs at least a tas: list"}},
		{"two documents", head + "---\ntas: []\n",
			[]string{"bad.yaml:5: config holds more than one YAML document: want exactly one"}},
		{"top level not a mapping", "- echo\n",
			[]string{"bad.yaml:1: want a mapping with the fields mount, tee, metrics, sim_threads, tas, not a list"}},
		{"unknown top-level field", "mnt: /tz\n" + head,
			[]string{"bad.yaml:1: mnt: unknown field: allowed here are mount, tee, metrics, sim_threads, tas"}},
		{"unknown endpoint field", head + "    endpoints:\n      - name: in\n        kind: fifo\n        perms: \"0600\"\n",
			[]string{"bad.yaml:8: tas[0].endpoints[0].perms: unknown field: allowed in tas[0].endpoints[0] are name, kind, mode, owner, group"}},
		{"field given twice", head + "    restart: always\n    restart: never\n",
			[]string{"bad.yaml:6: tas[0].restart: given twice (first at line 5): give each field once"}},
		{"tas not a list", "tas: echo\n",
			[]string{`bad.yaml:1: tas: want a list, not "echo"`}},
		{"string given a list", "mount: [/tz]\n" + head,
			[]string{"bad.yaml:1: mount: want a string, not a list"}},
		{"number not a number", head + "    mailbox: 64k\n",
			[]string{`bad.yaml:5: tas[0].mailbox: "64k": want a whole number`}},
		{"bool not a bool", head + "    netns: maybe\n",
			[]string{`bad.yaml:5: tas[0].netns: "maybe": want true or false`}},
		{"bad uuid", "tas:\n  - name: echo\n    uuid: 0e7a3c2d\n    builtin: echo\n",
			[]string{`bad.yaml:3: tas[0].uuid: bad UUID "0e7a3c2d": want the form 8aaaf200-2450-11e4-abe2-0002a5d5c51b`}},
		{"missing uuid points at its TA", "tas:\n  - name: echo\n    builtin: echo\n",
			[]string{"bad.yaml:2: tas[0].uuid: missing: every TA needs its UUID, such as 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60"}},
		{"relative mount", "mount: tz\n" + head,
			[]string{`bad.yaml:1: mount: "tz" is not an absolute path: want one such as /tz`}},
		{"bad restart", head + "    restart: sometimes\n",
			[]string{`bad.yaml:5: tas[0].restart: "sometimes": want always, on-failure or never`}},
		{"nested limit", head + "    limits:\n      descriptors: -1\n      memory: 1000\n",
			[]string{"bad.yaml:6: tas[0].limits.descriptors: -1: want 1 to 65536",
				"bad.yaml:7: tas[0].limits.memory: 1000 bytes: want 0 (no limit) or at least 67108864"}},
		{"endpoint mode", head + "    endpoints:\n      - {name: in, kind: fifo}\n      - {name: out, kind: fifo, mode: \"4755\"}\n",
			[]string{"bad.yaml:7: tas[0].endpoints[1].mode: 04755: want permission bits only (1 to 0777)"}},
		{"endpoint mode zero", head + "    endpoints:\n      - {name: in, kind: fifo, mode: \"0000\"}\n",
			[]string{`bad.yaml:6: tas[0].endpoints[0].mode: 0000: nobody but root could open the endpoint: want at least one permission bit (1 to 0777), e.g. "0600"`}},
		{"endpoint mode syntax", head + "    endpoints:\n      - name: in\n        kind: fifo\n        mode: rw\n",
			[]string{`bad.yaml:8: tas[0].endpoints[0].mode: "rw": want an octal mode such as "0660"`}},
		{"duplicate name in second TA", head + "  - name: echo\n    uuid: 1e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n    builtin: echo\n",
			[]string{`bad.yaml:5: tas[1].name: "echo" is also the name of tas[0]: want a name of its own`}},
		{"proxy joins tcp to udp", head + "    proxies:\n      - listen: tcp://127.0.0.1:7000\n        to: udp://127.0.0.1:7000\n",
			[]string{"bad.yaml:6: tas[0].proxies[0]: listen is tcp but to is udp: want the same kind of socket at both ends"}},
		{"host_access item", head + "    host_access:\n      - tcp://127.0.0.1:5432\n      - unix:/x\n",
			[]string{`bad.yaml:7: tas[0].host_access[1]: "unix:/x": want tcp://IP:PORT or udp://IP:PORT`}},
		{"several problems, in line order", "tee: optee\ntas:\n  - name: Echo\n    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n    on_restart: wipe\n",
			[]string{`bad.yaml:1: tee: "optee": want sim, auto or a device such as /dev/tee0`,
				`bad.yaml:3: tas[0].name: "Echo": want 1-32 of a-z, 0-9, '-', '_', starting with a letter or digit`,
				`bad.yaml:5: tas[0].on_restart: "wipe": want keep or clear`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parse([]byte(tt.yaml), "bad.yaml")
			if err == nil {
				t.Fatalf("accepted:\n%s", tt.yaml)
			}
			var got []string
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				for _, e := range j.Unwrap() {
					got = append(got, e.Error())
				}
			} else {
				got = []string{err.Error()}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%q\nwant\n%q", len(got), len(tt.want), got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("error %d:\n got  %s\n want %s", i, got[i], tt.want[i])
				}
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.File != "bad.yaml" {
				t.Errorf("error is not a *FieldError naming the file: %#v", err)
			}
		})
	}
}

// TestLoadCheckLines: a problem found by a Check from outside the package
// gets the file and the line of its field, like any other.
func TestLoadCheckLines(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	yaml := "tas:\n  - name: echo\n    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n    builtin: nosuch\n"
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	check := func(c *Config) []*FieldError {
		return []*FieldError{{Field: "tas[0].builtin", Problem: fmt.Sprintf("no built-in TA %q", c.TAs[0].Builtin)}}
	}
	_, err := Load(p, check)
	if want := p + `:4: tas[0].builtin: no built-in TA "nosuch"`; err == nil || err.Error() != want {
		t.Errorf("Load = %v, want %s", err, want)
	}
	if _, err := Load(p); err != nil {
		t.Errorf("Load without the check: %v", err)
	}
}

// TestValidateWithoutLines: a Config changed after Load (run --mount)
// is validated again; its errors name the field.
func TestValidateWithoutLines(t *testing.T) {
	c, err := Parse([]byte("tas:\n  - name: echo\n    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n    builtin: echo\n"))
	if err != nil {
		t.Fatal(err)
	}
	c.Mount = "tz"
	if err := c.Validate(); err == nil || err.Error() != `mount: "tz" is not an absolute path: want one such as /tz` {
		t.Errorf("Validate = %v", err)
	}
}
