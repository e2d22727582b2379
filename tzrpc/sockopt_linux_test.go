package tzrpc

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestSockoptHostPairs: each option has its own host pair and maps back to
// itself; numbers outside the table and pairs the protocol lacks are
// refused.
func TestSockoptHostPairs(t *testing.T) {
	for num := int64(1); num < int64(len(sockopts)); num++ {
		o, ok := LookupSockopt(num)
		if !ok || o.Num != num {
			t.Fatalf("LookupSockopt(%d) = %+v, %v", num, o, ok)
		}
		back, ok := SockoptFromHost(o.Level, o.Option)
		if !ok || back.Num != num {
			t.Errorf("%s: host pair (%d, %d) maps to %+v, %v", o.Name, o.Level, o.Option, back, ok)
		}
	}
	for _, num := range []int64{0, -1, int64(len(sockopts)), 1 << 40} {
		if o, ok := LookupSockopt(num); ok {
			t.Errorf("LookupSockopt(%d) = %+v, want none", num, o)
		}
	}
	for _, p := range [][2]int{{unix.SOL_SOCKET, unix.SO_LINGER}, {unix.IPPROTO_TCP, unix.SO_REUSEADDR}, {-1, -1}} {
		if o, ok := SockoptFromHost(p[0], p[1]); ok {
			t.Errorf("SockoptFromHost(%d, %d) = %+v, want none", p[0], p[1], o)
		}
	}
}
