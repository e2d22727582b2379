package catalog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tzmediator/tzbridge/gp"
)

// TestDefinitionWasm: a wasm TA becomes a definition run by package
// ta/wasm; what can be checked without compiling is checked at once.
func TestDefinitionWasm(t *testing.T) {
	uuid := gp.MustParseUUID("0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f61")
	dir := t.TempDir()
	module := filepath.Join(dir, "m.wasm")
	if err := os.WriteFile(module, []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "s.wasm")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ta   TA
		want string // error substring; "" for success
	}{
		{"module", TA{Name: "w", UUID: uuid, Kind: "wasm", Value: module, Listen: []string{"tcp://127.0.0.1:7100", "udp://127.0.0.1:7101", "unix:/w.sock"}}, ""},
		{"missing file", TA{Name: "w", UUID: uuid, Kind: "wasm", Value: filepath.Join(dir, "none.wasm")}, "no such file"},
		{"not a module", TA{Name: "w", UUID: uuid, Kind: "wasm", Value: script}, "not a WebAssembly module"},
		{"bad listen", TA{Name: "w", UUID: uuid, Kind: "wasm", Value: module, Listen: []string{"sctp://x"}}, "listen[0]"},
		{"listen without a port", TA{Name: "w", UUID: uuid, Kind: "wasm", Value: module, Listen: []string{"tcp://127.0.0.1"}}, "listen[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Definition(tt.ta, discard)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error %v, want %q", err, tt.want)
				}
				return
			}
			if err != nil || d.Name != tt.ta.Name || d.UUID != uuid || d.New == nil || !d.Props.SingleInstance {
				t.Errorf("Definition = %+v, %v", d, err)
			}
		})
	}
}
