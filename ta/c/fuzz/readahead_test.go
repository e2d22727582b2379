//go:build cgo

package fuzz

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/tzmediator/tzbridge/tzrpc"
)

// POLL read-ahead in libtzposix (docs/protocol.md, POLL read-ahead):
// what it asks for, what it keeps, how it serves reads from it, and what
// it refuses.

const (
	eINVAL     = 22
	sockStream = 1
	sockDgram  = 2
	msgPeek    = 2
	msgWaitall = 0x100
)

// ent is a POLL entry as the shadow sees it.
func ent(fd int32, events, revents uint16) tzrpc.PollFd {
	return tzrpc.PollFd{Fd: fd, Events: events, Revents: revents}
}

// answerPoll makes the shadow's next answer a POLL response with these
// entries, then the records (aux[0] = len(recs)).
func (s *session) answerPoll(ents []tzrpc.PollFd, recs ...[]byte) {
	s.answerPollN(len(recs), ents, bytes.Join(recs, nil))
}

// answerEntries encodes a POLL response's entries and counts the ready ones.
func answerEntries(ents []tzrpc.PollFd) ([]byte, int) {
	ready := 0
	for _, e := range ents {
		if e.Revents != 0 {
			ready++
		}
	}
	return pollEntries(ents...), ready
}

// answerPollN is answerPoll with aux[0] and the records' bytes given.
func (s *session) answerPollN(aux0 int, ents []tzrpc.PollFd, recs []byte) {
	b, ready := answerEntries(ents)
	s.answer(tzrpc.OpPoll, int64(ready), 0, int64(aux0), append(b, recs...))
}

// sentArg is args[i] of the last request sent.
func sentArg(i int) int64 {
	return int64(le.Uint64(sentRequest(tzrpc.HeaderSize)[16+8*i:]))
}

func sentOp() tzrpc.Op { return tzrpc.Op(le.Uint16(sentRequest(tzrpc.HeaderSize)[6:])) }

// socket gets descriptor fd of the type from an honest shadow.
func (s *session) socket(fd, typ int) {
	s.t.Helper()
	s.answer(tzrpc.OpSocket, int64(fd), 0, 0, nil)
	if got := cSocket(afINET, typ); got != fd {
		s.t.Fatalf("socket = %d (errno %d), want %d", got, lastErrno(), fd)
	}
}

// poll polls and checks the result, the request's budget (wantBudget:
// whether there is one) and that it cost one exchange.
func (s *session) poll(fds []int32, events []int16, wantBudget bool, want int, wantRev ...int16) {
	s.t.Helper()
	before := exchanges()
	n, rev := cPoll(fds, events, -1)
	if n != want || !equalRev(rev, wantRev) {
		s.t.Fatalf("poll = %d (errno %d), revents %v; want %d, %v", n, lastErrno(), rev, want, wantRev)
	}
	if exchanges() != before+1 || sentOp() != tzrpc.OpPoll {
		s.t.Fatalf("poll made %d exchanges", exchanges()-before)
	}
	if budget := sentArg(2); (budget > 0) != wantBudget || budget < 0 {
		s.t.Fatalf("poll asked for a budget of %d, want one: %v", budget, wantBudget)
	}
	if unanswered() != 0 {
		s.t.Fatalf("%d answers left over", unanswered())
	}
}

