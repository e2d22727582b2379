package gp

import (
	"strings"
	"testing"
)

func TestParseUUID(t *testing.T) {
	tests := []struct {
		in   string
		want UUID // zero when in is rejected
	}{
		{"8aaaf200-2450-11e4-abe2-0002a5d5c51b", UUID{0x8a, 0xaa, 0xf2, 0x00, 0x24, 0x50, 0x11, 0xe4, 0xab, 0xe2, 0x00, 0x02, 0xa5, 0xd5, 0xc5, 0x1b}},
		{"8AAAF200-2450-11E4-ABE2-0002A5D5C51B", UUID{0x8a, 0xaa, 0xf2, 0x00, 0x24, 0x50, 0x11, 0xe4, 0xab, 0xe2, 0x00, 0x02, 0xa5, 0xd5, 0xc5, 0x1b}},
		{"", UUID{}},
		{"8aaaf200245011e4abe20002a5d5c51b", UUID{}},      // no dashes
		{"8aaaf200-2450-11e4-abe2-0002a5d5c51", UUID{}},   // one digit short
		{"8aaaf200-2450-11e4-abe2-0002a5d5c51bb", UUID{}}, // one digit long
		{"8aaaf2002-450-11e4-abe2-0002a5d5c51b", UUID{}},  // dash misplaced
		{"8aaaf200-2450-11e4-abe2-0002a5d5c5xg", UUID{}},  // not hex
		{"8aaaf200-2450-11e4-abe2-0002a5d5c5--", UUID{}},  // dashes for digits
	}
	for _, tt := range tests {
		got, err := ParseUUID(tt.in)
		if tt.want == (UUID{}) {
			if err == nil || !strings.HasPrefix(err.Error(), "gp: bad UUID") {
				t.Errorf("ParseUUID(%q) = %v, %v; want a bad UUID error", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseUUID(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if s := got.String(); s != strings.ToLower(tt.in) {
			t.Errorf("String() = %q; want %q", s, strings.ToLower(tt.in))
		}
	}
}

// FuzzParseUUID: whatever ParseUUID accepts prints back as the lower-case
// input and parses again to the same UUID, through text marshalling too.
func FuzzParseUUID(f *testing.F) {
	f.Add("8aaaf200-2450-11e4-abe2-0002a5d5c51b")
	f.Add("8AAAF200-2450-11E4-ABE2-0002A5D5C51B")
	f.Add("8aaaf200-2450-11e4-abe2-0002a5d5c51-")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseUUID(s)
		if err != nil {
			return
		}
		if got := u.String(); got != strings.ToLower(s) {
			t.Fatalf("ParseUUID(%q).String() = %q", s, got)
		}
		b, err := u.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var v UUID
		if err := v.UnmarshalText(b); err != nil || v != u {
			t.Fatalf("UnmarshalText(%q) = %v, %v; want %v", b, v, err, u)
		}
	})
}
