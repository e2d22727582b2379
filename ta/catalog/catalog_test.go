package catalog

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/tzmediator/tzbridge/config"
	"github.com/tzmediator/tzbridge/gp"
)

func TestSpecRoundTrip(t *testing.T) {
	in := TA{Name: "w", UUID: gp.MustParseUUID("0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60"), Kind: "wasm", Value: "/x/w.wasm", Listen: []string{"tcp://127.0.0.1:7100"}}
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
	uuid := gp.MustParseUUID("0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f60")
	d, err := Definition(TA{Name: "mine", UUID: uuid, Kind: "builtin", Value: "echo"}, discard)
	if err != nil || d.Name != "mine" || d.UUID != uuid || d.New == nil {
		t.Errorf("builtin echo: %+v, %v", d, err)
	}
	if _, err := Definition(TA{Name: "x", UUID: uuid, Kind: "builtin", Value: "nope"}, discard); err == nil || !strings.Contains(err.Error(), "have: echo, faulty") {
		t.Errorf("unknown builtin: %v", err)
	}
}

var discard = slog.New(slog.DiscardHandler)

// TestSpecCarriesLimits: the wasm memory cap set in the configuration
// survives the trip to the secure-world process.
func TestSpecCarriesLimits(t *testing.T) {
	c := config.TA{Name: "w", UUID: gp.MustParseUUID("0e7a3c2d-5c1b-4f0e-9a8d-7e2b1c4d5f61"), Wasm: "/ta.wasm",
		Listen: []string{"tcp://127.0.0.1:7100"}, Limits: config.Limits{WasmMemory: 1 << 20}}
	got, err := ParseSpec(FromConfig(c).Spec())
	if err != nil {
		t.Fatal(err)
	}
	if got.WasmMemory != 1<<20 || got.Kind != "wasm" || got.Value != "/ta.wasm" || len(got.Listen) != 1 {
		t.Errorf("spec round trip: %+v", got)
	}
}
