//go:build cgo

package wasitest

import (
	"encoding/binary"
	"testing"
)

const fuzzMem = 4096

// FuzzCalls: any function with any arguments over any guest memory and
// any tzposix answer returns an errno and never touches bytes outside the
// guest's memory (the guard after it stays intact).
func FuzzCalls(f *testing.F) {
	f.Add(byte(fFdRead), []byte{4, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 2, 0, 0}, int64(12), []byte("iovec"))
	f.Add(byte(fPoll), []byte{0, 0, 0, 0, 0, 2, 0, 0, 3, 0, 0, 0, 0, 3, 0, 0}, int64(1), make([]byte, 200))
	f.Add(byte(fPathOpen), []byte{3, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 5, 0, 0, 0}, int64(7), []byte("abc"))
	f.Add(byte(fTzRecvfrom), []byte{4, 0, 0, 0, 0, 1, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0}, int64(-1), []byte{1, 2})
	f.Fuzz(func(t *testing.T, fn byte, argBytes []byte, ret int64, mem []byte) {
		l := newLayer(fuzzMem)
		defer l.free()
		copy(l.mem, mem)
		// Some descriptors beyond stdio and the root: a stream socket
		// (4), a datagram socket (5), a FIFO (6).
		setRet(40, 0)
		l.call(fTzSocket, 2, 1, 0)
		setRet(41, 0)
		l.call(fTzSocket, 2, 2, 0)
		n := l.put(0, "f")
		setRet(42, 0)
		l.call(fPathOpen, 3, 0, 0, uint64(n), 0, 2, 0, 0, 0)
		copy(l.mem, mem)
		var args [10]uint64
		for i := range args {
			if len(argBytes) >= 4 {
				args[i] = uint64(binary.LittleEndian.Uint32(argBytes))
				argBytes = argBytes[4:]
			}
		}
		setRet(ret%70000, 5)
		setData(mem)
		e := l.call(int(fn)%nfuncs(), args[:]...)
		if e < 0 || e > 76 {
			t.Fatalf("function %d: errno %d", int(fn)%nfuncs(), e)
		}
		if !l.guardOK() {
			t.Fatalf("function %d wrote past the guest's memory", int(fn)%nfuncs())
		}
	})
}

// FuzzPollOneoff: any subscriptions and any revents give at most one
// event per subscription, each with a subscription's userdata and tag.
func FuzzPollOneoff(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 4}, int16(1), int64(1))
	f.Fuzz(func(t *testing.T, raw []byte, revents int16, ret int64) {
		l := newLayer(fuzzMem)
		defer l.free()
		setRet(40, 0)
		l.call(fTzSocket, 2, 1, 0)
		n := len(raw) / 48
		if n == 0 || n > 64 {
			return
		}
		copy(l.mem[0:], raw[:48*n])
		ud := map[uint64]byte{}
		for i := range n {
			ud[binary.LittleEndian.Uint64(raw[48*i:])] = raw[48*i+8]
		}
		for i := range 64 {
			setRevents(i, revents)
		}
		setRet(ret%3-1, 4)
		e := l.call(fPoll, 0, 3072, uint64(n), 4090)
		if !l.guardOK() {
			t.Fatal("wrote past the guest's memory")
		}
		if e != eSuccess {
			return
		}
		got := int(le32(l.mem[4090:]))
		if got > n {
			t.Fatalf("%d events for %d subscriptions", got, n)
		}
		for _, ev := range events(l, 3072, got) {
			if tag, ok := ud[ev.userdata]; !ok || tag != ev.typ {
				t.Fatalf("event %+v matches no subscription", ev)
			}
		}
	})
}
