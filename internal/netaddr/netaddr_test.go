package netaddr

import (
	"strings"
	"testing"
)

// TestParse: the three forms parse into network and address, and String
// gives back the form Parse reads; anything else is refused with the
// forms it wants.
func TestParse(t *testing.T) {
	tests := []struct {
		in, network, addr, str string
		err                    string
	}{
		{"tcp://127.0.0.1:7100", "tcp", "127.0.0.1:7100", "tcp://127.0.0.1:7100", ""},
		{"udp://[::1]:7101", "udp", "[::1]:7101", "udp://[::1]:7101", ""},
		{"unix:/x.sock", "unix", "/x.sock", "unix:/x.sock", ""},
		{"unix:///x.sock", "unix", "/x.sock", "unix:/x.sock", ""},
		{"tcp://127.0.0.1", "", "", "", "with a port"},
		{"udp://127.0.0.1:0", "", "", "", "with a port"},
		{"unix:x.sock", "", "", "", "clean path"},
		{"unix:/a/../x.sock", "", "", "", "clean path"},
		{"unix:/" + strings.Repeat("x", 107), "", "", "", "clean path"},
		{"sctp://x", "", "", "", "want tcp://IP:PORT, udp://IP:PORT or unix:/PATH"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			a, err := Parse(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Parse(%q) = %+v, %v; want an error with %q", tt.in, a, err, tt.err)
				}
				return
			}
			if err != nil || a.Network != tt.network || a.Addr != tt.addr || a.String() != tt.str {
				t.Fatalf("Parse(%q) = %+v (%s), %v; want %s %s (%s)", tt.in, a, a, err, tt.network, tt.addr, tt.str)
			}
		})
	}
}
