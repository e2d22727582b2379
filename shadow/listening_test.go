package shadow

import (
	"slices"
	"testing"

	. "github.com/tzmediator/tzbridge/tzrpc"
)

// TestOnListening: the shadow reports where the TA serves from — a stream
// socket at LISTEN, a datagram socket at BIND — as a listen entry names
// it, and nothing for a bind that fails or a stream socket only bound.
func TestOnListening(t *testing.T) {
	var got []string
	a := newTA(t, options{onListening: func(addr string) { got = append(got, addr) }})

	l := a.ok(OpSocket, args(AF_INET, SOCK_STREAM), nil)
	a.ok(OpBind, args(l), inetAddr(t, "127.0.0.1:0"))
	a.ok(OpListen, args(l, 1), nil)

	u := a.ok(OpSocket, args(AF_INET6, SOCK_DGRAM), nil)
	a.ok(OpBind, args(u), inetAddr(t, "[::1]:0"))

	s := a.ok(OpSocket, args(AF_UNIX, SOCK_STREAM), nil)
	a.ok(OpBind, args(s), unixAddr(t, "echo.sock"))
	a.ok(OpListen, args(s, 1), nil)

	b := a.ok(OpSocket, args(AF_INET, SOCK_STREAM), nil) // bound, never listening
	a.ok(OpBind, args(b), inetAddr(t, "127.0.0.1:0"))
	f := a.ok(OpSocket, args(AF_UNIX, SOCK_DGRAM), nil) // the bind fails: the node exists
	a.fails(EADDRINUSE, OpBind, args(f), unixAddr(t, "echo.sock"))

	want := []string{"tcp://127.0.0.1:0", "udp://[::1]:0", "unix:/echo.sock"}
	if !slices.Equal(got, want) {
		t.Errorf("reported %q, want %q", got, want)
	}
}
