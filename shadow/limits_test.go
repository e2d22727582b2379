package shadow

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	. "github.com/tzmediator/tzbridge/tzrpc"
)

// TestSocketLimit: at limits.sockets a TA's socket and accept fail with
// EMFILE while FIFOs still open up to limits.descriptors, closing a
// socket makes room again, and the log says once which limit was hit.
func TestSocketLimit(t *testing.T) {
	var logs bytes.Buffer
	a := newTA(t, options{maxFDs: 4, maxSockets: 2, log: slog.New(slog.NewTextHandler(&logs, nil))})
	a.ok(OpMkfifo, args(0o600), []byte("p"))
	l := a.ok(OpSocket, args(AF_INET, SOCK_STREAM), nil)
	a.ok(OpBind, args(l), inetAddr(t, "127.0.0.1:0"))
	a.ok(OpListen, args(l, 1), nil)
	u := a.ok(OpSocket, args(AF_UNIX, SOCK_DGRAM), nil)
	for range 3 {
		a.fails(EMFILE, OpSocket, args(AF_UNIX, SOCK_STREAM), nil)
	}
	a.fails(EMFILE, OpAccept, args(l, SOCK_NONBLOCK), nil)
	a.ok(OpOpen, args(O_RDWR|O_NONBLOCK), []byte("p"))
	a.ok(OpOpen, args(O_RDWR|O_NONBLOCK), []byte("p"))
	a.fails(EMFILE, OpOpen, args(O_RDWR|O_NONBLOCK), []byte("p"))
	a.ok(OpClose, args(u), nil)
	a.ok(OpSocket, args(AF_UNIX, SOCK_STREAM), nil)
	a.fails(EMFILE, OpSocket, args(AF_UNIX, SOCK_STREAM), nil) // both limits now
	if n := strings.Count(logs.String(), "TA reached its limit"); n != 1 {
		t.Errorf("%d limit lines in a burst, want 1 (rate-limited):\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "limit=sockets max=2") {
		t.Errorf("log does not name the socket limit:\n%s", logs.String())
	}
}

func TestSocketLimitConfig(t *testing.T) {
	for _, n := range []int{-1, 5} {
		if _, err := New(Config{Name: "x", Root: t.TempDir(), MaxDescriptors: 4, MaxSockets: n}); err == nil || !strings.Contains(err.Error(), "MaxSockets") {
			t.Errorf("MaxSockets %d: %v", n, err)
		}
	}
}
