package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTree makes a fake mount: each key is a path under it, each value
// the file's content.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	mount := t.TempDir()
	for name, content := range files {
		p := filepath.Join(mount, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return mount
}

// TestStatusJSON: status --json prints every TA's status.json, sorted by
// name, as the bridge wrote it; fields this version does not know pass
// through.
func TestStatusJSON(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		want    []string // TA names in output order
		wantErr string
	}{
		{
			name: "two TAs and a stray directory",
			files: map[string]string{
				"zeta/.tz/status.json":  `{"name":"zeta","calls":7,"ops":[{"op":"READ","calls":7}],"new_field":true}`,
				"alpha/.tz/status.json": `{"name":"alpha","calls":1}`,
				"alpha/.tz/status":      "name: alpha\n",
				"stray/file":            "",
			},
			want: []string{"alpha", "zeta"},
		},
		{
			name:    "no TA",
			files:   map[string]string{"stray/file": ""},
			wantErr: "no TA status under",
		},
		{
			name:    "not JSON",
			files:   map[string]string{"echo/.tz/status.json": "name: echo\n"},
			wantErr: "echo/.tz/status.json: invalid character",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mount := writeTree(t, tt.files)
			cmd := newStatusCommand()
			var out bytes.Buffer
			cmd.SetOut(&out)
			cmd.SetArgs([]string{"--mount", mount, "--json"})
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Mount string                       `json:"mount"`
				TAs   []map[string]json.RawMessage `json:"tas"`
			}
			if err := json.Unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out.String())
			}
			if got.Mount != mount || len(got.TAs) != len(tt.want) {
				t.Fatalf("mount %q, %d TAs; want %q, %d\n%s", got.Mount, len(got.TAs), mount, len(tt.want), out.String())
			}
			for i, name := range tt.want {
				var n string
				json.Unmarshal(got.TAs[i]["name"], &n)
				if n != name {
					t.Errorf("TA %d is %q, want %q", i, n, name)
				}
				var want map[string]json.RawMessage
				json.Unmarshal([]byte(tt.files[name+"/.tz/status.json"]), &want)
				if len(got.TAs[i]) != len(want) {
					t.Errorf("TA %s has fields %v, want those of %s", name, got.TAs[i], tt.files[name+"/.tz/status.json"])
				}
			}
		})
	}
}
