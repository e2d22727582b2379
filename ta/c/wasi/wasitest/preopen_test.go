//go:build cgo

package wasitest

import (
	"bytes"
	"testing"
)

// TestPreopenListen: listen: entries become sockets at fds 4, 5, ...
// made as docs/wasm.md says; specs it cannot parse are EINVAL.
func TestPreopenListen(t *testing.T) {
	tests := []struct {
		spec     string
		want     int
		lastCall string // the last tzposix call made
		addr     []byte // the sockaddr bound (host layout)
		filetype byte
	}{
		{"tcp://127.0.0.1:7000", eSuccess, "listen", []byte{2, 0, 0x1b, 0x58, 127, 0, 0, 1}, 6},
		{"udp://10.0.0.2:7001", eSuccess, "bind", []byte{2, 0, 0x1b, 0x59, 10, 0, 0, 2}, 5},
		{"unix:/echo.sock", eSuccess, "listen", append([]byte{1, 0}, "/echo.sock"...), 6},
		{"tcp://127.0.0.1:70000", eInval, "", nil, 0},
		{"tcp://127.0.0.256:1", eInval, "", nil, 0},
		{"tcp://[::1]:1", eInval, "", nil, 0},
		{"sctp://127.0.0.1:1", eInval, "", nil, 0},
		{"unix:", eInval, "", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			l := withLayer(t)
			setRet(0, 0) // every call succeeds; socket gives host fd 0
			if e := l.preopen(tt.spec); e != tt.want {
				t.Fatalf("errno %d, want %d", e, tt.want)
			}
			if tt.want != eSuccess {
				if calls() != 0 {
					t.Fatalf("tzposix %s was called", lastCall())
				}
				return
			}
			if lastCall() != tt.lastCall {
				t.Fatalf("last call %s, want %s", lastCall(), tt.lastCall)
			}
			if got := gotAddr(); !bytes.Equal(got[:len(tt.addr)], tt.addr) {
				t.Fatalf("bound % x, want % x", got, tt.addr)
			}
			if e := l.call(fFdstatGet, 4, 400); e != eSuccess || l.mem[400] != tt.filetype || l.mem[402] != 4 {
				t.Fatalf("fdstat_get(4) = %d, filetype %d, flags %d", e, l.mem[400], l.mem[402])
			}
			if e := l.call(fPrestatGet, 4, 100); e != eBadf {
				t.Fatalf("prestat_get(4) = %d, want EBADF", e)
			}
		})
	}
	t.Run("a failing call is the guest's errno", func(t *testing.T) {
		l := withLayer(t)
		setRet(-1, 98) // EADDRINUSE
		if e := l.preopen("tcp://127.0.0.1:7000"); e != 3 {
			t.Fatalf("errno %d, want EADDRINUSE (3)", e)
		}
	})
}
