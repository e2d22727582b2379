package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseDefaults(t *testing.T) {
	c, err := Parse([]byte("tas:\n  - name: echo\n    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n    builtin: echo\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Mount != DefaultMount || c.TEE != DefaultTEE {
		t.Errorf("mount %q tee %q, want defaults", c.Mount, c.TEE)
	}
	ta := c.TAs[0]
	if ta.Restart != "on-failure" || ta.Mailbox != DefaultMailbox || ta.Limits.Descriptors != DefaultDescriptors {
		t.Errorf("TA defaults not applied: %+v", ta)
	}
}

func TestParseErrors(t *testing.T) {
	const ok = "  - name: echo\n    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n    builtin: echo\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"empty", "", "config is empty"},
		{"unknown top field", "mnt: /x\ntas:\n" + ok, "field mnt not found"},
		{"unknown TA field", "tas:\n" + ok + "    colour: red\n", "line 5: field colour not found"},
		{"relative mount", "mount: tz\ntas:\n" + ok, `mount: "tz" is not an absolute path`},
		{"bad tee", "tee: optee\ntas:\n" + ok, `tee: "optee": want sim, auto`},
		{"no TAs", "mount: /tz\n", "tas: no TAs"},
		{"bad name", "tas:\n  - name: Echo!\n    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n    builtin: echo\n", `tas[0] (Echo!).name: "Echo!"`},
		{"bad uuid", "tas:\n  - name: e\n    uuid: nope\n    builtin: echo\n", `bad UUID "nope"`},
		{"missing uuid", "tas:\n  - name: e\n    builtin: echo\n", "tas[0] (e).uuid: missing"},
		{"duplicate name", "tas:\n" + ok + "  - name: echo\n    uuid: 1e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n    builtin: echo\n", `"echo" is also the name of tas[0]`},
		{"duplicate uuid", "tas:\n" + ok + "  - name: two\n    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n    builtin: echo\n", "is also the UUID of tas[0]"},
		{"missing builtin", "tas:\n  - name: e\n    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n", "builtin: missing"},
		{"bad restart", "tas:\n" + ok + "    restart: sometimes\n", `restart: "sometimes": want always`},
		{"small mailbox", "tas:\n" + ok + "    mailbox: 100\n", "mailbox: 100 bytes"},
		{"negative limit", "tas:\n" + ok + "    limits:\n      descriptors: -1\n", "limits.descriptors: -1"},
		{"two documents", "tas:\n" + ok + "---\ntas: []\n", "more than one YAML document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatalf("accepted:\n%s", tt.yaml)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func TestLoadNamesFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(p, []byte("tee: nope\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil || !strings.HasPrefix(err.Error(), p+": ") {
		t.Errorf("error %v does not start with the file name", err)
	}
}

func TestExampleConfigsLoad(t *testing.T) {
	files, _ := filepath.Glob("../configs/*.yaml")
	if len(files) == 0 {
		t.Fatal("no example configs found")
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%v", err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("tas:\n  - name: echo\n    uuid: 0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60\n    builtin: echo\n"))
	f.Add([]byte("mount: /tz\ntee: sim\ntas: []\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err == nil {
			if err := c.Validate(); err != nil {
				t.Fatalf("Parse accepted a config Validate rejects: %v", err)
			}
		}
	})
}
