package restart

import "testing"

// TestParse: each word of the configuration reads as its value and
// String gives the word back; other words are refused as the default.
func TestParse(t *testing.T) {
	policies := []struct {
		in   string
		want Policy
		ok   bool
	}{
		{"on-failure", OnFailure, true},
		{"always", Always, true},
		{"never", Never, true},
		{"", OnFailure, false},
		{"Always", OnFailure, false},
	}
	for _, tt := range policies {
		p, ok := ParsePolicy(tt.in)
		if p != tt.want || ok != tt.ok || (ok && p.String() != tt.in) {
			t.Errorf("ParsePolicy(%q) = %v (%d), %v; want %d, %v", tt.in, p, p, ok, tt.want, tt.ok)
		}
	}
	trees := []struct {
		in   string
		want Tree
		ok   bool
	}{
		{"keep", Keep, true},
		{"clear", Clear, true},
		{"", Keep, false},
		{"wipe", Keep, false},
	}
	for _, tt := range trees {
		tr, ok := ParseTree(tt.in)
		if tr != tt.want || ok != tt.ok || (ok && tr.String() != tt.in) {
			t.Errorf("ParseTree(%q) = %v (%d), %v; want %d, %v", tt.in, tr, tr, ok, tt.want, tt.ok)
		}
	}
}
