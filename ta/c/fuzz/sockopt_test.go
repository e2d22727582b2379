//go:build cgo

package fuzz

import (
	"math"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/tzmediator/tzbridge/tzrpc"
)

// TestCSockoptTable: the C library's copy of the socket-option table
// (posix.h's host names, posix.c's mapping, codec.c's value check) agrees
// with tzrpc's: every host pair in the Go table reaches the shadow as the
// same protocol number, the C check accepts exactly the values
// tzrpc.CheckResponse accepts for it, and a pair the protocol lacks never
// leaves the TA.
func TestCSockoptTable(t *testing.T) {
	s := newSession(t)
	s.open(3)
	values := []int64{0, 1, 2, tzrpc.SOCK_DGRAM + 1, int64(tzrpc.MaxErrno), int64(tzrpc.MaxErrno) + 1, math.MaxInt32, math.MaxInt32 + 1}
	for num := int64(1); ; num++ {
		o, ok := tzrpc.LookupSockopt(num)
		if !ok {
			break
		}
		for _, v := range values {
			req := tzrpc.Request{Op: tzrpc.OpGetsockopt, Args: [6]int64{3, num}}
			goOK := tzrpc.CheckResponse(&req, &tzrpc.Response{Op: tzrpc.OpGetsockopt, Ret: v}, 0) == nil
			s.answer(tzrpc.OpGetsockopt, v, 0, 0, nil)
			before := violations()
			r, _ := cGetsockopt(3, o.Level, o.Option)
			if sentOp() != tzrpc.OpGetsockopt || sentArg(1) != num {
				t.Fatalf("%s: C sent %v args[1] %d, want GETSOCKOPT %d", o.Name, sentOp(), sentArg(1), num)
			}
			cOK := r == 0 && violations() == before
			if goOK != cOK {
				t.Errorf("%s = %d: Go accepts %v, C accepts %v (returned %d, errno %d)", o.Name, v, goOK, cOK, r, lastErrno())
			}
		}
	}
	const eNOPROTOOPT = 92
	for _, p := range [][2]int{{unix.SOL_SOCKET, unix.SO_LINGER}, {unix.IPPROTO_TCP, unix.SO_REUSEADDR}, {unix.SOL_SOCKET, unix.TCP_NODELAY}} {
		before := exchanges()
		if r, _ := cGetsockopt(3, p[0], p[1]); r != -1 || lastErrno() != eNOPROTOOPT || exchanges() != before {
			t.Errorf("getsockopt(%d, %d): returned %d, errno %d, %d exchanges; want -1, ENOPROTOOPT, none",
				p[0], p[1], r, lastErrno(), exchanges()-before)
		}
	}
}