func equalRev(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// local expects call to return want, with data, without a RESUME.
func (s *session) local(what string, want int, buf []byte, data string, call func() int) {
	s.t.Helper()
	before := exchanges()
	if n := call(); n != want || (n > 0 && string(buf[:n]) != data) {
		s.t.Errorf("%s = %d (errno %d), %q; want %d, %q", what, n, lastErrno(), buf[:max(n, 0)], want, data)
	}
	if exchanges() != before {
		s.t.Errorf("%s made %d exchanges, want none", what, exchanges()-before)
	}
}

// shadowRead expects a read of fd to go to the shadow: nothing is kept for it.
func (s *session) shadowRead(fd int) {
	s.t.Helper()
	before := exchanges()
	s.answer(tzrpc.OpRead, 5, 0, 0, []byte("fresh"))
	buf := make([]byte, 10)
	if n := cRead(fd, buf); n != 5 || string(buf[:5]) != "fresh" || exchanges() != before+1 {
		s.t.Errorf("read of %d = %d %q (%d exchanges), want the shadow's 5 bytes", fd, n, buf[:max(n, 0)], exchanges()-before)
	}
}

// TestCReadAhead: an honest shadow reads ahead, and the library serves
// the reads that follow from what it got, as the reads would have gone.
func TestCReadAhead(t *testing.T) {
	s := newSession(t)
	s.open(3)               // a FIFO: READ
	s.socket(4, sockStream) // RECV
	s.socket(5, sockDgram)  // RECVFROM, a datagram a record
	src := tzrpc.Inet4Sockaddr([4]byte{10, 0, 0, 1}, 53)
	buf := make([]byte, 64)

	t.Run("fifo", func(t *testing.T) {
		s.t = t
		s.answerPoll([]tzrpc.PollFd{ent(3, pollIN, pollIN)}, record(0, 0, nil, []byte("hello world")))
		s.poll([]int32{3}, []int16{pollIN}, true, 1, pollIN)
		if to := sentArg(1); to != -1 {
			t.Errorf("poll timeout %d, want -1", to)
		}
		// Still waiting: readable at once, and the shadow is asked with
		// timeout 0 and no budget for the rest.
		s.answerPoll([]tzrpc.PollFd{ent(3, pollIN, 0), ent(4, pollOUT, pollOUT)})
		s.poll([]int32{3, 4}, []int16{pollIN, pollOUT}, false, 2, pollIN, pollOUT)
		if to := sentArg(1); to != 0 {
			t.Errorf("poll with bytes waiting: timeout %d, want 0", to)
		}
		s.local("read of 5", 5, buf, "hello", func() int { return cRead(3, buf[:5]) })
		s.local("read of the rest", 6, buf, " world", func() int { return cRead(3, buf) })
		s.shadowRead(3)
	})

	t.Run("stream", func(t *testing.T) {
		s.t = t
		s.answerPoll([]tzrpc.PollFd{ent(4, pollIN|pollOUT, pollIN)}, record(0, 0, nil, []byte("abcdef")))
		s.poll([]int32{4}, []int16{pollIN | pollOUT}, true, 1, pollIN)
		s.local("recv MSG_PEEK", 3, buf, "abc", func() int { return cRecv(4, buf[:3], msgPeek) })
		addr := make([]byte, 32)
		var alen int
		s.local("recvfrom of a stream", 2, buf, "ab", func() int { n, l := cRecvfromFlags(4, buf[:2], 0, addr); alen = l; return n })
		if alen != 0 {
			t.Errorf("recvfrom of a stream reported an address of %d bytes", alen)
		}
		// MSG_WAITALL: the rest comes from the shadow.
		s.answer(tzrpc.OpRecv, 4, 0, 0, []byte("ghij"))
		if n := cRecv(4, buf[:8], msgWaitall); n != 8 || string(buf[:8]) != "cdefghij" {
			t.Errorf("recv MSG_WAITALL = %d %q", n, buf[:max(n, 0)])
		}
		if sentOp() != tzrpc.OpRecv || sentArg(0) != 4 || sentArg(1) != 4 || sentArg(2) != msgWaitall {
			t.Errorf("MSG_WAITALL asked %v %d %d %d for the rest", sentOp(), sentArg(0), sentArg(1), sentArg(2))
		}
		// ... and what came if asking fails.
		s.answerPoll([]tzrpc.PollFd{ent(4, pollIN, pollIN)}, record(0, 0, nil, []byte("xy")))
		s.poll([]int32{4}, []int16{pollIN}, true, 1, pollIN)
		s.answer(tzrpc.OpRecv, 0, eCONNRESET, 0, nil)
		if n := cRecv(4, buf[:5], msgWaitall); n != 2 || string(buf[:2]) != "xy" {
			t.Errorf("recv MSG_WAITALL with the rest failing = %d %q, want 2 \"xy\"", n, buf[:max(n, 0)])
		}
		s.shadowRead(4)
	})

	t.Run("errno", func(t *testing.T) {
		s.t = t
		s.answerPoll([]tzrpc.PollFd{ent(4, pollIN, pollIN)}, record(0, eCONNRESET, nil, nil))
		s.poll([]int32{4}, []int16{pollIN}, true, 1, pollIN)
		s.local("read meeting the recorded error", -1, buf, "", func() int { return cRead(4, buf) })
		if lastErrno() != eCONNRESET {
			t.Errorf("errno %d, want ECONNRESET", lastErrno())
		}
		s.shadowRead(4)
	})

	t.Run("datagram", func(t *testing.T) {
		s.t = t
		addr := make([]byte, 32)
		var alen int
		recvfrom := func(b []byte, flags int) func() int {
			return func() int { n, l := cRecvfromFlags(5, b, flags, addr); alen = l; return n }
		}
		s.answerPoll([]tzrpc.PollFd{ent(5, pollIN, pollIN)}, record(0, 0, src.Marshal(), []byte("datagram")))
		s.poll([]int32{5}, []int16{pollIN}, true, 1, pollIN)
		if b := sentArg(2); b > int64(8192-64-8-12-tzrpc.MaxSockaddrLen) {
			t.Errorf("budget %d leaves no room for the sender in the mailbox", b)
		}
		s.local("recvfrom MSG_PEEK", 4, buf, "data", recvfrom(buf[:4], msgPeek))
		s.local("recvfrom truncating", 4, buf, "data", recvfrom(buf[:4], 0))
		if alen != 16 || le.Uint16(addr) != afINET || addr[2] != 0 || addr[3] != 53 || !bytes.Equal(addr[4:8], []byte{10, 0, 0, 1}) {
			t.Errorf("sender %x (len %d), want 10.0.0.1:53", addr[:16], alen)
		}
		// The datagram went whole: the next one is the shadow's.
		s.answer(tzrpc.OpRecvfrom, 3, 0, 8, append(src.Marshal(), "new"...))
		if n, _ := cRecvfrom(5, buf, addr); n != 3 || string(buf[:3]) != "new" {
			t.Errorf("recvfrom after a truncated datagram = %d %q", n, buf[:max(n, 0)])
		}
		// An empty datagram is a datagram.
		s.answerPoll([]tzrpc.PollFd{ent(5, pollIN, pollIN)}, record(0, 0, src.Marshal(), nil))
		s.poll([]int32{5}, []int16{pollIN}, true, 1, pollIN)
		s.local("recvfrom of an empty datagram", 0, buf, "", recvfrom(buf, 0))
		if alen != 16 {
			t.Errorf("empty datagram: sender length %d", alen)
		}
		s.shadowRead(5)
	})

	t.Run("several", func(t *testing.T) {
		s.t = t
		// Three descriptors, one of them in two entries, and one entry
		// the shadow did not read.
		s.answerPoll([]tzrpc.PollFd{ent(3, pollIN, pollIN), ent(4, pollIN, pollIN), ent(5, pollIN, pollIN), ent(3, pollIN, pollIN), ent(4, pollOUT, pollOUT)},
			record(0, 0, nil, []byte("ab")), record(2, 0, src.Marshal(), []byte("d1")), record(3, 0, nil, []byte("cd")))
		s.poll([]int32{3, 4, 5, 3, 4}, []int16{pollIN, pollIN, pollIN, pollIN, pollOUT}, true, 5, pollIN, pollIN, pollIN, pollIN, pollOUT)
		s.local("read across two records", 4, buf, "abcd", func() int { return cRead(3, buf) })
		s.local("read of a datagram", 2, buf, "d1", func() int { return cRead(5, buf) })
		if raUsed() != 0 {
			t.Errorf("pool holds %d bytes after everything was read", raUsed())
		}
		s.shadowRead(4)
	})

	t.Run("close", func(t *testing.T) {
		s.t = t
		s.answerPoll([]tzrpc.PollFd{ent(4, pollIN, pollIN)}, record(0, 0, nil, []byte("unread")))
		s.poll([]int32{4}, []int16{pollIN}, true, 1, pollIN)
		s.answer(tzrpc.OpClose, 0, 0, 0, nil)
		if cClose(4) != 0 {
			t.Fatalf("close: errno %d", lastErrno())
		}
		if raUsed() != 0 {
			t.Errorf("pool holds %d bytes after close", raUsed())
		}
		s.socket(4, sockStream)
		s.shadowRead(4)
	})
}

// TestCReadAheadPool: the budget is what the pool has free, and a full
// pool asks for less.
func TestCReadAheadPool(t *testing.T) {
	s := newSession(t)
	setup(1 << 20) // a mailbox that does not limit the budget
	s.open(3)
	s.open(6)
	s.answerPoll([]tzrpc.PollFd{ent(3, pollIN, pollIN)}, record(0, 0, nil, bytes.Repeat([]byte{'a'}, 10000)))
	s.poll([]int32{3}, []int16{pollIN}, true, 1, pollIN)
	first := sentArg(2)
	if first != 16<<10 {
		t.Errorf("budget %d, want TZPOSIX_READAHEAD_BYTES (16 KiB)", first)
	}
	// 3 keeps 10000 bytes: 6 gets the rest of the pool.
	s.answerPoll([]tzrpc.PollFd{ent(6, pollIN, pollIN)}, record(0, 0, nil, bytes.Repeat([]byte{'b'}, 100)))
	s.poll([]int32{6}, []int16{pollIN}, true, 1, pollIN)
	if second := sentArg(2); second >= first || second < 6000 {
		t.Errorf("budget with 10000 bytes kept: %d", second)
	}
	buf := make([]byte, 20000)
	s.local("read of 6", 100, buf, string(bytes.Repeat([]byte{'b'}, 100)), func() int { return cRead(6, buf) })
	s.local("read of 3", 10000, buf, string(bytes.Repeat([]byte{'a'}, 10000)), func() int { return cRead(3, buf) })
	// Empty again: the whole budget.
	s.answerPoll([]tzrpc.PollFd{ent(3, pollIN, 0)})
	s.poll([]int32{3}, []int16{pollIN}, true, 0, 0)
	if b := sentArg(2); b != first {
		t.Errorf("budget with the pool empty again: %d, want %d", b, first)
	}
}

// TestCReadAheadOldShadow: a shadow that refuses the budget (EINVAL) is
// asked again without one, and never again with one.
func TestCReadAheadOldShadow(t *testing.T) {
	s := newSession(t)
	s.open(3)
	before := exchanges()
	s.answer(tzrpc.OpPoll, 0, eINVAL, 0, nil)
	respond(rawResp(tzrpc.OpPoll, nextSeq()+1, 1, 0, 0, pollEntries(ent(3, pollIN, pollIN))))
	n, rev := cPoll([]int32{3}, []int16{pollIN}, -1)
	if n != 1 || rev[0] != pollIN || exchanges() != before+2 {
		t.Fatalf("poll = %d (errno %d), revents %v, %d exchanges; want 1, POLLIN, 2", n, lastErrno(), rev, exchanges()-before)
	}
	if sentArg(2) != 0 || le.Uint32(sentRequest(tzrpc.HeaderSize)[12:]) != tzrpc.PollFdSize ||
		tzrpc.GetPollFd(sentRequest(tzrpc.HeaderSize + 8)[tzrpc.HeaderSize:], 0) != ent(3, pollIN, 0) {
		t.Errorf("the retry is not the same poll without a budget: %x", sentRequest(tzrpc.HeaderSize+8))
	}
	s.answerPoll([]tzrpc.PollFd{ent(3, pollIN, pollIN)})
	s.poll([]int32{3}, []int16{pollIN}, false, 1, pollIN)
	if violations() != 0 {
		t.Errorf("%d violations", violations())
	}
}

func pollEntries(ents ...tzrpc.PollFd) []byte {
	b := make([]byte, len(ents)*tzrpc.PollFdSize)
	for i, e := range ents {
		tzrpc.PutPollFd(b, i, e)
	}
	return b
}

// TestCReadAheadLies: a record that breaks the protocol fails the poll
// with EIO, and nothing of the response reaches TA code: no revents, no
// bytes kept.
func TestCReadAheadLies(t *testing.T) {
	src := tzrpc.Inet4Sockaddr([4]byte{10, 0, 0, 1}, 53).Marshal()
	malformed := bytes.Clone(src)
	le.PutUint16(malformed[0:], 9)
	in := func(fd int32) tzrpc.PollFd { return ent(fd, pollIN, pollIN) }
	d := func(s string) []byte { return []byte(s) }
	const budget = 16 << 10 // with this mailbox, one stream entry
	tests := []struct {
		name   string
		fds    []int32
		events []int16
		ents   []tzrpc.PollFd // as the shadow answers; fd 99 is not the TA's (sent as -1)
		aux0   int            // -1: the number of records
		recs   [][]byte
	}{
		{"records without a budget", []int32{3, 99}, []int16{pollIN, pollIN}, []tzrpc.PollFd{in(3), ent(-1, pollIN, 0)}, -1, [][]byte{record(0, 0, nil, d("x"))}},
		{"more records than entries", []int32{3}, []int16{pollIN}, []tzrpc.PollFd{in(3)}, 2, [][]byte{record(0, 0, nil, d("x"))}},
		{"fewer records than aux[0]", []int32{3, 4}, []int16{pollIN, pollIN}, []tzrpc.PollFd{in(3), in(4)}, 2, [][]byte{record(0, 0, nil, d("x"))}},
		{"negative aux[0]", []int32{3}, []int16{pollIN}, []tzrpc.PollFd{in(3)}, -2, nil},
		{"index beyond nfds", []int32{3}, []int16{pollIN}, []tzrpc.PollFd{in(3)}, -1, [][]byte{record(1, 0, nil, d("x"))}},
		{"indexes decreasing", []int32{3, 4}, []int16{pollIN, pollIN}, []tzrpc.PollFd{in(3), in(4)}, -1, [][]byte{record(1, 0, nil, d("x")), record(0, 0, nil, d("y"))}},
		{"index repeated", []int32{3, 4}, []int16{pollIN, pollIN}, []tzrpc.PollFd{in(3), in(4)}, -1, [][]byte{record(0, 0, nil, d("x")), record(0, 0, nil, d("y"))}},
		{"entry did not ask for POLLIN", []int32{3, 4}, []int16{pollIN, pollOUT}, []tzrpc.PollFd{in(3), ent(4, pollOUT, pollOUT)}, -1, [][]byte{record(1, 0, nil, d("x"))}},
		{"entry does not report POLLIN", []int32{3}, []int16{pollIN}, []tzrpc.PollFd{ent(3, pollIN, 0)}, -1, [][]byte{record(0, 0, nil, d("x"))}},
		{"errno out of range", []int32{3}, []int16{pollIN}, []tzrpc.PollFd{in(3)}, -1, [][]byte{record(0, 134, nil, nil)}},
		{"errno with data", []int32{3}, []int16{pollIN}, []tzrpc.PollFd{in(3)}, -1, [][]byte{record(0, eCONNRESET, nil, d("x"))}},
		{"errno with a sender", []int32{5}, []int16{pollIN}, []tzrpc.PollFd{in(5)}, -1, [][]byte{record(0, eCONNRESET, src, nil)}},
		{"empty record", []int32{3}, []int16{pollIN}, []tzrpc.PollFd{in(3)}, -1, [][]byte{record(0, 0, nil, nil)}},
		{"malformed sender", []int32{5}, []int16{pollIN}, []tzrpc.PollFd{in(5)}, -1, [][]byte{record(0, 0, malformed, d("x"))}},
		{"sender cut short", []int32{5}, []int16{pollIN}, []tzrpc.PollFd{in(5)}, -1, [][]byte{record(0, 0, src[:7], d("x"))}},
		{"sender for a stream", []int32{4}, []int16{pollIN}, []tzrpc.PollFd{in(4)}, -1, [][]byte{record(0, 0, src, d("x"))}},
		{"sender for a FIFO", []int32{3}, []int16{pollIN}, []tzrpc.PollFd{in(3)}, -1, [][]byte{record(0, 0, src, d("x"))}},
		{"datagram without a sender", []int32{5}, []int16{pollIN}, []tzrpc.PollFd{in(5)}, -1, [][]byte{record(0, 0, nil, d("x"))}},
		{"a record after an errno for the same descriptor", []int32{5, 5}, []int16{pollIN, pollIN}, []tzrpc.PollFd{in(5), in(5)}, -1, [][]byte{record(0, eCONNRESET, nil, nil), record(1, 0, src, d("y"))}},
		{"second record breaks the kind rule", []int32{3, 5}, []int16{pollIN, pollIN}, []tzrpc.PollFd{in(3), in(5)}, -1, [][]byte{record(0, 0, nil, d("x")), record(1, 0, nil, d("y"))}},
		{"data beyond the budget", []int32{3}, []int16{pollIN}, []tzrpc.PollFd{in(3)}, -1, [][]byte{record(0, 0, nil, bytes.Repeat(d("x"), budget+1))}},
		{"records beyond the pool", []int32{3}, []int16{pollIN}, []tzrpc.PollFd{in(3)}, -1, [][]byte{record(0, 0, nil, bytes.Repeat(d("x"), 20000))}},
		{"bytes after the records", []int32{3}, []int16{pollIN}, []tzrpc.PollFd{in(3)}, 1, [][]byte{record(0, 0, nil, d("x")), {0}}},
		{"record cut short", []int32{3}, []int16{pollIN}, []tzrpc.PollFd{in(3)}, 1, [][]byte{record(0, 0, nil, d("hello"))[:15]}},
		{"header cut short", []int32{3}, []int16{pollIN}, []tzrpc.PollFd{in(3)}, 1, [][]byte{record(0, 0, nil, d("hello"))[:11]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSession(t)
			setup(64 << 10)
			s.open(3)
			s.socket(4, sockStream)
			s.socket(5, sockDgram)
			aux0 := tt.aux0
			if aux0 == -1 {
				aux0 = len(tt.recs)
			}
			s.answerPollN(aux0, tt.ents, bytes.Join(tt.recs, nil))
			var rev []int16
			s.lie(tt.name, func() int { n, r := cPoll(tt.fds, tt.events, -1); rev = r; return n })
			for i, fd := range tt.fds {
				want := int16(0)
				if fd == 99 {
					want = pollNVAL
				}
				if rev[i] != want {
					t.Errorf("revents[%d] = %#x: the response reached TA code", i, rev[i])
				}
			}
			if raUsed() != 0 {
				t.Errorf("pool holds %d bytes", raUsed())
			}
			for _, fd := range []int{3, 4, 5} {
				s.shadowRead(fd)
			}
		})
	}
}

// FuzzCPollReadAhead: records from a shadow that may lie, through the
// whole of tzposix_poll and the reads after it. The poll succeeds exactly
// when tzrpc.CheckResponse and the descriptor-kind rule accept the
// response, and then each descriptor's next read returns its record.
func FuzzCPollReadAhead(f *testing.F) {
	src := tzrpc.Inet4Sockaddr([4]byte{10, 0, 0, 1}, 53).Marshal()
	f.Add(uint8(7), uint8(3), bytes.Join([][]byte{record(0, 0, nil, []byte("fifo")), record(1, 0, nil, []byte("stream")), record(2, 0, src, []byte("dgram"))}, nil))
	f.Add(uint8(2), uint8(1), record(1, eCONNRESET, nil, nil))
	f.Add(uint8(4), uint8(1), record(2, 0, src, nil))
	f.Add(uint8(1), uint8(1), record(0, 0, src, []byte("x")))
	f.Add(uint8(7), uint8(2), bytes.Join([][]byte{record(1, 0, nil, []byte("a")), record(0, 0, nil, []byte("b"))}, nil))
	kinds := []bool{false, false, true} // fds 3, 4, 5: datagram?
	f.Fuzz(func(t *testing.T, mask, aux0 uint8, recs []byte) {
		s := newSession(t)
		setup(64 << 10)
		s.open(3)
		s.socket(4, sockStream)
		s.socket(5, sockDgram)
		fds, events := []int32{3, 4, 5}, []int16{pollIN, pollIN, pollIN}
		ents := make([]tzrpc.PollFd, 3)
		for i := range ents {
			ents[i] = ent(fds[i], pollIN, uint16(mask>>i)&pollIN)
		}
		s.answerPollN(int(aux0), ents, recs)
		before := violations()
		n, rev := cPoll(fds, events, -1)
		budget := sentArg(2)

		// What Go makes of it.
		req := tzrpc.Request{Op: tzrpc.OpPoll, Seq: nextSeq() - 1, Args: [6]int64{3, -1, budget}, Payload: pollEntries(ent(3, pollIN, 0), ent(4, pollIN, 0), ent(5, pollIN, 0))}
		resp, err := tzrpc.DecodeResponse(sentAnswer(ents, int(aux0), recs))
		if err == nil {
			err = tzrpc.CheckResponse(&req, &resp, 1<<20)
		}
		type kept struct {
			errno uint16
			addr  []byte
			data  []byte
		}
		got := map[int]kept{}
		if err == nil {
			rest := resp.Payload[3*tzrpc.PollFdSize:]
			for range resp.Aux[0] {
				rec, addr, data, tail, _ := tzrpc.NextReadAhead(rest)
				rest = tail
				if rec.Errno == 0 && kinds[rec.Index] != (len(addr) > 0) {
					err = errKind
				}
				got[int(rec.Index)] = kept{uint16(rec.Errno), addr, data}
			}
		}
		if (err == nil) != (n >= 0) {
			t.Fatalf("Go: %v; C poll = %d (errno %d, violations +%d)", err, n, lastErrno(), violations()-before)
		}
		if err != nil {
			if violations() != before+1 || raUsed() != 0 || rev[0]|rev[1]|rev[2] != 0 {
				t.Fatalf("refused poll: violations +%d, pool %d, revents %v", violations()-before, raUsed(), rev)
			}
			return
		}
		buf, addr := make([]byte, 70000), make([]byte, 128)
		for i, fd := range fds {
			k, ok := got[i]
			if !ok {
				continue
			}
			m, alen := cRecvfromFlags(int(fd), buf, 0, addr)
			switch {
			case k.errno != 0:
				if m != -1 || lastErrno() != int(k.errno) {
					t.Fatalf("fd %d: read = %d errno %d, want errno %d", fd, m, lastErrno(), k.errno)
				}
			case m != len(k.data) || !bytes.Equal(buf[:m], k.data):
				t.Fatalf("fd %d: read = %d, want %d bytes", fd, m, len(k.data))
			case (alen > 0) != (len(k.addr) > 0):
				t.Fatalf("fd %d: sender of %d bytes, record's %d", fd, alen, len(k.addr))
			}
		}
		if raUsed() != 0 || exchanges() != 3+1 {
			t.Fatalf("after reading everything: pool %d, %d exchanges", raUsed(), exchanges())
		}
	})
}

var errKind = fmt.Errorf("a sender for a stream, or none for a datagram")

// sentAnswer rebuilds the POLL answer given to the harness.
func sentAnswer(ents []tzrpc.PollFd, aux0 int, recs []byte) []byte {
	b, ready := answerEntries(ents)
	return rawResp(tzrpc.OpPoll, nextSeq()-1, int64(ready), 0, int64(aux0), append(b, recs...))
}
