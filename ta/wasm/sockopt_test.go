package wasm

import (
	"slices"
	"testing"

	"github.com/tzmediator/tzbridge/tzrpc"
)

// TestSockopt: setsockopt and getsockopt pass the protocol's option
// numbers straight through to the TA library; what comes back is the
// guest's (SO_ERROR a WASI errno, SO_TYPE the socket's type), and a number
// the protocol lacks never reaches the shadow.
func TestSockopt(t *testing.T) {
	const out = 1024
	tests := []struct {
		name      string
		get       bool // getsockopt, else setsockopt
		kind      fdKind
		opt, val  int64 // val: the option's value to set, or what the library reads back
		want      errno
		wantCalls []string
		wantOut   uint32
	}{
		{"set keepalive", false, kindStream, tzrpc.SO_KEEPALIVE, 1, errnoSuccess,
			[]string{"setsockopt 40 SO_KEEPALIVE 1"}, 0},
		{"set unknown", false, kindStream, tzrpc.SO_REUSEPORT + 1, 1, errnoNoprotoopt, nil, 0},
		{"set zero", false, kindStream, 0, 1, errnoNoprotoopt, nil, 0},
		{"get rcvbuf", true, kindStream, tzrpc.SO_RCVBUF, 212992, errnoSuccess,
			[]string{"getsockopt 40 SO_RCVBUF"}, 212992},
		{"get SO_ERROR as a WASI errno", true, kindStream, tzrpc.SO_ERROR, int64(tzrpc.ECONNREFUSED), errnoSuccess,
			[]string{"getsockopt 40 SO_ERROR"}, uint32(errnoConnrefused)},
		{"get SO_ERROR none", true, kindStream, tzrpc.SO_ERROR, 0, errnoSuccess,
			[]string{"getsockopt 40 SO_ERROR"}, 0},
		{"get SO_TYPE of a datagram socket", true, kindDgram, tzrpc.SO_TYPE, tzrpc.SOCK_DGRAM, errnoSuccess,
			[]string{"getsockopt 40 SO_TYPE"}, tzrpc.SOCK_DGRAM},
		{"get unknown", true, kindStream, -1, 0, errnoNoprotoopt, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakePosix{sockopt: tt.val}
			st := testInstance(t, f)
			mod := memModule(t)
			fd := addHost(t, st, tt.kind, 40)
			fn, arg2 := (*instance).tzSetsockopt, uint64(uint32(tt.val))
			if tt.get {
				fn, arg2 = (*instance).tzGetsockopt, out
			}
			if got := fn(st, mod, []uint64{uint64(fd), uint64(uint32(tt.opt)), arg2}); got != tt.want {
				t.Fatalf("errno %d, want %d", got, tt.want)
			}
			if !slices.Equal(f.calls, tt.wantCalls) {
				t.Errorf("calls %q, want %q", f.calls, tt.wantCalls)
			}
			if got, _ := memOf(mod).m.ReadUint32Le(out); got != tt.wantOut {
				t.Errorf("value %d, want %d", got, tt.wantOut)
			}
		})
	}
}
