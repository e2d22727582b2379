package teekind

import "testing"

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Kind
		ok   bool
	}{
		{"sim", Sim, true},
		{"auto", Auto, true},
		{"/dev/tee0", Device, true},
		{"/dev/teepriv0", Device, true},
		{"", Sim, false},
		{"optee", Sim, false},
		{"/dev/null", Sim, false},
	}
	for _, tt := range tests {
		if k, ok := Parse(tt.in); k != tt.want || ok != tt.ok {
			t.Errorf("Parse(%q) = %v, %v; want %v, %v", tt.in, k, ok, tt.want, tt.ok)
		}
	}
}
