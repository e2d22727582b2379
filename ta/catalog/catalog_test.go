package catalog

import (
	"strings"
	"testing"

	"github.com/tzmediator/tzbridge/teeclient"
)

func TestSpecRoundTrip(t *testing.T) {
	in := TA{Name: "w", UUID: teeclient.MustParseUUID("0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60"), Kind: "wasm", Value: "/x/w.wasm", Listen: []string{"tcp://127.0.0.1:7100"}}
	out, err := ParseSpec(in.Spec())
	if err != nil {
		t.Fatal(err)
	}
	if out.Name != in.Name || out.UUID != in.UUID || out.Kind != in.Kind || out.Value != in.Value || len(out.Listen) != 1 || out.Listen[0] != in.Listen[0] {
		t.Errorf("round trip: %+v, want %+v", out, in)
	}
}

func TestParseSpec(t *testing.T) {
	tests := []struct{ spec, want string }{
		{"echo=0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60=builtin:echo", ""},
		{"echo=0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60", "want NAME=UUID=KIND:VALUE"},
		{"echo=nope=builtin:echo", "bad UUID"},
		{"echo=0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60=builtin", "want KIND:VALUE"},
		{`{"name":"e","colour":1}`, "unknown field"},
	}
	for _, tt := range tests {
		_, err := ParseSpec(tt.spec)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("ParseSpec(%q) = %v, want %q", tt.spec, err, tt.want)
		}
	}
}

func TestDefinition(t *testing.T) {
	uuid := teeclient.MustParseUUID("0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60")
	d, err := Definition(TA{Name: "mine", UUID: uuid, Kind: "builtin", Value: "echo"})
	if err != nil || d.Name != "mine" || d.UUID != uuid || d.New == nil {
		t.Errorf("builtin echo: %+v, %v", d, err)
	}
	if _, err := Definition(TA{Name: "x", UUID: uuid, Kind: "builtin", Value: "nope"}); err == nil || !strings.Contains(err.Error(), "have: bench, echo, faulty") {
		t.Errorf("unknown builtin: %v", err)
	}
}
